/* SPDX-License-Identifier: Apache-2.0 */
/* zn_volrec.h - the volume agent's records in the replicated store (table `volumes`): one
 * record per volume keyed by its id, and one usage record per project (key "usage/PROJECT")
 * that quota checks update with a generation condition; plus the volume state machine. */
#ifndef ZN_VOLREC_H
#define ZN_VOLREC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zn_schema.h"

/* Usage records share the volumes table: their keys start with this, which no volume id (a
 * UUID) does, and they carry no project_id field, so the table's project index skips them. */
#define ZN_VOLREC_USAGE_PREFIX  "usage/"
#define ZN_VOLREC_USAGE_KEY_MAX 80

#define ZN_VOLREC_NAME_MAX 255u
#define ZN_VOLREC_DESC_MAX 255u

/* Statuses as Cinder names them. creating -> available -> attaching -> in-use -> detaching ->
 * available; extending and deleting come from available; error states end failed steps. */
typedef enum {
    ZN_VOL_CREATING,
    ZN_VOL_AVAILABLE,
    ZN_VOL_ATTACHING,
    ZN_VOL_IN_USE,
    ZN_VOL_DETACHING,
    ZN_VOL_EXTENDING,
    ZN_VOL_DELETING,
    ZN_VOL_ERROR,
    ZN_VOL_ERROR_DELETING,
    ZN_VOL_ERROR_EXTENDING,
    ZN_VOL_STATUS_COUNT
} zn_vol_status_t;

/* A volume (table volumes, key id). Strings owned; release with zn_schema_release. */
typedef struct zn_vol {
    char *id;
    char *project_id;
    char *user_id;
    char *name;
    char *description;
    int64_t size_gb;
    char *status;      /* zn_vol_status_name */
    char *volume_host; /* the volume node that holds the backing file */
    char *backend;     /* the backend driver that made it ("file") */
    char *format;      /* "raw" or "qcow2" */
    char *image_id;    /* the image it was made from, or NULL */
    bool bootable;
    char *instance_id;   /* attached to (attaching, in-use, detaching), else NULL */
    char *attach_host;   /* the compute host it is attached on */
    char *device;        /* "/dev/vdb" */
    char *attachment_id; /* one per attachment, as Cinder shows it */
    int64_t attached_ms;
    int64_t created_ms;
    int64_t updated_ms;
    char *error; /* why it is in an error state */
} zn_vol_t;

extern const zn_schema_t zn_vol_schema;

/* What one project holds (key "usage/PROJECT_ID"): volumes and gigabytes, counted when a
 * create commits and given back when a delete commits. */
typedef struct zn_vol_usage {
    char *project;
    int64_t volumes;
    int64_t gigabytes;
} zn_vol_usage_t;

extern const zn_schema_t zn_vol_usage_schema;

/* The status's name ("in-use"); "error" for a value out of range. Static. */
const char *zn_vol_status_name(zn_vol_status_t status);

/* Parse NAME into *out. Returns 0 or -EINVAL. */
int zn_vol_status_parse(const char *name, zn_vol_status_t *out);

/* True when a volume in FROM may move to TO: the one place that decides the state machine. */
bool zn_vol_can_move(zn_vol_status_t from, zn_vol_status_t to);

/* VOL's status, ZN_VOL_ERROR when its text is unknown. */
zn_vol_status_t zn_vol_status(const zn_vol_t *vol);

/* Set VOL's status to STATUS (replacing the string) and updated_ms to NOW_MS. */
void zn_vol_set_status(zn_vol_t *vol, zn_vol_status_t status, int64_t now_ms);

/* Replace *field (owned) with a copy of VALUE (may be NULL). */
void zn_vol_set_str(char **field, const char *value);

/* The usage key of PROJECT_ID into OUT. */
void zn_volrec_usage_key(const char *project_id, char out[ZN_VOLREC_USAGE_KEY_MAX]);

/* True for a usage record's key (table scans skip them). */
bool zn_volrec_is_usage_key(const char *key, size_t len);

#endif
