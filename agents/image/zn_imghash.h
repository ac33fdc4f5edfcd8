/* SPDX-License-Identifier: Apache-2.0 */
/* zn_imghash.h - the md5 and sha512 of uploads, taken behind the writer.
 *
 * Two hasher threads (one per digest) read what an upload has already written to its file,
 * from the page cache through a read-only mapping, in spans of ZN_IMGHASH_SPAN_BYTES. The loop
 * only writes and hands over spans, without waiting: receiving, writing and both digests run at
 * once, and an upload costs the slowest of them instead of their sum. The loop waits only when
 * the hashers fall ZN_IMGHASH_LAG_SPANS spans behind (so the file stays in the page cache), and
 * for an upload's last span when it needs its digests.
 *
 * All of it runs on the loop's thread but the hashers; one zn_imghash_t serves every upload of
 * an agent. */
#ifndef ZN_IMGHASH_H
#define ZN_IMGHASH_H

#include <stdbool.h>
#include <stdint.h>

#include "zn_err.h"

#define ZN_IMGHASH_SPAN_BYTES ((uint64_t)4 << 20)
#define ZN_IMGHASH_LAG_SPANS  8
#define ZN_IMGHASH_MD5_HEX    32
#define ZN_IMGHASH_SHA512_HEX 128

typedef struct zn_imghash zn_imghash_t;
typedef struct zn_imghash_job zn_imghash_job_t;

/* Start the two hasher threads. Aborts on out-of-memory, like zn_malloc. */
zn_imghash_t *zn_imghash_new(void);

/* Stop the threads. Every job must have been destroyed first. */
void zn_imghash_destroy(zn_imghash_t **self_p);

/* Digest what will be written to FD (which the caller keeps open until the job is destroyed),
 * from offset 0. */
zn_imghash_job_t *zn_imghash_job_new(zn_imghash_t *self, int fd);

/* The file now holds WRITTEN bytes: hand whole spans over (all that is left when FINAL). May
 * wait for the hashers to catch up. */
void zn_imghash_job_feed(zn_imghash_t *self, zn_imghash_job_t *job, uint64_t written, bool final);

/* Wait for every span handed over, then write the digests in hex (MD5 and SHA512 hold
 * ZN_IMGHASH_*_HEX + 1 bytes). Returns 0, or a negative errno when a span could not be read
 * (the digests are then empty). After the last feed, once. */
ZN_MUST_CHECK int zn_imghash_job_finish(zn_imghash_t *self, zn_imghash_job_t *job, char *md5,
                                        char *sha512);

/* Wait for the job's spans (the hashers read its file) and free it. */
void zn_imghash_job_destroy(zn_imghash_t *self, zn_imghash_job_t **job_p);

#endif
