/* SPDX-License-Identifier: Apache-2.0 */
/* test_vbackend.c - the file backend: sparse raw files, qcow2 through qemu-img, extend, remove,
 * connection info, image import (raw kept, qcow2 converted), and ids that are not UUIDs. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <czmq.h>

#include "zn_mem.h"
#include "zn_vbackend.h"

#define S_ID  "5b0e7e6a-2f57-4c36-9d1e-0a5f8c1b2d3e"
#define S_ID2 "0c3f9d7e-1a2b-4c5d-8e9f-aabbccddeeff"

typedef struct {
    char *dir;
    zn_vbackend_t *backend;
} s_env_t;

static s_env_t *
s_open(const char *format)
{
    s_env_t *env = zn_calloc(1, sizeof(*env));
    env->dir = zn_strdup("/tmp/zn-vbackend.XXXXXX");
    assert_non_null(mkdtemp(env->dir));
    char *vdir = zn_asprintf("%s/volumes", env->dir);
    zn_vbackend_opts_t opts = {.driver = "file", .dir = vdir, .format = format};
    zn_fault_t fault;
    assert_int_equal(zn_vbackend_open(&env->backend, &opts, &fault), 0);
    zn_free(vdir);
    return env;
}

static void
s_close(s_env_t **env_p)
{
    s_env_t *env = *env_p;
    zn_vbackend_destroy(&env->backend);
    char *cmd = zn_asprintf("rm -rf '%s'", env->dir);
    assert_int_equal(system(cmd), 0);
    zn_free(cmd);
    zn_free(env->dir);
    zn_free(env);
    *env_p = NULL;
}

static bool
s_have_qemu_img(void)
{
    return system("qemu-img --version >/dev/null 2>&1") == 0;
}

static void
test_vbackend_example(void **state)
{
    (void)state;
    s_env_t *env = s_open("raw");
    zn_fault_t fault;
    assert_int_equal(zn_vbackend_create(env->backend, S_ID, 1, &fault), 0);
    zn_vbackend_conn_t conn;
    assert_int_equal(zn_vbackend_connection(env->backend, S_ID, &conn, &fault), 0);
    assert_string_equal(conn.driver, "file");
    assert_string_equal(conn.format, "raw");
    struct stat st;
    assert_int_equal(stat(conn.path, &st), 0);
    assert_int_equal(st.st_size, ZN_VBACKEND_GB);
    assert_true((int64_t)st.st_blocks * 512 < (1 << 20)); /* sparse */
    assert_int_equal(zn_vbackend_extend(env->backend, S_ID, 3, &fault), 0);
    assert_int_equal(stat(conn.path, &st), 0);
    assert_int_equal(st.st_size, 3 * ZN_VBACKEND_GB);
    assert_int_equal(zn_vbackend_remove(env->backend, S_ID, &fault), 0);
    assert_int_not_equal(stat(conn.path, &st), 0);
    assert_int_equal(zn_vbackend_remove(env->backend, S_ID, &fault), 0); /* idempotent */
    s_close(&env);
}

static void
test_vbackend_refuses(void **state)
{
    (void)state;
    s_env_t *env = s_open("raw");
    zn_fault_t fault;
    assert_int_equal(zn_vbackend_create(env->backend, "../../etc/passwd", 1, &fault), -EINVAL);
    assert_int_equal(zn_vbackend_create(env->backend, S_ID, 0, &fault), -EINVAL);
    assert_int_equal(zn_vbackend_create(env->backend, S_ID, 1, &fault), 0);
    assert_int_equal(zn_vbackend_create(env->backend, S_ID, 1, &fault), -EEXIST);
    assert_int_equal(zn_vbackend_extend(env->backend, S_ID2, 2, &fault), -ENOENT);
    zn_vbackend_t *other = NULL;
    zn_vbackend_opts_t bad = {.driver = "lvm", .dir = env->dir, .format = "raw"};
    assert_int_equal(zn_vbackend_open(&other, &bad, &fault), -EINVAL);
    assert_non_null(strstr(fault.message, "lvm"));
    bad.driver = "file";
    bad.format = "vmdk";
    assert_int_equal(zn_vbackend_open(&other, &bad, &fault), -EINVAL);
    assert_null(other);
    s_close(&env);
}

static void
test_vbackend_import_raw(void **state)
{
    (void)state;
    s_env_t *env = s_open("raw");
    zn_fault_t fault;
    const char head[] = "bootsector";
    const char tail[] = "tail";
    assert_int_equal(zn_vbackend_import_write(env->backend, S_ID, 0, head, sizeof(head), &fault),
                     0);
    assert_int_equal(zn_vbackend_import_write(env->backend, S_ID, 4096, tail, sizeof(tail), &fault),
                     0);
    assert_int_equal(zn_vbackend_import_finish(env->backend, S_ID, "raw", 1, &fault), 0);
    zn_vbackend_conn_t conn;
    assert_int_equal(zn_vbackend_connection(env->backend, S_ID, &conn, &fault), 0);
    FILE *file = fopen(conn.path, "rb");
    assert_non_null(file);
    char buf[sizeof(head)];
    assert_int_equal(fread(buf, 1, sizeof(buf), file), sizeof(buf));
    assert_memory_equal(buf, head, sizeof(head));
    assert_int_equal(fseek(file, 4096, SEEK_SET), 0);
    assert_int_equal(fread(buf, 1, sizeof(tail), file), sizeof(tail));
    assert_memory_equal(buf, tail, sizeof(tail));
    (void)fclose(file);
    struct stat st;
    assert_int_equal(stat(conn.path, &st), 0);
    assert_int_equal(st.st_size, ZN_VBACKEND_GB);
    assert_int_equal(zn_vbackend_import_finish(env->backend, S_ID2, "iso", 1, &fault), -EINVAL);
    s_close(&env);
}

static void
test_vbackend_qcow2(void **state)
{
    (void)state;
    if (!s_have_qemu_img()) {
        skip();
    }
    s_env_t *env = s_open("qcow2");
    zn_fault_t fault;
    assert_int_equal(zn_vbackend_create(env->backend, S_ID, 2, &fault), 0);
    zn_vbackend_conn_t conn;
    assert_int_equal(zn_vbackend_connection(env->backend, S_ID, &conn, &fault), 0);
    assert_string_equal(conn.format, "qcow2");
    char *cmd = zn_asprintf("qemu-img info '%s' | grep -q 'virtual size: 2 GiB'", conn.path);
    assert_int_equal(system(cmd), 0);
    zn_free(cmd);
    assert_int_equal(zn_vbackend_extend(env->backend, S_ID, 4, &fault), 0);
    cmd = zn_asprintf("qemu-img info '%s' | grep -q 'virtual size: 4 GiB'", conn.path);
    assert_int_equal(system(cmd), 0);
    zn_free(cmd);
    /* A raw image converted into a qcow2 volume. */
    const char data[] = "raw image bytes";
    assert_int_equal(zn_vbackend_import_write(env->backend, S_ID2, 0, data, sizeof(data), &fault),
                     0);
    assert_int_equal(zn_vbackend_import_finish(env->backend, S_ID2, "raw", 1, &fault), 0);
    assert_int_equal(zn_vbackend_connection(env->backend, S_ID2, &conn, &fault), 0);
    cmd = zn_asprintf("qemu-img info '%s' | grep -q 'file format: qcow2'", conn.path);
    assert_int_equal(system(cmd), 0);
    zn_free(cmd);
    s_close(&env);
}

typedef struct {
    int done;
    int codes[4];
} s_jobs_t;

static void
s_job_done(void *arg, const zn_fault_t *fault)
{
    s_jobs_t *jobs = arg;
    jobs->codes[jobs->done++] = fault->code;
}

static int
s_until_done(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    const s_jobs_t *jobs = arg;
    return jobs->done == 3 ? -1 : 0;
}

/* The worker runs jobs in order off the loop and answers each on it; cancelled jobs still run
 * but answer no one. */
static void
test_vbackend_worker(void **state)
{
    (void)state;
    s_env_t *env = s_open("raw");
    zloop_t *loop = zloop_new();
    assert_int_equal(zn_vbackend_attach(env->backend, loop), 0);
    s_jobs_t jobs = {0};
    zn_vbackend_job_args_t create = {.op = ZN_VBACKEND_CREATE, .id = S_ID, .size_gb = 2};
    zn_vbackend_job_args_t again = create;
    zn_vbackend_job_args_t extend = {.op = ZN_VBACKEND_EXTEND, .id = S_ID, .size_gb = 3};
    assert_int_equal(zn_vbackend_submit(env->backend, &create, s_job_done, &jobs), 0);
    assert_int_equal(zn_vbackend_submit(env->backend, &again, s_job_done, &jobs), 0);
    assert_int_equal(zn_vbackend_submit(env->backend, &extend, s_job_done, &jobs), 0);
    assert_int_equal(jobs.done, 0); /* never inside the call */
    assert_int_equal(zn_vbackend_pending(env->backend), 3);
    int timer = zloop_timer(loop, 1, 0, s_until_done, &jobs);
    (void)zloop_start(loop);
    zloop_timer_end(loop, timer);
    assert_int_equal(jobs.done, 3);
    assert_int_equal(jobs.codes[0], 0);
    assert_int_equal(jobs.codes[1], -EEXIST);
    assert_int_equal(jobs.codes[2], 0);
    assert_int_equal(zn_vbackend_pending(env->backend), 0);
    zn_vbackend_conn_t conn;
    zn_fault_t fault;
    assert_int_equal(zn_vbackend_connection(env->backend, S_ID, &conn, &fault), 0);
    struct stat st;
    assert_int_equal(stat(conn.path, &st), 0);
    assert_int_equal(st.st_size, 3 * ZN_VBACKEND_GB);
    zn_vbackend_job_args_t remove = {.op = ZN_VBACKEND_REMOVE, .id = S_ID};
    assert_int_equal(zn_vbackend_submit(env->backend, &remove, s_job_done, &jobs), 0);
    zn_vbackend_cancel(env->backend);
    s_close(&env); /* joins the worker; the cancelled job answers no one */
    assert_int_equal(jobs.done, 3);
    zloop_destroy(&loop);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vbackend_example),    cmocka_unit_test(test_vbackend_refuses),
        cmocka_unit_test(test_vbackend_import_raw), cmocka_unit_test(test_vbackend_qcow2),
        cmocka_unit_test(test_vbackend_worker),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
