/* SPDX-License-Identifier: Apache-2.0 */
/* api_fixture.c - the api as an actor next to a conductor and an identity fixture. */
#include "api_fixture.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <czmq.h>

#include "cond_fixture.h"
#include "id_fixture.h"
#include "zn_api.h"
#include "zn_cfg.h"
#include "zn_mem.h"
#include "zn_str.h"

struct api_fixture {
    cond_fixture_t *cond;
    id_fixture_t *id;
    zn_api_cfg_t cfg;
    zactor_t *actor;
    uint16_t port;
    char token[API_CALLERS][2048];
    char project[API_CALLERS][80];
};

static void
s_actor(zsock_t *pipe, void *arg)
{
    api_fixture_t *fix = arg;
    zn_api_t *api = NULL;
    if (zn_api_open(&api, &fix->cfg) != 0 || zn_api_watch_pipe(api, pipe) != 0) {
        abort();
    }
    fix->port = zn_api_http_port(api);
    zsock_signal(pipe, 0);
    (void)zn_api_run(api);
    zn_api_destroy(&api);
}

static void
s_set(api_fixture_t *fix, const char *assignment)
{
    zn_fault_t fault;
    if (zn_cfg_apply_assignment(&fix->cfg, zn_api_options, assignment, &fault) != 0) {
        (void)fprintf(stderr, "api_fixture: %s\n", fault.message);
        abort();
    }
}

static void
s_setf(api_fixture_t *fix, const char *key, const char *value)
{
    char *line = zn_asprintf("%s=%s", key, value);
    s_set(fix, line);
    zn_str_free(&line);
}

static json_t *
s_body_json(const char *raw)
{
    const char *body = strstr(raw, "\r\n\r\n");
    return body != NULL ? json_loads(body + 4, 0, NULL) : NULL;
}

/* POST an identity object; its id into OUT. */
static void
s_identity_create(api_fixture_t *fix, const char *path, const char *body, const char *key,
                  char *out, size_t cap)
{
    char *raw = zn_malloc(65536);
    int status = id_fixture_http_at(id_fixture_http_port(fix->id), "POST", path,
                                    fix->token[API_ADMIN], body, raw, 65536);
    json_t *doc = s_body_json(raw);
    const char *id = json_string_value(json_object_get(json_object_get(doc, key), "id"));
    if (status != 201 || id == NULL) {
        (void)fprintf(stderr, "api_fixture: POST %s: %d %s\n", path, status, raw);
        abort();
    }
    (void)snprintf(out, cap, "%s", id);
    json_decref(doc);
    zn_free(raw);
}

static void
s_member(api_fixture_t *fix, api_caller_t who, const char *user, const char *project,
         const char *member_role)
{
    char *body = zn_asprintf("{\"project\":{\"name\":\"%s\",\"domain_id\":\"default\"}}", project);
    s_identity_create(fix, "/v3/projects", body, "project", fix->project[who],
                      sizeof(fix->project[who]));
    zn_str_free(&body);
    char user_id[80];
    body = zn_asprintf("{\"user\":{\"name\":\"%s\",\"password\":\"pw-%s\",\"domain_id\":"
                       "\"default\"}}",
                       user, user);
    s_identity_create(fix, "/v3/users", body, "user", user_id, sizeof(user_id));
    zn_str_free(&body);
    char *path =
        zn_asprintf("/v3/projects/%s/users/%s/roles/%s", fix->project[who], user_id, member_role);
    int status = id_fixture_http_at(id_fixture_http_port(fix->id), "PUT", path,
                                    fix->token[API_ADMIN], NULL, NULL, 0);
    zn_str_free(&path);
    char password[64];
    (void)snprintf(password, sizeof(password), "pw-%s", user);
    char *raw = zn_malloc(65536);
    if (status != 204 || id_fixture_login(fix->id, user, password, project, raw, 65536) != 201) {
        abort();
    }
    (void)snprintf(fix->token[who], sizeof(fix->token[who]), "%s", raw);
    zn_free(raw);
}

/* The id of role NAME. */
static void
s_role_id(api_fixture_t *fix, const char *name, char *out, size_t cap)
{
    char *raw = zn_malloc(65536);
    char *path = zn_asprintf("/v3/roles?name=%s", name);
    (void)id_fixture_http_at(id_fixture_http_port(fix->id), "GET", path, fix->token[API_ADMIN],
                             NULL, raw, 65536);
    json_t *doc = s_body_json(raw);
    const char *id =
        json_string_value(json_object_get(json_array_get(json_object_get(doc, "roles"), 0), "id"));
    if (id == NULL) {
        abort();
    }
    (void)snprintf(out, cap, "%s", id);
    json_decref(doc);
    zn_str_free(&path);
    zn_free(raw);
}

static void
s_callers(api_fixture_t *fix)
{
    char *raw = zn_malloc(65536);
    if (id_fixture_login(fix->id, "admin", "secret", "admin", raw, 65536) != 201) {
        abort();
    }
    (void)snprintf(fix->token[API_ADMIN], sizeof(fix->token[API_ADMIN]), "%s", raw);
    zn_free(raw);
    char role[80];
    s_role_id(fix, "member", role, sizeof(role));
    s_member(fix, API_ALICE, "alice", "demo", role);
    s_member(fix, API_BOB, "bob", "other", role);
}

void
api_fixture_set(api_fixture_t *fix, const char *assignment)
{
    s_set(fix, assignment);
}

api_fixture_t *
api_fixture_start(const char *const *settings)
{
    return api_fixture_start_with(settings, NULL, NULL, NULL);
}

api_fixture_t *
api_fixture_start_with(const char *const *settings, const char *const *cond_settings,
                       api_fixture_hook_fn *hook, void *arg)
{
    api_fixture_t *fix = zn_calloc(1, sizeof(*fix));
    fix->cond = cond_fixture_start(cond_settings);
    fix->id = id_fixture_start("test");
    zn_cfg_defaults(&fix->cfg, zn_api_options);
    s_set(fix, "agent.admin_endpoint=tcp://127.0.0.1:*");
    s_set(fix, "agent.log_level=warn");
    s_set(fix, "api.http_endpoint=127.0.0.1:0");
    s_set(fix, "peers.heartbeat_interval_ms=100");
    s_set(fix, "peers.scheduler_call="); /* none unless a hook starts one */
    s_setf(fix, "api.store_dir", cond_fixture_store_dir(fix->cond));
    s_setf(fix, "peers.conductor_call", cond_fixture_call(fix->cond));
    s_setf(fix, "peers.conductor_cast", cond_fixture_cast(fix->cond));
    s_setf(fix, "peers.identity_call", id_fixture_call_endpoint(fix->id));
    for (size_t i = 0; settings != NULL && settings[i] != NULL; i++) {
        s_set(fix, settings[i]);
    }
    if (hook != NULL) {
        hook(fix, arg);
    }
    fix->actor = zactor_new(s_actor, fix);
    s_callers(fix);
    return fix;
}

void
api_fixture_stop(api_fixture_t **fix_p)
{
    api_fixture_t *fix = *fix_p;
    if (fix == NULL) {
        return;
    }
    zactor_destroy(&fix->actor);
    zn_cfg_release(&fix->cfg, zn_api_options);
    id_fixture_stop(&fix->id);
    cond_fixture_stop(&fix->cond);
    zn_free(fix);
    *fix_p = NULL;
}

uint16_t
api_fixture_port(const api_fixture_t *fix)
{
    return fix->port;
}

const char *
api_fixture_conductor_call(const api_fixture_t *fix)
{
    return cond_fixture_call(fix->cond);
}

const char *
api_fixture_conductor_cast(const api_fixture_t *fix)
{
    return cond_fixture_cast(fix->cond);
}

const char *
api_fixture_store_dir(const api_fixture_t *fix)
{
    return cond_fixture_store_dir(fix->cond);
}

const char *
api_fixture_identity_call(const api_fixture_t *fix)
{
    return id_fixture_call_endpoint(fix->id);
}

const char *
api_fixture_token(const api_fixture_t *fix, api_caller_t who)
{
    return fix->token[who];
}

const char *
api_fixture_project(const api_fixture_t *fix, api_caller_t who)
{
    return fix->project[who];
}

static int
s_connect(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        abort();
    }
    return fd;
}

static char *
s_exchange(uint16_t port, const char *request)
{
    int fd = s_connect(port);
    size_t len = strlen(request);
    if (write(fd, request, len) != (ssize_t)len) {
        abort();
    }
    size_t used = 0;
    size_t cap = 1 << 16;
    char *response = zn_malloc(cap);
    ssize_t n = 0;
    while ((n = read(fd, response + used, cap - 1 - used)) > 0) {
        used += (size_t)n;
        if (used + 1 == cap) {
            cap *= 2;
            response = zn_realloc(response, cap);
        }
    }
    response[used] = '\0';
    close(fd);
    return response;
}

int
api_fixture_http(const api_fixture_t *fix, const char *method, const char *path, int who,
                 const char *body, const char *extra, json_t **out, char *headers, size_t cap)
{
    char *full = path[0] == '!' ? zn_strdup(path + 1) : zn_asprintf("/v2.1%s", path);
    char auth[2100] = "";
    if (who >= 0) {
        (void)snprintf(auth, sizeof(auth), "X-Auth-Token: %s\r\n", fix->token[who]);
    }
    char *request = zn_asprintf("%s %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nConnection: close\r\n"
                                "%s%sContent-Type: application/json\r\nContent-Length: %zu\r\n"
                                "\r\n%s",
                                method, full, fix->port, auth, extra != NULL ? extra : "",
                                body != NULL ? strlen(body) : 0, body != NULL ? body : "");
    char *response = s_exchange(fix->port, request);
    int status = 0;
    if (sscanf(response, "HTTP/1.1 %d", &status) != 1) {
        status = -1;
    }
    char *split = strstr(response, "\r\n\r\n");
    if (headers != NULL && cap > 0) {
        size_t head = split != NULL ? (size_t)(split - response) : strlen(response);
        (void)snprintf(headers, cap, "%.*s", (int)head, response);
    }
    if (out != NULL) {
        *out = split != NULL && split[4] != '\0' ? json_loads(split + 4, 0, NULL) : NULL;
    }
    zn_free(response);
    zn_str_free(&request);
    zn_str_free(&full);
    return status;
}

static char *
s_request_text(const api_fixture_t *fix, const char *method, const char *path, int who,
               const char *body)
{
    char *full = path[0] == '!' ? zn_strdup(path + 1) : zn_asprintf("/v2.1%s", path);
    char *request = zn_asprintf("%s %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nConnection: close\r\n"
                                "X-Auth-Token: %s\r\nContent-Type: application/json\r\n"
                                "Content-Length: %zu\r\n\r\n%s",
                                method, full, fix->port, fix->token[who],
                                body != NULL ? strlen(body) : 0, body != NULL ? body : "");
    zn_str_free(&full);
    return request;
}

void
api_fixture_http_burst(const api_fixture_t *fix, const char *method, const char *path, int who,
                       const char *body, size_t count, int *statuses)
{
    int *fds = zn_calloc(count, sizeof(int));
    char *request = s_request_text(fix, method, path, who, body);
    size_t len = strlen(request);
    for (size_t i = 0; i < count; i++) {
        fds[i] = s_connect(fix->port);
        if (write(fds[i], request, len) != (ssize_t)len) {
            abort();
        }
    }
    char buf[4096];
    for (size_t i = 0; i < count; i++) {
        size_t used = 0;
        ssize_t n = 0;
        while ((n = read(fds[i], buf + used, sizeof(buf) - 1 - used)) > 0 &&
               used + (size_t)n < sizeof(buf) - 1) {
            used += (size_t)n;
        }
        buf[used] = '\0';
        statuses[i] = 0;
        if (sscanf(buf, "HTTP/1.1 %d", &statuses[i]) != 1) {
            statuses[i] = -1;
        }
        close(fds[i]);
    }
    zn_str_free(&request);
    zn_free(fds);
}

bool
api_fixture_wait_server(const api_fixture_t *fix, const char *path, int who, int want_status,
                        const char *field, const char *want, int timeout_ms)
{
    int64_t deadline = zclock_mono() + timeout_ms;
    while (zclock_mono() < deadline) {
        json_t *doc = NULL;
        int status = api_fixture_http(fix, "GET", path, who, NULL, NULL, &doc, NULL, 0);
        const char *got = json_string_value(json_object_get(json_object_get(doc, "server"), field));
        bool done =
            status == want_status && (field == NULL || (got != NULL && strcmp(got, want) == 0));
        json_decref(doc);
        if (done) {
            return true;
        }
        zclock_sleep(20); /* polling with a deadline: the agents give no event to wait on */
    }
    return false;
}
