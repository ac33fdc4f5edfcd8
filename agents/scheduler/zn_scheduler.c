/* SPDX-License-Identifier: Apache-2.0 */
/* zn_scheduler.c - the scheduler agent: configuration, sockets, timers, admin status. */
#include "zn_scheduler.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zn_agent.h"
#include "zn_client.h"
#include "zn_clock.h"
#include "zn_log.h"
#include "zn_mem.h"
#include "zn_sched_alive.h"
#include "zn_sched_hosts.h"
#include "zn_sched_place.h"
#include "zn_sched_sync.h"
#include "zn_sclient.h"
#include "zn_secure.h"
#include "zn_server.h"
#include "zn_str.h"

#define S_STR(sec, key, field, def, help) \
    ZN_CFG_STR_ROW(zn_scheduler_cfg_t, sec, key, field, def, help)
#define S_INT(sec, key, field, def, lo, hi, help) \
    ZN_CFG_INT_ROW(zn_scheduler_cfg_t, sec, key, field, def, lo, hi, help)

#define S_SERVICES_TIMEOUT_MS 2000

const zn_cfg_opt_t zn_scheduler_options[] = {
    ZN_AGENT_CFG_ROWS(zn_scheduler_cfg_t, "scheduler", ZN_PORT_SCHEDULER_ADMIN),
    S_STR("rpc", "call_endpoint", call_endpoint, "tcp://127.0.0.1:" ZN_PORT_SCHEDULER_CALL,
          "where controllers call select_destinations"),
    S_STR("scheduler", "replica_dir", replica_dir, "/var/lib/zinc/conductor/store",
          "this node's store replica (the conductor's [store] data_dir/store)"),
    S_STR("scheduler", "ram_weight_multiplier", ram_weight_multiplier, "1.0",
          "weight of free RAM (>= 0; 0 turns the weigher off)"),
    S_STR("scheduler", "cpu_weight_multiplier", cpu_weight_multiplier, "1.0",
          "weight of free vCPUs (>= 0)"),
    S_STR("scheduler", "disk_weight_multiplier", disk_weight_multiplier, "0.5",
          "weight of free disk (>= 0)"),
    S_STR("scheduler", "strategy", strategy, "spread",
          "spread (most free first) or pack (fill hosts up first)"),
    S_INT("scheduler", "host_subset_size", host_subset_size, "3", 1, 1000,
          "choose at random among the best N hosts that pass, so schedulers rarely collide"),
    S_STR("scheduler", "partition", partition, "auto",
          "I/N (0 <= I < N): with N schedulers, this one prefers the hosts whose name hashes to "
          "I, so that they rarely race for the same host; auto: I and N from the schedulers the "
          "conductor's registry calls alive (needs check_alive); empty: no preference"),
    S_INT("scheduler", "refresh_interval_ms", refresh_interval_ms, "1000", 10, 600000,
          "how often host records and usage are compared with the store (changed ones re-read)"),
    S_INT("scheduler", "refresh_min_ms", refresh_min_ms, "100", 0, 600000,
          "a request finding no host refreshes first, at most this often"),
    ZN_CFG_BOOL_ROW(zn_scheduler_cfg_t, "scheduler", "check_alive", check_alive, "true",
                    "only hosts whose compute agent the conductor hears are candidates"),
    S_INT("scheduler", "alive_interval_ms", alive_interval_ms, "2000", 100, 600000,
          "how often the conductor's registry (`services`) is asked who is alive"),
    S_INT("scheduler", "claim_attempts", claim_attempts, "50", 1, 1000,
          "decisions per request before conflicting claims make it give up"),
    ZN_CFG_END,
};

struct zn_scheduler {
    const zn_scheduler_cfg_t *cfg;
    zn_agent_t *agent;
    zn_server_t *server;
    zn_sclient_t *sc;
    zn_client_t *conductor; /* for `services`; NULL without check_alive */
    zn_sched_hosts_t *hosts;
    zn_sched_place_t *place;
    zhashx_t *up;        /* compute hosts the registry last called alive; NULL: not asked yet */
    bool services_asked; /* a `services` call is in flight */
    bool auto_partition; /* [scheduler] partition = auto: our share from the registry */
    int64_t refreshes;
};

/* ---- host states -------------------------------------------------------------------------- */

typedef struct {
    zn_sched_hosts_t *hosts;
    zhashx_t *up;
} s_alive_t;

static void
s_mark_alive(void *arg, const char *host)
{
    s_alive_t *alive = arg;
    zn_sched_hosts_set_alive(alive->hosts, host, zhashx_lookup(alive->up, host) != NULL);
}

static void
s_apply_alive(zn_scheduler_t *self)
{
    if (self->up != NULL) {
        s_alive_t alive = {self->hosts, self->up};
        zn_sched_hosts_visit(self->hosts, s_mark_alive, &alive);
    }
}

static void
s_refresh(zn_scheduler_t *self)
{
    zn_sched_sync_stats_t stats;
    zn_fault_t fault;
    if (zn_sched_sync_refresh(self->sc, self->hosts, &stats, &fault) < 0) {
        zn_log_info(NULL, "refresh: %s", zn_fault_message(&fault));
        return;
    }
    self->refreshes++;
    if (stats.hosts_changed > 0) {
        s_apply_alive(self); /* new hosts start alive: the registry has the last word */
    }
    if (stats.hosts_changed + stats.hosts_removed > 0) {
        zn_log_info(NULL, "refresh: %zu hosts new or changed, %zu removed, %zu usage changed",
                    stats.hosts_changed, stats.hosts_removed, stats.usage_changed);
    }
}

static int
s_refresh_tick(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    s_refresh(arg);
    return 0;
}

/* ---- liveness from the conductors' registry ----------------------------------------------- */

static void
s_services_answered(void *arg, const zn_env_t *reply, const zn_fault_t *fault)
{
    zn_scheduler_t *self = arg;
    self->services_asked = false;
    if (fault->code < 0) {
        zn_log_info(NULL, "cannot ask the conductor who is alive: %s", zn_fault_message(fault));
        return; /* keep what we knew */
    }
    zn_sched_alive_t alive;
    if (!zn_sched_alive_parse(reply->body, zn_server_call_endpoint(self->server), &alive)) {
        zn_log_warn(NULL, "the conductor's `services` answer is not a list");
        return;
    }
    zhashx_destroy(&self->up);
    self->up = alive.hosts; /* taken over */
    alive.hosts = NULL;
    s_apply_alive(self);
    if (self->auto_partition && alive.self_seen) {
        zn_sched_hosts_set_partition(self->hosts, alive.before, alive.schedulers);
    }
    zn_sched_alive_release(&alive);
}

static int
s_alive_tick(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    zn_scheduler_t *self = arg;
    if (self->services_asked) {
        return 0;
    }
    zn_ctx_t ctx;
    memset(&ctx, 0, sizeof(ctx));
    zn_buf_t empty = {NULL, 0};
    if (zn_client_call(self->conductor, "services", &ctx, empty, S_SERVICES_TIMEOUT_MS,
                       s_services_answered, self) == 0) {
        self->services_asked = true;
    }
    return 0;
}

/* ---- the agent ---------------------------------------------------------------------------- */

static int
s_select(void *arg, zn_call_t *call, zn_pack_t *reply, zn_fault_t *fault)
{
    zn_scheduler_t *self = arg;
    if (self->place == NULL || zn_agent_is_stopping(self->agent)) {
        return zn_fault_set(fault, ZN_EUNAVAIL, "the scheduler is not serving");
    }
    return zn_sched_place_select(self->place, call, reply, fault);
}

static const zn_method_t s_methods[] = {
    /* Steps 8-11. Controllers only: a hypervisor's key could otherwise claim a whole cloud. */
    {"select_destinations", s_select, ZN_M_CALL | ZN_M_CONTROLLER},
    {NULL, NULL, 0},
};

static void
s_pack_count(zn_pack_t *out, const char *name, uint64_t value)
{
    zn_pack_str(out, name);
    zn_pack_u64(out, value);
}

static void
s_status(void *arg, zn_pack_t *out)
{
    zn_scheduler_t *self = arg;
    zn_sched_place_counts_t c;
    zn_sched_place_counts(self->place, &c);
    size_t share_index = 0;
    size_t share_count = 1;
    zn_sched_hosts_partition(self->hosts, &share_index, &share_count);
    zn_pack_map(out, 13);
    s_pack_count(out, "hosts_known", zn_sched_hosts_count(self->hosts));
    s_pack_count(out, "hosts_alive_known", self->up != NULL ? zhashx_size(self->up) : 0);
    s_pack_count(out, "requests", c.requests);
    s_pack_count(out, "decisions", c.decisions);
    s_pack_count(out, "claims", c.claims);
    s_pack_count(out, "conflicts", c.conflicts);
    s_pack_count(out, "no_valid_host", c.no_valid_host);
    s_pack_count(out, "idempotent", c.idempotent);
    s_pack_count(out, "in_flight", c.in_flight);
    s_pack_count(out, "waiting", c.waiting);
    s_pack_count(out, "refreshes", (uint64_t)self->refreshes);
    s_pack_count(out, "partition_index", share_index);
    s_pack_count(out, "partition_count", share_count);
}

static bool
s_drained(void *arg)
{
    zn_scheduler_t *self = arg;
    return self->place == NULL || zn_sched_place_is_idle(self->place);
}

static int
s_parse_multiplier(const char *text, const char *name, double *out, zn_fault_t *fault)
{
    char *end = NULL;
    errno = 0;
    double v = text != NULL ? strtod(text, &end) : NAN;
    if (text == NULL || end == text || *end != '\0' || errno != 0 || !(v >= 0) || v > 1e6) {
        return zn_fault_set(fault, ZN_ECONFIG, "[scheduler] %s: not a number >= 0: %s", name,
                            text != NULL ? text : "(none)");
    }
    *out = v;
    return 0;
}

static int
s_parse_partition(const char *text, zn_sched_policy_t *policy, zn_fault_t *fault)
{
    if (text == NULL || text[0] == '\0' || strcmp(text, "auto") == 0) {
        return 0;
    }
    unsigned index = 0;
    unsigned count = 0;
    char extra = '\0';
    if (sscanf(text, "%u/%u%c", &index, &count, &extra) != 2 || count < 1 || count > 1000 ||
        index >= count) {
        return zn_fault_set(fault, ZN_ECONFIG, "[scheduler] partition: I/N with I < N, not %s",
                            text);
    }
    policy->partition_index = index;
    policy->partition_count = count;
    return 0;
}

static int
s_policy(const zn_scheduler_cfg_t *cfg, zn_sched_policy_t *policy, zn_fault_t *fault)
{
    memset(policy, 0, sizeof(*policy));
    int rc = s_parse_multiplier(cfg->ram_weight_multiplier, "ram_weight_multiplier",
                                &policy->ram_multiplier, fault);
    if (rc == 0) {
        rc = s_parse_multiplier(cfg->cpu_weight_multiplier, "cpu_weight_multiplier",
                                &policy->cpu_multiplier, fault);
    }
    if (rc == 0) {
        rc = s_parse_multiplier(cfg->disk_weight_multiplier, "disk_weight_multiplier",
                                &policy->disk_multiplier, fault);
    }
    bool pack = cfg->strategy != NULL && strcmp(cfg->strategy, "pack") == 0;
    bool spread = cfg->strategy != NULL && strcmp(cfg->strategy, "spread") == 0;
    if (rc == 0 && !pack && !spread) {
        rc = zn_fault_set(fault, ZN_ECONFIG, "[scheduler] strategy: spread or pack, not %s",
                          cfg->strategy != NULL ? cfg->strategy : "(none)");
    }
    policy->pack = pack;
    policy->host_subset_size = (size_t)cfg->host_subset_size;
    return rc == 0 ? s_parse_partition(cfg->partition, policy, fault) : rc;
}

static int
s_open_agent(zn_scheduler_t *self, zn_fault_t *fault)
{
    zn_agent_opts_t opts = {
        .role = "scheduler",
        .status = s_status,
        .drained = s_drained,
        .arg = self,
    };
    int rc = zn_agent_open_from(&self->agent, &self->cfg->common, &opts, fault);
    if (rc == 0) {
        rc = zn_agent_serve(self->agent, "scheduler", self->cfg->call_endpoint, NULL, s_methods,
                            self, &self->server, fault);
    }
    return rc;
}

static int
s_open_conductor(zn_scheduler_t *self, zn_fault_t *fault)
{
    const zn_secure_t *secure = zn_agent_secure(self->agent);
    char conductor_public[ZN_KEY_Z85_LEN + 1];
    int rc = zn_secure_peer_public(secure, "conductor", conductor_public, fault);
    if (rc < 0) {
        return rc;
    }
    zn_sclient_opts_t sopts = {
        .data_dir = self->cfg->replica_dir,
        .conductor_call = self->cfg->common.conductor_call,
        .keys = zn_secure_keys(secure),
        .conductor_public = zn_secure_public_or_null(secure, conductor_public),
        .metrics = zn_agent_metrics(self->agent),
    };
    rc = zn_sclient_open(&self->sc, &sopts, fault);
    if (rc == 0) {
        rc = zn_sclient_attach(self->sc, zn_agent_loop(self->agent));
    }
    if (rc < 0 || !self->cfg->check_alive) {
        return rc;
    }
    size_t count = 0;
    char **endpoints = zn_str_split(self->cfg->common.conductor_call, ',', &count);
    zn_client_opts_t copts = {
        .name = "conductor",
        .endpoints = (const char *const *)endpoints,
        .endpoint_count = count,
        .keys = sopts.keys,
        .server_public = sopts.conductor_public,
        .metrics = sopts.metrics,
    };
    rc = zn_client_open(&self->conductor, &copts, fault);
    zn_strv_free(&endpoints);
    return rc < 0 ? rc : zn_client_attach(self->conductor, zn_agent_loop(self->agent));
}

static int
s_start_timers(zn_scheduler_t *self, zn_fault_t *fault)
{
    zloop_t *loop = zn_agent_loop(self->agent);
    if (zloop_timer(loop, (size_t)self->cfg->refresh_interval_ms, 0, s_refresh_tick, self) < 0) {
        return zn_fault_set(fault, -EINVAL, "cannot start the refresh timer");
    }
    if (self->conductor != NULL) {
        if (zloop_timer(loop, (size_t)self->cfg->alive_interval_ms, 0, s_alive_tick, self) < 0) {
            return zn_fault_set(fault, -EINVAL, "cannot start the liveness timer");
        }
        (void)s_alive_tick(loop, 0, self);
    }
    s_refresh(self); /* the replica may not exist yet: the timer tries again */
    return zn_agent_announce(self->agent, &self->cfg->common, self->server, fault);
}

int
zn_scheduler_open(zn_scheduler_t **out, const zn_scheduler_cfg_t *cfg)
{
    *out = NULL;
    zn_fault_t fault;
    zn_fault_clear(&fault);
    zn_sched_policy_t policy;
    int rc = s_policy(cfg, &policy, &fault);
    if (rc < 0) {
        zn_log_error(NULL, "cannot start: %s", zn_fault_message(&fault));
        return rc;
    }
    zn_scheduler_t *self = zn_calloc(1, sizeof(*self));
    self->cfg = cfg;
    self->hosts = zn_sched_hosts_new(&policy);
    self->auto_partition = cfg->partition != NULL && strcmp(cfg->partition, "auto") == 0;
    /* The handler's argument must exist before the server does; its links come next. */
    zn_sched_place_opts_t popts = {.hosts = self->hosts,
                                   .claim_attempts = cfg->claim_attempts,
                                   .refresh_min_ms = cfg->refresh_min_ms};
    self->place = zn_sched_place_new(&popts);
    rc = s_open_agent(self, &fault);
    if (rc == 0) {
        rc = s_open_conductor(self, &fault);
    }
    if (rc == 0) {
        popts.sc = self->sc;
        popts.metrics = zn_agent_metrics(self->agent);
        zn_sched_place_destroy(&self->place);
        self->place = zn_sched_place_new(&popts);
        rc = s_start_timers(self, &fault);
    }
    if (rc < 0) {
        zn_log_error(NULL, "cannot start: %s", zn_fault_message(&fault));
        zn_scheduler_destroy(&self);
        return rc;
    }
    *out = self;
    return 0;
}

void
zn_scheduler_destroy(zn_scheduler_t **self_p)
{
    zn_scheduler_t *self = *self_p;
    if (self == NULL) {
        return;
    }
    if (self->place != NULL) {
        zn_sched_place_close(self->place); /* the clients' cancelled callbacks only free */
    }
    zn_client_destroy(&self->conductor);
    zn_sclient_destroy(&self->sc);
    zn_sched_place_destroy(&self->place);
    zn_server_destroy(&self->server);
    zn_agent_destroy(&self->agent);
    zn_sched_hosts_destroy(&self->hosts);
    zhashx_destroy(&self->up);
    zn_free(self);
    *self_p = NULL;
}

int
zn_scheduler_watch_pipe(zn_scheduler_t *self, zsock_t *pipe)
{
    return zn_agent_watch_pipe(self->agent, pipe);
}

const char *
zn_scheduler_call_endpoint(const zn_scheduler_t *self)
{
    return zn_server_call_endpoint(self->server);
}

const char *
zn_scheduler_admin_endpoint(const zn_scheduler_t *self)
{
    return zn_agent_admin_endpoint(self->agent);
}

int
zn_scheduler_run(zn_scheduler_t *self)
{
    zn_log_notice(NULL, "scheduler serving calls=%s, %zu hosts known",
                  zn_server_call_endpoint(self->server), zn_sched_hosts_count(self->hosts));
    return zn_agent_run(self->agent);
}
