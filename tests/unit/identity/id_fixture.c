/* SPDX-License-Identifier: Apache-2.0 */
/* id_fixture.c - identity as an actor, and blocking HTTP over a plain socket. */
#include "id_fixture.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <czmq.h>

#include "zn_identity.h"
#include "zn_mem.h"

struct id_fixture {
    char *dir;
    zn_identity_cfg_t cfg;
    zactor_t *actor;
    uint16_t port;
    char *call_endpoint;
};

static void
s_actor(zsock_t *pipe, void *arg)
{
    id_fixture_t *fix = arg;
    zn_identity_t *identity = NULL;
    if (zn_identity_open(&identity, &fix->cfg) != 0 ||
        zn_identity_watch_pipe(identity, pipe) != 0) {
        abort();
    }
    zsock_signal(pipe, 0); /* zactor_new waits for this */
    zsock_send(pipe, "is", (int)zn_identity_http_port(identity),
               zn_identity_call_endpoint(identity));
    (void)zn_identity_run(identity);
    zn_identity_destroy(&identity);
}

static void
s_set(id_fixture_t *fix, const char *assignment)
{
    zn_fault_t fault;
    if (zn_cfg_apply_assignment(&fix->cfg, zn_identity_options, assignment, &fault) != 0) {
        fprintf(stderr, "fixture: %s\n", fault.message);
        abort();
    }
}

id_fixture_t *
id_fixture_start(const char *cost)
{
    return id_fixture_start_curve(cost, NULL);
}

id_fixture_t *
id_fixture_start_curve(const char *cost, const char *keys_dir)
{
    id_fixture_t *fix = zn_calloc(1, sizeof(*fix));
    fix->dir = zn_strdup("/tmp/zn-identity.XXXXXX");
    if (mkdtemp(fix->dir) == NULL) {
        abort();
    }
    zn_cfg_defaults(&fix->cfg, zn_identity_options);
    char *sets[] = {
        zn_asprintf("identity.data_dir=%s/data", fix->dir),
        zn_asprintf("identity.token_keys_dir=%s/keys", fix->dir),
        zn_asprintf("identity.password_hash_cost=%s", cost),
        zn_strdup("identity.http_endpoint=127.0.0.1:0"),
        zn_strdup("rpc.call_endpoint=tcp://127.0.0.1:*"),
        zn_strdup("agent.admin_endpoint=tcp://127.0.0.1:*"),
        zn_strdup("peers.conductor_cast=inproc://nobody-listens"),
        zn_strdup("bootstrap.password=secret"),
        zn_strdup("agent.log_level=warn"),
    };
    for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
        s_set(fix, sets[i]);
        zn_str_free(&sets[i]);
    }
    if (keys_dir != NULL) {
        char *dir = zn_asprintf("security.keys_dir=%s", keys_dir);
        s_set(fix, "security.curve=true");
        s_set(fix, dir);
        zn_str_free(&dir);
    }
    fix->actor = zactor_new(s_actor, fix);
    int port = 0;
    if (zsock_recv(fix->actor, "is", &port, &fix->call_endpoint) != 0) {
        abort();
    }
    fix->port = (uint16_t)port;
    return fix;
}

void
id_fixture_stop(id_fixture_t **self_p)
{
    id_fixture_t *fix = *self_p;
    if (fix == NULL) {
        return;
    }
    zactor_destroy(&fix->actor);
    zstr_free(&fix->call_endpoint);
    zn_cfg_release(&fix->cfg, zn_identity_options);
    char *cmd = zn_asprintf("rm -rf '%s'", fix->dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "fixture: cannot remove %s\n", fix->dir);
    }
    zn_str_free(&cmd);
    zn_str_free(&fix->dir);
    zn_free(fix);
    *self_p = NULL;
}

const char *
id_fixture_call_endpoint(const id_fixture_t *self)
{
    return self->call_endpoint;
}

uint16_t
id_fixture_http_port(const id_fixture_t *self)
{
    return self->port;
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

static void
s_subject(const char *response, char *subject, size_t cap)
{
    const char *at = strcasestr(response, "\r\nX-Subject-Token: ");
    subject[0] = '\0';
    if (at != NULL) {
        at += strlen("\r\nX-Subject-Token: ");
        size_t len = strcspn(at, "\r\n");
        len = len < cap - 1 ? len : cap - 1;
        memcpy(subject, at, len);
        subject[len] = '\0';
    }
}

int
id_fixture_http(const id_fixture_t *self, const char *method, const char *path, const char *token,
                const char *subject_in, const char *body, char *subject, size_t cap)
{
    int fd = s_connect(self->port);
    char *auth = zn_asprintf("X-Auth-Token: %s\r\nX-Subject-Token: %s\r\n",
                             token != NULL ? token : "", subject_in != NULL ? subject_in : "");
    char *request = zn_asprintf("%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s"
                                "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                                method, path, auth, body ? strlen(body) : 0, body ? body : "");
    size_t len = strlen(request);
    if (write(fd, request, len) != (ssize_t)len) {
        abort();
    }
    size_t used = 0;
    size_t buf_cap = 65536;
    char *response = zn_malloc(buf_cap);
    ssize_t n = 0;
    while ((n = read(fd, response + used, buf_cap - 1 - used)) > 0) {
        used += (size_t)n;
    }
    response[used] = '\0';
    close(fd);
    int status = 0;
    if (sscanf(response, "HTTP/1.1 %d", &status) != 1) {
        status = -1;
    }
    if (subject != NULL) {
        s_subject(response, subject, cap);
    }
    zn_free(response);
    zn_str_free(&request);
    zn_str_free(&auth);
    return status;
}

int
id_fixture_http_at(uint16_t port, const char *method, const char *path, const char *token,
                   const char *body, char *out, size_t cap)
{
    int fd = s_connect(port);
    char *request = zn_asprintf("%s %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nConnection: close\r\n"
                                "%s%s%sContent-Type: application/json\r\nContent-Length: %zu\r\n"
                                "\r\n%s",
                                method, path, port, token != NULL ? "X-Auth-Token: " : "",
                                token != NULL ? token : "", token != NULL ? "\r\n" : "",
                                body != NULL ? strlen(body) : 0, body != NULL ? body : "");
    size_t len = strlen(request);
    if (write(fd, request, len) != (ssize_t)len) {
        abort();
    }
    size_t used = 0;
    size_t buf_cap = 65536;
    char *response = zn_malloc(buf_cap);
    ssize_t n = 0;
    while ((n = read(fd, response + used, buf_cap - 1 - used)) > 0) {
        used += (size_t)n;
    }
    response[used] = '\0';
    close(fd);
    int status = 0;
    if (sscanf(response, "HTTP/1.1 %d", &status) != 1) {
        status = -1;
    }
    if (out != NULL && cap > 0) {
        (void)snprintf(out, cap, "%s", response);
    }
    zn_free(response);
    zn_str_free(&request);
    return status;
}

int
id_fixture_login(const id_fixture_t *self, const char *user, const char *password,
                 const char *project, char *out, size_t cap)
{
    char *body = zn_asprintf(
        "{\"auth\":{\"identity\":{\"methods\":[\"password\"],\"password\":{\"user\":{\"name\":"
        "\"%s\",\"domain\":{\"id\":\"default\"},\"password\":\"%s\"}}},\"scope\":{\"project\":"
        "{\"name\":\"%s\",\"domain\":{\"id\":\"default\"}}}}}",
        user, password, project);
    int status = id_fixture_http(self, "POST", "/v3/auth/tokens", NULL, NULL, body, out, cap);
    zn_str_free(&body);
    return status;
}
