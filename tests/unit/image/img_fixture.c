/* SPDX-License-Identifier: Apache-2.0 */
/* img_fixture.c - the image agent as an actor. */
#include "img_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <czmq.h>

#include "id_fixture.h"
#include "zn_image.h"
#include "zn_mem.h"
#include "zn_str.h"

struct img_fixture {
    zn_image_cfg_t cfg;
    char call[64];
    uint16_t http_port;
    zactor_t *actor;
};

static unsigned
s_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(addr);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &len) < 0) {
        abort();
    }
    close(fd);
    return ntohs(addr.sin_port);
}

static void
s_set(img_fixture_t *fix, const char *assignment)
{
    zn_fault_t fault;
    if (zn_cfg_apply_assignment(&fix->cfg, zn_image_options, assignment, &fault) != 0) {
        (void)fprintf(stderr, "img_fixture: %s\n", fault.message);
        abort();
    }
}

static void
s_setf(img_fixture_t *fix, const char *key, const char *value)
{
    char *line = zn_asprintf("%s=%s", key, value);
    s_set(fix, line);
    zn_str_free(&line);
}

static void
s_actor(zsock_t *pipe, void *arg)
{
    img_fixture_t *fix = arg;
    zn_image_t *image = NULL;
    if (zn_image_open(&image, &fix->cfg) != 0 || zn_image_watch_pipe(image, pipe) != 0) {
        abort();
    }
    fix->http_port = zn_image_http_port(image);
    (void)snprintf(fix->call, sizeof(fix->call), "%s", zn_image_call_endpoint(image));
    zsock_signal(pipe, 0);
    (void)zn_image_run(image);
    zn_image_destroy(&image);
}

img_fixture_t *
img_fixture_start(const char *conductor_call, const char *replica_dir, const char *identity_call,
                  const char *const *settings)
{
    img_fixture_t *fix = zn_calloc(1, sizeof(*fix));
    zn_cfg_defaults(&fix->cfg, zn_image_options);
    const char *fixed[] = {"agent.admin_endpoint=tcp://127.0.0.1:*", "agent.log_level=warn",
                           "rpc.call_endpoint=tcp://127.0.0.1:*", "image.http_endpoint=127.0.0.1:0",
                           "peers.heartbeat_interval_ms=100"};
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        s_set(fix, fixed[i]);
    }
    char cast[64];
    (void)snprintf(cast, sizeof(cast), "tcp://127.0.0.1:%u", s_free_port());
    s_setf(fix, "peers.conductor_cast", cast); /* nobody listens: heartbeats go nowhere */
    s_setf(fix, "peers.conductor_call", conductor_call);
    s_setf(fix, "store.replica_dir", replica_dir);
    s_setf(fix, "identity.call_endpoint", identity_call);
    for (size_t i = 0; settings != NULL && settings[i] != NULL; i++) {
        s_set(fix, settings[i]);
    }
    fix->actor = zactor_new(s_actor, fix);
    return fix;
}

void
img_fixture_stop(img_fixture_t **fix_p)
{
    img_fixture_t *fix = *fix_p;
    if (fix == NULL) {
        return;
    }
    zactor_destroy(&fix->actor);
    zn_cfg_release(&fix->cfg, zn_image_options);
    zn_free(fix);
    *fix_p = NULL;
}

uint16_t
img_fixture_http_port(const img_fixture_t *fix)
{
    return fix->http_port;
}

const char *
img_fixture_call(const img_fixture_t *fix)
{
    return fix->call;
}

int
img_fixture_http(const img_fixture_t *fix, const char *method, const char *path, const char *token,
                 const char *body, char *out, size_t cap)
{
    char *response = zn_malloc(262144);
    int status = id_fixture_http_at(fix->http_port, method, path, token, body, response, 262144);
    const char *start = strstr(response, "\r\n\r\n");
    if (out != NULL && cap > 0) {
        (void)snprintf(out, cap, "%s", start != NULL ? start + 4 : "");
    }
    zn_free(response);
    return status;
}
