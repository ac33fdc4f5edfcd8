/* SPDX-License-Identifier: Apache-2.0 */
/* repl_node.h - a replicated store node for tests: a temp dir, a local store and a zn_repl on a
 * loopback port the kernel picked; and waits on cluster state with a deadline. */
#ifndef ZN_TEST_REPL_NODE_H
#define ZN_TEST_REPL_NODE_H

#include <stdbool.h>
#include <stdint.h>

#include "zn_repl.h"
#include "zn_store.h"

#define REPL_ELECTION_MS 300u /* short, with pre-vote, so failover takes about a second */
#define REPL_WAIT_MS     15000

typedef struct repl_node {
    char *dir;
    zn_store_t *store;
    zn_repl_t *repl;
    uint64_t id;
    char address[32];
} repl_node_t;

/* Give node ID a new temp dir and a free port (not started). */
void repl_node_init(repl_node_t *node, uint64_t id);

/* Options for NODE, bootstrapping with PEERS[0..COUNT) (COUNT 0: join later). */
zn_repl_opts_t repl_node_opts(const repl_node_t *node, const zn_repl_peer_t *peers, size_t count);

/* Open the store and start the node with OPTS; asserts success. */
void repl_node_start(repl_node_t *node, const zn_repl_opts_t *opts);

/* Stop the node and close its store, keeping its directory. */
void repl_node_stop(repl_node_t *node);

/* Stop the node and remove its directory. */
void repl_node_fini(repl_node_t *node);

/* Wait (polling the status, up to REPL_WAIT_MS) until one of the running NODES is leader and
 * every running node that is not in EXCLUDE (a node index or -1) names it; return its index. */
int repl_wait_leader(repl_node_t *nodes, int count, int exclude);

/* Wait until NODE's instances table is exactly LEADER's (call once writes have stopped). */
void repl_wait_caught_up(repl_node_t *node, repl_node_t *leader);

/* Poll until PRED(ARG) or REPL_WAIT_MS pass; returns PRED's last answer. */
bool repl_wait_for(bool (*pred)(void *arg), void *arg);

#endif
