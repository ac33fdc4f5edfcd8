/* SPDX-License-Identifier: Apache-2.0 */
/* vol_fixture.c - the volume agent as an actor, beside cond_fixture and id_fixture. */
#include "vol_fixture.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <czmq.h>

#include "cond_fixture.h"
#include "id_fixture.h"
#include "zn_mem.h"
#include "zn_volume.h"

struct vol_fixture {
    cond_fixture_t *cond;
    id_fixture_t *id;
    char *keys_dir; /* with CURVE on every ZeroMQ link */
    vol_fixture_extra_fn *extra_stop;
    void *extra;
    char *dir;
    zn_volume_cfg_t cfg;
    zactor_t *actor;
    uint16_t port;
    char *call;
    char admin_token[2048];
    char admin_project[64];
};

static void
s_actor(zsock_t *pipe, void *arg)
{
    vol_fixture_t *fix = arg;
    zn_volume_t *volume = NULL;
    if (zn_volume_open(&volume, &fix->cfg) != 0 || zn_volume_watch_pipe(volume, pipe) != 0) {
        abort();
    }
    zsock_signal(pipe, 0);
    zsock_send(pipe, "is", (int)zn_volume_http_port(volume), zn_volume_call_endpoint(volume));
    (void)zn_volume_run(volume);
    zn_volume_destroy(&volume);
}

static void
s_set(vol_fixture_t *fix, const char *assignment)
{
    zn_fault_t fault;
    if (zn_cfg_apply_assignment(&fix->cfg, zn_volume_options, assignment, &fault) != 0) {
        fprintf(stderr, "vol_fixture: %s\n", fault.message);
        abort();
    }
}

static void
s_configure(vol_fixture_t *fix, const char *const *settings)
{
    zn_cfg_defaults(&fix->cfg, zn_volume_options);
    char *sets[] = {
        zn_asprintf("volume.store_dir=%s", cond_fixture_store_dir(fix->cond)),
        zn_asprintf("peers.conductor_call=%s", cond_fixture_call(fix->cond)),
        zn_asprintf("peers.conductor_cast=%s", cond_fixture_cast(fix->cond)),
        zn_asprintf("peers.identity_call=%s", id_fixture_call_endpoint(fix->id)),
        zn_asprintf("backend.volume_dir=%s/volumes", fix->dir),
        zn_strdup("volume.http_endpoint=127.0.0.1:0"),
        zn_strdup("rpc.call_endpoint=tcp://127.0.0.1:*"),
        zn_strdup("agent.admin_endpoint=tcp://127.0.0.1:*"),
        zn_strdup("agent.log_level=warn"),
        zn_strdup("agent.host=vol-node"),
    };
    for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
        s_set(fix, sets[i]);
        zn_str_free(&sets[i]);
    }
    if (fix->keys_dir != NULL) {
        char *dir = zn_asprintf("security.keys_dir=%s", fix->keys_dir);
        s_set(fix, "security.curve=true");
        s_set(fix, dir);
        zn_str_free(&dir);
    }
    for (size_t i = 0; settings != NULL && settings[i] != NULL; i++) {
        s_set(fix, settings[i]);
    }
}

static const char *
s_json_str(const json_t *root, const char *a, const char *b)
{
    return json_string_value(json_object_get(json_object_get(root, a), b));
}

static void
s_login(vol_fixture_t *fix, const char *user, const char *password, const char *project,
        char *token, size_t cap, char *project_id)
{
    char *body = zn_asprintf(
        "{\"auth\":{\"identity\":{\"methods\":[\"password\"],\"password\":{\"user\":{\"name\":"
        "\"%s\",\"domain\":{\"id\":\"default\"},\"password\":\"%s\"}}},\"scope\":{\"project\":"
        "{\"name\":\"%s\",\"domain\":{\"id\":\"default\"}}}}}",
        user, password, project);
    json_t *json = NULL;
    int status = vol_fixture_http(fix->id != NULL ? id_fixture_http_port(fix->id) : 0, "POST",
                                  "/v3/auth/tokens", NULL, body, &json, token, cap);
    zn_free(body);
    if (status != 201) {
        fprintf(stderr, "vol_fixture: login %s: %d\n", user, status);
        abort();
    }
    const char *pid = s_json_str(json_object_get(json, "token"), "project", "id");
    (void)snprintf(project_id, 64, "%s", pid != NULL ? pid : "");
    json_decref(json);
}

vol_fixture_t *
vol_fixture_new(void)
{
    return vol_fixture_new_curve(NULL);
}

vol_fixture_t *
vol_fixture_new_curve(const char *keys_dir)
{
    vol_fixture_t *fix = zn_calloc(1, sizeof(*fix));
    fix->dir = zn_strdup("/tmp/zn-volume.XXXXXX");
    if (mkdtemp(fix->dir) == NULL) {
        abort();
    }
    if (keys_dir != NULL) {
        fix->keys_dir = zn_strdup(keys_dir);
        char *dir = zn_asprintf("security.keys_dir=%s", keys_dir);
        const char *const curve[] = {"security.curve=true", dir, NULL};
        fix->cond = cond_fixture_start(curve);
        zn_str_free(&dir);
        fix->id = id_fixture_start_curve("test", keys_dir);
        return fix;
    }
    fix->cond = cond_fixture_start(NULL);
    fix->id = id_fixture_start("test");
    return fix;
}

void
vol_fixture_run(vol_fixture_t *fix, const char *const *settings)
{
    s_configure(fix, settings);
    fix->actor = zactor_new(s_actor, fix);
    int port = 0;
    if (zsock_recv(fix->actor, "is", &port, &fix->call) != 0) {
        abort();
    }
    fix->port = (uint16_t)port;
    s_login(fix, "admin", "secret", "admin", fix->admin_token, sizeof(fix->admin_token),
            fix->admin_project);
}

vol_fixture_t *
vol_fixture_start(const char *const *settings)
{
    vol_fixture_t *fix = vol_fixture_new();
    vol_fixture_run(fix, settings);
    return fix;
}

void
vol_fixture_set_extra(vol_fixture_t *fix, void *extra, vol_fixture_extra_fn *stop)
{
    fix->extra = extra;
    fix->extra_stop = stop;
}

void *
vol_fixture_extra(const vol_fixture_t *fix)
{
    return fix->extra;
}

const char *
vol_fixture_conductor_call(const vol_fixture_t *fix)
{
    return cond_fixture_call(fix->cond);
}

const char *
vol_fixture_store_dir(const vol_fixture_t *fix)
{
    return cond_fixture_store_dir(fix->cond);
}

const char *
vol_fixture_identity_call(const vol_fixture_t *fix)
{
    return id_fixture_call_endpoint(fix->id);
}

void
vol_fixture_stop(vol_fixture_t **fix_p)
{
    vol_fixture_t *fix = *fix_p;
    if (fix == NULL) {
        return;
    }
    zactor_destroy(&fix->actor);
    zstr_free(&fix->call);
    zn_cfg_release(&fix->cfg, zn_volume_options);
    if (fix->extra_stop != NULL) {
        fix->extra_stop(fix->extra);
    }
    id_fixture_stop(&fix->id);
    cond_fixture_stop(&fix->cond);
    char *cmd = zn_asprintf("rm -rf '%s'", fix->dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "vol_fixture: cannot remove %s\n", fix->dir);
    }
    zn_str_free(&cmd);
    zn_free(fix->dir);
    zn_free(fix->keys_dir);
    zn_free(fix);
    *fix_p = NULL;
}

uint16_t
vol_fixture_port(const vol_fixture_t *fix)
{
    return fix->port;
}

const char *
vol_fixture_call(const vol_fixture_t *fix)
{
    return fix->call;
}

uint16_t
vol_fixture_identity_port(const vol_fixture_t *fix)
{
    return id_fixture_http_port(fix->id);
}

const char *
vol_fixture_admin_token(const vol_fixture_t *fix)
{
    return fix->admin_token;
}

const char *
vol_fixture_admin_project(const vol_fixture_t *fix)
{
    return fix->admin_project;
}

/* POST PATH with BODY as the admin on identity; the new object's id (under KIND) into OUT. */
static void
s_identity_create(vol_fixture_t *fix, const char *path, const char *kind, const char *body,
                  char *out)
{
    json_t *json = NULL;
    int status = vol_fixture_http(id_fixture_http_port(fix->id), "POST", path, fix->admin_token,
                                  body, &json, NULL, 0);
    const char *id = s_json_str(json, kind, "id");
    if (status != 201 || id == NULL) {
        fprintf(stderr, "vol_fixture: POST %s: %d\n", path, status);
        abort();
    }
    (void)snprintf(out, 64, "%s", id);
    json_decref(json);
}

static void
s_member_role(vol_fixture_t *fix, char *out)
{
    json_t *json = NULL;
    (void)vol_fixture_http(id_fixture_http_port(fix->id), "GET", "/v3/roles?name=member",
                           fix->admin_token, NULL, &json, NULL, 0);
    const char *id =
        json_string_value(json_object_get(json_array_get(json_object_get(json, "roles"), 0), "id"));
    if (id == NULL) {
        abort();
    }
    (void)snprintf(out, 64, "%s", id);
    json_decref(json);
}

void
vol_fixture_user(vol_fixture_t *fix, const char *project, const char *user, char *token,
                 size_t token_cap, char *project_id)
{
    char pid[64];
    char uid[64];
    char rid[64];
    char *body = zn_asprintf("{\"project\":{\"name\":\"%s\"}}", project);
    s_identity_create(fix, "/v3/projects", "project", body, pid);
    zn_free(body);
    body = zn_asprintf("{\"user\":{\"name\":\"%s\",\"password\":\"pw\"}}", user);
    s_identity_create(fix, "/v3/users", "user", body, uid);
    zn_free(body);
    s_member_role(fix, rid);
    char *path = zn_asprintf("/v3/projects/%s/users/%s/roles/%s", pid, uid, rid);
    int status = vol_fixture_http(id_fixture_http_port(fix->id), "PUT", path, fix->admin_token,
                                  NULL, NULL, NULL, 0);
    zn_free(path);
    if (status != 204) {
        abort();
    }
    s_login(fix, user, "pw", project, token, token_cap, project_id);
}

/* ---- a blocking HTTP/1.1 client ---------------------------------------------------------- */

void
vol_fixture_volume_path(const vol_fixture_t *fix, const char *id, char *out, size_t cap)
{
    (void)snprintf(out, cap, "%s/volumes/%s", fix->dir, id);
}

static int
s_connect(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
        abort();
    }
    return fd;
}

static char *
s_exchange_raw(uint16_t port, const char *head, const void *data, size_t data_len)
{
    int fd = s_connect(port);
    size_t len = strlen(head);
    if (write(fd, head, len) != (ssize_t)len ||
        (data_len > 0 && write(fd, data, data_len) != (ssize_t)data_len)) {
        abort();
    }
    size_t cap = 65536;
    size_t used = 0;
    char *response = zn_malloc(cap);
    for (;;) {
        if (used + 1 >= cap) {
            cap *= 2;
            response = zn_realloc(response, cap);
        }
        ssize_t n = read(fd, response + used, cap - used - 1);
        if (n <= 0) {
            break;
        }
        used += (size_t)n;
    }
    response[used] = '\0';
    close(fd);
    return response;
}

int
vol_fixture_upload(uint16_t port, const char *path, const char *token, const void *data, size_t len)
{
    char *head = zn_asprintf("PUT %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nX-Auth-Token: %s\r\n"
                             "Content-Type: application/octet-stream\r\nContent-Length: %zu\r\n"
                             "Connection: close\r\n\r\n",
                             path, port, token, len);
    char *response = s_exchange_raw(port, head, data, len);
    int status = 0;
    (void)sscanf(response, "HTTP/1.1 %d", &status);
    zn_free(head);
    zn_free(response);
    return status;
}

static void
s_header(const char *response, const char *name, char *out, size_t cap)
{
    const char *end = strstr(response, "\r\n\r\n");
    size_t nlen = strlen(name);
    for (const char *line = strstr(response, "\r\n"); line != NULL && line < end;
         line = strstr(line + 2, "\r\n")) {
        if (strncasecmp(line + 2, name, nlen) == 0 && line[2 + nlen] == ':') {
            const char *v = line + 3 + nlen;
            v += strspn(v, " ");
            (void)snprintf(out, cap, "%.*s", (int)strcspn(v, "\r\n"), v);
            return;
        }
    }
}

int
vol_fixture_http(uint16_t port, const char *method, const char *path, const char *token,
                 const char *body, json_t **json, char *subject, size_t cap)
{
    char *auth = token != NULL ? zn_asprintf("X-Auth-Token: %s\r\n", token) : zn_strdup("");
    char *request = zn_asprintf("%s %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n%sContent-Type: "
                                "application/json\r\nContent-Length: %zu\r\nConnection: "
                                "close\r\n\r\n%s",
                                method, path, port, auth, body != NULL ? strlen(body) : 0,
                                body != NULL ? body : "");
    char *response = s_exchange_raw(port, request, NULL, 0);
    zn_free(auth);
    zn_free(request);
    int status = 0;
    (void)sscanf(response, "HTTP/1.1 %d", &status);
    if (subject != NULL) {
        subject[0] = '\0';
        s_header(response, "X-Subject-Token", subject, cap);
    }
    if (json != NULL) {
        const char *start = strstr(response, "\r\n\r\n");
        *json = start != NULL ? json_loads(start + 4, 0, NULL) : NULL;
    }
    zn_free(response);
    return status;
}
