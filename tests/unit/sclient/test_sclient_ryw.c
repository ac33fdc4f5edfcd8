/* SPDX-License-Identifier: Apache-2.0 */
/* test_sclient_ryw.c - read-your-writes through zn_sclient on a three-conductor store: an agent
 * whose replica is a FOLLOWER's writes (through that follower, or straight to the leader) and
 * reads each record back in the write's callback: it must always find it. Also the bounded
 * waits: a replica that never catches up (the client answers after applied_wait_ms) and a
 * follower conductor whose replica lags (failpoint: it answers after its own wait). */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "cond_fixture.h"
#include "zn_client.h"
#include "zn_clock.h"
#include "zn_failpoint.h"
#include "zn_mem.h"
#include "zn_mpread.h"
#include "zn_sclient.h"
#include "zn_str.h"
#include "zn_tables.h"

#define S_NODES     3
#define S_WRITES    150
#define S_IN_FLIGHT 4

typedef struct {
    cond_fixture_t *fix[S_NODES];
    char call[S_NODES][64];
    char admin[S_NODES][64];
    int leader; /* index of the leading conductor */
} s_cluster_t;

typedef struct {
    uint64_t n;
} s_rec_t;

static const zn_field_t s_rec_fields[] = {
    {"n", ZN_FT_U64, ZN_F_REQUIRED, offsetof(s_rec_t, n), 0, 0, NULL},
};
static const zn_schema_t s_rec_schema = {"ryw", 1, s_rec_fields, ZN_ARRAY_COUNT(s_rec_fields),
                                         sizeof(s_rec_t)};

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

/* ---- the cluster ------------------------------------------------------------------------- */

/* The string ROLE of a store_status answer, compared with "leader". */
static bool
s_is_leader(zn_buf_t body)
{
    zn_mpread_t reader;
    zn_mpval_t v;
    zn_mpread_init(&reader, body);
    if (zn_mpread_next(&reader, &v, NULL) < 0 || v.type != ZN_MPT_MAP) {
        return false;
    }
    for (uint32_t i = 0, n = v.v.count; i < n; i++) {
        zn_mpval_t key;
        zn_mpval_t val;
        if (zn_mpread_next(&reader, &key, NULL) < 0 || zn_mpread_next(&reader, &val, NULL) < 0 ||
            zn_mpread_skip_contents(&reader, &val, NULL) < 0) {
            return false;
        }
        if (key.type == ZN_MPT_STR && key.v.bytes.len == 4 &&
            memcmp(key.v.bytes.ptr, "role", 4) == 0) {
            return val.type == ZN_MPT_STR && val.v.bytes.len == 6 &&
                   memcmp(val.v.bytes.ptr, "leader", 6) == 0;
        }
    }
    return false;
}

/* Ask conductor I's admin socket whether it leads. */
static bool
s_leads(const s_cluster_t *c, int i)
{
    const char *endpoints[] = {c->admin[i]};
    zn_client_opts_t copts = {.name = "admin", .endpoints = endpoints, .endpoint_count = 1};
    zn_client_t *client = NULL;
    zn_fault_t fault;
    assert_int_equal(zn_client_open(&client, &copts, &fault), 0);
    zn_reply_t *reply = NULL;
    zn_buf_t none = {NULL, 0};
    bool leads =
        zn_client_call_sync(client, "store_status", NULL, none, 1000, &reply, &fault) == 0 &&
        s_is_leader(zn_reply_env(reply)->body);
    zn_reply_destroy(&reply);
    zn_client_destroy(&client);
    return leads;
}

static int
s_setup(void **state)
{
    s_cluster_t *c = zn_calloc(1, sizeof(*c));
    unsigned raft[S_NODES];
    for (int i = 0; i < S_NODES; i++) {
        raft[i] = s_free_port();
        (void)snprintf(c->call[i], sizeof(c->call[i]), "tcp://127.0.0.1:%u", s_free_port());
        (void)snprintf(c->admin[i], sizeof(c->admin[i]), "tcp://127.0.0.1:%u", s_free_port());
    }
    char *peers = zn_asprintf("store.peers=1@127.0.0.1:%u@%s,2@127.0.0.1:%u@%s,3@127.0.0.1:%u@%s",
                              raft[0], c->call[0], raft[1], c->call[1], raft[2], c->call[2]);
    for (int i = 0; i < S_NODES; i++) {
        char *id = zn_asprintf("store.node_id=%d", i + 1);
        char *addr = zn_asprintf("store.raft_address=127.0.0.1:%u", raft[i]);
        char *call = zn_asprintf("rpc.call_endpoint=%s", c->call[i]);
        char *admin = zn_asprintf("agent.admin_endpoint=%s", c->admin[i]);
        const char *settings[] = {id, addr, call, admin, peers, NULL};
        c->fix[i] = cond_fixture_start(settings);
        zn_str_free(&id);
        zn_str_free(&addr);
        zn_str_free(&call);
        zn_str_free(&admin);
    }
    zn_str_free(&peers);
    c->leader = -1;
    for (int64_t until = zn_clock_mono_ms() + 15000; c->leader < 0;) {
        for (int i = 0; i < S_NODES && c->leader < 0; i++) {
            c->leader = s_leads(c, i) ? i : -1;
        }
        assert_true(c->leader >= 0 || zn_clock_mono_ms() < until);
        if (c->leader < 0) {
            zclock_sleep(50);
        }
    }
    *state = c;
    return 0;
}

static int
s_teardown(void **state)
{
    s_cluster_t *c = *state;
    zn_failpoint_clear_all();
    for (int i = 0; i < S_NODES; i++) {
        cond_fixture_stop(&c->fix[i]);
    }
    zn_free(c);
    return 0;
}

static int
s_follower(const s_cluster_t *c)
{
    return (c->leader + 1) % S_NODES;
}

static zn_sclient_t *
s_client(const char *data_dir, const char *call, int64_t wait_ms)
{
    zn_sclient_t *sc = NULL;
    zn_fault_t fault;
    zn_sclient_opts_t opts = {
        .data_dir = data_dir, .conductor_call = call, .applied_wait_ms = wait_ms};
    assert_int_equal(zn_sclient_open(&sc, &opts, &fault), 0);
    return sc;
}

/* ---- many writes, each read back in its callback ------------------------------------------- */

typedef struct {
    zn_sclient_t *sc;
    const char *prefix;
    int total;
    int sent;
    int done;
    int failed;
    int missing;
    zn_batch_t *batch;
} s_run_t;

typedef struct {
    s_run_t *run;
    int n;
} s_one_t;

/* 0 when KEY holds N in SC's replica, else -ENOENT or another error. */
static int
s_read(zn_sclient_t *sc, const char *key, uint64_t n)
{
    zn_store_read_t *txn = NULL;
    zn_fault_t fault;
    int rc = zn_sclient_read_begin(sc, &txn, &fault);
    s_rec_t rec = {0};
    if (rc == 0) {
        rc = zn_sclient_get(txn, zn_sclient_table(sc, ZN_TABLE_SETTINGS), key, &s_rec_schema, &rec,
                            NULL, &fault);
    }
    zn_store_read_end(&txn);
    if (rc == 0 && rec.n != n) {
        rc = -EIO;
    }
    zn_schema_release(&s_rec_schema, &rec);
    return rc;
}

/* A batch that creates PREFIX-N holding N. */
static void
s_batch(zn_batch_t *batch, const char *prefix, int n)
{
    char *key = zn_asprintf("%s-%d", prefix, n);
    s_rec_t rec = {.n = (uint64_t)n};
    zn_batch_reset(batch);
    assert_int_equal(
        zn_sclient_put(batch, ZN_TABLE_SETTINGS, key, &s_rec_schema, &rec, ZN_BATCH_GEN_ABSENT), 0);
    zn_str_free(&key);
}

static void s_on_written(void *arg, const zn_fault_t *fault);

static void
s_send(s_run_t *run)
{
    s_one_t *one = zn_calloc(1, sizeof(*one));
    *one = (s_one_t){run, run->sent++};
    s_batch(run->batch, run->prefix, one->n);
    assert_int_equal(zn_sclient_write(run->sc, NULL, run->batch, 10000, s_on_written, one), 0);
}

static void
s_on_written(void *arg, const zn_fault_t *fault)
{
    s_one_t *one = arg;
    s_run_t *run = one->run;
    run->done++;
    if (fault->code != 0) {
        (void)fprintf(stderr, "write %d: %s\n", one->n, fault->message);
        run->failed++;
    } else {
        char *key = zn_asprintf("%s-%d", run->prefix, one->n);
        run->missing += s_read(run->sc, key, (uint64_t)one->n) != 0;
        zn_str_free(&key);
    }
    zn_free(one);
    if (run->sent < run->total) {
        s_send(run);
    }
}

static int
s_on_tick(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    s_run_t *run = arg;
    return run->done == run->total ? -1 : 0;
}

/* Write TOTAL records PREFIX-n through a client reading DIR and writing to CALL, S_IN_FLIGHT at
 * a time, reading each back in its callback. Returns the elapsed milliseconds. */
static int64_t
s_run(const char *dir, const char *call, int64_t wait_ms, const char *prefix, int total,
      s_run_t *run)
{
    *run = (s_run_t){.sc = s_client(dir, call, wait_ms),
                     .prefix = prefix,
                     .total = total,
                     .batch = zn_batch_new()};
    zloop_t *loop = zloop_new();
    assert_int_equal(zn_sclient_attach(run->sc, loop), 0);
    for (int i = 0; i < S_IN_FLIGHT && run->sent < total; i++) {
        s_send(run);
    }
    assert_true(zloop_timer(loop, 2, 0, s_on_tick, run) >= 0);
    int64_t start = zn_clock_mono_ms();
    (void)zloop_start(loop);
    int64_t elapsed = zn_clock_mono_ms() - start;
    (void)fprintf(stderr, "%s: %d writes in %" PRId64 " ms, %d missing, %d failed\n", prefix, total,
                  elapsed, run->missing, run->failed);
    zn_batch_destroy(&run->batch);
    zn_sclient_destroy(&run->sc);
    zloop_destroy(&loop);
    return elapsed;
}

/* ---- tests ------------------------------------------------------------------------------- */

/* The agent's replica is a follower's, and it writes through that follower (which forwards). */
static void
test_follower_replica_via_follower(void **state)
{
    s_cluster_t *c = *state;
    int f = s_follower(c);
    s_run_t run;
    (void)s_run(cond_fixture_store_dir(c->fix[f]), c->call[f], 0, "via-follower", S_WRITES, &run);
    assert_int_equal(run.failed, 0);
    assert_int_equal(run.missing, 0);
}

/* The agent's replica is a follower's, and it writes straight to the leader's conductor: the
 * leader answers as soon as it applied, before the follower heard of the commit. */
static void
test_follower_replica_via_leader(void **state)
{
    s_cluster_t *c = *state;
    int f = s_follower(c);
    s_run_t run;
    (void)s_run(cond_fixture_store_dir(c->fix[f]), c->call[c->leader], 0, "via-leader", S_WRITES,
                &run);
    assert_int_equal(run.failed, 0);
    assert_int_equal(run.missing, 0);
}

/* The same with zn_sclient_write_sync. */
static void
test_sync_follower_replica(void **state)
{
    s_cluster_t *c = *state;
    int f = s_follower(c);
    zn_sclient_t *sc = s_client(cond_fixture_store_dir(c->fix[f]), c->call[c->leader], 0);
    zn_batch_t *batch = zn_batch_new();
    int missing = 0;
    for (int n = 0; n < S_WRITES / 2; n++) {
        zn_fault_t fault;
        s_batch(batch, "sync", n);
        assert_int_equal(zn_sclient_write_sync(sc, NULL, batch, 10000, &fault), 0);
        char *key = zn_asprintf("sync-%d", n);
        missing += s_read(sc, key, (uint64_t)n) != 0;
        zn_str_free(&key);
    }
    (void)fprintf(stderr, "sync: %d missing\n", missing);
    assert_int_equal(missing, 0);
    zn_batch_destroy(&batch);
    zn_sclient_destroy(&sc);
}

/* A replica that never catches up (a store of its own, outside the cluster): the callback and
 * write_sync still return success, after applied_wait_ms and not much later. */
static void
test_client_wait_is_bounded(void **state)
{
    s_cluster_t *c = *state;
    char dir[] = "/tmp/zn-ryw-stale.XXXXXX";
    assert_non_null(mkdtemp(dir));
    size_t count = 0;
    const zn_store_table_def_t *tables = zn_tables(&count);
    zn_store_opts_t sopts = {.path = dir, .tables = tables, .table_count = count};
    zn_store_t *stale = NULL;
    zn_fault_t fault;
    assert_int_equal(zn_store_open(&stale, &sopts, &fault), 0);
    zn_store_destroy(&stale);

    s_run_t run;
    int64_t ms = s_run(dir, c->call[c->leader], 300, "stale", 1, &run);
    assert_int_equal(run.failed, 0);
    assert_int_equal(run.missing, 1); /* not in this replica: the wait gave up */
    assert_true(ms >= 300 && ms < 3000);

    zn_sclient_t *sc = s_client(dir, c->call[c->leader], 300);
    zn_batch_t *batch = zn_batch_new();
    s_batch(batch, "stale-sync", 0);
    int64_t start = zn_clock_mono_ms();
    assert_int_equal(zn_sclient_write_sync(sc, NULL, batch, 10000, &fault), 0);
    ms = zn_clock_mono_ms() - start;
    assert_true(ms >= 300 && ms < 3000);
    zn_batch_destroy(&batch);
    zn_sclient_destroy(&sc);
    char *cmd = zn_asprintf("rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    zn_str_free(&cmd);
}

/* A follower conductor whose replica (as the failpoint pretends) does not apply the forwarded
 * write answers anyway after its own bounded wait, and the write is there. */
static void
test_conductor_wait_is_bounded(void **state)
{
    s_cluster_t *c = *state;
    int f = s_follower(c);
    zn_failpoint_set("conductor.store_applied", -EAGAIN, -1);
    s_run_t run;
    int64_t ms = s_run(cond_fixture_store_dir(c->fix[f]), c->call[f], 0, "lagging", 1, &run);
    int fired = zn_failpoint_fired("conductor.store_applied");
    zn_failpoint_clear_all();
    assert_true(fired > 0);
    assert_int_equal(run.failed, 0);
    assert_int_equal(run.missing, 0);
    assert_true(ms >= 1000 && ms < 4000);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_follower_replica_via_follower),
        cmocka_unit_test(test_follower_replica_via_leader),
        cmocka_unit_test(test_sync_follower_replica),
        cmocka_unit_test(test_client_wait_is_bounded),
        cmocka_unit_test(test_conductor_wait_is_bounded),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
