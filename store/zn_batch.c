/* SPDX-License-Identifier: Apache-2.0 */
/* zn_batch.c - build, encode and strictly decode store write batches. */
#include "zn_batch.h"

#include <errno.h>
#include <stdbool.h>

#include "zn_le_int.h"
#include "zn_mem.h"

/* Layout (little-endian): "ZNB" 0x01, u32 op count, then per operation a 24-byte header
 * { u8 kind, u8 table_len, u16 key_len, u32 record_version, u32 value_len, u32 reserved = 0,
 *   u64 expect_gen } followed by the table name, the key and the value bytes. */
#define S_MAGIC        "ZNB\x01"
#define S_HEADER_BYTES 8u
#define S_OP_BYTES     24u

struct zn_batch {
    uint8_t *bytes; /* always starts with a complete header whose count matches */
    size_t len;
    size_t cap;
    size_t *offsets; /* where each operation starts in BYTES */
    size_t count;
    size_t offsets_cap;
};

zn_batch_t *
zn_batch_new(void)
{
    zn_batch_t *self = zn_calloc(1, sizeof(*self));
    self->cap = 256;
    self->bytes = zn_malloc(self->cap);
    zn_batch_reset(self);
    return self;
}

void
zn_batch_destroy(zn_batch_t **self_p)
{
    if (*self_p == NULL) {
        return;
    }
    zn_batch_t *self = *self_p;
    zn_free(self->bytes);
    zn_free(self->offsets);
    zn_free(self);
    *self_p = NULL;
}

void
zn_batch_reset(zn_batch_t *self)
{
    memcpy(self->bytes, S_MAGIC, 4);
    zn__le_put_u32(self->bytes + 4, 0);
    self->len = S_HEADER_BYTES;
    self->count = 0;
}

bool
zn_batch_name_is_valid(zn_buf_t name)
{
    if (name.len == 0 || name.len > ZN_STORE_NAME_MAX_LEN) {
        return false;
    }
    for (size_t i = 0; i < name.len; i++) {
        uint8_t c = name.ptr[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
            return false;
        }
    }
    return true;
}

static int
s_check_op(const zn_batch_op_t *op, zn_fault_t *fault)
{
    if (op->kind != ZN_BATCH_PUT && op->kind != ZN_BATCH_DELETE) {
        return zn_fault_set(fault, -EINVAL, "batch: unknown operation kind %d", (int)op->kind);
    }
    if (!zn_batch_name_is_valid(op->table)) {
        return zn_fault_set(fault, -EINVAL, "batch: bad table name (want [a-z0-9_]{1,32})");
    }
    if (op->key.len == 0 || op->key.len > ZN_STORE_KEY_MAX_BYTES) {
        return zn_fault_set(fault, op->key.len == 0 ? -EINVAL : ZN_ETOOBIG,
                            "batch: key of %zu bytes (want 1..%u)", op->key.len,
                            ZN_STORE_KEY_MAX_BYTES);
    }
    if (op->kind == ZN_BATCH_DELETE) {
        if (op->value.len != 0 || op->record_version != 0) {
            return zn_fault_set(fault, -EINVAL, "batch: a delete carries no value or version");
        }
        if (op->expect_gen == ZN_BATCH_GEN_ABSENT) {
            return zn_fault_set(fault, -EINVAL, "batch: delete expecting an absent record");
        }
    }
    if (op->value.len > ZN_STORE_VALUE_MAX_BYTES) {
        return zn_fault_set(fault, ZN_ETOOBIG, "batch: value of %zu bytes (max %u)", op->value.len,
                            ZN_STORE_VALUE_MAX_BYTES);
    }
    return 0;
}

static void
s_reserve(zn_batch_t *self, size_t extra)
{
    if (self->len + extra > self->cap) {
        while (self->len + extra > self->cap) {
            self->cap *= 2;
        }
        self->bytes = zn_realloc(self->bytes, self->cap);
    }
    if (self->count == self->offsets_cap) {
        self->offsets_cap = self->offsets_cap ? self->offsets_cap * 2 : 8;
        self->offsets = zn_realloc(self->offsets, self->offsets_cap * sizeof(*self->offsets));
    }
}

static void
s_append(zn_batch_t *self, const zn_batch_op_t *op)
{
    size_t size = S_OP_BYTES + op->table.len + op->key.len + op->value.len;
    s_reserve(self, size);
    uint8_t *p = self->bytes + self->len;
    p[0] = (uint8_t)op->kind;
    p[1] = (uint8_t)op->table.len;
    zn__le_put_u16(p + 2, (uint16_t)op->key.len);
    zn__le_put_u32(p + 4, op->record_version);
    zn__le_put_u32(p + 8, (uint32_t)op->value.len);
    zn__le_put_u32(p + 12, 0);
    zn__le_put_u64(p + 16, op->expect_gen);
    p += S_OP_BYTES;
    memcpy(p, op->table.ptr, op->table.len);
    memcpy(p + op->table.len, op->key.ptr, op->key.len);
    if (op->value.len > 0) {
        memcpy(p + op->table.len + op->key.len, op->value.ptr, op->value.len);
    }
    self->offsets[self->count++] = self->len;
    self->len += size;
    zn__le_put_u32(self->bytes + 4, (uint32_t)self->count);
}

int
zn_batch_add(zn_batch_t *self, const zn_batch_op_t *op, zn_fault_t *fault)
{
    int rc = s_check_op(op, fault);
    if (rc < 0) {
        return rc;
    }
    if (self->count >= ZN_BATCH_MAX_OPS) {
        return zn_fault_set(fault, ZN_ETOOBIG, "batch: more than %u operations", ZN_BATCH_MAX_OPS);
    }
    size_t size = S_OP_BYTES + op->table.len + op->key.len + op->value.len;
    if (self->len + size > ZN_BATCH_MAX_BYTES) {
        return zn_fault_set(fault, ZN_ETOOBIG, "batch: more than %u bytes", ZN_BATCH_MAX_BYTES);
    }
    s_append(self, op);
    return 0;
}

int
zn_batch_put(zn_batch_t *self, const char *table, zn_buf_t key, zn_buf_t value, uint64_t expect_gen)
{
    zn_batch_op_t op = {.kind = ZN_BATCH_PUT,
                        .table = zn_batch_str(table),
                        .key = key,
                        .value = value,
                        .expect_gen = expect_gen};
    return zn_batch_add(self, &op, NULL);
}

int
zn_batch_delete(zn_batch_t *self, const char *table, zn_buf_t key, uint64_t expect_gen)
{
    zn_batch_op_t op = {.kind = ZN_BATCH_DELETE,
                        .table = zn_batch_str(table),
                        .key = key,
                        .expect_gen = expect_gen};
    return zn_batch_add(self, &op, NULL);
}

size_t
zn_batch_count(const zn_batch_t *self)
{
    return self->count;
}

/* Read the operation at P without checking: the bytes were checked when they entered. */
static size_t
s_read_op(const uint8_t *p, zn_batch_op_t *out)
{
    out->kind = (zn_batch_kind_t)p[0];
    out->table.len = p[1];
    out->key.len = zn__le_get_u16(p + 2);
    out->record_version = zn__le_get_u32(p + 4);
    out->value.len = zn__le_get_u32(p + 8);
    out->expect_gen = zn__le_get_u64(p + 16);
    out->table.ptr = p + S_OP_BYTES;
    out->key.ptr = out->table.ptr + out->table.len;
    out->value.ptr = out->key.ptr + out->key.len;
    return S_OP_BYTES + out->table.len + out->key.len + out->value.len;
}

void
zn_batch_op(const zn_batch_t *self, size_t index, zn_batch_op_t *out)
{
    ZN_ASSERT(index < self->count);
    (void)s_read_op(self->bytes + self->offsets[index], out);
}

zn_buf_t
zn_batch_bytes(const zn_batch_t *self)
{
    zn_buf_t buf = {self->bytes, self->len};
    return buf;
}

/* Check one operation header at OFFSET against the bytes left; *size is the whole op's size. */
static int
s_check_encoded_op(zn_buf_t bytes, size_t offset, size_t *size, zn_fault_t *fault)
{
    size_t left = bytes.len - offset;
    if (left < S_OP_BYTES) {
        return zn_fault_set(fault, -EBADMSG, "batch: truncated operation at byte %zu", offset);
    }
    const uint8_t *p = bytes.ptr + offset;
    if (zn__le_get_u32(p + 12) != 0) {
        return zn_fault_set(fault, -EBADMSG, "batch: reserved field set at byte %zu", offset);
    }
    size_t body = (size_t)p[1] + zn__le_get_u16(p + 2) + (size_t)zn__le_get_u32(p + 8);
    if (body > left - S_OP_BYTES) {
        return zn_fault_set(fault, -EBADMSG, "batch: operation at byte %zu overruns the batch",
                            offset);
    }
    zn_batch_op_t op;
    *size = s_read_op(p, &op);
    return s_check_op(&op, fault);
}

static int
s_check_header(zn_buf_t bytes, uint32_t *count, zn_fault_t *fault)
{
    if (bytes.len > ZN_BATCH_MAX_BYTES) {
        return zn_fault_set(fault, ZN_ETOOBIG, "batch: %zu bytes (max %u)", bytes.len,
                            ZN_BATCH_MAX_BYTES);
    }
    if (bytes.len < S_HEADER_BYTES || memcmp(bytes.ptr, S_MAGIC, 4) != 0) {
        return zn_fault_set(fault, -EBADMSG, "batch: bad magic or version");
    }
    *count = zn__le_get_u32(bytes.ptr + 4);
    if (*count > ZN_BATCH_MAX_OPS) {
        return zn_fault_set(fault, ZN_ETOOBIG, "batch: %u operations (max %u)", *count,
                            ZN_BATCH_MAX_OPS);
    }
    return 0;
}

int
zn_batch_decode(zn_batch_t **out, zn_buf_t bytes, zn_fault_t *fault)
{
    *out = NULL;
    uint32_t count = 0;
    int rc = s_check_header(bytes, &count, fault);
    if (rc < 0) {
        return rc;
    }
    zn_batch_t *self = zn_batch_new();
    size_t offset = S_HEADER_BYTES;
    for (uint32_t i = 0; i < count; i++) {
        size_t size = 0;
        rc = s_check_encoded_op(bytes, offset, &size, fault);
        if (rc < 0) {
            goto out_destroy;
        }
        zn_batch_op_t op;
        (void)s_read_op(bytes.ptr + offset, &op);
        s_append(self, &op);
        offset += size;
    }
    if (offset != bytes.len) {
        rc = zn_fault_set(fault, -EBADMSG, "batch: %zu trailing bytes", bytes.len - offset);
        goto out_destroy;
    }
    *out = self;
    return 0;

out_destroy:
    zn_batch_destroy(&self);
    return rc;
}
