/* SPDX-License-Identifier: Apache-2.0 */
/* zn_mpread.c - a bounds-checked MessagePack token reader. */
#include "zn_mpread.h"

#include <errno.h>
#include <string.h>

/* What a lead byte announces, and how many big-endian bytes of length or value follow it. */
typedef enum {
    S_NIL,
    S_FALSE,
    S_TRUE,
    S_RESERVED,
    S_EXT,
    S_UINT,
    S_INT,
    S_NEGFIX,
    S_F32,
    S_F64,
    S_STR,
    S_BIN,
    S_ARRAY,
    S_MAP,
} s_kind_t;

typedef struct {
    uint8_t kind;
    uint8_t width;
} s_format_t;

/* Lead bytes 0xc0 to 0xdf; the fix-ranges around them are decoded in s_lead. */
static const s_format_t s_formats[32] = {
    {S_NIL, 0},   {S_RESERVED, 0}, {S_FALSE, 0}, {S_TRUE, 0}, {S_BIN, 1}, {S_BIN, 2},  {S_BIN, 4},
    {S_EXT, 0},   {S_EXT, 0},      {S_EXT, 0},   {S_F32, 4},  {S_F64, 8}, {S_UINT, 1}, {S_UINT, 2},
    {S_UINT, 4},  {S_UINT, 8},     {S_INT, 1},   {S_INT, 2},  {S_INT, 4}, {S_INT, 8},  {S_EXT, 0},
    {S_EXT, 0},   {S_EXT, 0},      {S_EXT, 0},   {S_EXT, 0},  {S_STR, 1}, {S_STR, 2},  {S_STR, 4},
    {S_ARRAY, 2}, {S_ARRAY, 4},    {S_MAP, 2},   {S_MAP, 4},
};

void
zn_mpread_init(zn_mpread_t *self, zn_buf_t bytes)
{
    self->in = bytes;
    self->pos = 0;
}

static s_format_t
s_lead(uint8_t lead, uint64_t *n)
{
    *n = lead;
    if (lead <= 0x7f) {
        return (s_format_t){S_UINT, 0};
    }
    if (lead >= 0xe0) {
        return (s_format_t){S_NEGFIX, 0};
    }
    if (lead <= 0x8f) {
        *n = lead & 0x0fu;
        return (s_format_t){S_MAP, 0};
    }
    if (lead <= 0x9f) {
        *n = lead & 0x0fu;
        return (s_format_t){S_ARRAY, 0};
    }
    if (lead <= 0xbf) {
        *n = lead & 0x1fu;
        return (s_format_t){S_STR, 0};
    }
    return s_formats[lead - 0xc0];
}

static uint64_t
s_big_endian(const uint8_t *p, size_t width)
{
    uint64_t v = 0;
    for (size_t i = 0; i < width; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

static void
s_number(s_format_t fmt, uint64_t n, zn_mpval_t *out)
{
    if (fmt.kind == S_F32) {
        uint32_t bits = (uint32_t)n;
        float f;
        memcpy(&f, &bits, sizeof(f));
        out->type = ZN_MPT_F64;
        out->v.f = f;
        return;
    }
    if (fmt.kind == S_F64) {
        out->type = ZN_MPT_F64;
        memcpy(&out->v.f, &n, sizeof(out->v.f));
        return;
    }
    if (fmt.kind == S_UINT) {
        out->type = ZN_MPT_UINT;
        out->v.u = n;
        return;
    }
    /* Sign-extend from the encoded width; a negative fixint is one byte wide. */
    unsigned shift = fmt.kind == S_NEGFIX ? 56u : 64u - 8u * fmt.width;
    int64_t i = (int64_t)(n << shift) >> shift;
    if (i >= 0) {
        out->type = ZN_MPT_UINT; /* one type per value, whichever encoding the peer chose */
        out->v.u = (uint64_t)i;
        return;
    }
    out->type = ZN_MPT_INT;
    out->v.i = i;
}

/* Fill OUT from a lead whose header (HDR bytes) is in bounds; REST bytes follow the header. */
static int
s_finish(zn_mpread_t *self, s_format_t fmt, uint64_t n, size_t hdr, zn_mpval_t *out,
         zn_fault_t *fault)
{
    size_t rest = zn_mpread_remaining(self) - hdr;
    switch (fmt.kind) {
    case S_NIL:
        out->type = ZN_MPT_NIL;
        break;
    case S_FALSE:
    case S_TRUE:
        out->type = ZN_MPT_BOOL;
        out->v.b = fmt.kind == S_TRUE;
        break;
    case S_STR:
    case S_BIN:
        if (n > rest) {
            return zn_fault_set(fault, -EBADMSG, "msgpack offset %zu: %s of %llu bytes truncated",
                                self->pos, fmt.kind == S_STR ? "str" : "bin",
                                (unsigned long long)n);
        }
        out->type = fmt.kind == S_STR ? ZN_MPT_STR : ZN_MPT_BIN;
        out->v.bytes = (zn_buf_t){self->in.ptr + self->pos + hdr, (size_t)n};
        hdr += (size_t)n;
        break;
    case S_ARRAY:
    case S_MAP:
        /* Each element takes at least one byte: a count that cannot fit is a lie. */
        if ((fmt.kind == S_MAP ? 2 * n : n) > rest) {
            return zn_fault_set(fault, -EBADMSG,
                                "msgpack offset %zu: %s of %llu elements in %zu bytes", self->pos,
                                fmt.kind == S_MAP ? "map" : "array", (unsigned long long)n, rest);
        }
        out->type = fmt.kind == S_MAP ? ZN_MPT_MAP : ZN_MPT_ARRAY;
        out->v.count = (uint32_t)n;
        break;
    default:
        s_number(fmt, n, out);
        break;
    }
    self->pos += hdr;
    return 0;
}

int
zn_mpread_next(zn_mpread_t *self, zn_mpval_t *out, zn_fault_t *fault)
{
    size_t left = zn_mpread_remaining(self);
    if (left == 0) {
        return zn_fault_set(fault, -EBADMSG, "msgpack offset %zu: truncated", self->pos);
    }
    const uint8_t *p = self->in.ptr + self->pos;
    if (p[0] <= 0x7f) {
        /* The commonest token by far (every header key): take it without the general path. */
        out->type = ZN_MPT_UINT;
        out->v.u = p[0];
        self->pos++;
        return 0;
    }
    uint64_t n = 0;
    s_format_t fmt = s_lead(p[0], &n);
    if (fmt.kind == S_RESERVED || fmt.kind == S_EXT) {
        return zn_fault_set(fault, -EBADMSG, "msgpack offset %zu: %s type 0x%02x refused",
                            self->pos, fmt.kind == S_EXT ? "extension" : "reserved", p[0]);
    }
    if (left - 1 < fmt.width) {
        return zn_fault_set(fault, -EBADMSG, "msgpack offset %zu: truncated", self->pos);
    }
    if (fmt.width > 0) {
        n = s_big_endian(p + 1, fmt.width);
    }
    return s_finish(self, fmt, n, 1u + fmt.width, out, fault);
}

int
zn_mpread_skip(zn_mpread_t *self, uint64_t count, zn_fault_t *fault)
{
    uint64_t pending = count;
    while (pending > 0) {
        zn_mpval_t val;
        int rc = zn_mpread_next(self, &val, fault);
        if (rc < 0) {
            return rc;
        }
        pending--;
        if (val.type == ZN_MPT_ARRAY || val.type == ZN_MPT_MAP) {
            pending += val.type == ZN_MPT_MAP ? 2u * (uint64_t)val.v.count : val.v.count;
        }
        /* Every pending object needs a byte: this bounds the loop without a stack. */
        if (pending > zn_mpread_remaining(self)) {
            return zn_fault_set(fault, -EBADMSG, "msgpack offset %zu: truncated", self->pos);
        }
    }
    return 0;
}

int
zn_mpread_skip_contents(zn_mpread_t *self, const zn_mpval_t *val, zn_fault_t *fault)
{
    if (val->type == ZN_MPT_MAP) {
        return zn_mpread_skip(self, 2u * (uint64_t)val->v.count, fault);
    }
    if (val->type == ZN_MPT_ARRAY) {
        return zn_mpread_skip(self, val->v.count, fault);
    }
    return 0;
}

size_t
zn_mpread_remaining(const zn_mpread_t *self)
{
    return self->in.len - self->pos;
}
