/* SPDX-License-Identifier: Apache-2.0 */
/* cond_fixture.c - the conductor as an actor. */
#include "cond_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <czmq.h>

#include "zn_conductor.h"
#include "zn_mem.h"
#include "zn_str.h"

struct cond_fixture {
    char *dir;
    char *store_dir;
    char call[64];
    char cast[64];
    zn_conductor_cfg_t cfg;
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
s_set(cond_fixture_t *fix, const char *assignment)
{
    zn_fault_t fault;
    if (zn_cfg_apply_assignment(&fix->cfg, zn_conductor_options, assignment, &fault) != 0) {
        fprintf(stderr, "cond_fixture: %s\n", fault.message);
        abort();
    }
}

static void
s_actor(zsock_t *pipe, void *arg)
{
    cond_fixture_t *fix = arg;
    zn_conductor_t *conductor = NULL;
    if (zn_conductor_open(&conductor, &fix->cfg) != 0 ||
        zn_conductor_watch_pipe(conductor, pipe) != 0) {
        abort();
    }
    zsock_signal(pipe, 0);
    (void)zn_conductor_run(conductor);
    zn_conductor_destroy(&conductor);
}

cond_fixture_t *
cond_fixture_start(const char *const *settings)
{
    cond_fixture_t *fix = zn_calloc(1, sizeof(*fix));
    fix->dir = zn_strdup("/tmp/zn-conductor.XXXXXX");
    if (mkdtemp(fix->dir) == NULL) {
        abort();
    }
    fix->store_dir = zn_asprintf("%s/store", fix->dir);
    (void)snprintf(fix->call, sizeof(fix->call), "tcp://127.0.0.1:%u", s_free_port());
    (void)snprintf(fix->cast, sizeof(fix->cast), "tcp://127.0.0.1:%u", s_free_port());
    zn_cfg_defaults(&fix->cfg, zn_conductor_options);
    char *line = NULL;
    const char *fixed[] = {"agent.admin_endpoint=tcp://127.0.0.1:*", "agent.log_level=warn",
                           "store.election_timeout_ms=150", "peers.heartbeat_interval_ms=100"};
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        s_set(fix, fixed[i]);
    }
    line = zn_asprintf("rpc.call_endpoint=%s", fix->call);
    s_set(fix, line);
    zn_str_free(&line);
    line = zn_asprintf("rpc.cast_endpoint=%s", fix->cast);
    s_set(fix, line);
    zn_str_free(&line);
    line = zn_asprintf("peers.conductor_cast=%s", fix->cast);
    s_set(fix, line);
    zn_str_free(&line);
    line = zn_asprintf("store.data_dir=%s", fix->dir);
    s_set(fix, line);
    zn_str_free(&line);
    line = zn_asprintf("store.raft_address=127.0.0.1:%u", s_free_port());
    s_set(fix, line);
    zn_str_free(&line);
    for (size_t i = 0; settings != NULL && settings[i] != NULL; i++) {
        s_set(fix, settings[i]);
    }
    fix->actor = zactor_new(s_actor, fix);
    zclock_sleep(400); /* a single-node cluster elects itself within an election timeout */
    return fix;
}

void
cond_fixture_stop(cond_fixture_t **fix_p)
{
    cond_fixture_t *fix = *fix_p;
    if (fix == NULL) {
        return;
    }
    zactor_destroy(&fix->actor);
    zn_cfg_release(&fix->cfg, zn_conductor_options);
    char *cmd = zn_asprintf("rm -rf '%s'", fix->dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "cond_fixture: cannot remove %s\n", fix->dir);
    }
    zn_str_free(&cmd);
    zn_free(fix->store_dir);
    zn_free(fix->dir);
    zn_free(fix);
    *fix_p = NULL;
}

const char *
cond_fixture_call(const cond_fixture_t *fix)
{
    return fix->call;
}

const char *
cond_fixture_cast(const cond_fixture_t *fix)
{
    return fix->cast;
}

const char *
cond_fixture_store_dir(const cond_fixture_t *fix)
{
    return fix->store_dir;
}
