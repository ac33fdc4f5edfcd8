/* SPDX-License-Identifier: Apache-2.0 */
/* bench_scheduler - placement decisions per second among 1,000 and 10,000 simulated hosts with
 * every filter and weigher on (zn_sched_hosts: the decision in memory plus its in-memory claim
 * accounting, no store round trip), then two zinc-schedulers racing for claims on one real
 * conductor and store holding 10,000 hosts: committed claims per second end to end and the
 * share of claims the store refused. Prints min/median/max over repetitions; the last line is
 * `scheduler: decisions_per_s_10k=X conflicts_pct=Y`. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

#include "cond_fixture.h"
#include "zn_client.h"
#include "zn_clock.h"
#include "zn_mem.h"
#include "zn_mpread.h"
#include "zn_sched_hosts.h"
#include "zn_scheduler.h"
#include "zn_sclient.h"
#include "zn_str.h"
#include "zn_tables.h"

#define S_REPS           5
#define S_DECISIONS      20000 /* in-memory decisions per repetition */
#define S_RACE_REPS      3
#define S_RACE_CALLS     4000 /* select_destinations per repetition */
#define S_RACE_IN_FLIGHT 64   /* per scheduler */
#define S_RACE_HOSTS     10000

#define S_C(text) ((char *)(uintptr_t)(text))

typedef struct {
    double v[S_REPS];
    size_t count;
} s_stats_t;

static int
s_cmp(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;
    return (x > y) - (x < y);
}

static double
s_report(const char *what, s_stats_t *stats)
{
    qsort(stats->v, stats->count, sizeof(stats->v[0]), s_cmp);
    printf("scheduler: %-58s min=%10.0f median=%10.0f max=%10.0f\n", what, stats->v[0],
           stats->v[stats->count / 2], stats->v[stats->count - 1]);
    return stats->v[stats->count / 2];
}

static uint64_t s_rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t
s_rng(void)
{
    s_rng_state ^= s_rng_state << 13;
    s_rng_state ^= s_rng_state >> 7;
    s_rng_state ^= s_rng_state << 17;
    return s_rng_state;
}

static const char *const s_zones[] = {"az1", "az2", "az3"};

/* Host I of a simulated cloud: three zones, a tenth of it aarch64, a few disabled, sizes from 32
 * to 128 cores (ratio 4, 4 reserved) and 128 to 512 GiB. */
static zn_cell_host_t
s_sim_host(int i, char *name, size_t cap)
{
    (void)snprintf(name, cap, "node%05d", i);
    zn_cell_host_t h = {
        .host = name,
        .vcpus = (int64_t)32 * (1 + i % 4),
        .ram_mb = (int64_t)131072 * (1 + i % 4),
        .disk_gb = 2000,
        .vcpus_reserved = 4,
        .ram_mb_reserved = 4096,
        .cpu_ratio = 4.0,
        .ram_ratio = 1.0,
        .disk_ratio = 1.0,
        .hypervisor_type = S_C("QEMU"),
        .arch = S_C(i % 10 == 9 ? "aarch64" : "x86_64"),
        .availability_zone = S_C(s_zones[i % 3]),
        .disabled = i % 97 == 0,
    };
    return h;
}

static zn_sched_hosts_t *
s_sim_hosts(int count, bool pack)
{
    zn_sched_policy_t policy = {.ram_multiplier = 1.0,
                                .cpu_multiplier = 1.0,
                                .disk_multiplier = 0.5,
                                .pack = pack,
                                .host_subset_size = 3,
                                .seed = 7};
    zn_sched_hosts_t *hosts = zn_sched_hosts_new(&policy);
    for (int i = 0; i < count; i++) {
        char name[32];
        zn_cell_host_t h = s_sim_host(i, name, sizeof(name));
        if (zn_sched_hosts_update(hosts, &h, 1) < 0) {
            abort();
        }
    }
    return hosts;
}

/* A request like a real mix: flavors of 1 to 8 vCPUs, half pinned to a zone, a fifth asking
 * x86_64, some avoiding two hosts, some in an anti-affinity group spread over five hosts. */
static void
s_sim_request(zn_sched_request_t *req, const char *const *names, int host_count)
{
    static const int64_t vcpus[] = {1, 2, 4, 8};
    int flavor = (int)(s_rng() % 4);
    memset(req, 0, sizeof(*req));
    req->vcpus = vcpus[flavor];
    req->ram_mb = 2048 * vcpus[flavor];
    req->disk_gb = (int64_t)20 * (1 + flavor);
    req->alternates = 2;
    uint64_t r = s_rng();
    req->availability_zone = r % 2 == 0 ? s_zones[(r >> 8) % 3] : NULL;
    req->image_arch = r % 5 == 0 ? "x86_64" : NULL;
    req->image_hypervisor_type = r % 7 == 0 ? "qemu" : NULL;
    if (r % 4 == 0) {
        req->different_host = names + (r >> 16) % (uint64_t)(host_count - 2);
        req->different_host_count = 2;
    }
    if (r % 10 == 0) {
        req->group_policy = ZN_SCHED_GROUP_ANTI_AFFINITY;
        req->group_hosts = names + (r >> 24) % (uint64_t)(host_count - 5);
        req->group_host_count = 5;
    }
}

/* Decisions per second among COUNT hosts (spread, or PACK): select, then count the claim in
 * memory. */
static double
s_decide_rate(int count, bool pack, int64_t *failures)
{
    zn_sched_hosts_t *hosts = s_sim_hosts(count, pack);
    char **names = zn_calloc((size_t)count, sizeof(char *));
    for (int i = 0; i < count; i++) {
        names[i] = zn_asprintf("node%05d", i);
    }
    int64_t start = zn_clock_mono_us();
    for (int i = 0; i < S_DECISIONS; i++) {
        zn_sched_request_t req;
        s_sim_request(&req, (const char *const *)names, count);
        zn_sched_pick_t pick;
        zn_sched_claim_t claim;
        zn_fault_t fault;
        if (zn_sched_hosts_select(hosts, &req, &pick, &fault) != 0) {
            (*failures)++;
            continue;
        }
        if (zn_sched_hosts_reserve(hosts, pick.hosts[0], &req, &claim) == 0) {
            zn_sched_hosts_settle(hosts, pick.hosts[0], true);
        }
    }
    double elapsed_s = (double)(zn_clock_mono_us() - start) / 1e6;
    for (int i = 0; i < count; i++) {
        zn_free(names[i]);
    }
    zn_free(names);
    zn_sched_hosts_destroy(&hosts);
    return S_DECISIONS / elapsed_s;
}

/* ---- two schedulers racing for claims in one store ---------------------------------------- */

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
        (void)fprintf(stderr, "bench_scheduler: %s\n", fault.message);
        exit(1);
    }
}

static void
s_sched_start(s_sched_t *s, const cond_fixture_t *fix, const char *partition)
{
    zn_cfg_defaults(&s->cfg, zn_scheduler_options);
    const char *fixed[] = {"agent.admin_endpoint=tcp://127.0.0.1:*", "agent.log_level=warn",
                           "rpc.call_endpoint=tcp://127.0.0.1:*", "scheduler.check_alive=false"};
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
    line = zn_asprintf("scheduler.partition=%s", partition);
    s_set(s, line);
    zn_str_free(&line);
    s->actor = zactor_new(s_sched_actor, s);
}

static void
s_sched_stop(s_sched_t *s)
{
    zactor_destroy(&s->actor);
    zn_cfg_release(&s->cfg, zn_scheduler_options);
}

static zn_client_t *
s_client(const char *endpoint, zloop_t *loop)
{
    const char *endpoints[] = {endpoint};
    zn_client_opts_t copts = {.name = "bench", .endpoints = endpoints, .endpoint_count = 1};
    zn_client_t *client = NULL;
    zn_fault_t fault;
    if (zn_client_open(&client, &copts, &fault) < 0 ||
        (loop != NULL && zn_client_attach(client, loop) < 0)) {
        (void)fprintf(stderr, "bench_scheduler: client: %s\n", fault.message);
        exit(1);
    }
    return client;
}

/* COUNT hosts in the store; a handful are made huge, so that they take every request. */
static void
s_store_hosts(const cond_fixture_t *fix, int count)
{
    zn_sclient_opts_t sopts = {.data_dir = cond_fixture_store_dir(fix),
                               .conductor_call = cond_fixture_call(fix)};
    zn_sclient_t *sc = NULL;
    zn_fault_t fault;
    if (zn_sclient_open(&sc, &sopts, &fault) < 0) {
        exit(1);
    }
    for (int first = 0; first < count; first += 1000) {
        zn_batch_t *batch = zn_batch_new();
        for (int i = first; i < first + 1000 && i < count; i++) {
            char name[32];
            zn_cell_host_t h = s_sim_host(i, name, sizeof(name));
            h.disabled = false;
            if (count < 100) {
                h.vcpus = 1000000;
                h.ram_mb = (int64_t)1 << 40;
                h.disk_gb = (int64_t)1 << 30;
            }
            if (zn_sclient_put(batch, ZN_TABLE_HOSTS, name, &zn_cell_host_schema, &h,
                               ZN_BATCH_GEN_ANY) < 0) {
                exit(1);
            }
        }
        if (zn_sclient_write_sync(sc, NULL, batch, 10000, &fault) < 0) {
            (void)fprintf(stderr, "bench_scheduler: hosts: %s\n", fault.message);
            exit(1);
        }
        zn_batch_destroy(&batch);
    }
    zn_sclient_destroy(&sc);
}

/* Counter NAME of the "detail" map in an admin `status` answer BODY, 0 when absent. */
static uint64_t
s_detail_counter(zn_buf_t body, const char *name)
{
    zn_mpread_t r;
    zn_mpval_t v;
    zn_mpread_init(&r, body);
    bool in_detail = false;
    uint64_t value = 0;
    while (zn_mpread_next(&r, &v, NULL) == 0) {
        if (v.type != ZN_MPT_STR) {
            continue; /* map headers and values we do not want */
        }
        bool is_detail = v.v.bytes.len == 6 && memcmp(v.v.bytes.ptr, "detail", 6) == 0;
        bool is_name = in_detail && v.v.bytes.len == strlen(name) &&
                       memcmp(v.v.bytes.ptr, name, v.v.bytes.len) == 0;
        in_detail = in_detail || is_detail;
        if (is_name && zn_mpread_next(&r, &v, NULL) == 0 && v.type == ZN_MPT_UINT) {
            value = v.v.u;
        }
    }
    return value;
}

static uint64_t
s_admin_counter(const char *admin, const char *name)
{
    zn_client_t *client = s_client(admin, NULL);
    zn_ctx_t ctx;
    memset(&ctx, 0, sizeof(ctx));
    zn_reply_t *reply = NULL;
    zn_fault_t fault;
    uint64_t value = 0;
    zn_buf_t empty = {NULL, 0};
    if (zn_client_call_sync(client, "status", &ctx, empty, 5000, &reply, &fault) == 0) {
        value = s_detail_counter(zn_reply_env(reply)->body, name);
        zn_reply_destroy(&reply);
    }
    zn_client_destroy(&client);
    return value;
}

/* One repetition's requests: S_RACE_IN_FLIGHT per scheduler at all times, like a boot storm
 * fed by an api that keeps that many builds scheduling. */
typedef struct s_race s_race_t;

typedef struct {
    s_race_t *race;
    int scheduler;
} s_lane_t;

struct s_race {
    zn_client_t *const *clients;
    zn_pack_t *pack;
    int rep;
    bool zones; /* half the requests pinned to a zone (not with a handful of hosts) */
    int sent;
    int answered;
    int placed;
    int failed;
    s_lane_t lanes[2];
};

static void s_race_answered(void *arg, const zn_env_t *reply, const zn_fault_t *fault);

/* Send the next request on LANE's scheduler. */
static void
s_race_send(s_lane_t *lane)
{
    s_race_t *race = lane->race;
    int i = race->sent++;
    char id[48];
    (void)snprintf(id, sizeof(id), "bench-%d-%05d", race->rep, i);
    zn_pack_t *pack = race->pack;
    zn_pack_reset(pack);
    zn_pack_map(pack, 5);
    zn_pack_str(pack, "instance_id");
    zn_pack_str(pack, id);
    zn_pack_str(pack, "vcpus");
    zn_pack_i64(pack, 1 + i % 4);
    zn_pack_str(pack, "ram_mb");
    zn_pack_i64(pack, 2048);
    zn_pack_str(pack, "disk_gb");
    zn_pack_i64(pack, 20);
    zn_pack_str(pack, "availability_zone");
    zn_pack_str(pack, i % 2 == 0 && race->zones ? s_zones[i % 3] : NULL);
    zn_ctx_t ctx;
    memset(&ctx, 0, sizeof(ctx));
    if (zn_client_call(race->clients[lane->scheduler], "select_destinations", &ctx,
                       zn_pack_buf(pack), 60000, s_race_answered, lane) < 0) {
        exit(1);
    }
}

static void
s_race_answered(void *arg, const zn_env_t *reply, const zn_fault_t *fault)
{
    (void)reply;
    s_lane_t *lane = arg;
    s_race_t *race = lane->race;
    race->answered++;
    race->placed += fault->code == 0 ? 1 : 0;
    race->failed += fault->code == 0 ? 0 : 1;
    if (race->sent < S_RACE_CALLS) {
        s_race_send(lane);
    }
}

static int
s_race_done(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    const s_race_t *race = arg;
    return race->answered == S_RACE_CALLS ? -1 : 0;
}

/* One repetition: S_RACE_CALLS requests shared by the two schedulers. Returns committed claims
 * per second. */
static double
s_race_once(zn_client_t *const *clients, zloop_t *loop, int rep, bool zones)
{
    s_race_t race = {.clients = clients, .pack = zn_pack_new(), .rep = rep, .zones = zones};
    int64_t start = zn_clock_mono_us();
    for (int lane = 0; lane < 2; lane++) {
        race.lanes[lane] = (s_lane_t){&race, lane};
        for (int i = 0; i < S_RACE_IN_FLIGHT; i++) {
            s_race_send(&race.lanes[lane]);
        }
    }
    int timer = zloop_timer(loop, 5, 0, s_race_done, &race);
    if (timer < 0) {
        exit(1);
    }
    zloop_start(loop);
    zloop_timer_end(loop, timer);
    double elapsed_s = (double)(zn_clock_mono_us() - start) / 1e6;
    zn_pack_destroy(&race.pack);
    if (race.failed > 0) {
        (void)fprintf(stderr, "bench_scheduler: %d requests failed\n", race.failed);
    }
    return race.placed / elapsed_s;
}

/* SCHEDULERS (1 or 2) on one conductor and store with HOST_COUNT hosts, with shares
 * (partition 0/2 and 1/2) or without: claims per second and the conflict share. */
static double
s_race(int schedulers, int host_count, bool shares)
{
    cond_fixture_t *fix = cond_fixture_start(NULL);
    s_store_hosts(fix, host_count);
    s_sched_t scheds[2];
    memset(scheds, 0, sizeof(scheds));
    zloop_t *loop = zloop_new();
    zn_client_t *clients[2];
    for (int i = 0; i < schedulers; i++) {
        s_sched_start(&scheds[i], fix, !shares ? "" : i == 0 ? "0/2" : "1/2");
        clients[i] = s_client(scheds[i].call, loop);
    }
    if (schedulers == 1) {
        clients[1] = clients[0]; /* both lanes on the one scheduler */
    }
    s_stats_t stats = {.count = S_RACE_REPS};
    for (int rep = 0; rep < S_RACE_REPS; rep++) {
        stats.v[rep] = s_race_once(clients, loop, rep, host_count >= 100);
    }
    char label[64];
    (void)snprintf(label, sizeof(label), "%d scheduler%s%s, %d hosts", schedulers,
                   schedulers > 1 ? "s" : "", shares ? " (shares)" : "", host_count);
    char what[96];
    (void)snprintf(what, sizeof(what), "%s: claims/s", label);
    (void)s_report(what, &stats);
    uint64_t claims = 0;
    uint64_t conflicts = 0;
    for (int i = 0; i < schedulers; i++) {
        claims += s_admin_counter(scheds[i].admin, "claims");
        conflicts += s_admin_counter(scheds[i].admin, "conflicts");
    }
    double pct =
        claims + conflicts > 0 ? 100.0 * (double)conflicts / (double)(claims + conflicts) : 0.0;
    printf("scheduler: %s: %llu claims, %llu conflicts (%.2f%% of claims sent)\n", label,
           (unsigned long long)claims, (unsigned long long)conflicts, pct);
    for (int i = 0; i < schedulers; i++) {
        zn_client_destroy(&clients[i]);
        s_sched_stop(&scheds[i]);
    }
    zloop_destroy(&loop);
    cond_fixture_stop(&fix);
    return pct;
}

int
main(void)
{
    zn_log_set_level(ZN_LOG_W);

    const struct {
        int hosts;
        bool pack;
    } runs[] = {{1000, false}, {10000, true}, {10000, false}};

    double median_10k = 0;
    for (size_t r = 0; r < ZN_ARRAY_COUNT(runs); r++) {
        s_stats_t stats = {.count = S_REPS};
        int64_t failures = 0;
        for (int rep = 0; rep < S_REPS; rep++) {
            stats.v[rep] = s_decide_rate(runs[r].hosts, runs[r].pack, &failures);
        }
        char what[96];
        (void)snprintf(what, sizeof(what), "%d hosts, %s, all filters+weighers: decisions/s",
                       runs[r].hosts, runs[r].pack ? "pack" : "spread");
        median_10k = s_report(what, &stats); /* the last run: 10k hosts, spread (the default) */
        if (failures > 0) {
            printf("scheduler: %d hosts: %lld requests found no valid host\n", runs[r].hosts,
                   (long long)failures);
        }
    }
    (void)s_race(1, 2, false); /* many requests per host: claims share batches */
    (void)s_race(2, S_RACE_HOSTS, false);
    double conflicts_pct = s_race(2, S_RACE_HOSTS, true);
    printf("scheduler: decisions_per_s_10k=%.0f conflicts_pct=%.2f\n", median_10k, conflicts_pct);
    return 0;
}
