/* SPDX-License-Identifier: Apache-2.0 */
/* zn_identity_admin.c - /v3 domains, projects, users, roles, grants, role assignments,
 * services and endpoints. One set of generic handlers serves every kind: the record schema
 * says which fields exist and which are required, S_KINDS below says the rest. */
#include <errno.h>
#include <string.h>

#include "zn_identity_int.h"
#include "zn_json.h"
#include "zn_log.h"
#include "zn_mem.h"

typedef struct s_kind {
    zn_id_kind_t kind;
    const char *collection; /* "/v3/projects" segment */
    const char *member;     /* the JSON key of one record */
} s_kind_t;

static const s_kind_t s_kinds[] = {
    {ZN_ID_DOMAIN, "domains", "domain"},    {ZN_ID_PROJECT, "projects", "project"},
    {ZN_ID_USER, "users", "user"},          {ZN_ID_ROLE, "roles", "role"},
    {ZN_ID_SERVICE, "services", "service"}, {ZN_ID_ENDPOINT, "endpoints", "endpoint"},
};

static const s_kind_t *
s_kind_of(const char *path)
{
    const char *name = path + strlen("/v3/");
    for (size_t i = 0; i < ZN_ARRAY_COUNT(s_kinds); i++) {
        size_t len = strlen(s_kinds[i].collection);
        if (strncmp(name, s_kinds[i].collection, len) == 0 &&
            (name[len] == '/' || name[len] == '\0')) {
            return &s_kinds[i];
        }
    }
    ZN_ASSERT(!"a route names a collection without a kind");
    return NULL;
}

static const char *
s_field(const void *obj, const zn_field_t *f)
{
    return zn_idstore_str(obj, f->offset);
}

/* ---- list ------------------------------------------------------------------------------- */

typedef struct s_list {
    zn_idreq_t *req;
    const s_kind_t *k;
    json_t *out;
    bool own_project_only;
} s_list_t;

static bool
s_matches_query(const s_list_t *ctx, const void *obj)
{
    const zn_schema_t *schema = zn_idstore_schema(ctx->k->kind);
    for (size_t i = 0; i < schema->field_count; i++) {
        const zn_field_t *f = &schema->fields[i];
        const char *want = f->type == ZN_FT_STR && strcmp(f->name, "password_hash") != 0
                               ? zn_http_query(ctx->req->http, f->name)
                               : NULL;
        const char *have = want != NULL ? s_field(obj, f) : NULL;
        if (want != NULL && (have == NULL || strcmp(want, have) != 0)) {
            return false;
        }
    }
    return !ctx->own_project_only ||
           strcmp(zn_idstore_str(obj, 0), ctx->req->creds.project_id) == 0;
}

static int
s_list_one(void *arg, const void *obj)
{
    s_list_t *ctx = arg;
    if (s_matches_query(ctx, obj)) {
        (void)json_array_append_new(
            ctx->out, zn__identity_record_json(ctx->k->kind, obj, ctx->req->base_url));
    }
    return 0;
}

static int
s_list(zn_idreq_t *req, zn_fault_t *fault)
{
    const s_kind_t *k = s_kind_of(req->path);
    s_list_t ctx = {req, k, json_array(),
                    k->kind == ZN_ID_PROJECT && !zn_policy_is_admin(&req->creds)};
    int rc = zn_idstore_each(req->self->store, k->kind, NULL, NULL, s_list_one, &ctx);
    if (rc < 0) {
        json_decref(ctx.out);
        return zn_fault_set(fault, rc, "cannot list %s", k->collection);
    }
    char *href = zn_asprintf("%s/v3/%s", req->base_url, k->collection);
    zn__identity_reply(req->http, 200,
                       json_pack("{s:o,s:{s:s,s:n,s:n}}", k->collection, ctx.out, "links", "self",
                                 href, "previous", "next"));
    zn_str_free(&href);
    return 0;
}

/* ---- get ---------------------------------------------------------------------------------- */

static int
s_get(zn_idreq_t *req, zn_fault_t *fault)
{
    const s_kind_t *k = s_kind_of(req->path);
    void *obj = zn_idstore_record_new(k->kind);
    int rc = zn_idstore_get(req->self->store, k->kind, req->captures[0], obj);
    if (rc == 0) {
        zn__identity_reply(
            req->http, 200,
            json_pack("{s:o}", k->member, zn__identity_record_json(k->kind, obj, req->base_url)));
    } else {
        rc = zn_fault_set(fault, -ENOENT, "Could not find %s: %s.", k->member, req->captures[0]);
    }
    zn_idstore_record_free(k->kind, &obj);
    return rc;
}

/* ---- create and update ------------------------------------------------------------------ */

static bool
s_exists(zn_identity_t *self, zn_id_kind_t kind, const char *id)
{
    void *obj = zn_idstore_record_new(kind);
    bool found = id != NULL && zn_idstore_get(self->store, kind, id, obj) == 0;
    zn_idstore_record_free(kind, &obj);
    return found;
}

/* Kind-specific checks of a record about to be stored: references exist, values allowed. */
static int
s_check_record(zn_identity_t *self, zn_id_kind_t kind, const void *obj, zn_fault_t *fault)
{
    if (kind == ZN_ID_PROJECT || kind == ZN_ID_USER) {
        const char *domain_id = kind == ZN_ID_PROJECT ? ((const zn_id_project_t *)obj)->domain_id
                                                      : ((const zn_id_user_t *)obj)->domain_id;
        if (!s_exists(self, ZN_ID_DOMAIN, domain_id)) {
            return zn_fault_set(fault, -EINVAL, "domain %s does not exist", domain_id);
        }
    }
    if (kind == ZN_ID_USER) {
        const char *project = ((const zn_id_user_t *)obj)->default_project_id;
        if (project != NULL && !s_exists(self, ZN_ID_PROJECT, project)) {
            return zn_fault_set(fault, -EINVAL, "default project %s does not exist", project);
        }
    }
    if (kind == ZN_ID_ENDPOINT) {
        const zn_id_endpoint_t *e = obj;
        if (!s_exists(self, ZN_ID_SERVICE, e->service_id)) {
            return zn_fault_set(fault, -EINVAL, "service %s does not exist", e->service_id);
        }
        if (strcmp(e->interface, "public") != 0 && strcmp(e->interface, "internal") != 0 &&
            strcmp(e->interface, "admin") != 0) {
            return zn_fault_set(fault, -EINVAL, "interface must be public, internal or admin");
        }
    }
    return 0;
}

static int
s_check_required(zn_id_kind_t kind, const void *obj, zn_fault_t *fault)
{
    const zn_schema_t *schema = zn_idstore_schema(kind);
    for (size_t i = 0; i < schema->field_count; i++) {
        const zn_field_t *f = &schema->fields[i];
        if ((f->flags & ZN_F_REQUIRED) && f->type == ZN_FT_STR && s_field(obj, f) == NULL) {
            return zn_fault_set(fault, -EINVAL, "Invalid input for field '%s': required", f->name);
        }
        if (f->type == ZN_FT_STR && s_field(obj, f) != NULL && s_field(obj, f)[0] == '\0' &&
            strcmp(f->name, "name") == 0) {
            return zn_fault_set(fault, -EINVAL, "Invalid input for field 'name': empty");
        }
    }
    return 0;
}

typedef enum {
    S_UPDATE = 0,
    S_CREATE = 1,
    S_UPDATE_QUIET = 2, /* answer 204 without a body (password change) */
} s_mode_t;

/* Store OBJ (create or update) and answer with it. */
static int
s_store(zn_identity_t *self, zn_http_req_t *http, const char *base_url, zn_id_kind_t kind,
        const void *obj, s_mode_t mode, zn_fault_t *fault)
{
    bool create = mode == S_CREATE;
    int rc = s_check_required(kind, obj, fault);
    if (rc == 0) {
        rc = s_check_record(self, kind, obj, fault);
    }
    if (rc == 0) {
        rc = create ? zn_idstore_create(self->store, kind, obj, fault)
                    : zn_idstore_update(self->store, kind, obj, fault);
    }
    if (rc == 0 && mode == S_UPDATE_QUIET) {
        zn__identity_reply(http, 204, NULL);
    } else if (rc == 0) {
        const s_kind_t *k = NULL;
        for (size_t i = 0; i < ZN_ARRAY_COUNT(s_kinds); i++) {
            k = s_kinds[i].kind == kind ? &s_kinds[i] : k;
        }
        zn__identity_reply(
            http, create ? 201 : 200,
            json_pack("{s:o}", k->member, zn__identity_record_json(kind, obj, base_url)));
    }
    return rc;
}

void
zn__identity_user_hashed(zn_identity_t *self, zn_idjob_t *job, bool match, const char *hash)
{
    (void)match;
    zn_id_user_t *user = job->record;
    zn_fault_t fault;
    zn_fault_clear(&fault);
    int rc = hash != NULL ? 0 : zn_fault_set(&fault, -ENOMEM, "cannot hash the password");
    if (rc == 0) {
        zn_free(user->password_hash);
        user->password_hash = zn_strdup(hash);
        json_int_t mode = json_integer_value(json_object_get(job->body, "mode"));
        rc = s_store(self, job->http, job->base_url, ZN_ID_USER, user, (s_mode_t)mode, &fault);
    }
    if (rc < 0) {
        zn__identity_error(job->http, rc, zn_fault_message(&fault));
    }
}

/* Users with a password are stored once the hasher has made its hash. */
static int
s_store_or_hash(zn_idreq_t *req, zn_id_kind_t kind, void **obj_p, const json_t *in, bool create,
                zn_fault_t *fault)
{
    const char *password = json_string_value(json_object_get(in, "password"));
    if (kind != ZN_ID_USER || password == NULL) {
        return s_store(req->self, req->http, req->base_url, kind, *obj_p,
                       create ? S_CREATE : S_UPDATE, fault);
    }
    int rc = s_check_required(kind, *obj_p, fault);
    if (rc < 0) {
        return rc;
    }
    zn_idjob_t *job = zn_calloc(1, sizeof(*job));
    job->http = req->http;
    job->base_url = zn_strdup(req->base_url);
    job->kind = ZN_ID_USER;
    job->record = *obj_p;
    *obj_p = NULL;
    job->body = json_pack("{s:i}", "mode", create ? S_CREATE : S_UPDATE);
    job->fn = zn__identity_user_hashed;
    return zn__identity_queue(req->self, job, false, NULL, password);
}

static int
s_create(zn_idreq_t *req, zn_fault_t *fault)
{
    const s_kind_t *k = s_kind_of(req->path);
    const json_t *in = json_object_get(req->body, k->member);
    if (!json_is_object(in)) {
        return zn_fault_set(fault, -EINVAL, "Invalid input: '%s' object is required", k->member);
    }
    void *obj = zn_idstore_record_new(k->kind);
    char id[33];
    zn_idstore_new_id(id);
    zn_idstore_set_str(obj, 0, zn_strdup(id));
    int rc = zn__identity_record_from_json(k->kind, in, obj, fault);
    if (rc == 0 && k->kind != ZN_ID_ROLE && json_object_get(in, "enabled") == NULL) {
        /* Records are enabled unless the client says otherwise; the field's offset varies. */
        const zn_schema_t *schema = zn_idstore_schema(k->kind);
        for (size_t i = 0; i < schema->field_count; i++) {
            if (strcmp(schema->fields[i].name, "enabled") == 0) {
                zn_idstore_set_bool(obj, schema->fields[i].offset, true);
            }
        }
    }
    if (rc == 0 && (k->kind == ZN_ID_PROJECT || k->kind == ZN_ID_USER)) {
        char **domain = k->kind == ZN_ID_PROJECT ? &((zn_id_project_t *)obj)->domain_id
                                                 : &((zn_id_user_t *)obj)->domain_id;
        if (*domain == NULL) {
            *domain = zn_strdup("default");
        }
    }
    if (rc == 0) {
        rc = s_store_or_hash(req, k->kind, &obj, in, true, fault);
    }
    zn_idstore_record_free(k->kind, &obj);
    return rc;
}

/* Revoke every token of a user or project that was just disabled, deleted or re-passworded. */
static int
s_revoke_for(zn_identity_t *self, zn_id_kind_t kind, const char *id, zn_fault_t *fault)
{
    if (kind == ZN_ID_USER) {
        return zn_idauth_revoke(self->auth, NULL, id, NULL, fault);
    }
    return kind == ZN_ID_PROJECT ? zn_idauth_revoke(self->auth, NULL, NULL, id, fault) : 0;
}

static int
s_update(zn_idreq_t *req, zn_fault_t *fault)
{
    const s_kind_t *k = s_kind_of(req->path);
    const json_t *in = json_object_get(req->body, k->member);
    if (!json_is_object(in)) {
        return zn_fault_set(fault, -EINVAL, "Invalid input: '%s' object is required", k->member);
    }
    void *obj = zn_idstore_record_new(k->kind);
    int rc = zn_idstore_get(req->self->store, k->kind, req->captures[0], obj);
    if (rc < 0) {
        rc = zn_fault_set(fault, -ENOENT, "Could not find %s: %s.", k->member, req->captures[0]);
    }
    if (rc == 0) {
        rc = zn__identity_record_from_json(k->kind, in, obj, fault);
    }
    if (rc == 0 && json_is_false(json_object_get(in, "enabled"))) {
        rc = s_revoke_for(req->self, k->kind, req->captures[0], fault);
    }
    if (rc == 0) {
        rc = s_store_or_hash(req, k->kind, &obj, in, false, fault);
    }
    zn_idstore_record_free(k->kind, &obj);
    return rc;
}

/* ---- delete ------------------------------------------------------------------------------- */

typedef struct s_purge {
    zn_identity_t *self;
    zn_id_kind_t kind;
    const char *id;
    int rc;
} s_purge_t;

static int
s_purge_one(void *arg, const void *obj)
{
    s_purge_t *ctx = arg;
    const zn_id_assignment_t *a = obj;
    bool hit = (ctx->kind == ZN_ID_ROLE && strcmp(a->role_id, ctx->id) == 0) ||
               (ctx->kind == ZN_ID_USER && strcmp(a->user_id, ctx->id) == 0) ||
               (ctx->kind == ZN_ID_PROJECT && strcmp(a->project_id, ctx->id) == 0);
    if (hit) {
        zn_fault_t fault;
        int rc = zn_idstore_delete(ctx->self->store, ZN_ID_ASSIGNMENT, a->id, &fault);
        ctx->rc = rc < 0 ? rc : ctx->rc;
    }
    return 0;
}

static int
s_delete(zn_idreq_t *req, zn_fault_t *fault)
{
    const s_kind_t *k = s_kind_of(req->path);
    const char *id = req->captures[0];
    if (k->kind == ZN_ID_DOMAIN && strcmp(id, "default") == 0) {
        return zn_fault_set(fault, ZN_EFORBIDDEN, "the default domain cannot be deleted");
    }
    int rc = zn_idstore_delete(req->self->store, k->kind, id, fault);
    if (rc < 0) {
        return rc == -ENOENT ? zn_fault_set(fault, -ENOENT, "Could not find %s: %s.", k->member, id)
                             : rc;
    }
    s_purge_t purge = {req->self, k->kind, id, 0};
    rc = zn_idstore_each(req->self->store, ZN_ID_ASSIGNMENT, NULL, NULL, s_purge_one, &purge);
    if (rc == 0) {
        rc = s_revoke_for(req->self, k->kind, id, fault);
    }
    if (rc == 0) {
        zn__identity_reply(req->http, 204, NULL);
    }
    return rc;
}

/* ---- password change ------------------------------------------------------------------- */

static void
s_password_verified(zn_identity_t *self, zn_idjob_t *job, bool match, const char *hash)
{
    (void)hash;
    if (!match) {
        zn__identity_error(job->http, ZN_EAUTH, "The original password is wrong.");
        return;
    }
    zn_idjob_t *next = zn_calloc(1, sizeof(*next));
    next->http = job->http;
    next->base_url = zn_strdup(job->base_url);
    next->kind = ZN_ID_USER;
    next->record = job->record;
    job->record = NULL;
    next->body = json_pack("{s:i}", "mode", S_UPDATE_QUIET);
    next->fn = zn__identity_user_hashed;
    const char *password = zn_json_str_at(job->body, "password");
    zn_fault_t fault;
    int rc = zn_idauth_revoke(self->auth, NULL, ((zn_id_user_t *)next->record)->id, NULL, &fault);
    if (rc < 0) {
        zn__identity_job_free(&next);
        zn__identity_error(job->http, rc, zn_fault_message(&fault));
        return;
    }
    /* The request stays deferred: the second job answers it. */
    rc = zn__identity_queue(self, next, false, NULL, password);
    if (rc < 0) {
        zn__identity_error(job->http, rc, "cannot queue the new password");
    }
}

static int
s_change_password(zn_idreq_t *req, zn_fault_t *fault)
{
    const char *original = zn_json_str_at(req->body, "user.original_password");
    const char *password = zn_json_str_at(req->body, "user.password");
    if (original == NULL || password == NULL) {
        return zn_fault_set(fault, -EINVAL, "user.original_password and user.password required");
    }
    zn_idjob_t *job = zn_calloc(1, sizeof(*job));
    job->http = req->http;
    job->base_url = zn_strdup(req->base_url);
    job->kind = ZN_ID_USER;
    job->record = zn_idstore_record_new(ZN_ID_USER);
    job->body = json_pack("{s:s}", "password", password);
    job->fn = s_password_verified;
    if (zn_idstore_get(req->self->store, ZN_ID_USER, req->captures[0], job->record) < 0) {
        zn__identity_job_free(&job);
        return zn_fault_set(fault, -ENOENT, "Could not find user: %s.", req->captures[0]);
    }
    const char *hash = ((zn_id_user_t *)job->record)->password_hash;
    return zn__identity_queue(req->self, job, true, hash, original);
}

/* ---- grants: /v3/projects/P/users/U/roles[/R] ------------------------------------------- */

static int
s_grant_check_refs(zn_idreq_t *req, zn_fault_t *fault)
{
    static const zn_id_kind_t kinds[] = {ZN_ID_PROJECT, ZN_ID_USER, ZN_ID_ROLE};
    static const char *const names[] = {"project", "user", "role"};
    for (size_t i = 0; i < ZN_ARRAY_COUNT(kinds); i++) {
        if (req->captures[i] != NULL && !s_exists(req->self, kinds[i], req->captures[i])) {
            return zn_fault_set(fault, -ENOENT, "Could not find %s: %s.", names[i],
                                req->captures[i]);
        }
    }
    return 0;
}

static int
s_grant(zn_idreq_t *req, zn_fault_t *fault)
{
    int rc = s_grant_check_refs(req, fault);
    if (rc < 0) {
        return rc;
    }
    const char *method = zn_http_method(req->http);
    char *id = zn_idstore_assignment_id(req->captures[0], req->captures[1], req->captures[2]);
    bool held =
        zn_idstore_has_role(req->self->store, req->captures[0], req->captures[1], req->captures[2]);
    if (strcmp(method, "PUT") == 0 && !held) {
        zn_id_assignment_t a = {id, req->captures[0], req->captures[1], req->captures[2]};
        rc = zn_idstore_create(req->self->store, ZN_ID_ASSIGNMENT, &a, fault);
    } else if (strcmp(method, "DELETE") == 0) {
        rc = held ? zn_idstore_delete(req->self->store, ZN_ID_ASSIGNMENT, id, fault)
                  : zn_fault_set(fault, -ENOENT, "Could not find role assignment.");
    } else if (strcmp(method, "PUT") != 0 && !held) {
        rc = zn_fault_set(fault, -ENOENT, "Could not find role assignment.");
    }
    zn_str_free(&id);
    if (rc == 0) {
        zn__identity_reply(req->http, 204, NULL);
    }
    return rc;
}

/* ---- role assignments and a user's roles on a project ------------------------------------ */

typedef struct s_assignments {
    zn_idreq_t *req;
    const char *role_id;
    const char *project_id;
    const char *user_id;
    bool names;
    bool roles_only; /* GET /v3/projects/P/users/U/roles: role objects */
    json_t *out;
} s_assignments_t;

static json_t *
s_ref(zn_idreq_t *req, zn_id_kind_t kind, const char *id, bool names)
{
    json_t *ref = json_pack("{s:s}", "id", id);
    void *obj = zn_idstore_record_new(kind);
    if (names && zn_idstore_get(req->self->store, kind, id, obj) == 0) {
        (void)json_object_set_new(ref, "name", json_string(((zn_id_role_t *)obj)->name));
        if (kind != ZN_ID_ROLE) {
            const char *domain = kind == ZN_ID_USER ? ((zn_id_user_t *)obj)->domain_id
                                                    : ((zn_id_project_t *)obj)->domain_id;
            zn_id_domain_t d;
            bool known = zn_idstore_get(req->self->store, ZN_ID_DOMAIN, domain, &d) == 0;
            (void)json_object_set_new(
                ref, "domain",
                json_pack("{s:s,s:s}", "id", domain, "name", known ? d.name : domain));
            zn_idstore_release(ZN_ID_DOMAIN, &d);
        }
    }
    zn_idstore_record_free(kind, &obj);
    return ref;
}

static int
s_assignment_one(void *arg, const void *obj)
{
    s_assignments_t *ctx = arg;
    const zn_id_assignment_t *a = obj;
    if ((ctx->role_id && strcmp(ctx->role_id, a->role_id) != 0) ||
        (ctx->project_id && strcmp(ctx->project_id, a->project_id) != 0) ||
        (ctx->user_id && strcmp(ctx->user_id, a->user_id) != 0)) {
        return 0;
    }
    zn_idreq_t *req = ctx->req;
    if (ctx->roles_only) {
        void *role = zn_idstore_record_new(ZN_ID_ROLE);
        if (zn_idstore_get(req->self->store, ZN_ID_ROLE, a->role_id, role) == 0) {
            (void)json_array_append_new(ctx->out,
                                        zn__identity_record_json(ZN_ID_ROLE, role, req->base_url));
        }
        zn_idstore_record_free(ZN_ID_ROLE, &role);
        return 0;
    }
    char *href = zn_asprintf("%s/v3/projects/%s/users/%s/roles/%s", req->base_url, a->project_id,
                             a->user_id, a->role_id);
    json_t *entry = json_pack(
        "{s:o,s:o,s:{s:o},s:{s:s}}", "role", s_ref(req, ZN_ID_ROLE, a->role_id, ctx->names), "user",
        s_ref(req, ZN_ID_USER, a->user_id, ctx->names), "scope", "project",
        s_ref(req, ZN_ID_PROJECT, a->project_id, ctx->names), "links", "assignment", href);
    (void)json_array_append_new(ctx->out, entry);
    zn_str_free(&href);
    return 0;
}

static int
s_role_assignments(zn_idreq_t *req, zn_fault_t *fault)
{
    zn_http_req_t *http = req->http;
    s_assignments_t ctx = {
        .req = req,
        .role_id = zn_http_query(http, "role.id"),
        .project_id = zn_http_query(http, "scope.project.id"),
        .user_id = zn_http_query(http, "user.id"),
        .names = zn_http_query(http, "include_names") != NULL,
        .out = json_array(),
    };
    if (zn_http_query(http, "scope.domain.id") != NULL || zn_http_query(http, "group.id") != NULL) {
        ctx.project_id = ""; /* no domain or group assignments here: match nothing */
    }
    int rc = zn_idstore_each(req->self->store, ZN_ID_ASSIGNMENT, ctx.user_id, ctx.project_id,
                             s_assignment_one, &ctx);
    if (rc < 0) {
        json_decref(ctx.out);
        return zn_fault_set(fault, rc, "cannot list role assignments");
    }
    zn__identity_reply(http, 200, json_pack("{s:o,s:{}}", "role_assignments", ctx.out, "links"));
    return 0;
}

static int
s_user_roles(zn_idreq_t *req, zn_fault_t *fault)
{
    int rc = s_grant_check_refs(req, fault);
    s_assignments_t ctx = {.req = req,
                           .project_id = req->captures[0],
                           .user_id = req->captures[1],
                           .roles_only = true,
                           .out = json_array()};
    if (rc == 0) {
        rc = zn_idstore_each(req->self->store, ZN_ID_ASSIGNMENT, ctx.user_id, NULL,
                             s_assignment_one, &ctx);
    }
    if (rc < 0) {
        json_decref(ctx.out);
        return rc == -ENOENT ? rc : zn_fault_set(fault, rc, "cannot list roles");
    }
    zn__identity_reply(req->http, 200, json_pack("{s:o,s:{}}", "roles", ctx.out, "links"));
    return 0;
}

#define S_CRUD(coll, what, get_rule, get_project, get_user)                                        \
    {"GET", "/v3/" coll, s_list, ZN_R_TOKEN, "identity:list_" coll, -1, -1},                       \
        {"POST", "/v3/" coll, s_create, ZN_R_TOKEN | ZN_R_BODY, "identity:create_" what, -1, -1},  \
        {"GET", "/v3/" coll "/*", s_get, ZN_R_TOKEN, get_rule, get_project, get_user},             \
        {"PATCH", "/v3/" coll "/*", s_update, ZN_R_TOKEN | ZN_R_BODY, "identity:update_" what, -1, \
         -1},                                                                                      \
    {                                                                                              \
        "DELETE", "/v3/" coll "/*", s_delete, ZN_R_TOKEN, "identity:delete_" what, -1, -1          \
    }

#define S_GRANT(method, action)                                                     \
    {                                                                               \
        method, "/v3/projects/*/users/*/roles/*", s_grant, ZN_R_TOKEN, action, 0, 1 \
    }

const zn_idroute_t zn__identity_admin_routes[] = {
    S_CRUD("domains", "domain", "identity:get_domain", -1, -1),
    S_CRUD("projects", "project", "identity:get_project", 0, -1),
    S_CRUD("users", "user", "identity:get_user", -1, 0),
    S_CRUD("roles", "role", "identity:get_role", -1, -1),
    S_CRUD("services", "service", "identity:get_service", -1, -1),
    S_CRUD("endpoints", "endpoint", "identity:get_endpoint", -1, -1),
    {"POST", "/v3/users/*/password", s_change_password, ZN_R_TOKEN | ZN_R_BODY,
     "identity:change_password", -1, 0},
    S_GRANT("PUT", "identity:create_grant"),
    S_GRANT("HEAD", "identity:check_grant"),
    S_GRANT("GET", "identity:check_grant"),
    S_GRANT("DELETE", "identity:revoke_grant"),
    {"GET", "/v3/projects/*/users/*/roles", s_user_roles, ZN_R_TOKEN, "identity:list_grants", 0, 1},
    {"GET", "/v3/role_assignments", s_role_assignments, ZN_R_TOKEN,
     "identity:list_role_assignments", -1, -1},
    {NULL, NULL, NULL, 0, NULL, -1, -1},
};
