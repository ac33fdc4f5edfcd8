/* SPDX-License-Identifier: Apache-2.0 */
/* test_inst.c - the conductor's instance methods against a real conductor and store: taking a
 * build, progress, success, failure with the claim given back, the watchdog ending a build no
 * compute agent took up, power sync, deletes, and the host checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cond_fixture.h"
#include "zn_cellrec.h"
#include "zn_client.h"
#include "zn_mem.h"
#include "zn_mp.h"
#include "zn_sclient.h"
#include "zn_tables.h"

/* A literal where a record field is a char * (the records are only read). */
#define S_C(text) ((char *)(uintptr_t)(text))

typedef struct {
    cond_fixture_t *fix;
    zn_sclient_t *sc;
    zn_client_t *client;
} s_env_t;

static const char *const s_settings[] = {"build.take_timeout_ms=300",
                                         "build.watchdog_interval_ms=50", NULL};

static int
s_setup(void **state)
{
    s_env_t *env = zn_calloc(1, sizeof(*env));
    env->fix = cond_fixture_start(s_settings);
    zn_fault_t fault;
    zn_sclient_opts_t sopts = {.data_dir = cond_fixture_store_dir(env->fix),
                               .conductor_call = cond_fixture_call(env->fix)};
    assert_int_equal(zn_sclient_open(&env->sc, &sopts, &fault), 0);
    const char *endpoints[] = {cond_fixture_call(env->fix)};
    zn_client_opts_t copts = {.name = "conductor", .endpoints = endpoints, .endpoint_count = 1};
    assert_int_equal(zn_client_open(&env->client, &copts, &fault), 0);
    *state = env;
    return 0;
}

static int
s_teardown(void **state)
{
    s_env_t *env = *state;
    zn_client_destroy(&env->client);
    zn_sclient_destroy(&env->sc);
    cond_fixture_stop(&env->fix);
    zn_free(env);
    return 0;
}

/* Write a building instance ID on HOST with a claim of 2 vCPUs there, and quota usage. */
static void
s_seed(s_env_t *env, const char *id, const char *host)
{
    zn_cell_instance_t inst = {
        .id = (char *)(uintptr_t)id,
        .name = S_C("vm"),
        .project_id = S_C("p1"),
        .user_id = S_C("u1"),
        .request_id = S_C("req-test"),
        .host = (char *)(uintptr_t)host,
        .vm_state = S_C("building"),
        .task_state = S_C("scheduling"),
        .flavor = {.id = S_C("f1"), .name = S_C("small"), .vcpus = 2, .ram_mb = 512, .disk_gb = 1},
        .attempt = 1,
        .event_seq = 1,
        .task_deadline_ms = 0,
    };
    zn_cell_claim_t claim = {.instance_id = (char *)(uintptr_t)id,
                             .host = (char *)(uintptr_t)host,
                             .vcpus = 2,
                             .ram_mb = 512,
                             .disk_gb = 1};
    zn_cell_usage_t usage = {.host = (char *)(uintptr_t)host,
                             .vcpus_used = 2,
                             .ram_mb_used = 512,
                             .disk_gb_used = 1,
                             .instances = 1};
    zn_cell_quota_t quota = {.project_id = S_C("p1"), .instances = 1, .cores = 2, .ram_mb = 512};
    zn_cell_event_t ev = {.instance_id = (char *)(uintptr_t)id,
                          .action = S_C("create"),
                          .request_id = S_C("req-test"),
                          .start_ms = 1};
    char key[ZN_CELLREC_EVENT_KEY_MAX];
    zn_cellrec_event_key(id, 1, key);
    zn_batch_t *batch = zn_batch_new();
    assert_int_equal(zn_sclient_put(batch, ZN_TABLE_INSTANCES, id, &zn_cell_instance_schema, &inst,
                                    ZN_BATCH_GEN_ANY),
                     0);
    assert_int_equal(
        zn_sclient_put(batch, ZN_TABLE_CLAIMS, id, &zn_cell_claim_schema, &claim, ZN_BATCH_GEN_ANY),
        0);
    assert_int_equal(zn_sclient_put(batch, ZN_TABLE_HOST_USAGE, host, &zn_cell_usage_schema, &usage,
                                    ZN_BATCH_GEN_ANY),
                     0);
    assert_int_equal(zn_sclient_put(batch, ZN_TABLE_QUOTA_USAGE, "p1", &zn_cell_quota_schema,
                                    &quota, ZN_BATCH_GEN_ANY),
                     0);
    assert_int_equal(zn_sclient_put(batch, ZN_TABLE_INSTANCE_EVENTS, key, &zn_cell_event_schema,
                                    &ev, ZN_BATCH_GEN_ANY),
                     0);
    zn_fault_t fault;
    assert_int_equal(zn_sclient_write_sync(env->sc, NULL, batch, 5000, &fault), 0);
    zn_batch_destroy(&batch);
}

/* Call METHOD with BODY (built by the caller into PACK); returns the code, *out the reply. */
static int
s_call(s_env_t *env, const char *method, zn_pack_t *pack, zn_reply_t **out)
{
    zn_fault_t fault;
    zn_reply_t *reply = NULL;
    int rc =
        zn_client_call_sync(env->client, method, NULL, zn_pack_buf(pack), 5000, &reply, &fault);
    zn_pack_reset(pack);
    if (out != NULL) {
        *out = reply;
    } else {
        zn_reply_destroy(&reply);
    }
    return rc;
}

static void
s_kv(zn_pack_t *p, const char *k, const char *v)
{
    zn_pack_str(p, k);
    zn_pack_str(p, v);
}

static int
s_read_instance(s_env_t *env, const char *id, zn_cell_instance_t *out)
{
    zn_store_read_t *txn = NULL;
    zn_fault_t fault;
    assert_int_equal(zn_sclient_read_begin(env->sc, &txn, &fault), 0);
    int rc = zn_sclient_get(txn, zn_sclient_table(env->sc, ZN_TABLE_INSTANCES), id,
                            &zn_cell_instance_schema, out, NULL, &fault);
    zn_store_read_end(&txn);
    return rc;
}

static int64_t
s_vcpus_used(s_env_t *env, const char *host)
{
    zn_store_read_t *txn = NULL;
    zn_fault_t fault;
    zn_cell_usage_t usage;
    assert_int_equal(zn_sclient_read_begin(env->sc, &txn, &fault), 0);
    assert_int_equal(zn_sclient_get(txn, zn_sclient_table(env->sc, ZN_TABLE_HOST_USAGE), host,
                                    &zn_cell_usage_schema, &usage, NULL, &fault),
                     0);
    zn_store_read_end(&txn);
    int64_t used = usage.vcpus_used;
    zn_schema_release(&zn_cell_usage_schema, &usage);
    return used;
}

static void
test_build_success(void **state)
{
    s_env_t *env = *state;
    s_seed(env, "i-ok", "h1");
    zn_pack_t *p = zn_pack_new();
    zn_reply_t *reply = NULL;

    /* Another host may not take it. */
    zn_pack_map(p, 3);
    s_kv(p, "instance_id", "i-ok");
    s_kv(p, "host", "h2");
    zn_pack_str(p, "take");
    zn_pack_bool(p, true);
    assert_int_equal(s_call(env, "instance_get", p, NULL), ZN_ECONFLICT);

    zn_pack_map(p, 3);
    s_kv(p, "instance_id", "i-ok");
    s_kv(p, "host", "h1");
    zn_pack_str(p, "take");
    zn_pack_bool(p, true);
    assert_int_equal(s_call(env, "instance_get", p, &reply), 0);
    zn_cell_instance_t got;
    zn_fault_t fault;
    assert_int_equal(
        zn_schema_decode(&zn_cell_instance_schema, zn_reply_env(reply)->body, &got, NULL, &fault),
        0);
    assert_string_equal(got.task_state, "networking");
    assert_true(got.task_taken);
    assert_int_equal(got.flavor.vcpus, 2);
    zn_schema_release(&zn_cell_instance_schema, &got);
    zn_reply_destroy(&reply);

    zn_pack_map(p, 3);
    s_kv(p, "instance_id", "i-ok");
    s_kv(p, "host", "h1");
    s_kv(p, "task_state", "spawning");
    assert_int_equal(s_call(env, "instance_update", p, NULL), 0);
    /* A build step cannot jump to a lifecycle task. */
    zn_pack_map(p, 3);
    s_kv(p, "instance_id", "i-ok");
    s_kv(p, "host", "h1");
    s_kv(p, "task_state", "rebooting");
    assert_int_equal(s_call(env, "instance_update", p, NULL), ZN_ECONFLICT);

    zn_pack_map(p, 4);
    s_kv(p, "instance_id", "i-ok");
    s_kv(p, "host", "h1");
    zn_pack_str(p, "ok");
    zn_pack_bool(p, true);
    zn_pack_str(p, "ports");
    zn_pack_array(p, 1);
    zn_pack_map(p, 3);
    s_kv(p, "port_id", "port-1");
    s_kv(p, "mac", "fa:16:3e:00:00:01");
    s_kv(p, "ip", "10.0.0.5");
    assert_int_equal(s_call(env, "build_result", p, NULL), 0);

    zn_cell_instance_t inst;
    assert_int_equal(s_read_instance(env, "i-ok", &inst), 0);
    assert_string_equal(inst.vm_state, "active");
    assert_null(inst.task_state);
    assert_int_equal(inst.power_state, ZN_POWER_RUNNING);
    assert_string_equal(inst.access_ipv4, "10.0.0.5");
    assert_int_equal(inst.nic_count, 1);
    assert_string_equal(inst.nics[0].mac, "fa:16:3e:00:00:01");
    zn_schema_release(&zn_cell_instance_schema, &inst);

    /* The power sync finds it shut off behind zinc's back. */
    zn_pack_map(p, 2);
    s_kv(p, "host", "h1");
    zn_pack_str(p, "instances");
    zn_pack_array(p, 1);
    zn_pack_map(p, 2);
    s_kv(p, "instance_id", "i-ok");
    zn_pack_str(p, "power_state");
    zn_pack_i64(p, ZN_POWER_SHUTDOWN);
    assert_int_equal(s_call(env, "power_report", p, NULL), 0);
    for (int i = 0; i < 50; i++) {
        assert_int_equal(s_read_instance(env, "i-ok", &inst), 0);
        bool stopped = strcmp(inst.vm_state, "stopped") == 0;
        zn_schema_release(&zn_cell_instance_schema, &inst);
        if (stopped) {
            break;
        }
        zclock_sleep(20);
    }
    assert_int_equal(s_read_instance(env, "i-ok", &inst), 0);
    assert_string_equal(inst.vm_state, "stopped");
    assert_int_equal(inst.power_state, ZN_POWER_SHUTDOWN);
    zn_schema_release(&zn_cell_instance_schema, &inst);

    zn_pack_map(p, 1);
    s_kv(p, "host", "h1");
    assert_int_equal(s_call(env, "host_instances", p, &reply), 0);
    assert_non_null(
        memmem(zn_reply_env(reply)->body.ptr, zn_reply_env(reply)->body.len, "i-ok", 4));
    zn_reply_destroy(&reply);

    /* Deleted by its host: record, claim and quota go. */
    zn_pack_map(p, 2);
    s_kv(p, "instance_id", "i-ok");
    s_kv(p, "host", "h2");
    assert_int_equal(s_call(env, "delete_done", p, NULL), ZN_ECONFLICT);
    zn_pack_map(p, 2);
    s_kv(p, "instance_id", "i-ok");
    s_kv(p, "host", "h1");
    assert_int_equal(s_call(env, "delete_done", p, NULL), 0);
    assert_int_equal(s_read_instance(env, "i-ok", &inst), -ENOENT);
    assert_int_equal(s_vcpus_used(env, "h1"), 0);
    zn_pack_destroy(&p);
}

static void
test_build_failure_releases_claim(void **state)
{
    s_env_t *env = *state;
    s_seed(env, "i-bad", "h3");
    assert_int_equal(s_vcpus_used(env, "h3"), 2);
    zn_pack_t *p = zn_pack_new();
    zn_pack_map(p, 6);
    s_kv(p, "instance_id", "i-bad");
    s_kv(p, "host", "h3");
    zn_pack_str(p, "ok");
    zn_pack_bool(p, false);
    s_kv(p, "step", "image");
    s_kv(p, "message", "checksum mismatch");
    zn_pack_str(p, "reschedule");
    zn_pack_bool(p, false);
    assert_int_equal(s_call(env, "build_result", p, NULL), 0);
    zn_cell_instance_t inst;
    assert_int_equal(s_read_instance(env, "i-bad", &inst), 0);
    assert_string_equal(inst.vm_state, "error");
    assert_non_null(strstr(inst.fault.message, "step image on host h3: checksum mismatch"));
    zn_schema_release(&zn_cell_instance_schema, &inst);
    assert_int_equal(s_vcpus_used(env, "h3"), 0);

    /* A reschedulable failure with no scheduler configured also ends in ERROR, and says so. */
    s_seed(env, "i-host", "h4");
    zn_pack_map(p, 6);
    s_kv(p, "instance_id", "i-host");
    s_kv(p, "host", "h4");
    zn_pack_str(p, "ok");
    zn_pack_bool(p, false);
    s_kv(p, "step", "spawn");
    s_kv(p, "message", "libvirt define failed");
    zn_pack_str(p, "reschedule");
    zn_pack_bool(p, true);
    assert_int_equal(s_call(env, "build_result", p, NULL), 0);
    assert_int_equal(s_read_instance(env, "i-host", &inst), 0);
    assert_string_equal(inst.vm_state, "error");
    assert_non_null(strstr(inst.fault.message, "no more hosts to try"));
    assert_int_equal(inst.tried_host_count, 1);
    zn_schema_release(&zn_cell_instance_schema, &inst);
    assert_int_equal(s_vcpus_used(env, "h4"), 0);
    zn_pack_destroy(&p);
}

static void
test_watchdog_ends_untaken_build(void **state)
{
    s_env_t *env = *state;
    s_seed(env, "i-lost", "h5");
    /* Give it a deadline that has passed: no compute agent ever took it up. */
    zn_cell_instance_t inst;
    assert_int_equal(s_read_instance(env, "i-lost", &inst), 0);
    inst.task_deadline_ms = 1;
    zn_batch_t *batch = zn_batch_new();
    assert_int_equal(zn_sclient_put(batch, ZN_TABLE_INSTANCES, "i-lost", &zn_cell_instance_schema,
                                    &inst, ZN_BATCH_GEN_ANY),
                     0);
    zn_schema_release(&zn_cell_instance_schema, &inst);
    zn_fault_t fault;
    assert_int_equal(zn_sclient_write_sync(env->sc, NULL, batch, 5000, &fault), 0);
    zn_batch_destroy(&batch);
    bool done = false;
    for (int i = 0; i < 100 && !done; i++) {
        zclock_sleep(20);
        assert_int_equal(s_read_instance(env, "i-lost", &inst), 0);
        done = strcmp(inst.vm_state, "error") == 0;
        if (done) {
            assert_non_null(strstr(inst.fault.message, "did not take up the build"));
        }
        zn_schema_release(&zn_cell_instance_schema, &inst);
    }
    assert_true(done);
    assert_int_equal(s_vcpus_used(env, "h5"), 0);
}

#define S_STORM 200

/* S_STORM building instances of project p2 on host hs, their claims, and the usage they add up
 * to, in one batch. */
static void
s_seed_storm(s_env_t *env)
{
    zn_batch_t *batch = zn_batch_new();
    for (int i = 0; i < S_STORM; i++) {
        char id[32];
        (void)snprintf(id, sizeof(id), "storm-%03d", i);
        zn_cell_instance_t inst = {
            .id = id,
            .name = S_C("vm"),
            .project_id = S_C("p2"),
            .user_id = S_C("u1"),
            .host = S_C("hs"),
            .vm_state = S_C("active"),
            .flavor = {.id = S_C("f1"), .name = S_C("s"), .vcpus = 1, .ram_mb = 64, .disk_gb = 1},
            .attempt = 1,
        };
        zn_cell_claim_t claim = {
            .instance_id = id, .host = S_C("hs"), .vcpus = 1, .ram_mb = 64, .disk_gb = 1};
        assert_int_equal(zn_sclient_put(batch, ZN_TABLE_INSTANCES, id, &zn_cell_instance_schema,
                                        &inst, ZN_BATCH_GEN_ANY),
                         0);
        assert_int_equal(zn_sclient_put(batch, ZN_TABLE_CLAIMS, id, &zn_cell_claim_schema, &claim,
                                        ZN_BATCH_GEN_ANY),
                         0);
    }
    zn_cell_usage_t usage = {.host = S_C("hs"),
                             .vcpus_used = S_STORM,
                             .ram_mb_used = 64 * S_STORM,
                             .disk_gb_used = S_STORM,
                             .instances = S_STORM};
    zn_cell_quota_t quota = {
        .project_id = S_C("p2"), .instances = S_STORM, .cores = S_STORM, .ram_mb = 64 * S_STORM};
    assert_int_equal(zn_sclient_put(batch, ZN_TABLE_HOST_USAGE, "hs", &zn_cell_usage_schema, &usage,
                                    ZN_BATCH_GEN_ANY),
                     0);
    assert_int_equal(zn_sclient_put(batch, ZN_TABLE_QUOTA_USAGE, "p2", &zn_cell_quota_schema,
                                    &quota, ZN_BATCH_GEN_ANY),
                     0);
    zn_fault_t fault;
    assert_int_equal(zn_sclient_write_sync(env->sc, NULL, batch, 5000, &fault), 0);
    zn_batch_destroy(&batch);
}

typedef struct {
    int answered;
    int failed;
} s_storm_t;

static void
s_storm_answer(void *arg, const zn_env_t *reply, const zn_fault_t *fault)
{
    (void)reply;
    s_storm_t *storm = arg;
    storm->answered++;
    storm->failed += fault->code < 0 ? 1 : 0;
}

static int
s_storm_tick(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    const s_storm_t *storm = arg;
    return storm->answered == S_STORM ? -1 : 0;
}

/* Deletes of one project's instances on one host, all at once: each gives back the same host
 * usage and quota usage records, yet every one succeeds and the totals end at zero (they used to
 * conflict round after round until most gave up). */
static void
test_concurrent_deletes_of_one_project(void **state)
{
    s_env_t *env = *state;
    s_seed_storm(env);
    zloop_t *loop = zloop_new();
    assert_int_equal(zn_client_attach(env->client, loop), 0);
    s_storm_t storm = {0, 0};
    zn_pack_t *p = zn_pack_new();
    for (int i = 0; i < S_STORM; i++) {
        char id[32];
        (void)snprintf(id, sizeof(id), "storm-%03d", i);
        zn_pack_map(p, 2);
        s_kv(p, "instance_id", id);
        s_kv(p, "host", "hs");
        assert_int_equal(zn_client_call(env->client, "delete_done", NULL, zn_pack_buf(p), 20000,
                                        s_storm_answer, &storm),
                         0);
        zn_pack_reset(p);
    }
    zn_pack_destroy(&p);
    (void)zloop_timer(loop, 10, 0, s_storm_tick, &storm);
    (void)zloop_timer(loop, 25000, 1, s_storm_tick, &storm); /* bounded: ends the loop anyway */
    (void)zloop_start(loop);
    assert_int_equal(storm.answered, S_STORM);
    assert_int_equal(storm.failed, 0);
    assert_int_equal(s_vcpus_used(env, "hs"), 0);
    zn_cell_instance_t inst;
    assert_int_equal(s_read_instance(env, "storm-000", &inst), -ENOENT);
    zn_client_destroy(&env->client); /* detach from LOOP before it goes */
    zloop_destroy(&loop);
}

static void
test_bad_requests(void **state)
{
    s_env_t *env = *state;
    zn_pack_t *p = zn_pack_new();
    zn_pack_str(p, "not a map");
    assert_int_equal(s_call(env, "instance_get", p, NULL), -EBADMSG);
    zn_pack_map(p, 1);
    s_kv(p, "host", "h1");
    assert_int_equal(s_call(env, "build_result", p, NULL), -EINVAL);
    zn_pack_map(p, 2);
    s_kv(p, "instance_id", "nope");
    s_kv(p, "host", "h1");
    assert_int_equal(s_call(env, "instance_update", p, NULL), -ENOENT);
    zn_pack_map(p, 1);
    zn_pack_str(p, "host");
    zn_pack_i64(p, 7);
    assert_int_equal(s_call(env, "resource_report", p, NULL), -EBADMSG);
    zn_pack_destroy(&p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_success),
        cmocka_unit_test(test_build_failure_releases_claim),
        cmocka_unit_test(test_watchdog_ends_untaken_build),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_concurrent_deletes_of_one_project),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
