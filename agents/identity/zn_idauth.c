/* SPDX-License-Identifier: Apache-2.0 */
/* zn_idauth.c - issue, validate and revoke tokens against the identity store. */
#include "zn_idauth.h"

#include <errno.h>
#include <string.h>

#include <czmq.h>

#include "zn_clock.h"
#include "zn_mem.h"
#include "zn_policy.h"

struct zn_idauth {
    zn_idstore_t *store;
    zn_tokenkeys_t *keys;
    int64_t ttl_ms;
    zhashx_t *revoked; /* "a:AUDIT", "u:USER", "p:PROJECT" -> s_event_t */
    uint64_t generation;
    size_t learned; /* events a load found new */
};

void
zn_idauth_result_release(zn_idauth_result_t *result)
{
    zn_schema_release(&zn_token_claims_schema, &result->claims);
    zn_idstore_release(ZN_ID_USER, &result->user);
    zn_idstore_release(ZN_ID_PROJECT, &result->project);
    zn_idstore_release(ZN_ID_DOMAIN, &result->domain);
    for (size_t i = 0; i < result->role_count; i++) {
        zn_idstore_release(ZN_ID_ROLE, &result->roles[i]);
    }
    memset(result, 0, sizeof(*result));
}

/* What the memory keeps of the events for one key: the latest cut-off and when it lapses. */
typedef struct s_event {
    int64_t issued_before_ms;
    int64_t expires_at_ms;
} s_event_t;

static void
s_free_item(void **item)
{
    zn_free(*item);
    *item = NULL;
}

/* Keep EVENT in memory; true when it revokes more than what was known. */
static bool
s_remember(zn_idauth_t *self, const zn_id_revocation_t *event)
{
    bool more = false;
    char *key = event->audit_id != NULL  ? zn_asprintf("a:%s", event->audit_id)
                : event->user_id != NULL ? zn_asprintf("u:%s", event->user_id)
                                         : zn_asprintf("p:%s", event->project_id);
    s_event_t *known = zhashx_lookup(self->revoked, key);
    if (known == NULL) {
        known = zn_calloc(1, sizeof(*known));
        (void)zhashx_insert(self->revoked, key, known); /* absent: looked up above */
        more = true;
    }
    if (event->issued_before_ms > known->issued_before_ms) {
        known->issued_before_ms = event->issued_before_ms;
        more = true;
    }
    if (event->expires_at_ms > known->expires_at_ms) {
        known->expires_at_ms = event->expires_at_ms;
    }
    zn_str_free(&key);
    return more;
}

static int
s_load_one(void *arg, const void *obj)
{
    zn_idauth_t *self = arg;
    const zn_id_revocation_t *event = obj;
    if (event->expires_at_ms > zn_clock_wall_ms() &&
        (event->audit_id != NULL || event->user_id != NULL || event->project_id != NULL) &&
        s_remember(self, event)) {
        self->learned++;
    }
    return 0;
}

int
zn_idauth_refresh(zn_idauth_t *self, zn_fault_t *fault)
{
    self->learned = 0;
    int rc = zn_idstore_each(self->store, ZN_ID_REVOCATION, NULL, NULL, s_load_one, self);
    if (rc < 0) {
        return zn_fault_set(fault, rc, "cannot read revocation events: %s", zn_strerror(rc));
    }
    if (self->learned > 0) {
        self->generation++; /* API agents drop their caches when they see it move */
    }
    return (int)self->learned;
}

int
zn_idauth_open(zn_idauth_t **out, zn_idstore_t *store, zn_tokenkeys_t *keys, int64_t ttl_ms,
               zn_fault_t *fault)
{
    *out = NULL;
    zn_idauth_t *self = zn_calloc(1, sizeof(*self));
    self->store = store;
    self->keys = keys;
    self->ttl_ms = ttl_ms;
    self->revoked = zhashx_new();
    zhashx_set_destructor(self->revoked, s_free_item);
    self->generation = (uint64_t)zn_clock_wall_ms();
    int rc = zn_idstore_each(store, ZN_ID_REVOCATION, NULL, NULL, s_load_one, self);
    if (rc < 0) {
        zn_idauth_destroy(&self);
        return zn_fault_set(fault, rc, "cannot load revocation events: %s", zn_strerror(rc));
    }
    *out = self;
    return 0;
}

void
zn_idauth_destroy(zn_idauth_t **self_p)
{
    zn_idauth_t *self = *self_p;
    if (self == NULL) {
        return;
    }
    zhashx_destroy(&self->revoked);
    zn_free(self);
    *self_p = NULL;
}

/* True when an event at KIND:ID covers a token issued at ISSUED_AT_MS. */
static bool
s_matches(zn_idauth_t *self, char kind, const char *id, int64_t issued_at_ms)
{
    if (id == NULL || zhashx_size(self->revoked) == 0) {
        return false;
    }
    char key[ZN_ID_ID_MAX + 3];
    int len = snprintf(key, sizeof(key), "%c:%s", kind, id);
    if (len < 0 || (size_t)len >= sizeof(key)) {
        return false;
    }
    const s_event_t *known = zhashx_lookup(self->revoked, key);
    return known != NULL && issued_at_ms <= known->issued_before_ms;
}

static bool
s_is_revoked(zn_idauth_t *self, const zn_token_claims_t *claims)
{
    return s_matches(self, 'a', claims->audit_id, INT64_MIN) ||
           s_matches(self, 'a', claims->audit_chain_id, INT64_MIN) ||
           s_matches(self, 'u', claims->user_id, claims->issued_at_ms) ||
           s_matches(self, 'p', claims->project_id, claims->issued_at_ms);
}

/* Fill RESULT->roles with the roles USER holds on PROJECT now; with WANTED (a token's role ids)
 * only those of them still assigned. */
typedef struct s_roles {
    zn_idauth_t *self;
    zn_idauth_result_t *result;
    const char *user_id;
} s_roles_t;

static void
s_add_role(zn_idauth_t *self, zn_idauth_result_t *result, const char *role_id)
{
    if (result->role_count >= ZN_IDAUTH_ROLES_MAX) {
        return;
    }
    zn_id_role_t *role = &result->roles[result->role_count];
    if (zn_idstore_get(self->store, ZN_ID_ROLE, role_id, role) == 0) {
        result->role_bits |= zn_policy_role_bit(role->name);
        result->role_count++;
    }
}

static int
s_collect_role(void *arg, const void *obj)
{
    s_roles_t *ctx = arg;
    const zn_id_assignment_t *a = obj;
    if (strcmp(a->user_id, ctx->user_id) == 0) {
        s_add_role(ctx->self, ctx->result, a->role_id);
    }
    return 0;
}

static int
s_load_scope(zn_idauth_t *self, const zn_idauth_scope_t *scope, zn_idauth_result_t *result,
             zn_fault_t *fault)
{
    if (scope->project_id != NULL) {
        if (zn_idstore_get(self->store, ZN_ID_PROJECT, scope->project_id, &result->project) < 0 ||
            !result->project.enabled) {
            return zn_fault_set(fault, ZN_EAUTH, "project is disabled or does not exist");
        }
        s_roles_t ctx = {self, result, result->user.id};
        int rc = zn_idstore_each(self->store, ZN_ID_ASSIGNMENT, NULL, scope->project_id,
                                 s_collect_role, &ctx);
        if (rc < 0 || result->role_count == 0) {
            return zn_fault_set(fault, ZN_EAUTH, "user has no role on the requested project");
        }
    } else if (scope->domain_id != NULL) {
        if (zn_idstore_get(self->store, ZN_ID_DOMAIN, scope->domain_id, &result->domain) < 0 ||
            !result->domain.enabled) {
            return zn_fault_set(fault, ZN_EAUTH, "domain is disabled or does not exist");
        }
    }
    return 0;
}

static void
s_fill_claims(zn_idauth_t *self, zn_idauth_result_t *result, const zn_idauth_scope_t *scope,
              const char *method, const zn_token_claims_t *chain)
{
    zn_token_claims_t *c = &result->claims;
    char audit[23];
    zn_token_audit_id(audit);
    c->user_id = zn_strdup(result->user.id);
    c->project_id = scope->project_id != NULL ? zn_strdup(scope->project_id) : NULL;
    c->domain_id = scope->domain_id != NULL ? zn_strdup(scope->domain_id) : NULL;
    c->role_ids = zn_calloc(result->role_count + 1, sizeof(char *));
    for (size_t i = 0; i < result->role_count; i++) {
        c->role_ids[i] = zn_strdup(result->roles[i].id);
    }
    c->role_count = result->role_count;
    c->methods = zn_calloc(2, sizeof(char *));
    c->methods[0] = zn_strdup(method);
    c->method_count = 1;
    c->audit_id = zn_strdup(audit);
    if (chain != NULL) {
        const char *first = chain->audit_chain_id ? chain->audit_chain_id : chain->audit_id;
        c->audit_chain_id = zn_strdup(first);
    }
    c->issued_at_ms = zn_clock_wall_ms();
    c->expires_at_ms = chain != NULL ? chain->expires_at_ms : c->issued_at_ms + self->ttl_ms;
}

int
zn_idauth_issue(zn_idauth_t *self, const zn_id_user_t *user, const zn_idauth_scope_t *scope,
                const char *method, const zn_token_claims_t *chain, char **token,
                zn_idauth_result_t *result, zn_fault_t *fault)
{
    *token = NULL;
    memset(result, 0, sizeof(*result));
    zn_schema_copy(zn_idstore_schema(ZN_ID_USER), &result->user, user);
    int rc = user->enabled ? s_load_scope(self, scope, result, fault)
                           : zn_fault_set(fault, ZN_EAUTH, "user is disabled");
    if (rc < 0) {
        zn_idauth_result_release(result);
        return rc;
    }
    s_fill_claims(self, result, scope, method, chain);
    zn_token_seal(&result->claims, self->keys, token);
    return 0;
}

static int
s_refresh_rights(zn_idauth_t *self, zn_idauth_result_t *result, zn_fault_t *fault)
{
    const zn_token_claims_t *c = &result->claims;
    if (zn_idstore_get(self->store, ZN_ID_USER, c->user_id, &result->user) < 0 ||
        !result->user.enabled) {
        return zn_fault_set(fault, ZN_EAUTH, "the token's user is disabled or gone");
    }
    if (c->domain_id != NULL &&
        (zn_idstore_get(self->store, ZN_ID_DOMAIN, c->domain_id, &result->domain) < 0 ||
         !result->domain.enabled)) {
        return zn_fault_set(fault, ZN_EAUTH, "the token's domain is disabled or gone");
    }
    if (c->project_id == NULL) {
        return 0;
    }
    if (zn_idstore_get(self->store, ZN_ID_PROJECT, c->project_id, &result->project) < 0 ||
        !result->project.enabled) {
        return zn_fault_set(fault, ZN_EAUTH, "the token's project is disabled or gone");
    }
    for (size_t i = 0; i < c->role_count; i++) {
        if (zn_idstore_has_role(self->store, c->project_id, c->user_id, c->role_ids[i])) {
            s_add_role(self, result, c->role_ids[i]);
        }
    }
    return result->role_count > 0
               ? 0
               : zn_fault_set(fault, ZN_EAUTH, "the token's roles were all removed");
}

int
zn_idauth_validate(zn_idauth_t *self, const char *token, int64_t now_wall_ms,
                   zn_idauth_result_t *result, zn_fault_t *fault)
{
    memset(result, 0, sizeof(*result));
    int rc = zn_token_open(token, self->keys, now_wall_ms, &result->claims);
    if (rc == -ETIMEDOUT) {
        return zn_fault_set(fault, ZN_EAUTH, "the token has expired");
    }
    if (rc < 0) {
        return zn_fault_set(fault, ZN_EAUTH, "the token is malformed, forged or its key retired");
    }
    if (s_is_revoked(self, &result->claims)) {
        zn_idauth_result_release(result);
        return zn_fault_set(fault, ZN_EAUTH, "the token has been revoked");
    }
    rc = s_refresh_rights(self, result, fault);
    if (rc < 0) {
        zn_idauth_result_release(result);
    }
    return rc;
}

int
zn_idauth_revoke(zn_idauth_t *self, const char *audit_id, const char *user_id,
                 const char *project_id, zn_fault_t *fault)
{
    char id[33];
    zn_idstore_new_id(id);
    int64_t now = zn_clock_wall_ms();
    zn_id_revocation_t event = {
        .id = zn_strdup(id),
        .audit_id = audit_id != NULL ? zn_strdup(audit_id) : NULL,
        .user_id = user_id != NULL ? zn_strdup(user_id) : NULL,
        .project_id = project_id != NULL ? zn_strdup(project_id) : NULL,
        .issued_before_ms = now,
        .expires_at_ms = now + self->ttl_ms,
    };
    int rc = zn_idstore_create(self->store, ZN_ID_REVOCATION, &event, fault);
    if (rc == 0) {
        s_remember(self, &event);
        self->generation++;
    }
    zn_idstore_release(ZN_ID_REVOCATION, &event);
    return rc;
}

typedef struct s_prune {
    int64_t now_ms;
    zlist_t *ids;
} s_prune_t;

static int
s_collect_expired(void *arg, const void *obj)
{
    s_prune_t *ctx = arg;
    const zn_id_revocation_t *event = obj;
    if (event->expires_at_ms <= ctx->now_ms) {
        zlist_append(ctx->ids, zn_strdup(event->id));
    }
    return 0;
}

static void
s_prune_memory(zn_idauth_t *self, int64_t now_wall_ms)
{
    zlistx_t *keys = zhashx_keys(self->revoked);
    for (const char *key = zlistx_first(keys); key != NULL; key = zlistx_next(keys)) {
        const s_event_t *known = zhashx_lookup(self->revoked, key);
        if (known->expires_at_ms <= now_wall_ms) {
            zhashx_delete(self->revoked, key);
        }
    }
    zlistx_destroy(&keys);
}

int
zn_idauth_prune(zn_idauth_t *self, int64_t now_wall_ms, zn_fault_t *fault)
{
    s_prune_memory(self, now_wall_ms);
    s_prune_t ctx = {now_wall_ms, zlist_new()};
    int rc = zn_idstore_each(self->store, ZN_ID_REVOCATION, NULL, NULL, s_collect_expired, &ctx);
    int removed = 0;
    char *id = NULL;
    while ((id = zlist_pop(ctx.ids)) != NULL) {
        if (rc == 0 && zn_idstore_delete(self->store, ZN_ID_REVOCATION, id, fault) == 0) {
            removed++;
        }
        zn_free(id);
    }
    zlist_destroy(&ctx.ids);
    return rc < 0 ? zn_fault_set(fault, -EIO, "cannot prune revocation events") : removed;
}

uint64_t
zn_idauth_revocation_generation(const zn_idauth_t *self)
{
    return self->generation;
}
