/* SPDX-License-Identifier: Apache-2.0 */
/* bench_network - port allocations per second through zinc-network: a conductor (the store,
 * fsync on every group commit), identity and one network agent in-process; port_bind calls over
 * ZeroMQ, S_IN_FLIGHT at a time, each a new port with an address from a /16 and a MAC, written
 * through the conductor with its create-only ip_allocs and mac_allocs records. The agent
 * pipelines the writes; the conductor commits them in groups. min/median/max over repetitions.
 * Last line: network: ports_per_s=X */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>
#include <jansson.h>

#include "cond_fixture.h"
#include "id_fixture.h"
#include "net_fixture.h"
#include "zn_client.h"
#include "zn_clock.h"
#include "zn_log.h"
#include "zn_mp.h"
#include "zn_netrec.h"

#define S_REPS      5
#define S_PORTS     4000
#define S_IN_FLIGHT 256
#define S_TOKEN_MAX 2048

typedef struct {
    zn_client_t *client;
    zn_ctx_t ctx;
    const char *network_id;
    int rep;
    int sent;
    int answered;
    int failed;
    zn_pack_t *pack;
} s_flood_t;

static int
s_compare(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;
    return (x > y) - (x < y);
}

static void s_send(s_flood_t *flood);

static void
s_on_reply(void *arg, const zn_env_t *reply, const zn_fault_t *fault)
{
    (void)reply;
    s_flood_t *flood = arg;
    flood->answered++;
    if (fault->code != 0 && flood->failed++ == 0) {
        (void)fprintf(stderr, "bench_network: port_bind failed: %s\n", fault->message);
    }
    if (flood->sent < S_PORTS) {
        s_send(flood);
    }
}

static void
s_send(s_flood_t *flood)
{
    char device[64];
    (void)snprintf(device, sizeof(device), "bench-%d-%d", flood->rep, flood->sent++);
    zn_net_bind_req_t req = {.network_id = (char *)(uintptr_t)flood->network_id,
                             .device_id = device};
    zn_pack_reset(flood->pack);
    zn_schema_encode(&zn_net_bind_req_schema, &req, flood->pack);
    if (zn_client_call(flood->client, "port_bind", &flood->ctx, zn_pack_buf(flood->pack), 30000,
                       s_on_reply, flood) < 0) {
        (void)fprintf(stderr, "bench_network: call not sent\n");
        exit(1);
    }
}

static int
s_on_tick(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    const s_flood_t *flood = arg;
    return flood->answered >= S_PORTS ? -1 : 0;
}

static double
s_rate(s_flood_t *flood, zloop_t *loop)
{
    flood->sent = 0;
    flood->answered = 0;
    int64_t start = zn_clock_mono_us();
    for (int i = 0; i < S_IN_FLIGHT; i++) {
        s_send(flood);
    }
    int timer = zloop_timer(loop, 1, 0, s_on_tick, flood);
    (void)zloop_start(loop);
    zloop_timer_end(loop, timer);
    return S_PORTS * 1e6 / (double)(zn_clock_mono_us() - start);
}

/* POST BODY to PATH; the new record's id into ID. */
static void
s_create(const net_fixture_t *net, const char *token, const char *path, const char *kind,
         const char *body, char *id, size_t cap)
{
    char out[8192];
    if (net_fixture_http(net, "POST", path, token, body, out, sizeof(out)) != 201) {
        (void)fprintf(stderr, "bench_network: POST %s: %s\n", path, out);
        exit(1);
    }
    json_t *root = json_loads(out, 0, NULL);
    (void)snprintf(id, cap, "%s",
                   json_string_value(json_object_get(json_object_get(root, kind), "id")));
    json_decref(root);
}

int
main(void)
{
    zn_log_set_level(ZN_LOG_W);
    cond_fixture_t *cond = cond_fixture_start(NULL);
    id_fixture_t *id = id_fixture_start("test");
    net_fixture_t *net = net_fixture_start(cond_fixture_call(cond), cond_fixture_store_dir(cond),
                                           id_fixture_call_endpoint(id), NULL);
    char token[S_TOKEN_MAX];
    if (id_fixture_login(id, "admin", "secret", "admin", token, sizeof(token)) != 201) {
        (void)fprintf(stderr, "bench_network: login failed\n");
        return 1;
    }
    char network_id[64];
    char subnet_id[64];
    s_create(net, token, "/v2.0/networks", "network", "{\"network\": {\"name\": \"bench\"}}",
             network_id, sizeof(network_id));
    char body[256];
    (void)snprintf(body, sizeof(body),
                   "{\"subnet\": {\"network_id\": \"%s\", \"cidr\": \"10.128.0.0/16\"}}",
                   network_id);
    s_create(net, token, "/v2.0/subnets", "subnet", body, subnet_id, sizeof(subnet_id));

    const char *endpoint = net_fixture_call(net);
    zn_client_opts_t opts = {.name = "network", .endpoints = &endpoint, .endpoint_count = 1};
    s_flood_t flood = {.network_id = network_id, .pack = zn_pack_new()};
    zloop_t *loop = zloop_new();
    if (zn_client_open(&flood.client, &opts, NULL) != 0 ||
        zn_client_attach(flood.client, loop) != 0) {
        return 1;
    }
    (void)snprintf(flood.ctx.req_id, sizeof(flood.ctx.req_id), "req-bench");
    flood.ctx.token = (zn_buf_t){(const uint8_t *)token, strlen(token)};

    double rates[S_REPS];
    for (int rep = 0; rep < S_REPS; rep++) {
        flood.rep = rep;
        rates[rep] = s_rate(&flood, loop);
    }
    qsort(rates, S_REPS, sizeof(rates[0]), s_compare);
    printf("port_bind over ZeroMQ (%d ports per rep, %d in flight, %d reps, /16 subnet)\n", S_PORTS,
           S_IN_FLIGHT, S_REPS);
    printf("  %-26s min=%12.1f median=%12.1f max=%12.1f ports/s\n", "port allocations", rates[0],
           rates[S_REPS / 2], rates[S_REPS - 1]);
    printf("  failed calls: %d\n", flood.failed);
    printf("network: ports_per_s=%.0f\n", rates[S_REPS / 2]);

    zn_client_destroy(&flood.client);
    zloop_destroy(&loop);
    zn_pack_destroy(&flood.pack);
    net_fixture_stop(&net);
    id_fixture_stop(&id);
    cond_fixture_stop(&cond);
    return flood.failed == 0 ? 0 : 1;
}
