/* SPDX-License-Identifier: Apache-2.0 */
/* zn_api_flavors.c - flavors and their extra specs (table flavors). Everyone reads public
 * flavors; only admins create, delete and change them. */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "zn_api_body.h"
#include "zn_api_int.h"
#include "zn_mem.h"
#include "zn_str.h"
#include "zn_tables.h"
#include "zn_uuid.h"

/* ---- views -------------------------------------------------------------------------------- */

static json_t *
s_flavor_view(const zn_rest_req_t *req, const zn_cell_flavor_t *f, bool detail)
{
    json_t *v = json_pack("{s:s,s:s?,s:o}", "id", f->id, "name", f->name, "links",
                          zn__api_links(req, "flavors", f->id));
    if (!detail) {
        return v;
    }
    (void)json_object_set_new(v, "ram", json_integer(f->ram_mb));
    (void)json_object_set_new(v, "vcpus", json_integer(f->vcpus));
    (void)json_object_set_new(v, "disk", json_integer(f->disk_gb));
    (void)json_object_set_new(v, "swap",
                              f->swap_mb > 0 ? json_integer(f->swap_mb) : json_string(""));
    (void)json_object_set_new(v, "OS-FLV-EXT-DATA:ephemeral", json_integer(f->ephemeral_gb));
    (void)json_object_set_new(v, "OS-FLV-DISABLED:disabled", json_boolean(f->disabled));
    (void)json_object_set_new(v, "os-flavor-access:is_public", json_boolean(f->is_public));
    (void)json_object_set_new(v, "rxtx_factor",
                              json_real(f->rxtx_factor > 0 ? f->rxtx_factor : 1.0));
    return v;
}

static json_t *
s_specs_view(const zn_cell_flavor_t *f)
{
    json_t *specs = json_object();
    for (size_t i = 0; i < f->extra_spec_count; i++) {
        const char *eq = strchr(f->extra_specs[i], '=');
        if (eq != NULL) {
            char *key = zn_strndup(f->extra_specs[i], (size_t)(eq - f->extra_specs[i]));
            (void)json_object_set_new(specs, key, json_string(eq + 1));
            zn_free(key);
        }
    }
    return specs;
}

/* ---- list --------------------------------------------------------------------------------- */

typedef struct {
    zn_cell_flavor_t *items;
    size_t count;
    size_t cap;
    int visibility; /* 1 public only, 0 private only, -1 all */
    int64_t min_ram;
    int64_t min_disk;
} s_list_t;

static int
s_collect(void *arg, const zn_store_record_t *rec)
{
    s_list_t *list = arg;
    zn_cell_flavor_t f;
    if (zn_schema_decode(&zn_cell_flavor_schema, rec->value, &f, NULL, NULL) < 0) {
        return 0; /* a damaged record is skipped, not fatal to the list */
    }
    bool wanted = (list->visibility < 0 || (int)f.is_public == list->visibility) &&
                  f.ram_mb >= list->min_ram && f.disk_gb >= list->min_disk;
    if (!wanted) {
        zn_schema_release(&zn_cell_flavor_schema, &f);
        return 0;
    }
    if (list->count == list->cap) {
        list->cap = list->cap == 0 ? 16 : list->cap * 2;
        list->items = zn_realloc(list->items, list->cap * sizeof(*list->items));
    }
    list->items[list->count++] = f;
    return 0;
}

static int
s_list_filters(zn_rest_req_t *req, s_list_t *list, zn_fault_t *fault)
{
    const char *is_public = zn_rest_query(req, "is_public");
    list->visibility = 1;
    if (is_public != NULL && zn_rest_is_admin(req)) {
        bool b = false;
        json_t *text = json_string(is_public);
        if (strcasecmp(is_public, "none") == 0) {
            list->visibility = -1;
        } else if (zn_api_json_bool(text, &b) == 0) {
            list->visibility = b ? 1 : 0;
        }
        json_decref(text);
    }
    const char *min_ram = zn_rest_query(req, "minRam");
    const char *min_disk = zn_rest_query(req, "minDisk");
    json_t *ram = json_string(min_ram != NULL ? min_ram : "0");
    json_t *disk = json_string(min_disk != NULL ? min_disk : "0");
    int rc = 0;
    if (zn_api_json_int(ram, &list->min_ram) < 0 || zn_api_json_int(disk, &list->min_disk) < 0) {
        rc = zn_fault_set(fault, -EINVAL, "Invalid minRam or minDisk filter");
    }
    json_decref(ram);
    json_decref(disk);
    return rc;
}

/* The LIMIT and MARKER query arguments, checked. *start is the index after the marker. */
static int
s_page(zn_api_t *self, zn_rest_req_t *req, const s_list_t *list, size_t *start, size_t *limit,
       zn_fault_t *fault)
{
    *start = 0;
    *limit = (size_t)self->cfg->max_limit;
    const char *limit_text = zn_rest_query(req, "limit");
    if (limit_text != NULL) {
        int64_t n = 0;
        json_t *v = json_string(limit_text);
        int rc = zn_api_json_int(v, &n);
        json_decref(v);
        if (rc < 0) {
            return zn_fault_set(fault, -EINVAL, "limit param must be an integer");
        }
        *limit = n < self->cfg->max_limit ? (size_t)n : (size_t)self->cfg->max_limit;
    }
    const char *marker = zn_rest_query(req, "marker");
    if (marker == NULL) {
        return 0;
    }
    for (size_t i = 0; i < list->count; i++) {
        if (strcmp(list->items[i].id, marker) == 0) {
            *start = i + 1;
            return 0;
        }
    }
    return zn_fault_set(fault, -EINVAL, "marker [%s] not found", marker);
}

static int
s_by_id(const void *a, const void *b)
{
    return strcmp(((const zn_cell_flavor_t *)a)->id, ((const zn_cell_flavor_t *)b)->id);
}

static void
s_list_free(s_list_t *list)
{
    for (size_t i = 0; i < list->count; i++) {
        zn_schema_release(&zn_cell_flavor_schema, &list->items[i]);
    }
    zn_free(list->items);
}

static int
s_list(zn_api_t *self, zn_rest_req_t *req, bool detail, zn_fault_t *fault)
{
    s_list_t list = {0};
    int rc = s_list_filters(req, &list, fault);
    zn_store_read_t *txn = NULL;
    if (rc == 0) {
        rc = zn__api_read_begin(self, &txn, fault);
    }
    if (rc == 0) {
        rc = zn__api_scan(self, txn, ZN_TABLE_FLAVORS, NULL, NULL, s_collect, &list);
        zn_store_read_end(&txn);
    }
    if (list.count > 1) {
        qsort(list.items, list.count, sizeof(*list.items), s_by_id);
    }
    size_t start = 0;
    size_t limit = 0;
    if (rc == 0) {
        rc = s_page(self, req, &list, &start, &limit, fault);
    }
    if (rc == 0) {
        json_t *items = json_array();
        for (size_t i = start; i < list.count && i < start + limit; i++) {
            (void)json_array_append_new(items, s_flavor_view(req, &list.items[i], detail));
        }
        zn_rest_reply(req, 200, json_pack("{s:o}", "flavors", items));
    }
    s_list_free(&list);
    return rc;
}

int
zn__api_flavor_list(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    return s_list(arg, req, false, fault);
}

int
zn__api_flavor_detail(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    return s_list(arg, req, true, fault);
}

/* ---- one flavor --------------------------------------------------------------------------- */

/* Flavor ID of the request's first capture into F, with its generation. */
static int
s_read(zn_api_t *self, zn_rest_req_t *req, zn_cell_flavor_t *f, uint64_t *gen, zn_fault_t *fault)
{
    zn_store_read_t *txn = NULL;
    int rc = zn__api_read_begin(self, &txn, fault);
    if (rc < 0) {
        return rc;
    }
    const char *id = zn_rest_capture(req, 0);
    rc = zn__api_get(self, txn, ZN_TABLE_FLAVORS, id, &zn_cell_flavor_schema, f, gen, fault);
    zn_store_read_end(&txn);
    if (rc == -ENOENT) {
        return zn_fault_set(fault, -ENOENT, "Flavor %s could not be found.", id);
    }
    return rc;
}

int
zn__api_flavor_show(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    zn_cell_flavor_t f;
    int rc = s_read(arg, req, &f, NULL, fault);
    if (rc == 0) {
        zn_rest_reply(req, 200, json_pack("{s:o}", "flavor", s_flavor_view(req, &f, true)));
        zn_schema_release(&zn_cell_flavor_schema, &f);
    }
    return rc;
}

int
zn__api_flavor_delete(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    zn_api_t *self = arg;
    zn_cell_flavor_t f;
    uint64_t gen = 0;
    int rc = s_read(self, req, &f, &gen, fault);
    if (rc < 0) {
        return rc;
    }
    zn_batch_t *batch = zn_batch_new();
    rc = zn_batch_delete(batch, ZN_TABLE_FLAVORS, zn_batch_str(f.id), gen);
    if (rc == 0) {
        rc =
            zn__api_write_reply(self, req, batch, 202, NULL, "the flavor changed meanwhile", fault);
    }
    zn_batch_destroy(&batch);
    zn_schema_release(&zn_cell_flavor_schema, &f);
    return rc;
}

/* ---- create ------------------------------------------------------------------------------- */

/* Integer KEY of BODY into *out (DEF when absent), at least MIN. */
static int
s_int_field(const json_t *body, const char *key, int64_t def, int64_t min, int64_t *out,
            zn_fault_t *fault)
{
    json_t *value = json_object_get(body, key);
    *out = def;
    if (value == NULL || (json_is_string(value) && json_string_length(value) == 0 && min == 0)) {
        return 0;
    }
    if (zn_api_json_int(value, out) < 0 || *out < min || *out > INT32_MAX) {
        return zn_fault_set(fault, -EINVAL,
                            "Invalid input for field/attribute %s. It must be an integer from "
                            "%lld to %d.",
                            key, (long long)min, INT32_MAX);
    }
    return 0;
}

static bool
s_id_ok(const char *id)
{
    size_t len = strlen(id);
    if (len == 0 || len > 255 || id[0] == ' ' || id[len - 1] == ' ') {
        return false;
    }
    return strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ._-") == len;
}

static int
s_create_ids(const json_t *body, zn_cell_flavor_t *f, zn_fault_t *fault)
{
    const char *name = json_string_value(json_object_get(body, "name"));
    size_t len = name != NULL ? strlen(name) : 0;
    if (len == 0 || len > 255 || name[0] == ' ' || name[len - 1] == ' ') {
        return zn_fault_set(fault, -EINVAL,
                            "Invalid input for field/attribute name. It must be 1 to 255 "
                            "characters without leading or trailing whitespace.");
    }
    json_t *id = json_object_get(body, "id");
    if (id == NULL || json_is_null(id)) {
        f->id = zn_strdup(zn_uuid_generate().str);
    } else if (json_is_integer(id)) {
        f->id = zn_asprintf("%" JSON_INTEGER_FORMAT, json_integer_value(id));
    } else if (json_is_string(id) && s_id_ok(json_string_value(id))) {
        f->id = zn_strdup(json_string_value(id));
    } else {
        return zn_fault_set(fault, -EINVAL,
                            "Invalid input for field/attribute id. It must be 1 to 255 of "
                            "letters, digits, spaces, '.', '_' and '-'.");
    }
    f->name = zn_strdup(name);
    return 0;
}

static int
s_create_numbers(const json_t *body, zn_cell_flavor_t *f, zn_fault_t *fault)
{
    int rc = s_int_field(body, "ram", -1, 1, &f->ram_mb, fault);
    if (rc == 0) {
        rc = s_int_field(body, "vcpus", -1, 1, &f->vcpus, fault);
    }
    if (rc == 0) {
        rc = s_int_field(body, "disk", -1, 0, &f->disk_gb, fault);
    }
    if (rc == 0 && (f->ram_mb < 0 || f->vcpus < 0 || f->disk_gb < 0)) {
        rc = zn_fault_set(fault, -EINVAL, "ram, vcpus and disk are required");
    }
    if (rc == 0) {
        rc = s_int_field(body, "swap", 0, 0, &f->swap_mb, fault);
    }
    if (rc == 0) {
        rc = s_int_field(body, "OS-FLV-EXT-DATA:ephemeral", 0, 0, &f->ephemeral_gb, fault);
    }
    json_t *rxtx = json_object_get(body, "rxtx_factor");
    f->rxtx_factor = json_is_number(rxtx) ? json_number_value(rxtx) : 1.0;
    if (rc == 0 && (f->rxtx_factor <= 0 || (rxtx != NULL && !json_is_number(rxtx)))) {
        rc = zn_fault_set(fault, -EINVAL, "Invalid input for field/attribute rxtx_factor.");
    }
    json_t *pub = json_object_get(body, "os-flavor-access:is_public");
    f->is_public = true;
    if (rc == 0 && pub != NULL && zn_api_json_bool(pub, &f->is_public) < 0) {
        rc = zn_fault_set(fault, -EINVAL,
                          "Invalid input for field/attribute os-flavor-access:is_public.");
    }
    return rc;
}

typedef struct {
    const char *name;
    bool found;
} s_name_probe_t;

static int
s_same_name(void *arg, const zn_store_record_t *rec)
{
    (void)rec;
    s_name_probe_t *probe = arg;
    probe->found = true;
    return -EEXIST;
}

/* A flavor with ID or NAME exists already? */
static int
s_check_unique(zn_api_t *self, const zn_cell_flavor_t *f, zn_fault_t *fault)
{
    zn_store_read_t *txn = NULL;
    int rc = zn__api_read_begin(self, &txn, fault);
    if (rc < 0) {
        return rc;
    }
    zn_cell_flavor_t old;
    rc = zn__api_get(self, txn, ZN_TABLE_FLAVORS, f->id, &zn_cell_flavor_schema, &old, NULL, NULL);
    if (rc == 0) {
        zn_schema_release(&zn_cell_flavor_schema, &old);
        rc = zn_fault_set(fault, -EEXIST, "Flavor with ID %s already exists.", f->id);
    } else if (rc == -ENOENT) {
        s_name_probe_t probe = {f->name, false};
        /* The visitor stops the scan at the first match with -EEXIST. */
        rc = zn__api_scan(self, txn, ZN_TABLE_FLAVORS, "name", f->name, s_same_name, &probe);
        if (probe.found) {
            rc = zn_fault_set(fault, -EEXIST, "Flavor with name %s already exists.", f->name);
        } else if (rc < 0) {
            rc = zn_fault_set(fault, rc, "flavors by name: %s", zn_strerror(rc));
        }
    }
    zn_store_read_end(&txn);
    return rc;
}

int
zn__api_flavor_create(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    zn_api_t *self = arg;
    json_t *body = json_object_get(zn_rest_json(req), "flavor");
    if (!json_is_object(body)) {
        return zn_fault_set(fault, -EINVAL,
                            "Invalid input for field/attribute flavor. 'flavor' "
                            "is a required property.");
    }
    zn_cell_flavor_t f = {0};
    int rc = s_create_ids(body, &f, fault);
    if (rc == 0) {
        rc = s_create_numbers(body, &f, fault);
    }
    if (rc == 0) {
        rc = s_check_unique(self, &f, fault);
    }
    zn_batch_t *batch = zn_batch_new();
    if (rc == 0) {
        rc = zn_sclient_put(batch, ZN_TABLE_FLAVORS, f.id, &zn_cell_flavor_schema, &f,
                            ZN_BATCH_GEN_ABSENT);
    }
    if (rc == 0) {
        char *conflict = zn_asprintf("Flavor with ID %s already exists.", f.id);
        json_t *answer = json_pack("{s:o}", "flavor", s_flavor_view(req, &f, true));
        rc = zn__api_write_reply(self, req, batch, 200, answer, conflict, fault);
        zn_str_free(&conflict);
    }
    zn_batch_destroy(&batch);
    zn_schema_release(&zn_cell_flavor_schema, &f);
    return rc;
}

/* ---- extra specs -------------------------------------------------------------------------- */

int
zn__api_extra_specs_list(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    zn_cell_flavor_t f;
    int rc = s_read(arg, req, &f, NULL, fault);
    if (rc == 0) {
        zn_rest_reply(req, 200, json_pack("{s:o}", "extra_specs", s_specs_view(&f)));
        zn_schema_release(&zn_cell_flavor_schema, &f);
    }
    return rc;
}

static bool
s_spec_key_ok(const char *key)
{
    size_t len = strlen(key);
    return len > 0 && len <= 255 &&
           strspn(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:- ") ==
               len;
}

/* SPECS (a JSON object) as "key=value" strings merged over F's (same keys replaced). */
static int
s_specs_merge(zn_cell_flavor_t *f, const json_t *specs, zn_fault_t *fault)
{
    json_t *merged = s_specs_view(f);
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)(uintptr_t)specs, key, value)
    {
        if (!s_spec_key_ok(key) || !json_is_string(value) || json_string_length(value) > 255) {
            json_decref(merged);
            return zn_fault_set(fault, -EINVAL,
                                "Invalid input for field/attribute extra_specs. Keys are 1 to 255 "
                                "of letters, digits and '_.:-', values strings of at most 255.");
        }
        (void)json_object_set(merged, key, value);
    }
    if (json_object_size(merged) > 256) {
        json_decref(merged);
        return zn_fault_set(fault, -EINVAL, "a flavor has at most 256 extra specs");
    }
    for (size_t i = 0; i < f->extra_spec_count; i++) {
        zn_free(f->extra_specs[i]);
    }
    f->extra_specs = zn_realloc(f->extra_specs, (json_object_size(merged) + 1) * sizeof(char *));
    f->extra_spec_count = 0;
    json_object_foreach(merged, key, value)
    {
        f->extra_specs[f->extra_spec_count++] = zn_asprintf("%s=%s", key, json_string_value(value));
    }
    json_decref(merged);
    return 0;
}

/* Write F back (if unchanged since GEN) and answer with ANSWER. */
static int
s_specs_write(zn_api_t *self, zn_rest_req_t *req, const zn_cell_flavor_t *f, uint64_t gen,
              unsigned status, json_t *answer, zn_fault_t *fault)
{
    zn_batch_t *batch = zn_batch_new();
    int rc = zn_sclient_put(batch, ZN_TABLE_FLAVORS, f->id, &zn_cell_flavor_schema, f, gen);
    if (rc == 0) {
        rc = zn__api_write_reply(self, req, batch, status, answer,
                                 "the flavor changed meanwhile: try again", fault);
    } else {
        json_decref(answer);
    }
    zn_batch_destroy(&batch);
    return rc;
}

int
zn__api_extra_specs_create(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    zn_api_t *self = arg;
    json_t *specs = json_object_get(zn_rest_json(req), "extra_specs");
    if (!json_is_object(specs)) {
        return zn_fault_set(fault, -EINVAL,
                            "Invalid input for field/attribute extra_specs. "
                            "'extra_specs' is a required property.");
    }
    zn_cell_flavor_t f;
    uint64_t gen = 0;
    int rc = s_read(self, req, &f, &gen, fault);
    if (rc < 0) {
        return rc;
    }
    rc = s_specs_merge(&f, specs, fault);
    if (rc == 0) {
        json_t *answer = json_pack("{s:O}", "extra_specs", specs);
        rc = s_specs_write(self, req, &f, gen, 200, answer, fault);
    }
    zn_schema_release(&zn_cell_flavor_schema, &f);
    return rc;
}

int
zn__api_extra_spec_show(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    zn_cell_flavor_t f;
    int rc = s_read(arg, req, &f, NULL, fault);
    if (rc < 0) {
        return rc;
    }
    const char *key = zn_rest_capture(req, 1);
    json_t *specs = s_specs_view(&f);
    json_t *value = json_object_get(specs, key);
    if (value == NULL) {
        rc = zn_fault_set(fault, -ENOENT, "Flavor %s has no extra specs with key %s.", f.id, key);
    } else {
        zn_rest_reply(req, 200, json_pack("{s:O}", key, value));
    }
    json_decref(specs);
    zn_schema_release(&zn_cell_flavor_schema, &f);
    return rc;
}

int
zn__api_extra_spec_update(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    zn_api_t *self = arg;
    const char *key = zn_rest_capture(req, 1);
    json_t *body = zn_rest_json(req);
    if (json_object_size(body) != 1 || json_object_get(body, key) == NULL) {
        return zn_fault_set(fault, -EINVAL, "Request body and URI mismatch");
    }
    zn_cell_flavor_t f;
    uint64_t gen = 0;
    int rc = s_read(self, req, &f, &gen, fault);
    if (rc < 0) {
        return rc;
    }
    rc = s_specs_merge(&f, body, fault);
    if (rc == 0) {
        rc = s_specs_write(self, req, &f, gen, 200, json_deep_copy(body), fault);
    }
    zn_schema_release(&zn_cell_flavor_schema, &f);
    return rc;
}

int
zn__api_extra_spec_delete(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    zn_api_t *self = arg;
    const char *key = zn_rest_capture(req, 1);
    zn_cell_flavor_t f;
    uint64_t gen = 0;
    int rc = s_read(self, req, &f, &gen, fault);
    if (rc < 0) {
        return rc;
    }
    size_t key_len = strlen(key);
    size_t kept = 0;
    for (size_t i = 0; i < f.extra_spec_count; i++) {
        if (strncmp(f.extra_specs[i], key, key_len) == 0 && f.extra_specs[i][key_len] == '=') {
            zn_free(f.extra_specs[i]);
        } else {
            f.extra_specs[kept++] = f.extra_specs[i];
        }
    }
    if (kept == f.extra_spec_count) {
        rc = zn_fault_set(fault, -ENOENT, "Flavor %s has no extra specs with key %s.", f.id, key);
    } else {
        f.extra_spec_count = kept;
        rc = s_specs_write(self, req, &f, gen, 202, NULL, fault);
    }
    zn_schema_release(&zn_cell_flavor_schema, &f);
    return rc;
}
