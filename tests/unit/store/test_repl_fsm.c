/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for zn_repl_fsm: the LMDB state machine driven by libraft's deterministic in-memory
 * cluster fixture (raft/fixture.h), with real LMDB stores in temp dirs. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <raft/fixture.h>

#include "fixture.h"
#include "repl_util.h"
#include "zn_mem.h"
#include "zn_repl_fsm.h"

#define S_NODES 3

typedef struct s_cluster {
    struct raft_fixture fixture;
    char *dirs[S_NODES];
    zn_store_t *stores[S_NODES];
    zn_repl_fsm_t *fsms[S_NODES];
} s_cluster_t;

/* What the leader's apply callback saw. */
typedef struct s_outcome {
    int status;
    int entry_rc;
    size_t count;
    int rcs[8];
} s_outcome_t;

static void
s_cluster_start(s_cluster_t *c, unsigned snapshot_threshold)
{
    memset(c, 0, sizeof(*c));
    assert_int_equal(raft_fixture_initialize(&c->fixture), 0);
    for (unsigned i = 0; i < S_NODES; i++) {
        c->dirs[i] = fixture_tmpdir();
        char *store_dir = zn_asprintf("%s/store", c->dirs[i]);
        char *scratch = zn_asprintf("%s/scratch", c->dirs[i]);
        c->stores[i] = fixture_open(store_dir);
        assert_int_equal(zn_repl_fsm_open(&c->fsms[i], c->stores[i], scratch, NULL), 0);
        assert_int_equal(raft_fixture_grow(&c->fixture, zn_repl_fsm_raft(c->fsms[i])), 0);
        struct raft *raft = raft_fixture_get(&c->fixture, i);
        zn_repl_fsm_bind(c->fsms[i], raft);
        if (snapshot_threshold > 0) {
            raft_set_snapshot_threshold(raft, snapshot_threshold);
            raft_set_snapshot_trailing(raft, 2);
        }
        zn_str_free(&scratch);
        zn_str_free(&store_dir);
    }
    struct raft_configuration conf;
    assert_int_equal(raft_fixture_configuration(&c->fixture, S_NODES, &conf), 0);
    assert_int_equal(raft_fixture_bootstrap(&c->fixture, &conf), 0);
    raft_configuration_close(&conf);
    assert_int_equal(raft_fixture_start(&c->fixture), 0);
    raft_fixture_elect(&c->fixture, 0);
}

static void
s_cluster_stop(s_cluster_t *c)
{
    raft_fixture_close(&c->fixture);
    for (unsigned i = 0; i < S_NODES; i++) {
        zn_repl_fsm_destroy(&c->fsms[i]);
        zn_store_destroy(&c->stores[i]);
        fixture_rmdir(&c->dirs[i]);
    }
}

static void
s_applied(struct raft_apply *req, int status, void *result)
{
    s_outcome_t *out = req->data;
    const zn_repl_apply_result_t *res = result;
    out->status = status;
    if (status == 0) {
        out->entry_rc = res->entry_rc;
        out->count = res->count;
        for (size_t i = 0; i < res->count && i < 8; i++) {
            out->rcs[i] = res->batches[i].rc;
        }
    }
    zn_free(req);
}

/* Propose one entry holding COUNT create batches for keys FIRST.. (KEYS[i] when given) on
 * the leader and step until every live node applied it. */
static void
s_propose(s_cluster_t *c, const int *keys, size_t count, s_outcome_t *out)
{
    zn_batch_t *batches[8];
    zn_buf_t bufs[8];
    for (size_t i = 0; i < count; i++) {
        batches[i] = zn_batch_new();
        repl_create_batch(batches[i], keys[i]);
        bufs[i] = zn_batch_bytes(batches[i]);
    }
    struct raft_buffer buf;
    assert_int_equal(zn_repl_entry_encode(bufs, count, &buf), 0);
    struct raft *leader = raft_fixture_get(&c->fixture, raft_fixture_leader_index(&c->fixture));
    struct raft_apply *req = zn_calloc(1, sizeof(*req));
    req->data = out;
    assert_int_equal(raft_apply(leader, req, &buf, 1, s_applied), 0);
    raft_index index = raft_last_index(leader);
    for (unsigned i = 0; i < S_NODES; i++) {
        if (raft_fixture_alive(&c->fixture, i)) {
            assert_true(raft_fixture_step_until_applied(&c->fixture, i, index, 5000));
        }
    }
    for (size_t i = 0; i < count; i++) {
        zn_batch_destroy(&batches[i]);
    }
}

static void
s_assert_converged(s_cluster_t *c)
{
    repl_digest_t first = repl_digest(c->stores[0]);
    for (unsigned i = 1; i < S_NODES; i++) {
        repl_digest_t d = repl_digest(c->stores[i]);
        assert_int_equal(d.count, first.count);
        assert_true(d.hash == first.hash);
        assert_int_equal(fixture_check_consistent(c->stores[i]), (long)first.count);
    }
}

/* One entry carries two batches; every node applies both, and the sequence recorded is the
 * entry's index with the batch's position. */
static void
test_repl_fsm_example(void **state)
{
    (void)state;
    s_cluster_t c;
    s_cluster_start(&c, 0);
    s_outcome_t out = {0};
    int keys[] = {1, 2};
    s_propose(&c, keys, 2, &out);
    assert_int_equal(out.status, 0);
    assert_int_equal(out.count, 2);
    assert_int_equal(out.rcs[0], 0);
    assert_int_equal(out.rcs[1], 0);
    raft_index index = raft_last_applied(raft_fixture_get(&c.fixture, 0));
    for (unsigned i = 0; i < S_NODES; i++) {
        assert_true(repl_has_key(c.stores[i], 1) && repl_has_key(c.stores[i], 2));
        uint64_t seq = 0;
        assert_int_equal(zn_store_applied_seq(c.stores[i], &seq), 0);
        assert_true(seq == ((index << ZN_REPL_SEQ_SHIFT) | 1u));
    }
    s_assert_converged(&c);
    s_cluster_stop(&c);
}

/* A conflict inside an entry fails that batch alone, with the same result on every node. */
static void
test_repl_fsm_conflict_everywhere(void **state)
{
    (void)state;
    s_cluster_t c;
    s_cluster_start(&c, 0);
    s_outcome_t out = {0};
    int keys[] = {7, 7, 8};
    s_propose(&c, keys, 3, &out);
    assert_int_equal(out.rcs[0], 0);
    assert_int_equal(out.rcs[1], ZN_ECONFLICT);
    assert_int_equal(out.rcs[2], 0);
    s_assert_converged(&c);
    assert_int_equal(repl_digest(c.stores[2]).count, 2);
    s_cluster_stop(&c);
}

/* Applying the same entry at the same index twice (a replay after restart) changes nothing;
 * a malformed entry fails as a whole and changes nothing. */
static void
test_repl_fsm_replay_is_idempotent(void **state)
{
    (void)state;
    char *dir = fixture_tmpdir();
    char *store_dir = zn_asprintf("%s/store", dir);
    char *scratch = zn_asprintf("%s/scratch", dir);
    zn_store_t *store = fixture_open(store_dir);
    zn_repl_fsm_t *fsm = NULL;
    assert_int_equal(zn_repl_fsm_open(&fsm, store, scratch, NULL), 0);
    struct raft raft;
    memset(&raft, 0, sizeof(raft));
    raft.last_applied = 41; /* the entry being applied is index 42 */
    zn_repl_fsm_bind(fsm, &raft);
    zn_batch_t *batch = zn_batch_new();
    repl_create_batch(batch, 5);
    zn_buf_t bytes = zn_batch_bytes(batch);
    struct raft_buffer buf;
    assert_int_equal(zn_repl_entry_encode(&bytes, 1, &buf), 0);
    struct raft_fsm *rf = zn_repl_fsm_raft(fsm);
    void *result = NULL;
    assert_int_equal(rf->apply(rf, &buf, &result), 0);
    const zn_repl_apply_result_t *res = result;
    assert_int_equal(res->batches[0].rc, 0);
    repl_digest_t before = repl_digest(store);
    assert_int_equal(rf->apply(rf, &buf, &result), 0);
    assert_int_equal(res->batches[0].rc, ZN_EDUPLICATE);
    repl_digest_t after = repl_digest(store);
    assert_true(before.hash == after.hash && before.count == after.count);
    raft.last_applied = 42;
    assert_int_equal(buf.len % 8, 0);       /* libraft's wire format wants 8-byte multiples */
    ((uint8_t *)buf.base)[buf.len - 1] = 1; /* padding must be zeros */
    assert_int_equal(rf->apply(rf, &buf, &result), 0);
    assert_int_equal(res->entry_rc, -EBADMSG);
    assert_int_equal(res->count, 0);
    raft_free(buf.base);
    zn_batch_destroy(&batch);
    zn_repl_fsm_destroy(&fsm);
    zn_store_destroy(&store);
    zn_str_free(&scratch);
    zn_str_free(&store_dir);
    fixture_rmdir(&dir);
}

/* A node that was down while the log was compacted catches up from a snapshot (an LMDB copy)
 * and ends with exactly the leader's table. */
static void
test_repl_fsm_snapshot_catch_up(void **state)
{
    (void)state;
    s_cluster_t c;
    s_cluster_start(&c, 8);
    raft_fixture_kill(&c.fixture, 2);
    for (int i = 0; i < 40; i++) {
        s_outcome_t out = {0};
        int keys[] = {100 + 2 * i, 101 + 2 * i};
        s_propose(&c, keys, 2, &out);
        assert_int_equal(out.rcs[0], 0);
    }
    assert_true(zn_repl_fsm_stats(c.fsms[0]).snapshots >= 1);
    raft_fixture_revive(&c.fixture, 2);
    raft_index index = raft_last_index(raft_fixture_get(&c.fixture, 0));
    assert_true(raft_fixture_step_until_applied(&c.fixture, 2, index, 10000));
    assert_int_equal(zn_repl_fsm_stats(c.fsms[2]).installs, 1);
    s_assert_converged(&c);
    assert_int_equal(repl_digest(c.stores[2]).count, 80);
    s_cluster_stop(&c);
}

/* Restoring a snapshot the store already holds (libraft does this at every start) keeps the
 * store; a store that is behind takes the snapshot's content. */
static void
test_repl_fsm_restore_skips_or_installs(void **state)
{
    (void)state;
    s_cluster_t c;
    s_cluster_start(&c, 0);
    s_outcome_t out = {0};
    int keys[] = {1, 2, 3};
    s_propose(&c, keys, 3, &out);
    struct raft_fsm *rf = zn_repl_fsm_raft(c.fsms[0]);
    struct raft_buffer *bufs = NULL;
    unsigned n = 0;
    assert_int_equal(rf->snapshot(rf, &bufs, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(rf->restore(rf, &bufs[0]), 0); /* takes the buffer */
    assert_int_equal(zn_repl_fsm_stats(c.fsms[0]).skipped_restores, 1);
    raft_free(bufs);

    char *dir = fixture_tmpdir();
    char *store_dir = zn_asprintf("%s/store", dir);
    char *scratch = zn_asprintf("%s/scratch", dir);
    zn_store_t *fresh = fixture_open(store_dir);
    zn_repl_fsm_t *fsm = NULL;
    assert_int_equal(zn_repl_fsm_open(&fsm, fresh, scratch, NULL), 0);
    assert_int_equal(rf->snapshot(rf, &bufs, &n), 0);
    struct raft_fsm *fresh_rf = zn_repl_fsm_raft(fsm);
    assert_int_equal(fresh_rf->restore(fresh_rf, &bufs[0]), 0);
    raft_free(bufs);
    assert_int_equal(zn_repl_fsm_stats(fsm).installs, 1);
    repl_digest_t want = repl_digest(c.stores[0]);
    repl_digest_t got = repl_digest(fresh);
    assert_true(want.hash == got.hash && want.count == got.count);
    assert_int_equal(fixture_check_consistent(fresh), 3);
    zn_repl_fsm_destroy(&fsm);
    zn_store_destroy(&fresh);
    zn_str_free(&scratch);
    zn_str_free(&store_dir);
    fixture_rmdir(&dir);
    s_cluster_stop(&c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_repl_fsm_example),
        cmocka_unit_test(test_repl_fsm_conflict_everywhere),
        cmocka_unit_test(test_repl_fsm_replay_is_idempotent),
        cmocka_unit_test(test_repl_fsm_snapshot_catch_up),
        cmocka_unit_test(test_repl_fsm_restore_skips_or_installs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
