/* SPDX-License-Identifier: Apache-2.0 */
/* zn_schema.h - typed messages: a C struct described by a field table, packed as a MessagePack map
 * keyed by field name, and decoded strictly. RPC bodies and store records both use it. */
#ifndef ZN_SCHEMA_H
#define ZN_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zn_buf.h"
#include "zn_common.h"
#include "zn_err.h"
#include "zn_mp.h"

typedef enum {
    ZN_FT_STR,     /* char *, owned, NUL-terminated; embedded NULs refused */
    ZN_FT_I64,     /* int64_t */
    ZN_FT_U64,     /* uint64_t */
    ZN_FT_BOOL,    /* bool */
    ZN_FT_F64,     /* double (integers accepted) */
    ZN_FT_BIN,     /* zn_bytes_t, owned */
    ZN_FT_STRLIST, /* char ** at offset, size_t count at count_offset; owned */
    ZN_FT_OBJ,     /* a struct described by SUB, embedded at offset */
    ZN_FT_OBJLIST, /* an array of SUB structs (void * at offset), size_t count at count_offset */
} zn_ftype_t;

enum {
    ZN_F_REQUIRED = 1u << 0, /* decoding fails when the key is missing or nil */
};

/* Owned bytes, for ZN_FT_BIN. */
typedef struct zn_bytes {
    uint8_t *ptr;
    size_t len;
} zn_bytes_t;

struct zn_schema;

typedef struct zn_field {
    const char *name;
    zn_ftype_t type;
    uint32_t flags;
    size_t offset;
    size_t count_offset; /* lists only */
    uint32_t max;        /* strings and bins: max bytes; lists: max elements; 0 = the default */
    const struct zn_schema *sub;
} zn_field_t;

/* A schema: NAME for errors, VERSION packed as key "_v" so that store records can be migrated,
 * the fields, and the size of the C struct. */
typedef struct zn_schema {
    const char *name;
    uint32_t version;
    const zn_field_t *fields;
    size_t field_count;
    size_t size;
} zn_schema_t;

#define ZN_SCHEMA_STR_MAX_DEFAULT  4096u
#define ZN_SCHEMA_LIST_MAX_DEFAULT 1024u

/* Pack OBJ (a struct described by SCHEMA) as one map onto OUT. NULL strings are packed as nil. */
void zn_schema_encode(const zn_schema_t *schema, const void *obj, zn_pack_t *out);

/* Decode BYTES (exactly one MessagePack map, checked with zn_mp_check first) into OBJ, which is
 * zeroed first. Unknown keys are ignored; a nil value counts as missing. On success OBJ owns its
 * strings, bins and lists: release them with zn_schema_release. On failure OBJ holds nothing
 * that needs releasing. *version_out (optional) gets the "_v" key or 0.
 * Returns 0, -EBADMSG (bad type, missing required field, trailing bytes) or ZN_ETOOBIG, with
 * FAULT naming the schema and the field, e.g. "instance.flavor_id: expected string". */
ZN_MUST_CHECK int zn_schema_decode(const zn_schema_t *schema, zn_buf_t bytes, void *obj,
                                   uint32_t *version_out, zn_fault_t *fault);

/* Free everything OBJ owns and zero it. Safe on a zeroed struct and safe twice. */
void zn_schema_release(const zn_schema_t *schema, void *obj);

/* Deep-copy SRC into DST (zeroed first); release DST with zn_schema_release. */
void zn_schema_copy(const zn_schema_t *schema, void *dst, const void *src);

#endif
