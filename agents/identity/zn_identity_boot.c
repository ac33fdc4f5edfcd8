/* SPDX-License-Identifier: Apache-2.0 */
/* zn_identity_boot.c - `zinc-identity bootstrap`: the records a fresh cloud needs, made or
 * repaired idempotently from the configuration. Runs before the agent's loop (or alone), so it
 * may hash the admin password inline. */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "zn_failpoint.h"
#include "zn_identity.h"
#include "zn_idstore.h"
#include "zn_log.h"
#include "zn_mem.h"
#include "zn_password.h"
#include "zn_tokenkeys.h"

/* The catalog: one service per row, its endpoint at the configured URL or BASE + PATH. */
static const struct {
    const char *type;
    const char *name;
    const char *path;
    size_t url_offset; /* the override in the cfg struct */
} s_catalog[] = {
    {"identity", "keystone", NULL, offsetof(zn_identity_cfg_t, identity_url)},
    {"compute", "nova", "/compute/v2.1", offsetof(zn_identity_cfg_t, compute_url)},
    {"image", "glance", "/image", offsetof(zn_identity_cfg_t, image_url)},
    {"network", "neutron", "/networking", offsetof(zn_identity_cfg_t, network_url)},
    {"volumev3", "cinderv3", "/volume/v3/$(project_id)s", offsetof(zn_identity_cfg_t, volume_url)},
    {"block-storage", "cinder", "/volume/v3/$(project_id)s",
     offsetof(zn_identity_cfg_t, volume_url)},
};

static const char *const s_interfaces[] = {"public", "internal", "admin"};
static const char *const s_roles[] = {"admin", "member", "reader"};

/* Find by name, or create with a fresh id via MAKE. *id_out (the caller's) gets the id. */
static int
s_ensure_named(zn_idstore_t *store, zn_id_kind_t kind, const char *domain_id, void *obj,
               zn_fault_t *fault)
{
    void *found = zn_idstore_record_new(kind);
    int rc = zn_idstore_find(store, kind, domain_id, ((zn_id_role_t *)obj)->name, found);
    if (rc == 0) {
        zn_idstore_release(kind, obj);
        memcpy(obj, found, zn_idstore_schema(kind)->size);
        zn_free(found);
        return 0;
    }
    zn_idstore_record_free(kind, &found);
    return zn_idstore_create(store, kind, obj, fault);
}

static char *
s_new_id(void)
{
    char id[33];
    zn_idstore_new_id(id);
    return zn_strdup(id);
}

static int
s_ensure_domain(zn_idstore_t *store, zn_fault_t *fault)
{
    zn_id_domain_t d = {0};
    if (zn_idstore_get(store, ZN_ID_DOMAIN, "default", &d) == 0) {
        zn_idstore_release(ZN_ID_DOMAIN, &d);
        return 0;
    }
    zn_id_domain_t def = {zn_strdup("default"), zn_strdup("Default"),
                          zn_strdup("The default domain"), true};
    int rc = zn_idstore_create(store, ZN_ID_DOMAIN, &def, fault);
    zn_idstore_release(ZN_ID_DOMAIN, &def);
    return rc;
}

static int
s_ensure_admin(zn_idstore_t *store, const zn_identity_cfg_t *cfg, zn_password_cost_t cost,
               zn_fault_t *fault)
{
    zn_id_project_t project = {s_new_id(), zn_strdup(cfg->bootstrap_project), zn_strdup("default"),
                               NULL, true};
    zn_id_user_t user = {.id = s_new_id(),
                         .name = zn_strdup(cfg->bootstrap_user),
                         .domain_id = zn_strdup("default"),
                         .enabled = true};
    int rc = s_ensure_named(store, ZN_ID_PROJECT, "default", &project, fault);
    if (rc == 0) {
        rc = s_ensure_named(store, ZN_ID_USER, "default", &user, fault);
    }
    char *hash = NULL;
    if (rc == 0 && cfg->bootstrap_password[0] != '\0') {
        rc =
            zn_password_hash(cfg->bootstrap_password, strlen(cfg->bootstrap_password), cost, &hash);
    }
    if (rc == 0 && hash != NULL) {
        zn_free(user.password_hash);
        user.password_hash = hash;
        hash = NULL;
        user.enabled = true;
        rc = zn_idstore_update(store, ZN_ID_USER, &user, fault);
    }
    for (size_t i = 0; rc == 0 && i < ZN_ARRAY_COUNT(s_roles); i++) {
        zn_id_role_t role = {s_new_id(), zn_strdup(s_roles[i])};
        rc = s_ensure_named(store, ZN_ID_ROLE, NULL, &role, fault);
        char *aid = zn_idstore_assignment_id(project.id, user.id, role.id);
        zn_id_assignment_t a = {aid, project.id, user.id, role.id};
        if (rc == 0 && i == 0 && !zn_idstore_has_role(store, project.id, user.id, role.id)) {
            rc = zn_idstore_create(store, ZN_ID_ASSIGNMENT, &a, fault);
        }
        zn_str_free(&aid);
        zn_idstore_release(ZN_ID_ROLE, &role);
    }
    zn_idstore_release(ZN_ID_PROJECT, &project);
    zn_idstore_release(ZN_ID_USER, &user);
    return rc;
}

typedef struct s_find_service {
    const char *type;
    char *id;
} s_find_service_t;

static int
s_match_service(void *arg, const void *obj)
{
    s_find_service_t *ctx = arg;
    const zn_id_service_t *s = obj;
    if (strcmp(s->type, ctx->type) == 0) {
        ctx->id = zn_strdup(s->id);
        return 1;
    }
    return 0;
}

typedef struct s_find_endpoint {
    const char *service_id;
    const char *interface;
    zn_id_endpoint_t *found;
} s_find_endpoint_t;

static int
s_match_endpoint(void *arg, const void *obj)
{
    s_find_endpoint_t *ctx = arg;
    const zn_id_endpoint_t *e = obj;
    if (strcmp(e->service_id, ctx->service_id) == 0 && strcmp(e->interface, ctx->interface) == 0) {
        zn_schema_copy(zn_idstore_schema(ZN_ID_ENDPOINT), ctx->found, e);
        return 1;
    }
    return 0;
}

static int
s_ensure_endpoint(zn_idstore_t *store, const char *service_id, const char *interface,
                  const char *url, const char *region, zn_fault_t *fault)
{
    zn_id_endpoint_t e = {0};
    s_find_endpoint_t ctx = {service_id, interface, &e};
    int rc = zn_idstore_each(store, ZN_ID_ENDPOINT, NULL, NULL, s_match_endpoint, &ctx);
    if (rc == 1 && strcmp(e.url, url) == 0 && e.region && strcmp(e.region, region) == 0) {
        rc = 0;
    } else if (rc == 1) {
        zn_free(e.url);
        zn_free(e.region);
        e.url = zn_strdup(url);
        e.region = zn_strdup(region);
        rc = zn_idstore_update(store, ZN_ID_ENDPOINT, &e, fault);
    } else if (rc == 0) {
        zn_id_endpoint_t fresh = {s_new_id(),        zn_strdup(service_id), zn_strdup(interface),
                                  zn_strdup(region), zn_strdup(url),        true};
        rc = zn_idstore_create(store, ZN_ID_ENDPOINT, &fresh, fault);
        zn_idstore_release(ZN_ID_ENDPOINT, &fresh);
    }
    zn_idstore_release(ZN_ID_ENDPOINT, &e);
    return rc;
}

static char *
s_service_url(const zn_identity_cfg_t *cfg, size_t row)
{
    const char *override = zn_idstore_str(cfg, s_catalog[row].url_offset);
    if (override != NULL && override[0] != '\0') {
        return zn_strdup(override);
    }
    if (s_catalog[row].path == NULL) {
        return zn_asprintf("http://%s%s", cfg->http_endpoint, cfg->url_prefix);
    }
    return zn_asprintf("%s%s", cfg->catalog_base_url, s_catalog[row].path);
}

static int
s_ensure_catalog(zn_idstore_t *store, const zn_identity_cfg_t *cfg, zn_fault_t *fault)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < ZN_ARRAY_COUNT(s_catalog); i++) {
        s_find_service_t find = {s_catalog[i].type, NULL};
        rc = zn_idstore_each(store, ZN_ID_SERVICE, NULL, NULL, s_match_service, &find);
        if (rc == 0) {
            zn_id_service_t s = {s_new_id(), zn_strdup(s_catalog[i].type),
                                 zn_strdup(s_catalog[i].name), NULL, true};
            rc = zn_idstore_create(store, ZN_ID_SERVICE, &s, fault);
            find.id = zn_strdup(s.id);
            zn_idstore_release(ZN_ID_SERVICE, &s);
        }
        char *url = s_service_url(cfg, i);
        for (size_t j = 0; rc >= 0 && j < ZN_ARRAY_COUNT(s_interfaces); j++) {
            rc = s_ensure_endpoint(store, find.id, s_interfaces[j], url, cfg->region, fault);
        }
        zn_str_free(&url);
        zn_str_free(&find.id);
    }
    return rc;
}

int
zn_identity_bootstrap(const zn_identity_cfg_t *cfg)
{
    zn_password_cost_t cost;
    zn_fault_t fault;
    zn_fault_clear(&fault);
    int rc = zn_password_cost_parse(cfg->password_hash_cost, &cost) < 0
                 ? zn_fault_set(&fault, ZN_ECONFIG, "unknown password_hash_cost")
                 : 0;
    zn_idstore_t *store = NULL;
    if (rc == 0) {
        rc = zn_tokenkeys_setup(cfg->token_keys_dir, &fault);
    }
    if (rc == 0) {
        zn_idstore_opts_t sopts = ZN_IDENTITY_STORE_OPTS(cfg);
        rc = zn_idstore_open(&store, &sopts, &fault);
    }
    if (rc == 0) {
        rc = s_ensure_domain(store, &fault);
    }
    if (rc == 0) {
        rc = ZN_FAILPOINT("identity.bootstrap.admin");
    }
    if (rc == 0) {
        rc = s_ensure_admin(store, cfg, cost, &fault);
    }
    if (rc == 0) {
        rc = ZN_FAILPOINT("identity.bootstrap.catalog");
    }
    if (rc == 0) {
        rc = s_ensure_catalog(store, cfg, &fault);
    }
    zn_idstore_destroy(&store);
    if (rc < 0) {
        zn_log_error(NULL, "bootstrap: %s", zn_fault_message(&fault));
        return rc;
    }
    zn_log_notice(NULL, "bootstrap done user=%s project=%s", cfg->bootstrap_user,
                  cfg->bootstrap_project);
    return 0;
}
