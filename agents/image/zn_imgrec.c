/* SPDX-License-Identifier: Apache-2.0 */
/* zn_imgrec.c - the image record, its Glance JSON, and the create and JSON-patch parsers. */
#include "zn_imgrec.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "zn_json.h"
#include "zn_mem.h"
#include "zn_uuid.h"

#define S_F(name, type, flags, max)                                   \
    {                                                                 \
#name, type, flags, offsetof(zn_imgrec_t, name), 0, max, NULL \
    }

static const zn_field_t s_prop_fields[] = {
    {"name", ZN_FT_STR, ZN_F_REQUIRED, offsetof(zn_imgprop_t, name), 0, ZN_IMGREC_NAME_MAX, NULL},
    {"value", ZN_FT_STR, 0, offsetof(zn_imgprop_t, value), 0, ZN_IMGREC_PROP_VALUE_MAX, NULL},
};
static const zn_schema_t s_prop_schema = {"image_prop", 1, s_prop_fields,
                                          ZN_ARRAY_COUNT(s_prop_fields), sizeof(zn_imgprop_t)};

static const zn_field_t s_fields[] = {
    S_F(id, ZN_FT_STR, ZN_F_REQUIRED, 64),
    S_F(name, ZN_FT_STR, 0, ZN_IMGREC_NAME_MAX),
    S_F(status, ZN_FT_STR, ZN_F_REQUIRED, 16),
    S_F(visibility, ZN_FT_STR, ZN_F_REQUIRED, 16),
    S_F(owner, ZN_FT_STR, 0, 64),
    S_F(disk_format, ZN_FT_STR, 0, 16),
    S_F(container_format, ZN_FT_STR, 0, 16),
    S_F(min_disk, ZN_FT_I64, 0, 0),
    S_F(min_ram, ZN_FT_I64, 0, 0),
    S_F(size, ZN_FT_I64, 0, 0),
    S_F(checksum, ZN_FT_STR, 0, 32),
    S_F(os_hash_algo, ZN_FT_STR, 0, 16),
    S_F(os_hash_value, ZN_FT_STR, 0, 128),
    {"protected", ZN_FT_BOOL, 0, offsetof(zn_imgrec_t, protected_), 0, 0, NULL},
    {"tags", ZN_FT_STRLIST, 0, offsetof(zn_imgrec_t, tags), offsetof(zn_imgrec_t, tag_count),
     ZN_IMGREC_TAGS_MAX, NULL},
    {"props", ZN_FT_OBJLIST, 0, offsetof(zn_imgrec_t, props), offsetof(zn_imgrec_t, prop_count),
     ZN_IMGREC_PROPS_MAX, &s_prop_schema},
    S_F(created_ms, ZN_FT_I64, 0, 0),
    S_F(updated_ms, ZN_FT_I64, 0, 0),
    S_F(location, ZN_FT_STR, 0, 128),
};
#undef S_F

const zn_schema_t zn_imgrec_schema = {"image", 1, s_fields, ZN_ARRAY_COUNT(s_fields),
                                      sizeof(zn_imgrec_t)};

static const char *const s_disk_formats[] = {"ami", "ari",   "aki", "vhd", "vhdx",  "vmdk",
                                             "raw", "qcow2", "vdi", "iso", "ploop", NULL};
static const char *const s_container_formats[] = {"ami", "ari",    "aki",        "bare", "ovf",
                                                  "ova", "docker", "compressed", NULL};
static const char *const s_visibilities[] = {"public", "private", "shared", "community", NULL};

/* Attributes the server owns: a body or patch naming them is refused (403, as Glance does). */
static const char *const s_read_only[] = {
    "status",       "checksum",      "size",       "virtual_size", "created_at", "updated_at",
    "os_hash_algo", "os_hash_value", "file",       "self",         "schema",     "direct_url",
    "locations",    "deleted",       "deleted_at", "stores",       NULL};

/* Core attributes a patch may set (the rest of the core is read-only or create-only). */
static const char *const s_core[] = {"id",        "name",        "visibility",       "owner",
                                     "min_disk",  "min_ram",     "protected",        "tags",
                                     "os_hidden", "disk_format", "container_format", NULL};

static bool
s_in(const char *const *list, const char *value)
{
    for (size_t i = 0; list[i] != NULL; i++) {
        if (strcmp(list[i], value) == 0) {
            return true;
        }
    }
    return false;
}

bool
zn_imgrec_visible(const zn_imgrec_t *image, const char *project_id, bool admin)
{
    if (admin) {
        return true;
    }
    if (strcmp(image->visibility, "public") == 0 || strcmp(image->visibility, "community") == 0) {
        return true;
    }
    return project_id != NULL && image->owner != NULL && strcmp(image->owner, project_id) == 0;
}

bool
zn_imgrec_writable(const zn_imgrec_t *image, const char *project_id, bool admin)
{
    return admin ||
           (project_id != NULL && image->owner != NULL && strcmp(image->owner, project_id) == 0);
}

/* ---- JSON -------------------------------------------------------------------------------- */

static void
s_time(json_t *obj, const char *key, int64_t ms)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    char text[32];
    (void)gmtime_r(&secs, &tm);
    (void)strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
    (void)json_object_set_new(obj, key, json_string(text));
}

static json_t *
s_str_or_null(const char *value)
{
    return value != NULL ? json_string(value) : json_null();
}

json_t *
zn_imgrec_to_json(const zn_imgrec_t *image)
{
    json_t *obj = json_object();
    for (size_t i = 0; i < image->prop_count; i++) {
        (void)json_object_set_new(obj, image->props[i].name, s_str_or_null(image->props[i].value));
    }
    json_t *tags = json_array();
    for (size_t i = 0; i < image->tag_count; i++) {
        (void)json_array_append_new(tags, json_string(image->tags[i]));
    }
    char *self = zn_asprintf("/v2/images/%s", image->id);
    char *file = zn_asprintf("/v2/images/%s/file", image->id);
    json_t *core = json_pack(
        "{s:s,s:o,s:s,s:s,s:o,s:o,s:o,s:I,s:I,s:o,s:n,s:o,s:o,s:o,s:b,s:b,s:o,s:s,s:s,s:s}", "id",
        image->id, "name", s_str_or_null(image->name), "status", image->status, "visibility",
        image->visibility, "owner", s_str_or_null(image->owner), "disk_format",
        s_str_or_null(image->disk_format), "container_format",
        s_str_or_null(image->container_format), "min_disk", (json_int_t)image->min_disk, "min_ram",
        (json_int_t)image->min_ram, "size",
        image->size >= 0 ? json_integer(image->size) : json_null(), "virtual_size", "checksum",
        s_str_or_null(image->checksum), "os_hash_algo", s_str_or_null(image->os_hash_algo),
        "os_hash_value", s_str_or_null(image->os_hash_value), "protected", image->protected_,
        "os_hidden", 0, "tags", tags, "self", self, "file", file, "schema", "/v2/schemas/image");
    zn_str_free(&self);
    zn_str_free(&file);
    (void)json_object_update(obj, core); /* core attributes win over same-named properties */
    json_decref(core);
    s_time(obj, "created_at", image->created_ms);
    s_time(obj, "updated_at", image->updated_ms);
    return obj;
}

/* ---- setting attributes (shared by create and patch) -------------------------------------- */

static int
s_set_str(char **field, const json_t *value, const char *key, size_t max, bool nullable,
          zn_fault_t *fault)
{
    if (json_is_null(value) && nullable) {
        zn_str_free(field);
        return 0;
    }
    if (!json_is_string(value)) {
        return zn_fault_set(fault, -EINVAL,
                            "Provided object does not match schema 'image': "
                            "%s must be a string",
                            key);
    }
    const char *text = json_string_value(value);
    if (strlen(text) > max || strlen(text) != json_string_length(value)) {
        return zn_fault_set(fault, -EINVAL, "%s: longer than %zu characters or not text", key, max);
    }
    zn_str_free(field);
    *field = zn_strdup(text);
    return 0;
}

static int
s_set_enum(char **field, const json_t *value, const char *key, const char *const *allowed,
           zn_fault_t *fault)
{
    if (json_is_null(value) && strcmp(key, "visibility") != 0) {
        zn_str_free(field);
        return 0;
    }
    if (!json_is_string(value) || !s_in(allowed, json_string_value(value))) {
        return zn_fault_set(fault, -EINVAL,
                            "Invalid value for %s: expected one of the "
                            "supported values",
                            key);
    }
    zn_str_free(field);
    *field = zn_strdup(json_string_value(value));
    return 0;
}

static int
s_set_int(int64_t *field, const json_t *value, const char *key, zn_fault_t *fault)
{
    if (!json_is_integer(value) || json_integer_value(value) < 0 ||
        json_integer_value(value) > INT32_MAX) {
        return zn_fault_set(fault, -EINVAL, "%s must be a non-negative integer", key);
    }
    *field = (int64_t)json_integer_value(value);
    return 0;
}

static int
s_set_tags(zn_imgrec_t *image, const json_t *value, zn_fault_t *fault)
{
    if (!json_is_array(value)) {
        return zn_fault_set(fault, -EINVAL, "tags must be a list of strings");
    }
    if (json_array_size(value) > ZN_IMGREC_TAGS_MAX) {
        return zn_fault_set(fault, ZN_ETOOBIG, "Maximum number of tags exceeded (%u)",
                            ZN_IMGREC_TAGS_MAX);
    }
    char **tags = zn_calloc(json_array_size(value) + 1, sizeof(*tags));
    size_t count = 0;
    size_t i = 0;
    json_t *tag = NULL;
    int rc = 0;
    json_array_foreach(value, i, tag)
    {
        rc = s_set_str(&tags[count], tag, "tag", ZN_IMGREC_NAME_MAX, false, fault);
        if (rc < 0) {
            break;
        }
        count++;
    }
    if (rc < 0) {
        for (size_t j = 0; j < count; j++) {
            zn_free(tags[j]);
        }
        zn_free(tags);
        return rc;
    }
    for (size_t j = 0; j < image->tag_count; j++) {
        zn_free(image->tags[j]);
    }
    zn_free(image->tags);
    image->tags = tags;
    image->tag_count = count;
    return 0;
}

static int
s_set_visibility(zn_imgrec_t *image, const json_t *value, bool admin, zn_fault_t *fault)
{
    if (json_is_string(value) && strcmp(json_string_value(value), "public") == 0 && !admin) {
        return zn_fault_set(fault, ZN_EFORBIDDEN,
                            "You are not authorized to complete publicize_image action.");
    }
    return s_set_enum(&image->visibility, value, "visibility", s_visibilities, fault);
}

static int
s_set_format(zn_imgrec_t *image, const char *key, const json_t *value, zn_fault_t *fault)
{
    if (strcmp(image->status, "queued") != 0) {
        return zn_fault_set(fault, ZN_EFORBIDDEN,
                            "Attribute '%s' can be only replaced for a queued image.", key);
    }
    bool disk = key[0] == 'd';
    return s_set_enum(disk ? &image->disk_format : &image->container_format, value, key,
                      disk ? s_disk_formats : s_container_formats, fault);
}

static int
s_set_flag(zn_imgrec_t *image, const char *key, const json_t *value, zn_fault_t *fault)
{
    if (!json_is_boolean(value)) {
        return zn_fault_set(fault, -EINVAL, "%s must be a boolean", key);
    }
    if (key[0] == 'p') {
        image->protected_ = json_is_true(value);
    }
    return 0; /* os_hidden is accepted and not kept: zinc hides no image */
}

static int
s_set_owner(zn_imgrec_t *image, const json_t *value, bool admin, zn_fault_t *fault)
{
    if (!admin) {
        return zn_fault_set(fault, ZN_EFORBIDDEN, "Attribute 'owner' is reserved.");
    }
    return s_set_str(&image->owner, value, "owner", 64, false, fault);
}

/* Set core attribute KEY to VALUE. Returns 1 when KEY is not a settable core attribute. */
static int
s_set_core(zn_imgrec_t *image, const char *key, const json_t *value, bool admin, zn_fault_t *fault)
{
    if (strcmp(key, "name") == 0) {
        return s_set_str(&image->name, value, key, ZN_IMGREC_NAME_MAX, true, fault);
    }
    if (strcmp(key, "visibility") == 0) {
        return s_set_visibility(image, value, admin, fault);
    }
    if (strcmp(key, "disk_format") == 0 || strcmp(key, "container_format") == 0) {
        return s_set_format(image, key, value, fault);
    }
    if (strcmp(key, "min_disk") == 0 || strcmp(key, "min_ram") == 0) {
        return s_set_int(key[4] == 'd' ? &image->min_disk : &image->min_ram, value, key, fault);
    }
    if (strcmp(key, "protected") == 0 || strcmp(key, "os_hidden") == 0) {
        return s_set_flag(image, key, value, fault);
    }
    if (strcmp(key, "tags") == 0) {
        return s_set_tags(image, value, fault);
    }
    if (strcmp(key, "owner") == 0) {
        return s_set_owner(image, value, admin, fault);
    }
    return 1;
}

static zn_imgprop_t *
s_prop_find(zn_imgrec_t *image, const char *name)
{
    for (size_t i = 0; i < image->prop_count; i++) {
        if (strcmp(image->props[i].name, name) == 0) {
            return &image->props[i];
        }
    }
    return NULL;
}

static int
s_set_prop(zn_imgrec_t *image, const char *key, const json_t *value, zn_fault_t *fault)
{
    if (key[0] == '\0' || strlen(key) > ZN_IMGREC_NAME_MAX) {
        return zn_fault_set(fault, -EINVAL, "property names are 1 to %u characters",
                            ZN_IMGREC_NAME_MAX);
    }
    if (!json_is_string(value) && !json_is_null(value)) {
        return zn_fault_set(fault, -EINVAL,
                            "Provided object does not match schema 'image': additional "
                            "property %s must be a string",
                            key);
    }
    if (json_is_string(value) && (json_string_length(value) > ZN_IMGREC_PROP_VALUE_MAX ||
                                  strlen(json_string_value(value)) != json_string_length(value))) {
        return zn_fault_set(fault, -EINVAL, "property %s: value too long or not text", key);
    }
    zn_imgprop_t *prop = s_prop_find(image, key);
    if (prop == NULL) {
        if (image->prop_count >= ZN_IMGREC_PROPS_MAX) {
            return zn_fault_set(fault, ZN_ETOOBIG,
                                "Maximum number of image properties "
                                "exceeded (%u)",
                                ZN_IMGREC_PROPS_MAX);
        }
        image->props = zn_realloc(image->props, (image->prop_count + 1) * sizeof(*image->props));
        prop = &image->props[image->prop_count++];
        prop->name = zn_strdup(key);
        prop->value = NULL;
    }
    zn_str_free(&prop->value);
    prop->value = json_is_string(value) ? zn_strdup(json_string_value(value)) : NULL;
    return 0;
}

int
zn_imgrec_tag(zn_imgrec_t *image, const char *tag, bool add, zn_fault_t *fault)
{
    size_t at = image->tag_count;
    for (size_t i = 0; i < image->tag_count; i++) {
        if (strcmp(image->tags[i], tag) == 0) {
            at = i;
        }
    }
    if (add && at < image->tag_count) {
        return 0;
    }
    if (add) {
        if (image->tag_count >= ZN_IMGREC_TAGS_MAX) {
            return zn_fault_set(fault, ZN_ETOOBIG, "Maximum number of tags exceeded (%u)",
                                ZN_IMGREC_TAGS_MAX);
        }
        image->tags = zn_realloc(image->tags, (image->tag_count + 1) * sizeof(*image->tags));
        image->tags[image->tag_count++] = zn_strdup(tag);
        return 0;
    }
    if (at == image->tag_count) {
        return zn_fault_set(fault, -ENOENT, "Tag %s not found", tag);
    }
    zn_free(image->tags[at]);
    memmove(&image->tags[at], &image->tags[at + 1],
            (image->tag_count - at - 1) * sizeof(*image->tags));
    image->tag_count--;
    return 0;
}

/* ---- create -------------------------------------------------------------------------------- */

static int
s_create_member(zn_imgrec_t *out, const char *key, const json_t *value, bool admin,
                zn_fault_t *fault)
{
    if (s_in(s_read_only, key)) {
        return zn_fault_set(fault, ZN_EFORBIDDEN, "Attribute '%s' is read-only.", key);
    }
    if (strcmp(key, "id") == 0) {
        if (!json_is_string(value) || !zn_uuid_is_valid(json_string_value(value))) {
            return zn_fault_set(fault, -EINVAL, "id must be a UUID");
        }
        zn_str_free(&out->id);
        out->id = zn_strdup(json_string_value(value));
        return 0;
    }
    int rc = s_set_core(out, key, value, admin, fault);
    return rc == 1 ? s_set_prop(out, key, value, fault) : rc;
}

int
zn_imgrec_from_create(const json_t *body, const zn_imgrec_ctx_t *ctx, zn_imgrec_t *out,
                      zn_fault_t *fault)
{
    memset(out, 0, sizeof(*out));
    out->id = zn_strdup(ctx->id);
    out->status = zn_strdup("queued");
    out->visibility = zn_strdup("shared"); /* Glance's default since Ocata */
    out->owner = ctx->project_id != NULL ? zn_strdup(ctx->project_id) : NULL;
    out->size = -1;
    out->created_ms = ctx->now_ms;
    out->updated_ms = ctx->now_ms;
    if (!json_is_object(body)) {
        zn_schema_release(&zn_imgrec_schema, out);
        return zn_fault_set(fault, -EINVAL, "the body must be a JSON object");
    }
    const char *key = NULL;
    json_t *value = NULL;
    json_object_foreach((json_t *)(uintptr_t)body, key, value)
    {
        int rc = s_create_member(out, key, value, ctx->admin, fault);
        if (rc < 0) {
            zn_schema_release(&zn_imgrec_schema, out);
            return rc;
        }
    }
    return 0;
}

/* ---- patch -------------------------------------------------------------------------------- */

static int
s_remove_prop(zn_imgrec_t *image, const char *key, zn_fault_t *fault)
{
    zn_imgprop_t *prop = s_prop_find(image, key);
    if (prop == NULL) {
        return zn_fault_set(fault, ZN_ECONFLICT, "Property %s does not exist.", key);
    }
    zn_free(prop->name);
    zn_free(prop->value);
    size_t index = (size_t)(prop - image->props);
    memmove(prop, prop + 1, (image->prop_count - index - 1) * sizeof(*prop));
    image->prop_count--;
    return 0;
}

/* The attribute a patch path names: "/name" -> "name"; JSON pointer escapes (~1, ~0) undone.
 * Only one level: "/a/b" is refused. */
static int
s_path_key(const json_t *op, char *out, size_t cap, zn_fault_t *fault)
{
    const char *path = zn_json_str_at(op, "path");
    if (path == NULL || path[0] != '/' || path[1] == '\0') {
        return zn_fault_set(fault, -EINVAL, "Unable to find '/' in JSON Schema change");
    }
    size_t len = 0;
    for (const char *p = path + 1; *p != '\0'; p++) {
        char c = *p;
        if (c == '/') {
            return zn_fault_set(fault, -EINVAL, "Nested paths are not allowed");
        }
        if (c == '~') {
            c = (char)(p[1] == '1' ? '/' : p[1] == '0' ? '~' : '\0');
            if (c == '\0') {
                return zn_fault_set(fault, -EINVAL, "Invalid JSON pointer %s", path);
            }
            p++;
        }
        if (len + 1 >= cap) {
            return zn_fault_set(fault, -EINVAL, "path too long");
        }
        out[len++] = c;
    }
    out[len] = '\0';
    return 0;
}

static int
s_patch_one(zn_imgrec_t *image, const json_t *op, bool admin, zn_fault_t *fault)
{
    if (!json_is_object(op)) {
        return zn_fault_set(fault, -EINVAL, "each change must be an object");
    }
    const char *kind = zn_json_str_at(op, "op");
    char key[ZN_IMGREC_NAME_MAX + 2];
    int rc = s_path_key(op, key, sizeof(key), fault);
    if (rc < 0) {
        return rc;
    }
    bool remove = kind != NULL && strcmp(kind, "remove") == 0;
    if (kind == NULL || (!remove && strcmp(kind, "add") != 0 && strcmp(kind, "replace") != 0)) {
        return zn_fault_set(fault, -EINVAL, "Operation must be add, replace or remove");
    }
    const json_t *value = json_object_get(op, "value");
    if (!remove && value == NULL) {
        return zn_fault_set(fault, -EINVAL, "Operation %s needs a value", kind);
    }
    if (s_in(s_read_only, key) || strcmp(key, "id") == 0) {
        return zn_fault_set(fault, ZN_EFORBIDDEN, "Attribute '%s' is read-only.", key);
    }
    if (s_in(s_core, key)) {
        if (remove) {
            return zn_fault_set(fault, ZN_EFORBIDDEN, "Attribute '%s' is reserved.", key);
        }
        return s_set_core(image, key, value, admin, fault);
    }
    if (remove) {
        return s_remove_prop(image, key, fault);
    }
    if (strcmp(kind, "replace") == 0 && s_prop_find(image, key) == NULL) {
        return zn_fault_set(fault, ZN_ECONFLICT, "Property %s does not exist.", key);
    }
    return s_set_prop(image, key, value, fault);
}

int
zn_imgrec_patch(zn_imgrec_t *image, const char *text, size_t len, bool admin, zn_fault_t *fault)
{
    json_error_t error;
    json_t *ops = json_loadb(text, len, JSON_REJECT_DUPLICATES, &error);
    if (ops == NULL) {
        return zn_fault_set(fault, -EINVAL, "malformed JSON in request body: %s", error.text);
    }
    int rc = 0;
    if (!json_is_array(ops)) {
        rc = zn_fault_set(fault, -EINVAL, "a JSON patch is a list of changes");
    } else if (json_array_size(ops) > ZN_IMGREC_PATCH_OPS_MAX) {
        rc = zn_fault_set(fault, ZN_ETOOBIG, "more than %u changes", ZN_IMGREC_PATCH_OPS_MAX);
    }
    size_t i = 0;
    json_t *op = NULL;
    json_array_foreach(ops, i, op)
    {
        if (rc < 0) {
            break;
        }
        rc = s_patch_one(image, op, admin, fault);
    }
    json_decref(ops);
    return rc;
}
