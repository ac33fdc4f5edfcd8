/* SPDX-License-Identifier: Apache-2.0 */
/* zn_mpread.h - a bounds-checked, allocation-free cursor that reads MessagePack one token at a
 * time. zn_mp_check, zn_env and zn_schema decode through it. */
#ifndef ZN_MPREAD_H
#define ZN_MPREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zn_buf.h"
#include "zn_common.h"
#include "zn_err.h"

typedef enum {
    ZN_MPT_NIL,
    ZN_MPT_BOOL,
    ZN_MPT_UINT, /* every integer >= 0, whatever its encoding */
    ZN_MPT_INT,  /* every integer < 0 */
    ZN_MPT_F64,  /* float 32 and 64, widened */
    ZN_MPT_STR,
    ZN_MPT_BIN,
    ZN_MPT_ARRAY,
    ZN_MPT_MAP,
} zn_mptype_t;

/* One token. For STR and BIN, BYTES borrows the reader's input. For ARRAY and MAP, COUNT is the
 * number of elements (entries for a map) that follow; the token itself holds none of them. */
typedef struct zn_mpval {
    zn_mptype_t type;

    union {
        bool b;
        uint64_t u;
        int64_t i;
        double f;
        zn_buf_t bytes;
        uint32_t count;
    } v;
} zn_mpval_t;

/* A cursor over borrowed bytes: a small plain value, usually on the stack. POS never exceeds
 * the input's length. */
typedef struct zn_mpread {
    zn_buf_t in;
    size_t pos;
} zn_mpread_t;

/* Start reading BYTES, which must outlive the reader and every token it returns. */
void zn_mpread_init(zn_mpread_t *self, zn_buf_t bytes);

/* Read the next token into *out [out] and step past it (for STR and BIN, past the payload; for
 * ARRAY and MAP, only past the header). A container's count is refused when its elements could
 * not fit in the bytes that remain (each takes at least one byte, a map entry two).
 * Returns 0, or -EBADMSG on truncation, the reserved byte 0xc1 or an extension type, with FAULT
 * (optional) giving the offset. On failure the cursor does not move. */
ZN_MUST_CHECK int zn_mpread_next(zn_mpread_t *self, zn_mpval_t *out, zn_fault_t *fault);

/* Skip COUNT whole objects, containers with everything inside them. Uses no stack, so it is safe
 * on any input; limits on depth are zn_mp_check's job. Returns 0 or -EBADMSG as above. */
ZN_MUST_CHECK int zn_mpread_skip(zn_mpread_t *self, uint64_t count, zn_fault_t *fault);

/* Skip what VAL, a token just read, still holds: the elements of an array or map, else nothing. */
ZN_MUST_CHECK int zn_mpread_skip_contents(zn_mpread_t *self, const zn_mpval_t *val,
                                          zn_fault_t *fault);

/* Bytes not read yet. */
size_t zn_mpread_remaining(const zn_mpread_t *self);

#endif
