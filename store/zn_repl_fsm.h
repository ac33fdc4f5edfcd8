/* SPDX-License-Identifier: Apache-2.0 */
/* zn_repl_fsm.h - the local store as a libraft state machine: log entries that carry groups of
 * store batches, applied idempotently in log order, and snapshots that are LMDB copies. */
#ifndef ZN_REPL_FSM_H
#define ZN_REPL_FSM_H

#include <stddef.h>
#include <stdint.h>

#include <raft.h>

#include "zn_buf.h"
#include "zn_common.h"
#include "zn_err.h"
#include "zn_store.h"

/* Batches one log entry may carry (zn_store_apply_many's limit) and its largest size. */
#define ZN_REPL_ENTRY_MAX_BATCHES 4096u
#define ZN_REPL_ENTRY_MAX_BYTES   ((size_t)64 << 20)

/* A batch's applied_seq is (entry index << ZN_REPL_SEQ_SHIFT) | position in the entry: unique,
 * increasing in log order, and the same on every node. */
#define ZN_REPL_SEQ_SHIFT 12u

/* The result of one batch of the entry just applied. */
typedef struct zn_repl_batch_result {
    int rc; /* what zn_store_apply returned for it on this node (the same on every node) */
    zn_fault_t fault;
} zn_repl_batch_result_t;

/* What the apply callback passes as raft_apply_cb's RESULT: the results of the entry just
 * applied, borrowed from the state machine until the next entry is applied. COUNT is 0 with
 * ENTRY_RC -EBADMSG when the entry itself was malformed (on every node alike). */
typedef struct zn_repl_apply_result {
    int entry_rc;
    size_t count;
    const zn_repl_batch_result_t *batches;
} zn_repl_apply_result_t;

typedef struct zn_repl_fsm zn_repl_fsm_t;

/* A state machine over STORE (borrowed; it must outlive the state machine, and nothing else may
 * write to it). SCRATCH_DIR (created when missing) holds snapshot copies while they are made or
 * installed. Returns 0, or -errno when SCRATCH_DIR cannot be created, with FAULT. */
ZN_MUST_CHECK int zn_repl_fsm_open(zn_repl_fsm_t **out, zn_store_t *store, const char *scratch_dir,
                                   zn_fault_t *fault);

/* Free the state machine and set *self_p to NULL. Does nothing if *self_p is NULL. The raft
 * instance bound to it must be closed first. */
void zn_repl_fsm_destroy(zn_repl_fsm_t **self_p);

/* The struct raft_fsm to hand to raft_init (or raft_fixture_grow); owned by SELF. */
struct raft_fsm *zn_repl_fsm_raft(zn_repl_fsm_t *self);

/* Tell the state machine which raft instance drives it, before that instance starts. libraft
 * does not pass the entry index to apply; it is RAFT's last_applied + 1 during the call. */
void zn_repl_fsm_bind(zn_repl_fsm_t *self, struct raft *raft);

/* Counters, for tests and metrics: entries applied (replays included), snapshots taken,
 * snapshots installed (restores that replaced the store) and restores skipped because the local
 * store was already at or past the snapshot. Loop thread only. */
typedef struct zn_repl_fsm_stats {
    uint64_t entries;
    uint64_t snapshots;
    uint64_t installs;
    uint64_t skipped_restores;
} zn_repl_fsm_stats_t;

zn_repl_fsm_stats_t zn_repl_fsm_stats(const zn_repl_fsm_t *self);

/* Encode COUNT (1..ZN_REPL_ENTRY_MAX_BATCHES) batches into one entry payload, allocated with
 * raft_malloc as raft_apply wants. Returns 0, or -EINVAL / ZN_ETOOBIG for COUNT or size. */
ZN_MUST_CHECK int zn_repl_entry_encode(const zn_buf_t *batches, size_t count,
                                       struct raft_buffer *out);

#endif
