/* SPDX-License-Identifier: Apache-2.0 */
/* zn_sclient.h - how a controller agent (api, scheduler, image, network, volume, identity) uses
 * the replicated state store: it reads the local replica's LMDB directly (read-only, at LMDB
 * speed) and sends every write, a zn_batch, to the conductors' `store_write` (the leader commits
 * it through raft; a follower forwards it).
 *
 * Consistency: read-your-writes on this node. A conductor answers a committed write with
 * {applied_seq: N}, N being its replica's applied sequence right after the commit (zn_store.h);
 * a write's callback (and zn_sclient_write_sync's return) waits until the local replica has
 * applied N too, so the caller reads its own write here even when this node's replica is a
 * follower that lags the leader by a heartbeat. The check is one LMDB read; when it fails the
 * client looks again on a loop timer (1 ms, backing off to 16 ms) for at most applied_wait_ms,
 * then runs the callback anyway (the write is committed) with one warning line. An answer
 * without applied_seq (an older conductor) is passed on at once. Other agents' writes may still
 * be seen late: decisions that must not race (claims, quotas, IP addresses) are
 * generation-conditioned batches: the store refuses a stale one with ZN_ECONFLICT, and the
 * caller re-reads and tries again. Loop thread. */
#ifndef ZN_SCLIENT_H
#define ZN_SCLIENT_H

#include <stdint.h>

#include <czmq.h>

#include "zn_batch.h"
#include "zn_env.h"
#include "zn_err.h"
#include "zn_keys.h"
#include "zn_metrics.h"
#include "zn_schema.h"
#include "zn_store.h"

#define ZN_SCLIENT_WRITE_TIMEOUT_MS 5000
#define ZN_SCLIENT_APPLIED_WAIT_MS  2000

typedef struct zn_sclient zn_sclient_t;

typedef struct zn_sclient_opts {
    const char *data_dir;       /* the local conductor's [store] data_dir, or its store/ subdir */
    const char *conductor_call; /* the conductors' call endpoints, comma-separated */
    const zn_keys_t *keys;      /* our CURVE pair (a controller key); NULL: plaintext */
    const char *conductor_public;
    zn_metrics_t *metrics;   /* borrowed, may be NULL */
    int64_t applied_wait_ms; /* longest wait for the replica after a write; 0: the default */
} zn_sclient_opts_t;

/* Connect to the conductors. The replica is opened on first use (the conductor creates it), so
 * an agent may start before its conductor. Returns 0 or -EINVAL with FAULT. */
ZN_MUST_CHECK int zn_sclient_open(zn_sclient_t **out, const zn_sclient_opts_t *opts,
                                  zn_fault_t *fault);

void zn_sclient_destroy(zn_sclient_t **self_p);

/* Receive write answers on LOOP. Returns 0 or -EINVAL. */
ZN_MUST_CHECK int zn_sclient_attach(zn_sclient_t *self, zloop_t *loop);

/* ---- reads ------------------------------------------------------------------------------- */

/* Start a read transaction on the local replica (zn_store_read_end ends it). Returns 0,
 * ZN_EUNAVAIL with FAULT when the replica does not exist yet (no conductor ran here), or
 * zn_store_read_begin's errors. */
ZN_MUST_CHECK int zn_sclient_read_begin(zn_sclient_t *self, zn_store_read_t **out,
                                        zn_fault_t *fault);

/* The table called NAME (zn_tables.h), or NULL before the replica could be opened. */
const zn_store_table_t *zn_sclient_table(zn_sclient_t *self, const char *name);

/* Read TABLE/KEY in TXN and decode it with SCHEMA into OBJ (release with zn_schema_release);
 * *generation (optional) gets its generation for a conditional write. Returns 0, -ENOENT (FAULT
 * says "TABLE KEY not found"), or a decode error. */
ZN_MUST_CHECK int zn_sclient_get(zn_store_read_t *txn, const zn_store_table_t *table,
                                 const char *key, const zn_schema_t *schema, void *obj,
                                 uint64_t *generation, zn_fault_t *fault);

/* ---- writes ------------------------------------------------------------------------------ */

/* Called once per write: FAULT->code is 0 (committed), ZN_ECONFLICT (a condition failed:
 * nothing was written), -ETIMEDOUT / ZN_EUNKNOWN (outcome unknown: retry idempotently),
 * ZN_EUNAVAIL (no conductor or no leader), or another error. */
typedef void(zn_sclient_done_fn)(void *arg, const zn_fault_t *fault);

/* Send BATCH's bytes (copied) for commit; CTX (may be NULL) carries the request id. FN runs
 * later on the loop thread; after a commit, once the local replica holds the write (see the top
 * of this file). zn_sclient_destroy runs the FN of writes still waiting for the replica, with
 * success. Returns 0, or a negative errno when nothing was sent (FN never runs). */
ZN_MUST_CHECK int zn_sclient_write(zn_sclient_t *self, const zn_ctx_t *ctx, const zn_batch_t *batch,
                                   int64_t timeout_ms, zn_sclient_done_fn *fn, void *arg);

/* Write and wait (tools, tests, start-up), also for the replica as zn_sclient_write does (by
 * sleeping: this blocks the thread). Returns what FN would have seen, with FAULT. */
ZN_MUST_CHECK int zn_sclient_write_sync(zn_sclient_t *self, const zn_ctx_t *ctx,
                                        const zn_batch_t *batch, int64_t timeout_ms,
                                        zn_fault_t *fault);

/* Put OBJ (encoded with SCHEMA) at TABLE/KEY into BATCH with the condition EXPECT_GEN
 * (ZN_BATCH_GEN_ABSENT to create, a generation to update, ZN_BATCH_GEN_ANY). Returns 0 or
 * zn_batch_add's errors. */
ZN_MUST_CHECK int zn_sclient_put(zn_batch_t *batch, const char *table, const char *key,
                                 const zn_schema_t *schema, const void *obj, uint64_t expect_gen);

#endif
