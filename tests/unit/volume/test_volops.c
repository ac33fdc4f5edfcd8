/* SPDX-License-Identifier: Apache-2.0 */
/* test_volops.c - volume operations against a real conductor and store and the file backend:
 * the create/update/extend/delete life, quotas (also under concurrent creates), the attach and
 * detach state machine with two instances racing for one volume, project isolation, and
 * backend failures leaving error states and no leaked quota. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "cond_fixture.h"
#include "zn_clock.h"
#include "zn_failpoint.h"
#include "zn_mem.h"
#include "zn_volops.h"

#define S_PROJECT "p-one"

typedef struct {
    cond_fixture_t *fix;
    char *dir;
    zloop_t *loop;
    zn_sclient_t *sc;
    zn_vbackend_t *backend;
    zn_volops_t *ops;
} s_env_t;

/* One operation's answer. */
typedef struct {
    bool done;
    int code;
    char message[ZN_FAULT_MESSAGE_MAX];
    zn_vol_t vol;
} s_result_t;

static const zn_volops_who_t s_who = {S_PROJECT, "u-one", false};
static const zn_volops_who_t s_other = {"p-two", "u-two", false};
static const zn_volops_who_t s_admin = {"p-admin", "u-admin", true};

static s_env_t *
s_open(int64_t quota_volumes, int64_t quota_gigabytes)
{
    s_env_t *env = zn_calloc(1, sizeof(*env));
    env->fix = cond_fixture_start(NULL);
    env->dir = zn_strdup("/tmp/zn-volops.XXXXXX");
    assert_non_null(mkdtemp(env->dir));
    env->loop = zloop_new();
    zn_fault_t fault;
    zn_sclient_opts_t sopts = {.data_dir = cond_fixture_store_dir(env->fix),
                               .conductor_call = cond_fixture_call(env->fix)};
    assert_int_equal(zn_sclient_open(&env->sc, &sopts, &fault), 0);
    assert_int_equal(zn_sclient_attach(env->sc, env->loop), 0);
    zn_vbackend_opts_t bopts = {.driver = "file", .dir = env->dir, .format = "raw"};
    assert_int_equal(zn_vbackend_open(&env->backend, &bopts, &fault), 0);
    assert_int_equal(zn_vbackend_attach(env->backend, env->loop), 0);
    zn_volops_opts_t opts = {.sc = env->sc,
                             .backend = env->backend,
                             .loop = env->loop,
                             .host = "vol-node",
                             .quota_volumes = quota_volumes,
                             .quota_gigabytes = quota_gigabytes,
                             .max_size_gb = 6};
    env->ops = zn_volops_new(&opts);
    return env;
}

static int
s_setup(void **state)
{
    *state = s_open(3, 8);
    return 0;
}

static int
s_setup_roomy(void **state)
{
    *state = s_open(-1, -1);
    return 0;
}

static int
s_teardown(void **state)
{
    s_env_t *env = *state;
    zn_volops_shutdown(env->ops);
    zn_sclient_destroy(&env->sc);
    zn_volops_destroy(&env->ops);
    zn_vbackend_destroy(&env->backend);
    zloop_destroy(&env->loop);
    cond_fixture_stop(&env->fix);
    char *cmd = zn_asprintf("rm -rf '%s'", env->dir);
    assert_int_equal(system(cmd), 0);
    zn_free(cmd);
    zn_free(env->dir);
    zn_free(env);
    zn_failpoint_clear_all();
    return 0;
}

static void
s_done(void *arg, const zn_vol_t *vol, const zn_fault_t *fault)
{
    s_result_t *result = arg;
    result->done = true;
    result->code = fault->code;
    (void)snprintf(result->message, sizeof(result->message), "%s", fault->message);
    zn_schema_release(&zn_vol_schema, &result->vol);
    if (vol->id != NULL) {
        zn_schema_copy(&zn_vol_schema, &result->vol, vol);
    }
}

typedef struct {
    s_result_t **results;
    size_t count;
    int64_t deadline_ms;
} s_waiting_t;

static int
s_check_done(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    s_waiting_t *waiting = arg;
    bool all = true;
    for (size_t i = 0; i < waiting->count; i++) {
        all = all && waiting->results[i]->done;
    }
    return all || zn_clock_mono_ms() > waiting->deadline_ms ? -1 : 0;
}

/* Run the loop until every result in RESULTS is in (or 10 s passed). */
static void
s_wait_all(s_env_t *env, s_result_t **results, size_t count)
{
    s_waiting_t waiting = {results, count, zn_clock_mono_ms() + 10000};
    int timer = zloop_timer(env->loop, 1, 0, s_check_done, &waiting);
    (void)zloop_start(env->loop);
    zloop_timer_end(env->loop, timer);
    for (size_t i = 0; i < count; i++) {
        assert_true(results[i]->done);
    }
}

static void
s_wait(s_env_t *env, s_result_t *result)
{
    s_wait_all(env, &result, 1);
}

static void
s_reset(s_result_t *result)
{
    zn_schema_release(&zn_vol_schema, &result->vol);
    memset(result, 0, sizeof(*result));
}

/* Create SIZE_GB for WHO and wait for the answer; returns its code. */
static int
s_create(s_env_t *env, const zn_volops_who_t *who, int64_t size_gb, s_result_t *result)
{
    s_reset(result);
    zn_volops_create_t req = {.name = "vol", .size_gb = size_gb};
    zn_fault_t fault;
    assert_int_equal(zn_volops_create(env->ops, NULL, who, &req, s_done, result, &fault), 0);
    s_wait(env, result);
    return result->code;
}

/* Turn the loop until volume ID has STATUS (the background part of a create). */
static void
s_await_status(s_env_t *env, const char *id, const char *status)
{
    int64_t deadline = zn_clock_mono_ms() + 10000;
    for (;;) {
        zn_vol_t vol;
        zn_fault_t fault;
        int rc = zn_volops_get(env->ops, &s_admin, id, &vol, &fault);
        bool there = rc == 0 && strcmp(vol.status, status) == 0;
        zn_schema_release(&zn_vol_schema, &vol);
        if (there) {
            return;
        }
        assert_true(zn_clock_mono_ms() < deadline);
        (void)zloop_timer(env->loop, 2, 1, s_check_done, &(s_waiting_t){NULL, 0, 0});
        (void)zloop_start(env->loop);
    }
}

static void
s_usage(s_env_t *env, int64_t volumes, int64_t gigabytes)
{
    int64_t v = -1;
    int64_t g = -1;
    zn_fault_t fault;
    assert_int_equal(zn_volops_usage(env->ops, S_PROJECT, &v, &g, &fault), 0);
    assert_int_equal(v, volumes);
    assert_int_equal(g, gigabytes);
}

static int
s_delete(s_env_t *env, const zn_volops_who_t *who, const char *id)
{
    s_result_t result = {0};
    zn_fault_t fault;
    assert_int_equal(zn_volops_delete(env->ops, NULL, who, id, s_done, &result, &fault), 0);
    s_wait(env, &result);
    int code = result.code;
    s_reset(&result);
    return code;
}

static int
s_attach(s_env_t *env, const zn_volops_who_t *who, const char *id, const char *instance,
         s_result_t *result)
{
    s_reset(result);
    zn_fault_t fault;
    assert_int_equal(zn_volops_attach(env->ops, NULL, who, id, instance, "cmp1", "/dev/vdb", s_done,
                                      result, &fault),
                     0);
    s_wait(env, result);
    return result->code;
}

static int
s_detach(s_env_t *env, const char *id, const char *instance)
{
    s_result_t result = {0};
    zn_fault_t fault;
    assert_int_equal(
        zn_volops_detach(env->ops, NULL, &s_who, id, instance, s_done, &result, &fault), 0);
    s_wait(env, &result);
    int code = result.code;
    s_reset(&result);
    return code;
}

static void
test_volops_example(void **state)
{
    s_env_t *env = *state;
    s_result_t created = {0};
    assert_int_equal(s_create(env, &s_who, 1, &created), 0);
    assert_string_equal(created.vol.status, "creating");
    assert_string_equal(created.vol.project_id, S_PROJECT);
    char *id = zn_strdup(created.vol.id);
    s_await_status(env, id, "available");
    s_usage(env, 1, 1);
    zn_vbackend_conn_t conn;
    zn_fault_t fault;
    assert_int_equal(zn_volops_connection(env->ops, &created.vol, &conn, &fault), 0);
    struct stat st;
    assert_int_equal(stat(conn.path, &st), 0);
    assert_int_equal(st.st_size, ZN_VBACKEND_GB);

    s_result_t updated = {0};
    assert_int_equal(
        zn_volops_update(env->ops, NULL, &s_who, id, "renamed", NULL, s_done, &updated, &fault), 0);
    s_wait(env, &updated);
    assert_int_equal(updated.code, 0);
    assert_string_equal(updated.vol.name, "renamed");

    assert_int_equal(s_delete(env, &s_who, id), 0);
    zn_vol_t gone;
    assert_int_equal(zn_volops_get(env->ops, &s_who, id, &gone, &fault), -ENOENT);
    assert_int_not_equal(stat(conn.path, &st), 0);
    s_usage(env, 0, 0);
    s_reset(&created);
    s_reset(&updated);
    zn_free(id);
}

static void
test_volops_bad_size(void **state)
{
    s_env_t *env = *state;
    zn_fault_t fault;
    const int64_t sizes[] = {0, -1, 7};
    for (size_t i = 0; i < 3; i++) {
        zn_volops_create_t req = {.size_gb = sizes[i]};
        assert_int_equal(zn_volops_create(env->ops, NULL, &s_who, &req, s_done, NULL, &fault),
                         -EINVAL);
        assert_non_null(strstr(fault.message, "between 1 and 6"));
    }
    assert_int_equal(zn_volops_pending(env->ops), 0);
}

static void
test_volops_quota(void **state)
{
    s_env_t *env = *state;
    s_result_t results[4] = {0};
    assert_int_equal(s_create(env, &s_who, 5, &results[0]), 0);
    assert_int_equal(s_create(env, &s_who, 4, &results[1]), ZN_EQUOTA);
    assert_non_null(strstr(results[1].message, "gigabytes quota"));
    assert_int_equal(s_create(env, &s_who, 2, &results[1]), 0);
    assert_int_equal(s_create(env, &s_who, 1, &results[2]), 0);
    assert_int_equal(s_create(env, &s_who, 1, &results[3]), ZN_EQUOTA);
    assert_non_null(strstr(results[3].message, "quota 'volumes'"));
    s_usage(env, 3, 8);
    /* Another project has its own quota. */
    s_result_t other = {0};
    assert_int_equal(s_create(env, &s_other, 5, &other), 0);
    for (size_t i = 0; i < 3; i++) {
        s_await_status(env, results[i].vol.id, "available");
        assert_int_equal(s_delete(env, &s_who, results[i].vol.id), 0);
        s_reset(&results[i]);
    }
    s_usage(env, 0, 0);
    s_reset(&results[3]);
    s_reset(&other);
}

/* Six creates at once against a quota of three volumes: the usage record's generation lets
 * exactly three through. */
static void
test_volops_quota_concurrent(void **state)
{
    s_env_t *env = *state;

    enum {
        N = 6
    };

    s_result_t results[N];
    s_result_t *pointers[N];
    memset(results, 0, sizeof(results));
    zn_fault_t fault;
    for (size_t i = 0; i < N; i++) {
        pointers[i] = &results[i];
        zn_volops_create_t req = {.size_gb = 1};
        assert_int_equal(
            zn_volops_create(env->ops, NULL, &s_who, &req, s_done, &results[i], &fault), 0);
    }
    s_wait_all(env, pointers, N);
    size_t won = 0;
    for (size_t i = 0; i < N; i++) {
        assert_true(results[i].code == 0 || results[i].code == ZN_EQUOTA);
        won += results[i].code == 0;
    }
    assert_int_equal(won, 3);
    s_usage(env, 3, 3);
    for (size_t i = 0; i < N; i++) {
        if (results[i].code == 0) {
            s_await_status(env, results[i].vol.id, "available");
            assert_int_equal(s_delete(env, &s_who, results[i].vol.id), 0);
        }
        s_reset(&results[i]);
    }
}

/* Many creates in one project at once, then as many deletes: this agent queues them behind
 * the project's usage record and commits those waiting together as one batch, so none loses a
 * generation race and the usage comes out exact. */
static void
test_volops_many_creates(void **state)
{
    s_env_t *env = *state;

    enum {
        N = 200
    };

    s_result_t *results = zn_calloc(N, sizeof(*results));
    s_result_t **pointers = zn_calloc(N, sizeof(*pointers));
    zn_fault_t fault;
    for (size_t i = 0; i < N; i++) {
        pointers[i] = &results[i];
        zn_volops_create_t req = {.size_gb = 1 + (int64_t)(i % 3)};
        assert_int_equal(
            zn_volops_create(env->ops, NULL, &s_who, &req, s_done, &results[i], &fault), 0);
    }
    s_wait_all(env, pointers, N);
    int64_t gigabytes = 0;
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(results[i].code, 0);
        gigabytes += results[i].vol.size_gb;
    }
    s_usage(env, N, gigabytes);
    /* And all deleted at once: their last steps share batches too. */
    s_result_t *deleted = zn_calloc(N, sizeof(*deleted));
    s_result_t **waiting = zn_calloc(N, sizeof(*waiting));
    for (size_t i = 0; i < N; i++) {
        s_await_status(env, results[i].vol.id, "available");
        waiting[i] = &deleted[i];
        assert_int_equal(zn_volops_delete(env->ops, NULL, &s_who, results[i].vol.id, s_done,
                                          &deleted[i], &fault),
                         0);
    }
    s_wait_all(env, waiting, N);
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(deleted[i].code, 0);
        s_reset(&deleted[i]);
        s_reset(&results[i]);
    }
    s_usage(env, 0, 0);
    zn_free(deleted);
    zn_free(waiting);
    zn_free(results);
    zn_free(pointers);
}

/* Two agents (two zn_volops on one store, as two volume nodes would be) create in one project
 * at once against a quota of three: their batches meet the usage record's generation check,
 * the losers re-read and re-decide, and exactly three volumes exist afterwards. */
static void
test_volops_two_agents(void **state)
{
    s_env_t *env = *state;
    char *dir = zn_asprintf("%s/second", env->dir);
    zn_vbackend_opts_t bopts = {.driver = "file", .dir = dir, .format = "raw"};
    zn_vbackend_t *backend = NULL;
    zn_fault_t fault;
    assert_int_equal(zn_vbackend_open(&backend, &bopts, &fault), 0);
    assert_int_equal(zn_vbackend_attach(backend, env->loop), 0);
    zn_volops_opts_t opts = {.sc = env->sc,
                             .backend = backend,
                             .loop = env->loop,
                             .host = "vol-node-2",
                             .quota_volumes = 3,
                             .quota_gigabytes = 8,
                             .max_size_gb = 6};
    zn_volops_t *second = zn_volops_new(&opts);

    enum {
        N = 6
    };

    s_result_t results[N];
    s_result_t *pointers[N];
    memset(results, 0, sizeof(results));
    for (size_t i = 0; i < N; i++) {
        pointers[i] = &results[i];
        zn_volops_create_t req = {.size_gb = 1};
        assert_int_equal(zn_volops_create(i % 2 == 0 ? env->ops : second, NULL, &s_who, &req,
                                          s_done, &results[i], &fault),
                         0);
    }
    s_wait_all(env, pointers, N);
    size_t won = 0;
    for (size_t i = 0; i < N; i++) {
        assert_true(results[i].code == 0 || results[i].code == ZN_EQUOTA);
        won += results[i].code == 0;
    }
    assert_int_equal(won, 3);
    s_usage(env, 3, 3);
    for (size_t i = 0; i < N; i++) {
        if (results[i].code == 0) {
            s_await_status(env, results[i].vol.id, "available");
        }
        s_reset(&results[i]);
    }
    /* Its last status writes may still be answering: let them, before it goes. */
    int64_t deadline = zn_clock_mono_ms() + 10000;
    while (zn_volops_pending(second) > 0 && zn_clock_mono_ms() < deadline) {
        (void)zloop_timer(env->loop, 2, 1, s_check_done, &(s_waiting_t){NULL, 0, 0});
        (void)zloop_start(env->loop);
    }
    assert_int_equal(zn_volops_pending(second), 0);
    zn_volops_shutdown(second);
    zn_volops_destroy(&second);
    zn_vbackend_destroy(&backend);
    zn_free(dir);
}

static void
test_volops_attach_detach(void **state)
{
    s_env_t *env = *state;
    s_result_t created = {0};
    assert_int_equal(s_create(env, &s_who, 1, &created), 0);
    const char *id = created.vol.id;
    s_await_status(env, id, "available");
    s_result_t first = {0};
    assert_int_equal(s_attach(env, &s_who, id, "inst-a", &first), 0);
    assert_string_equal(first.vol.status, "in-use");
    assert_string_equal(first.vol.instance_id, "inst-a");
    assert_string_equal(first.vol.attach_host, "cmp1");
    assert_non_null(first.vol.attachment_id);
    s_result_t again = {0};
    assert_int_equal(s_attach(env, &s_who, id, "inst-a", &again), 0); /* idempotent */
    assert_string_equal(again.vol.attachment_id, first.vol.attachment_id);
    assert_int_equal(s_attach(env, &s_who, id, "inst-b", &again), ZN_ECONFLICT);
    assert_int_equal(s_attach(env, &s_other, id, "inst-a", &again), -ENOENT);
    assert_int_equal(s_delete(env, &s_who, id), -EINVAL);
    assert_int_equal(s_detach(env, id, "inst-b"), 0); /* not its volume: nothing happens */
    zn_vol_t vol;
    zn_fault_t fault;
    assert_int_equal(zn_volops_get(env->ops, &s_who, id, &vol, &fault), 0);
    assert_string_equal(vol.status, "in-use");
    zn_schema_release(&zn_vol_schema, &vol);
    assert_int_equal(s_detach(env, id, "inst-a"), 0);
    assert_int_equal(zn_volops_get(env->ops, &s_who, id, &vol, &fault), 0);
    assert_string_equal(vol.status, "available");
    assert_null(vol.instance_id);
    assert_null(vol.attachment_id);
    zn_schema_release(&zn_vol_schema, &vol);
    assert_int_equal(s_detach(env, id, "inst-a"), 0); /* idempotent */
    assert_int_equal(s_delete(env, &s_who, id), 0);
    assert_int_equal(s_attach(env, &s_who, id, "inst-a", &again), -ENOENT);
    s_reset(&created);
    s_reset(&first);
    s_reset(&again);
}

/* Two instances attach one volume at the same moment: exactly one wins. */
static void
test_volops_attach_race(void **state)
{
    s_env_t *env = *state;
    s_result_t created = {0};
    assert_int_equal(s_create(env, &s_who, 1, &created), 0);
    const char *id = created.vol.id;
    s_await_status(env, id, "available");
    for (int round = 0; round < 5; round++) {
        s_result_t a = {0};
        s_result_t b = {0};
        zn_fault_t fault;
        assert_int_equal(
            zn_volops_attach(env->ops, NULL, &s_who, id, "inst-a", "h1", NULL, s_done, &a, &fault),
            0);
        assert_int_equal(
            zn_volops_attach(env->ops, NULL, &s_who, id, "inst-b", "h2", NULL, s_done, &b, &fault),
            0);
        s_result_t *both[] = {&a, &b};
        s_wait_all(env, both, 2);
        assert_true((a.code == 0) != (b.code == 0));
        s_result_t *winner = a.code == 0 ? &a : &b;
        s_result_t *loser = a.code == 0 ? &b : &a;
        assert_int_equal(loser->code, ZN_ECONFLICT);
        zn_vol_t vol;
        assert_int_equal(zn_volops_get(env->ops, &s_who, id, &vol, &fault), 0);
        assert_string_equal(vol.status, "in-use");
        assert_string_equal(vol.instance_id, winner->vol.instance_id);
        assert_int_equal(s_detach(env, id, vol.instance_id), 0);
        zn_schema_release(&zn_vol_schema, &vol);
        s_reset(&a);
        s_reset(&b);
    }
    assert_int_equal(s_delete(env, &s_who, id), 0);
    s_reset(&created);
}

static void
test_volops_projects(void **state)
{
    s_env_t *env = *state;
    s_result_t created = {0};
    assert_int_equal(s_create(env, &s_who, 1, &created), 0);
    const char *id = created.vol.id;
    s_await_status(env, id, "available");
    zn_vol_t vol;
    zn_fault_t fault;
    assert_int_equal(zn_volops_get(env->ops, &s_other, id, &vol, &fault), -ENOENT);
    assert_non_null(strstr(fault.message, "could not be found"));
    assert_int_equal(s_delete(env, &s_other, id), -ENOENT);
    assert_int_equal(zn_volops_get(env->ops, &s_admin, id, &vol, &fault), 0);
    zn_schema_release(&zn_vol_schema, &vol);
    /* Lists: the project's own, or every project's. */
    s_result_t other = {0};
    assert_int_equal(s_create(env, &s_other, 1, &other), 0);
    zn_vol_t *vols = NULL;
    size_t count = 0;
    bool more = false;
    zn_volops_query_t query = {.project_id = S_PROJECT, .limit = 10};
    assert_int_equal(zn_volops_list(env->ops, &query, &vols, &count, &more, &fault), 0);
    assert_int_equal(count, 1);
    assert_string_equal(vols[0].id, id);
    zn_volops_list_free(&vols, count);
    query.project_id = NULL;
    query.limit = 1;
    assert_int_equal(zn_volops_list(env->ops, &query, &vols, &count, &more, &fault), 0);
    assert_int_equal(count, 1);
    assert_true(more);
    query.marker = vols[0].id;
    zn_vol_t *rest = NULL;
    size_t rest_count = 0;
    assert_int_equal(zn_volops_list(env->ops, &query, &rest, &rest_count, &more, &fault), 0);
    assert_int_equal(rest_count, 1);
    assert_false(more);
    assert_string_not_equal(rest[0].id, vols[0].id);
    zn_volops_list_free(&rest, rest_count);
    zn_volops_list_free(&vols, count);
    query.marker = "no-such-volume";
    assert_int_equal(zn_volops_list(env->ops, &query, &vols, &count, &more, &fault), -ENOENT);
    s_await_status(env, other.vol.id, "available");
    assert_int_equal(s_delete(env, &s_admin, other.vol.id), 0);
    assert_int_equal(s_delete(env, &s_who, id), 0);
    s_reset(&created);
    s_reset(&other);
}

static void
test_volops_extend(void **state)
{
    s_env_t *env = *state;
    s_result_t created = {0};
    assert_int_equal(s_create(env, &s_who, 1, &created), 0);
    const char *id = created.vol.id;
    s_await_status(env, id, "available");
    s_result_t result = {0};
    zn_fault_t fault;
    assert_int_equal(zn_volops_extend(env->ops, NULL, &s_who, id, 3, s_done, &result, &fault), 0);
    s_wait(env, &result);
    assert_int_equal(result.code, 0);
    assert_int_equal(result.vol.size_gb, 3);
    assert_string_equal(result.vol.status, "available");
    s_usage(env, 1, 3);
    zn_vbackend_conn_t conn;
    assert_int_equal(zn_volops_connection(env->ops, &result.vol, &conn, &fault), 0);
    struct stat st;
    assert_int_equal(stat(conn.path, &st), 0);
    assert_int_equal(st.st_size, 3 * ZN_VBACKEND_GB);
    s_reset(&result);
    assert_int_equal(zn_volops_extend(env->ops, NULL, &s_who, id, 2, s_done, &result, &fault), 0);
    s_wait(env, &result);
    assert_int_equal(result.code, -EINVAL);
    s_reset(&result);
    assert_int_equal(zn_volops_extend(env->ops, NULL, &s_who, id, 6, s_done, &result, &fault), 0);
    s_wait(env, &result);
    assert_int_equal(result.code, 0);
    s_usage(env, 1, 6);
    s_reset(&result);
    /* Over quota: 6 in use, 8 allowed. */
    s_result_t second = {0};
    assert_int_equal(s_create(env, &s_who, 2, &second), 0);
    s_await_status(env, second.vol.id, "available");
    assert_int_equal(
        zn_volops_extend(env->ops, NULL, &s_who, second.vol.id, 3, s_done, &result, &fault), 0);
    s_wait(env, &result);
    assert_int_equal(result.code, ZN_EQUOTA);
    s_reset(&result);
    /* In use: refused. */
    s_result_t attached = {0};
    assert_int_equal(s_attach(env, &s_who, id, "inst-a", &attached), 0);
    assert_int_equal(zn_volops_extend(env->ops, NULL, &s_who, id, 5, s_done, &result, &fault), 0);
    s_wait(env, &result);
    assert_int_equal(result.code, -EINVAL);
    assert_int_equal(s_detach(env, id, "inst-a"), 0);
    assert_int_equal(s_delete(env, &s_who, id), 0);
    assert_int_equal(s_delete(env, &s_who, second.vol.id), 0);
    s_usage(env, 0, 0);
    s_reset(&result);
    s_reset(&created);
    s_reset(&second);
    s_reset(&attached);
}

static void
test_volops_backend_failures(void **state)
{
    s_env_t *env = *state;
#ifndef ZN_ENABLE_FAILPOINTS
    (void)env;
    skip(); /* failpoints are compiled out of release builds */
#endif
    zn_failpoint_set("volume.backend_create", -EIO, 1);
    s_result_t created = {0};
    assert_int_equal(s_create(env, &s_who, 1, &created), 0);
    const char *id = created.vol.id;
    s_await_status(env, id, "error");
    zn_vol_t vol;
    zn_fault_t fault;
    assert_int_equal(zn_volops_get(env->ops, &s_who, id, &vol, &fault), 0);
    assert_non_null(strstr(vol.error, "injected"));
    zn_schema_release(&zn_vol_schema, &vol);
    s_usage(env, 1, 1); /* an error volume still counts until deleted, as in Cinder */
    zn_failpoint_set("volume.backend_remove", -EIO, 1);
    assert_int_equal(s_delete(env, &s_who, id), -EIO);
    assert_int_equal(zn_volops_get(env->ops, &s_who, id, &vol, &fault), 0);
    assert_string_equal(vol.status, "error_deleting");
    zn_schema_release(&zn_vol_schema, &vol);
    assert_int_equal(s_delete(env, &s_who, id), 0);
    s_usage(env, 0, 0);
    /* A failed extend gives the gigabytes back. */
    s_result_t second = {0};
    assert_int_equal(s_create(env, &s_who, 1, &second), 0);
    s_await_status(env, second.vol.id, "available");
    zn_failpoint_set("volume.backend_extend", -EIO, 1);
    s_result_t result = {0};
    assert_int_equal(
        zn_volops_extend(env->ops, NULL, &s_who, second.vol.id, 2, s_done, &result, &fault), 0);
    s_wait(env, &result);
    assert_int_equal(result.code, -EIO);
    s_usage(env, 1, 1);
    assert_int_equal(zn_volops_get(env->ops, &s_who, second.vol.id, &vol, &fault), 0);
    assert_string_equal(vol.status, "error_extending");
    zn_schema_release(&zn_vol_schema, &vol);
    assert_int_equal(s_delete(env, &s_who, second.vol.id), 0);
    s_usage(env, 0, 0);
    s_reset(&created);
    s_reset(&second);
    s_reset(&result);
}

/* Put VOL (as a crashed agent left it) and PROJECT's usage straight into the store. */
static void
s_plant(s_env_t *env, const zn_vol_t *vol, int64_t volumes, int64_t gigabytes)
{
    zn_batch_t *batch = zn_batch_new();
    assert_int_equal(
        zn_sclient_put(batch, "volumes", vol->id, &zn_vol_schema, vol, ZN_BATCH_GEN_ABSENT), 0);
    char key[ZN_VOLREC_USAGE_KEY_MAX];
    zn_volrec_usage_key(S_PROJECT, key);
    zn_vol_usage_t usage = {
        .project = (char *)(uintptr_t)S_PROJECT, .volumes = volumes, .gigabytes = gigabytes};
    assert_int_equal(
        zn_sclient_put(batch, "volumes", key, &zn_vol_usage_schema, &usage, ZN_BATCH_GEN_ANY), 0);
    zn_fault_t fault;
    assert_int_equal(zn_sclient_write_sync(env->sc, NULL, batch, 5000, &fault), 0);
    zn_batch_destroy(&batch);
}

/* After a restart: this host's volumes left "creating" get their file and become available,
 * those left "deleting" go with their quota; another host's are not touched. */
static void
test_volops_recover(void **state)
{
    s_env_t *env = *state;
    char *ids[] = {zn_strdup("11111111-1111-4111-8111-111111111111"),
                   zn_strdup("22222222-2222-4222-8222-222222222222"),
                   zn_strdup("33333333-3333-4333-8333-333333333333")};
    char *hosts[] = {zn_strdup("vol-node"), zn_strdup("vol-node"), zn_strdup("elsewhere")};
    char *statuses[] = {zn_strdup("creating"), zn_strdup("deleting"), zn_strdup("creating")};
    for (int i = 0; i < 3; i++) {
        zn_vol_t vol = {.id = ids[i],
                        .project_id = (char *)(uintptr_t)S_PROJECT,
                        .size_gb = 1 + i,
                        .status = statuses[i],
                        .volume_host = hosts[i],
                        .format = (char *)(uintptr_t) "raw"};
        s_plant(env, &vol, i + 1, (i + 1) * (i + 2) / 2);
    }
    zn_fault_t fault;
    assert_int_equal(zn_volops_recover(env->ops, zn_clock_wall_ms() + 1, &fault), 2);
    s_await_status(env, ids[0], "available");
    int64_t deadline = zn_clock_mono_ms() + 10000;
    zn_vol_t vol;
    while (zn_volops_get(env->ops, &s_admin, ids[1], &vol, &fault) == 0) {
        zn_schema_release(&zn_vol_schema, &vol);
        assert_true(zn_clock_mono_ms() < deadline);
        (void)zloop_timer(env->loop, 2, 1, s_check_done, &(s_waiting_t){NULL, 0, 0});
        (void)zloop_start(env->loop);
    }
    s_usage(env, 2, 4); /* 3 volumes of 1+2+3 GiB planted; the 2 GiB one is gone */
    assert_int_equal(zn_volops_get(env->ops, &s_admin, ids[2], &vol, &fault), 0);
    assert_string_equal(vol.status, "creating");
    zn_schema_release(&zn_vol_schema, &vol);
    assert_int_equal(zn_volops_recover(env->ops, zn_clock_wall_ms() + 1, &fault), 0);
    for (int i = 0; i < 3; i++) {
        zn_free(ids[i]);
        zn_free(hosts[i]);
        zn_free(statuses[i]);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_volops_example, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_volops_bad_size, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_volops_quota, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_volops_quota_concurrent, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_volops_many_creates, s_setup_roomy, s_teardown),
        cmocka_unit_test_setup_teardown(test_volops_two_agents, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_volops_attach_detach, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_volops_attach_race, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_volops_projects, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_volops_extend, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_volops_backend_failures, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_volops_recover, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
