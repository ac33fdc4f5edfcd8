/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for the store's versions: forward migrations on open, refusal of newer files and
 * tables, rollback of a failed migration, and indexes built when a definition adds one. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <lmdb.h>

#include "fixture.h"
#include "zn_failpoint.h"
#include "zn_store.h"

/* Version 2 of "instances" upper-cases the host (h1 -> H1) and appends ";v=2". */
typedef struct s_scratch {
    char buf[256];
    int calls;
    int fail_at; /* fail on this call (1-based); 0: never */
} s_scratch_t;

static int
s_upgrade(zn_buf_t key, zn_buf_t old, zn_buf_t *out, void *arg)
{
    (void)key;
    s_scratch_t *scratch = arg;
    if (++scratch->calls == scratch->fail_at || old.len + 5 > sizeof(scratch->buf)) {
        return -EILSEQ;
    }
    memcpy(scratch->buf, old.ptr, old.len);
    char *host = memmem(scratch->buf, old.len, "host=h", 6);
    if (host != NULL) {
        host[5] = 'H';
    }
    memcpy(scratch->buf + old.len, ";v=2", 4);
    out->ptr = (const uint8_t *)scratch->buf;
    out->len = old.len + 4;
    return 0;
}

static int
s_open_version(zn_store_t **store, const char *dir, uint32_t version, s_scratch_t *scratch,
               zn_fault_t *fault)
{
    zn_store_table_def_t def = fixture_instances;
    def.record_version = version;
    zn_store_migration_t migrations[] = {{"instances", 1, 2, s_upgrade, scratch}};
    zn_store_opts_t opts = {.path = dir,
                            .tables = &def,
                            .table_count = 1,
                            .migrations = migrations,
                            .migration_count = scratch ? 1 : 0};
    int rc = zn_store_open(store, &opts, fault);
    if (rc == 0) {
        /* The definition must outlive the store: only check here, then close. */
        long count = fixture_check_consistent(*store);
        assert_true(count >= 0);
        zn_store_destroy(store);
    }
    return rc;
}

static void
s_expect_record(const char *dir, const char *key, const char *value, uint64_t gen, uint32_t version)
{
    zn_store_table_def_t def = fixture_instances;
    def.record_version = version;
    zn_store_opts_t opts = {.path = dir, .tables = &def, .table_count = 1};
    zn_store_t *store = NULL;
    assert_int_equal(zn_store_open(&store, &opts, NULL), 0);
    zn_store_read_t *txn = NULL;
    assert_int_equal(zn_store_read_begin(store, &txn), 0);
    zn_store_record_t record;
    assert_int_equal(
        zn_store_get(txn, zn_store_table(store, "instances"), zn_batch_str(key), &record), 0);
    assert_int_equal(record.value.len, strlen(value));
    assert_memory_equal(record.value.ptr, value, strlen(value));
    assert_int_equal(record.generation, gen);
    assert_int_equal(record.record_version, version);
    zn_store_read_end(&txn);
    zn_store_destroy(&store);
}

static void
s_seed(const char *dir)
{
    zn_store_t *store = fixture_open(dir);
    assert_int_equal(fixture_put(store, "vm-1", "project=p1;host=h1", 0), 0);
    assert_int_equal(fixture_put(store, "vm-1", "project=p1;host=h1;state=ACTIVE", 1), 0);
    assert_int_equal(fixture_put(store, "vm-2", "project=p2;host=h2", 0), 0);
    assert_int_equal(fixture_put(store, "vm-3", "project=p2", 0), 0);
    zn_store_destroy(&store);
}

static void
test_meta_example(void **state)
{
    (void)state;
    char *dir = fixture_tmpdir();
    s_seed(dir);
    /* This build writes version 2 and brings the table forward on open, in one transaction;
     * the indexes are rebuilt from the new records and generations are kept. */
    s_scratch_t scratch = {.fail_at = 0};
    zn_store_t *store = NULL;
    assert_int_equal(s_open_version(&store, dir, 2, &scratch, NULL), 0);
    assert_int_equal(scratch.calls, 3);
    s_expect_record(dir, "vm-1", "project=p1;host=H1;state=ACTIVE;v=2", 2, 2);
    s_expect_record(dir, "vm-3", "project=p2;v=2", 1, 2);

    zn_store_table_def_t def = fixture_instances;
    def.record_version = 2;
    zn_store_opts_t opts = {.path = dir, .tables = &def, .table_count = 1};
    assert_int_equal(zn_store_open(&store, &opts, NULL), 0);
    zn_store_read_t *txn = NULL;
    assert_int_equal(zn_store_read_begin(store, &txn), 0);
    zn_store_index_query_t query = {.value = zn_batch_str("H1")};
    zn_store_record_t page[4];
    const zn_store_index_t *by_host = zn_store_index(zn_store_table(store, "instances"), "by_host");
    assert_int_equal(zn_store_index_scan(txn, by_host, &query, page, 4), 1);
    query.value = zn_batch_str("h1");
    assert_int_equal(zn_store_index_scan(txn, by_host, &query, page, 4), 0);
    zn_store_read_end(&txn);
    zn_store_destroy(&store);
    fixture_rmdir(&dir);
}

static void
test_meta_newer_table_refused(void **state)
{
    (void)state;
    char *dir = fixture_tmpdir();
    s_seed(dir);
    s_scratch_t scratch = {.fail_at = 0};
    zn_store_t *store = NULL;
    assert_int_equal(s_open_version(&store, dir, 2, &scratch, NULL), 0);
    zn_fault_t fault;
    assert_int_equal(s_open_version(&store, dir, 1, NULL, &fault), ZN_EVERSION);
    assert_null(store);
    assert_string_equal(zn_fault_message(&fault),
                        "table instances: records are at version 2, this build writes version 1");
    fixture_rmdir(&dir);
}

static void
test_meta_missing_migration_refused(void **state)
{
    (void)state;
    char *dir = fixture_tmpdir();
    s_seed(dir);
    s_scratch_t scratch = {.fail_at = 0};
    zn_store_t *store = NULL;
    zn_fault_t fault;
    assert_int_equal(s_open_version(&store, dir, 3, &scratch, &fault), ZN_EVERSION);
    assert_string_equal(zn_fault_message(&fault),
                        "table instances: no migration from record version 2 towards 3");
    /* The 1 -> 2 step ran inside the same transaction and was rolled back with it. */
    s_expect_record(dir, "vm-1", "project=p1;host=h1;state=ACTIVE", 2, 1);
    fixture_rmdir(&dir);
}

static void
test_meta_failed_migration_rolls_back(void **state)
{
    (void)state;
    char *dir = fixture_tmpdir();
    s_seed(dir);
    s_scratch_t scratch = {.fail_at = 2};
    zn_store_t *store = NULL;
    zn_fault_t fault;
    assert_int_equal(s_open_version(&store, dir, 2, &scratch, &fault), -EILSEQ);
    assert_non_null(strstr(zn_fault_message(&fault), "migration 1->2 failed after 1 records"));
    s_expect_record(dir, "vm-1", "project=p1;host=h1;state=ACTIVE", 2, 1);

    const char *points[] = {"store.migrate", "store.open.commit"};
    for (size_t i = 0; i < 2; i++) {
        zn_failpoint_set(points[i], -EIO, 1);
        scratch = (s_scratch_t){.fail_at = 0};
        assert_int_equal(s_open_version(&store, dir, 2, &scratch, &fault), -EIO);
        zn_failpoint_clear_all();
        s_expect_record(dir, "vm-2", "project=p2;host=h2", 1, 1);
    }
    fixture_rmdir(&dir);
}

/* Overwrite the format record with raw LMDB, as a newer zinc would have written it. */
static void
s_write_format(const char *dir, uint32_t major, uint32_t minor)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0640), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "zn.meta", 0, &dbi), 0);
    uint8_t buf[8] = {(uint8_t)major, 0, 0, 0, (uint8_t)minor, 0, 0, 0};
    static char name[] = "format";
    MDB_val key = {6, name};
    MDB_val val = {8, buf};
    assert_int_equal(mdb_put(txn, dbi, &key, &val, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static void
test_meta_newer_format_refused(void **state)
{
    (void)state;
    char *dir = fixture_tmpdir();
    s_seed(dir);
    s_write_format(dir, 1, 7); /* a newer minor is fine */
    zn_store_t *store = fixture_open(dir);
    zn_store_destroy(&store);
    s_write_format(dir, 2, 0);
    zn_store_opts_t opts = {.path = dir, .tables = &fixture_instances, .table_count = 1};
    zn_fault_t fault;
    assert_int_equal(zn_store_open(&store, &opts, &fault), ZN_EVERSION);
    char want[256];
    (void)snprintf(want, sizeof(want),
                   "store %s: file format 2.0 was written by a newer zinc; this build reads "
                   "format 1.x",
                   dir);
    assert_string_equal(zn_fault_message(&fault), want);
    fixture_rmdir(&dir);
}

static void
test_meta_new_index_is_built(void **state)
{
    (void)state;
    char *dir = fixture_tmpdir();
    zn_store_table_def_t plain = {.name = "instances", .record_version = 1};
    zn_store_opts_t opts = {.path = dir, .tables = &plain, .table_count = 1};
    zn_store_t *store = NULL;
    assert_int_equal(zn_store_open(&store, &opts, NULL), 0);
    assert_int_equal(fixture_put(store, "vm-1", "project=p1;host=h1;tags=a,b", 0), 0);
    assert_int_equal(fixture_put(store, "vm-2", "project=p1;host=h2", 0), 0);
    zn_store_destroy(&store);
    store = fixture_open(dir);
    assert_int_equal(fixture_check_consistent(store), 2);
    zn_store_destroy(&store);
    fixture_rmdir(&dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_meta_example),
        cmocka_unit_test(test_meta_newer_table_refused),
        cmocka_unit_test(test_meta_missing_migration_refused),
        cmocka_unit_test(test_meta_failed_migration_rolls_back),
        cmocka_unit_test(test_meta_newer_format_refused),
        cmocka_unit_test(test_meta_new_index_is_built),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
