/* SPDX-License-Identifier: Apache-2.0 */
/* zn_voljson.h - Cinder v3.0's JSON: strict readers of the request bodies (create, update,
 * actions) that say in Cinder's words what is wrong, and the volume views (summary, detail
 * with attachments) as cinderclient and openstacksdk read them. No I/O: fuzzed directly. */
#ifndef ZN_VOLJSON_H
#define ZN_VOLJSON_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "zn_err.h"
#include "zn_volrec.h"

/* POST /volumes. Strings are borrowed from the body; NULL when absent or null. */
typedef struct zn_voljson_create {
    int64_t size_gb;
    const char *name;
    const char *description;
    const char *image_id; /* imageRef */
} zn_voljson_create_t;

/* Read {"volume": {"size": N, "name"?, "description"?, "imageRef"?, ...}}: size an integer (or
 * a string of digits, as Cinder takes), strings at most 255 bytes ("display_name" and
 * "display_description" accepted as the old names), nulls accepted for every
 * optional key (cinderclient sends them); snapshots, source volumes and backups are refused.
 * Returns 0 or -EINVAL with FAULT. */
ZN_MUST_CHECK int zn_voljson_create(const json_t *body, zn_voljson_create_t *out,
                                    zn_fault_t *fault);

/* PUT /volumes/ID: {"volume": {"name"?, "description"?}}; a null clears (""), an absent key
 * leaves (NULL); at least one of them. Returns 0 or -EINVAL. */
ZN_MUST_CHECK int zn_voljson_update(const json_t *body, const char **name, const char **description,
                                    zn_fault_t *fault);

typedef enum {
    ZN_VOLJSON_EXTEND,       /* {"os-extend": {"new_size": N}} */
    ZN_VOLJSON_RESET_STATUS, /* {"os-reset_status": {"status"?, "attach_status"?}} (admin) */
} zn_voljson_action_kind_t;

typedef struct zn_voljson_action {
    zn_voljson_action_kind_t kind;
    int64_t new_size_gb;
    const char *status; /* reset: a status name (checked), or NULL; borrowed from the body */
    bool detach;        /* reset: attach_status "detached": forget the attachment */
} zn_voljson_action_t;

/* POST /volumes/ID/action: exactly one known action. Returns 0 or -EINVAL. */
ZN_MUST_CHECK int zn_voljson_action(const json_t *body, zn_voljson_action_t *out,
                                    zn_fault_t *fault);

/* Which attributes beyond Cinder's base view a volume document carries. Cinder adds the
 * os-vol-tenant-attr and os-vol-host-attr attributes to what GET returns only: the answers to a
 * create or an update have the base view, and Tempest's schemas refuse more. */
typedef enum {
    ZN_VOLJSON_BASE = 0,  /* POST /volumes, PUT /volumes/ID */
    ZN_VOLJSON_SHOWN = 1, /* GET: + os-vol-tenant-attr:tenant_id */
    ZN_VOLJSON_ADMIN = 2, /* GET by an admin: + os-vol-host-attr:host too */
} zn_voljson_view_t;

/* The detail view of VOL ({"id", "status", "size", "attachments": [...], ...}, without the
 * {"volume": } wrapper); BASE_URL ("http://H/volume") makes the links. */
json_t *zn_voljson_detail(const zn_vol_t *vol, const char *base_url, zn_voljson_view_t view);

/* The summary view: {"id", "name", "links"}. */
json_t *zn_voljson_summary(const zn_vol_t *vol, const char *base_url);

/* Cinder's timestamp text of WALL_MS ("2026-03-01T10:22:04.118000") into BUF (>= 32 bytes). */
void zn_voljson_time(int64_t wall_ms, char *buf, size_t cap);

#endif
