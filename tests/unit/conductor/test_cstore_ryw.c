/* SPDX-License-Identifier: Apache-2.0 */
/* test_cstore_ryw.c - the conductor's own writes (zn_conductor_store_submit) read their writes:
 * three conductor store nodes in this thread, each behind a server answering store_write_fwd;
 * a FOLLOWER submits batches (forwarded to the leader) and reads each one from its own replica
 * in the submit's callback: it must always be there, and soon (heartbeats are frequent enough).
 * The election timeout is the production default (1 s), which sets the heartbeat. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "zn_clock.h"
#include "zn_conductor_store.h"
#include "zn_failpoint.h"
#include "zn_mem.h"
#include "zn_server.h"
#include "zn_str.h"
#include "zn_tables.h"

#define S_NODES  3
#define S_WRITES 100

typedef struct {
    char dir[64];
    char call[64];
    char raft[32];
    zn_conductor_store_cfg_t cfg;
    zn_conductor_store_t *store;
    zn_server_t *server;
} s_node_t;

typedef struct {
    s_node_t nodes[S_NODES];
    zloop_t *loop;
    zn_batch_t *batch;
    char *peers; /* the configurations borrow it */
    const char *prefix;
    int total;
    int follower;
    int sent;
    int done;
    int missing;
    int failed;
} s_env_t;

static unsigned
s_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(addr);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &len) < 0) {
        abort();
    }
    close(fd);
    return ntohs(addr.sin_port);
}

static int
s_write_fwd(void *arg, zn_call_t *call, zn_pack_t *reply, zn_fault_t *fault)
{
    s_node_t *node = arg;
    return zn_conductor_store_write_fwd(node->store, call, reply, fault);
}

static const zn_method_t s_methods[] = {
    {"store_write_fwd", s_write_fwd, ZN_M_CALL},
    {NULL, NULL, 0},
};

static void
s_open_node(s_env_t *env, int i, char *peers)
{
    s_node_t *node = &env->nodes[i];
    zn_fault_t fault;
    zn_server_opts_t sopts = {.name = "conductor", .call_endpoint = node->call};
    assert_int_equal(zn_server_open(&node->server, &sopts, s_methods, node, &fault), 0);
    assert_int_equal(zn_server_attach(node->server, env->loop), 0);
    node->cfg = (zn_conductor_store_cfg_t){.enabled = true,
                                           .data_dir = node->dir,
                                           .node_id = i + 1,
                                           .raft_address = node->raft,
                                           .peers = peers,
                                           .election_timeout_ms = 1000};
    zn_conductor_store_opts_t opts = {
        .cfg = &node->cfg, .own_call_endpoint = node->call, .loop = env->loop};
    assert_int_equal(zn_conductor_store_open(&node->store, &opts, &fault), 0);
}

static int
s_setup(void **state)
{
    s_env_t *env = zn_calloc(1, sizeof(*env));
    env->loop = zloop_new();
    for (int i = 0; i < S_NODES; i++) {
        s_node_t *node = &env->nodes[i];
        (void)snprintf(node->dir, sizeof(node->dir), "/tmp/zn-cstore-ryw.XXXXXX");
        assert_non_null(mkdtemp(node->dir));
        (void)snprintf(node->call, sizeof(node->call), "tcp://127.0.0.1:%u", s_free_port());
        (void)snprintf(node->raft, sizeof(node->raft), "127.0.0.1:%u", s_free_port());
    }
    env->peers =
        zn_asprintf("1@%s@%s,2@%s@%s,3@%s@%s", env->nodes[0].raft, env->nodes[0].call,
                    env->nodes[1].raft, env->nodes[1].call, env->nodes[2].raft, env->nodes[2].call);
    for (int i = 0; i < S_NODES; i++) {
        s_open_node(env, i, env->peers);
    }
    int leader = -1;
    for (int64_t until = zn_clock_mono_ms() + 15000; leader < 0;) {
        for (int i = 0; i < S_NODES && leader < 0; i++) {
            leader = zn_conductor_store_is_leader(env->nodes[i].store) ? i : -1;
        }
        assert_true(leader >= 0 || zn_clock_mono_ms() < until);
        zclock_sleep(20);
    }
    env->follower = (leader + 1) % S_NODES;
    *state = env;
    return 0;
}

static int
s_teardown(void **state)
{
    s_env_t *env = *state;
    zn_failpoint_clear_all();
    for (int i = 0; i < S_NODES; i++) {
        zn_conductor_store_destroy(&env->nodes[i].store);
        zn_server_destroy(&env->nodes[i].server);
        char *cmd = zn_asprintf("rm -rf '%s'", env->nodes[i].dir);
        assert_int_equal(system(cmd), 0);
        zn_str_free(&cmd);
    }
    zloop_destroy(&env->loop);
    zn_str_free(&env->peers);
    zn_free(env);
    return 0;
}

static void s_on_done(void *arg, const zn_fault_t *fault);

/* Submit the next batch on the follower: it creates PREFIX-N. One is in flight at a time. */
static void
s_submit(s_env_t *env)
{
    char key[64];
    (void)snprintf(key, sizeof(key), "%s-%d", env->prefix, env->sent++);
    static const uint8_t value[] = {0x80}; /* an empty map */
    zn_batch_reset(env->batch);
    assert_int_equal(zn_batch_put(env->batch, ZN_TABLE_SETTINGS, zn_batch_str(key),
                                  (zn_buf_t){value, sizeof(value)}, ZN_BATCH_GEN_ABSENT),
                     0);
    assert_int_equal(
        zn_conductor_store_submit(env->nodes[env->follower].store, env->batch, s_on_done, env), 0);
}

static void
s_on_done(void *arg, const zn_fault_t *fault)
{
    s_env_t *env = arg;
    char key[64];
    (void)snprintf(key, sizeof(key), "%s-%d", env->prefix, env->done++);
    if (fault->code != 0) {
        (void)fprintf(stderr, "%s: %s\n", key, fault->message);
        env->failed++;
    } else {
        zn_store_t *local = zn_conductor_store_local(env->nodes[env->follower].store);
        zn_store_read_t *txn = NULL;
        zn_store_record_t rec;
        assert_int_equal(zn_store_read_begin(local, &txn), 0);
        env->missing += zn_store_get(txn, zn_store_table(local, ZN_TABLE_SETTINGS),
                                     zn_batch_str(key), &rec) != 0;
        zn_store_read_end(&txn);
    }
    if (env->sent < env->total) {
        s_submit(env);
    }
}

static int
s_on_tick(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    const s_env_t *env = arg;
    return env->done == env->total ? -1 : 0;
}

/* Submit TOTAL batches on the follower; returns the milliseconds taken. */
static int64_t
s_run(s_env_t *env, const char *prefix, int total)
{
    env->prefix = prefix;
    env->total = total;
    env->sent = env->done = env->missing = env->failed = 0;
    env->batch = zn_batch_new();
    int timer = zloop_timer(env->loop, 2, 0, s_on_tick, env);
    int64_t start = zn_clock_mono_ms();
    s_submit(env);
    (void)zloop_start(env->loop);
    int64_t ms = zn_clock_mono_ms() - start;
    (void)zloop_timer_end(env->loop, timer);
    zn_batch_destroy(&env->batch);
    (void)fprintf(stderr, "%s: %d submits in %" PRId64 " ms, %d missing, %d failed\n", prefix,
                  total, ms, env->missing, env->failed);
    return ms;
}

static void
test_follower_submit_reads_its_write(void **state)
{
    s_env_t *env = *state;
    int64_t ms = s_run(env, "submit", S_WRITES);
    assert_int_equal(env->failed, 0);
    assert_int_equal(env->missing, 0);
    /* Each waits for the follower to hear of the commit: a heartbeat (10 ms here, not the 100 ms
     * of election_timeout / 10), so not 200 ms a write. */
    assert_true(ms < (int64_t)S_WRITES * 120);
}

/* A replica that (as the failpoint pretends) does not catch up: DONE runs anyway, after the
 * conductor's bounded wait. */
static void
test_follower_submit_wait_is_bounded(void **state)
{
    s_env_t *env = *state;
    zn_failpoint_set("conductor.store_applied", -EAGAIN, -1);
    int64_t ms = s_run(env, "lagging", 1);
    int fired = zn_failpoint_fired("conductor.store_applied");
    zn_failpoint_clear_all();
    assert_true(fired > 0);
    assert_int_equal(env->failed, 0);
    assert_true(ms >= 1000 && ms < 4000);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_follower_submit_reads_its_write),
        cmocka_unit_test(test_follower_submit_wait_is_bounded),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
