/* SPDX-License-Identifier: Apache-2.0 */
/* zn_identity_json.c - identity records and tokens as Keystone v3 JSON, driven by the record
 * schemas so that a field added to a record appears in the API without more code. */
#include <errno.h>
#include <string.h>

#include "zn_clock.h"
#include "zn_identity_int.h"
#include "zn_log.h"
#include "zn_mem.h"

/* The collection name of each kind, for links ("projects"). */
static const char *const s_collections[ZN_ID_KIND_COUNT] = {
    [ZN_ID_DOMAIN] = "domains",
    [ZN_ID_PROJECT] = "projects",
    [ZN_ID_USER] = "users",
    [ZN_ID_ROLE] = "roles",
    [ZN_ID_ASSIGNMENT] = "role_assignments",
    [ZN_ID_SERVICE] = "services",
    [ZN_ID_ENDPOINT] = "endpoints",
    [ZN_ID_REVOCATION] = "revocations",
};

static bool
s_hidden(const char *field)
{
    return strcmp(field, "password_hash") == 0 || strcmp(field, "password_changed_ms") == 0;
}

static void
s_decorate(zn_id_kind_t kind, const void *obj, json_t *out)
{
    if (kind == ZN_ID_PROJECT) {
        const zn_id_project_t *p = obj;
        (void)json_object_set_new(out, "is_domain", json_false());
        (void)json_object_set_new(out, "parent_id", json_string(p->domain_id));
        (void)json_object_set_new(out, "tags", json_array());
        (void)json_object_set_new(out, "options", json_object());
        if (p->description == NULL) {
            (void)json_object_set_new(out, "description", json_string(""));
        }
    } else if (kind == ZN_ID_USER) {
        (void)json_object_set_new(out, "options", json_object());
        (void)json_object_set_new(out, "password_expires_at", json_null());
    } else if (kind == ZN_ID_ENDPOINT) {
        const zn_id_endpoint_t *e = obj;
        (void)json_object_set_new(out, "region_id", json_string(e->region));
    }
}

json_t *
zn__identity_record_json(zn_id_kind_t kind, const void *obj, const char *base_url)
{
    const zn_schema_t *schema = zn_idstore_schema(kind);
    json_t *out = json_object();
    for (size_t i = 0; i < schema->field_count; i++) {
        const zn_field_t *f = &schema->fields[i];
        if (s_hidden(f->name)) {
            continue;
        }
        if (f->type == ZN_FT_STR && zn_idstore_str(obj, f->offset) != NULL) {
            (void)json_object_set_new(out, f->name, json_string(zn_idstore_str(obj, f->offset)));
        } else if (f->type == ZN_FT_BOOL) {
            (void)json_object_set_new(out, f->name, json_boolean(zn_idstore_bool(obj, f->offset)));
        }
    }
    s_decorate(kind, obj, out);
    char *self_href =
        zn_asprintf("%s/v3/%s/%s", base_url, s_collections[kind], zn_idstore_str(obj, 0));
    (void)json_object_set_new(out, "links", json_pack("{s:s}", "self", self_href));
    zn_str_free(&self_href);
    return out;
}

static int
s_take_field(const zn_field_t *f, const json_t *value, void *obj, zn_fault_t *fault)
{
    if (f->type == ZN_FT_STR) {
        const char *text = json_string_value(value);
        if (text == NULL && !json_is_null(value)) {
            return zn_fault_set(fault, -EINVAL, "Invalid input for field '%s': not a string",
                                f->name);
        }
        if (text != NULL && (strlen(text) > f->max || json_string_length(value) != strlen(text))) {
            return zn_fault_set(fault, -EINVAL, "Invalid input for field '%s': too long", f->name);
        }
        zn_idstore_set_str(obj, f->offset, text != NULL ? zn_strdup(text) : NULL);
    } else if (f->type == ZN_FT_BOOL) {
        if (!json_is_boolean(value)) {
            return zn_fault_set(fault, -EINVAL, "Invalid input for field '%s': not a boolean",
                                f->name);
        }
        zn_idstore_set_bool(obj, f->offset, json_is_true(value));
    }
    return 0;
}

int
zn__identity_record_from_json(zn_id_kind_t kind, const json_t *in, void *obj, zn_fault_t *fault)
{
    const zn_schema_t *schema = zn_idstore_schema(kind);
    for (size_t i = 0; i < schema->field_count; i++) {
        const zn_field_t *f = &schema->fields[i];
        const json_t *value = json_object_get(in, f->name);
        if (value == NULL || strcmp(f->name, "id") == 0 || s_hidden(f->name)) {
            continue;
        }
        int rc = s_take_field(f, value, obj, fault);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

/* {"id", "name", "domain": {"id", "name"}} for a user or project in DOMAIN_ID. */
static json_t *
s_named_in_domain(zn_identity_t *self, const char *id, const char *name, const char *domain_id)
{
    zn_id_domain_t domain;
    const char *domain_name = zn_idstore_get(self->store, ZN_ID_DOMAIN, domain_id, &domain) == 0
                                  ? domain.name
                                  : domain_id;
    json_t *out = json_pack("{s:s,s:s,s:{s:s,s:s}}", "id", id, "name", name, "domain", "id",
                            domain_id, "name", domain_name);
    zn_idstore_release(ZN_ID_DOMAIN, &domain);
    return out;
}

static json_t *
s_iso(int64_t wall_ms)
{
    char text[40];
    zn_clock_format_iso(wall_ms, text, sizeof(text));
    return json_string(text);
}

json_t *
zn__identity_token_json(zn_identity_t *self, const zn_idauth_result_t *result)
{
    const zn_token_claims_t *c = &result->claims;
    json_t *token = json_object();
    json_t *methods = json_array();
    for (size_t i = 0; i < c->method_count; i++) {
        (void)json_array_append_new(methods, json_string(c->methods[i]));
    }
    (void)json_object_set_new(token, "methods", methods);
    json_t *user =
        s_named_in_domain(self, result->user.id, result->user.name, result->user.domain_id);
    (void)json_object_set_new(user, "password_expires_at", json_null());
    (void)json_object_set_new(token, "user", user);
    json_t *audit = json_pack("[s]", c->audit_id);
    if (c->audit_chain_id != NULL) {
        (void)json_array_append_new(audit, json_string(c->audit_chain_id));
    }
    (void)json_object_set_new(token, "audit_ids", audit);
    (void)json_object_set_new(token, "expires_at", s_iso(c->expires_at_ms));
    (void)json_object_set_new(token, "issued_at", s_iso(c->issued_at_ms));
    if (result->project.id != NULL) {
        (void)json_object_set_new(token, "project",
                                  s_named_in_domain(self, result->project.id, result->project.name,
                                                    result->project.domain_id));
        (void)json_object_set_new(token, "is_domain", json_false());
        json_t *roles = json_array();
        for (size_t i = 0; i < result->role_count; i++) {
            (void)json_array_append_new(roles, json_pack("{s:s,s:s}", "id", result->roles[i].id,
                                                         "name", result->roles[i].name));
        }
        (void)json_object_set_new(token, "roles", roles);
        (void)json_object_set_new(token, "catalog",
                                  zn__identity_catalog_json(self, result->project.id));
    } else if (result->domain.id != NULL) {
        (void)json_object_set_new(
            token, "domain",
            json_pack("{s:s,s:s}", "id", result->domain.id, "name", result->domain.name));
        (void)json_object_set_new(token, "roles", json_array());
    }
    return json_pack("{s:o}", "token", token);
}

/* URL with "$(project_id)s" replaced by PROJECT_ID; NULL when it needs one and there is none. */
static char *
s_endpoint_url(const char *url, const char *project_id)
{
    static const char marker[] = "$(project_id)s";
    const char *at = strstr(url, marker);
    if (at == NULL) {
        return zn_strdup(url);
    }
    if (project_id == NULL) {
        return NULL;
    }
    return zn_asprintf("%.*s%s%s", (int)(at - url), url, project_id, at + sizeof(marker) - 1);
}

typedef struct s_catalog {
    zn_identity_t *self;
    const char *project_id;
    json_t *services; /* service id -> catalog entry */
    json_t *out;
} s_catalog_t;

static int
s_add_service(void *arg, const void *obj)
{
    s_catalog_t *ctx = arg;
    const zn_id_service_t *s = obj;
    if (s->enabled) {
        json_t *entry = json_pack("{s:s,s:s,s:s,s:[]}", "id", s->id, "type", s->type, "name",
                                  s->name != NULL ? s->name : s->type, "endpoints");
        (void)json_array_append_new(ctx->out, entry);
        (void)json_object_set(ctx->services, s->id, entry);
    }
    return 0;
}

static int
s_add_endpoint(void *arg, const void *obj)
{
    s_catalog_t *ctx = arg;
    const zn_id_endpoint_t *e = obj;
    json_t *entry = json_object_get(ctx->services, e->service_id);
    char *url = s_endpoint_url(e->url, ctx->project_id);
    if (entry != NULL && url != NULL && e->enabled) {
        const char *region = e->region != NULL ? e->region : "";
        (void)json_array_append_new(json_object_get(entry, "endpoints"),
                                    json_pack("{s:s,s:s,s:s,s:s,s:s}", "id", e->id, "interface",
                                              e->interface, "region", region, "region_id", region,
                                              "url", url));
    }
    zn_str_free(&url);
    return 0;
}

json_t *
zn__identity_catalog_json(zn_identity_t *self, const char *project_id)
{
    s_catalog_t ctx = {self, project_id, json_object(), json_array()};
    int rc = zn_idstore_each(self->store, ZN_ID_SERVICE, NULL, NULL, s_add_service, &ctx);
    if (rc == 0) {
        rc = zn_idstore_each(self->store, ZN_ID_ENDPOINT, NULL, NULL, s_add_endpoint, &ctx);
    }
    if (rc < 0) {
        zn_log_warn(NULL, "catalog incomplete: %s", zn_strerror(rc));
    }
    json_decref(ctx.services);
    return ctx.out;
}
