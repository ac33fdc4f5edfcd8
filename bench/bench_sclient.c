/* SPDX-License-Identifier: Apache-2.0 */
/* bench_sclient - what a controller agent's store write costs through zn_sclient and a real
 * single-node conductor (in this process): latency with one write in flight, and throughput
 * with 64 in flight, each write followed by a read of it from the local replica. Measures the
 * read-your-writes wait (zero on a single node: the replica is the leader). `bench/run sclient
 * [REPS]`. Prints min/median/max over repetitions. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

#include "cond_fixture.h"
#include "zn_clock.h"
#include "zn_mem.h"
#include "zn_sclient.h"
#include "zn_str.h"
#include "zn_tables.h"

#define S_REPS_MAX 20
#define S_SINGLE   300
#define S_MANY     3000
#define S_FLIGHT   64

typedef struct {
    zn_sclient_t *sc;
    zn_batch_t *batch;
    int rep;
    int total;
    int sent;
    int done;
    int failed;
    int missing;
    int64_t lat_us_sum;
} s_run_t;

typedef struct {
    s_run_t *run;
    int n;
    int64_t start_us;
} s_one_t;

static void
s_key(char *key, size_t size, int rep, int flight, int n)
{
    (void)snprintf(key, size, "bench-%d-%d-%d", rep, flight, n);
}

static void s_on_written(void *arg, const zn_fault_t *fault);

static void
s_send(s_run_t *run, int flight)
{
    s_one_t *one = zn_calloc(1, sizeof(*one));
    *one = (s_one_t){run, run->sent++, zn_clock_mono_us()};
    char key[64];
    s_key(key, sizeof(key), run->rep, flight, one->n);
    static const uint8_t value[] = {0x80}; /* an empty map */
    zn_batch_reset(run->batch);
    if (zn_batch_put(run->batch, ZN_TABLE_SETTINGS, zn_batch_str(key),
                     (zn_buf_t){value, sizeof(value)}, ZN_BATCH_GEN_ANY) < 0 ||
        zn_sclient_write(run->sc, NULL, run->batch, 10000, s_on_written, one) < 0) {
        abort();
    }
}

static void
s_on_written(void *arg, const zn_fault_t *fault)
{
    s_one_t *one = arg;
    s_run_t *run = one->run;
    run->done++;
    run->lat_us_sum += zn_clock_mono_us() - one->start_us;
    run->failed += fault->code != 0;
    zn_store_read_t *txn = NULL;
    zn_fault_t why;
    char key[64];
    s_key(key, sizeof(key), run->rep, run->total == S_SINGLE ? 1 : S_FLIGHT, one->n);
    zn_store_record_t rec;
    if (zn_sclient_read_begin(run->sc, &txn, &why) < 0 ||
        zn_store_get(txn, zn_sclient_table(run->sc, ZN_TABLE_SETTINGS), zn_batch_str(key), &rec) <
            0) {
        run->missing++;
    }
    zn_store_read_end(&txn);
    zn_free(one);
    if (run->sent < run->total) {
        s_send(run, run->total == S_SINGLE ? 1 : S_FLIGHT);
    }
}

static int
s_on_tick(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    const s_run_t *run = arg;
    return run->done == run->total ? -1 : 0;
}

/* TOTAL writes with FLIGHT in flight; returns the seconds taken, *mean_us the mean latency. */
static double
s_measure(zn_sclient_t *sc, zloop_t *loop, int rep, int total, int flight, double *mean_us)
{
    s_run_t run = {.sc = sc, .batch = zn_batch_new(), .rep = rep, .total = total};
    int timer = zloop_timer(loop, 1, 0, s_on_tick, &run);
    int64_t start = zn_clock_mono_us();
    for (int i = 0; i < flight && run.sent < total; i++) {
        s_send(&run, flight);
    }
    (void)zloop_start(loop);
    double secs = (double)(zn_clock_mono_us() - start) / 1e6;
    (void)zloop_timer_end(loop, timer);
    zn_batch_destroy(&run.batch);
    if (run.failed > 0 || run.missing > 0) {
        (void)fprintf(stderr, "bench_sclient: %d failed, %d missing\n", run.failed, run.missing);
        exit(1);
    }
    *mean_us = (double)run.lat_us_sum / total;
    return secs;
}

static int
s_cmp(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;
    return (x > y) - (x < y);
}

static void
s_report(const char *what, const char *unit, double *v, int reps)
{
    qsort(v, (size_t)reps, sizeof(*v), s_cmp);
    printf("  %-40s min %9.1f  median %9.1f  max %9.1f %s\n", what, v[0], v[reps / 2], v[reps - 1],
           unit);
}

/* What read-your-writes adds to each write on a node whose replica is up to date: one look at
 * the replica's applied sequence (by the client; a follower conductor makes the same one). */
static double
s_look_ns(const char *dir)
{
    size_t count = 0;
    const zn_store_table_def_t *tables = zn_tables(&count);
    zn_store_opts_t opts = {
        .path = dir, .tables = tables, .table_count = count, .mode = ZN_STORE_READ_ONLY};
    zn_store_t *store = NULL;
    zn_fault_t fault;
    if (zn_store_open(&store, &opts, &fault) < 0) {
        abort();
    }

    enum {
        LOOKS = 200000
    };

    uint64_t seq = 0;
    int64_t start = zn_clock_mono_us();
    for (int i = 0; i < LOOKS; i++) {
        if (zn_store_applied_seq(store, &seq) < 0) {
            abort();
        }
    }
    double ns = (double)(zn_clock_mono_us() - start) * 1000.0 / LOOKS;
    zn_store_destroy(&store);
    return ns;
}

int
main(int argc, char **argv)
{
    long reps_arg = argc > 1 ? strtol(argv[1], NULL, 10) : 5;
    int reps = reps_arg < 1 ? 1 : reps_arg > S_REPS_MAX ? S_REPS_MAX : (int)reps_arg;
    cond_fixture_t *cond = cond_fixture_start(NULL);
    zn_sclient_opts_t opts = {.data_dir = cond_fixture_store_dir(cond),
                              .conductor_call = cond_fixture_call(cond)};
    zn_sclient_t *sc = NULL;
    zn_fault_t fault;
    zloop_t *loop = zloop_new();
    if (zn_sclient_open(&sc, &opts, &fault) < 0 || zn_sclient_attach(sc, loop) < 0) {
        abort();
    }
    double lat[S_REPS_MAX];
    double rate[S_REPS_MAX];
    double many_lat[S_REPS_MAX];
    double look[S_REPS_MAX];
    for (int i = 0; i < reps; i++) {
        (void)s_measure(sc, loop, i, S_SINGLE, 1, &lat[i]);
        rate[i] = S_MANY / s_measure(sc, loop, i, S_MANY, S_FLIGHT, &many_lat[i]);
        look[i] = s_look_ns(cond_fixture_store_dir(cond));
    }
    printf("sclient: single-node conductor, write then read back, %d runs\n", reps);
    s_report("write latency, 1 in flight", "us", lat, reps);
    s_report("write latency, 64 in flight", "us", many_lat, reps);
    s_report("writes/s, 64 in flight", "/s", rate, reps);
    s_report("one look at the replica's applied_seq", "ns", look, reps);
    zn_sclient_destroy(&sc);
    zloop_destroy(&loop);
    cond_fixture_stop(&cond);
    return 0;
}
