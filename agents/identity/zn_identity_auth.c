/* SPDX-License-Identifier: Apache-2.0 */
/* zn_identity_auth.c - /v3/auth: issue (password or token), validate, check, revoke, and the
 * caller's catalog and projects. */
#include <errno.h>
#include <string.h>

#include "zn_clock.h"
#include "zn_identity_int.h"
#include "zn_json.h"
#include "zn_mem.h"

#define S_UNAUTHORIZED "The request you have made requires authentication."

/* The domain id named by DOMAIN ({"id"} or {"name"}) into *out (borrowed from STORE's copy in
 * TMP), or "default" when DOMAIN is absent. */
static int
s_domain_id(zn_identity_t *self, const json_t *domain, zn_id_domain_t *tmp, const char **out)
{
    const char *id = zn_json_str_at(domain, "id");
    const char *name = zn_json_str_at(domain, "name");
    *out = domain == NULL ? "default" : id;
    if (id == NULL && name != NULL &&
        zn_idstore_find(self->store, ZN_ID_DOMAIN, NULL, name, tmp) == 0) {
        *out = tmp->id;
    }
    return *out != NULL ? 0 : -ENOENT;
}

/* Find the user that USER ({"id"} or {"name", "domain"}) names into OUT. -ENOENT if none. */
static int
s_find_user(zn_identity_t *self, const json_t *user, zn_id_user_t *out)
{
    const char *id = zn_json_str_at(user, "id");
    if (id != NULL) {
        return zn_idstore_get(self->store, ZN_ID_USER, id, out);
    }
    zn_id_domain_t domain = {0};
    const char *domain_id = NULL;
    int rc = s_domain_id(self, zn_json_at(user, "domain"), &domain, &domain_id);
    if (rc == 0) {
        rc = zn_idstore_find(self->store, ZN_ID_USER, domain_id, zn_json_str_at(user, "name"), out);
    }
    zn_idstore_release(ZN_ID_DOMAIN, &domain);
    return rc;
}

/* Resolve auth.scope of BODY into {"project_id"} / {"domain_id"} / {} in *out (new). */
static int
s_resolve_scope(zn_identity_t *self, const json_t *body, json_t **out, zn_fault_t *fault)
{
    const json_t *scope = zn_json_at(body, "auth.scope");
    *out = json_object();
    if (scope == NULL) {
        return 0;
    }
    const json_t *project = json_object_get(scope, "project");
    const json_t *domain = json_object_get(scope, "domain");
    zn_id_domain_t d = {0};
    zn_id_project_t p = {0};
    const char *domain_id = NULL;
    int rc = ZN_EAUTH;
    if (project != NULL && json_is_object(project)) {
        const char *id = zn_json_str_at(project, "id");
        if (id != NULL) {
            rc = zn_idstore_get(self->store, ZN_ID_PROJECT, id, &p);
        } else if (s_domain_id(self, json_object_get(project, "domain"), &d, &domain_id) == 0) {
            rc = zn_idstore_find(self->store, ZN_ID_PROJECT, domain_id,
                                 zn_json_str_at(project, "name"), &p);
        }
        if (rc == 0) {
            (void)json_object_set_new(*out, "project_id", json_string(p.id));
        }
    } else if (domain != NULL && json_is_object(domain)) {
        rc = s_domain_id(self, domain, &d, &domain_id);
        if (rc == 0) {
            (void)json_object_set_new(*out, "domain_id", json_string(domain_id));
        }
    }
    zn_idstore_release(ZN_ID_DOMAIN, &d);
    zn_idstore_release(ZN_ID_PROJECT, &p);
    return rc == 0 ? 0 : zn_fault_set(fault, ZN_EAUTH, "the requested scope is not available");
}

static void
s_send_token(zn_identity_t *self, zn_http_req_t *http, const zn_idauth_result_t *result,
             const char *token)
{
    zn_http_add_header(http, "X-Subject-Token", token);
    zn__identity_reply(http, 201, zn__identity_token_json(self, result));
}

/* Issue for USER with the scope in SCOPE_JSON; answers HTTP either way. */
static void
s_issue(zn_identity_t *self, zn_http_req_t *http, const zn_id_user_t *user,
        const json_t *scope_json, const char *method, const zn_token_claims_t *chain)
{
    zn_idauth_scope_t scope = {zn_json_str_at(scope_json, "project_id"),
                               zn_json_str_at(scope_json, "domain_id")};
    bool by_default = scope.project_id == NULL && scope.domain_id == NULL && chain == NULL &&
                      user->default_project_id != NULL;
    if (by_default) {
        scope.project_id = user->default_project_id; /* Keystone scopes to the default */
    }
    zn_fault_t fault;
    zn_fault_clear(&fault);
    char *token = NULL;
    zn_idauth_result_t result;
    int rc = zn_idauth_issue(self->auth, user, &scope, method, chain, &token, &result, &fault);
    if (rc < 0 && by_default && user->enabled) {
        /* No access to the default project any more: an unscoped token, as Keystone gives. */
        scope.project_id = NULL;
        rc = zn_idauth_issue(self->auth, user, &scope, method, chain, &token, &result, &fault);
    }
    if (rc < 0) {
        zn__identity_error(http, rc, zn_fault_message(&fault));
        return;
    }
    s_send_token(self, http, &result, token);
    zn_idauth_result_release(&result);
    zn_str_free(&token);
}

static void
s_password_checked(zn_identity_t *self, zn_idjob_t *job, bool match, const char *hash)
{
    (void)hash;
    int64_t now = zn_clock_mono_ms();
    const zn_id_user_t *user = job->record;
    if (!match || user->id == NULL) {
        zn_ratelimit_fail(self->limit_user, job->limit_user_key, now);
        zn_ratelimit_fail(self->limit_peer, job->peer, now);
        zn__identity_error(job->http, ZN_EAUTH, S_UNAUTHORIZED);
        return;
    }
    zn_ratelimit_reset(self->limit_user, job->limit_user_key);
    s_issue(self, job->http, user, job->body, "password", NULL);
}

static int
s_auth_password(zn_idreq_t *req, zn_fault_t *fault)
{
    zn_identity_t *self = req->self;
    const json_t *user_json = zn_json_at(req->body, "auth.identity.password.user");
    const char *password = zn_json_str_at(user_json, "password");
    const char *name = zn_json_str_at(user_json, "name");
    const char *id = zn_json_str_at(user_json, "id");
    if (password == NULL || (name == NULL && id == NULL)) {
        return zn_fault_set(fault, -EINVAL,
                            "auth.identity.password.user needs a password and "
                            "an id or a name");
    }
    zn_idjob_t *job = zn_calloc(1, sizeof(*job));
    job->http = req->http;
    job->kind = ZN_ID_USER;
    job->record = zn_idstore_record_new(ZN_ID_USER);
    job->fn = s_password_checked;
    job->peer = zn_strdup(zn_http_peer(req->http));
    const char *domain = zn_json_str_at(user_json, "domain.id");
    job->limit_user_key =
        id != NULL ? zn_strdup(id) : zn_asprintf("%s/%s", domain ? domain : "", name);
    int64_t now = zn_clock_mono_ms();
    int rc = s_resolve_scope(self, req->body, &job->body, fault);
    if (rc == 0 && (zn_ratelimit_is_blocked(self->limit_user, job->limit_user_key, now) ||
                    zn_ratelimit_is_blocked(self->limit_peer, job->peer, now))) {
        rc = zn_fault_set(fault, -EBUSY, "too many failed logins: try again later");
    }
    if (rc < 0) {
        zn__identity_job_free(&job);
        return rc;
    }
    /* Unknown user: verify against the dummy hash, so that timing reveals nothing. */
    const char *hash = NULL;
    if (s_find_user(self, user_json, job->record) == 0) {
        hash = ((zn_id_user_t *)job->record)->password_hash;
    }
    return zn__identity_queue(self, job, true, hash, password);
}

static int
s_auth_token(zn_idreq_t *req, zn_fault_t *fault)
{
    const char *token = zn_json_str_at(req->body, "auth.identity.token.id");
    if (token == NULL) {
        return zn_fault_set(fault, -EINVAL, "auth.identity.token.id is required");
    }
    zn_idauth_result_t old;
    int rc = zn_idauth_validate(req->self->auth, token, zn_clock_wall_ms(), &old, fault);
    json_t *scope = NULL;
    if (rc == 0) {
        rc = s_resolve_scope(req->self, req->body, &scope, fault);
    }
    if (rc == 0) {
        s_issue(req->self, req->http, &old.user, scope, "token", &old.claims);
    }
    json_decref(scope);
    zn_idauth_result_release(&old); /* empty after a failed validation: harmless */
    return rc;
}

static bool
s_has_method(const json_t *methods, const char *name)
{
    size_t index = 0;
    json_t *value = NULL;
    json_array_foreach(methods, index, value)
    {
        if (json_is_string(value) && strcmp(json_string_value(value), name) == 0) {
            return true;
        }
    }
    return false;
}

static int
s_auth_issue(zn_idreq_t *req, zn_fault_t *fault)
{
    const json_t *methods = zn_json_at(req->body, "auth.identity.methods");
    if (!json_is_array(methods)) {
        return zn_fault_set(fault, -EINVAL, "auth.identity.methods is required");
    }
    if (s_has_method(methods, "password")) {
        return s_auth_password(req, fault);
    }
    if (s_has_method(methods, "token")) {
        return s_auth_token(req, fault);
    }
    return zn_fault_set(fault, ZN_EAUTH, "Attempted to authenticate with an unsupported method.");
}

/* Validate X-Subject-Token for GET/HEAD/DELETE; the caller must own it or be admin. */
static int
s_subject(zn_idreq_t *req, zn_idauth_result_t *subject, zn_fault_t *fault)
{
    const char *token = zn_http_header(req->http, "X-Subject-Token");
    if (token == NULL) {
        return zn_fault_set(fault, -EINVAL, "X-Subject-Token is required");
    }
    zn_fault_t why;
    if (zn_idauth_validate(req->self->auth, token, zn_clock_wall_ms(), subject, &why) < 0) {
        return zn_fault_set(fault, -ENOENT, "Could not find token: %s", zn_fault_message(&why));
    }
    zn_policy_target_t target = {NULL, subject->claims.user_id};
    const char *action = strcmp(zn_http_method(req->http), "DELETE") == 0
                             ? "identity:revoke_token"
                             : "identity:validate_token";
    int rc = zn_policy_check(action, &req->creds, &target, fault);
    if (rc < 0) {
        zn_idauth_result_release(subject);
    }
    return rc;
}

static int
s_auth_validate(zn_idreq_t *req, zn_fault_t *fault)
{
    zn_idauth_result_t subject;
    int rc = s_subject(req, &subject, fault);
    if (rc < 0) {
        return rc;
    }
    zn_http_add_header(req->http, "X-Subject-Token", zn_http_header(req->http, "X-Subject-Token"));
    json_t *body = strcmp(zn_http_method(req->http), "HEAD") == 0
                       ? NULL
                       : zn__identity_token_json(req->self, &subject);
    zn__identity_reply(req->http, 200, body);
    zn_idauth_result_release(&subject);
    return 0;
}

static int
s_auth_revoke(zn_idreq_t *req, zn_fault_t *fault)
{
    zn_idauth_result_t subject;
    int rc = s_subject(req, &subject, fault);
    if (rc < 0) {
        return rc;
    }
    rc = zn_idauth_revoke(req->self->auth, subject.claims.audit_id, NULL, NULL, fault);
    zn_idauth_result_release(&subject);
    if (rc == 0) {
        zn__identity_reply(req->http, 204, NULL);
    }
    return rc;
}

static int
s_auth_catalog(zn_idreq_t *req, zn_fault_t *fault)
{
    if (req->creds.project_id == NULL) {
        return zn_fault_set(fault, ZN_EFORBIDDEN, "a project-scoped token is required");
    }
    json_t *catalog = zn__identity_catalog_json(req->self, req->creds.project_id);
    char *href = zn_asprintf("%s/v3/auth/catalog", req->base_url);
    zn__identity_reply(req->http, 200,
                       json_pack("{s:o,s:{s:s}}", "catalog", catalog, "links", "self", href));
    zn_str_free(&href);
    return 0;
}

typedef struct s_projects {
    zn_idreq_t *req;
    json_t *out;
} s_projects_t;

static int
s_add_project(void *arg, const void *obj)
{
    s_projects_t *ctx = arg;
    const zn_id_assignment_t *a = obj;
    zn_id_project_t p;
    if (json_object_get(ctx->out, a->project_id) == NULL &&
        zn_idstore_get(ctx->req->self->store, ZN_ID_PROJECT, a->project_id, &p) == 0) {
        (void)json_object_set_new(ctx->out, a->project_id,
                                  zn__identity_record_json(ZN_ID_PROJECT, &p, ctx->req->base_url));
        zn_idstore_release(ZN_ID_PROJECT, &p);
    }
    return 0;
}

static int
s_auth_projects(zn_idreq_t *req, zn_fault_t *fault)
{
    const char *user_id = req->captures[0] != NULL ? req->captures[0] : req->creds.user_id;
    s_projects_t ctx = {req, json_object()};
    int rc =
        zn_idstore_each(req->self->store, ZN_ID_ASSIGNMENT, user_id, NULL, s_add_project, &ctx);
    json_t *list = json_array();
    const char *key = NULL;
    json_t *value = NULL;
    json_object_foreach(ctx.out, key, value)
    {
        (void)json_array_append(list, value);
    }
    json_decref(ctx.out);
    if (rc < 0) {
        json_decref(list);
        return zn_fault_set(fault, rc, "cannot list projects");
    }
    zn__identity_reply(req->http, 200, json_pack("{s:o,s:{}}", "projects", list, "links"));
    return 0;
}

const zn_idroute_t zn__identity_auth_routes[] = {
    {"POST", "/v3/auth/tokens", s_auth_issue, ZN_R_BODY, NULL, -1, -1},
    {"GET", "/v3/auth/tokens", s_auth_validate, ZN_R_TOKEN, NULL, -1, -1},
    {"HEAD", "/v3/auth/tokens", s_auth_validate, ZN_R_TOKEN, NULL, -1, -1},
    {"DELETE", "/v3/auth/tokens", s_auth_revoke, ZN_R_TOKEN, NULL, -1, -1},
    {"GET", "/v3/auth/catalog", s_auth_catalog, ZN_R_TOKEN, "identity:get_auth_catalog", -1, -1},
    {"GET", "/v3/auth/projects", s_auth_projects, ZN_R_TOKEN, "identity:get_auth_projects", -1, -1},
    {"GET", "/v3/users/*/projects", s_auth_projects, ZN_R_TOKEN, "identity:list_user_projects", -1,
     0},
    {NULL, NULL, NULL, 0, NULL, -1, -1},
};
