/* SPDX-License-Identifier: Apache-2.0 */
/* zn_volume.c - the volume agent: configuration, lifecycle, and the ZeroMQ methods compute
 * agents call (volume_get, volume_attach, volume_detach), each validating the user's token
 * from the call's context through zn_idclient before it acts for that user's project. */
#include "zn_volume.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "zn_clock.h"
#include "zn_log.h"
#include "zn_mem.h"
#include "zn_rpcauth.h"
#include "zn_secure.h"
#include "zn_str.h"
#include "zn_volume_int.h"

#define S_STR(sec, key, field, def, help) \
    ZN_CFG_STR_ROW(zn_volume_cfg_t, sec, key, field, def, help)
#define S_INT(sec, key, field, def, lo, hi, help) \
    ZN_CFG_INT_ROW(zn_volume_cfg_t, sec, key, field, def, lo, hi, help)

const zn_cfg_opt_t zn_volume_options[] = {
    ZN_AGENT_CFG_ROWS(zn_volume_cfg_t, "volume", "7208"),
    S_STR("rpc", "call_endpoint", call_endpoint, "tcp://127.0.0.1:7108",
          "where compute agents call volume_get, volume_attach and volume_detach"),
    S_STR("volume", "http_endpoint", http_endpoint, "127.0.0.1:8776",
          "IPV4:PORT of the block storage REST API (Cinder v3)"),
    S_STR("volume", "url_prefix", url_prefix, "/volume",
          "the API is served both at / and below this prefix (devstack-like URLs)"),
    S_STR("volume", "store_dir", store_dir, "/var/lib/zinc/conductor/store",
          "this node's store replica (the local conductor's [store] data_dir/store)"),
    S_INT("volume", "http_body_max_bytes", http_body_max_bytes, "65536", 1024, 16777216,
          "larger request bodies get 413"),
    S_INT("volume", "max_limit", max_limit, "1000", 1, 1000,
          "the most volumes one list answer carries (Cinder's osapi_max_limit)"),
    S_INT("volume", "max_size_gb", max_size_gb, "1024", 1, 1048576, "the largest volume"),
    S_STR("backend", "driver", backend, "file",
          "where volumes live: file (sparse files; LVM, iSCSI and RBD plug in later)"),
    S_STR("backend", "volume_dir", volume_dir, "/var/lib/zinc/volumes",
          "the file driver's directory, one file per volume"),
    S_STR("backend", "format", format, "raw", "the file driver's format: raw or qcow2"),
    S_STR("backend", "qemu_img", qemu_img, "qemu-img",
          "qemu-img, for qcow2 volumes and for converting images"),
    S_INT("quota", "volumes", quota_volumes, "10", -1, 1000000,
          "volumes per project (-1: unlimited)"),
    S_INT("quota", "gigabytes", quota_gigabytes, "1000", -1, 1000000000,
          "GiB of volumes per project (-1: unlimited)"),
    S_STR("peers", "identity_call", identity_call, "tcp://127.0.0.1:7101",
          "the identity agents' call endpoints (token validation), comma-separated"),
    S_STR("peers", "image_call", image_call, "",
          "the image agents' call endpoints; empty: volumes cannot be made from images"),
    S_INT("peers", "call_timeout_ms", call_timeout_ms, "5000", 100, 600000,
          "how long a store write or an image call may take"),
    ZN_CFG_END,
};

/* ---- the ZeroMQ methods ------------------------------------------------------------------ */

typedef enum {
    S_GET,
    S_ATTACH,
    S_DETACH
} s_method_t;

/* The bodies of the three methods (docs/flow.md, 25-27). */
typedef struct {
    char *volume_id;
    char *instance_id;
    char *host;
    char *device;
} s_body_t;

static const zn_field_t s_body_fields[] = {
    {"volume_id", ZN_FT_STR, ZN_F_REQUIRED, offsetof(s_body_t, volume_id), 0, 64, NULL},
    {"instance_id", ZN_FT_STR, 0, offsetof(s_body_t, instance_id), 0, 64, NULL},
    {"host", ZN_FT_STR, 0, offsetof(s_body_t, host), 0, 255, NULL},
    {"device", ZN_FT_STR, 0, offsetof(s_body_t, device), 0, 64, NULL},
};
static const zn_schema_t s_body_schema = {"volume_call", 1, s_body_fields,
                                          ZN_ARRAY_COUNT(s_body_fields), sizeof(s_body_t)};

/* One call from its arrival until its answer. */
typedef struct {
    zn_volume_t *self;
    void *handle; /* in self->calls */
    s_method_t method;
    zn_call_t *call; /* deferred */
    zn_ctx_t ctx;    /* token points at TOKEN */
    uint8_t *token;
    char peer[ZN_ID_MAX + 1];
    s_body_t body;
} s_call_t;

static void
s_call_free(void **item)
{
    s_call_t *c = *item;
    if (c == NULL) {
        return;
    }
    zn_call_destroy(&c->call);
    if (c->token != NULL) {
        sodium_memzero(c->token, c->ctx.token.len);
        zn_free(c->token);
    }
    zn_schema_release(&s_body_schema, &c->body);
    zn_free(c);
    *item = NULL;
}

static void
s_call_done(s_call_t *c)
{
    zlistx_delete(c->self->calls, c->handle); /* the destructor frees C */
}

static void
s_answer(s_call_t *c, int code, zn_pack_t *body, const char *message)
{
    zn_buf_t bytes = body != NULL ? zn_pack_buf(body) : (zn_buf_t){NULL, 0};
    if (zn_call_answer(&c->call, code, bytes, message) < 0) {
        zn_log_info(c->ctx.req_id, "volume %s: the caller is gone", c->body.volume_id);
    }
    s_call_done(c);
}

static void
s_pack_kv(zn_pack_t *pack, const char *key, const char *value)
{
    zn_pack_str(pack, key);
    zn_pack_str(pack, value);
}

static void
s_pack_get(zn_pack_t *pack, const zn_vol_t *vol)
{
    zn_pack_map(pack, 6);
    s_pack_kv(pack, "id", vol->id);
    s_pack_kv(pack, "name", vol->name);
    zn_pack_str(pack, "size");
    zn_pack_i64(pack, vol->size_gb);
    s_pack_kv(pack, "status", vol->status);
    s_pack_kv(pack, "project_id", vol->project_id);
    s_pack_kv(pack, "instance_id", vol->instance_id);
}

static int
s_pack_connection(zn_volume_t *self, zn_pack_t *pack, const zn_vol_t *vol, zn_fault_t *fault)
{
    zn_vbackend_conn_t conn;
    int rc = zn_volops_connection(self->ops, vol, &conn, fault);
    if (rc < 0) {
        return rc;
    }
    zn_pack_map(pack, 5);
    s_pack_kv(pack, "volume_id", vol->id);
    s_pack_kv(pack, "device", vol->device);
    s_pack_kv(pack, "driver", conn.driver);
    s_pack_kv(pack, "path", conn.path);
    s_pack_kv(pack, "format", conn.format);
    return 0;
}

static void
s_on_done(void *arg, const zn_vol_t *vol, const zn_fault_t *fault)
{
    s_call_t *c = arg;
    zn_fault_t why = *fault;
    zn_pack_t *pack = zn_pack_new();
    int rc = fault->code;
    if (rc == 0 && c->method == S_ATTACH) {
        rc = s_pack_connection(c->self, pack, vol, &why);
    } else if (rc == 0) {
        zn_pack_map(pack, 2);
        s_pack_kv(pack, "volume_id", c->body.volume_id);
        s_pack_kv(pack, "status", vol->id != NULL ? vol->status : "available");
    }
    s_answer(c, rc, rc == 0 ? pack : NULL, rc < 0 ? zn_fault_message(&why) : NULL);
    zn_pack_destroy(&pack);
}

/* A compute key ("compute-HOST") acts only for its own host, so a hypervisor cannot attach a
 * volume somewhere else in a user's name. */
static int
s_check_host(const s_call_t *c, zn_fault_t *fault)
{
    const char prefix[] = "compute-";
    size_t plen = sizeof(prefix) - 1;
    if (strncmp(c->peer, prefix, plen) == 0 &&
        (c->body.host == NULL || strcmp(c->peer + plen, c->body.host) != 0)) {
        return zn_fault_set(fault, ZN_EFORBIDDEN, "key %s may not act for host %s", c->peer,
                            c->body.host != NULL ? c->body.host : "(none)");
    }
    return 0;
}

/* Act for WHO: answer at once (0 or an error) or start an operation (ZN_DEFERRED). */
static int
s_act(s_call_t *c, const zn_volops_who_t *who, zn_pack_t *reply, zn_fault_t *fault)
{
    zn_volume_t *self = c->self;
    const s_body_t *b = &c->body;
    if (c->method == S_GET) {
        zn_vol_t vol;
        int rc = zn_volops_get(self->ops, who, b->volume_id, &vol, fault);
        if (rc == 0) {
            s_pack_get(reply, &vol);
        }
        zn_schema_release(&zn_vol_schema, &vol);
        return rc;
    }
    int rc = c->method == S_ATTACH ? s_check_host(c, fault) : 0;
    if (rc == 0 && c->method == S_ATTACH) {
        rc = zn_volops_attach(self->ops, &c->ctx, who, b->volume_id, b->instance_id, b->host,
                              b->device, s_on_done, c, fault);
    } else if (rc == 0) {
        rc = zn_volops_detach(self->ops, &c->ctx, who, b->volume_id, b->instance_id, s_on_done, c,
                              fault);
    }
    return rc < 0 ? rc : ZN_DEFERRED;
}

/* Act for WHO (zn_rpcauth's answer): a controller for every project, a token for its own. */
static int
s_act_as(s_call_t *c, const zn_rpcauth_t *who, zn_pack_t *reply, zn_fault_t *fault)
{
    if (who->controller) {
        zn_volops_who_t all = {NULL, NULL, true};
        return s_act(c, &all, reply, fault);
    }
    if (who->project_id[0] == '\0' && !who->admin) {
        return zn_fault_set(fault, ZN_EFORBIDDEN, "a project-scoped token is required");
    }
    zn_volops_who_t as = {who->project_id[0] != '\0' ? who->project_id : NULL, who->user_id,
                          who->admin};
    return s_act(c, &as, reply, fault);
}

/* After a deferred validation: act, and answer whatever is decided now. */
static void
s_on_auth(void *arg, const zn_rpcauth_t *who, const zn_fault_t *fault)
{
    s_call_t *c = arg;
    zn_fault_t why = *fault;
    zn_pack_t *reply = zn_pack_new();
    int rc = who != NULL ? s_act_as(c, who, reply, &why) : fault->code;
    if (rc != ZN_DEFERRED) {
        s_answer(c, rc, reply, rc < 0 ? zn_fault_message(&why) : NULL);
    }
    zn_pack_destroy(&reply);
}

static s_call_t *
s_call_new(zn_volume_t *self, zn_call_t *call, s_method_t method)
{
    s_call_t *c = zn_calloc(1, sizeof(*c));
    c->self = self;
    c->method = method;
    const zn_env_t *env = zn_call_env(call);
    zn_ctx_copy(&c->ctx, &env->ctx);
    if (env->ctx.token.len > 0) {
        c->token = zn_malloc(env->ctx.token.len);
        memcpy(c->token, env->ctx.token.ptr, env->ctx.token.len);
    }
    c->ctx.token = (zn_buf_t){c->token, env->ctx.token.len};
    (void)snprintf(c->peer, sizeof(c->peer), "%s", zn_call_peer(call));
    c->handle = zlistx_add_end(self->calls, c);
    return c;
}

static int
s_check_body(s_method_t method, const s_body_t *b, zn_fault_t *fault)
{
    if (method != S_GET && b->instance_id == NULL) {
        return zn_fault_set(fault, -EINVAL, "volume call: instance_id is required");
    }
    if (method == S_ATTACH && b->host == NULL) {
        return zn_fault_set(fault, -EINVAL, "volume_attach: host is required");
    }
    return 0;
}

static int
s_handle(zn_volume_t *self, s_method_t method, zn_call_t *call, zn_pack_t *reply, zn_fault_t *fault)
{
    s_call_t *c = s_call_new(self, call, method);
    int rc = zn_schema_decode(&s_body_schema, zn_call_env(call)->body, &c->body, NULL, fault);
    if (rc == 0) {
        rc = s_check_body(method, &c->body, fault);
    }
    zn_rpcauth_t who;
    if (rc == 0) {
        rc = zn_rpcauth_check(self->idclient, call, self->cfg->call_timeout_ms, &who, s_on_auth, c,
                              fault);
    }
    if (rc == 1) {
        rc = ZN_DEFERRED; /* identity is asked; s_on_auth acts on its answer */
    } else if (rc == 0) {
        rc = s_act_as(c, &who, reply, fault);
    }
    if (rc == ZN_DEFERRED) {
        c->call = zn_call_defer(call);
    } else {
        s_call_done(c);
    }
    return rc;
}

static int
s_volume_get(void *arg, zn_call_t *call, zn_pack_t *reply, zn_fault_t *fault)
{
    return s_handle(arg, S_GET, call, reply, fault);
}

static int
s_volume_attach(void *arg, zn_call_t *call, zn_pack_t *reply, zn_fault_t *fault)
{
    return s_handle(arg, S_ATTACH, call, reply, fault);
}

static int
s_volume_detach(void *arg, zn_call_t *call, zn_pack_t *reply, zn_fault_t *fault)
{
    return s_handle(arg, S_DETACH, call, reply, fault);
}

static const zn_method_t s_methods[] = {
    {"volume_get", s_volume_get, ZN_M_CALL},
    {"volume_attach", s_volume_attach, ZN_M_CALL},
    {"volume_detach", s_volume_detach, ZN_M_CALL},
    {NULL, NULL, 0},
};

/* ---- lifecycle --------------------------------------------------------------------------- */

#define S_RECOVER_RETRY_MS 1000

/* Once after start: take up what this node's agent left half done before it stopped. Retried
 * while the replica cannot be read yet (the conductor may start after us). */
static int
s_on_recover(zloop_t *loop, int timer_id, void *arg)
{
    zn_volume_t *self = arg;
    zn_fault_t fault;
    zn_fault_clear(&fault);
    int rc = zn_volops_recover(self->ops, self->started_ms, &fault);
    if (rc > 0) {
        zn_log_notice(NULL, "volumes taken up after a restart count=%d", rc);
    }
    if (rc >= 0) {
        zloop_timer_end(loop, timer_id);
    }
    return 0;
}

static void
s_status(void *arg, zn_pack_t *out)
{
    zn_volume_t *self = arg;
    zn_pack_map(out, 3);
    zn_pack_str(out, "operations");
    zn_pack_u64(out, zn_volops_pending(self->ops));
    zn_pack_str(out, "backend");
    zn_pack_str(out, zn_vbackend_name(self->backend));
    zn_pack_str(out, "format");
    zn_pack_str(out, zn_vbackend_format(self->backend));
}

static bool
s_drained(void *arg)
{
    zn_volume_t *self = arg;
    return zn_volops_pending(self->ops) == 0 && zlistx_size(self->calls) == 0 &&
           zn_vbackend_pending(self->backend) == 0;
}

static int
s_open_client(zn_volume_t *self, const char *name, const char *endpoints_text, zn_client_t **out,
              zn_fault_t *fault)
{
    return zn_secure_client_open(self->secure, name, name, endpoints_text,
                                 zn_agent_metrics(self->agent), zn_agent_loop(self->agent), out,
                                 fault);
}

static int
s_open_identity(zn_volume_t *self, zn_fault_t *fault)
{
    char server_public[ZN_KEY_Z85_LEN + 1];
    int rc = zn_secure_peer_public(self->secure, "identity", server_public, fault);
    if (rc < 0) {
        return rc;
    }
    size_t count = 0;
    char **endpoints = zn_str_split(self->cfg->identity_call, ',', &count);
    zn_idclient_opts_t iopts = {
        .endpoints = (const char *const *)endpoints,
        .endpoint_count = count,
        .keys = zn_secure_keys(self->secure),
        .server_public = zn_secure_public_or_null(self->secure, server_public),
        .metrics = zn_agent_metrics(self->agent),
    };
    rc = zn_idclient_open(&self->idclient, &iopts, fault);
    zn_strv_free(&endpoints);
    return rc < 0 ? rc : zn_idclient_attach(self->idclient, zn_agent_loop(self->agent));
}

static int
s_open_store(zn_volume_t *self, zn_fault_t *fault)
{
    char conductor_public[ZN_KEY_Z85_LEN + 1];
    int rc = zn_secure_peer_public(self->secure, "conductor", conductor_public, fault);
    if (rc < 0) {
        return rc;
    }
    zn_sclient_opts_t sopts = {
        .data_dir = self->cfg->store_dir,
        .conductor_call = self->cfg->common.conductor_call,
        .keys = zn_secure_keys(self->secure),
        .conductor_public = zn_secure_public_or_null(self->secure, conductor_public),
        .metrics = zn_agent_metrics(self->agent),
    };
    rc = zn_sclient_open(&self->sc, &sopts, fault);
    return rc < 0 ? rc : zn_sclient_attach(self->sc, zn_agent_loop(self->agent));
}

static int
s_open_parts(zn_volume_t *self, zn_fault_t *fault)
{
    const zn_volume_cfg_t *cfg = self->cfg;
    zn_vbackend_opts_t bopts = {.driver = cfg->backend,
                                .dir = cfg->volume_dir,
                                .format = cfg->format,
                                .qemu_img = cfg->qemu_img};
    int rc = zn_vbackend_open(&self->backend, &bopts, fault);
    if (rc == 0 && zn_vbackend_attach(self->backend, zn_agent_loop(self->agent)) < 0) {
        rc = zn_fault_set(fault, -EINVAL, "cannot start the volume backend's worker");
    }
    if (rc == 0) {
        rc = s_open_store(self, fault);
    }
    if (rc == 0) {
        rc = s_open_identity(self, fault);
    }
    if (rc == 0 && cfg->image_call[0] != '\0') {
        rc = s_open_client(self, "image", cfg->image_call, &self->image, fault);
    }
    if (rc < 0) {
        return rc;
    }
    zn_volops_opts_t oopts = {.sc = self->sc,
                              .backend = self->backend,
                              .image = self->image,
                              .loop = zn_agent_loop(self->agent),
                              .host = cfg->common.host,
                              .quota_volumes = cfg->quota_volumes,
                              .quota_gigabytes = cfg->quota_gigabytes,
                              .max_size_gb = cfg->max_size_gb,
                              .call_timeout_ms = cfg->call_timeout_ms};
    self->ops = zn_volops_new(&oopts);
    if (zloop_timer(zn_agent_loop(self->agent), S_RECOVER_RETRY_MS, 0, s_on_recover, self) < 0) {
        return zn_fault_set(fault, -EINVAL, "cannot start the recovery timer");
    }
    return 0;
}

static int
s_open_fronts(zn_volume_t *self, zn_fault_t *fault)
{
    zn_rest_opts_t ropts = {
        .service = "volume",
        .endpoint = self->cfg->http_endpoint,
        .url_prefix = self->cfg->url_prefix,
        .style = ZN_REST_STYLE_NOVA,
        .routes = zn__volume_routes,
        .arg = self,
        .idclient = self->idclient,
        .body_max_bytes = (size_t)self->cfg->http_body_max_bytes,
        .metrics = zn_agent_metrics(self->agent),
        .trace = zn_agent_trace(self->agent),
    };
    int rc = zn_rest_open(&self->rest, &ropts, fault);
    if (rc == 0) {
        rc = zn_rest_attach(self->rest, zn_agent_loop(self->agent));
    }
    if (rc == 0) {
        rc = zn_agent_serve(self->agent, "volume", self->cfg->call_endpoint, NULL, s_methods, self,
                            &self->server, fault);
    }
    return rc;
}

int
zn_volume_open(zn_volume_t **out, const zn_volume_cfg_t *cfg)
{
    *out = NULL;
    zn_volume_t *self = zn_calloc(1, sizeof(*self));
    self->cfg = cfg;
    self->started_ms = zn_clock_wall_ms();
    self->calls = zlistx_new();
    zlistx_set_destructor(self->calls, s_call_free);
    zn_fault_t fault;
    zn_fault_clear(&fault);
    zn_agent_opts_t opts = {
        .role = "volume", .status = s_status, .drained = s_drained, .arg = self};
    int rc = zn_agent_open_from(&self->agent, &cfg->common, &opts, &fault);
    if (rc == 0) {
        self->secure = zn_agent_secure(self->agent);
        rc = s_open_parts(self, &fault);
    }
    if (rc == 0) {
        rc = s_open_fronts(self, &fault);
    }
    if (rc == 0) {
        rc = zn_agent_announce(self->agent, &cfg->common, self->server, &fault);
    }
    if (rc < 0) {
        zn_log_error(NULL, "cannot start: %s", zn_fault_message(&fault));
        zn_volume_destroy(&self);
        return rc;
    }
    zn_log_notice(NULL, "volume ready http=%s port=%u rpc=%s backend=%s format=%s image=%s",
                  cfg->http_endpoint, zn_rest_port(self->rest),
                  zn_server_call_endpoint(self->server), cfg->backend, cfg->format,
                  self->image != NULL ? "yes" : "no");
    *out = self;
    return 0;
}

void
zn_volume_destroy(zn_volume_t **self_p)
{
    zn_volume_t *self = *self_p;
    if (self == NULL) {
        return;
    }
    /* Operations answer no one once shut down; the clients' pending callbacks then free them
     * (store, image) or answer their requests with -ECANCELED (identity) while the REST front
     * and the call server still exist; only then do those go. */
    if (self->ops != NULL) {
        zn_volops_shutdown(self->ops);
    }
    zn_client_destroy(&self->image);
    zn_sclient_destroy(&self->sc);
    zn_idclient_destroy(&self->idclient);
    zn_rest_destroy(&self->rest);
    zn_server_destroy(&self->server);
    zn_volops_destroy(&self->ops);
    zlistx_destroy(&self->calls);
    zn_vbackend_destroy(&self->backend);
    zn_agent_destroy(&self->agent);
    zn_free(self);
    *self_p = NULL;
}

int
zn_volume_run(zn_volume_t *self)
{
    return zn_agent_run(self->agent);
}

int
zn_volume_watch_pipe(zn_volume_t *self, zsock_t *pipe)
{
    return zn_agent_watch_pipe(self->agent, pipe);
}

uint16_t
zn_volume_http_port(const zn_volume_t *self)
{
    return zn_rest_port(self->rest);
}

const char *
zn_volume_call_endpoint(const zn_volume_t *self)
{
    return zn_server_call_endpoint(self->server);
}
