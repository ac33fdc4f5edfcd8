/* SPDX-License-Identifier: Apache-2.0 */
/* test_scheduler_curve.c - zinc-scheduler with CURVE on every link: a controller key (api) gets
 * a placement, with the claim written through the conductor over CURVE; a hypervisor's key
 * (compute-NODE) is refused select_destinations (ZN_M_CONTROLLER); a stranger is not heard. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <czmq.h>

#include "cond_fixture.h"
#include "zn_cellrec.h"
#include "zn_client.h"
#include "zn_keys.h"
#include "zn_mem.h"
#include "zn_mp.h"
#include "zn_scheduler.h"
#include "zn_sclient.h"
#include "zn_str.h"
#include "zn_tables.h"

#define S_C(text) ((char *)(uintptr_t)(text))

typedef struct {
    zn_scheduler_cfg_t cfg;
    char call[128];
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

static void
s_set_fmt(s_sched_t *s, const char *key, const char *value)
{
    char *line = zn_asprintf("%s=%s", key, value);
    s_set(s, line);
    zn_str_free(&line);
}

static zn_keys_t *
s_save_key(const char *dir, const char *name)
{
    zn_keys_t *keys = zn_keys_generate();
    char *path = zn_asprintf("%s/%s.key", dir, name);
    assert_int_equal(zn_keys_save(keys, path, NULL), 0);
    zn_free(path);
    return keys;
}

/* Two hosts in the store, written with the api's key over CURVE. */
static void
s_add_hosts(const cond_fixture_t *fix, const zn_keys_t *api, const zn_keys_t *conductor)
{
    zn_sclient_opts_t sopts = {.data_dir = cond_fixture_store_dir(fix),
                               .conductor_call = cond_fixture_call(fix),
                               .keys = api,
                               .conductor_public = zn_keys_public(conductor)};
    zn_sclient_t *sc = NULL;
    zn_fault_t fault;
    assert_int_equal(zn_sclient_open(&sc, &sopts, &fault), 0);
    zn_batch_t *batch = zn_batch_new();
    const char *names[] = {"node1", "node2"};
    for (size_t i = 0; i < 2; i++) {
        zn_cell_host_t host = {.host = S_C(names[i]),
                               .vcpus = 8,
                               .ram_mb = 8192,
                               .disk_gb = 100,
                               .cpu_ratio = 1,
                               .ram_ratio = 1,
                               .disk_ratio = 1};
        assert_int_equal(zn_sclient_put(batch, ZN_TABLE_HOSTS, names[i], &zn_cell_host_schema,
                                        &host, ZN_BATCH_GEN_ANY),
                         0);
    }
    int rc = zn_sclient_write_sync(sc, NULL, batch, 5000, &fault);
    if (rc != 0) {
        fail_msg("store write over CURVE: %s", fault.message);
    }
    zn_batch_destroy(&batch);
    zn_sclient_destroy(&sc);
}

/* select_destinations for INSTANCE_ID with KEYS; returns the code. */
static int
s_select(const char *endpoint, const zn_keys_t *keys, const char *server_public,
         const char *instance_id, int64_t timeout_ms)
{
    zn_client_opts_t copts = {.name = "scheduler",
                              .endpoints = &endpoint,
                              .endpoint_count = 1,
                              .keys = keys,
                              .server_public = server_public};
    zn_client_t *client = NULL;
    zn_fault_t fault;
    assert_int_equal(zn_client_open(&client, &copts, &fault), 0);
    zn_pack_t *pack = zn_pack_new();
    zn_pack_map(pack, 3);
    zn_pack_str(pack, "instance_id");
    zn_pack_str(pack, instance_id);
    zn_pack_str(pack, "vcpus");
    zn_pack_i64(pack, 1);
    zn_pack_str(pack, "ram_mb");
    zn_pack_i64(pack, 512);
    zn_ctx_t ctx;
    memset(&ctx, 0, sizeof(ctx));
    zn_reply_t *reply = NULL;
    int rc = zn_client_call_sync(client, "select_destinations", &ctx, zn_pack_buf(pack), timeout_ms,
                                 &reply, &fault);
    zn_reply_destroy(&reply);
    zn_pack_destroy(&pack);
    zn_client_destroy(&client);
    return rc;
}

static void
test_scheduler_curve_controller_keys_only(void **state)
{
    (void)state;
    char dir[] = "/tmp/zn-scheduler-keys.XXXXXX";
    assert_non_null(mkdtemp(dir));
    const char *names[] = {"conductor", "scheduler", "api", "compute-node1"};
    zn_keys_t *keys[4];
    for (size_t i = 0; i < 4; i++) {
        keys[i] = s_save_key(dir, names[i]);
    }
    char *keys_dir = zn_asprintf("security.keys_dir=%s", dir);
    const char *const curve[] = {"security.curve=true", keys_dir, NULL};
    cond_fixture_t *fix = cond_fixture_start(curve);
    s_add_hosts(fix, keys[2], keys[0]);
    s_sched_t *sched = zn_calloc(1, sizeof(*sched));
    zn_cfg_defaults(&sched->cfg, zn_scheduler_options);
    const char *fixed[] = {"agent.admin_endpoint=tcp://127.0.0.1:*", "agent.log_level=warn",
                           "rpc.call_endpoint=tcp://127.0.0.1:*", "scheduler.check_alive=false",
                           "security.curve=true"};
    for (size_t i = 0; i < ZN_ARRAY_COUNT(fixed); i++) {
        s_set(sched, fixed[i]);
    }
    s_set(sched, keys_dir);
    s_set_fmt(sched, "peers.conductor_call", cond_fixture_call(fix));
    s_set_fmt(sched, "peers.conductor_cast", cond_fixture_cast(fix));
    s_set_fmt(sched, "scheduler.replica_dir", cond_fixture_store_dir(fix));
    sched->actor = zactor_new(s_sched_actor, sched);
    const char *server = zn_keys_public(keys[1]);
    assert_int_equal(s_select(sched->call, keys[2], server, "vm-c-1", 5000), 0);
    assert_int_equal(s_select(sched->call, keys[3], server, "vm-c-2", 5000), ZN_EFORBIDDEN);
    zn_keys_t *stranger = zn_keys_generate();
    int rc = s_select(sched->call, stranger, server, "vm-c-3", 500);
    assert_true(rc == -ETIMEDOUT || rc == ZN_EUNAVAIL);
    zn_keys_destroy(&stranger);
    zactor_destroy(&sched->actor);
    zn_cfg_release(&sched->cfg, zn_scheduler_options);
    zn_free(sched);
    cond_fixture_stop(&fix);
    for (size_t i = 0; i < 4; i++) {
        zn_keys_destroy(&keys[i]);
    }
    zn_free(keys_dir);
    char *cmd = zn_asprintf("rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    zn_free(cmd);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scheduler_curve_controller_keys_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
