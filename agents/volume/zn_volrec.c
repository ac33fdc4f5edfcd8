/* SPDX-License-Identifier: Apache-2.0 */
/* zn_volrec.c - volume and usage schemas, and the volume state machine. */
#include "zn_volrec.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "zn_common.h"
#include "zn_mem.h"

static const char *const s_names[ZN_VOL_STATUS_COUNT] = {
    "creating",  "available", "attaching", "in-use",         "detaching",
    "extending", "deleting",  "error",     "error_deleting", "error_extending"};

#define S_BIT(status) (1u << (status))

/* For each status, the statuses it may move to. Failed attaches and detaches roll back
 * (attaching -> available, detaching -> in-use); a delete may retry from its error state. */
static const unsigned s_moves[ZN_VOL_STATUS_COUNT] = {
    [ZN_VOL_CREATING] = S_BIT(ZN_VOL_AVAILABLE) | S_BIT(ZN_VOL_ERROR),
    [ZN_VOL_AVAILABLE] = S_BIT(ZN_VOL_ATTACHING) | S_BIT(ZN_VOL_EXTENDING) | S_BIT(ZN_VOL_DELETING),
    [ZN_VOL_ATTACHING] = S_BIT(ZN_VOL_IN_USE) | S_BIT(ZN_VOL_AVAILABLE) | S_BIT(ZN_VOL_DETACHING),
    [ZN_VOL_IN_USE] = S_BIT(ZN_VOL_DETACHING),
    [ZN_VOL_DETACHING] = S_BIT(ZN_VOL_AVAILABLE) | S_BIT(ZN_VOL_IN_USE),
    [ZN_VOL_EXTENDING] = S_BIT(ZN_VOL_AVAILABLE) | S_BIT(ZN_VOL_ERROR_EXTENDING),
    [ZN_VOL_DELETING] = S_BIT(ZN_VOL_ERROR_DELETING),
    [ZN_VOL_ERROR] = S_BIT(ZN_VOL_DELETING),
    [ZN_VOL_ERROR_DELETING] = S_BIT(ZN_VOL_DELETING),
    [ZN_VOL_ERROR_EXTENDING] = S_BIT(ZN_VOL_DELETING),
};

const char *
zn_vol_status_name(zn_vol_status_t status)
{
    return (unsigned)status < ZN_VOL_STATUS_COUNT ? s_names[status] : "error";
}

int
zn_vol_status_parse(const char *name, zn_vol_status_t *out)
{
    for (int i = 0; name != NULL && i < ZN_VOL_STATUS_COUNT; i++) {
        if (strcmp(name, s_names[i]) == 0) {
            *out = (zn_vol_status_t)i;
            return 0;
        }
    }
    return -EINVAL;
}

bool
zn_vol_can_move(zn_vol_status_t from, zn_vol_status_t to)
{
    if ((unsigned)from >= ZN_VOL_STATUS_COUNT || (unsigned)to >= ZN_VOL_STATUS_COUNT) {
        return false;
    }
    return (s_moves[from] & S_BIT(to)) != 0;
}

zn_vol_status_t
zn_vol_status(const zn_vol_t *vol)
{
    zn_vol_status_t status = ZN_VOL_ERROR;
    (void)zn_vol_status_parse(vol->status, &status);
    return status;
}

void
zn_vol_set_str(char **field, const char *value)
{
    zn_str_free(field);
    *field = value != NULL ? zn_strdup(value) : NULL;
}

void
zn_vol_set_status(zn_vol_t *vol, zn_vol_status_t status, int64_t now_ms)
{
    zn_vol_set_str(&vol->status, zn_vol_status_name(status));
    vol->updated_ms = now_ms;
}

void
zn_volrec_usage_key(const char *project_id, char out[ZN_VOLREC_USAGE_KEY_MAX])
{
    (void)snprintf(out, ZN_VOLREC_USAGE_KEY_MAX, "%s%.64s", ZN_VOLREC_USAGE_PREFIX, project_id);
}

bool
zn_volrec_is_usage_key(const char *key, size_t len)
{
    size_t plen = sizeof(ZN_VOLREC_USAGE_PREFIX) - 1;
    return len >= plen && memcmp(key, ZN_VOLREC_USAGE_PREFIX, plen) == 0;
}

/* ---- schemas ------------------------------------------------------------------------------ */

#define S_F(type_, name, ftype, max)                         \
    {                                                        \
#name, ftype, 0, offsetof(type_, name), 0, max, NULL \
    }
#define S_V(name, ftype, max) S_F(zn_vol_t, name, ftype, max)

static const zn_field_t s_vol_fields[] = {
    {"id", ZN_FT_STR, ZN_F_REQUIRED, offsetof(zn_vol_t, id), 0, 64, NULL},
    S_V(project_id, ZN_FT_STR, 64),
    S_V(user_id, ZN_FT_STR, 64),
    S_V(name, ZN_FT_STR, ZN_VOLREC_NAME_MAX),
    S_V(description, ZN_FT_STR, ZN_VOLREC_DESC_MAX),
    S_V(size_gb, ZN_FT_I64, 0),
    S_V(status, ZN_FT_STR, 32),
    S_V(volume_host, ZN_FT_STR, 255),
    S_V(backend, ZN_FT_STR, 32),
    S_V(format, ZN_FT_STR, 16),
    S_V(image_id, ZN_FT_STR, 64),
    S_V(bootable, ZN_FT_BOOL, 0),
    S_V(instance_id, ZN_FT_STR, 64),
    S_V(attach_host, ZN_FT_STR, 255),
    S_V(device, ZN_FT_STR, 64),
    S_V(attachment_id, ZN_FT_STR, 64),
    S_V(attached_ms, ZN_FT_I64, 0),
    S_V(created_ms, ZN_FT_I64, 0),
    S_V(updated_ms, ZN_FT_I64, 0),
    S_V(error, ZN_FT_STR, 512),
};

const zn_schema_t zn_vol_schema = {"volume", 1, s_vol_fields, ZN_ARRAY_COUNT(s_vol_fields),
                                   sizeof(zn_vol_t)};

static const zn_field_t s_usage_fields[] = {
    S_F(zn_vol_usage_t, project, ZN_FT_STR, 64),
    S_F(zn_vol_usage_t, volumes, ZN_FT_I64, 0),
    S_F(zn_vol_usage_t, gigabytes, ZN_FT_I64, 0),
};

const zn_schema_t zn_vol_usage_schema = {"volume_usage", 1, s_usage_fields,
                                         ZN_ARRAY_COUNT(s_usage_fields), sizeof(zn_vol_usage_t)};
