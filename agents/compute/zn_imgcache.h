/* SPDX-License-Identifier: Apache-2.0 */
/* zn_imgcache.h - the compute node's image cache: one file per image, named by its checksum
 * (content-addressed), written only after both checksums (md5 `checksum` and sha512
 * `os_hash_value`) matched, so a corrupted download is never used. A lock file per checksum
 * makes concurrent builds of one image (from any thread or process) download it once.
 * Instances hold a hard link to the file they boot from, so eviction may unlink any entry at
 * any time without breaking a running guest; it removes the entries no instance links, by age
 * and then oldest first until the cache fits its size. Safe to use from several threads: the
 * module holds no mutable state, only paths and limits. */
#ifndef ZN_IMGCACHE_H
#define ZN_IMGCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zn_err.h"

typedef struct zn_imgcache zn_imgcache_t;

#define ZN_IMGCACHE_MD5_HEX    32
#define ZN_IMGCACHE_SHA512_HEX 128

/* The image wanted, as image_get describes it. At least one checksum is required. */
typedef struct zn_imgcache_want {
    const char *image_id; /* for messages */
    const char *md5;      /* 32 hex digits, or NULL */
    const char *sha512;   /* 128 hex digits, or NULL */
    int64_t size;         /* bytes, or -1 when unknown */
} zn_imgcache_want_t;

/* Where a download writes: zn_imgcache_sink_write appends and hashes. */
typedef struct zn_imgcache_sink zn_imgcache_sink_t;

/* Append LEN bytes. Returns 0, -EIO (write failed), or ZN_ETOOBIG when the image grows past the
 * size it was announced with. */
ZN_MUST_CHECK int zn_imgcache_sink_write(zn_imgcache_sink_t *sink, const void *ptr, size_t len);

/* Bytes written so far. */
int64_t zn_imgcache_sink_offset(const zn_imgcache_sink_t *sink);

/* Download the image into SINK; return 0 or a negative code with FAULT (which the cache then
 * returns unchanged). */
typedef int(zn_imgcache_fetch_fn)(void *arg, zn_imgcache_sink_t *sink, zn_fault_t *fault);

/* Use DIR (created when missing) with these eviction limits (0: no limit). */
ZN_MUST_CHECK int zn_imgcache_open(zn_imgcache_t **out, const char *dir, int64_t max_bytes,
                                   int64_t max_age_ms, zn_fault_t *fault);

void zn_imgcache_destroy(zn_imgcache_t **self_p);

/* Make sure the image WANT describes is in the cache, downloading it with FETCH when it is not,
 * and hard-link it at LINK_PATH (replacing what is there) while still holding the entry's lock,
 * so that eviction cannot remove it in between. *fetched [out, optional] says whether this call
 * downloaded it. Returns 0; -EINVAL (no usable checksum); -EBADMSG with FAULT "checksum mismatch"
 * when the bytes are not the image announced (the download is discarded); -EIO; or FETCH's
 * error. May block for as long as a download takes: worker threads only. */
ZN_MUST_CHECK int zn_imgcache_get(zn_imgcache_t *self, const zn_imgcache_want_t *want,
                                  zn_imgcache_fetch_fn *fetch, void *arg, const char *link_path,
                                  bool *fetched, zn_fault_t *fault);

/* Remove unused entries (no other link) older than max_age, then the oldest unused ones until
 * the cache holds at most max_bytes, and leftovers of interrupted downloads. NOW_WALL_MS is the
 * wall clock (injected for tests). Returns the number of entries removed, or a negative errno. */
int zn_imgcache_evict(zn_imgcache_t *self, int64_t now_wall_ms);

/* Bytes the cache's entries take. */
int64_t zn_imgcache_size_bytes(const zn_imgcache_t *self);

const char *zn_imgcache_dir(const zn_imgcache_t *self);

#endif
