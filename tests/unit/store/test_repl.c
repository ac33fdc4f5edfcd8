/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for zn_repl: three real libraft nodes (libuv disk and TCP on 127.0.0.1) in one process,
 * each with its own LMDB store: writes, group commit, follower refusals, linearizable reads and
 * membership changes. */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "fixture.h"
#include "repl_node.h"
#include "repl_util.h"
#include "zn_repl.h"

#define S_NODES 3

typedef struct s_cluster {
    repl_node_t nodes[S_NODES + 1]; /* one spare for membership tests */
    zn_repl_peer_t peers[S_NODES];
} s_cluster_t;

/* ELECTION_MS 0: the fixture's short timeout (fast failover). Tests that count results want a
 * long one: under a loaded sanitizer run a leader's heartbeat can come late, and a new election
 * mid-test fails writes in flight (correctly, but not what they count). */
static void
s_cluster_start(s_cluster_t *c, unsigned election_ms)
{
    memset(c, 0, sizeof(*c));
    for (int i = 0; i < S_NODES; i++) {
        repl_node_init(&c->nodes[i], (uint64_t)i + 1);
        c->peers[i] = (zn_repl_peer_t){c->nodes[i].id, c->nodes[i].address};
    }
    for (int i = 0; i < S_NODES; i++) {
        zn_repl_opts_t opts = repl_node_opts(&c->nodes[i], c->peers, S_NODES);
        if (election_ms > 0) {
            opts.election_timeout_ms = election_ms;
        }
        repl_node_start(&c->nodes[i], &opts);
    }
}

static void
s_cluster_stop(s_cluster_t *c)
{
    for (int i = 0; i < S_NODES + 1; i++) {
        if (c->nodes[i].dir != NULL) {
            repl_node_fini(&c->nodes[i]);
        }
    }
}

static int
s_write_key(repl_node_t *node, int i, zn_fault_t *fault)
{
    zn_batch_t *batch = zn_batch_new();
    repl_create_batch(batch, i);
    int rc = zn_repl_write(node->repl, zn_batch_bytes(batch), fault);
    zn_batch_destroy(&batch);
    return rc;
}

/* Write through the leader, read locally everywhere; a follower names the leader. */
static void
test_repl_example(void **state)
{
    (void)state;
    s_cluster_t c;
    s_cluster_start(&c, 0);
    int leader = repl_wait_leader(c.nodes, S_NODES, -1);
    zn_fault_t fault;
    assert_int_equal(s_write_key(&c.nodes[leader], 1, &fault), 0);
    /* A linearizable read: the barrier returns once everything committed is applied here. */
    assert_int_equal(zn_repl_barrier(c.nodes[leader].repl, &fault), 0);
    assert_true(repl_has_key(c.nodes[leader].store, 1));
    int follower = (leader + 1) % S_NODES;
    assert_int_equal(s_write_key(&c.nodes[follower], 2, &fault), ZN_EUNAVAIL);
    char want[64];
    (void)snprintf(want, sizeof(want), "leader id=%llu address=%s",
                   (unsigned long long)c.nodes[leader].id, c.nodes[leader].address);
    assert_non_null(strstr(fault.message, want));
    assert_int_equal(zn_repl_barrier(c.nodes[follower].repl, &fault), ZN_EUNAVAIL);
    for (int i = 0; i < S_NODES; i++) {
        repl_wait_caught_up(&c.nodes[i], &c.nodes[leader]);
        assert_true(repl_has_key(c.nodes[i].store, 1));
        assert_false(repl_has_key(c.nodes[i].store, 2));
    }
    s_cluster_stop(&c);
}

typedef struct s_tally {
    int done;
    int ok;
    int conflicts;
} s_tally_t;

static void
s_count(int rc, const zn_fault_t *fault, void *arg)
{
    (void)fault;
    s_tally_t *t = arg;
    t->done++;
    t->ok += rc == 0 ? 1 : 0;
    t->conflicts += rc == ZN_ECONFLICT ? 1 : 0;
}

/* Many writes in flight from one thread: completions come back through the fd, and every
 * batch gets its own result (the second create of a key conflicts). */
static void
test_repl_group_commit(void **state)
{
    (void)state;
    s_cluster_t c;
    s_cluster_start(&c, 1500);
    int leader = repl_wait_leader(c.nodes, S_NODES, -1);
    zn_repl_t *repl = c.nodes[leader].repl;
    zn_batch_t *batch = zn_batch_new();
    s_tally_t tally = {0};
    const int count = 600;
    for (int i = 0; i < count; i++) {
        repl_create_batch(batch, i % 500); /* the last 100 repeat earlier keys */
        assert_int_equal(zn_repl_submit(repl, zn_batch_bytes(batch), s_count, &tally), 0);
    }
    zn_batch_destroy(&batch);
    while (tally.done < count) {
        struct pollfd pfd = {.fd = zn_repl_fd(repl), .events = POLLIN};
        assert_true(poll(&pfd, 1, 10000) == 1);
        (void)zn_repl_dispatch(repl);
    }
    assert_int_equal(tally.ok, 500);
    assert_int_equal(tally.conflicts, 100);
    zn_repl_status_t st;
    zn_repl_status(repl, &st);
    assert_true(st.commit_index < 300); /* grouped: far fewer entries than writes */
    for (int i = 0; i < S_NODES; i++) {
        repl_wait_caught_up(&c.nodes[i], &c.nodes[leader]);
        assert_int_equal(fixture_check_consistent(c.nodes[i].store), 500);
    }
    s_cluster_stop(&c);
}

/* Add a fourth, empty node at run time: it catches up and votes; then remove it again. */
static void
test_repl_membership(void **state)
{
    (void)state;
    s_cluster_t c;
    s_cluster_start(&c, 0);
    int leader = repl_wait_leader(c.nodes, S_NODES, -1);
    zn_fault_t fault;
    for (int i = 0; i < 20; i++) {
        assert_int_equal(s_write_key(&c.nodes[leader], i, &fault), 0);
    }
    repl_node_t *extra = &c.nodes[S_NODES];
    repl_node_init(extra, 4);
    zn_repl_opts_t opts = repl_node_opts(extra, NULL, 0);
    repl_node_start(extra, &opts);
    int rc = zn_repl_add(c.nodes[leader].repl, extra->id, extra->address, &fault);
    if (rc != 0) {
        fail_msg("add: %s", zn_fault_message(&fault));
    }
    assert_int_equal(zn_repl_add(c.nodes[leader].repl, extra->id, extra->address, &fault), -EEXIST);
    zn_repl_status_t st;
    zn_repl_status(c.nodes[leader].repl, &st);
    assert_int_equal(st.voters, 4);
    assert_int_equal(s_write_key(&c.nodes[leader], 100, &fault), 0);
    repl_wait_caught_up(extra, &c.nodes[leader]);
    assert_true(repl_has_key(extra->store, 100));
    assert_int_equal(zn_repl_remove(c.nodes[leader].repl, extra->id, &fault), 0);
    assert_int_equal(zn_repl_remove(c.nodes[leader].repl, 99, &fault), -ENOENT);
    assert_int_equal(s_write_key(&c.nodes[leader], 101, &fault), 0);
    zn_repl_status(c.nodes[leader].repl, &st);
    assert_int_equal(st.voters, 3);
    s_cluster_stop(&c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_repl_example),
        cmocka_unit_test(test_repl_group_commit),
        cmocka_unit_test(test_repl_membership),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
