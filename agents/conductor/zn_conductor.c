/* SPDX-License-Identifier: Apache-2.0 */
/* zn_conductor.c - the registry of services, served over the conductor's call and cast sockets. */
#include "zn_conductor.h"

#include "zn_agent.h"
#include "zn_clock.h"
#include "zn_conductor_inst.h"
#include "zn_log.h"
#include "zn_mem.h"
#include "zn_registry.h"
#include "zn_secure.h"
#include "zn_server.h"

#define S_SWEEP_MS 250

const zn_cfg_opt_t zn_conductor_options[] = {
    ZN_AGENT_CFG_ROWS(zn_conductor_cfg_t, "conductor", "7204"),
    ZN_CFG_STR_ROW(zn_conductor_cfg_t, "rpc", "call_endpoint", call_endpoint,
                   "tcp://127.0.0.1:" ZN_PORT_CONDUCTOR_CALL, "where compute agents call"),
    ZN_CFG_STR_ROW(zn_conductor_cfg_t, "rpc", "cast_endpoint", cast_endpoint,
                   "tcp://127.0.0.1:" ZN_PORT_CONDUCTOR_CAST, "where heartbeats and casts arrive"),
    ZN_CFG_INT_ROW(zn_conductor_cfg_t, "registry", "dead_after_ms", dead_after_ms, "3000", 100,
                   600000, "a service silent this long is reported down"),
    ZN_CONDUCTOR_STORE_CFG_ROWS(zn_conductor_cfg_t),
    ZN_CONDUCTOR_BUILD_CFG_ROWS(zn_conductor_cfg_t),
    ZN_CFG_END,
};

struct zn_conductor {
    const zn_conductor_cfg_t *cfg;
    const zn_secure_t *secure; /* the agent's, borrowed */
    zn_agent_t *agent;
    zn_server_t *server;
    zn_registry_t *registry;
    zn_conductor_store_t *store; /* NULL when [store] enabled = false */
    zn_conductor_inst_t *inst;   /* instance methods: needs the store */
};

static int
s_heartbeat(void *arg, zn_call_t *call, zn_pack_t *reply, zn_fault_t *fault)
{
    (void)reply;
    zn_conductor_t *self = arg;
    return zn_registry_beat_packed(self->registry, zn_call_env(call)->body, zn_clock_mono_ms(),
                                   fault);
}

static int
s_services(void *arg, zn_call_t *call, zn_pack_t *reply, zn_fault_t *fault)
{
    (void)call;
    (void)fault;
    zn_conductor_t *self = arg;
    zn_registry_pack(self->registry, zn_clock_mono_ms(), reply);
    return 0;
}

/* The store's handlers, reached through this conductor (ARG) or its agent (admin ARG). */
typedef int(s_store_fn)(zn_conductor_store_t *store, zn_call_t *call, zn_pack_t *reply,
                        zn_fault_t *fault);

static int
s_with_store(zn_conductor_t *self, s_store_fn *fn, zn_call_t *call, zn_pack_t *reply,
             zn_fault_t *fault)
{
    if (self->store == NULL) {
        return zn_fault_set(fault, ZN_EUNAVAIL, "this conductor hosts no store ([store] enabled)");
    }
    return fn(self->store, call, reply, fault);
}

#define S_STORE_CALL(name, fn)                                                       \
    static int name(void *arg, zn_call_t *call, zn_pack_t *reply, zn_fault_t *fault) \
    {                                                                                \
        return s_with_store(arg, fn, call, reply, fault);                            \
    }
#define S_STORE_ADMIN(name, fn)                                                        \
    static int name(void *agent, zn_call_t *call, zn_pack_t *reply, zn_fault_t *fault) \
    {                                                                                  \
        return s_with_store(zn_agent_arg(agent), fn, call, reply, fault);              \
    }

S_STORE_CALL(s_store_write, zn_conductor_store_write)
S_STORE_CALL(s_store_write_fwd, zn_conductor_store_write_fwd)
S_STORE_CALL(s_store_get, zn_conductor_store_get)
S_STORE_CALL(s_store_scan, zn_conductor_store_scan)
S_STORE_ADMIN(s_store_status, zn_conductor_store_status)
S_STORE_ADMIN(s_store_backup, zn_conductor_store_backup)
S_STORE_ADMIN(s_store_add, zn_conductor_store_add)
S_STORE_ADMIN(s_store_remove, zn_conductor_store_remove)

/* The instance methods, reached through this conductor (ARG). */
#define S_INST_CALL(name)                                                                     \
    static int s_inst_##name(void *arg, zn_call_t *call, zn_pack_t *reply, zn_fault_t *fault) \
    {                                                                                         \
        zn_conductor_t *self = arg;                                                           \
        if (self->inst == NULL) {                                                             \
            return zn_fault_set(fault, ZN_EUNAVAIL,                                           \
                                "this conductor hosts no store ([store] enabled)");           \
        }                                                                                     \
        return zn_conductor_inst_##name(self->inst, call, reply, fault);                      \
    }
ZN_CONDUCTOR_INST_HANDLERS(S_INST_CALL)
#undef S_INST_CALL

static const zn_method_t s_methods[] = {
    /* Agents' heartbeats, and the registry they fill. */
    {"heartbeat", s_heartbeat, ZN_M_CAST},
    {"services", s_services, ZN_M_CALL},
    /* Hypervisor nodes never touch the store directly: they ask the conductor for what they
     * need (steps 14-18), so a compromised compute node cannot rewrite the cloud's state. */
    {"store_write", s_store_write, ZN_M_CALL | ZN_M_CONTROLLER},
    {"store_write_fwd", s_store_write_fwd, ZN_M_CALL | ZN_M_CONTROLLER},
    {"store_get", s_store_get, ZN_M_CALL | ZN_M_CONTROLLER},
    {"store_scan", s_store_scan, ZN_M_CALL | ZN_M_CONTROLLER},
    /* Steps 14-18 and 28: what compute agents ask instead (each checks that a compute key acts
     * only for its own host). */
    {"instance_get", s_inst_instance_get, ZN_M_CALL},
    {"instance_update", s_inst_instance_update, ZN_M_CALL},
    {"build_result", s_inst_build_result, ZN_M_CALL},
    {"delete_done", s_inst_delete_done, ZN_M_CALL},
    {"host_instances", s_inst_host_instances, ZN_M_CALL},
    {"resource_report", s_inst_resource_report, ZN_M_CALL | ZN_M_CAST},
    {"power_report", s_inst_power_report, ZN_M_CALL | ZN_M_CAST},
    {"instance_delete", s_inst_instance_delete, ZN_M_CALL | ZN_M_CONTROLLER},
    {NULL, NULL, 0},
};

static const zn_method_t s_admin_methods[] = {
    {"store_status", s_store_status, ZN_M_CALL},
    {"store_backup", s_store_backup, ZN_M_CALL},
    {"store_add", s_store_add, ZN_M_CALL},
    {"store_remove", s_store_remove, ZN_M_CALL},
    {NULL, NULL, 0},
};

static void
s_count_up(void *arg, const zn_service_t *service, bool up, int64_t age_ms)
{
    (void)service;
    (void)age_ms;
    int *counts = arg;
    counts[up ? 0 : 1]++;
}

static void
s_status(void *arg, zn_pack_t *out)
{
    zn_conductor_t *self = arg;
    int counts[2] = {0, 0};
    zn_registry_visit(self->registry, zn_clock_mono_ms(), s_count_up, counts);
    zn_pack_map(out, 2);
    zn_pack_str(out, "services_up");
    zn_pack_i64(out, counts[0]);
    zn_pack_str(out, "services_down");
    zn_pack_i64(out, counts[1]);
}

static int
s_sweep(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    zn_conductor_t *self = arg;
    (void)zn_registry_sweep(self->registry, zn_clock_mono_ms());
    return 0;
}

static int
s_open_agent(zn_conductor_t *self, zn_fault_t *fault)
{
    zn_agent_opts_t opts = {
        .role = "conductor",
        .admin_extra = s_admin_methods,
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
s_open_server(zn_conductor_t *self, zn_fault_t *fault)
{
    int rc = zn_agent_serve(self->agent, "conductor", self->cfg->call_endpoint,
                            self->cfg->cast_endpoint, s_methods, self, &self->server, fault);
    if (rc == 0 && zloop_timer(zn_agent_loop(self->agent), S_SWEEP_MS, 0, s_sweep, self) < 0) {
        rc = zn_fault_set(fault, -EINVAL, "cannot start the registry sweep");
    }
    return rc;
}

static int
s_open_store(zn_conductor_t *self, zn_fault_t *fault)
{
    char conductor_public[ZN_KEY_Z85_LEN + 1];
    int rc = zn_secure_peer_public(self->secure, "conductor", conductor_public, fault);
    if (rc < 0) {
        return rc;
    }
    zn_conductor_store_opts_t opts = {
        .cfg = &self->cfg->store,
        .own_call_endpoint = zn_server_call_endpoint(self->server),
        .keys = zn_secure_keys(self->secure),
        .conductor_public = zn_secure_public_or_null(self->secure, conductor_public),
        .loop = zn_agent_loop(self->agent),
    };
    rc = zn_conductor_store_open(&self->store, &opts, fault);
    if (rc < 0) {
        return rc;
    }
    zn_conductor_inst_opts_t iopts = {
        .cfg = &self->cfg->build,
        .store = self->store,
        .registry = self->registry,
        .secure = self->secure,
        .loop = zn_agent_loop(self->agent),
        .metrics = zn_agent_metrics(self->agent),
    };
    return zn_conductor_inst_open(&self->inst, &iopts, fault);
}

/* Conductors hear each other's heartbeats as they hear every agent's (each keeps its own
 * registry); this one also records itself at once, so it never lists itself as unknown. */
static int
s_start_heartbeat(zn_conductor_t *self, zn_fault_t *fault)
{
    int rc = zn_agent_announce(self->agent, &self->cfg->common, self->server, fault);
    if (rc == 0) {
        zn_registry_beat(self->registry, zn_agent_service(self->agent), zn_clock_mono_ms());
    }
    return rc;
}

int
zn_conductor_open(zn_conductor_t **out, const zn_conductor_cfg_t *cfg)
{
    *out = NULL;
    zn_conductor_t *self = zn_calloc(1, sizeof(*self));
    self->cfg = cfg;
    self->registry = zn_registry_new(cfg->dead_after_ms);
    zn_fault_t fault;
    zn_fault_clear(&fault);
    int rc = s_open_agent(self, &fault);
    if (rc == 0) {
        rc = s_open_server(self, &fault);
    }
    if (rc == 0 && cfg->store.enabled) {
        rc = s_open_store(self, &fault);
    }
    if (rc == 0) {
        rc = s_start_heartbeat(self, &fault);
    }
    if (rc < 0) {
        zn_log_error(NULL, "cannot start: %s", zn_fault_message(&fault));
        zn_conductor_destroy(&self);
        return rc;
    }
    *out = self;
    return 0;
}

void
zn_conductor_destroy(zn_conductor_t **self_p)
{
    zn_conductor_t *self = *self_p;
    if (self == NULL) {
        return;
    }
    zn_conductor_inst_destroy(&self->inst);   /* its ops use the store */
    zn_conductor_store_destroy(&self->store); /* answers through the server: goes first */
    zn_server_destroy(&self->server);
    zn_agent_destroy(&self->agent);
    zn_registry_destroy(&self->registry);
    zn_free(self);
    *self_p = NULL;
}

int
zn_conductor_run(zn_conductor_t *self)
{
    zn_log_notice(NULL, "conductor serving calls=%s casts=%s",
                  zn_server_call_endpoint(self->server), zn_server_cast_endpoint(self->server));
    return zn_agent_run(self->agent);
}

int
zn_conductor_watch_pipe(zn_conductor_t *self, zsock_t *pipe)
{
    return zn_agent_watch_pipe(self->agent, pipe);
}

const char *
zn_conductor_call_endpoint(const zn_conductor_t *self)
{
    return zn_server_call_endpoint(self->server);
}
