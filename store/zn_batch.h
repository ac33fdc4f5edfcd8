/* SPDX-License-Identifier: Apache-2.0 */
/* zn_batch.h - a store write as data: ordered puts and deletes with generation conditions,
 * encoded as strictly checked bytes so that the same bytes can later be a raft log entry. */
#ifndef ZN_BATCH_H
#define ZN_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "zn_buf.h"
#include "zn_common.h"
#include "zn_err.h"

/* Conditions on an operation, compared with the record's generation when the batch applies. */
#define ZN_BATCH_GEN_ANY    UINT64_MAX /* no condition */
#define ZN_BATCH_GEN_ABSENT 0          /* the key must not exist: a create */

/* Limits, checked both when building and when decoding (the bytes may come off the wire). */
#define ZN_BATCH_MAX_OPS         4096u
#define ZN_BATCH_MAX_BYTES       67108864u /* 64 MiB */
#define ZN_STORE_NAME_MAX_LEN    32u       /* table and index names: [a-z0-9_], 1..32 characters */
#define ZN_STORE_KEY_MAX_BYTES   255u      /* primary keys: 1..255 bytes, any bytes */
#define ZN_STORE_VALUE_MAX_BYTES 16777216u /* 16 MiB */

typedef enum {
    ZN_BATCH_PUT = 1,
    ZN_BATCH_DELETE = 2,
} zn_batch_kind_t;

/* One operation. Every zn_buf_t is borrowed: from the caller when adding, from the batch when
 * reading (valid until the batch is modified or destroyed). TABLE is not NUL-terminated. */
typedef struct zn_batch_op {
    zn_batch_kind_t kind;
    zn_buf_t table;
    zn_buf_t key;
    zn_buf_t value;          /* puts only; empty for deletes */
    uint64_t expect_gen;     /* ZN_BATCH_GEN_ANY, ZN_BATCH_GEN_ABSENT (puts only) or a generation */
    uint32_t record_version; /* puts only: 0 means the table's current record version */
} zn_batch_op_t;

typedef struct zn_batch zn_batch_t;

/* An empty batch, ready for zn_batch_put/zn_batch_delete. Cannot fail. */
zn_batch_t *zn_batch_new(void);

/* Free the batch and set *self_p to NULL. Does nothing if *self_p is NULL. */
void zn_batch_destroy(zn_batch_t **self_p);

/* Forget every operation, keep the memory: a loop can reuse one batch without allocating. */
void zn_batch_reset(zn_batch_t *self);

/* Append a copy of OP. Returns 0, -EINVAL (bad kind, table name, empty key, or a condition that
 * makes no sense such as deleting with ZN_BATCH_GEN_ABSENT) or ZN_ETOOBIG (a limit above), with
 * FAULT (optional) saying which. On failure the batch is unchanged. */
ZN_MUST_CHECK int zn_batch_add(zn_batch_t *self, const zn_batch_op_t *op, zn_fault_t *fault);

/* Shorthands for zn_batch_add: put VALUE at TABLE/KEY when the record's generation matches
 * EXPECT_GEN, or delete TABLE/KEY. Unconditional deletes of a missing key succeed. */
ZN_MUST_CHECK int zn_batch_put(zn_batch_t *self, const char *table, zn_buf_t key, zn_buf_t value,
                               uint64_t expect_gen);
ZN_MUST_CHECK int zn_batch_delete(zn_batch_t *self, const char *table, zn_buf_t key,
                                  uint64_t expect_gen);

/* How many operations the batch holds. */
size_t zn_batch_count(const zn_batch_t *self);

/* Operation INDEX (< zn_batch_count) into *out, borrowing from the batch. */
void zn_batch_op(const zn_batch_t *self, size_t index, zn_batch_op_t *out);

/* The encoded batch, borrowed until the batch is next modified or destroyed. The layout is a
 * fixed little-endian format (docs/store.md) and is the same bytes zn_batch_decode accepts. */
zn_buf_t zn_batch_bytes(const zn_batch_t *self);

/* Check BYTES strictly (magic, version, every length against the bytes left and the limits
 * above, names, reserved fields zero, nothing trailing) and on success make *out a new batch
 * holding a copy. On failure *out is NULL and the return is -EBADMSG or ZN_ETOOBIG (or -EINVAL
 * for an operation zn_batch_add would refuse), with FAULT saying where. */
ZN_MUST_CHECK int zn_batch_decode(zn_batch_t **out, zn_buf_t bytes, zn_fault_t *fault);

/* True when NAME is a valid table or index name: [a-z0-9_], 1..ZN_STORE_NAME_MAX_LEN bytes. */
bool zn_batch_name_is_valid(zn_buf_t name);

/* A key or value from a C string, without its NUL; borrows S. */
static inline zn_buf_t
zn_batch_str(const char *s)
{
    zn_buf_t buf = {(const uint8_t *)s, strlen(s)};
    return buf;
}

#endif
