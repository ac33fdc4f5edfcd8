/* SPDX-License-Identifier: Apache-2.0 */
/* zn_api.c - the api agent: configuration, the route table with its microversion check,
 * lifecycle, the compute agents it casts to and calls, and helpers the resources share. */
#include "zn_api.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <time.h>

#include "zn_api_int.h"
#include "zn_caster.h"
#include "zn_clock.h"
#include "zn_log.h"
#include "zn_mem.h"
#include "zn_str.h"
#include "zn_tables.h"

#define S_STR(sec, key, field, def, help) ZN_CFG_STR_ROW(zn_api_cfg_t, sec, key, field, def, help)
#define S_INT(sec, key, field, def, lo, hi, help) \
    ZN_CFG_INT_ROW(zn_api_cfg_t, sec, key, field, def, lo, hi, help)

const zn_cfg_opt_t zn_api_options[] = {
    ZN_AGENT_CFG_ROWS(zn_api_cfg_t, "api", "7202"),
    S_STR("api", "http_endpoint", http_endpoint, "127.0.0.1:8774",
          "IPV4:PORT of the compute REST API (Nova v2.1)"),
    S_STR("api", "url_prefix", url_prefix, "/compute",
          "the API is served both at / and below this prefix (devstack-like URLs)"),
    S_STR("api", "store_dir", store_dir, "/var/lib/zinc/conductor/store",
          "this node's store replica (the local conductor's [store] data_dir/store)"),
    S_INT("api", "http_body_max_bytes", http_body_max_bytes, "262144", 1024, 16777216,
          "larger request bodies get 413"),
    S_INT("api", "max_limit", max_limit, "1000", 1, 100000,
          "the most records one list answer carries (Nova's osapi_max_limit)"),
    S_STR("api", "default_availability_zone", default_zone, "nova",
          "the zone of hosts that report none"),
    S_STR("peers", "identity_call", identity_call, "tcp://127.0.0.1:7101",
          "the identity agents' call endpoints (token validation), comma-separated"),
    S_STR("peers", "scheduler_call", scheduler_call, "tcp://127.0.0.1:7103",
          "the schedulers' call endpoints; empty: servers stay in scheduling until the "
          "conductor's watchdog acts"),
    S_STR("peers", "image_call", image_call, "",
          "the image agents' call endpoints; empty: imageRef is not checked"),
    S_STR("peers", "network_call", network_call, "",
          "the network agents' call endpoints; empty: networks are not checked"),
    S_STR("peers", "volume_call", volume_call, "",
          "the volume agents' call endpoints; empty: volumes are not checked"),
    S_INT("peers", "call_timeout_ms", call_timeout_ms, "5000", 100, 600000,
          "how long a call to image, network, volume or compute may take"),
    S_INT("build", "scheduler_timeout_ms", scheduler_timeout_ms, "10000", 100, 600000,
          "how long the scheduler may take to choose a host"),
    S_INT("build", "take_timeout_ms", take_timeout_ms, "5000", 100, 3600000,
          "a build cast that no compute agent took up by then is rescheduled by the conductor"),
    S_INT("build", "action_timeout_ms", action_timeout_ms, "60000", 100, 86400000,
          "stop/start/reboot/delete unanswered after this end with a fault (conductor)"),
    S_INT("build", "cast_wait_ms", cast_wait_ms, "200", 0, 10000,
          "how long a cast may wait for a connection to a compute agent"),
    ZN_CFG_END,
};

/* ---- microversions ------------------------------------------------------------------------ */

/* The compute version REQ asked for, into OUT ("" when none). */
static void
s_requested_version(zn_rest_req_t *req, char *out, size_t cap)
{
    zn_http_req_t *http = zn_rest_http(req);
    const char *h = zn_http_header(http, "OpenStack-API-Version");
    out[0] = '\0';
    while (h != NULL && *h != '\0') {
        while (*h == ' ' || *h == ',') {
            h++;
        }
        size_t item = strcspn(h, ",");
        if (item > 8 && strncasecmp(h, "compute ", 8) == 0) {
            const char *v = h + 8;
            size_t len = item - 8;
            while (len > 0 && v[len - 1] == ' ') {
                len--;
            }
            (void)snprintf(out, cap, "%.*s", (int)len, v);
            return;
        }
        h += item;
    }
    const char *legacy = zn_http_header(http, "X-OpenStack-Nova-API-Version");
    if (legacy != NULL) {
        (void)snprintf(out, cap, "%s", legacy);
    }
}

/* Parse "MAJOR.MINOR"; false when malformed. */
static bool
s_parse_version(const char *text, long *major, long *minor)
{
    char *end = NULL;
    if (!isdigit((unsigned char)text[0])) {
        return false;
    }
    *major = strtol(text, &end, 10);
    if (*end != '.' || !isdigit((unsigned char)end[1])) {
        return false;
    }
    *minor = strtol(end + 1, &end, 10);
    return *end == '\0';
}

/* Nova's negotiation: no header or "latest" is fine; a malformed one is 400, one outside
 * [min, max] 406. Returns true when REQ was answered. */
static bool
s_microversion(zn_rest_req_t *req)
{
    zn_rest_add_header(req, "OpenStack-API-Version", "compute " ZN_API_VERSION_MAX);
    zn_rest_add_header(req, "X-OpenStack-Nova-API-Version", ZN_API_VERSION_MAX);
    zn_rest_add_header(req, "Vary", "OpenStack-API-Version, X-OpenStack-Nova-API-Version");
    char asked[64];
    s_requested_version(req, asked, sizeof(asked));
    if (asked[0] == '\0' || strcmp(asked, "latest") == 0) {
        return false;
    }
    long major = 0;
    long minor = 0;
    char *words = NULL;
    unsigned status = 0;
    if (!s_parse_version(asked, &major, &minor)) {
        status = 400;
        words = zn_asprintf("API Version String %s is of invalid format. Must be of format "
                            "MajorNum.MinorNum.",
                            asked);
    } else if (major != 2 || minor != 1) {
        status = 406;
        words = zn_asprintf("Version %s is not supported by the API. Minimum is %s and maximum "
                            "is %s.",
                            asked, ZN_API_VERSION_MIN, ZN_API_VERSION_MAX);
    }
    if (words == NULL) {
        return false;
    }
    zn_rest_error_status(req, status, words);
    zn_str_free(&words);
    return true;
}

#define S_WRAP(name)                                                        \
    static int s_w_##name(void *arg, zn_rest_req_t *req, zn_fault_t *fault) \
    {                                                                       \
        return s_microversion(req) ? 0 : zn__api_##name(arg, req, fault);   \
    }
ZN_API_HANDLERS(S_WRAP)
#undef S_WRAP

#define S_V21 "/v2.1"
#define S_R(method, path, name, flags)        \
    {                                         \
        method, S_V21 path, s_w_##name, flags \
    }
#define S_J ZN_REST_JSON
#define S_A ZN_REST_ADMIN

/* More specific patterns come first: the router takes the first match. */
static const zn_rest_route_t s_routes[] = {
    {"GET", "", zn__api_versions, ZN_REST_NO_TOKEN},
    {"GET", "/", zn__api_versions, ZN_REST_NO_TOKEN},
    {"GET", "/v2", zn__api_version_v20, ZN_REST_NO_TOKEN},
    {"GET", "/v2.1", zn__api_version_v21, ZN_REST_NO_TOKEN},
    S_R("GET", "/flavors/detail", flavor_detail, 0),
    S_R("GET", "/flavors", flavor_list, 0),
    S_R("POST", "/flavors", flavor_create, S_A | S_J),
    S_R("GET", "/flavors/*/os-extra_specs", extra_specs_list, 0),
    S_R("POST", "/flavors/*/os-extra_specs", extra_specs_create, S_A | S_J),
    S_R("GET", "/flavors/*/os-extra_specs/*", extra_spec_show, 0),
    S_R("PUT", "/flavors/*/os-extra_specs/*", extra_spec_update, S_A | S_J),
    S_R("DELETE", "/flavors/*/os-extra_specs/*", extra_spec_delete, S_A),
    S_R("GET", "/flavors/*", flavor_show, 0),
    S_R("DELETE", "/flavors/*", flavor_delete, S_A),
    S_R("GET", "/os-keypairs", keypair_list, 0),
    S_R("POST", "/os-keypairs", keypair_create, S_J),
    S_R("GET", "/os-keypairs/*", keypair_show, 0),
    S_R("DELETE", "/os-keypairs/*", keypair_delete, 0),
    S_R("GET", "/servers/detail", server_detail, 0),
    S_R("GET", "/servers", server_list, 0),
    S_R("POST", "/servers", server_create, S_J),
    S_R("POST", "/servers/*/action", server_action, S_J),
    S_R("GET", "/servers/*/os-instance-actions", action_list, 0),
    S_R("GET", "/servers/*/os-instance-actions/*", action_show, 0),
    S_R("GET", "/servers/*/os-volume_attachments", attachment_list, 0),
    S_R("POST", "/servers/*/os-volume_attachments", attachment_create, S_J),
    S_R("GET", "/servers/*/os-volume_attachments/*", attachment_show, 0),
    S_R("DELETE", "/servers/*/os-volume_attachments/*", attachment_delete, 0),
    S_R("GET", "/servers/*/ips", ips_list, 0),
    S_R("GET", "/servers/*/ips/*", ips_show, 0),
    S_R("GET", "/servers/*/metadata", metadata_list, 0),
    S_R("PUT", "/servers/*/metadata", metadata_replace, S_J),
    S_R("POST", "/servers/*/metadata", metadata_update, S_J),
    S_R("GET", "/servers/*", server_show, 0),
    S_R("PUT", "/servers/*", server_update, S_J),
    S_R("DELETE", "/servers/*", server_delete, 0),
    S_R("GET", "/os-server-groups", group_list, 0),
    S_R("POST", "/os-server-groups", group_create, S_J),
    S_R("GET", "/os-server-groups/*", group_show, 0),
    S_R("DELETE", "/os-server-groups/*", group_delete, 0),
    S_R("GET", "/os-services", service_list, S_A),
    S_R("PUT", "/os-services/*", service_update, S_A | S_J),
    S_R("GET", "/os-hypervisors/detail", hypervisor_detail, S_A),
    S_R("GET", "/os-hypervisors/statistics", hypervisor_stats, S_A),
    S_R("GET", "/os-hypervisors", hypervisor_list, S_A),
    S_R("GET", "/os-hypervisors/*", hypervisor_show, S_A),
    S_R("GET", "/os-availability-zone/detail", zone_detail, S_A),
    S_R("GET", "/os-availability-zone", zone_list, 0),
    S_R("GET", "/limits", limits, 0),
    S_R("GET", "/os-quota-sets/*/defaults", quota_defaults, 0),
    S_R("GET", "/os-quota-sets/*/detail", quota_detail, 0),
    S_R("GET", "/os-quota-sets/*", quota_show, 0),
    S_R("PUT", "/os-quota-sets/*", quota_update, S_A | S_J),
    S_R("DELETE", "/os-quota-sets/*", quota_delete, S_A),
    {NULL, NULL, NULL, 0},
};

/* ---- helpers the resources share ---------------------------------------------------------- */

void
zn__api_iso(int64_t wall_ms, char out[32])
{
    out[0] = '\0';
    if (wall_ms <= 0) {
        return;
    }
    time_t secs = (time_t)(wall_ms / 1000);
    struct tm tm;
    if (gmtime_r(&secs, &tm) != NULL) {
        (void)strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
}

json_t *
zn__api_links(const zn_rest_req_t *req, const char *collection, const char *id)
{
    const char *base = zn_rest_base_url((zn_rest_req_t *)(uintptr_t)req);
    char *self_href = zn_asprintf("%s/v2.1/%s/%s", base, collection, id);
    char *bookmark = zn_asprintf("%s/%s/%s", base, collection, id);
    json_t *links = json_pack("[{s:s,s:s},{s:s,s:s}]", "rel", "self", "href", self_href, "rel",
                              "bookmark", "href", bookmark);
    zn_str_free(&self_href);
    zn_str_free(&bookmark);
    return links;
}

int
zn__api_instance_get(zn_api_t *self, zn_rest_req_t *req, const char *id, zn_cell_instance_t *inst,
                     zn_fault_t *fault)
{
    zn_store_read_t *txn = NULL;
    int rc = zn__api_read_begin(self, &txn, fault);
    if (rc < 0) {
        return rc;
    }
    rc =
        zn__api_get(self, txn, ZN_TABLE_INSTANCES, id, &zn_cell_instance_schema, inst, NULL, fault);
    zn_store_read_end(&txn);
    if (rc == 0 && !zn_rest_may_read(req, inst->project_id)) {
        zn_schema_release(&zn_cell_instance_schema, inst);
        rc = -ENOENT; /* another project's: as if it did not exist, so that ids do not leak */
    }
    if (rc == -ENOENT) {
        return zn_fault_set(fault, -ENOENT, "Instance %s could not be found.", id);
    }
    return rc;
}

int
zn__api_flavor_get(zn_api_t *self, zn_store_read_t *txn, const char *id, zn_cell_flavor_t *flavor,
                   zn_fault_t *fault)
{
    int rc =
        zn__api_get(self, txn, ZN_TABLE_FLAVORS, id, &zn_cell_flavor_schema, flavor, NULL, fault);
    if (rc == -ENOENT) {
        return zn_fault_set(fault, -ENOENT, "Flavor %s could not be found.", id);
    }
    return rc;
}

void
zn__api_hold(zn_api_t *self)
{
    self->pending++;
}

void
zn__api_release(zn_api_t *self)
{
    self->pending--;
}

void
zn__api_peer_error(zn_rest_req_t *req, const char *peer, const zn_fault_t *fault)
{
    unsigned status = zn_rest_status(fault->code);
    if (status == 400 || status == 403 || status == 404 || status == 409) {
        zn_rest_error(req, fault->code, zn_fault_message(fault));
        return;
    }
    char *words = zn_asprintf("the %s service did not answer: %s", peer, zn_fault_message(fault));
    zn_rest_error_status(req, 503, words);
    zn_str_free(&words);
}

/* ---- compute agents ----------------------------------------------------------------------- */

/* One compute agent link, cached by "cast HOST" or "call HOST" while its endpoint holds. */
typedef struct {
    char endpoint[ZN_API_HOST_MAX + 1];
    zn_caster_t *caster;
    zn_client_t *client;
} s_peer_t;

static void
s_peer_free(void **item_p)
{
    s_peer_t *peer = *item_p;
    if (peer == NULL) {
        return;
    }
    zn_caster_destroy(&peer->caster);
    zn_client_destroy(&peer->client);
    zn_free(peer);
    *item_p = NULL;
}

/* The endpoint of HOST's compute agent (CAST: its cast endpoint, else its call endpoint) as the
 * hosts table has it, into OUT. */
static int
s_host_endpoint(zn_api_t *self, const char *host, bool cast, char *out, size_t cap,
                zn_fault_t *fault)
{
    zn_store_read_t *txn = NULL;
    int rc = zn__api_read_begin(self, &txn, fault);
    if (rc < 0) {
        return rc;
    }
    zn_cell_host_t rec;
    rc = zn__api_get(self, txn, ZN_TABLE_HOSTS, host, &zn_cell_host_schema, &rec, NULL, fault);
    zn_store_read_end(&txn);
    if (rc < 0) {
        return zn_fault_set(fault, ZN_EUNAVAIL, "host %s has never reported", host);
    }
    const char *endpoint = cast ? rec.cast_endpoint : rec.call_endpoint;
    if (endpoint == NULL) {
        rc = zn_fault_set(fault, ZN_EUNAVAIL, "host %s reported no %s endpoint", host,
                          cast ? "cast" : "call");
    } else {
        (void)snprintf(out, cap, "%s", endpoint);
    }
    zn_schema_release(&zn_cell_host_schema, &rec);
    return rc;
}

static int
s_peer_open(zn_api_t *self, s_peer_t *peer, const char *host, bool cast, zn_fault_t *fault)
{
    char name[ZN_API_HOST_MAX + 16];
    (void)snprintf(name, sizeof(name), "compute-%s", host);
    char server_public[ZN_KEY_Z85_LEN + 1];
    int rc = zn_secure_peer_public(self->secure, name, server_public, fault);
    if (rc < 0) {
        return rc;
    }
    const char *public_key = zn_secure_public_or_null(self->secure, server_public);
    if (cast) {
        zn_caster_opts_t copts = {
            .name = name,
            .endpoint = peer->endpoint,
            .keys = zn_secure_keys(self->secure),
            .server_public = public_key,
            .send_timeout_ms = (int)self->cfg->cast_wait_ms,
        };
        return zn_caster_open(&peer->caster, &copts, fault);
    }
    const char *endpoints[] = {peer->endpoint};
    zn_client_opts_t copts = {
        .name = name,
        .endpoints = endpoints,
        .endpoint_count = 1,
        .keys = zn_secure_keys(self->secure),
        .server_public = public_key,
        .metrics = zn_agent_metrics(self->agent),
    };
    rc = zn_client_open(&peer->client, &copts, fault);
    return rc < 0 ? rc : zn_client_attach(peer->client, zn_agent_loop(self->agent));
}

/* The cached link to HOST, (re)opened when its endpoint changed. */
static s_peer_t *
s_peer(zn_api_t *self, const char *host, bool cast, zn_fault_t *fault)
{
    char endpoint[ZN_API_HOST_MAX + 1];
    if (s_host_endpoint(self, host, cast, endpoint, sizeof(endpoint), fault) < 0) {
        return NULL;
    }
    char key[ZN_API_HOST_MAX + 8];
    (void)snprintf(key, sizeof(key), "%s %s", cast ? "cast" : "call", host);
    s_peer_t *peer = zhashx_lookup(self->peers, key);
    if (peer != NULL && strcmp(peer->endpoint, endpoint) == 0) {
        return peer;
    }
    if (peer != NULL) {
        zhashx_delete(self->peers, key); /* the agent moved: its destructor closes the link */
    }
    peer = zn_calloc(1, sizeof(*peer));
    (void)snprintf(peer->endpoint, sizeof(peer->endpoint), "%s", endpoint);
    if (s_peer_open(self, peer, host, cast, fault) < 0) {
        void *item = peer;
        s_peer_free(&item);
        return NULL;
    }
    (void)zhashx_insert(self->peers, key, peer);
    return peer;
}

int
zn__api_cast(zn_api_t *self, const char *host, const char *method, const zn_ctx_t *ctx,
             zn_buf_t body, zn_fault_t *fault)
{
    s_peer_t *peer = s_peer(self, host, true, fault);
    if (peer == NULL) {
        return fault->code;
    }
    int rc = zn_caster_cast(peer->caster, method, ctx, body, NULL, NULL);
    if (rc < 0) {
        return zn_fault_set(fault, rc, "cannot cast %s to the compute agent of %s: %s", method,
                            host, zn_strerror(rc));
    }
    zn_log_info(ctx->req_id, "cast %s to %s", method, host);
    return 0;
}

int
zn__api_compute_call(zn_api_t *self, const char *host, const char *method, const zn_ctx_t *ctx,
                     zn_buf_t body, zn_reply_fn *fn, void *arg, zn_fault_t *fault)
{
    s_peer_t *peer = s_peer(self, host, false, fault);
    if (peer == NULL) {
        return fault->code;
    }
    int rc = zn_client_call(peer->client, method, ctx, body, self->cfg->call_timeout_ms, fn, arg);
    if (rc < 0) {
        return zn_fault_set(fault, rc, "cannot call %s on %s: %s", method, host, zn_strerror(rc));
    }
    return 0;
}

/* ---- life --------------------------------------------------------------------------------- */

static bool
s_drained(void *arg)
{
    zn_api_t *self = arg;
    return self->pending == 0 && (self->rest == NULL || zn_rest_pending(self->rest) == 0);
}

static void
s_status(void *arg, zn_pack_t *out)
{
    zn_api_t *self = arg;
    zn_pack_map(out, 2);
    zn_pack_str(out, "pending");
    zn_pack_u64(out, self->pending);
    zn_pack_str(out, "requests_waiting");
    zn_pack_u64(out, self->rest != NULL ? zn_rest_pending(self->rest) : 0);
}

/* A client of the service NAME at the comma-separated ENDPOINTS (KEY_NAME's public key), or
 * none (*out NULL) when ENDPOINTS is empty. */
static int
s_open_client(zn_api_t *self, const char *name, const char *key_name, const char *endpoints_text,
              zn_client_t **out, zn_fault_t *fault)
{
    return zn_secure_client_open(self->secure, name, key_name, endpoints_text,
                                 zn_agent_metrics(self->agent), zn_agent_loop(self->agent), out,
                                 fault);
}

static int
s_open_identity(zn_api_t *self, zn_fault_t *fault)
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
s_open_store(zn_api_t *self, zn_fault_t *fault)
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
    rc = zn_sclient_open(&self->sclient, &sopts, fault);
    return rc < 0 ? rc : zn_sclient_attach(self->sclient, zn_agent_loop(self->agent));
}

static int
s_open_peers(zn_api_t *self, zn_fault_t *fault)
{
    const zn_api_cfg_t *cfg = self->cfg;
    int rc = s_open_identity(self, fault);
    if (rc == 0) {
        rc = s_open_store(self, fault);
    }
    if (rc == 0) {
        rc = s_open_client(self, "conductor", "conductor", cfg->common.conductor_call,
                           &self->conductor, fault);
    }
    if (rc == 0) {
        rc = s_open_client(self, "scheduler", "scheduler", cfg->scheduler_call, &self->scheduler,
                           fault);
    }
    if (rc == 0) {
        rc = s_open_client(self, "image", "image", cfg->image_call, &self->image, fault);
    }
    if (rc == 0) {
        rc = s_open_client(self, "network", "network", cfg->network_call, &self->network, fault);
    }
    if (rc == 0) {
        rc = s_open_client(self, "volume", "volume", cfg->volume_call, &self->volume, fault);
    }
    return rc;
}

static int
s_open_rest(zn_api_t *self, zn_fault_t *fault)
{
    zn_rest_opts_t ropts = {
        .service = "compute",
        .endpoint = self->cfg->http_endpoint,
        .url_prefix = self->cfg->url_prefix,
        .style = ZN_REST_STYLE_NOVA,
        .routes = s_routes,
        .arg = self,
        .idclient = self->idclient,
        .body_max_bytes = (size_t)self->cfg->http_body_max_bytes,
        .metrics = zn_agent_metrics(self->agent),
    };
    int rc = zn_rest_open(&self->rest, &ropts, fault);
    return rc < 0 ? rc : zn_rest_attach(self->rest, zn_agent_loop(self->agent));
}

int
zn_api_open(zn_api_t **out, const zn_api_cfg_t *cfg)
{
    *out = NULL;
    zn_api_t *self = zn_calloc(1, sizeof(*self));
    self->cfg = cfg;
    self->peers = zhashx_new();
    zhashx_set_destructor(self->peers, s_peer_free);
    zn_fault_t fault;
    zn_fault_clear(&fault);
    zn_agent_opts_t opts = {.role = "api", .status = s_status, .drained = s_drained, .arg = self};
    int rc = zn_agent_open_from(&self->agent, &cfg->common, &opts, &fault);
    if (rc == 0) {
        self->secure = zn_agent_secure(self->agent);
        rc = s_open_peers(self, &fault);
    }
    if (rc == 0) {
        rc = s_open_rest(self, &fault);
    }
    if (rc == 0) {
        rc = zn_agent_announce(self->agent, &cfg->common, NULL, &fault);
    }
    if (rc < 0) {
        zn_log_error(NULL, "cannot start: %s", zn_fault_message(&fault));
        zn_api_destroy(&self);
        return rc;
    }
    zn_log_notice(NULL, "api ready http=%s port=%u scheduler=%s image=%s network=%s volume=%s",
                  cfg->http_endpoint, zn_rest_port(self->rest),
                  self->scheduler != NULL ? "yes" : "no", self->image != NULL ? "yes" : "no",
                  self->network != NULL ? "yes" : "no", self->volume != NULL ? "yes" : "no");
    *out = self;
    return 0;
}

void
zn_api_destroy(zn_api_t **self_p)
{
    zn_api_t *self = *self_p;
    if (self == NULL) {
        return;
    }
    /* Pending calls end with -ECANCELED first, and their callbacks answer the requests they
     * hold; only then may the REST front drop what is left. */
    zn_client_destroy(&self->scheduler);
    zn_client_destroy(&self->image);
    zn_client_destroy(&self->network);
    zn_client_destroy(&self->volume);
    zn_client_destroy(&self->conductor);
    zn_sclient_destroy(&self->sclient);
    zn__api_lanes_destroy(self);
    zhashx_destroy(&self->peers);
    zn_idclient_destroy(&self->idclient);
    zn_rest_destroy(&self->rest);
    zn_agent_destroy(&self->agent);
    zn_free(self);
    *self_p = NULL;
}

int
zn_api_run(zn_api_t *self)
{
    return zn_agent_run(self->agent);
}

int
zn_api_watch_pipe(zn_api_t *self, zsock_t *pipe)
{
    return zn_agent_watch_pipe(self->agent, pipe);
}

uint16_t
zn_api_http_port(const zn_api_t *self)
{
    return zn_rest_port(self->rest);
}
