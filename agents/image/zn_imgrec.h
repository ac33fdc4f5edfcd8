/* SPDX-License-Identifier: Apache-2.0 */
/* zn_imgrec.h - zinc-image's image record (the `images` table's value, a zn_schema map), the
 * Glance v2 JSON it is shown as, and the two parsers of untrusted request bodies: the create
 * body (a flat object: core attributes plus string properties) and Glance's JSON patch
 * (application/openstack-images-v2.1-json-patch: add, replace, remove). Pure functions: no
 * store, no I/O, so the fuzz target drives them directly. */
#ifndef ZN_IMGREC_H
#define ZN_IMGREC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "zn_err.h"
#include "zn_schema.h"

#define ZN_IMGREC_NAME_MAX       255u
#define ZN_IMGREC_PROPS_MAX      128u /* Glance's image_property_quota default */
#define ZN_IMGREC_PROP_VALUE_MAX 4096u
#define ZN_IMGREC_TAGS_MAX       128u
#define ZN_IMGREC_PATCH_OPS_MAX  256u
#define ZN_IMGREC_PATCH_MEDIA    "application/openstack-images-v2.1-json-patch"

/* One extra property (Glance's additionalProperties: string). */
typedef struct zn_imgprop {
    char *name;
    char *value;
} zn_imgprop_t;

/* An image. Strings owned; release with zn_schema_release(&zn_imgrec_schema, ..). */
typedef struct zn_imgrec {
    char *id;
    char *name;             /* may be NULL (Glance allows a nameless image) */
    char *status;           /* queued, saving, active, killed, deleted */
    char *visibility;       /* public, private, shared, community */
    char *owner;            /* project id */
    char *disk_format;      /* may be NULL until set */
    char *container_format; /* may be NULL until set */
    int64_t min_disk;
    int64_t min_ram;
    int64_t size;        /* -1 until uploaded */
    char *checksum;      /* md5 hex, NULL until uploaded */
    char *os_hash_algo;  /* "sha512" once uploaded */
    char *os_hash_value; /* sha512 hex */
    bool protected_;     /* `protected`: refuses delete */
    char **tags;
    size_t tag_count;
    zn_imgprop_t *props;
    size_t prop_count;
    int64_t created_ms;
    int64_t updated_ms;
    char *location; /* the file in the store (zn_imgfile), NULL until uploaded; never shown */
} zn_imgrec_t;

extern const zn_schema_t zn_imgrec_schema;

/* True when a caller of PROJECT_ID (NULL: none), admin or not, may see IMAGE: admins all; else
 * its own project's images and public and community ones (404 for the rest). */
bool zn_imgrec_visible(const zn_imgrec_t *image, const char *project_id, bool admin);

/* True when the caller may change or delete IMAGE (admin, or the owner). */
bool zn_imgrec_writable(const zn_imgrec_t *image, const char *project_id, bool admin);

/* IMAGE as Glance shows it: a flat object with the core attributes, the links (self, file,
 * schema), and each property at the top level. A new reference. */
json_t *zn_imgrec_to_json(const zn_imgrec_t *image);

/* Who makes a new image (the create body's context). */
typedef struct zn_imgrec_ctx {
    const char *project_id; /* the new image's owner */
    bool admin;             /* may make public images and set owner */
    const char *id;         /* a fresh id when the body has none */
    int64_t now_ms;
} zn_imgrec_ctx_t;

/* Fill OUT (zeroed first; release with zn_schema_release) from the create BODY (an object): the
 * core attributes (name, id, disk_format, container_format, visibility, min_disk, min_ram,
 * protected, tags, owner for admins) checked, every other string member stored as a property.
 * Returns 0; -EINVAL (a bad value: wrong type, unknown format, negative size, too long),
 * ZN_EFORBIDDEN (a read-only attribute such as status or checksum, or public without admin),
 * ZN_ETOOBIG (too many properties or tags), with FAULT. */
ZN_MUST_CHECK int zn_imgrec_from_create(const json_t *body, const zn_imgrec_ctx_t *ctx,
                                        zn_imgrec_t *out, zn_fault_t *fault);

/* Parse LEN bytes of TEXT as a Glance JSON patch and apply it to IMAGE (in place: on failure
 * IMAGE may be half-changed, so patch a copy). ADMIN as for create. Ops: add (of a property
 * that exists: replace), replace (of a missing property: 409), remove (of a core attribute:
 * 403; of a missing property: 409); paths "/name", "/visibility", "/min_disk", "/min_ram",
 * "/protected", "/tags", "/disk_format" and "/container_format" (both while queued only), and
 * "/PROPERTY". Returns 0, -EINVAL (malformed JSON or op), ZN_EFORBIDDEN (read-only attribute),
 * ZN_ECONFLICT (missing property), ZN_ETOOBIG, with FAULT. */
ZN_MUST_CHECK int zn_imgrec_patch(zn_imgrec_t *image, const char *text, size_t len, bool admin,
                                  zn_fault_t *fault);

/* Add TAG to IMAGE (nothing when it has it), or remove it. Returns 0, ZN_ETOOBIG (past
 * ZN_IMGREC_TAGS_MAX), or -ENOENT (removing a tag the image does not have), with FAULT. */
ZN_MUST_CHECK int zn_imgrec_tag(zn_imgrec_t *image, const char *tag, bool add, zn_fault_t *fault);

#endif
