/* SPDX-License-Identifier: Apache-2.0 */
/* zn_imgdb.h - zinc-image's records in the replicated store's `images` table: reads from this
 * node's replica, writes through the conductors (zn_sclient), each conditioned on the
 * generation read so that two agents (or an upload and a delete) never overwrite each other
 * unseen. Loop thread only. */
#ifndef ZN_IMGDB_H
#define ZN_IMGDB_H

#include <stdbool.h>
#include <stdint.h>

#include "zn_env.h"
#include "zn_err.h"
#include "zn_imgrec.h"
#include "zn_sclient.h"

typedef struct zn_imgdb zn_imgdb_t;

/* Records on SCLIENT (borrowed; must outlive it). */
zn_imgdb_t *zn_imgdb_new(zn_sclient_t *sclient, int64_t write_timeout_ms);

void zn_imgdb_destroy(zn_imgdb_t **self_p);

/* Image ID into OUT (release with zn_schema_release(&zn_imgrec_schema, ..)); *generation
 * (optional) gets its generation. Returns 0, -ENOENT ("No image found with ID X"), ZN_EUNAVAIL
 * (no replica yet) or a decode error, with FAULT. */
ZN_MUST_CHECK int zn_imgdb_get(zn_imgdb_t *self, const char *id, zn_imgrec_t *out,
                               uint64_t *generation, zn_fault_t *fault);

/* Called for each image after MARKER (an id; NULL: from the start) in id order, IMAGE borrowed
 * for the call; return false to stop. */
typedef bool(zn_imgdb_visit_fn)(void *arg, const zn_imgrec_t *image);

/* Visit the images. Returns 0 or a negative error with FAULT. */
ZN_MUST_CHECK int zn_imgdb_list(zn_imgdb_t *self, const char *marker, zn_imgdb_visit_fn *visit,
                                void *arg, zn_fault_t *fault);

/* The bytes PROJECT_ID's images take (their sizes, uploaded or not) into *bytes. */
ZN_MUST_CHECK int zn_imgdb_usage(zn_imgdb_t *self, const char *project_id, uint64_t *bytes,
                                 zn_fault_t *fault);

/* Called once a write is done: FAULT->code 0, ZN_ECONFLICT (changed underneath), or another. */
typedef void(zn_imgdb_done_fn)(void *arg, const zn_fault_t *fault);

/* Write IMAGE when its record's generation is EXPECT_GEN (ZN_BATCH_GEN_ABSENT: create). FN
 * runs later on the loop. Returns 0, or a negative errno when nothing was sent (FN never runs). */
ZN_MUST_CHECK int zn_imgdb_put(zn_imgdb_t *self, const zn_ctx_t *ctx, const zn_imgrec_t *image,
                               uint64_t expect_gen, zn_imgdb_done_fn *fn, void *arg);

/* Delete image ID when its generation is EXPECT_GEN. As zn_imgdb_put. */
ZN_MUST_CHECK int zn_imgdb_delete(zn_imgdb_t *self, const zn_ctx_t *ctx, const char *id,
                                  uint64_t expect_gen, zn_imgdb_done_fn *fn, void *arg);

#endif
