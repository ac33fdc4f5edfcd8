/* SPDX-License-Identifier: Apache-2.0 */
/* zn_agent.c - the shared agent runtime: loop, signals, admin methods, heartbeats. */
#include "zn_agent.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "zn_agent_cfg.h"
#include "zn_caster.h"
#include "zn_clock.h"
#include "zn_log.h"
#include "zn_mem.h"
#include "zn_sig.h"
#include "zn_str.h"

#define S_ADMIN_METHODS_MAX 32

struct zn_agent {
    zn_agent_opts_t opts;
    char *role;
    char *host;
    zloop_t *loop;
    zn_metrics_t *metrics;
    zn_trace_t *trace;
    zn_server_t *admin;
    zn_method_t admin_methods[S_ADMIN_METHODS_MAX + 1];
    int signal_fd;
    zmq_pollitem_t signal_item;
    bool stopping;
    int64_t stop_deadline_ms;
    int64_t started_mono_ms;
    zn_caster_t **heartbeats; /* one per registry: PUSH would round-robin, not fan out */
    size_t heartbeat_count;
    zn_service_t service;
    zn_pack_t *heartbeat_body;
    zn_secure_t *secure; /* owned, from zn_agent_open_from */
};

static void
s_pack_identity(zn_agent_t *self, zn_pack_t *out, uint32_t extra)
{
    zn_pack_map(out, 5 + extra);
    zn_pack_str(out, "role");
    zn_pack_str(out, self->role);
    zn_pack_str(out, "host");
    zn_pack_str(out, self->host);
    zn_pack_str(out, "version");
    zn_pack_str(out, ZN_VERSION);
    zn_pack_str(out, "pid");
    zn_pack_i64(out, (int64_t)getpid());
    zn_pack_str(out, "uptime_ms");
    zn_pack_i64(out, zn_clock_mono_ms() - self->started_mono_ms);
}

static int
s_admin_ping(void *arg, zn_call_t *call, zn_pack_t *reply, zn_fault_t *fault)
{
    (void)call;
    (void)fault;
    s_pack_identity(arg, reply, 0);
    return 0;
}

static int
s_admin_status(void *arg, zn_call_t *call, zn_pack_t *reply, zn_fault_t *fault)
{
    (void)call;
    (void)fault;
    zn_agent_t *self = arg;
    s_pack_identity(self, reply, 2);
    zn_pack_str(reply, "stopping");
    zn_pack_bool(reply, self->stopping);
    zn_pack_str(reply, "detail");
    if (self->opts.status != NULL) {
        self->opts.status(self->opts.arg, reply);
    } else {
        zn_pack_nil(reply);
    }
    return 0;
}

static void
s_count_metrics(void *arg, const zn_metric_view_t *view)
{
    (void)view;
    (*(uint32_t *)arg)++;
}

typedef struct {
    zn_pack_t *out;
    const zn_metrics_t *metrics;
} s_metrics_ctx_t;

static void
s_pack_metric(void *arg, const zn_metric_view_t *v)
{
    s_metrics_ctx_t *ctx = arg;
    zn_pack_str(ctx->out, v->name);
    if (v->kind == ZN_METRIC_COUNTER) {
        zn_pack_u64(ctx->out, v->count);
        return;
    }
    zn_pack_map(ctx->out, 5);
    zn_pack_str(ctx->out, "count");
    zn_pack_u64(ctx->out, v->count);
    zn_pack_str(ctx->out, "sum_us");
    zn_pack_u64(ctx->out, v->sum_us);
    zn_pack_str(ctx->out, "max_us");
    zn_pack_u64(ctx->out, v->max_us);
    zn_pack_str(ctx->out, "p50_us");
    zn_pack_u64(ctx->out, zn_metrics_quantile_us(ctx->metrics, v->name, 0.5));
    zn_pack_str(ctx->out, "p99_us");
    zn_pack_u64(ctx->out, zn_metrics_quantile_us(ctx->metrics, v->name, 0.99));
}

static int
s_admin_metrics(void *arg, zn_call_t *call, zn_pack_t *reply, zn_fault_t *fault)
{
    (void)call;
    (void)fault;
    zn_agent_t *self = arg;
    uint32_t count = 0;
    zn_metrics_visit(self->metrics, s_count_metrics, &count);
    zn_pack_map(reply, count);
    s_metrics_ctx_t ctx = {reply, self->metrics};
    zn_metrics_visit(self->metrics, s_pack_metric, &ctx);
    return 0;
}

typedef struct {
    char *level;
} s_level_req_t;

static const zn_field_t s_level_fields[] = {
    {"level", ZN_FT_STR, ZN_F_REQUIRED, offsetof(s_level_req_t, level), 0, 16, NULL},
};

static const zn_schema_t s_level_schema = {"log_level", 1, s_level_fields, 1,
                                           sizeof(s_level_req_t)};

static int
s_admin_log_level(void *arg, zn_call_t *call, zn_pack_t *reply, zn_fault_t *fault)
{
    (void)arg;
    s_level_req_t req;
    int rc = zn_schema_decode(&s_level_schema, zn_call_env(call)->body, &req, NULL, fault);
    if (rc < 0) {
        return rc;
    }
    zn_log_level_t level;
    rc = zn_log_level_parse(req.level, &level);
    if (rc < 0) {
        zn_fault_set(fault, -EINVAL, "log level '%s': use error|warn|notice|info|debug", req.level);
    } else {
        zn_log_set_level(level);
        zn_pack_str(reply, req.level);
    }
    zn_schema_release(&s_level_schema, &req);
    return rc;
}

typedef struct {
    char *req_id;
} s_trace_req_t;

static const zn_field_t s_trace_fields[] = {
    {"req_id", ZN_FT_STR, ZN_F_REQUIRED, offsetof(s_trace_req_t, req_id), 1, ZN_ID_MAX, NULL},
};

static const zn_schema_t s_trace_schema = {"trace", 1, s_trace_fields, 1, sizeof(s_trace_req_t)};

/* `trace`: this agent's spans of one request: {role, host, spans [...]} (zn_trace_pack). */
static int
s_admin_trace(void *arg, zn_call_t *call, zn_pack_t *reply, zn_fault_t *fault)
{
    zn_agent_t *self = arg;
    s_trace_req_t req;
    int rc = zn_schema_decode(&s_trace_schema, zn_call_env(call)->body, &req, NULL, fault);
    if (rc < 0) {
        return rc;
    }
    zn_pack_map(reply, 3);
    zn_pack_str(reply, "role");
    zn_pack_str(reply, self->role);
    zn_pack_str(reply, "host");
    zn_pack_str(reply, self->host);
    zn_pack_str(reply, "spans");
    zn_trace_pack(self->trace, req.req_id, reply);
    zn_schema_release(&s_trace_schema, &req);
    return 0;
}

static const zn_method_t s_builtin_admin[] = {
    {"ping", s_admin_ping, ZN_M_CALL},       {"status", s_admin_status, ZN_M_CALL},
    {"metrics", s_admin_metrics, ZN_M_CALL}, {"log_level", s_admin_log_level, ZN_M_CALL},
    {"trace", s_admin_trace, ZN_M_CALL},
};

static int
s_build_admin_table(zn_agent_t *self, zn_fault_t *fault)
{
    size_t n = 0;
    for (size_t i = 0; i < ZN_ARRAY_COUNT(s_builtin_admin); i++) {
        self->admin_methods[n++] = s_builtin_admin[i];
    }
    for (const zn_method_t *m = self->opts.admin_extra; m != NULL && m->name != NULL; m++) {
        if (n == S_ADMIN_METHODS_MAX) {
            return zn_fault_set(fault, -E2BIG, "too many admin methods");
        }
        self->admin_methods[n++] = *m;
    }
    self->admin_methods[n].name = NULL;
    return 0;
}

static int
s_on_signal(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    zn_agent_t *self = arg;
    int sig = zn_signals_fd_read(item->fd);
    if (sig > 0) {
        zn_log_notice(NULL, "signal %d: stopping", sig);
        zn_agent_stop(self);
    }
    return 0;
}

static int
s_on_pipe(zloop_t *loop, zsock_t *pipe, void *arg)
{
    (void)loop;
    char *cmd = zstr_recv(pipe);
    if (cmd == NULL || strcmp(cmd, "$TERM") == 0) {
        zn_agent_stop(arg);
    }
    zstr_free(&cmd);
    return 0;
}

/* While stopping: end the loop (-1) once drained or out of grace. */
static int
s_on_stop_tick(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    zn_agent_t *self = arg;
    if (!self->stopping) {
        return 0;
    }
    bool drained = self->opts.drained == NULL || self->opts.drained(self->opts.arg);
    if (drained) {
        return -1;
    }
    if (zn_clock_mono_ms() >= self->stop_deadline_ms) {
        zn_log_warn(NULL, "shutdown grace of %lld ms over with work in flight: stopping anyway",
                    (long long)self->opts.shutdown_grace_ms);
        return -1;
    }
    return 0;
}

static int
s_open_admin(zn_agent_t *self, zn_fault_t *fault)
{
    int rc = s_build_admin_table(self, fault);
    if (rc < 0) {
        return rc;
    }
    char name[64];
    (void)snprintf(name, sizeof(name), "%s-admin", self->role);
    zn_server_opts_t sopts = {
        .name = name,
        .call_endpoint = self->opts.admin_endpoint,
        .keys = self->opts.keys,
        .allow = self->opts.admin_allow,
        .metrics = NULL,
        .dedup_capacity = 1024,
    };
    rc = zn_server_open(&self->admin, &sopts, self->admin_methods, self, fault);
    return rc < 0 ? rc : zn_server_attach(self->admin, self->loop);
}

static int
s_open_signals(zn_agent_t *self, zn_fault_t *fault)
{
    self->signal_fd = zn_signals_fd_open();
    if (self->signal_fd < 0) {
        return zn_fault_set(fault, self->signal_fd, "signalfd: %s", zn_strerror(self->signal_fd));
    }
    self->signal_item = (zmq_pollitem_t){NULL, self->signal_fd, ZMQ_POLLIN, 0};
    if (zloop_poller(self->loop, &self->signal_item, s_on_signal, self) < 0 ||
        zloop_timer(self->loop, 10, 0, s_on_stop_tick, self) < 0) {
        return zn_fault_set(fault, -EINVAL, "cannot register signal handling");
    }
    return 0;
}

int
zn_agent_open(zn_agent_t **out, const zn_agent_opts_t *opts, zn_fault_t *fault)
{
    *out = NULL;
    zn_agent_t *self = zn_calloc(1, sizeof(*self));
    self->opts = *opts;
    self->role = zn_strdup(opts->role);
    self->host = zn_strdup(opts->host ? opts->host : "localhost");
    self->opts.role = self->role;
    self->opts.host = self->host;
    self->signal_fd = -1;
    self->started_mono_ms = zn_clock_mono_ms();
    self->loop = zloop_new();
    self->metrics = zn_metrics_new();
    self->trace = zn_trace_new(0);
    self->heartbeat_body = zn_pack_new();
    /* zloop must not catch SIGINT itself: signals come through our signalfd. */
    zloop_set_nonstop(self->loop, true);
    int rc = s_open_signals(self, fault);
    if (rc == 0) {
        rc = s_open_admin(self, fault);
    }
    if (rc < 0) {
        zn_agent_destroy(&self);
        return rc;
    }
    *out = self;
    return 0;
}

void
zn_agent_destroy(zn_agent_t **self_p)
{
    zn_agent_t *self = *self_p;
    if (self == NULL) {
        return;
    }
    for (size_t i = 0; i < self->heartbeat_count; i++) {
        zn_caster_destroy(&self->heartbeats[i]);
    }
    zn_free(self->heartbeats);
    zn_server_destroy(&self->admin);
    zloop_destroy(&self->loop);
    if (self->signal_fd >= 0) {
        (void)close(self->signal_fd);
    }
    zn_schema_release(&zn_service_schema, &self->service);
    zn_pack_destroy(&self->heartbeat_body);
    zn_metrics_destroy(&self->metrics);
    zn_trace_destroy(&self->trace);
    zn_secure_destroy(&self->secure);
    zn_str_free(&self->role);
    zn_str_free(&self->host);
    zn_free(self);
    *self_p = NULL;
}

int
zn_agent_open_from(zn_agent_t **out, const zn_agent_cfg_t *common, const zn_agent_opts_t *opts,
                   zn_fault_t *fault)
{
    *out = NULL;
    zn_secure_t *secure = NULL;
    int rc = zn_secure_open(&secure, common->curve, common->keys_dir, common->key_name, fault);
    if (rc < 0) {
        return rc;
    }
    zn_agent_opts_t full = *opts;
    full.host = common->host;
    full.admin_endpoint = common->admin_endpoint;
    full.keys = zn_secure_keys(secure);
    full.admin_allow = zn_secure_admin_allow(secure);
    full.shutdown_grace_ms = common->shutdown_grace_ms;
    rc = zn_agent_open(out, &full, fault);
    if (rc < 0) {
        zn_secure_destroy(&secure);
        return rc;
    }
    (*out)->secure = secure;
    return 0;
}

const zn_secure_t *
zn_agent_secure(const zn_agent_t *self)
{
    return self->secure;
}

int
zn_agent_serve(zn_agent_t *self, const char *name, const char *call_endpoint,
               const char *cast_endpoint, const zn_method_t *methods, void *arg, zn_server_t **out,
               zn_fault_t *fault)
{
    zn_server_opts_t opts = {
        .name = name,
        .call_endpoint = call_endpoint,
        .cast_endpoint = cast_endpoint,
        .keys = self->opts.keys,
        .allow = self->secure != NULL ? zn_secure_allow(self->secure) : NULL,
        .metrics = self->metrics,
        .trace = self->trace,
    };
    int rc = zn_server_open(out, &opts, methods, arg, fault);
    if (rc == 0) {
        rc = zn_server_attach(*out, self->loop);
    }
    if (rc < 0) {
        zn_server_destroy(out);
    }
    return rc;
}

zloop_t *
zn_agent_loop(zn_agent_t *self)
{
    return self->loop;
}

zn_trace_t *
zn_agent_trace(zn_agent_t *self)
{
    return self->trace;
}

zn_metrics_t *
zn_agent_metrics(zn_agent_t *self)
{
    return self->metrics;
}

void *
zn_agent_arg(const zn_agent_t *self)
{
    return self->opts.arg;
}

const char *
zn_agent_admin_endpoint(const zn_agent_t *self)
{
    return zn_server_call_endpoint(self->admin);
}

int
zn_agent_watch_pipe(zn_agent_t *self, zsock_t *pipe)
{
    return zloop_reader(self->loop, pipe, s_on_pipe, self) < 0 ? -EINVAL : 0;
}

static void
s_send_heartbeat(zn_agent_t *self)
{
    zn_buf_t body = zn_pack_buf(self->heartbeat_body);
    for (size_t i = 0; i < self->heartbeat_count; i++) {
        int rc = zn_caster_cast(self->heartbeats[i], "heartbeat", NULL, body, NULL, NULL);
        zn_metrics_count(self->metrics, rc == 0 ? "heartbeats_sent" : "heartbeats_unsent", 1);
    }
}

static int
s_on_heartbeat(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    s_send_heartbeat(arg);
    return 0;
}

int
zn_agent_heartbeat(zn_agent_t *self, const char *endpoint, const char *server_public,
                   const zn_service_t *service, int64_t interval_ms, zn_fault_t *fault)
{
    size_t count = 0;
    char **endpoints = zn_str_split(endpoint, ',', &count);
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers. */
    self->heartbeats = zn_calloc(count, sizeof(*self->heartbeats));
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++) {
        zn_caster_opts_t copts = {"registry", endpoints[i], self->opts.keys, server_public, 0};
        rc = zn_caster_open(&self->heartbeats[i], &copts, fault);
        self->heartbeat_count += rc == 0;
    }
    zn_strv_free(&endpoints);
    if (rc < 0) {
        return rc;
    }
    zn_schema_copy(&zn_service_schema, &self->service, service);
    zn_pack_reset(self->heartbeat_body);
    zn_schema_encode(&zn_service_schema, &self->service, self->heartbeat_body);
    if (zloop_timer(self->loop, (size_t)interval_ms, 0, s_on_heartbeat, self) < 0) {
        return zn_fault_set(fault, -EINVAL, "cannot start the heartbeat timer");
    }
    s_send_heartbeat(self);
    return 0;
}

static char *
s_dup_or_null(const char *text)
{
    return text != NULL ? zn_strdup(text) : NULL;
}

int
zn_agent_announce(zn_agent_t *self, const zn_agent_cfg_t *common, const zn_server_t *server,
                  zn_fault_t *fault)
{
    ZN_ASSERT(self->secure != NULL);
    char conductor_public[ZN_KEY_Z85_LEN + 1];
    int rc = zn_secure_peer_public(self->secure, "conductor", conductor_public, fault);
    if (rc < 0) {
        return rc;
    }
    const zn_keys_t *keys = zn_secure_keys(self->secure);
    zn_service_t me = {
        .role = zn_strdup(self->role),
        .host = zn_strdup(self->host),
        .version = zn_strdup(ZN_VERSION),
        .call_endpoint = server ? s_dup_or_null(zn_server_call_endpoint(server)) : NULL,
        .cast_endpoint = server ? s_dup_or_null(zn_server_cast_endpoint(server)) : NULL,
        .admin_endpoint = zn_strdup(zn_agent_admin_endpoint(self)),
        .public_key = keys != NULL ? zn_strdup(zn_keys_public(keys)) : NULL,
        .pid = (int64_t)getpid(),
        .started_at_ms = zn_clock_wall_ms(),
    };
    rc = zn_agent_heartbeat(self, common->conductor_cast,
                            zn_secure_public_or_null(self->secure, conductor_public), &me,
                            common->heartbeat_interval_ms, fault);
    zn_schema_release(&zn_service_schema, &me);
    return rc;
}

const zn_service_t *
zn_agent_service(const zn_agent_t *self)
{
    return &self->service;
}

int
zn_agent_run(zn_agent_t *self)
{
    zn_log_notice(NULL, "ready role=%s host=%s admin=%s", self->role, self->host,
                  zn_agent_admin_endpoint(self));
    (void)zloop_start(self->loop);
    zn_log_notice(NULL, "stopped role=%s host=%s", self->role, self->host);
    return 0;
}

void
zn_agent_stop(zn_agent_t *self)
{
    if (!self->stopping) {
        self->stopping = true;
        self->stop_deadline_ms = zn_clock_mono_ms() + self->opts.shutdown_grace_ms;
    }
}

bool
zn_agent_is_stopping(const zn_agent_t *self)
{
    return self->stopping;
}
