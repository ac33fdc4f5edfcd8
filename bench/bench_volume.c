/* SPDX-License-Identifier: Apache-2.0 */
/* bench_volume - zinc-volume in-process beside a real conductor (single-node raft, fsync on
 * every commit) and identity, creating 1 GiB raw volumes through its REST API:
 *
 *   accepted:  POST /v3/{project}/volumes answered 202 (quota and record committed)
 *   available: until every one of them is "available" (backing file made, second commit)
 * with S_CLIENTS HTTP clients in parallel, min/median/max over repetitions. Last line:
 *   volume: creates_per_s=X  (the "available" rate: each create finished end to end) */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

#include "vol_fixture.h"
#include "zn_clock.h"
#include "zn_mem.h"

#define S_REPS    5
#define S_CREATES 1000
#define S_CLIENTS 32

#define S_PER_CLIENT (S_CREATES / S_CLIENTS)

typedef struct {
    uint16_t port;
    const char *token;
    const char *project;
    int count;
    int failures;
    char ids[S_PER_CLIENT][64]; /* what this client made, deleted between repetitions */
} s_worker_t;

static void *
s_work(void *arg)
{
    s_worker_t *w = arg;
    char *path = zn_asprintf("/volume/v3/%s/volumes", w->project);
    for (int i = 0; i < w->count; i++) {
        json_t *json = NULL;
        int status =
            vol_fixture_http(w->port, "POST", path, w->token,
                             "{\"volume\": {\"size\": 1, \"name\": \"bench\"}}", &json, NULL, 0);
        const char *id = json_string_value(json_object_get(json_object_get(json, "volume"), "id"));
        (void)snprintf(w->ids[i], sizeof(w->ids[i]), "%s", id != NULL ? id : "");
        json_decref(json);
        if (status != 202 && w->failures++ == 0) {
            fprintf(stderr, "bench_volume: a create answered %d\n", status);
        }
    }
    zn_free(path);
    return NULL;
}

static void *
s_clean(void *arg)
{
    s_worker_t *w = arg;
    for (int i = 0; i < w->count; i++) {
        char *path = zn_asprintf("/volume/v3/%s/volumes/%s", w->project, w->ids[i]);
        w->failures +=
            vol_fixture_http(w->port, "DELETE", path, w->token, NULL, NULL, NULL, 0) != 202;
        zn_free(path);
    }
    return NULL;
}

/* Run FN on every worker in parallel; the failures they count. */
static int
s_parallel(s_worker_t *workers, void *(*fn)(void *))
{
    pthread_t threads[S_CLIENTS];
    for (int i = 0; i < S_CLIENTS; i++) {
        workers[i].failures = 0;
        if (pthread_create(&threads[i], NULL, fn, &workers[i]) != 0) {
            return S_CREATES;
        }
    }
    int failures = 0;
    for (int i = 0; i < S_CLIENTS; i++) {
        (void)pthread_join(threads[i], NULL);
        failures += workers[i].failures;
    }
    return failures;
}

/* True once no volume of the project is still "creating". */
static bool
s_all_available(const vol_fixture_t *fix)
{
    char *path = zn_asprintf("/volume/v3/%s/volumes?status=creating&limit=1",
                             vol_fixture_admin_project(fix));
    json_t *json = NULL;
    int status = vol_fixture_http(vol_fixture_port(fix), "GET", path, vol_fixture_admin_token(fix),
                                  NULL, &json, NULL, 0);
    bool done = status == 200 && json_array_size(json_object_get(json, "volumes")) == 0;
    json_decref(json);
    zn_free(path);
    return done;
}

static int
s_compare(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;
    return (x > y) - (x < y);
}

static void
s_print(const char *what, double *v)
{
    qsort(v, S_REPS, sizeof(*v), s_compare);
    printf("  %-12s min=%10.1f median=%10.1f max=%10.1f creates/s\n", what, v[0], v[S_REPS / 2],
           v[S_REPS - 1]);
}

/* One repetition: the accepted and available rates into *accepted and *available; then the
 * volumes are deleted (not timed) so that every repetition starts from the same table. */
static int
s_rep(const vol_fixture_t *fix, s_worker_t *workers, double *accepted, double *available)
{
    for (int i = 0; i < S_CLIENTS; i++) {
        workers[i] = (s_worker_t){.port = vol_fixture_port(fix),
                                  .token = vol_fixture_admin_token(fix),
                                  .project = vol_fixture_admin_project(fix),
                                  .count = S_PER_CLIENT};
    }
    int64_t start = zn_clock_mono_us();
    int failures = s_parallel(workers, s_work);
    int64_t answered = zn_clock_mono_us();
    int64_t deadline = answered + 60 * 1000000;
    while (!s_all_available(fix) && zn_clock_mono_us() < deadline) {
        zclock_sleep(1); /* polling the API, as a client waiting for its volumes does */
    }
    int64_t done = zn_clock_mono_us();
    *accepted = S_PER_CLIENT * S_CLIENTS * 1e6 / (double)(answered - start);
    *available = S_PER_CLIENT * S_CLIENTS * 1e6 / (double)(done - start);
    if (failures > 0 || done >= deadline) {
        fprintf(stderr, "bench_volume: %d creates failed%s\n", failures,
                done >= deadline ? ", some never became available" : "");
        return -1;
    }
    failures = s_parallel(workers, s_clean);
    if (failures > 0) {
        fprintf(stderr, "bench_volume: %d deletes failed\n", failures);
        return -1;
    }
    return 0;
}

int
main(void)
{
    zsys_handler_set(NULL);
    const char *const settings[] = {"quota.volumes=-1", "quota.gigabytes=-1",
                                    "agent.log_level=error", NULL};
    vol_fixture_t *fix = vol_fixture_start(settings);
    double accepted[S_REPS];
    double available[S_REPS];
    s_worker_t *workers = zn_calloc(S_CLIENTS, sizeof(*workers));
    int rc = 0;
    for (int r = 0; r < S_REPS && rc == 0; r++) {
        rc = s_rep(fix, workers, &accepted[r], &available[r]);
    }
    zn_free(workers);
    vol_fixture_stop(&fix);
    if (rc < 0) {
        return EXIT_FAILURE;
    }
    printf("volume creates through REST (%d per repetition, %d clients, 1 GiB raw, fsync'd "
           "single-node store):\n",
           S_CREATES, S_CLIENTS);
    s_print("accepted", accepted);
    s_print("available", available);
    qsort(available, S_REPS, sizeof(*available), s_compare);
    printf("volume: creates_per_s=%.0f\n", available[S_REPS / 2]);
    return EXIT_SUCCESS;
}
