/* SPDX-License-Identifier: Apache-2.0 */
/* Fault test: cut the leader of a three-node replicated store off the network (transport-level
 * drop of every raft connection). The isolated minority refuses writes with ZN_ENOQUORUM, the
 * majority elects a leader and goes on, and once the network heals the old leader rejoins as a
 * follower and converges to exactly the majority's table. */
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

static int
s_write_key(repl_node_t *node, int i, zn_fault_t *fault)
{
    zn_batch_t *batch = zn_batch_new();
    repl_create_batch(batch, i);
    int rc = zn_repl_write(node->repl, zn_batch_bytes(batch), fault);
    zn_batch_destroy(&batch);
    return rc;
}

/* Write on the isolated node until it answers ZN_ENOQUORUM. Writes proposed while it still
 * thought it led end as ZN_EUNKNOWN; nothing else is acceptable. Returns the refused key. */
static int
s_until_no_quorum(repl_node_t *node, int first_key)
{
    zn_fault_t fault;
    for (int key = first_key; key < first_key + 20; key++) {
        int rc = s_write_key(node, key, &fault);
        if (rc == ZN_ENOQUORUM) {
            assert_non_null(strstr(fault.message, "no quorum"));
            return key;
        }
        if (rc != ZN_EUNKNOWN) {
            fail_msg("isolated node answered %s: %s", zn_errname(rc), zn_fault_message(&fault));
        }
    }
    fail_msg("isolated node never refused with ZN_ENOQUORUM");
    return -1;
}

static void
test_repl_partition_leader(void **state)
{
    (void)state;
    repl_node_t nodes[S_NODES];
    zn_repl_peer_t peers[S_NODES];
    for (int i = 0; i < S_NODES; i++) {
        repl_node_init(&nodes[i], (uint64_t)i + 1);
        peers[i] = (zn_repl_peer_t){nodes[i].id, nodes[i].address};
    }
    for (int i = 0; i < S_NODES; i++) {
        zn_repl_opts_t opts = repl_node_opts(&nodes[i], peers, S_NODES);
        repl_node_start(&nodes[i], &opts);
    }
    int old = repl_wait_leader(nodes, S_NODES, -1);
    zn_fault_t fault;
    for (int k = 0; k < 100; k++) {
        assert_int_equal(s_write_key(&nodes[old], k, &fault), 0);
    }

    zn_repl_set_isolated(nodes[old].repl, true);
    int refused = s_until_no_quorum(&nodes[old], 1000);
    int leader = repl_wait_leader(nodes, S_NODES, old);
    assert_true(leader != old);
    for (int k = 100; k < 200; k++) {
        assert_int_equal(s_write_key(&nodes[leader], k, &fault), 0);
    }
    zn_repl_status_t st;
    zn_repl_status(nodes[old].repl, &st);
    assert_true(st.role != ZN_REPL_LEADER);
    /* Still cut off: still refused. */
    assert_int_equal(s_write_key(&nodes[old], refused + 100, &fault), ZN_ENOQUORUM);

    zn_repl_set_isolated(nodes[old].repl, false);
    assert_int_equal(repl_wait_leader(nodes, S_NODES, -1), leader);
    for (int i = 0; i < S_NODES; i++) {
        repl_wait_caught_up(&nodes[i], &nodes[leader]);
        assert_true(repl_has_key(nodes[i].store, 199));
        assert_false(repl_has_key(nodes[i].store, refused));
        assert_false(repl_has_key(nodes[i].store, refused + 100));
        assert_true(fixture_check_consistent(nodes[i].store) >= 200);
    }
    for (int i = 0; i < S_NODES; i++) {
        repl_node_fini(&nodes[i]);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_repl_partition_leader),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
