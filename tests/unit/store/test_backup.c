/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for zn_store_backup and zn_store_restore. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture.h"
#include "zn_failpoint.h"
#include "zn_mem.h"
#include "zn_store.h"

static bool
s_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static int
s_get(zn_store_t *store, const char *key)
{
    zn_store_read_t *txn = NULL;
    assert_int_equal(zn_store_read_begin(store, &txn), 0);
    zn_store_record_t record;
    int rc = zn_store_get(txn, zn_store_table(store, "instances"), zn_batch_str(key), &record);
    zn_store_read_end(&txn);
    return rc;
}

static void
test_backup_example(void **state)
{
    (void)state;
    char *dir = fixture_tmpdir();
    char *store_dir = zn_asprintf("%s/store", dir);
    char *backup_dir = zn_asprintf("%s/backup", dir);
    zn_store_t *store = fixture_open(store_dir);
    assert_int_equal(fixture_put(store, "vm-1", "project=p1", 0), 0);

    /* Online: the store stays open and writable. */
    zn_fault_t fault;
    assert_int_equal(zn_store_backup(store, backup_dir, &fault), 0);
    assert_int_equal(fixture_put(store, "vm-2", "project=p1", 0), 0);
    zn_store_destroy(&store);

    /* Offline: nobody has the store open. vm-2 came after the backup and is gone. */
    assert_int_equal(zn_store_restore(backup_dir, store_dir, &fault), 0);
    store = fixture_open(store_dir);
    assert_int_equal(s_get(store, "vm-1"), 0);
    assert_int_equal(s_get(store, "vm-2"), -ENOENT);
    assert_int_equal(fixture_check_consistent(store), 1);
    zn_store_destroy(&store);
    zn_str_free(&backup_dir);
    zn_str_free(&store_dir);
    fixture_rmdir(&dir);
}

typedef struct s_writer {
    zn_store_t *store;
    int ready_fd; /* one byte after the first 50 acknowledged writes */
    atomic_bool stop;
    int acked;
} s_writer_t;

static void *
s_write_loop(void *arg)
{
    s_writer_t *writer = arg;
    while (!atomic_load(&writer->stop)) {
        char key[32];
        (void)snprintf(key, sizeof(key), "w%06d", writer->acked);
        if (fixture_put(writer->store, key, "project=p1;host=h1;tags=x,y", 0) != 0) {
            break;
        }
        if (++writer->acked == 50) {
            (void)!write(writer->ready_fd, "r", 1);
        }
    }
    return NULL;
}

static void
test_backup_while_writing(void **state)
{
    (void)state;
    char *dir = fixture_tmpdir();
    char *store_dir = zn_asprintf("%s/store", dir);
    char *backup_dir = zn_asprintf("%s/backup", dir);
    char *restored_dir = zn_asprintf("%s/restored", dir);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    s_writer_t writer = {.store = fixture_open(store_dir), .ready_fd = fds[1]};
    atomic_init(&writer.stop, false);
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, s_write_loop, &writer), 0);
    char byte;
    assert_int_equal(read(fds[0], &byte, 1), 1);
    assert_int_equal(zn_store_backup(writer.store, backup_dir, NULL), 0);
    atomic_store(&writer.stop, true);
    assert_int_equal(pthread_join(thread, NULL), 0);

    assert_int_equal(zn_store_restore(backup_dir, restored_dir, NULL), 0);
    zn_store_t *restored = fixture_open(restored_dir);
    long count = fixture_check_consistent(restored);
    assert_true(count >= 50 && count <= writer.acked);
    zn_store_destroy(&restored);
    zn_store_destroy(&writer.store);
    close(fds[0]);
    close(fds[1]);
    zn_str_free(&restored_dir);
    zn_str_free(&backup_dir);
    zn_str_free(&store_dir);
    fixture_rmdir(&dir);
}

static void
test_backup_refusals(void **state)
{
    (void)state;
    char *dir = fixture_tmpdir();
    char *store_dir = zn_asprintf("%s/store", dir);
    char *backup_dir = zn_asprintf("%s/backup", dir);
    zn_store_t *store = fixture_open(store_dir);
    assert_int_equal(fixture_put(store, "vm-1", "project=p1", 0), 0);
    zn_fault_t fault;

    zn_failpoint_set("store.backup", -EIO, 1);
    assert_int_equal(zn_store_backup(store, backup_dir, &fault), -EIO);
    assert_false(s_exists(backup_dir));
    assert_int_equal(zn_store_backup(store, backup_dir, &fault), 0);
    assert_int_equal(zn_store_backup(store, backup_dir, &fault), -EEXIST);

    /* Restore refuses a store somebody has open, and leaves it alone. */
    assert_int_equal(zn_store_restore(backup_dir, store_dir, &fault), -EBUSY);
    assert_non_null(strstr(zn_fault_message(&fault), "the store is open"));
    assert_int_equal(fixture_put(store, "vm-2", "project=p1", 0), 0);
    zn_store_destroy(&store);

    /* A missing or damaged backup, or a failed install, leaves the store as it was. */
    char *missing = zn_asprintf("%s/nothing", dir);
    assert_true(zn_store_restore(missing, store_dir, &fault) < 0);
    char *junk_dir = zn_asprintf("%s/junk", dir);
    char *junk_file = zn_asprintf("%s/junk/data.mdb", dir);
    assert_int_equal(mkdir(junk_dir, 0750), 0);
    FILE *junk = fopen(junk_file, "w");
    assert_non_null(junk);
    for (int i = 0; i < 4096; i++) {
        (void)fputs("not an lmdb file ", junk);
    }
    assert_int_equal(fclose(junk), 0);
    assert_true(zn_store_restore(junk_dir, store_dir, &fault) < 0);
    zn_failpoint_set("store.restore", -EIO, 1);
    assert_int_equal(zn_store_restore(backup_dir, store_dir, &fault), -EIO);
    store = fixture_open(store_dir);
    assert_int_equal(s_get(store, "vm-2"), 0);
    assert_int_equal(fixture_check_consistent(store), 2);
    zn_store_destroy(&store);
    zn_str_free(&junk_file);
    zn_str_free(&junk_dir);
    zn_str_free(&missing);
    zn_str_free(&backup_dir);
    zn_str_free(&store_dir);
    fixture_rmdir(&dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backup_example),
        cmocka_unit_test(test_backup_while_writing),
        cmocka_unit_test(test_backup_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
