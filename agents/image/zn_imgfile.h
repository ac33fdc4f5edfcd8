/* SPDX-License-Identifier: Apache-2.0 */
/* zn_imgfile.h - zinc-image's filesystem store: one file per upload, DIR/ID.XXXXXX (its
 * "location", kept in the image record), written through an upload that streams into
 * DIR/tmp/ID.XXXXXX while computing the md5 `checksum` and the sha512 `os_hash_value`, and
 * renamed into place only when complete, so that an interrupted or refused upload leaves no
 * partial file in the store. Each upload has a name of its own: two racing uploads of one image
 * never write over each other, and the loser (whose record write fails) removes its file.
 * Loop thread. Writes go to the page cache in the chunks HTTP delivers; zn_imghash's threads
 * digest the written file behind them; the sync and rename at the end run on a committer
 * thread. */
#ifndef ZN_IMGFILE_H
#define ZN_IMGFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <czmq.h>

#include "zn_err.h"

typedef struct zn_imgfile zn_imgfile_t;

/* The store in DIR (created, with DIR/tmp, when missing; leftovers in DIR/tmp from a crash are
 * removed). FSYNC: sync each image before it is renamed into place. Returns 0 or a negative
 * errno with FAULT. */
ZN_MUST_CHECK int zn_imgfile_open(zn_imgfile_t **out, const char *dir, bool fsync,
                                  zn_fault_t *fault);

/* Stop the threads and free. Commits still in flight are dropped: their callbacks never run and
 * their files are removed. No-op on NULL. */
void zn_imgfile_destroy(zn_imgfile_t **self_p);

/* Receive the committer's answers on LOOP. Returns 0 or -EINVAL. Once, before any commit. */
ZN_MUST_CHECK int zn_imgfile_attach(zn_imgfile_t *self, zloop_t *loop);

/* Open the file at LOCATION for reading: the descriptor (O_CLOEXEC) or a negative errno
 * (-ENOENT, also for a LOCATION that is not one of ours). */
ZN_MUST_CHECK int zn_imgfile_open_read(zn_imgfile_t *self, const char *location);

/* Read up to LEN bytes at LOCATION from OFFSET into BUF. Returns the count (0 at the end) or a
 * negative errno. */
ZN_MUST_CHECK int64_t zn_imgfile_read(zn_imgfile_t *self, const char *location, uint64_t offset,
                                      uint8_t *buf, size_t len);

/* Remove the file at LOCATION; a missing file is fine. Returns 0 or a negative errno. */
ZN_MUST_CHECK int zn_imgfile_remove(zn_imgfile_t *self, const char *location);

/* ---- uploads ------------------------------------------------------------------------------ */

typedef struct zn_imgfile_upload zn_imgfile_upload_t;

/* Start writing image ID, refusing to grow past MAX_BYTES. Returns 0 or a negative errno. */
ZN_MUST_CHECK int zn_imgfile_upload_open(zn_imgfile_t *self, const char *id, uint64_t max_bytes,
                                         zn_imgfile_upload_t **out, zn_fault_t *fault);

/* Append LEN bytes. Returns 0, ZN_ETOOBIG past max_bytes (nothing more is written), or a
 * negative errno from the write (-ENOSPC). After a failure every later call fails the same. */
ZN_MUST_CHECK int zn_imgfile_upload_write(zn_imgfile_upload_t *self, const void *data, size_t len);

/* Bytes written so far. */
uint64_t zn_imgfile_upload_size(const zn_imgfile_upload_t *self);

/* A commit ended: RC 0 with the file in place at LOCATION and its digests in hex (all borrowed
 * for the call), or a negative errno (ZN_ETOOBIG past max_bytes, a write's error, the sync's or
 * rename's) with nothing left behind. */
typedef void(zn_imgfile_commit_fn)(void *arg, int rc, const char *location, const char *md5,
                                   const char *sha512);

/* Finish *UP_P (a sink: the store takes it): sync it (per the store's setting) and rename it
 * into the store off the loop, then call FN with ARG on the loop. Returns 0, or a negative
 * errno when nothing was started (the upload is freed and FN never runs). */
ZN_MUST_CHECK int zn_imgfile_upload_commit(zn_imgfile_t *self, zn_imgfile_upload_t **up_p,
                                           zn_imgfile_commit_fn *fn, void *arg);

/* Commits in flight. */
size_t zn_imgfile_commits(const zn_imgfile_t *self);

/* Free; an upload not committed has its temporary file removed. No-op on NULL. */
void zn_imgfile_upload_destroy(zn_imgfile_upload_t **self_p);

#endif
