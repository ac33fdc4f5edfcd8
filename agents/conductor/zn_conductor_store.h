/* SPDX-License-Identifier: Apache-2.0 */
/* zn_conductor_store.h - the conductor hosts the cluster's replicated store: one raft node per
 * controller, with LMDB as its state machine. Other agents send writes here (a follower
 * forwards them to the leader's conductor), read through `store_get` or open the local LMDB
 * read-only. */
#ifndef ZN_CONDUCTOR_STORE_H
#define ZN_CONDUCTOR_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include <czmq.h>

#include "zn_batch.h"
#include "zn_cfg.h"
#include "zn_err.h"
#include "zn_keys.h"
#include "zn_server.h"
#include "zn_store.h"

typedef struct zn_conductor_store_cfg {
    bool enabled;
    char *data_dir;
    int64_t node_id;
    char *raft_address;
    char *peers;
    int64_t election_timeout_ms;
} zn_conductor_store_cfg_t;

/* The option rows for TYPE's `store` member (a zn_conductor_store_cfg_t). */
#define ZN_CONDUCTOR_STORE_CFG_ROWS(type)                                                       \
    ZN_CFG_BOOL_ROW(type, "store", "enabled", store.enabled, "true",                            \
                    "host a node of the replicated state store"),                               \
        ZN_CFG_STR_ROW(type, "store", "data_dir", store.data_dir, "/var/lib/zinc/conductor",    \
                       "LMDB store and raft log live here"),                                    \
        ZN_CFG_INT_ROW(type, "store", "node_id", store.node_id, "1", 1, 1000000,                \
                       "this controller's raft id: unique, never reused"),                      \
        ZN_CFG_STR_ROW(type, "store", "raft_address", store.raft_address, "127.0.0.1:7404",     \
                       "IPv4:port where this node's raft traffic binds"),                       \
        ZN_CFG_STR_ROW(                                                                         \
            type, "store", "peers", store.peers, "",                                            \
            "founding members ID@RAFT_ADDRESS@CONDUCTOR_CALL_ENDPOINT, comma-separated; "       \
            "empty: a cluster of this node alone; without node_id: join one"),                  \
        ZN_CFG_INT_ROW(type, "store", "election_timeout_ms", store.election_timeout_ms, "1000", \
                       100, 60000, "raft election timeout (failover takes about this)")

typedef struct zn_conductor_store zn_conductor_store_t;

typedef struct zn_conductor_store_opts {
    const zn_conductor_store_cfg_t *cfg;
    const char *own_call_endpoint; /* for a single-node cluster's peer list */
    const zn_keys_t *keys;         /* for forwarding to other conductors; NULL: plaintext */
    const char *conductor_public;  /* the conductors' public key (one key per role) */
    zloop_t *loop;                 /* completions and forwarded answers run here */
} zn_conductor_store_opts_t;

/* Open the store and the raft node. OPTS's strings are copied; CFG and LOOP are borrowed and must
 * outlive the store, and so must the servers whose calls it answers. Returns 0 or a negative errno
 * with FAULT (bad peers option, store or raft cannot start). */
ZN_MUST_CHECK int zn_conductor_store_open(zn_conductor_store_t **out,
                                          const zn_conductor_store_opts_t *opts, zn_fault_t *fault);

void zn_conductor_store_destroy(zn_conductor_store_t **self_p);

/* ---- in-process use (the conductor's own instance logic) ---------------------------------- */

/* Called once per submitted batch on the loop thread: FAULT->code as a store_write caller would
 * see it (0 committed, ZN_ECONFLICT, ZN_EUNAVAIL, ZN_EUNKNOWN...). */
typedef void(zn_conductor_store_done_fn)(void *arg, const zn_fault_t *fault);

/* Commit BATCH (copied) through raft, forwarding to the leader's conductor when this node is a
 * follower, as store_write does. DONE always runs, later, on the loop thread; after a commit,
 * once the local replica holds the write (a follower waits up to 1 s for it), so the conductor
 * reads its own writes. Returns 0. */
int zn_conductor_store_submit(zn_conductor_store_t *self, const zn_batch_t *batch,
                              zn_conductor_store_done_fn *done, void *arg);

/* The local replica, for reads. Borrowed from SELF. */
zn_store_t *zn_conductor_store_local(zn_conductor_store_t *self);

/* True when this node leads the store: periodic jobs that must run once per cluster (the
 * instance watchdog) run on the leader only. */
bool zn_conductor_store_is_leader(zn_conductor_store_t *self);

/* Handlers the conductor's tables wrap; each has zn_handler_fn's contract with the store as
 * SELF. Service: write (body: the batch as bin; deferred until committed; a follower forwards it
 * to the leader's conductor; a committed write answers {applied_seq: N}, this replica's applied
 * sequence right after the commit, and a follower answers only once its own replica reached the
 * leader's N, or after 1 s), write_fwd (from another conductor: never forwarded again), get
 * (body {table, key}: a local read; answer {generation, version, value}).
 * Admin: status, backup {path}, add {id, address}, remove {id}. */
int zn_conductor_store_write(zn_conductor_store_t *self, zn_call_t *call, zn_pack_t *reply,
                             zn_fault_t *fault);
int zn_conductor_store_write_fwd(zn_conductor_store_t *self, zn_call_t *call, zn_pack_t *reply,
                                 zn_fault_t *fault);
/* `store_scan` {table, marker?, prefix?, limit?} -> {records [{key, generation, value}], more}:
 * one page of TABLE in key order after MARKER, or from PREFIX, only keys with PREFIX (limit
 * default 100, at most 1000). For zincctl; controller keys only. */
int zn_conductor_store_scan(zn_conductor_store_t *self, zn_call_t *call, zn_pack_t *reply,
                            zn_fault_t *fault);

int zn_conductor_store_get(zn_conductor_store_t *self, zn_call_t *call, zn_pack_t *reply,
                           zn_fault_t *fault);
int zn_conductor_store_status(zn_conductor_store_t *self, zn_call_t *call, zn_pack_t *reply,
                              zn_fault_t *fault);
int zn_conductor_store_backup(zn_conductor_store_t *self, zn_call_t *call, zn_pack_t *reply,
                              zn_fault_t *fault);
int zn_conductor_store_add(zn_conductor_store_t *self, zn_call_t *call, zn_pack_t *reply,
                           zn_fault_t *fault);
int zn_conductor_store_remove(zn_conductor_store_t *self, zn_call_t *call, zn_pack_t *reply,
                              zn_fault_t *fault);

#endif
