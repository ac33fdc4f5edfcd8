/* SPDX-License-Identifier: Apache-2.0 */
/* test_scheduler.c - zinc-scheduler against a real conductor and replicated store: a placement
 * and its claim, idempotent retries, "no valid host" words, server-group anti-affinity through
 * the store, bad bodies, and the property: 1,000 concurrent requests through 2 schedulers
 * sharing one store against tight capacity never overcommit a host, and each ends with a host or
 * ZN_ENOVALIDHOST. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <czmq.h>

#include "cond_fixture.h"
#include "zn_caster.h"
#include "zn_cellrec.h"
#include "zn_client.h"
#include "zn_failpoint.h"
#include "zn_mem.h"
#include "zn_mp.h"
#include "zn_mpread.h"
#include "zn_registry.h"
#include "zn_scheduler.h"
#include "zn_sclient.h"
#include "zn_str.h"
#include "zn_tables.h"

#define S_C(text) ((char *)(uintptr_t)(text))

/* ---- a scheduler as an actor -------------------------------------------------------------- */

typedef struct {
    zn_scheduler_cfg_t cfg;
    char call[128];
    char admin[128];
    zactor_t *actor;
} s_sched_t;

static void
s_sched_actor(zsock_t *pipe, void *arg)
{
    s_sched_t *s = arg;
    zn_scheduler_t *scheduler = NULL;
    if (zn_scheduler_open(&scheduler, &s->cfg) != 0 ||
        zn_scheduler_watch_pipe(scheduler, pipe) != 0) {
        abort();
    }
    (void)snprintf(s->call, sizeof(s->call), "%s", zn_scheduler_call_endpoint(scheduler));
    (void)snprintf(s->admin, sizeof(s->admin), "%s", zn_scheduler_admin_endpoint(scheduler));
    zsock_signal(pipe, 0);
    (void)zn_scheduler_run(scheduler);
    zn_scheduler_destroy(&scheduler);
}

static void
s_set(s_sched_t *s, const char *assignment)
{
    zn_fault_t fault;
    if (zn_cfg_apply_assignment(&s->cfg, zn_scheduler_options, assignment, &fault) != 0) {
        fail_msg("%s", fault.message);
    }
}

static s_sched_t *
s_sched_start3(const cond_fixture_t *fix, const char *extra, const char *extra2)
{
    s_sched_t *s = zn_calloc(1, sizeof(*s));
    zn_cfg_defaults(&s->cfg, zn_scheduler_options);
    const char *fixed[] = {"agent.admin_endpoint=tcp://127.0.0.1:*", "agent.log_level=warn",
                           "rpc.call_endpoint=tcp://127.0.0.1:*",    "scheduler.check_alive=false",
                           "scheduler.refresh_interval_ms=200",      "scheduler.refresh_min_ms=0"};
    for (size_t i = 0; i < ZN_ARRAY_COUNT(fixed); i++) {
        s_set(s, fixed[i]);
    }
    char *line = zn_asprintf("peers.conductor_call=%s", cond_fixture_call(fix));
    s_set(s, line);
    zn_str_free(&line);
    line = zn_asprintf("peers.conductor_cast=%s", cond_fixture_cast(fix));
    s_set(s, line);
    zn_str_free(&line);
    line = zn_asprintf("scheduler.replica_dir=%s", cond_fixture_store_dir(fix));
    s_set(s, line);
    zn_str_free(&line);
    if (extra != NULL) {
        s_set(s, extra);
    }
    if (extra2 != NULL) {
        s_set(s, extra2);
    }
    s->actor = zactor_new(s_sched_actor, s);
    return s;
}

static s_sched_t *
s_sched_start(const cond_fixture_t *fix, const char *extra)
{
    return s_sched_start3(fix, extra, NULL);
}

static void
s_sched_stop(s_sched_t **s_p)
{
    s_sched_t *s = *s_p;
    zactor_destroy(&s->actor);
    zn_cfg_release(&s->cfg, zn_scheduler_options);
    zn_free(s);
    *s_p = NULL;
}

/* ---- the environment ---------------------------------------------------------------------- */

typedef struct {
    cond_fixture_t *fix;
    zn_sclient_t *sc;
} s_env_t;

static int
s_setup(void **state)
{
    s_env_t *env = zn_calloc(1, sizeof(*env));
    env->fix = cond_fixture_start(NULL);
    zn_fault_t fault;
    zn_sclient_opts_t sopts = {.data_dir = cond_fixture_store_dir(env->fix),
                               .conductor_call = cond_fixture_call(env->fix)};
    assert_int_equal(zn_sclient_open(&env->sc, &sopts, &fault), 0);
    *state = env;
    return 0;
}

static int
s_teardown(void **state)
{
    s_env_t *env = *state;
    zn_sclient_destroy(&env->sc);
    cond_fixture_stop(&env->fix);
    zn_free(env);
    return 0;
}

static void
s_write(s_env_t *env, zn_batch_t **batch_p)
{
    zn_fault_t fault;
    int rc = zn_sclient_write_sync(env->sc, NULL, *batch_p, 5000, &fault);
    if (rc != 0) {
        fail_msg("store write: %s", fault.message);
    }
    zn_batch_destroy(batch_p);
}

/* Hosts PREFIX0..PREFIX(N-1), each with VCPUS, RAM_MB and DISK_GB. */
static void
s_add_hosts(s_env_t *env, const char *prefix, int count, int64_t vcpus, int64_t ram_mb,
            int64_t disk_gb)
{
    zn_batch_t *batch = zn_batch_new();
    for (int i = 0; i < count; i++) {
        char name[64];
        (void)snprintf(name, sizeof(name), "%s%d", prefix, i);
        zn_cell_host_t host = {.host = name,
                               .vcpus = vcpus,
                               .ram_mb = ram_mb,
                               .disk_gb = disk_gb,
                               .cpu_ratio = 1,
                               .ram_ratio = 1,
                               .disk_ratio = 1,
                               .hypervisor_type = S_C("test"),
                               .arch = S_C("x86_64"),
                               .updated_ms = 1};
        assert_int_equal(zn_sclient_put(batch, ZN_TABLE_HOSTS, name, &zn_cell_host_schema, &host,
                                        ZN_BATCH_GEN_ANY),
                         0);
    }
    s_write(env, &batch);
}

static zn_client_t *
s_client(const s_sched_t *s)
{
    const char *endpoints[] = {s->call};
    zn_client_opts_t copts = {.name = "scheduler", .endpoints = endpoints, .endpoint_count = 1};
    zn_client_t *client = NULL;
    zn_fault_t fault;
    assert_int_equal(zn_client_open(&client, &copts, &fault), 0);
    return client;
}

static void
s_pack_request(zn_pack_t *pack, const char *instance_id, int64_t vcpus, int64_t ram_mb,
               const char *group_id)
{
    zn_pack_reset(pack);
    zn_pack_map(pack, group_id != NULL ? 6 : 5);
    zn_pack_str(pack, "instance_id");
    zn_pack_str(pack, instance_id);
    zn_pack_str(pack, "project_id");
    zn_pack_str(pack, "p1");
    zn_pack_str(pack, "vcpus");
    zn_pack_i64(pack, vcpus);
    zn_pack_str(pack, "ram_mb");
    zn_pack_i64(pack, ram_mb);
    zn_pack_str(pack, "disk_gb");
    zn_pack_i64(pack, 1);
    if (group_id != NULL) {
        zn_pack_str(pack, "group_id");
        zn_pack_str(pack, group_id);
    }
}

/* The "host" of answer BODY into OUT, and how many alternates it has. */
static size_t
s_answer_host(zn_buf_t body, char *out, size_t cap)
{
    zn_mpread_t r;
    zn_mpval_t v;
    size_t alternates = 0;
    out[0] = '\0';
    zn_mpread_init(&r, body);
    assert_int_equal(zn_mpread_next(&r, &v, NULL), 0);
    assert_int_equal(v.type, ZN_MPT_MAP);
    for (uint32_t i = 0, n = v.v.count; i < n; i++) {
        zn_mpval_t k;
        zn_mpval_t val;
        assert_int_equal(zn_mpread_next(&r, &k, NULL), 0);
        assert_int_equal(zn_mpread_next(&r, &val, NULL), 0);
        if (k.v.bytes.len == 4 && memcmp(k.v.bytes.ptr, "host", 4) == 0) {
            (void)snprintf(out, cap, "%.*s", (int)val.v.bytes.len, (const char *)val.v.bytes.ptr);
        } else if (val.type == ZN_MPT_ARRAY) {
            alternates = val.v.count;
        }
        assert_int_equal(zn_mpread_skip_contents(&r, &val, NULL), 0);
    }
    return alternates;
}

/* Ask synchronously; returns the code, the host in HOST (may be NULL) and words in FAULT. */
static int
s_select(zn_client_t *client, const char *instance_id, int64_t vcpus, int64_t ram_mb,
         const char *group_id, char *host, size_t *alternates, zn_fault_t *fault)
{
    zn_pack_t *pack = zn_pack_new();
    s_pack_request(pack, instance_id, vcpus, ram_mb, group_id);
    zn_ctx_t ctx;
    memset(&ctx, 0, sizeof(ctx));
    zn_reply_t *reply = NULL;
    int rc = zn_client_call_sync(client, "select_destinations", &ctx, zn_pack_buf(pack), 10000,
                                 &reply, fault);
    zn_pack_destroy(&pack);
    if (rc == 0) {
        char got[256];
        size_t alt = s_answer_host(zn_reply_env(reply)->body, got, sizeof(got));
        if (host != NULL) {
            (void)snprintf(host, 256, "%s", got);
        }
        if (alternates != NULL) {
            *alternates = alt;
        }
        zn_reply_destroy(&reply);
    }
    return rc;
}

/* ---- tests -------------------------------------------------------------------------------- */

static void
test_scheduler_example(void **state)
{
    s_env_t *env = *state;
    s_add_hosts(env, "ex", 3, 8, 8192, 100);
    s_sched_t *sched = s_sched_start(env->fix, NULL);
    zn_client_t *client = s_client(sched);
    char host[256];
    size_t alternates = 0;
    zn_fault_t fault;
    int rc = s_select(client, "vm-ex-1", 2, 1024, NULL, host, &alternates, &fault);
    if (rc != 0) {
        fail_msg("select_destinations: %s", fault.message);
    }
    assert_int_equal(strncmp(host, "ex", 2), 0);
    assert_int_equal(alternates, 2); /* the default */
    /* The claim is in the store before the answer, and the host's usage counts it. */
    zn_store_read_t *txn = NULL;
    assert_int_equal(zn_sclient_read_begin(env->sc, &txn, &fault), 0);
    zn_cell_claim_t claim;
    assert_int_equal(zn_sclient_get(txn, zn_sclient_table(env->sc, ZN_TABLE_CLAIMS), "vm-ex-1",
                                    &zn_cell_claim_schema, &claim, NULL, &fault),
                     0);
    assert_string_equal(claim.host, host);
    assert_int_equal(claim.vcpus, 2);
    zn_cell_usage_t usage = {0};
    assert_int_equal(zn_sclient_get(txn, zn_sclient_table(env->sc, ZN_TABLE_HOST_USAGE), host,
                                    &zn_cell_usage_schema, &usage, NULL, &fault),
                     0);
    assert_int_equal(usage.vcpus_used, 2);
    assert_int_equal(usage.ram_mb_used, 1024);
    zn_schema_release(&zn_cell_usage_schema, &usage);
    zn_schema_release(&zn_cell_claim_schema, &claim);
    zn_store_read_end(&txn);
    /* Asking again for the same instance answers the same host and claims nothing more. */
    char again[256];
    assert_int_equal(s_select(client, "vm-ex-1", 2, 1024, NULL, again, NULL, &fault), 0);
    assert_string_equal(again, host);
    assert_int_equal(zn_sclient_read_begin(env->sc, &txn, &fault), 0);
    assert_int_equal(zn_sclient_get(txn, zn_sclient_table(env->sc, ZN_TABLE_HOST_USAGE), host,
                                    &zn_cell_usage_schema, &usage, NULL, &fault),
                     0);
    assert_int_equal(usage.vcpus_used, 2);
    zn_schema_release(&zn_cell_usage_schema, &usage);
    zn_store_read_end(&txn);
    /* A reschedule: the conductor gave the claim back and asks again without that host. */
    zn_batch_t *batch = zn_batch_new();
    assert_int_equal(
        zn_batch_delete(batch, ZN_TABLE_CLAIMS, zn_batch_str("vm-ex-1"), ZN_BATCH_GEN_ANY), 0);
    zn_cell_usage_t none = {.host = host};
    assert_int_equal(zn_sclient_put(batch, ZN_TABLE_HOST_USAGE, host, &zn_cell_usage_schema, &none,
                                    ZN_BATCH_GEN_ANY),
                     0);
    s_write(env, &batch);
    zn_pack_t *pack = zn_pack_new();
    zn_pack_map(pack, 3);
    zn_pack_str(pack, "instance_id");
    zn_pack_str(pack, "vm-ex-1");
    zn_pack_str(pack, "vcpus");
    zn_pack_i64(pack, 2);
    zn_pack_str(pack, "ignore_hosts");
    zn_pack_array(pack, 1);
    zn_pack_str(pack, host);
    zn_ctx_t ctx;
    memset(&ctx, 0, sizeof(ctx));
    zn_reply_t *reply = NULL;
    assert_int_equal(zn_client_call_sync(client, "select_destinations", &ctx, zn_pack_buf(pack),
                                         10000, &reply, &fault),
                     0);
    char moved[256];
    (void)s_answer_host(zn_reply_env(reply)->body, moved, sizeof(moved));
    assert_string_not_equal(moved, host);
    zn_reply_destroy(&reply);
    zn_pack_destroy(&pack);
    zn_client_destroy(&client);
    s_sched_stop(&sched);
}

static void
test_no_valid_host_words(void **state)
{
    s_env_t *env = *state;
    s_add_hosts(env, "nv", 2, 4, 2048, 100);
    s_sched_t *sched = s_sched_start(env->fix, NULL);
    zn_client_t *client = s_client(sched);
    zn_fault_t fault;
    assert_int_equal(s_select(client, "vm-nv-1", 1, 1 << 20, NULL, NULL, NULL, &fault),
                     ZN_ENOVALIDHOST);
    assert_non_null(strstr(fault.message, "No valid host was found."));
    assert_non_null(strstr(fault.message, "RamFilter eliminated"));
    /* A body without an instance id is refused. */
    zn_pack_t *pack = zn_pack_new();
    zn_pack_map(pack, 1);
    zn_pack_str(pack, "vcpus");
    zn_pack_i64(pack, 1);
    zn_ctx_t ctx;
    memset(&ctx, 0, sizeof(ctx));
    zn_reply_t *reply = NULL;
    assert_int_equal(zn_client_call_sync(client, "select_destinations", &ctx, zn_pack_buf(pack),
                                         5000, &reply, &fault),
                     -EBADMSG);
    zn_pack_destroy(&pack);
    assert_int_equal(s_select(client, "vm-nv-2", -1, 1, NULL, NULL, NULL, &fault), -EINVAL);
    zn_client_destroy(&client);
    s_sched_stop(&sched);
}

static void
test_anti_affinity_through_the_store(void **state)
{
    s_env_t *env = *state;
    s_add_hosts(env, "aa", 3, 64, 65536, 1000);
    zn_cell_group_t group = {.id = S_C("g1"),
                             .name = S_C("spread"),
                             .project_id = S_C("p1"),
                             .policy = S_C("anti-affinity")};
    char *members[] = {S_C("vm-aa-1"), S_C("vm-aa-2"), S_C("vm-aa-3"), S_C("vm-aa-4")};
    group.members = members;
    group.member_count = 4;
    zn_batch_t *batch = zn_batch_new();
    assert_int_equal(zn_sclient_put(batch, ZN_TABLE_SERVER_GROUPS, "g1", &zn_cell_group_schema,
                                    &group, ZN_BATCH_GEN_ANY),
                     0);
    s_write(env, &batch);
    s_sched_t *sched = s_sched_start(env->fix, "scheduler.host_subset_size=1");
    zn_client_t *client = s_client(sched);
    char hosts[3][256];
    zn_fault_t fault;
    for (int i = 0; i < 3; i++) {
        int rc = s_select(client, members[i], 1, 512, "g1", hosts[i], NULL, &fault);
        if (rc != 0) {
            fail_msg("member %d: %s", i, fault.message);
        }
        for (int j = 0; j < i; j++) {
            assert_string_not_equal(hosts[i], hosts[j]);
        }
    }
    /* Every host holds a member now: the fourth has nowhere to go. */
    assert_int_equal(s_select(client, members[3], 1, 512, "g1", NULL, NULL, &fault),
                     ZN_ENOVALIDHOST);
    assert_non_null(strstr(fault.message, "ServerGroupAntiAffinityFilter eliminated 3 of 3"));
    /* A group that does not exist is the caller's mistake. */
    assert_int_equal(s_select(client, "vm-aa-9", 1, 512, "nope", NULL, NULL, &fault), -ENOENT);
    zn_client_destroy(&client);
    s_sched_stop(&sched);
}

/* The vCPUs host_usage/HOST says are used. */
static int64_t
s_used_vcpus(s_env_t *env, const char *host)
{
    zn_fault_t fault;
    zn_store_read_t *txn = NULL;
    assert_int_equal(zn_sclient_read_begin(env->sc, &txn, &fault), 0);
    zn_cell_usage_t usage = {0};
    int rc = zn_sclient_get(txn, zn_sclient_table(env->sc, ZN_TABLE_HOST_USAGE), host,
                            &zn_cell_usage_schema, &usage, NULL, &fault);
    int64_t used = rc == 0 ? usage.vcpus_used : 0;
    zn_schema_release(&zn_cell_usage_schema, &usage);
    zn_store_read_end(&txn);
    return used;
}

/* A claim that cannot be sent fails the call and gives the reservation back; a claim whose
 * answer is lost (it committed, we heard a timeout) is found again and counted once. */
static void
test_claim_failures_leave_nothing_behind(void **state)
{
    s_env_t *env = *state;
    s_add_hosts(env, "cf", 1, 4, 8192, 100);
    s_sched_t *sched = s_sched_start(env->fix, NULL);
    zn_client_t *client = s_client(sched);
    zn_fault_t fault;
    zn_failpoint_set("scheduler.claim_send", ZN_EUNAVAIL, 1);
    assert_int_equal(s_select(client, "vm-cf-1", 4, 512, NULL, NULL, NULL, &fault), ZN_EUNAVAIL);
    assert_int_equal(zn_failpoint_fired("scheduler.claim_send"), 1);
    assert_int_equal(s_used_vcpus(env, "cf0"), 0);
    /* The lost answer: the retry finds the claim, nothing is claimed twice. */
    zn_failpoint_set("scheduler.claim_result", -ETIMEDOUT, 1);
    char host[256];
    assert_int_equal(s_select(client, "vm-cf-2", 2, 512, NULL, host, NULL, &fault), 0);
    assert_int_equal(zn_failpoint_fired("scheduler.claim_result"), 1);
    assert_string_equal(host, "cf0");
    assert_int_equal(s_used_vcpus(env, "cf0"), 2);
    /* The in-memory view agrees: exactly the 2 vCPUs left fit, 3 do not. */
    assert_int_equal(s_select(client, "vm-cf-3", 3, 512, NULL, NULL, NULL, &fault),
                     ZN_ENOVALIDHOST);
    assert_int_equal(s_select(client, "vm-cf-4", 2, 512, NULL, NULL, NULL, &fault), 0);
    assert_int_equal(s_used_vcpus(env, "cf0"), 4);
    zn_failpoint_clear_all();
    zn_client_destroy(&client);
    s_sched_stop(&sched);
}

/* Counter NAME of the "detail" map of SCHED's admin `status`, or -1. */
static int64_t
s_status_counter(const s_sched_t *sched, const char *name)
{
    const char *endpoints[] = {sched->admin};
    zn_client_opts_t copts = {.name = "admin", .endpoints = endpoints, .endpoint_count = 1};
    zn_client_t *client = NULL;
    zn_fault_t fault;
    assert_int_equal(zn_client_open(&client, &copts, &fault), 0);
    zn_ctx_t ctx;
    memset(&ctx, 0, sizeof(ctx));
    zn_reply_t *reply = NULL;
    int64_t value = -1;
    if (zn_client_call_sync(client, "status", &ctx, (zn_buf_t){NULL, 0}, 5000, &reply, &fault) ==
        0) {
        zn_mpread_t r;
        zn_mpval_t v;
        zn_mpread_init(&r, zn_reply_env(reply)->body);
        bool in_detail = false;
        while (value < 0 && zn_mpread_next(&r, &v, NULL) == 0) {
            bool is_str = v.type == ZN_MPT_STR;
            bool is_name = is_str && in_detail && v.v.bytes.len == strlen(name) &&
                           memcmp(v.v.bytes.ptr, name, v.v.bytes.len) == 0;
            in_detail = in_detail ||
                        (is_str && v.v.bytes.len == 6 && memcmp(v.v.bytes.ptr, "detail", 6) == 0);
            if (is_name && zn_mpread_next(&r, &v, NULL) == 0 && v.type == ZN_MPT_UINT) {
                value = (int64_t)v.v.u;
            }
        }
        zn_reply_destroy(&reply);
    }
    zn_client_destroy(&client);
    return value;
}

/* Liveness from the conductor's registry: a host whose compute agent is silent is no candidate;
 * its first heartbeat makes it one. Two schedulers that hear of each other share the hosts. */
static void
test_liveness_and_shares_from_the_registry(void **state)
{
    s_env_t *env = *state;
    s_add_hosts(env, "lv", 2, 8, 8192, 100);
    /* The registry knows a service by role and host: the two schedulers are on two nodes. */
    const char *alive = "scheduler.check_alive=true";
    s_sched_t *scheds[2] = {s_sched_start3(env->fix, alive, "agent.host=ctl-a"),
                            s_sched_start3(env->fix, alive, "agent.host=ctl-b")};
    zn_client_t *client = s_client(scheds[0]);
    zn_fault_t fault;
    /* No compute agent has spoken: once the registry answered, every host is dead. */
    int64_t deadline_ms = zclock_mono() + 5000;
    int rc = 0;
    int n = 0;
    do {
        char id[32];
        (void)snprintf(id, sizeof(id), "vm-lv-dead-%d", n++);
        rc = s_select(client, id, 1, 512, NULL, NULL, NULL, &fault);
    } while (rc == 0 && zclock_mono() < deadline_ms);
    assert_int_equal(rc, ZN_ENOVALIDHOST);
    assert_non_null(strstr(fault.message, "ComputeFilter eliminated 2 of 2 hosts"));
    /* lv1's compute agent starts heart-beating. */
    zn_caster_opts_t copts = {
        .name = "conductor", .endpoint = cond_fixture_cast(env->fix), .send_timeout_ms = 2000};
    zn_caster_t *caster = NULL;
    assert_int_equal(zn_caster_open(&caster, &copts, &fault), 0);
    zn_service_t svc = {
        .role = S_C("compute"), .host = S_C("lv1"), .version = S_C("test"), .pid = 1};
    zn_pack_t *pack = zn_pack_new();
    zn_schema_encode(&zn_service_schema, &svc, pack);
    zn_ctx_t ctx;
    memset(&ctx, 0, sizeof(ctx));
    char host[256] = "";
    do {
        assert_int_equal(zn_caster_cast(caster, "heartbeat", &ctx, zn_pack_buf(pack), NULL, NULL),
                         0);
        char id[32];
        (void)snprintf(id, sizeof(id), "vm-lv-up-%d", n++);
        rc = s_select(client, id, 1, 512, NULL, host, NULL, &fault);
    } while (rc != 0 && zclock_mono() < deadline_ms + 5000);
    assert_int_equal(rc, 0);
    assert_string_equal(host, "lv1");
    zn_pack_destroy(&pack);
    zn_caster_destroy(&caster);
    /* Both schedulers heart-beat too: each learns it is one of two, and takes its own share. */
    int64_t index[2] = {-1, -1};
    do {
        for (int i = 0; i < 2; i++) {
            index[i] = s_status_counter(scheds[i], "partition_count") == 2
                           ? s_status_counter(scheds[i], "partition_index")
                           : -1;
        }
    } while ((index[0] < 0 || index[1] < 0) && zclock_mono() < deadline_ms + 10000);
    assert_true(index[0] >= 0 && index[1] >= 0);
    assert_int_not_equal(index[0], index[1]);
    assert_true(s_status_counter(scheds[0], "claims") >= 1);
    zn_client_destroy(&client);
    s_sched_stop(&scheds[0]);
    s_sched_stop(&scheds[1]);
}

typedef struct {
    int answered;
    char hosts[5][256];
    int codes[5];
} s_burst_t;

typedef struct {
    s_burst_t *burst;
    int index;
} s_burst_call_t;

static void
s_burst_answered(void *arg, const zn_env_t *reply, const zn_fault_t *fault)
{
    s_burst_call_t *call = arg;
    s_burst_t *burst = call->burst;
    burst->codes[call->index] = fault->code;
    if (fault->code == 0) {
        (void)s_answer_host(reply->body, burst->hosts[call->index], 256);
    }
    burst->answered++;
}

static int
s_burst_done(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    const s_burst_t *burst = arg;
    return burst->answered == 5 ? -1 : 0;
}

/* Three requests make the three hosts busy; two members of an anti-affinity group then wait,
 * and when a host settles they decide in one go: the second must see the first's claim,
 * gathered but not in the store yet, and go elsewhere. */
static void
test_anti_affinity_within_one_batch(void **state)
{
    s_env_t *env = *state;
    s_add_hosts(env, "ab", 3, 64, 65536, 1000);
    zn_cell_group_t group = {.id = S_C("g2"), .policy = S_C("anti-affinity")};
    char *members[] = {S_C("vm-ab-m1"), S_C("vm-ab-m2")};
    group.members = members;
    group.member_count = 2;
    zn_batch_t *batch = zn_batch_new();
    assert_int_equal(zn_sclient_put(batch, ZN_TABLE_SERVER_GROUPS, "g2", &zn_cell_group_schema,
                                    &group, ZN_BATCH_GEN_ANY),
                     0);
    s_write(env, &batch);
    s_sched_t *sched = s_sched_start(env->fix, NULL);
    zn_client_t *client = s_client(sched);
    zloop_t *loop = zloop_new();
    assert_int_equal(zn_client_attach(client, loop), 0);
    s_burst_t burst;
    memset(&burst, 0, sizeof(burst));
    s_burst_call_t calls[5];
    const char *ids[] = {"vm-ab-f1", "vm-ab-f2", "vm-ab-f3", "vm-ab-m1", "vm-ab-m2"};
    zn_pack_t *pack = zn_pack_new();
    zn_ctx_t ctx;
    memset(&ctx, 0, sizeof(ctx));
    for (int i = 0; i < 5; i++) {
        calls[i] = (s_burst_call_t){&burst, i};
        s_pack_request(pack, ids[i], 1, 512, i >= 3 ? "g2" : NULL);
        assert_int_equal(zn_client_call(client, "select_destinations", &ctx, zn_pack_buf(pack),
                                        10000, s_burst_answered, &calls[i]),
                         0);
    }
    zn_pack_destroy(&pack);
    assert_true(zloop_timer(loop, 10, 0, s_burst_done, &burst) >= 0);
    zloop_start(loop);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(burst.codes[i], 0);
    }
    assert_string_not_equal(burst.hosts[3], burst.hosts[4]);
    zn_client_destroy(&client);
    zloop_destroy(&loop);
    s_sched_stop(&sched);
}

/* ---- the property: 1,000 concurrent requests, 2 schedulers, tight capacity --------------- */

#define S_HOSTS    10
#define S_VCPUS    8
#define S_REQUESTS 1000

typedef struct {
    int expected; /* 0: S_REQUESTS */
    int answered;
    int placed;
    int no_valid_host;
    int other;
    char other_words[256];
    int64_t placed_vcpus[S_HOSTS];
} s_tally_t;

typedef struct {
    s_tally_t *tally;
    int64_t vcpus;
    int scheduler;
} s_call_t;

static void
s_answered(void *arg, const zn_env_t *reply, const zn_fault_t *fault)
{
    s_call_t *call = arg;
    s_tally_t *tally = call->tally;
    tally->answered++;
    if (fault->code == 0) {
        char host[256];
        (void)s_answer_host(reply->body, host, sizeof(host));
        int index = -1;
        if (sscanf(host, "pt%d", &index) == 1 && index >= 0 && index < S_HOSTS) {
            tally->placed_vcpus[index] += call->vcpus;
            tally->placed++;
        } else {
            tally->other++;
        }
    } else if (fault->code == ZN_ENOVALIDHOST) {
        tally->no_valid_host++;
    } else {
        tally->other++;
        (void)snprintf(tally->other_words, sizeof(tally->other_words), "%s",
                       zn_fault_message(fault));
    }
}

static int
s_check_done(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    const s_tally_t *tally = arg;
    return tally->answered == (tally->expected > 0 ? tally->expected : S_REQUESTS) ? -1 : 0;
}

/* Sum the claims per host from the store, and compare each host's usage record with it. */
static void
s_check_store(s_env_t *env, const s_tally_t *tally)
{
    zn_fault_t fault;
    zn_store_read_t *txn = NULL;
    assert_int_equal(zn_sclient_read_begin(env->sc, &txn, &fault), 0);
    static zn_store_record_t records[S_REQUESTS + 1];
    int n = zn_store_scan(txn, zn_sclient_table(env->sc, ZN_TABLE_CLAIMS), (zn_buf_t){NULL, 0},
                          records, S_REQUESTS + 1);
    assert_int_equal(n, tally->placed);
    int64_t claimed[S_HOSTS] = {0};
    for (int i = 0; i < n; i++) {
        zn_cell_claim_t claim;
        assert_int_equal(
            zn_schema_decode(&zn_cell_claim_schema, records[i].value, &claim, NULL, &fault), 0);
        int index = -1;
        assert_int_equal(sscanf(claim.host, "pt%d", &index), 1);
        claimed[index] += claim.vcpus;
        zn_schema_release(&zn_cell_claim_schema, &claim);
    }
    for (int h = 0; h < S_HOSTS; h++) {
        char name[16];
        (void)snprintf(name, sizeof(name), "pt%d", h);
        assert_true(claimed[h] <= S_VCPUS);                   /* never overcommitted */
        assert_int_equal(claimed[h], tally->placed_vcpus[h]); /* every answer is a claim */
        zn_cell_usage_t usage = {0};
        int rc = zn_sclient_get(txn, zn_sclient_table(env->sc, ZN_TABLE_HOST_USAGE), name,
                                &zn_cell_usage_schema, &usage, NULL, &fault);
        assert_int_equal(rc == 0 ? usage.vcpus_used : 0, claimed[h]);
        zn_schema_release(&zn_cell_usage_schema, &usage);
        /* Requests of 1 or 2 vCPUs leave at most one vCPU of a host unused. */
        assert_true(claimed[h] >= S_VCPUS - 1);
    }
    zn_store_read_end(&txn);
}

/* 500 requests at once through one scheduler onto 2 roomy hosts: most wait for a busy host,
 * and a settled claim wakes them one at a time; all are placed, each claim counted once. */
static void
test_many_requests_few_hosts(void **state)
{
    s_env_t *env = *state;
    s_add_hosts(env, "pt", 2, 1000, 1 << 20, 100000);
    s_sched_t *sched = s_sched_start(env->fix, NULL);
    zn_client_t *client = s_client(sched);
    zloop_t *loop = zloop_new();
    assert_int_equal(zn_client_attach(client, loop), 0);
    static s_call_t calls[500];
    s_tally_t tally;
    memset(&tally, 0, sizeof(tally));
    tally.expected = 500;
    zn_pack_t *pack = zn_pack_new();
    zn_ctx_t ctx;
    memset(&ctx, 0, sizeof(ctx));
    for (int i = 0; i < 500; i++) {
        char id[32];
        (void)snprintf(id, sizeof(id), "vm-few-%04d", i);
        calls[i] = (s_call_t){&tally, 1, 0};
        s_pack_request(pack, id, 1, 512, NULL);
        assert_int_equal(zn_client_call(client, "select_destinations", &ctx, zn_pack_buf(pack),
                                        60000, s_answered, &calls[i]),
                         0);
    }
    zn_pack_destroy(&pack);
    assert_true(zloop_timer(loop, 10, 0, s_check_done, &tally) >= 0);
    zloop_start(loop);
    assert_int_equal(tally.placed, 500);
    assert_int_equal(s_used_vcpus(env, "pt0") + s_used_vcpus(env, "pt1"), 500);
    assert_true(s_status_counter(sched, "waiting") == 0);
    zn_client_destroy(&client);
    zloop_destroy(&loop);
    s_sched_stop(&sched);
}

static void
test_concurrent_requests_never_overcommit(void **state)
{
    s_env_t *env = *state;
    s_add_hosts(env, "pt", S_HOSTS, S_VCPUS, 1 << 20, 100000);
    s_sched_t *scheds[2] = {s_sched_start(env->fix, NULL), s_sched_start(env->fix, NULL)};
    zn_client_t *clients[2] = {s_client(scheds[0]), s_client(scheds[1])};
    zloop_t *loop = zloop_new();
    for (int i = 0; i < 2; i++) {
        assert_int_equal(zn_client_attach(clients[i], loop), 0);
    }
    static s_call_t calls[S_REQUESTS];
    s_tally_t tally;
    memset(&tally, 0, sizeof(tally));
    zn_pack_t *pack = zn_pack_new();
    zn_ctx_t ctx;
    memset(&ctx, 0, sizeof(ctx));
    for (int i = 0; i < S_REQUESTS; i++) {
        char id[32];
        (void)snprintf(id, sizeof(id), "vm-pt-%04d", i);
        calls[i] = (s_call_t){&tally, 1 + i % 2, (i / 7) % 2};
        s_pack_request(pack, id, calls[i].vcpus, 512, NULL);
        assert_int_equal(zn_client_call(clients[calls[i].scheduler], "select_destinations", &ctx,
                                        zn_pack_buf(pack), 60000, s_answered, &calls[i]),
                         0);
    }
    zn_pack_destroy(&pack);
    assert_true(zloop_timer(loop, 10, 0, s_check_done, &tally) >= 0);
    zloop_start(loop);
    if (tally.other > 0) {
        fail_msg("%d answers neither a host nor ZN_ENOVALIDHOST: %s", tally.other,
                 tally.other_words);
    }
    assert_int_equal(tally.answered, S_REQUESTS);
    assert_int_equal(tally.placed + tally.no_valid_host, S_REQUESTS);
    /* Both schedulers decided (which one wins the room is a race, as it should be). */
    assert_true(s_status_counter(scheds[0], "decisions") > 0);
    assert_true(s_status_counter(scheds[1], "decisions") > 0);
    s_check_store(env, &tally);
    for (int i = 0; i < 2; i++) {
        zn_client_destroy(&clients[i]);
        s_sched_stop(&scheds[i]);
    }
    zloop_destroy(&loop);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_scheduler_example, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_no_valid_host_words, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_anti_affinity_through_the_store, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_anti_affinity_within_one_batch, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_claim_failures_leave_nothing_behind, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_liveness_and_shares_from_the_registry, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_many_requests_few_hosts, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_requests_never_overcommit, s_setup,
                                        s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
