/* SPDX-License-Identifier: Apache-2.0 */
/* zn_network.c - the network agent: configuration, lifecycle, the store and identity clients,
 * the REST front and the RPC server. */
#include "zn_network.h"

#include <errno.h>
#include <string.h>

#include "zn_log.h"
#include "zn_mem.h"
#include "zn_network_int.h"
#include "zn_secure.h"
#include "zn_str.h"

#define S_STR(sec, key, field, def, help) \
    ZN_CFG_STR_ROW(zn_network_cfg_t, sec, key, field, def, help)
#define S_INT(sec, key, field, def, lo, hi, help) \
    ZN_CFG_INT_ROW(zn_network_cfg_t, sec, key, field, def, lo, hi, help)

const zn_cfg_opt_t zn_network_options[] = {
    ZN_AGENT_CFG_ROWS(zn_network_cfg_t, "network", "7207"),
    S_STR("rpc", "call_endpoint", call_endpoint, "tcp://127.0.0.1:7107",
          "where compute agents and the api call network_get, port_bind, port_release"),
    S_STR("network", "http_endpoint", http_endpoint, "127.0.0.1:9696",
          "IPV4:PORT of the Neutron v2.0 REST API"),
    S_STR("network", "url_prefix", url_prefix, "/networking",
          "the API is served both at / and below this prefix (devstack-like URLs)"),
    S_INT("network", "http_body_max_bytes", http_body_max_bytes, "65536", 1024, 16777216,
          "larger request bodies get 413"),
    S_STR("network", "default_bridge", default_bridge, "br-zinc",
          "the Linux bridge of networks created without provider:physical_network"),
    S_STR("network", "bridge_mappings", bridge_mappings, "",
          "PHYSNET:BRIDGE,...: the bridge of each provider:physical_network (docs/network.md)"),
    S_INT("network", "default_mtu", default_mtu, "1500", 68, 9216,
          "the MTU of networks created without one"),
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
    zn_network_t *self = arg;
    zn_pack_map(out, 2);
    zn_pack_str(out, "port_creations_pending");
    zn_pack_u64(out, zn_netdb_pending(self->db));
    zn_pack_str(out, "rest_pending");
    zn_pack_u64(out, self->rest != NULL ? zn_rest_pending(self->rest) : 0);
}

static bool
s_drained(void *arg)
{
    zn_network_t *self = arg;
    return zn_netdb_pending(self->db) == 0 &&
           (self->rest == NULL || zn_rest_pending(self->rest) == 0);
}

static int
s_check_cfg(const zn_network_cfg_t *cfg, zn_fault_t *fault)
{
    zn_net_network_t probe;
    memset(&probe, 0, sizeof(probe));
    zn_netbody_ctx_t ctx = {.project_id = "probe",
                            .is_admin = true,
                            .default_bridge = cfg->default_bridge,
                            .mappings = cfg->bridge_mappings,
                            .default_mtu = cfg->default_mtu};
    json_t *body = json_pack("{s:{}}", "network");
    int rc = zn_netbody_network_create(body, &ctx, &probe, fault);
    json_decref(body);
    zn_schema_release(&zn_net_network_schema, &probe);
    if (rc < 0) {
        return zn_fault_set(fault, ZN_ECONFIG, "[network] default_bridge %s: %s",
                            cfg->default_bridge, zn_fault_message(fault));
    }
    return 0;
}

static int
s_open_agent(zn_network_t *self, zn_fault_t *fault)
{
    zn_agent_opts_t opts = {
        .role = "network",
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
s_open_clients(zn_network_t *self, zn_fault_t *fault)
{
    const zn_network_cfg_t *cfg = self->cfg;
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
    size_t count = 0;
    char **endpoints = zn_str_split(cfg->identity_call, ',', &count);
    zn_idclient_opts_t iopts = {
        .endpoints = (const char *const *)endpoints,
        .endpoint_count = count,
        .keys = zn_secure_keys(self->secure),
        .server_public = zn_secure_public_or_null(self->secure, identity_public),
        .metrics = zn_agent_metrics(self->agent),
        .cache_ttl_ms = cfg->token_cache_ttl_ms,
    };
    rc = rc == 0 ? zn_idclient_open(&self->idclient, &iopts, fault) : rc;
    zn_strv_free(&endpoints);
    zloop_t *loop = zn_agent_loop(self->agent);
    rc = rc == 0 ? zn_sclient_attach(self->sclient, loop) : rc;
    rc = rc == 0 ? zn_idclient_attach(self->idclient, loop) : rc;
    if (rc == 0) {
        self->db = zn_netdb_new(self->sclient, cfg->write_timeout_ms);
        zn_netdb_set_metrics(self->db, zn_agent_metrics(self->agent));
    }
    return rc;
}

static int
s_open_servers(zn_network_t *self, zn_fault_t *fault)
{
    const zn_network_cfg_t *cfg = self->cfg;
    zn_rest_opts_t ropts = {
        .service = "network",
        .endpoint = cfg->http_endpoint,
        .url_prefix = cfg->url_prefix,
        .style = ZN_REST_STYLE_NEUTRON,
        .routes = zn__network_routes,
        .arg = self,
        .idclient = self->idclient,
        .body_max_bytes = (size_t)cfg->http_body_max_bytes,
        .metrics = zn_agent_metrics(self->agent),
        .trace = zn_agent_trace(self->agent),
    };
    int rc = zn_rest_open(&self->rest, &ropts, fault);
    rc = rc == 0 ? zn_rest_attach(self->rest, zn_agent_loop(self->agent)) : rc;
    rc = rc == 0 ? zn_agent_serve(self->agent, "network", cfg->call_endpoint, NULL,
                                  zn__network_methods, self, &self->server, fault)
                 : rc;
    return rc;
}

int
zn_network_open(zn_network_t **out, const zn_network_cfg_t *cfg)
{
    *out = NULL;
    zn_network_t *self = zn_calloc(1, sizeof(*self));
    self->cfg = cfg;
    zn_fault_t fault;
    zn_fault_clear(&fault);
    int rc = s_check_cfg(cfg, &fault);
    rc = rc == 0 ? s_open_agent(self, &fault) : rc;
    rc = rc == 0 ? s_open_clients(self, &fault) : rc;
    rc = rc == 0 ? s_open_servers(self, &fault) : rc;
    rc = rc == 0 ? zn_agent_announce(self->agent, &cfg->common, self->server, &fault) : rc;
    if (rc < 0) {
        zn_log_error(NULL, "cannot start: %s", zn_fault_message(&fault));
        zn_network_destroy(&self);
        return rc;
    }
    zn_log_notice(NULL, "network ready http=%s http_port=%u rpc=%s bridge=%s", cfg->http_endpoint,
                  zn_rest_port(self->rest), zn_server_call_endpoint(self->server),
                  cfg->default_bridge);
    *out = self;
    return 0;
}

void
zn_network_destroy(zn_network_t **self_p)
{
    zn_network_t *self = *self_p;
    if (self == NULL) {
        return;
    }
    /* Cancelling the clients runs their pending callbacks, which answer REST requests and
     * deferred calls: the REST front and the server must outlive them, and the store must
     * take no new writes meanwhile. */
    if (self->db != NULL) {
        zn_netdb_shutdown(self->db);
    }
    zn_idclient_destroy(&self->idclient);
    zn_sclient_destroy(&self->sclient);
    zn_rest_destroy(&self->rest);
    zn_server_destroy(&self->server);
    zn_netdb_destroy(&self->db);
    zn_agent_destroy(&self->agent);
    zn_free(self);
    *self_p = NULL;
}

int
zn_network_run(zn_network_t *self)
{
    return zn_agent_run(self->agent);
}

int
zn_network_watch_pipe(zn_network_t *self, zsock_t *pipe)
{
    return zn_agent_watch_pipe(self->agent, pipe);
}

uint16_t
zn_network_http_port(const zn_network_t *self)
{
    return zn_rest_port(self->rest);
}

const char *
zn_network_call_endpoint(const zn_network_t *self)
{
    return zn_server_call_endpoint(self->server);
}
