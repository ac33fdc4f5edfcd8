/* SPDX-License-Identifier: Apache-2.0 */
/* cell_fixture.c - scheduler and compute agents as actors next to api_fixture's agents. */
#include "cell_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <czmq.h>

#include "zn_compute.h"
#include "zn_mem.h"
#include "zn_scheduler.h"
#include "zn_str.h"

#define S_HOSTS_MAX 4

typedef struct {
    zn_compute_cfg_t cfg;
    zactor_t *actor;
    char *dir;
} s_compute_t;

struct cell_fixture {
    api_fixture_t *api;
    char scheduler_call[64];
    zn_scheduler_cfg_t sched_cfg;
    zactor_t *scheduler;
    s_compute_t computes[S_HOSTS_MAX];
    int hosts;
    int vcpus;
    int ram_mb;
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
s_apply(void *cfg, const zn_cfg_opt_t *options, const char *key, const char *value)
{
    char *line = zn_asprintf("%s=%s", key, value);
    zn_fault_t fault;
    if (zn_cfg_apply_assignment(cfg, options, line, &fault) != 0) {
        (void)fprintf(stderr, "cell_fixture: %s: %s\n", line, fault.message);
        abort();
    }
    zn_str_free(&line);
}

static void
s_sched_actor(zsock_t *pipe, void *arg)
{
    cell_fixture_t *cell = arg;
    zn_scheduler_t *scheduler = NULL;
    if (zn_scheduler_open(&scheduler, &cell->sched_cfg) != 0 ||
        zn_scheduler_watch_pipe(scheduler, pipe) != 0) {
        abort();
    }
    zsock_signal(pipe, 0);
    (void)zn_scheduler_run(scheduler);
    zn_scheduler_destroy(&scheduler);
}

static void
s_compute_actor(zsock_t *pipe, void *arg)
{
    s_compute_t *c = arg;
    zn_compute_t *compute = NULL;
    if (zn_compute_open(&compute, &c->cfg) != 0 || zn_compute_watch_pipe(compute, pipe) != 0) {
        abort();
    }
    zsock_signal(pipe, 0);
    (void)zn_compute_run(compute);
    zn_compute_destroy(&compute);
}

static void
s_start_scheduler(cell_fixture_t *cell)
{
    zn_scheduler_cfg_t *cfg = &cell->sched_cfg;
    zn_cfg_defaults(cfg, zn_scheduler_options);
    s_apply(cfg, zn_scheduler_options, "agent.admin_endpoint", "tcp://127.0.0.1:*");
    s_apply(cfg, zn_scheduler_options, "agent.log_level", "warn");
    s_apply(cfg, zn_scheduler_options, "rpc.call_endpoint", cell->scheduler_call);
    s_apply(cfg, zn_scheduler_options, "scheduler.refresh_interval_ms", "100");
    s_apply(cfg, zn_scheduler_options, "scheduler.refresh_min_ms", "0");
    s_apply(cfg, zn_scheduler_options, "scheduler.check_alive", "false");
    s_apply(cfg, zn_scheduler_options, "peers.conductor_call",
            api_fixture_conductor_call(cell->api));
    s_apply(cfg, zn_scheduler_options, "peers.conductor_cast",
            api_fixture_conductor_cast(cell->api));
    s_apply(cfg, zn_scheduler_options, "scheduler.replica_dir", api_fixture_store_dir(cell->api));
    cell->scheduler = zactor_new(s_sched_actor, cell);
}

static void
s_start_compute(cell_fixture_t *cell, int index)
{
    s_compute_t *c = &cell->computes[index];
    zn_compute_cfg_t *cfg = &c->cfg;
    const zn_cfg_opt_t *o = zn_compute_options;
    c->dir = zn_strdup("/tmp/zn-api-compute.XXXXXX");
    if (mkdtemp(c->dir) == NULL) {
        abort();
    }
    zn_cfg_defaults(cfg, o);
    const char *fixed[][2] = {
        {"agent.admin_endpoint", "tcp://127.0.0.1:*"},
        {"agent.log_level", "warn"},
        {"rpc.call_endpoint", "tcp://127.0.0.1:*"},
        {"rpc.cast_endpoint", "tcp://127.0.0.1:*"},
        {"peers.heartbeat_interval_ms", "100"},
        {"compute.libvirt_uri", "test:///default"},
        {"compute.power_sync_interval_ms", "100"},
        {"compute.resource_interval_ms", "100"},
        {"compute.stop_timeout_ms", "0"},
    };
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        s_apply(cfg, o, fixed[i][0], fixed[i][1]);
    }
    char text[64];
    (void)snprintf(text, sizeof(text), "node%d", index + 1);
    s_apply(cfg, o, "agent.host", text);
    (void)snprintf(text, sizeof(text), "%d", cell->vcpus);
    s_apply(cfg, o, "resources.vcpus", text);
    (void)snprintf(text, sizeof(text), "%d", cell->ram_mb);
    s_apply(cfg, o, "resources.ram_mb", text);
    s_apply(cfg, o, "compute.state_dir", c->dir);
    s_apply(cfg, o, "peers.conductor_call", api_fixture_conductor_call(cell->api));
    s_apply(cfg, o, "peers.conductor_cast", api_fixture_conductor_cast(cell->api));
    c->actor = zactor_new(s_compute_actor, c);
}

static void
s_hook(api_fixture_t *api, void *arg)
{
    cell_fixture_t *cell = arg;
    cell->api = api;
    s_start_scheduler(cell);
    for (int i = 0; i < cell->hosts; i++) {
        s_start_compute(cell, i);
    }
    char *line = zn_asprintf("peers.scheduler_call=%s", cell->scheduler_call);
    api_fixture_set(api, line);
    zn_str_free(&line);
}

cell_fixture_t *
cell_fixture_start(int hosts, int vcpus, int ram_mb)
{
    cell_fixture_t *cell = zn_calloc(1, sizeof(*cell));
    cell->hosts = hosts < S_HOSTS_MAX ? hosts : S_HOSTS_MAX;
    cell->vcpus = vcpus;
    cell->ram_mb = ram_mb;
    (void)snprintf(cell->scheduler_call, sizeof(cell->scheduler_call), "tcp://127.0.0.1:%u",
                   s_free_port());
    char *cond_line = zn_asprintf("peers.scheduler_call=%s", cell->scheduler_call);
    const char *cond_settings[] = {cond_line, "build.take_timeout_ms=3000",
                                   "build.action_timeout_ms=5000", NULL};
    api_fixture_start_with(NULL, cond_settings, s_hook, cell);
    zn_str_free(&cond_line);
    /* The hosts are in once the hypervisor list has them all. */
    int64_t deadline = zclock_mono() + 15000;
    for (;;) {
        json_t *doc = NULL;
        int status = api_fixture_http(cell->api, "GET", "/os-hypervisors", API_ADMIN, NULL, NULL,
                                      &doc, NULL, 0);
        size_t count = json_array_size(json_object_get(doc, "hypervisors"));
        json_decref(doc);
        if (status == 200 && count == (size_t)cell->hosts) {
            break;
        }
        if (zclock_mono() > deadline) {
            (void)fprintf(stderr, "cell_fixture: the hosts did not report\n");
            abort();
        }
        zclock_sleep(50);
    }
    return cell;
}

void
cell_fixture_stop(cell_fixture_t **cell_p)
{
    cell_fixture_t *cell = *cell_p;
    if (cell == NULL) {
        return;
    }
    for (int i = 0; i < cell->hosts; i++) {
        s_compute_t *c = &cell->computes[i];
        zactor_destroy(&c->actor);
        zn_cfg_release(&c->cfg, zn_compute_options);
        char *cmd = zn_asprintf("rm -rf '%s'", c->dir);
        if (system(cmd) != 0) {
            (void)fprintf(stderr, "cell_fixture: cannot remove %s\n", c->dir);
        }
        zn_str_free(&cmd);
        zn_free(c->dir);
    }
    zactor_destroy(&cell->scheduler);
    zn_cfg_release(&cell->sched_cfg, zn_scheduler_options);
    api_fixture_stop(&cell->api);
    zn_free(cell);
    *cell_p = NULL;
}

api_fixture_t *
cell_fixture_api(cell_fixture_t *cell)
{
    return cell->api;
}
