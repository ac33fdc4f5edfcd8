/* SPDX-License-Identifier: Apache-2.0 */
/* zn_identity.c - the identity agent: configuration, lifecycle, HTTP dispatch through the route
 * tables, the hasher's answers, and the `validate` RPC. */
#include "zn_identity.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "zn_clock.h"
#include "zn_idclient.h"
#include "zn_identity_int.h"
#include "zn_json.h"
#include "zn_log.h"
#include "zn_mem.h"
#include "zn_str.h"

#define S_KEYS_REFRESH_MS 500
#define S_PRUNE_EVERY     120 /* key refreshes, one minute */

#define S_STR(sec, key, field, def, help) \
    ZN_CFG_STR_ROW(zn_identity_cfg_t, sec, key, field, def, help)
#define S_INT(sec, key, field, def, lo, hi, help) \
    ZN_CFG_INT_ROW(zn_identity_cfg_t, sec, key, field, def, lo, hi, help)

const zn_cfg_opt_t zn_identity_options[] = {
    ZN_AGENT_CFG_ROWS(zn_identity_cfg_t, "identity", "7201"),
    S_STR("rpc", "call_endpoint", call_endpoint, "tcp://127.0.0.1:7101",
          "where agents call `validate`"),
    S_STR("identity", "http_endpoint", http_endpoint, "127.0.0.1:5000",
          "IPV4:PORT of the Keystone v3 REST API"),
    S_STR("identity", "url_prefix", url_prefix, "/identity",
          "the API is served both at / and below this prefix (devstack-like URLs)"),
    S_STR("identity", "data_dir", data_dir, "/var/lib/zinc/identity",
          "the identity store (LMDB) when store_conductor_call is empty: one node, no replication"),
    S_STR("identity", "store_conductor_call", store_conductor_call, "",
          "keep identity in the cluster's replicated store: the conductors' call endpoints"),
    S_STR(
        "identity", "store_replica_dir", store_replica_dir, "/var/lib/zinc/conductor/store",
        "with store_conductor_call: this node's replica (the conductor's [store] data_dir/store)"),
    S_STR("identity", "token_keys_dir", token_keys_dir, "/etc/zinc/token-keys",
          "token key repository (0 staged, highest primary); made on first start"),
    S_INT("identity", "token_ttl_s", token_ttl_s, "3600", 1, 604800, "token lifetime"),
    S_INT("identity", "max_active_keys", max_active_keys, "3", 3, 64,
          "token keys kept by a rotation: staged + primary + secondaries"),
    S_STR("identity", "password_hash_cost", password_hash_cost, "interactive",
          "Argon2id cost: interactive, moderate, or test (TEST SUITES ONLY: cheap to crack)"),
    S_INT("identity", "http_body_max_bytes", http_body_max_bytes, "65536", 1024, 16777216,
          "larger request bodies get 413"),
    S_INT("identity", "login_max_failures", login_max_failures, "5", 0, 1000000,
          "failed logins per user name and per source address before 429 (0: no limit)"),
    S_INT("identity", "login_window_s", login_window_s, "60", 1, 86400,
          "the window those failures are counted in"),
    S_STR("catalog", "region", region, "RegionOne", "region of every endpoint"),
    S_STR("catalog", "base_url", catalog_base_url, "http://127.0.0.1",
          "services not overridden below are at BASE/compute/v2.1, BASE/image, ..."),
    S_STR("catalog", "identity_url", identity_url, "",
          "identity endpoint (empty: http://HTTP_ENDPOINT/URL_PREFIX)"),
    S_STR("catalog", "compute_url", compute_url, "", "compute endpoint (empty: from base_url)"),
    S_STR("catalog", "image_url", image_url, "", "image endpoint (empty: from base_url)"),
    S_STR("catalog", "network_url", network_url, "", "network endpoint (empty: from base_url)"),
    S_STR("catalog", "volume_url", volume_url, "",
          "volumev3/block-storage endpoint (empty: BASE/volume/v3/$(project_id)s)"),
    S_STR("bootstrap", "user", bootstrap_user, "admin", "the bootstrap admin user"),
    S_STR("bootstrap", "password", bootstrap_password, "",
          "when set, `bootstrap` runs at every start (idempotent); keep this file 0600"),
    S_STR("bootstrap", "project", bootstrap_project, "admin", "the bootstrap admin project"),
    ZN_CFG_END,
};

unsigned
zn__identity_status(int code)
{
    static const struct {
        int code;
        unsigned status;
    } map[] = {
        {-EINVAL, 400},       {-EBADMSG, 400},    {ZN_EAUTH, 401},    {-EACCES, 401},
        {ZN_EFORBIDDEN, 403}, {-ENOENT, 404},     {-EEXIST, 409},     {ZN_ETOOBIG, 413},
        {-EBUSY, 429},        {ZN_EUNAVAIL, 503}, {-EOPNOTSUPP, 405},
    };

    for (size_t i = 0; i < ZN_ARRAY_COUNT(map); i++) {
        if (map[i].code == code) {
            return map[i].status;
        }
    }
    return 500;
}

void
zn__identity_reply(zn_http_req_t *http, unsigned status, json_t *value)
{
    if (value == NULL) {
        zn_http_respond(http, status, NULL, "", 0);
        return;
    }
    char *text = zn_json_dump_steal(value);
    zn_http_respond(http, status, "application/json", text, strlen(text));
    zn_str_free(&text);
}

void
zn__identity_error(zn_http_req_t *http, int code, const char *message)
{
    unsigned status = zn__identity_status(code);
    if (status == 401) {
        zn_http_add_header(http, "WWW-Authenticate", "Keystone uri=\"/identity\"");
    }
    if (status >= 500) {
        zn_log_warn(zn_http_request_id(http), "%s %s failed: %s", zn_http_method(http),
                    zn_http_path(http), message);
        message = "An unexpected error prevented the server from fulfilling your request.";
    }
    char *body = zn_json_error_body(status, message);
    zn_http_respond(http, status, "application/json", body, strlen(body));
    zn_str_free(&body);
}

void
zn__identity_job_free(zn_idjob_t **job_p)
{
    zn_idjob_t *job = *job_p;
    if (job == NULL) {
        return;
    }
    json_decref(job->body);
    zn_idstore_record_free(job->kind, &job->record);
    zn_free(job->base_url);
    zn_free(job->limit_user_key);
    zn_free(job->peer);
    zn_free(job);
    *job_p = NULL;
}

int
zn__identity_queue(zn_identity_t *self, zn_idjob_t *job, bool verify, const char *hash,
                   const char *password)
{
    uint64_t id = ++self->next_job;
    size_t len = strlen(password);
    int rc = verify ? zn_hasher_verify(self->hasher, id, hash, password, len)
                    : zn_hasher_hash(self->hasher, id, password, len);
    if (rc < 0) {
        zn__identity_job_free(&job);
        return rc;
    }
    char key[24];
    (void)snprintf(key, sizeof(key), "%llu", (unsigned long long)id); /* always fits */
    if (!zn_http_is_deferred(job->http)) {
        zn_http_defer(job->http);
    }
    (void)zhashx_insert(self->jobs, key, job); /* ids are unique */
    return ZN_DEFERRED;
}

static void
s_on_hashed(void *arg, uint64_t id, bool match, const char *hash)
{
    zn_identity_t *self = arg;
    char key[24];
    (void)snprintf(key, sizeof(key), "%llu", (unsigned long long)id); /* always fits */
    zn_idjob_t *job = zhashx_lookup(self->jobs, key);
    if (job == NULL) {
        return;
    }
    zhashx_delete(self->jobs, key); /* the hash has no destructor: JOB is ours now */
    job->fn(self, job, match, hash);
    zn__identity_job_free(&job);
}

/* Match PATH against PATTERN segment by segment; '*' captures one segment into CAPTURES. */
static bool
s_match(const char *pattern, const char *path, char **captures)
{
    size_t count = 0;
    while (*pattern != '\0' && *path != '\0') {
        if (*pattern == '*') {
            const char *end = strchr(path, '/');
            size_t len = end != NULL ? (size_t)(end - path) : strlen(path);
            if (len == 0 || count >= ZN_IDENTITY_CAPTURES) {
                return false;
            }
            captures[count++] = zn_strndup(path, len);
            pattern++;
            path += len;
        } else if (*pattern++ != *path++) {
            return false;
        }
    }
    return *pattern == '\0' && (*path == '\0' || strcmp(path, "/") == 0);
}

static void
s_free_captures(char **captures)
{
    for (size_t i = 0; i < ZN_IDENTITY_CAPTURES; i++) {
        zn_str_free(&captures[i]);
    }
}

/* The route for REQ's method and path; *path_known says whether another method would do. */
static const zn_idroute_t *
s_route(zn_idreq_t *req, bool *path_known)
{
    const zn_idroute_t *tables[] = {zn__identity_auth_routes, zn__identity_admin_routes};
    const char *method = zn_http_method(req->http);
    *path_known = false;
    for (size_t t = 0; t < ZN_ARRAY_COUNT(tables); t++) {
        for (const zn_idroute_t *r = tables[t]; r->method != NULL; r++) {
            char *captures[ZN_IDENTITY_CAPTURES] = {NULL, NULL, NULL};
            if (!s_match(r->pattern, req->path, captures)) {
                s_free_captures(captures); /* a partial match may have captured */
                continue;
            }
            *path_known = true;
            if (strcmp(r->method, method) == 0) {
                memcpy(req->captures, captures, sizeof(captures));
                return r;
            }
            s_free_captures(captures);
        }
    }
    return NULL;
}

static int
s_authenticate(zn_idreq_t *req, zn_fault_t *fault)
{
    const char *token = zn_http_header(req->http, "X-Auth-Token");
    if (token == NULL) {
        return zn_fault_set(fault, ZN_EAUTH, "The request you have made requires authentication.");
    }
    int rc = zn_idauth_validate(req->self->auth, token, zn_clock_wall_ms(), &req->caller, fault);
    if (rc < 0) {
        return rc;
    }
    req->has_caller = true;
    req->creds.user_id = req->caller.claims.user_id;
    req->creds.project_id = req->caller.claims.project_id;
    req->creds.roles = req->caller.role_bits;
    return 0;
}

static int
s_prepare(zn_idreq_t *req, const zn_idroute_t *route, zn_fault_t *fault)
{
    int rc = 0;
    if (route->flags & ZN_R_BODY) {
        size_t len = 0;
        const char *body = zn_http_body(req->http, &len);
        rc = zn_json_parse(body, len, &req->body, fault);
    }
    if (rc == 0 && (route->flags & ZN_R_TOKEN)) {
        rc = s_authenticate(req, fault);
    }
    if (rc == 0 && route->action != NULL) {
        zn_policy_target_t target = {
            route->project_capture >= 0 ? req->captures[route->project_capture] : NULL,
            route->user_capture >= 0 ? req->captures[route->user_capture] : NULL,
        };
        rc = zn_policy_check(route->action, &req->creds, &target, fault);
    }
    return rc;
}

static void
s_versions(zn_idreq_t *req, bool one)
{
    json_t *version = json_pack(
        "{s:s,s:s,s:s,s:[{s:s,s:s}],s:[{s:s,s:s}]}", "id", "v3.14", "status", "stable", "updated",
        "2020-04-07T00:00:00Z", "links", "rel", "self", "href", "", "media-types", "base",
        "application/json", "type", "application/vnd.openstack.identity-v3+json");
    char *href = zn_asprintf("%s/v3/", req->base_url);
    (void)json_object_set_new(json_array_get(json_object_get(version, "links"), 0), "href",
                              json_string(href));
    zn_str_free(&href);
    if (one) {
        zn__identity_reply(req->http, 200, json_pack("{s:o}", "version", version));
        return;
    }
    zn__identity_reply(req->http, 300, json_pack("{s:{s:[o]}}", "versions", "values", version));
}

static void
s_dispatch(zn_idreq_t *req)
{
    if (strcmp(req->path, "") == 0 || strcmp(req->path, "/") == 0 ||
        strcmp(req->path, "/v3") == 0 || strcmp(req->path, "/v3/") == 0) {
        s_versions(req, strncmp(req->path, "/v3", 3) == 0);
        return;
    }
    bool path_known = false;
    const zn_idroute_t *route = s_route(req, &path_known);
    zn_fault_t fault;
    zn_fault_clear(&fault);
    int rc = 0;
    if (route == NULL) {
        rc = path_known ? zn_fault_set(&fault, -EOPNOTSUPP, "method not allowed here")
                        : zn_fault_set(&fault, -ENOENT, "The resource could not be found.");
        zn__identity_error(req->http, rc, zn_fault_message(&fault));
        return;
    }
    rc = s_prepare(req, route, &fault);
    if (rc == 0) {
        rc = route->fn(req, &fault);
    }
    if (rc < 0) {
        zn__identity_error(req->http, rc, zn_fault_message(&fault));
    }
}

static char *
s_base_url(const zn_identity_t *self, zn_http_req_t *http)
{
    const char *host = zn_http_header(http, "Host");
    return zn_asprintf("http://%s%s", host != NULL ? host : self->cfg->http_endpoint,
                       self->cfg->url_prefix);
}

static void
s_on_http(void *arg, zn_http_req_t *http)
{
    zn_identity_t *self = arg;
    zn_idreq_t req = {.self = self, .http = http, .path = zn_http_path(http)};
    size_t prefix_len = strlen(self->cfg->url_prefix);
    if (prefix_len > 1 && strncmp(req.path, self->cfg->url_prefix, prefix_len) == 0 &&
        (req.path[prefix_len] == '/' || req.path[prefix_len] == '\0')) {
        req.path += prefix_len;
    }
    req.base_url = s_base_url(self, http);
    s_dispatch(&req);
    zn_log_info(zn_http_request_id(http), "%s %s peer=%s", zn_http_method(http), zn_http_path(http),
                zn_http_peer(http));
    if (req.has_caller) {
        zn_idauth_result_release(&req.caller);
    }
    s_free_captures(req.captures);
    json_decref(req.body);
    zn_str_free(&req.base_url);
}

/* The `validate` call: the token travels in the request context. The reply carries who and
 * what the token stands for, when it expires and the revocation generation (zn_idclient.h). */
static int
s_validate(void *arg, zn_call_t *call, zn_pack_t *reply, zn_fault_t *fault)
{
    zn_identity_t *self = arg;
    const zn_env_t *env = zn_call_env(call);
    char token[ZN_TOKEN_TEXT_MAX + 1];
    if (env->ctx.token.len == 0 || env->ctx.token.len > ZN_TOKEN_TEXT_MAX) {
        return zn_fault_set(fault, ZN_EAUTH, "no token or an oversized one");
    }
    memcpy(token, env->ctx.token.ptr, env->ctx.token.len);
    token[env->ctx.token.len] = '\0';
    zn_idauth_result_t result;
    int rc = zn_idauth_validate(self->auth, token, zn_clock_wall_ms(), &result, fault);
    if (rc < 0) {
        return rc;
    }
    const zn_token_claims_t *c = &result.claims;
    char *roles[ZN_IDAUTH_ROLES_MAX + 1] = {NULL};
    for (size_t i = 0; i < result.role_count; i++) {
        roles[i] = result.roles[i].name;
    }
    zn_idclient_auth_t auth = {
        .user_id = c->user_id,
        .user_name = result.user.name,
        .project_id = c->project_id,
        .domain_id = c->domain_id,
        .roles = roles,
        .role_count = result.role_count,
        .expires_at_ms = c->expires_at_ms,
        .audit_id = c->audit_id,
        .revocation_generation = zn_idauth_revocation_generation(self->auth),
    };
    zn_schema_encode(&zn_idclient_auth_schema, &auth, reply);
    zn_idauth_result_release(&result);
    return 0;
}

static const zn_method_t s_methods[] = {
    {"validate", s_validate, ZN_M_CALL},
    {NULL, NULL, 0},
};

static void
s_status(void *arg, zn_pack_t *out)
{
    zn_identity_t *self = arg;
    zn_pack_map(out, 3);
    zn_pack_str(out, "primary_key");
    zn_pack_i64(out, zn_tokenkeys_primary_number(self->keys));
    zn_pack_str(out, "revocation_generation");
    zn_pack_u64(out, zn_idauth_revocation_generation(self->auth));
    zn_pack_str(out, "hash_jobs");
    zn_pack_u64(out, zn_hasher_pending(self->hasher));
}

static int
s_on_keys_timer(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    zn_identity_t *self = arg;
    zn_fault_t fault;
    int rc = zn_tokenkeys_refresh(self->keys, &fault);
    if (rc < 0) {
        zn_log_warn(NULL, "token keys not reloaded: %s", zn_fault_message(&fault));
    } else if (rc > 0) {
        zn_log_notice(NULL, "token keys reloaded primary=%d count=%zu",
                      zn_tokenkeys_primary_number(self->keys), zn_tokenkeys_count(self->keys));
    }
    rc = zn_idauth_refresh(self->auth, &fault);
    if (rc < 0) {
        zn_log_warn(NULL, "revocations not reloaded: %s", zn_fault_message(&fault));
    } else if (rc > 0) {
        zn_log_notice(NULL, "revocations learned from the store count=%d", rc);
    }
    if (++self->ticks % S_PRUNE_EVERY == 0 &&
        zn_idauth_prune(self->auth, zn_clock_wall_ms(), &fault) < 0) {
        zn_log_warn(NULL, "revocation events not pruned: %s", zn_fault_message(&fault));
    }
    return 0;
}

/* Admin `keys_rotate`: rotate this node's token keys and load them at once, so that the next
 * token is sealed with the new primary. Other identity nodes need the same key directory
 * (copied by the deploy tooling), as with Keystone's Fernet keys. */
static int
s_admin_keys_rotate(void *agent, zn_call_t *call, zn_pack_t *reply, zn_fault_t *fault)
{
    (void)call;
    zn_identity_t *self = zn_agent_arg(agent);
    const zn_identity_cfg_t *cfg = self->cfg;
    int rc = zn_tokenkeys_rotate(cfg->token_keys_dir, (int)cfg->max_active_keys, fault);
    if (rc == 0) {
        rc = zn_tokenkeys_refresh(self->keys, fault);
    }
    if (rc < 0) {
        return rc;
    }
    zn_log_notice(NULL, "token keys rotated primary=%d count=%zu",
                  zn_tokenkeys_primary_number(self->keys), zn_tokenkeys_count(self->keys));
    zn_pack_map(reply, 2);
    zn_pack_str(reply, "primary");
    zn_pack_i64(reply, zn_tokenkeys_primary_number(self->keys));
    zn_pack_str(reply, "keys");
    zn_pack_u64(reply, zn_tokenkeys_count(self->keys));
    return 0;
}

static const zn_method_t s_admin_methods[] = {
    {"keys_rotate", s_admin_keys_rotate, ZN_M_CALL},
    {NULL, NULL, 0},
};

static int
s_open_agent(zn_identity_t *self, zn_fault_t *fault)
{
    zn_agent_opts_t opts = {
        .role = "identity",
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
s_open_state(zn_identity_t *self, zn_fault_t *fault)
{
    const zn_identity_cfg_t *cfg = self->cfg;
    if (zn_password_cost_parse(cfg->password_hash_cost, &self->cost) < 0) {
        return zn_fault_set(fault, ZN_ECONFIG, "[identity] password_hash_cost %s: unknown",
                            cfg->password_hash_cost);
    }
    if (cfg->bootstrap_password[0] != '\0') {
        int rc = zn_identity_bootstrap(cfg);
        if (rc < 0) {
            return zn_fault_set(fault, rc, "bootstrap failed");
        }
    }
    zn_idstore_opts_t sopts = ZN_IDENTITY_STORE_OPTS(cfg);
    int rc = zn_idstore_open(&self->store, &sopts, fault);
    if (rc == 0) {
        rc = zn_tokenkeys_open(&self->keys, cfg->token_keys_dir, fault);
    }
    if (rc == 0) {
        rc = zn_idauth_open(&self->auth, self->store, self->keys, cfg->token_ttl_s * 1000, fault);
    }
    return rc;
}

static int
s_open_servers(zn_identity_t *self, zn_fault_t *fault)
{
    zloop_t *loop = zn_agent_loop(self->agent);
    self->hasher = zn_hasher_new(self->cost);
    int rc = zn_hasher_attach(self->hasher, loop, s_on_hashed, self);
    zn_http_opts_t http_opts = {
        .endpoint = self->cfg->http_endpoint,
        .body_max_bytes = (size_t)self->cfg->http_body_max_bytes,
    };
    if (rc == 0) {
        rc = zn_http_open(&self->http, &http_opts, s_on_http, self, fault);
    }
    if (rc == 0) {
        rc = zn_http_attach(self->http, loop);
    }
    if (rc == 0) {
        rc = zn_agent_serve(self->agent, "identity", self->cfg->call_endpoint, NULL, s_methods,
                            self, &self->server, fault);
    }
    self->keys_timer = zloop_timer(loop, S_KEYS_REFRESH_MS, 0, s_on_keys_timer, self);
    return rc;
}

int
zn_identity_open(zn_identity_t **out, const zn_identity_cfg_t *cfg)
{
    *out = NULL;
    zn_identity_t *self = zn_calloc(1, sizeof(*self));
    self->cfg = cfg;
    self->jobs = zhashx_new();
    self->keys_timer = -1;
    self->limit_user = zn_ratelimit_new((int)cfg->login_max_failures, cfg->login_window_s * 1000);
    self->limit_peer =
        zn_ratelimit_new((int)cfg->login_max_failures * 4, cfg->login_window_s * 1000);
    zn_fault_t fault;
    zn_fault_clear(&fault);
    int rc = s_open_state(self, &fault);
    if (rc == 0) {
        rc = s_open_agent(self, &fault);
    }
    if (rc == 0) {
        rc = s_open_servers(self, &fault);
    }
    if (rc == 0) {
        rc = zn_agent_announce(self->agent, &self->cfg->common, self->server, &fault);
    }
    if (rc < 0) {
        zn_log_error(NULL, "cannot start: %s", zn_fault_message(&fault));
        zn_identity_destroy(&self);
        return rc;
    }
    zn_log_notice(NULL, "identity ready http=%s http_port=%u rpc=%s hash=%s", cfg->http_endpoint,
                  zn_http_port(self->http), zn_server_call_endpoint(self->server),
                  zn_password_cost_describe(self->cost));
    *out = self;
    return 0;
}

void
zn_identity_destroy(zn_identity_t **self_p)
{
    zn_identity_t *self = *self_p;
    if (self == NULL) {
        return;
    }
    if (self->keys_timer >= 0) {
        zloop_timer_end(zn_agent_loop(self->agent), self->keys_timer);
    }
    zn_http_destroy(&self->http); /* answers deferred requests before the jobs go */
    zn_hasher_destroy(&self->hasher);
    for (zn_idjob_t *job = zhashx_first(self->jobs); job != NULL; job = zhashx_next(self->jobs)) {
        zn__identity_job_free(&job);
    }
    zhashx_destroy(&self->jobs);
    zn_server_destroy(&self->server);
    zn_agent_destroy(&self->agent);
    zn_idauth_destroy(&self->auth);
    zn_tokenkeys_destroy(&self->keys);
    zn_idstore_destroy(&self->store);
    zn_ratelimit_destroy(&self->limit_user);
    zn_ratelimit_destroy(&self->limit_peer);
    zn_free(self);
    *self_p = NULL;
}

int
zn_identity_run(zn_identity_t *self)
{
    return zn_agent_run(self->agent);
}

int
zn_identity_watch_pipe(zn_identity_t *self, zsock_t *pipe)
{
    return zn_agent_watch_pipe(self->agent, pipe);
}

uint16_t
zn_identity_http_port(const zn_identity_t *self)
{
    return zn_http_port(self->http);
}

const char *
zn_identity_call_endpoint(const zn_identity_t *self)
{
    return zn_server_call_endpoint(self->server);
}

int
zn_identity_rotate_keys(const zn_identity_cfg_t *cfg)
{
    zn_fault_t fault;
    zn_fault_clear(&fault);
    int rc = zn_tokenkeys_setup(cfg->token_keys_dir, &fault);
    if (rc == 0) {
        rc = zn_tokenkeys_rotate(cfg->token_keys_dir, (int)cfg->max_active_keys, &fault);
    }
    if (rc < 0) {
        zn_log_error(NULL, "rotate-keys: %s", zn_fault_message(&fault));
        return rc;
    }
    zn_log_notice(NULL, "token keys rotated in %s", cfg->token_keys_dir);
    return 0;
}
