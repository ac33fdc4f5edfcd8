/* SPDX-License-Identifier: Apache-2.0 */
/* zn_image.c - the image agent: configuration, lifecycle, the store and identity clients, the
 * file store, the REST front and the RPC server. */
#include "zn_image.h"

#include <errno.h>
#include <string.h>

#include "zn_image_int.h"
#include "zn_log.h"
#include "zn_mem.h"
#include "zn_secure.h"
#include "zn_str.h"

#define S_STR(sec, key, field, def, help) ZN_CFG_STR_ROW(zn_image_cfg_t, sec, key, field, def, help)
#define S_INT(sec, key, field, def, lo, hi, help) \
    ZN_CFG_INT_ROW(zn_image_cfg_t, sec, key, field, def, lo, hi, help)

const zn_cfg_opt_t zn_image_options[] = {
    ZN_AGENT_CFG_ROWS(zn_image_cfg_t, "image", "7206"),
    S_STR("rpc", "call_endpoint", call_endpoint, "tcp://127.0.0.1:7106",
          "where compute agents and the api call image_get and image_read"),
    S_STR("image", "http_endpoint", http_endpoint, "127.0.0.1:9292",
          "IPV4:PORT of the Glance v2 REST API"),
    S_STR("image", "url_prefix", url_prefix, "/image",
          "the API is served both at / and below this prefix (devstack-like URLs)"),
    S_INT("image", "http_body_max_bytes", http_body_max_bytes, "65536", 1024, 16777216,
          "larger JSON bodies get 413 (uploads are streamed and limited by max_image_bytes)"),
    S_STR("image", "store_dir", store_dir, "/var/lib/zinc/image",
          "the filesystem store: one file per image, uploads staged in store_dir/tmp"),
    ZN_CFG_BOOL_ROW(zn_image_cfg_t, "image", "fsync", fsync, "true",
                    "sync each upload to disk before it becomes active"),
    S_INT("image", "max_image_bytes", max_image_bytes, "10737418240", 1, INT64_MAX,
          "the largest image accepted (413 beyond)"),
    S_INT("image", "project_quota_bytes", project_quota_bytes, "107374182400", 0, INT64_MAX,
          "the bytes one project's images may take in all (413 beyond); 0: no limit"),
    S_STR("store", "replica_dir", store_replica_dir, "/var/lib/zinc/conductor/store",
          "this node's replica of the store (the conductor's [store] data_dir/store)"),
    S_STR("store", "conductor_call", store_conductor_call, "",
          "the conductors that take writes (empty: [peers] conductor_call)"),
    S_INT("store", "write_timeout_ms", write_timeout_ms, "5000", 100, 600000,
          "how long a store write may take before its outcome is unknown"),
    S_STR("identity", "call_endpoint", identity_call, "tcp://127.0.0.1:7101",
          "the identity agents' call endpoints (token validation), comma-separated"),
    S_INT("identity", "token_cache_ttl_ms", token_cache_ttl_ms, "1000", -1, 600000,
          "validated tokens are trusted this long (a revocation takes effect within it)"),
    ZN_CFG_END,
};

static void
s_status(void *arg, zn_pack_t *out)
{
    zn_image_t *self = arg;
    zn_pack_map(out, 3);
    zn_pack_str(out, "uploads");
    zn_pack_u64(out, self->uploads != NULL ? zhashx_size(self->uploads) : 0);
    zn_pack_str(out, "store_writes");
    zn_pack_u64(out, self->writes);
    zn_pack_str(out, "rest_pending");
    zn_pack_u64(out, self->rest != NULL ? zn_rest_pending(self->rest) : 0);
}

static bool
s_drained(void *arg)
{
    zn_image_t *self = arg;
    return self->writes == 0 && (self->files == NULL || zn_imgfile_commits(self->files) == 0) &&
           (self->rest == NULL || zn_rest_pending(self->rest) == 0);
}

static int
s_open_agent(zn_image_t *self, zn_fault_t *fault)
{
    zn_agent_opts_t opts = {
        .role = "image",
        .status = s_status,
        .drained = s_drained,
        .arg = self,
    };
    int rc = zn_agent_open_from(&self->agent, &self->cfg->common, &opts, fault);
    if (rc == 0) {
        self->secure = zn_agent_secure(self->agent);
    }
    return rc;
}

static int
s_open_idclient(zn_image_t *self, const char *identity_public, zn_fault_t *fault)
{
    size_t count = 0;
    char **endpoints = zn_str_split(self->cfg->identity_call, ',', &count);
    zn_idclient_opts_t iopts = {
        .endpoints = (const char *const *)endpoints,
        .endpoint_count = count,
        .keys = zn_secure_keys(self->secure),
        .server_public = zn_secure_public_or_null(self->secure, identity_public),
        .metrics = zn_agent_metrics(self->agent),
        .cache_ttl_ms = self->cfg->token_cache_ttl_ms,
    };
    int rc = zn_idclient_open(&self->idclient, &iopts, fault);
    zn_strv_free(&endpoints);
    return rc;
}

static int
s_open_clients(zn_image_t *self, zn_fault_t *fault)
{
    const zn_image_cfg_t *cfg = self->cfg;
    char conductor_public[ZN_KEY_Z85_LEN + 1];
    char identity_public[ZN_KEY_Z85_LEN + 1];
    int rc = zn_secure_peer_public(self->secure, "conductor", conductor_public, fault);
    rc = rc == 0 ? zn_secure_peer_public(self->secure, "identity", identity_public, fault) : rc;
    if (rc < 0) {
        return rc;
    }
    zn_sclient_opts_t sopts = {
        .data_dir = cfg->store_replica_dir,
        .conductor_call = cfg->store_conductor_call[0] != '\0' ? cfg->store_conductor_call
                                                               : cfg->common.conductor_call,
        .keys = zn_secure_keys(self->secure),
        .conductor_public = zn_secure_public_or_null(self->secure, conductor_public),
        .metrics = zn_agent_metrics(self->agent),
    };
    rc = zn_sclient_open(&self->sclient, &sopts, fault);
    rc = rc == 0 ? s_open_idclient(self, identity_public, fault) : rc;
    zloop_t *loop = zn_agent_loop(self->agent);
    rc = rc == 0 ? zn_sclient_attach(self->sclient, loop) : rc;
    rc = rc == 0 ? zn_idclient_attach(self->idclient, loop) : rc;
    rc = rc == 0 ? zn_imgfile_attach(self->files, loop) : rc;
    if (rc == 0) {
        self->db = zn_imgdb_new(self->sclient, cfg->write_timeout_ms);
    }
    return rc;
}

static int
s_open_servers(zn_image_t *self, zn_fault_t *fault)
{
    const zn_image_cfg_t *cfg = self->cfg;
    zn_rest_opts_t ropts = {
        .service = "image",
        .endpoint = cfg->http_endpoint,
        .url_prefix = cfg->url_prefix,
        .style = ZN_REST_STYLE_KEYSTONE,
        .routes = zn__image_routes,
        .arg = self,
        .idclient = self->idclient,
        .body_max_bytes = (size_t)cfg->http_body_max_bytes,
        .metrics = zn_agent_metrics(self->agent),
        .trace = zn_agent_trace(self->agent),
        .open_stream = zn__image_open_stream,
    };
    int rc = zn_rest_open(&self->rest, &ropts, fault);
    rc = rc == 0 ? zn_rest_attach(self->rest, zn_agent_loop(self->agent)) : rc;
    rc = rc == 0 ? zn_agent_serve(self->agent, "image", cfg->call_endpoint, NULL, zn__image_methods,
                                  self, &self->server, fault)
                 : rc;
    return rc;
}

int
zn_image_open(zn_image_t **out, const zn_image_cfg_t *cfg)
{
    *out = NULL;
    zn_image_t *self = zn_calloc(1, sizeof(*self));
    self->cfg = cfg;
    self->uploads = zhashx_new();
    zn_fault_t fault;
    zn_fault_clear(&fault);
    int rc = zn_imgfile_open(&self->files, cfg->store_dir, cfg->fsync, &fault);
    rc = rc == 0 ? s_open_agent(self, &fault) : rc;
    rc = rc == 0 ? s_open_clients(self, &fault) : rc;
    rc = rc == 0 ? s_open_servers(self, &fault) : rc;
    rc = rc == 0 ? zn_agent_announce(self->agent, &cfg->common, self->server, &fault) : rc;
    if (rc < 0) {
        zn_log_error(NULL, "cannot start: %s", zn_fault_message(&fault));
        zn_image_destroy(&self);
        return rc;
    }
    zn_log_notice(NULL, "image ready http=%s http_port=%u rpc=%s store=%s", cfg->http_endpoint,
                  zn_rest_port(self->rest), zn_server_call_endpoint(self->server), cfg->store_dir);
    *out = self;
    return 0;
}

void
zn_image_destroy(zn_image_t **self_p)
{
    zn_image_t *self = *self_p;
    if (self == NULL) {
        return;
    }
    /* Cancelling the clients runs their pending callbacks, which answer REST requests and
     * deferred calls: the REST front and the server must outlive them. */
    zn_idclient_destroy(&self->idclient);
    zn_sclient_destroy(&self->sclient);
    self->closing = true;         /* uploads aborted now write nothing */
    zn_rest_destroy(&self->rest); /* aborts uploads still streaming */
    zn__image_uploads_clear(self);
    zhashx_destroy(&self->uploads);
    zn_server_destroy(&self->server);
    zn_imgdb_destroy(&self->db);
    zn_imgfile_destroy(&self->files);
    zn_agent_destroy(&self->agent);
    zn_free(self);
    *self_p = NULL;
}

int
zn_image_run(zn_image_t *self)
{
    return zn_agent_run(self->agent);
}

int
zn_image_watch_pipe(zn_image_t *self, zsock_t *pipe)
{
    return zn_agent_watch_pipe(self->agent, pipe);
}

uint16_t
zn_image_http_port(const zn_image_t *self)
{
    return zn_rest_port(self->rest);
}

const char *
zn_image_call_endpoint(const zn_image_t *self)
{
    return zn_server_call_endpoint(self->server);
}
