/* SPDX-License-Identifier: Apache-2.0 */
/* Fault test: kill -9 a writer process in the middle of many commits, reopen, and check that
 * the store is consistent and holds every write that was acknowledged. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture.h"
#include "zn_store.h"

#define S_ROUNDS   4
#define S_MAX_KEYS 100000

/* The child: write keys FIRST.. one commit each (with a map small enough to grow on the way),
 * and report each acknowledged one on FD. Never returns. */
static void
s_child_write(const char *dir, int first, int fd)
{
    zn_store_opts_t opts = {.path = dir,
                            .tables = &fixture_instances,
                            .table_count = 1,
                            .map_initial_bytes = (size_t)256 << 10};
    zn_store_t *store = NULL;
    if (zn_store_open(&store, &opts, NULL) != 0) {
        _exit(2);
    }
    char value[1024];
    for (int i = first; i < S_MAX_KEYS; i++) {
        char key[32];
        (void)snprintf(key, sizeof(key), "k%06d", i);
        int len = snprintf(value, sizeof(value), "project=p%d;host=h%d;tags=t%d,u%d;pad=", i % 10,
                           i % 7, i % 3, i % 5);
        memset(value + len, 'x', sizeof(value) - (size_t)len - 1);
        value[sizeof(value) - 1] = '\0';
        if (fixture_put(store, key, value, ZN_BATCH_GEN_ABSENT) != 0) {
            _exit(3);
        }
        if (write(fd, &i, sizeof(i)) != (ssize_t)sizeof(i)) {
            _exit(4);
        }
    }
    _exit(0);
}

/* Run one writer from key FIRST, kill it after KILL_AFTER acks; return the highest acked key. */
static int
s_round(const char *dir, int first, int kill_after)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        s_child_write(dir, first, fds[1]);
    }
    close(fds[1]);
    int acks = 0;
    int last = first - 1;
    int seq = 0;
    while (read(fds[0], &seq, sizeof(seq)) == (ssize_t)sizeof(seq)) {
        assert_int_equal(seq, last + 1);
        last = seq;
        if (++acks == kill_after) {
            assert_int_equal(kill(pid, SIGKILL), 0);
        }
    }
    close(fds[0]); /* EOF: the child is gone; every ack it wrote has been read */
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    return last;
}

static void
s_check(const char *dir, int last_acked)
{
    zn_store_t *store = fixture_open(dir);
    long records = fixture_check_consistent(store);
    assert_true(records >= last_acked + 1);
    zn_store_read_t *txn = NULL;
    assert_int_equal(zn_store_read_begin(store, &txn), 0);
    const zn_store_table_t *instances = zn_store_table(store, "instances");
    for (int i = 0; i < records; i++) {
        char key[32];
        (void)snprintf(key, sizeof(key), "k%06d", i);
        zn_store_record_t record;
        assert_int_equal(zn_store_get(txn, instances, zn_batch_str(key), &record), 0);
        assert_int_equal(record.generation, 1);
        assert_int_equal(record.value.len, 1023);
    }
    zn_store_read_end(&txn);
    zn_store_destroy(&store);
}

static void
test_kill_example(void **state)
{
    (void)state;
    char *dir = fixture_tmpdir();
    int next = 0;
    for (int round = 0; round < S_ROUNDS; round++) {
        int last = s_round(dir, next, 150 + 97 * round);
        s_check(dir, last);
        /* An unacknowledged write may still have committed: start after what is there. */
        zn_store_t *store = fixture_open(dir);
        next = (int)fixture_check_consistent(store);
        zn_store_destroy(&store);
        assert_true(next >= last + 1);
    }
    fixture_rmdir(&dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill_example),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
