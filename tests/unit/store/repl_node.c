/* SPDX-License-Identifier: Apache-2.0 */
/* repl_node.c - replicated store nodes for tests. */
#include "repl_node.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "fixture.h"
#include "repl_util.h"
#include "zn_clock.h"
#include "zn_mem.h"

void
repl_node_init(repl_node_t *node, uint64_t id)
{
    memset(node, 0, sizeof(*node));
    node->dir = fixture_tmpdir();
    node->id = id;
    (void)snprintf(node->address, sizeof(node->address), "127.0.0.1:%u", repl_free_port());
}

zn_repl_opts_t
repl_node_opts(const repl_node_t *node, const zn_repl_peer_t *peers, size_t count)
{
    zn_repl_opts_t opts = {
        .id = node->id,
        .address = node->address,
        .bootstrap = peers,
        .bootstrap_count = count,
        .election_timeout_ms = REPL_ELECTION_MS,
        .pre_vote = true,
        .write_timeout_ms = 1500,
    };
    return opts;
}

void
repl_node_start(repl_node_t *node, const zn_repl_opts_t *opts)
{
    char *store_dir = zn_asprintf("%s/store", node->dir);
    char *raft_dir = zn_asprintf("%s/raft", node->dir);
    node->store = fixture_open(store_dir);
    zn_repl_opts_t o = *opts;
    o.store = node->store;
    o.dir = raft_dir;
    zn_fault_t fault;
    int rc = zn_repl_open(&node->repl, &o, &fault);
    if (rc != 0) {
        fail_msg("repl open: %s", zn_fault_message(&fault));
    }
    zn_str_free(&raft_dir);
    zn_str_free(&store_dir);
}

void
repl_node_stop(repl_node_t *node)
{
    zn_repl_destroy(&node->repl);
    zn_store_destroy(&node->store);
}

void
repl_node_fini(repl_node_t *node)
{
    repl_node_stop(node);
    fixture_rmdir(&node->dir);
}

bool
repl_wait_for(bool (*pred)(void *arg), void *arg)
{
    int64_t deadline = zn_clock_mono_ms() + REPL_WAIT_MS;
    while (!pred(arg)) {
        if (zn_clock_mono_ms() > deadline) {
            return false;
        }
        struct timespec ts = {0, 5 * 1000 * 1000}; /* polling the state, not waiting for time */
        nanosleep(&ts, NULL);
    }
    return true;
}

typedef struct s_leader_wait {
    repl_node_t *nodes;
    int count;
    int exclude;
    int leader;
} s_leader_wait_t;

static bool
s_has_leader(void *arg)
{
    s_leader_wait_t *w = arg;
    uint64_t leader_id = 0;
    w->leader = -1;
    for (int i = 0; i < w->count; i++) {
        if (w->nodes[i].repl == NULL || i == w->exclude) {
            continue;
        }
        zn_repl_status_t st;
        zn_repl_status(w->nodes[i].repl, &st);
        if (st.leader_id == 0 || (leader_id != 0 && st.leader_id != leader_id)) {
            return false;
        }
        leader_id = st.leader_id;
        if (st.role == ZN_REPL_LEADER) {
            w->leader = i;
        }
    }
    return w->leader >= 0 && w->nodes[w->leader].id == leader_id;
}

int
repl_wait_leader(repl_node_t *nodes, int count, int exclude)
{
    s_leader_wait_t w = {nodes, count, exclude, -1};
    assert_true(repl_wait_for(s_has_leader, &w));
    return w.leader;
}

typedef struct s_catch_up {
    repl_node_t *node;
    repl_node_t *leader;
} s_catch_up_t;

static bool
s_caught_up(void *arg)
{
    s_catch_up_t *c = arg;
    repl_digest_t want = repl_digest(c->leader->store);
    repl_digest_t got = repl_digest(c->node->store);
    return want.count == got.count && want.hash == got.hash;
}

void
repl_wait_caught_up(repl_node_t *node, repl_node_t *leader)
{
    s_catch_up_t c = {node, leader};
    assert_true(repl_wait_for(s_caught_up, &c));
}
