/* SPDX-License-Identifier: Apache-2.0 */
/* bench_identity - zinc-identity in-process at the interactive Argon2id cost:
 *
 *   issue:            password logins over HTTP, one after the other (bounded by Argon2id)
 *   validate_uncached: `validate` calls over ZeroMQ, 64 in flight, each one a full check
 *                      (decrypt, expiry, revocation, user/project/assignments from LMDB)
 *   validate_cached:   zn_idclient_lookup of a token the client validated before
 * min/median/max over repetitions. Last line:
 *   identity: issue_per_s=X validate_cached_per_s=Y validate_uncached_per_s=Z */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

#include "id_fixture.h"
#include "zn_client.h"
#include "zn_clock.h"
#include "zn_idclient.h"
#include "zn_log.h"
#include "zn_password.h"
#include "zn_sig.h"

#define S_REPS      5
#define S_LOGINS    6
#define S_CALLS     100000
#define S_IN_FLIGHT 64
#define S_LOOKUPS   2000000
#define S_TOKEN_MAX 2048

typedef struct s_stats {
    double min;
    double median;
    double max;
} s_stats_t;

static int
s_compare(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;
    return (x > y) - (x < y);
}

static s_stats_t
s_stats(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), s_compare);
    s_stats_t s = {v[0], v[n / 2], v[n - 1]};
    return s;
}

static void
s_print(const char *what, s_stats_t s, const char *unit)
{
    printf("  %-26s min=%12.1f median=%12.1f max=%12.1f %s\n", what, s.min, s.median, s.max, unit);
}

static double
s_issue_rate(const id_fixture_t *fix)
{
    char token[S_TOKEN_MAX];
    int64_t start = zn_clock_mono_us();
    for (int i = 0; i < S_LOGINS; i++) {
        if (id_fixture_login(fix, "admin", "secret", "admin", token, sizeof(token)) != 201) {
            fprintf(stderr, "bench_identity: login failed\n");
            exit(1);
        }
    }
    return S_LOGINS * 1e6 / (double)(zn_clock_mono_us() - start);
}

typedef struct s_flood {
    zn_client_t *client;
    zn_ctx_t ctx;
    int sent;
    int answered;
    int failed;
} s_flood_t;

static void s_on_reply(void *arg, const zn_env_t *reply, const zn_fault_t *fault);

static void
s_send(s_flood_t *flood)
{
    zn_buf_t none = {NULL, 0};
    if (zn_client_call(flood->client, ZN_IDCLIENT_METHOD, &flood->ctx, none, 5000, s_on_reply,
                       flood) == 0) {
        flood->sent++;
    }
}

static void
s_on_reply(void *arg, const zn_env_t *reply, const zn_fault_t *fault)
{
    (void)reply;
    s_flood_t *flood = arg;
    flood->answered++;
    flood->failed += fault->code < 0;
    if (flood->sent < S_CALLS) {
        s_send(flood);
    }
}

static int
s_on_tick(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    const s_flood_t *flood = arg;
    return flood->answered >= S_CALLS ? -1 : 0;
}

static double
s_uncached_rate(const id_fixture_t *fix, const char *token)
{
    const char *endpoint = id_fixture_call_endpoint(fix);
    zn_client_opts_t opts = {.name = "identity", .endpoints = &endpoint, .endpoint_count = 1};
    s_flood_t flood = {0};
    zn_fault_t fault;
    zloop_t *loop = zloop_new();
    if (zn_client_open(&flood.client, &opts, &fault) != 0 ||
        zn_client_attach(flood.client, loop) != 0) {
        exit(1);
    }
    flood.ctx.token = (zn_buf_t){(const uint8_t *)token, strlen(token)};
    (void)zloop_timer(loop, 1, 0, s_on_tick, &flood);
    int64_t start = zn_clock_mono_us();
    for (int i = 0; i < S_IN_FLIGHT; i++) {
        s_send(&flood);
    }
    (void)zloop_start(loop);
    double rate = flood.answered * 1e6 / (double)(zn_clock_mono_us() - start);
    if (flood.failed > 0) {
        fprintf(stderr, "bench_identity: %d validations failed\n", flood.failed);
        exit(1);
    }
    zn_client_destroy(&flood.client);
    zloop_destroy(&loop);
    return rate;
}

static double
s_cached_rate(zn_idclient_t *client, const char *token)
{
    zn_buf_t buf = {(const uint8_t *)token, strlen(token)};
    int64_t start = zn_clock_mono_us();
    size_t hits = 0;
    for (int i = 0; i < S_LOOKUPS; i++) {
        hits += zn_idclient_lookup(client, buf) != NULL;
    }
    double rate = (double)hits * 1e6 / (double)(zn_clock_mono_us() - start);
    return hits == S_LOOKUPS ? rate : 0;
}

int
main(void)
{
    zn_signals_block();
    zn_log_set_level(ZN_LOG_W); /* the agent's lifecycle lines would interleave with figures */
    const char *cost = getenv("ZN_BENCH_HASH_COST") ? getenv("ZN_BENCH_HASH_COST") : "interactive";
    id_fixture_t *fix = id_fixture_start(cost);
    zn_password_cost_t parsed = ZN_PASSWORD_INTERACTIVE;
    if (zn_password_cost_parse(cost, &parsed) < 0) {
        fprintf(stderr, "bench_identity: ZN_BENCH_HASH_COST=%s is not a cost\n", cost);
        return 64;
    }
    printf("identity: password hashing %s; %d logins, %d calls (%d in flight), %d lookups per "
           "rep, %d reps\n",
           zn_password_cost_describe(parsed), S_LOGINS, S_CALLS, S_IN_FLIGHT, S_LOOKUPS, S_REPS);
    char token[S_TOKEN_MAX];
    if (id_fixture_login(fix, "admin", "secret", "admin", token, sizeof(token)) != 201) {
        return 1;
    }
    const char *endpoint = id_fixture_call_endpoint(fix);
    zn_idclient_opts_t opts = {
        .endpoints = &endpoint, .endpoint_count = 1, .cache_ttl_ms = 3600000};
    zn_idclient_t *client = NULL;
    zn_idclient_auth_t auth;
    zn_fault_t fault;
    if (zn_idclient_open(&client, &opts, &fault) != 0 ||
        zn_idclient_validate_sync(client, (zn_buf_t){(const uint8_t *)token, strlen(token)}, 5000,
                                  &auth, &fault) != 0) {
        fprintf(stderr, "bench_identity: %s\n", fault.message);
        return 1;
    }
    zn_schema_release(&zn_idclient_auth_schema, &auth);
    double issue[S_REPS];
    double uncached[S_REPS];
    double cached[S_REPS];
    for (int rep = 0; rep < S_REPS; rep++) {
        issue[rep] = s_issue_rate(fix);
        uncached[rep] = s_uncached_rate(fix, token);
        cached[rep] = s_cached_rate(client, token);
    }
    s_stats_t i = s_stats(issue, S_REPS);
    s_stats_t u = s_stats(uncached, S_REPS);
    s_stats_t c = s_stats(cached, S_REPS);
    s_print("token issue (HTTP)", i, "tokens/s");
    s_print("validate uncached (ZeroMQ)", u, "calls/s");
    s_print("validate cached (client)", c, "lookups/s");
    zn_idclient_destroy(&client);
    id_fixture_stop(&fix);
    printf("identity: issue_per_s=%.1f validate_cached_per_s=%.0f validate_uncached_per_s=%.0f\n",
           i.median, c.median, u.median);
    return 0;
}
