/* SPDX-License-Identifier: Apache-2.0 */
/* zn_repl_int.h - what the replication files share: the raft TCP transport wrapper that can
 * cut a node off the network for fault tests (folder-private). */
#ifndef ZN_REPL_INT_H
#define ZN_REPL_INT_H

#include <stdbool.h>
#include <uv.h>

#include <raft.h>
#include <raft/uv.h>

/* libraft's TCP transport behind a wrapper: OUTER goes to raft_uv_init, TCP does the work. */
typedef struct zn__repl_net {
    struct raft_uv_transport outer;
    struct raft_uv_transport tcp;
    raft_uv_accept_cb accept_cb;
    raft_uv_transport_close_cb close_cb;
    uv_loop_t *loop;
    bool isolated;
} zn__repl_net_t;

/* Set up NET on LOOP. Returns 0 or a raft error code. Loop thread. */
int zn__repl_net_init(zn__repl_net_t *net, uv_loop_t *loop);

/* Release NET's memory, after the raft_io that used it has closed. Loop thread. */
void zn__repl_net_release(zn__repl_net_t *net);

/* Cut (ISOLATED) or restore the node's raft connections: while isolated, new connections in
 * either direction are dropped as soon as they are made, and the TCP streams open at the moment
 * of the cut are shut down, so libraft sees its peers vanish. Loop thread. */
void zn__repl_net_set_isolated(zn__repl_net_t *net, bool isolated);

#endif
