/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for zn_store: CRUD, indexes, pagination, generations, batches and group commit,
 * the applied sequence, failpoints, map growth and read-only access from another process. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture.h"
#include "zn_failpoint.h"
#include "zn_store.h"

static void
test_store_example(void **state)
{
    (void)state;
    char *dir = fixture_tmpdir();
    zn_store_t *store = fixture_open(dir);

    /* Write: a batch with one create (expected generation ZN_BATCH_GEN_ABSENT). */
    zn_batch_t *batch = zn_batch_new();
    assert_int_equal(zn_batch_put(batch, "instances", zn_batch_str("vm-1"),
                                  zn_batch_str("project=p1;host=h1;state=BUILD"),
                                  ZN_BATCH_GEN_ABSENT),
                     0);
    zn_fault_t fault;
    assert_int_equal(zn_store_apply(store, zn_batch_bytes(batch), 0, &fault), 0);

    /* Read it back in a snapshot; the bytes live until the read transaction ends. */
    const zn_store_table_t *instances = zn_store_table(store, "instances");
    zn_store_read_t *txn = NULL;
    assert_int_equal(zn_store_read_begin(store, &txn), 0);
    zn_store_record_t record;
    assert_int_equal(zn_store_get(txn, instances, zn_batch_str("vm-1"), &record), 0);
    assert_int_equal(record.generation, 1);
    assert_int_equal(record.record_version, 1);
    assert_memory_equal(record.value.ptr, "project=p1;", 11);
    uint64_t generation = record.generation;
    zn_store_read_end(&txn);

    /* Update only if nobody changed it since: compare-and-set on the generation. */
    zn_batch_reset(batch);
    assert_int_equal(zn_batch_put(batch, "instances", zn_batch_str("vm-1"),
                                  zn_batch_str("project=p1;host=h1;state=ACTIVE"), generation),
                     0);
    assert_int_equal(zn_store_apply(store, zn_batch_bytes(batch), 0, &fault), 0);

    /* Find it by a secondary index. */
    assert_int_equal(zn_store_read_begin(store, &txn), 0);
    zn_store_index_query_t query = {.value = zn_batch_str("ACTIVE")};
    zn_store_record_t page[10];
    const zn_store_index_t *by_state = zn_store_index(instances, "by_state");
    assert_int_equal(zn_store_index_scan(txn, by_state, &query, page, 10), 1);
    assert_memory_equal(page[0].key.ptr, "vm-1", 4);
    assert_int_equal(page[0].generation, 2);
    zn_store_read_end(&txn);

    /* Delete, then it is gone. */
    zn_batch_reset(batch);
    assert_int_equal(zn_batch_delete(batch, "instances", zn_batch_str("vm-1"), 2), 0);
    assert_int_equal(zn_store_apply(store, zn_batch_bytes(batch), 0, &fault), 0);
    assert_int_equal(zn_store_read_begin(store, &txn), 0);
    assert_int_equal(zn_store_get(txn, instances, zn_batch_str("vm-1"), &record), -ENOENT);
    zn_store_read_end(&txn);

    zn_batch_destroy(&batch);
    zn_store_destroy(&store);
    fixture_rmdir(&dir);
}

static int
s_index_count(zn_store_t *store, const char *index, const char *value)
{
    const zn_store_table_t *instances = zn_store_table(store, "instances");
    zn_store_read_t *txn = NULL;
    assert_int_equal(zn_store_read_begin(store, &txn), 0);
    zn_store_index_query_t query = {.value = zn_batch_str(value)};
    zn_store_record_t page[50];
    int n = zn_store_index_scan(txn, zn_store_index(instances, index), &query, page, 50);
    zn_store_read_end(&txn);
    return n;
}

static void
test_store_indexes_follow_updates(void **state)
{
    (void)state;
    char *dir = fixture_tmpdir();
    zn_store_t *store = fixture_open(dir);
    assert_int_equal(fixture_put(store, "vm-1", "project=p1;host=h1;tags=a,b", 0), 0);
    assert_int_equal(fixture_put(store, "vm-2", "project=p1;host=h2;tags=b", 0), 0);
    assert_int_equal(s_index_count(store, "by_host", "h1"), 1);
    assert_int_equal(s_index_count(store, "by_tag", "b"), 2);
    assert_int_equal(s_index_count(store, "by_project", "p1"), 2);

    assert_int_equal(fixture_put(store, "vm-1", "project=p1;host=h2;tags=b,c", 1), 0);
    assert_int_equal(s_index_count(store, "by_host", "h1"), 0);
    assert_int_equal(s_index_count(store, "by_host", "h2"), 2);
    assert_int_equal(s_index_count(store, "by_tag", "a"), 0);
    assert_int_equal(s_index_count(store, "by_tag", "c"), 1);
    assert_int_equal(fixture_check_consistent(store), 2);

    zn_batch_t *batch = zn_batch_new();
    assert_int_equal(zn_batch_delete(batch, "instances", zn_batch_str("vm-1"), ZN_BATCH_GEN_ANY),
                     0);
    assert_int_equal(zn_store_apply(store, zn_batch_bytes(batch), 0, NULL), 0);
    assert_int_equal(s_index_count(store, "by_host", "h2"), 1);
    assert_int_equal(s_index_count(store, "by_tag", "c"), 0);
    assert_int_equal(fixture_check_consistent(store), 1);
    zn_batch_destroy(&batch);
    zn_store_destroy(&store);
    fixture_rmdir(&dir);
}

/* Put COUNT instances "i00000".. with project p<i % PROJECTS>, in batches of 100. */
static void
s_fill(zn_store_t *store, int count, int projects)
{
    zn_batch_t *batch = zn_batch_new();
    for (int i = 0; i < count; i++) {
        char key[32];
        char value[64];
        (void)snprintf(key, sizeof(key), "i%05d", i);
        (void)snprintf(value, sizeof(value), "project=p%d;state=ACTIVE", i % projects);
        assert_int_equal(
            zn_batch_put(batch, "instances", zn_batch_str(key), zn_batch_str(value), 0), 0);
        if (zn_batch_count(batch) == 100 || i == count - 1) {
            assert_int_equal(zn_store_apply(store, zn_batch_bytes(batch), 0, NULL), 0);
            zn_batch_reset(batch);
        }
    }
    zn_batch_destroy(&batch);
}

static void
test_store_scan_pages(void **state)
{
    (void)state;
    char *dir = fixture_tmpdir();
    zn_store_t *store = fixture_open(dir);
    s_fill(store, 1000, 7);
    const zn_store_table_t *instances = zn_store_table(store, "instances");
    zn_store_read_t *txn = NULL;
    assert_int_equal(zn_store_read_begin(store, &txn), 0);
    zn_store_record_t page[100];
    zn_buf_t marker = {NULL, 0};
    int seen = 0;
    for (;;) {
        int n = zn_store_scan(txn, instances, marker, page, 100);
        assert_true(n >= 0);
        if (n == 0) {
            break;
        }
        for (int i = 0; i < n; i++) {
            char want[32];
            (void)snprintf(want, sizeof(want), "i%05d", seen + i);
            assert_int_equal(page[i].key.len, strlen(want));
            assert_memory_equal(page[i].key.ptr, want, strlen(want));
        }
        seen += n;
        marker = page[n - 1].key; /* valid: the transaction is still open */
    }
    assert_int_equal(seen, 1000);
    /* A marker that is not a key resumes after where it would sort. */
    assert_int_equal(zn_store_scan(txn, instances, zn_batch_str("i00499x"), page, 100), 100);
    assert_memory_equal(page[0].key.ptr, "i00500", 6);
    assert_int_equal(zn_store_scan(txn, instances, marker, page, 0), -EINVAL);
    zn_store_read_end(&txn);
    zn_store_destroy(&store);
    fixture_rmdir(&dir);
}

/* Page through INDEX matching QUERY LIMIT at a time; return how many records were seen and
 * check that every one has an index value starting with PREFIX. */
static int
s_page_index(zn_store_read_t *txn, const zn_store_index_t *index, zn_store_index_query_t query,
             size_t limit, const char *prefix)
{
    zn_store_record_t page[16];
    int seen = 0;
    for (;;) {
        int n = zn_store_index_scan(txn, index, &query, page, limit);
        assert_true(n >= 0);
        if (n == 0) {
            return seen;
        }
        for (int i = 0; i < n; i++) {
            assert_true(page[i].index_value.len >= strlen(prefix));
            assert_memory_equal(page[i].index_value.ptr, prefix, strlen(prefix));
        }
        seen += n;
        query.marker_key = page[n - 1].key;
        query.marker_value = page[n - 1].index_value;
    }
}

static void
test_store_index_scan_pages(void **state)
{
    (void)state;
    char *dir = fixture_tmpdir();
    zn_store_t *store = fixture_open(dir);
    s_fill(store, 300, 12); /* p0..p11: p1 has 25, p10 and p11 25 each */
    const zn_store_index_t *by_project =
        zn_store_index(zn_store_table(store, "instances"), "by_project");
    zn_store_read_t *txn = NULL;
    assert_int_equal(zn_store_read_begin(store, &txn), 0);
    zn_store_index_query_t exact = {.value = zn_batch_str("p1")};
    assert_int_equal(s_page_index(txn, by_project, exact, 7, "p1"), 25);
    zn_store_index_query_t prefix = {.value = zn_batch_str("p1"), .match = ZN_STORE_MATCH_PREFIX};
    assert_int_equal(s_page_index(txn, by_project, prefix, 7, "p1"), 75);
    zn_store_index_query_t all = {.match = ZN_STORE_MATCH_PREFIX};
    assert_int_equal(s_page_index(txn, by_project, all, 16, "p"), 300);
    zn_store_index_query_t none = {.value = zn_batch_str("p99")};
    assert_int_equal(s_page_index(txn, by_project, none, 5, "p99"), 0);
    zn_store_read_end(&txn);
    zn_store_destroy(&store);
    fixture_rmdir(&dir);
}

/* Two schedulers read the same provider generation; only one claim of the last GiB wins. */
static void
test_store_generation_conflict(void **state)
{
    (void)state;
    char *dir = fixture_tmpdir();
    zn_store_t *store = fixture_open(dir);
    assert_int_equal(fixture_put(store, "rp-1", "free_gib=1", 0), 0);
    const zn_store_table_t *instances = zn_store_table(store, "instances");
    uint64_t seen_a = 0;
    uint64_t seen_b = 0;
    zn_store_read_t *txn = NULL;
    assert_int_equal(zn_store_read_begin(store, &txn), 0);
    assert_int_equal(zn_store_get_generation(txn, instances, zn_batch_str("rp-1"), &seen_a), 0);
    assert_int_equal(zn_store_get_generation(txn, instances, zn_batch_str("rp-1"), &seen_b), 0);
    zn_store_read_end(&txn);

    assert_int_equal(fixture_put(store, "rp-1", "free_gib=0", seen_a), 0);
    zn_batch_t *batch = zn_batch_new();
    assert_int_equal(
        zn_batch_put(batch, "instances", zn_batch_str("rp-1"), zn_batch_str("free_gib=0"), seen_b),
        0);
    zn_fault_t fault;
    assert_int_equal(zn_store_apply(store, zn_batch_bytes(batch), 0, &fault), ZN_ECONFLICT);
    assert_string_equal(zn_fault_message(&fault),
                        "conflict table=instances key=rp-1 expected generation 1, found "
                        "generation 2");

    /* Creates conflict with an existing record; conditional deletes with a stale generation. */
    assert_int_equal(fixture_put(store, "rp-1", "free_gib=9", ZN_BATCH_GEN_ABSENT), ZN_ECONFLICT);
    zn_batch_reset(batch);
    assert_int_equal(zn_batch_delete(batch, "instances", zn_batch_str("rp-1"), 1), 0);
    assert_int_equal(zn_store_apply(store, zn_batch_bytes(batch), 0, &fault), ZN_ECONFLICT);
    zn_batch_reset(batch);
    assert_int_equal(zn_batch_delete(batch, "instances", zn_batch_str("nope"), 3), 0);
    assert_int_equal(zn_store_apply(store, zn_batch_bytes(batch), 0, &fault), ZN_ECONFLICT);
    assert_non_null(strstr(zn_fault_message(&fault), "found absent"));
    zn_batch_reset(batch);
    assert_int_equal(zn_batch_delete(batch, "instances", zn_batch_str("nope"), ZN_BATCH_GEN_ANY),
                     0);
    assert_int_equal(zn_store_apply(store, zn_batch_bytes(batch), 0, &fault), 0);
    zn_batch_destroy(&batch);
    zn_store_destroy(&store);
    fixture_rmdir(&dir);
}

static void
test_store_batch_is_atomic(void **state)
{
    (void)state;
    char *dir = fixture_tmpdir();
    zn_store_t *store = fixture_open(dir);
    assert_int_equal(fixture_put(store, "vm-1", "project=p1;host=h1", 0), 0);
    zn_batch_t *batch = zn_batch_new();
    assert_int_equal(zn_batch_put(batch, "instances", zn_batch_str("vm-2"),
                                  zn_batch_str("project=p2;host=h1"), 0),
                     0);
    assert_int_equal(zn_batch_delete(batch, "instances", zn_batch_str("vm-1"), 1), 0);
    assert_int_equal(zn_batch_put(batch, "instances", zn_batch_str("vm-2"),
                                  zn_batch_str("project=p2;host=h3"), 7),
                     0);
    zn_fault_t fault;
    assert_int_equal(zn_store_apply(store, zn_batch_bytes(batch), 0, &fault), ZN_ECONFLICT);
    assert_non_null(strstr(zn_fault_message(&fault), "key=vm-2 expected generation 7, found "
                                                     "generation 1"));
    assert_int_equal(s_index_count(store, "by_project", "p2"), 0);
    assert_int_equal(s_index_count(store, "by_project", "p1"), 1);
    assert_int_equal(fixture_check_consistent(store), 1);

    /* The conditions of later operations see the earlier ones: put, then update it. */
    zn_batch_reset(batch);
    assert_int_equal(zn_batch_put(batch, "instances", zn_batch_str("vm-2"),
                                  zn_batch_str("project=p2;host=h1"), 0),
                     0);
    assert_int_equal(zn_batch_put(batch, "instances", zn_batch_str("vm-2"),
                                  zn_batch_str("project=p2;host=h3"), 1),
                     0);
    assert_int_equal(zn_store_apply(store, zn_batch_bytes(batch), 0, &fault), 0);
    assert_int_equal(s_index_count(store, "by_host", "h3"), 1);
    assert_int_equal(s_index_count(store, "by_host", "h1"), 1);

    /* Unknown tables and undecodable bytes fail cleanly. */
    zn_batch_reset(batch);
    assert_int_equal(zn_batch_put(batch, "flavors", zn_batch_str("m1"), zn_batch_str("x"), 0), 0);
    assert_int_equal(zn_store_apply(store, zn_batch_bytes(batch), 0, &fault), -EINVAL);
    assert_string_equal(zn_fault_message(&fault), "unknown table flavors");
    uint8_t junk[] = {'Z', 'N', 'B', 9, 0, 0, 0, 0};
    zn_buf_t junk_buf = {junk, sizeof(junk)};
    assert_int_equal(zn_store_apply(store, junk_buf, 0, &fault), -EBADMSG);
    assert_int_equal(fixture_check_consistent(store), 2);
    zn_batch_destroy(&batch);
    zn_store_destroy(&store);
    fixture_rmdir(&dir);
}

static void
test_store_group_commit_isolates_failures(void **state)
{
    (void)state;
    char *dir = fixture_tmpdir();
    zn_store_t *store = fixture_open(dir);
    zn_batch_t *batches[3];
    for (int i = 0; i < 3; i++) {
        batches[i] = zn_batch_new();
    }
    assert_int_equal(
        zn_batch_put(batches[0], "instances", zn_batch_str("a"), zn_batch_str("host=h1"), 0), 0);
    assert_int_equal(
        zn_batch_put(batches[1], "instances", zn_batch_str("b"), zn_batch_str("host=h1"), 0), 0);
    assert_int_equal(
        zn_batch_put(batches[1], "instances", zn_batch_str("a"), zn_batch_str("host=h9"), 5), 0);
    assert_int_equal(
        zn_batch_put(batches[2], "instances", zn_batch_str("a"), zn_batch_str("host=h2"), 1), 0);
    zn_fault_t faults[3];
    zn_store_entry_t entries[3];
    for (int i = 0; i < 3; i++) {
        entries[i] = (zn_store_entry_t){.batch = zn_batch_bytes(batches[i]),
                                        .applied_seq = (uint64_t)(10 + i),
                                        .fault = &faults[i]};
    }
    assert_int_equal(zn_store_apply_many(store, entries, 3, NULL), 0);
    assert_int_equal(entries[0].rc, 0);
    assert_int_equal(entries[1].rc, ZN_ECONFLICT);
    assert_int_equal(entries[2].rc, 0);
    assert_int_equal(s_index_count(store, "by_host", "h2"), 1);
    assert_int_equal(s_index_count(store, "by_host", "h1"), 0); /* b was never written */
    assert_int_equal(fixture_check_consistent(store), 1);
    uint64_t seq = 0;
    assert_int_equal(zn_store_applied_seq(store, &seq), 0);
    assert_int_equal(seq, 12);
    for (int i = 0; i < 3; i++) {
        zn_batch_destroy(&batches[i]);
    }
    zn_store_destroy(&store);
    fixture_rmdir(&dir);
}

/* A replayed log entry (same sequence) is skipped; a failed batch still advances the sequence,
 * as it would on every replica. */
static void
test_store_applied_seq_replay(void **state)
{
    (void)state;
    char *dir = fixture_tmpdir();
    zn_store_t *store = fixture_open(dir);
    zn_batch_t *batch = zn_batch_new();
    assert_int_equal(
        zn_batch_put(batch, "instances", zn_batch_str("a"), zn_batch_str("x"), ZN_BATCH_GEN_ANY),
        0);
    zn_buf_t bytes = zn_batch_bytes(batch);
    assert_int_equal(zn_store_apply(store, bytes, 5, NULL), 0);
    zn_fault_t fault;
    assert_int_equal(zn_store_apply(store, bytes, 5, &fault), ZN_EDUPLICATE);
    assert_int_equal(zn_store_apply(store, bytes, 4, &fault), ZN_EDUPLICATE);
    const zn_store_table_t *instances = zn_store_table(store, "instances");
    zn_store_read_t *txn = NULL;
    uint64_t generation = 0;
    assert_int_equal(zn_store_read_begin(store, &txn), 0);
    assert_int_equal(zn_store_get_generation(txn, instances, zn_batch_str("a"), &generation), 0);
    zn_store_read_end(&txn);
    assert_int_equal(generation, 1);

    assert_int_equal(fixture_put(store, "a", "y", 0), ZN_ECONFLICT);
    zn_batch_reset(batch);
    assert_int_equal(zn_batch_put(batch, "instances", zn_batch_str("a"), zn_batch_str("y"), 0), 0);
    assert_int_equal(zn_store_apply(store, zn_batch_bytes(batch), 6, &fault), ZN_ECONFLICT);
    uint64_t seq = 0;
    assert_int_equal(zn_store_applied_seq(store, &seq), 0);
    assert_int_equal(seq, 6);
    /* The sequence survives a reopen. */
    zn_store_destroy(&store);
    store = fixture_open(dir);
    assert_int_equal(zn_store_applied_seq(store, &seq), 0);
    assert_int_equal(seq, 6);
    zn_batch_destroy(&batch);
    zn_store_destroy(&store);
    fixture_rmdir(&dir);
}

/* Each step of applying can fail; whatever fails, nothing of the batch is left behind. */
static void
test_store_failpoints_leave_nothing(void **state)
{
    (void)state;
    static const char *const points[] = {"store.apply", "store.apply.op", "store.apply.index",
                                         "store.commit"};
    char *dir = fixture_tmpdir();
    zn_store_t *store = fixture_open(dir);
    assert_int_equal(fixture_put(store, "vm-1", "project=p1;host=h1;tags=a", 0), 0);
    zn_batch_t *batch = zn_batch_new();
    assert_int_equal(zn_batch_put(batch, "instances", zn_batch_str("vm-1"),
                                  zn_batch_str("project=p2;host=h2;tags=b"), 1),
                     0);
    assert_int_equal(
        zn_batch_put(batch, "instances", zn_batch_str("vm-2"), zn_batch_str("project=p2"), 0), 0);
    for (size_t i = 0; i < ZN_ARRAY_COUNT(points); i++) {
        zn_failpoint_set(points[i], -EIO, 1);
        zn_fault_t fault;
        assert_int_equal(zn_store_apply(store, zn_batch_bytes(batch), 3, &fault), -EIO);
        assert_int_equal(zn_failpoint_fired(points[i]), 1);
        zn_failpoint_clear_all();
        assert_int_equal(s_index_count(store, "by_project", "p1"), 1);
        assert_int_equal(s_index_count(store, "by_project", "p2"), 0);
        assert_int_equal(s_index_count(store, "by_tag", "a"), 1);
        assert_int_equal(fixture_check_consistent(store), 1);
        uint64_t seq = 1;
        assert_int_equal(zn_store_applied_seq(store, &seq), 0);
        assert_int_equal(seq, 0);
    }
    assert_int_equal(zn_store_apply(store, zn_batch_bytes(batch), 3, NULL), 0);
    assert_int_equal(fixture_check_consistent(store), 2);
    zn_batch_destroy(&batch);
    zn_store_destroy(&store);
    fixture_rmdir(&dir);
}

static zn_store_t *
s_open_small(const char *dir, size_t initial, size_t max)
{
    zn_store_opts_t opts = {.path = dir,
                            .tables = &fixture_instances,
                            .table_count = 1,
                            .map_initial_bytes = initial,
                            .map_max_bytes = max};
    zn_store_t *store = NULL;
    assert_int_equal(zn_store_open(&store, &opts, NULL), 0);
    return store;
}

/* Put 16 KiB records until the store refuses; return how many were acknowledged. */
static int
s_fill_until_full(zn_store_t *store, int first, zn_fault_t *fault)
{
    static char value[16 * 1024];
    memset(value, 'x', sizeof(value) - 1);
    memcpy(value, "host=h1;pad=", 12);
    for (int i = first;; i++) {
        char key[32];
        (void)snprintf(key, sizeof(key), "big%06d", i);
        zn_batch_t *batch = zn_batch_new();
        assert_int_equal(
            zn_batch_put(batch, "instances", zn_batch_str(key), zn_batch_str(value), 0), 0);
        int rc = zn_store_apply(store, zn_batch_bytes(batch), 0, fault);
        zn_batch_destroy(&batch);
        if (rc < 0) {
            assert_int_equal(rc, -ENOSPC);
            return i - first;
        }
    }
}

static void
test_store_map_grows_then_fails_cleanly(void **state)
{
    (void)state;
    char *dir = fixture_tmpdir();
    zn_store_t *store = s_open_small(dir, (size_t)256 << 10, (size_t)4 << 20);
    assert_int_equal(zn_store_map_bytes(store), (size_t)256 << 10);
    zn_fault_t fault;
    int written = s_fill_until_full(store, 0, &fault);
    assert_true(written > 100); /* grew 256 KiB -> 4 MiB on the way */
    assert_int_equal(zn_store_map_bytes(store), (size_t)4 << 20);
    assert_non_null(strstr(zn_fault_message(&fault), "map full"));
    assert_int_equal(fixture_check_consistent(store), written);
    zn_store_destroy(&store);

    /* Reopened with a higher ceiling, it grows again; not while a read transaction is open. */
    store = s_open_small(dir, (size_t)256 << 10, (size_t)64 << 20);
    assert_int_equal(zn_store_map_bytes(store), (size_t)4 << 20);
    zn_store_read_t *txn = NULL;
    assert_int_equal(zn_store_read_begin(store, &txn), 0);
    assert_int_equal(s_fill_until_full(store, written, &fault), 0);
    assert_non_null(strstr(zn_fault_message(&fault), "read transactions are open"));
    zn_store_read_end(&txn);
    static char big[16 * 1024];
    memset(big, 'y', sizeof(big) - 1);
    assert_int_equal(fixture_put(store, "after", big, 0), 0);
    assert_int_equal(zn_store_map_bytes(store), (size_t)8 << 20);
    assert_int_equal(fixture_check_consistent(store), written + 1);
    zn_store_destroy(&store);
    fixture_rmdir(&dir);
}

/* Another process on the node opens the store read-only while this one has it open. */
static void
test_store_read_only_process(void **state)
{
    (void)state;
    char *dir = fixture_tmpdir();
    zn_store_t *store = fixture_open(dir);
    assert_int_equal(fixture_put(store, "vm-1", "project=p1", 0), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        zn_store_opts_t opts = {.path = dir,
                                .tables = &fixture_instances,
                                .table_count = 1,
                                .mode = ZN_STORE_READ_ONLY};
        zn_store_t *reader = NULL;
        int rc = zn_store_open(&reader, &opts, NULL);
        zn_store_read_t *txn = NULL;
        zn_store_record_t record = {.generation = 0};
        if (rc == 0) {
            rc = zn_store_read_begin(reader, &txn);
        }
        if (rc == 0) {
            rc = zn_store_get(txn, zn_store_table(reader, "instances"), zn_batch_str("vm-1"),
                              &record);
        }
        zn_store_read_end(&txn);
        int write_rc = reader ? fixture_put(reader, "vm-2", "x", 0) : 0;
        zn_store_destroy(&reader);
        _exit(rc == 0 && record.generation == 1 && write_rc == -EROFS ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    zn_store_destroy(&store);
    fixture_rmdir(&dir);
}

static void
test_store_open_refuses_bad_definitions(void **state)
{
    (void)state;
    char *dir = fixture_tmpdir();
    zn_store_table_def_t bad = {.name = "Bad-Name", .record_version = 1};
    zn_store_opts_t opts = {.path = dir, .tables = &bad, .table_count = 1};
    zn_store_t *store = NULL;
    zn_fault_t fault;
    assert_int_equal(zn_store_open(&store, &opts, &fault), -EINVAL);
    assert_null(store);
    bad.name = "ok";
    bad.record_version = 0;
    assert_int_equal(zn_store_open(&store, &opts, &fault), -EINVAL);
    zn_store_table_def_t twice[2] = {fixture_instances, fixture_instances};
    opts.tables = twice;
    opts.table_count = 2;
    assert_int_equal(zn_store_open(&store, &opts, &fault), -EINVAL);
    assert_string_equal(zn_fault_message(&fault), "store: table instances defined twice");
    fixture_rmdir(&dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_example),
        cmocka_unit_test(test_store_indexes_follow_updates),
        cmocka_unit_test(test_store_scan_pages),
        cmocka_unit_test(test_store_index_scan_pages),
        cmocka_unit_test(test_store_generation_conflict),
        cmocka_unit_test(test_store_batch_is_atomic),
        cmocka_unit_test(test_store_group_commit_isolates_failures),
        cmocka_unit_test(test_store_applied_seq_replay),
        cmocka_unit_test(test_store_failpoints_leave_nothing),
        cmocka_unit_test(test_store_map_grows_then_fails_cleanly),
        cmocka_unit_test(test_store_read_only_process),
        cmocka_unit_test(test_store_open_refuses_bad_definitions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
