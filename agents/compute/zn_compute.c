/* SPDX-License-Identifier: Apache-2.0 */
/* zn_compute.c - the compute agent's sockets, heartbeats and service discovery. */
#include "zn_compute.h"

#include <unistd.h>

#include "zn_agent.h"
#include "zn_client.h"
#include "zn_clock.h"
#include "zn_log.h"
#include "zn_mem.h"
#include "zn_mpread.h"
#include "zn_secure.h"
#include "zn_server.h"
#include "zn_str.h"

#define S_DISCOVERY_TIMEOUT_MS 5000

const zn_cfg_opt_t zn_compute_options[] = {
    ZN_AGENT_CFG_ROWS(zn_compute_cfg_t, "compute", "7205"),
    ZN_CFG_STR_ROW(zn_compute_cfg_t, "rpc", "call_endpoint", call_endpoint, "tcp://127.0.0.1:7105",
                   "where controllers call this node (console log, power state)"),
    ZN_CFG_STR_ROW(zn_compute_cfg_t, "rpc", "cast_endpoint", cast_endpoint, "tcp://127.0.0.1:7305",
                   "where build, delete and power requests are cast to this node"),
    ZN_CFG_END,
};

struct zn_compute {
    const zn_compute_cfg_t *cfg;
    const zn_secure_t *secure; /* the agent's, borrowed */
    zn_agent_t *agent;
    zn_server_t *server;
    zn_client_t *conductor;
    int services_known;
};

/* Host facts, the seed of the resource reports the scheduler will use. */
static int
s_describe(void *arg, zn_call_t *call, zn_pack_t *reply, zn_fault_t *fault)
{
    (void)call;
    (void)fault;
    zn_compute_t *self = arg;
    long pages = sysconf(_SC_PHYS_PAGES);
    long page_bytes = sysconf(_SC_PAGE_SIZE);
    zn_pack_map(reply, 3);
    zn_pack_str(reply, "host");
    zn_pack_str(reply, self->cfg->common.host);
    zn_pack_str(reply, "vcpus");
    zn_pack_i64(reply, sysconf(_SC_NPROCESSORS_ONLN));
    zn_pack_str(reply, "memory_mb");
    zn_pack_i64(reply, (int64_t)pages * page_bytes / (1024LL * 1024LL));
    return 0;
}

static const zn_method_t s_methods[] = {
    {"describe", s_describe, ZN_M_CALL},
    {NULL, NULL, 0},
};

static void
s_status(void *arg, zn_pack_t *out)
{
    zn_compute_t *self = arg;
    zn_pack_map(out, 1);
    zn_pack_str(out, "services_known");
    zn_pack_i64(out, self->services_known);
}

static int
s_open_agent(zn_compute_t *self, zn_fault_t *fault)
{
    zn_agent_opts_t opts = {
        .role = "compute",
        .status = s_status,
        .arg = self,
    };
    int rc = zn_agent_open_from(&self->agent, &self->cfg->common, &opts, fault);
    if (rc == 0) {
        self->secure = zn_agent_secure(self->agent);
    }
    return rc;
}

static int
s_open_server(zn_compute_t *self, zn_fault_t *fault)
{
    int rc = zn_agent_serve(self->agent, "compute", self->cfg->call_endpoint,
                            self->cfg->cast_endpoint, s_methods, self, &self->server, fault);
    return rc;
}

static int
s_open_conductor(zn_compute_t *self, const char *conductor_public, zn_fault_t *fault)
{
    size_t count = 0;
    char **endpoints = zn_str_split(self->cfg->common.conductor_call, ',', &count);
    zn_client_opts_t opts = {
        .name = "conductor",
        .endpoints = (const char *const *)endpoints,
        .endpoint_count = count,
        .keys = zn_secure_keys(self->secure),
        .server_public = zn_secure_public_or_null(self->secure, conductor_public),
        .metrics = zn_agent_metrics(self->agent),
    };
    int rc = zn_client_open(&self->conductor, &opts, fault);
    zn_strv_free(&endpoints);
    return rc < 0 ? rc : zn_client_attach(self->conductor, zn_agent_loop(self->agent));
}

static void
s_on_services(void *arg, const zn_env_t *reply, const zn_fault_t *fault)
{
    zn_compute_t *self = arg;
    if (fault->code < 0) {
        zn_log_warn(NULL, "service discovery failed: %s", zn_fault_message(fault));
        return;
    }
    /* The answer is an array of services: its header says how many the conductor knows. */
    zn_mpread_t reader;
    zn_mpval_t head;
    zn_fault_t bad;
    zn_mpread_init(&reader, reply->body);
    if (zn_mpread_next(&reader, &head, &bad) < 0 || head.type != ZN_MPT_ARRAY) {
        zn_log_warn(NULL, "service discovery: the conductor's answer is not a list");
        return;
    }
    self->services_known = (int)head.v.count;
    zn_log_notice(NULL, "discovered services=%d through the conductor", self->services_known);
}

int
zn_compute_open(zn_compute_t **out, const zn_compute_cfg_t *cfg)
{
    *out = NULL;
    zn_compute_t *self = zn_calloc(1, sizeof(*self));
    self->cfg = cfg;
    zn_fault_t fault;
    zn_fault_clear(&fault);
    char conductor_public[ZN_KEY_Z85_LEN + 1];
    int rc = s_open_agent(self, &fault);
    if (rc == 0) {
        rc = zn_secure_peer_public(self->secure, "conductor", conductor_public, &fault);
    }
    if (rc == 0) {
        rc = s_open_server(self, &fault);
    }
    if (rc == 0) {
        rc = s_open_conductor(self, conductor_public, &fault);
    }
    if (rc == 0) {
        rc = zn_agent_announce(self->agent, &self->cfg->common, self->server, &fault);
    }
    zn_buf_t none = {NULL, 0};
    if (rc == 0) {
        rc = zn_client_call(self->conductor, "services", NULL, none, S_DISCOVERY_TIMEOUT_MS,
                            s_on_services, self);
    }
    if (rc < 0) {
        zn_log_error(NULL, "cannot start: %s", zn_fault_message(&fault));
        zn_compute_destroy(&self);
        return rc;
    }
    *out = self;
    return 0;
}

void
zn_compute_destroy(zn_compute_t **self_p)
{
    zn_compute_t *self = *self_p;
    if (self == NULL) {
        return;
    }
    zn_client_destroy(&self->conductor);
    zn_server_destroy(&self->server);
    zn_agent_destroy(&self->agent);
    zn_free(self);
    *self_p = NULL;
}

int
zn_compute_run(zn_compute_t *self)
{
    return zn_agent_run(self->agent);
}
