/* SPDX-License-Identifier: Apache-2.0 */
/* zn_repl.h - the replicated store: one libraft node (libuv disk and TCP back end, on a loop
 * thread the module owns) whose state machine is the local LMDB store. Writes are batches,
 * committed in groups through the leader; reads stay local. See docs/store.md, Replication. */
#ifndef ZN_REPL_H
#define ZN_REPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zn_buf.h"
#include "zn_common.h"
#include "zn_err.h"
#include "zn_store.h"

#define ZN_REPL_ADDRESS_MAX_LEN 63u /* "IPv4:port" plus room for a host name */

/* One member of the cluster. */
typedef struct zn_repl_peer {
    uint64_t id;         /* >= 1, unique in the cluster, never reused */
    const char *address; /* "IPv4:port" of its raft endpoint */
} zn_repl_peer_t;

/* Everything zn_repl_open needs. Pointers are borrowed for the call, except STORE. */
typedef struct zn_repl_opts {
    zn_store_t *store; /* the state machine: must outlive the node; only the node writes to it */
    const char *dir;   /* raft log, metadata and snapshots; created (0750) when missing */
    uint64_t id;
    const char *address; /* this node's raft endpoint, "IPv4:port"; it binds there */
    /* The initial voters (this node among them) for a brand new cluster: used only when DIR
     * holds no raft state yet; give every founding node the same list. With none, a new node
     * waits for a leader to add it (zn_repl_add). */
    const zn_repl_peer_t *bootstrap;
    size_t bootstrap_count;
    unsigned election_timeout_ms;   /* 0: 1000; randomised by libraft between 1x and 2x */
    unsigned heartbeat_timeout_ms;  /* 0: election_timeout_ms / 10 */
    bool pre_vote;                  /* a node that rejoins cannot depose a healthy leader */
    unsigned snapshot_threshold;    /* entries between snapshots; 0: 1024 */
    unsigned snapshot_trailing;     /* entries kept after a snapshot; 0: 128 */
    unsigned write_timeout_ms;      /* how long a write waits for a leader; 0: 5000 */
    unsigned max_entries_in_flight; /* group commit: proposed, uncommitted entries; 0: 4 */
} zn_repl_opts_t;

typedef struct zn_repl zn_repl_t;

/* Start a node: open (or create) the raft state in OPTS->dir, bootstrap it if new, bind the
 * raft endpoint and start the loop thread. Returns when the node runs (it may not know a leader
 * yet). On success *out owns the node; on failure *out is NULL and the return value is -EINVAL
 * (bad options), -EADDRINUSE, ZN_EINTERNAL (libraft refused; FAULT has its words) or -errno.
 * Any thread. */
ZN_MUST_CHECK int zn_repl_open(zn_repl_t **out, const zn_repl_opts_t *opts, zn_fault_t *fault);

/* Stop the node and set *self_p to NULL: writes still waiting complete with -ECANCELED (never
 * proposed) or ZN_EUNKNOWN (proposed, not known to be committed). Completions queued for
 * zn_repl_dispatch are dropped without their callbacks running. Does nothing if *self_p is NULL.
 * Not from a completion callback. */
void zn_repl_destroy(zn_repl_t **self_p);

/* ---- writes ------------------------------------------------------------------------------- */

/* Called with the outcome of a write: 0 (committed and applied; durable on a majority), the
 * batch's own result (ZN_ECONFLICT, -EINVAL, ... as zn_store_apply gives, the same on every
 * node), ZN_ENOQUORUM (this node could not reach a leader within write_timeout_ms: nothing was
 * proposed), ZN_EUNAVAIL (this node is not the leader; FAULT names the leader: send it there),
 * ZN_EUNKNOWN (proposed, but leadership was lost before the commit was known: it may or may
 * not be applied; re-read and retry idempotently) or -ECANCELED (the node stopped first).
 * FAULT is borrowed for the call. ARG is the submitter's. */
typedef void (*zn_repl_done_fn)(int rc, const zn_fault_t *fault, void *arg);

/* Queue BATCH (zn_batch_bytes; copied) for replication. Queued writes are proposed in groups:
 * every batch waiting when a proposal slot frees up goes into one raft entry. DONE runs later,
 * exactly once, on the thread that calls zn_repl_dispatch. Returns 0, ZN_ETOOBIG, or
 * -ESHUTDOWN; on error DONE never runs. Any thread. */
ZN_MUST_CHECK int zn_repl_submit(zn_repl_t *self, zn_buf_t batch, zn_repl_done_fn done, void *arg);

/* A file descriptor that polls readable while completions wait for zn_repl_dispatch: register
 * it with the agent's zloop (or poll(2)). Owned by the node. */
int zn_repl_fd(const zn_repl_t *self);

/* Run the callbacks of finished writes on the calling thread. Returns how many ran. Call from
 * one thread at a time (normally the agent's loop thread). */
size_t zn_repl_dispatch(zn_repl_t *self);

/* Submit BATCH and wait for its outcome (as zn_repl_done_fn describes; FAULT gets the words).
 * Any thread except inside a completion callback. */
ZN_MUST_CHECK int zn_repl_write(zn_repl_t *self, zn_buf_t batch, zn_fault_t *fault);

/* ---- reads -------------------------------------------------------------------------------- */

/* Reads are local: open a read transaction on the store. For a linearizable read, call this
 * first on the leader: it returns 0 once every write committed before the call is applied to
 * the local store, so a read that follows sees them. Returns ZN_EUNAVAIL with the leader in
 * FAULT on a follower, ZN_ENOQUORUM or ZN_EUNKNOWN as for writes. Any thread. */
ZN_MUST_CHECK int zn_repl_barrier(zn_repl_t *self, zn_fault_t *fault);

/* ---- state and membership ----------------------------------------------------------------- */

typedef enum {
    ZN_REPL_UNAVAILABLE = 0,
    ZN_REPL_FOLLOWER = 1,
    ZN_REPL_CANDIDATE = 2,
    ZN_REPL_LEADER = 3,
} zn_repl_role_t;

/* What the node knows, as of its loop's last turn. */
typedef struct zn_repl_status {
    zn_repl_role_t role;
    uint64_t leader_id; /* 0 when no leader is known */
    char leader_address[ZN_REPL_ADDRESS_MAX_LEN + 1];
    uint64_t term;
    uint64_t commit_index;
    uint64_t applied_index;
    unsigned voters; /* voting members in the configuration this node has */
} zn_repl_status_t;

/* Fill *out. Any thread. */
void zn_repl_status(zn_repl_t *self, zn_repl_status_t *out);

/* On the leader: add node ID at ADDRESS (already started with no bootstrap list) as a voter:
 * it joins as a spare, catches up from a snapshot and the log, then is promoted. Returns when
 * the promotion is committed: 0, ZN_EUNAVAIL (not the leader; FAULT names it), -EEXIST (the id
 * or address is taken), ZN_EUNKNOWN, or ZN_EINTERNAL with libraft's words. Any thread. */
ZN_MUST_CHECK int zn_repl_add(zn_repl_t *self, uint64_t id, const char *address, zn_fault_t *fault);

/* On the leader: remove node ID from the cluster. Returns once committed: 0, ZN_EUNAVAIL,
 * -ENOENT (no such member), ZN_EUNKNOWN, or ZN_EINTERNAL. Removing the leader itself is
 * allowed: it steps down after the change commits. Any thread. */
ZN_MUST_CHECK int zn_repl_remove(zn_repl_t *self, uint64_t id, zn_fault_t *fault);

/* Fault injection (tests, drills): while ISOLATED the node drops every raft connection, open
 * or new, in both directions, as if its network had been cut. Returns once applied. */
/* As zn_repl_add and zn_repl_remove, but without blocking: DONE runs later with the result, on
 * the thread that calls zn_repl_dispatch, exactly as for zn_repl_submit (and, as for writes, not
 * at all when the node is destroyed first). For agents whose loop must keep serving while a new
 * member catches up. Returns 0, -EINVAL (bad id or address) or -ESHUTDOWN; on error DONE never
 * runs. Any thread. */
ZN_MUST_CHECK int zn_repl_add_async(zn_repl_t *self, uint64_t id, const char *address,
                                    zn_repl_done_fn done, void *arg);
ZN_MUST_CHECK int zn_repl_remove_async(zn_repl_t *self, uint64_t id, zn_repl_done_fn done,
                                       void *arg);

void zn_repl_set_isolated(zn_repl_t *self, bool isolated);

#endif
