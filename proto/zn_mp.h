/* SPDX-License-Identifier: Apache-2.0 */
/* zn_mp.h - MessagePack for zinc: a msgpack-c packer, and strict checking of untrusted bytes. */
#ifndef ZN_MP_H
#define ZN_MP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zn_buf.h"
#include "zn_common.h"
#include "zn_err.h"

/* Hard limits on anything that arrives from the network or a file. */
#define ZN_FRAME_MAX_BYTES 16777216u /* 16 MiB: one RPC frame, header and body */
#define ZN_MP_MAX_DEPTH    16        /* nesting of maps and arrays */
#define ZN_MP_MAX_ITEMS    262144u   /* 256 Ki objects in one document */

/* ---- packing ---------------------------------------------------------------------------- */

/* A growable output buffer with a msgpack-c packer on it. Reuse one per loop: reset keeps the
 * allocation, so steady-state packing does not allocate. */
typedef struct zn_pack zn_pack_t;

zn_pack_t *zn_pack_new(void);
void zn_pack_destroy(zn_pack_t **self_p);

/* Forget the contents, keep the memory. */
void zn_pack_reset(zn_pack_t *self);

/* The bytes packed so far, borrowed until the next write, reset or destroy. */
zn_buf_t zn_pack_buf(const zn_pack_t *self);

/* Append one value. Packing cannot fail except by running out of memory, which aborts. */
void zn_pack_map(zn_pack_t *self, uint32_t count);
void zn_pack_array(zn_pack_t *self, uint32_t count);
void zn_pack_str(zn_pack_t *self, const char *s); /* NULL packs nil */
void zn_pack_strn(zn_pack_t *self, const char *s, size_t len);
void zn_pack_bin(zn_pack_t *self, const void *ptr, size_t len);
void zn_pack_u64(zn_pack_t *self, uint64_t v);
void zn_pack_i64(zn_pack_t *self, int64_t v);
void zn_pack_f64(zn_pack_t *self, double v);
void zn_pack_bool(zn_pack_t *self, bool v);
void zn_pack_nil(zn_pack_t *self);

/* Append BYTES verbatim (an already packed value, such as a body). */
void zn_pack_raw(zn_pack_t *self, zn_buf_t bytes);

/* ---- strict checking --------------------------------------------------------------------- */

/* Walk exactly one MessagePack object at the start of BYTES without allocating, and check that
 * every declared length and element count fits in the bytes that remain, nesting stays within
 * ZN_MP_MAX_DEPTH, the object count within ZN_MP_MAX_ITEMS, and no reserved (0xc1) or extension
 * type appears. On success *consumed (optional) is the object's size in bytes.
 * Returns 0, -EBADMSG (truncated, malformed) or ZN_ETOOBIG (over a limit), with FAULT saying where.
 * Only bytes that passed this check are handed to msgpack-c's unpacker: that is what stops a
 * five-byte frame from declaring a four-billion-element array. */
ZN_MUST_CHECK int zn_mp_check(zn_buf_t bytes, size_t *consumed, zn_fault_t *fault);

/* Render one MessagePack object as JSON text for people (zincctl --json, traces). Binary values
 * become base64 strings. Returns 0 and a new string in *out (the caller's, zn_str_free), or an
 * error from zn_mp_check. */
ZN_MUST_CHECK int zn_mp_to_json(zn_buf_t bytes, char **out, zn_fault_t *fault);

#endif
