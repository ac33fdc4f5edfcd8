/* SPDX-License-Identifier: Apache-2.0 */
/* zn_voljson.c - Cinder's request bodies and volume views. */
#include "zn_voljson.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "zn_mem.h"

#define S_INVALID "Invalid input received: "

/* The optional string KEY of OBJ into *out (NULL when absent or null). */
static int
s_opt_str(const json_t *obj, const char *key, size_t max, const char **out, zn_fault_t *fault)
{
    json_t *value = json_object_get(obj, key);
    *out = NULL;
    if (value == NULL || json_is_null(value)) {
        return 0;
    }
    if (!json_is_string(value)) {
        return zn_fault_set(fault, -EINVAL, S_INVALID "%s must be a string", key);
    }
    if (json_string_length(value) > max) {
        return zn_fault_set(fault, -EINVAL, S_INVALID "%s must be at most %zu characters", key,
                            max);
    }
    if (strlen(json_string_value(value)) != json_string_length(value)) {
        return zn_fault_set(fault, -EINVAL, S_INVALID "%s must not contain NUL", key);
    }
    *out = json_string_value(value);
    return 0;
}

/* A size: a JSON integer, or a string of 1-9 digits. */
static int
s_size(const json_t *value, const char *key, int64_t *out, zn_fault_t *fault)
{
    if (json_is_integer(value)) {
        *out = json_integer_value(value);
        return 0;
    }
    const char *text = json_is_string(value) ? json_string_value(value) : NULL;
    size_t len = text != NULL ? strlen(text) : 0;
    if (len == 0 || len > 9 || strspn(text, "0123456789") != len) {
        return zn_fault_set(fault, -EINVAL, S_INVALID "%s must be an integer", key);
    }
    int64_t size = 0;
    for (size_t i = 0; i < len; i++) {
        size = size * 10 + (text[i] - '0');
    }
    *out = size;
    return 0;
}

static const json_t *
s_wrapped(const json_t *body, const char *key, zn_fault_t *fault)
{
    const json_t *inner = json_object_get(body, key);
    if (!json_is_object(inner)) {
        (void)zn_fault_set(fault, -EINVAL,
                           "Invalid input received: Missing required element '%s' in request "
                           "body.",
                           key);
        return NULL;
    }
    return inner;
}

/* Keys Cinder would act on that zinc does not (yet): refused rather than ignored. */
static int
s_unsupported(const json_t *volume, zn_fault_t *fault)
{
    static const char *const keys[] = {"snapshot_id", "source_volid", "backup_id",
                                       "consistencygroup_id", "group_id"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        json_t *value = json_object_get(volume, keys[i]);
        if (value != NULL && !json_is_null(value)) {
            return zn_fault_set(fault, -EINVAL, S_INVALID "%s is not supported by this cloud",
                                keys[i]);
        }
    }
    return 0;
}

/* KEY, or its old alias ("display_name" for "name", which cinderclient still sends). */
static const char *
s_key_or_alias(const json_t *obj, const char *key, const char *alias)
{
    return json_object_get(obj, key) == NULL && json_object_get(obj, alias) != NULL ? alias : key;
}

int
zn_voljson_create(const json_t *body, zn_voljson_create_t *out, zn_fault_t *fault)
{
    memset(out, 0, sizeof(*out));
    const json_t *volume = s_wrapped(body, "volume", fault);
    if (volume == NULL) {
        return -EINVAL;
    }
    json_t *size = json_object_get(volume, "size");
    if (size == NULL || json_is_null(size)) {
        return zn_fault_set(fault, -EINVAL, S_INVALID "size is required");
    }
    int rc = s_size(size, "size", &out->size_gb, fault);
    if (rc == 0) {
        rc = s_opt_str(volume, s_key_or_alias(volume, "name", "display_name"), ZN_VOLREC_NAME_MAX,
                       &out->name, fault);
    }
    if (rc == 0) {
        rc = s_opt_str(volume, s_key_or_alias(volume, "description", "display_description"),
                       ZN_VOLREC_DESC_MAX, &out->description, fault);
    }
    if (rc == 0) {
        rc = s_opt_str(volume, "imageRef", 64, &out->image_id, fault);
    }
    if (rc == 0) {
        rc = s_unsupported(volume, fault);
    }
    return rc;
}

int
zn_voljson_update(const json_t *body, const char **name, const char **description,
                  zn_fault_t *fault)
{
    *name = NULL;
    *description = NULL;
    const json_t *volume = s_wrapped(body, "volume", fault);
    if (volume == NULL) {
        return -EINVAL;
    }
    const char *name_key = s_key_or_alias(volume, "name", "display_name");
    const char *desc_key = s_key_or_alias(volume, "description", "display_description");
    int rc = s_opt_str(volume, name_key, ZN_VOLREC_NAME_MAX, name, fault);
    if (rc == 0) {
        rc = s_opt_str(volume, desc_key, ZN_VOLREC_DESC_MAX, description, fault);
    }
    if (rc < 0) {
        return rc;
    }
    /* A null clears the field: "" tells zn_volops_update to set it empty. */
    if (*name == NULL && json_object_get(volume, name_key) != NULL) {
        *name = "";
    }
    if (*description == NULL && json_object_get(volume, desc_key) != NULL) {
        *description = "";
    }
    if (*name == NULL && *description == NULL) {
        return zn_fault_set(fault, -EINVAL, S_INVALID "nothing to update: name or description");
    }
    return 0;
}

static int
s_extend(const json_t *body, zn_voljson_action_t *out, zn_fault_t *fault)
{
    const json_t *extend = s_wrapped(body, "os-extend", fault);
    if (extend == NULL) {
        return -EINVAL;
    }
    json_t *size = json_object_get(extend, "new_size");
    if (size == NULL) {
        return zn_fault_set(fault, -EINVAL, S_INVALID "new_size is required");
    }
    out->kind = ZN_VOLJSON_EXTEND;
    return s_size(size, "new_size", &out->new_size_gb, fault);
}

static int
s_reset_status(const json_t *body, zn_voljson_action_t *out, zn_fault_t *fault)
{
    const json_t *reset = s_wrapped(body, "os-reset_status", fault);
    if (reset == NULL) {
        return -EINVAL;
    }
    const char *attach = NULL;
    int rc = s_opt_str(reset, "status", 32, &out->status, fault);
    if (rc == 0) {
        rc = s_opt_str(reset, "attach_status", 32, &attach, fault);
    }
    zn_vol_status_t status;
    if (rc == 0 && out->status != NULL && zn_vol_status_parse(out->status, &status) < 0) {
        rc = zn_fault_set(fault, -EINVAL, S_INVALID "Must specify a valid status (not %.32s)",
                          out->status);
    }
    if (rc == 0 && attach != NULL && strcmp(attach, "detached") != 0 &&
        strcmp(attach, "attached") != 0) {
        rc = zn_fault_set(fault, -EINVAL, S_INVALID "Must specify a valid attach status");
    }
    if (rc == 0 && out->status == NULL && attach == NULL) {
        rc = zn_fault_set(fault, -EINVAL, S_INVALID "Must specify 'status' or 'attach_status'");
    }
    out->kind = ZN_VOLJSON_RESET_STATUS;
    out->detach = attach != NULL && strcmp(attach, "detached") == 0;
    return rc;
}

int
zn_voljson_action(const json_t *body, zn_voljson_action_t *out, zn_fault_t *fault)
{
    memset(out, 0, sizeof(*out));
    if (json_object_size(body) != 1) {
        return zn_fault_set(fault, -EINVAL, S_INVALID "exactly one action per request");
    }
    const char *name = json_object_iter_key(json_object_iter((json_t *)(uintptr_t)body));
    if (strcmp(name, "os-extend") == 0) {
        return s_extend(body, out, fault);
    }
    if (strcmp(name, "os-reset_status") == 0) {
        return s_reset_status(body, out, fault);
    }
    return zn_fault_set(fault, -EINVAL, "There is no such action: %.64s", name);
}

/* ---- views ---------------------------------------------------------------------------- */

void
zn_voljson_time(int64_t wall_ms, char *buf, size_t cap)
{
    time_t seconds = (time_t)(wall_ms / 1000);
    struct tm tm;
    (void)gmtime_r(&seconds, &tm);
    char date[24];
    (void)strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
    (void)snprintf(buf, cap, "%s.%06d", date, (int)(wall_ms % 1000) * 1000);
}

static json_t *
s_str_or_null(const char *text)
{
    return text != NULL ? json_string(text) : json_null();
}

static json_t *
s_links(const zn_vol_t *vol, const char *base_url)
{
    char *self = zn_asprintf("%s/v3/%s/volumes/%s", base_url, vol->project_id, vol->id);
    char *bookmark = zn_asprintf("%s/%s/volumes/%s", base_url, vol->project_id, vol->id);
    json_t *links = json_pack("[{s:s,s:s},{s:s,s:s}]", "rel", "self", "href", self, "rel",
                              "bookmark", "href", bookmark);
    zn_free(self);
    zn_free(bookmark);
    return links;
}

/* Cinder's attachment list: one entry while attached (attaching, in-use, detaching). */
static json_t *
s_attachments(const zn_vol_t *vol)
{
    json_t *list = json_array();
    if (vol->instance_id == NULL) {
        return list;
    }
    char when[32] = "";
    zn_voljson_time(vol->attached_ms, when, sizeof(when));
    json_t *one = json_pack("{s:s,s:o,s:s,s:o,s:o,s:o,s:o}", "id", vol->id, "attachment_id",
                            s_str_or_null(vol->attachment_id), "volume_id", vol->id, "server_id",
                            s_str_or_null(vol->instance_id), "host_name",
                            s_str_or_null(vol->attach_host), "device", s_str_or_null(vol->device),
                            "attached_at", vol->attached_ms > 0 ? json_string(when) : json_null());
    (void)json_array_append_new(list, one);
    return list;
}

json_t *
zn_voljson_detail(const zn_vol_t *vol, const char *base_url, zn_voljson_view_t view)
{
    char created[32];
    char updated[32];
    zn_voljson_time(vol->created_ms, created, sizeof(created));
    zn_voljson_time(vol->updated_ms, updated, sizeof(updated));
    json_t *out = json_pack(
        "{s:s,s:o,s:o,s:s,s:I,s:s,s:s,s:s,s:o,s:s,s:b,s:b,s:s,s:{},s:o,s:n,s:n,s:n,s:n,s:o,"
        "s:o}",
        "id", vol->id, "name", s_str_or_null(vol->name), "description",
        s_str_or_null(vol->description), "status", vol->status != NULL ? vol->status : "error",
        "size", (json_int_t)vol->size_gb, "availability_zone", "nova", "created_at", created,
        "updated_at", updated, "attachments", s_attachments(vol), "bootable",
        vol->bootable ? "true" : "false", "encrypted", 0, "multiattach", 0, "volume_type",
        "__DEFAULT__", "metadata", "user_id", s_str_or_null(vol->user_id), "snapshot_id",
        "source_volid", "consistencygroup_id", "replication_status", "links",
        s_links(vol, base_url), "migration_status", json_null());
    if (vol->image_id != NULL) {
        (void)json_object_set_new(out, "volume_image_metadata",
                                  json_pack("{s:s}", "image_id", vol->image_id));
    }
    if (view >= ZN_VOLJSON_SHOWN) {
        (void)json_object_set_new(out, "os-vol-tenant-attr:tenant_id",
                                  s_str_or_null(vol->project_id));
    }
    if (view >= ZN_VOLJSON_ADMIN) {
        char *host = zn_asprintf("%s@%s#%s", vol->volume_host != NULL ? vol->volume_host : "",
                                 vol->backend != NULL ? vol->backend : "file",
                                 vol->backend != NULL ? vol->backend : "file");
        (void)json_object_set_new(out, "os-vol-host-attr:host", json_string(host));
        zn_free(host);
    }
    return out;
}

json_t *
zn_voljson_summary(const zn_vol_t *vol, const char *base_url)
{
    return json_pack("{s:s,s:o,s:o}", "id", vol->id, "name", s_str_or_null(vol->name), "links",
                     s_links(vol, base_url));
}
