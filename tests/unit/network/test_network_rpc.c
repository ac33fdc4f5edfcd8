/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of zinc-network's ZeroMQ methods with real agents in-process: a conductor (the store),
 * identity, and two network agents sharing the store. network_get, port_bind (idempotent,
 * "auto"), port_release (idempotent), token checks, and concurrent IPAM: 200 binds through two
 * agents on a 150-address pool give 150 distinct addresses and 50 exhaustion errors, and
 * released addresses are handed out again. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <czmq.h>
#include <jansson.h>

#include "cond_fixture.h"
#include "id_fixture.h"
#include "net_fixture.h"
#include "zn_client.h"
#include "zn_failpoint.h"
#include "zn_mem.h"
#include "zn_mp.h"
#include "zn_netrec.h"
#include "zn_str.h"

#define S_BINDS 200
#define S_POOL  150

typedef struct {
    cond_fixture_t *cond;
    id_fixture_t *id;
    net_fixture_t *net[2];
    zn_client_t *client[2];
    zloop_t *loop; /* the storms' */
    char admin[2048];
    char *body;
} s_state_t;

static int
s_setup(void **state)
{
    s_state_t *s = zn_calloc(1, sizeof(*s));
    s->cond = cond_fixture_start(NULL);
    s->id = id_fixture_start("test");
    for (size_t i = 0; i < 2; i++) {
        s->net[i] = net_fixture_start(cond_fixture_call(s->cond), cond_fixture_store_dir(s->cond),
                                      id_fixture_call_endpoint(s->id), NULL);
        const char *endpoint = net_fixture_call(s->net[i]);
        zn_client_opts_t opts = {.name = "network", .endpoints = &endpoint, .endpoint_count = 1};
        assert_int_equal(zn_client_open(&s->client[i], &opts, NULL), 0);
    }
    s->loop = zloop_new();
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(zn_client_attach(s->client[i], s->loop), 0);
    }
    assert_int_equal(id_fixture_login(s->id, "admin", "secret", "admin", s->admin, 2048), 201);
    s->body = zn_malloc(262144);
    *state = s;
    return 0;
}

static int
s_teardown(void **state)
{
    s_state_t *s = *state;
    for (size_t i = 0; i < 2; i++) {
        zn_client_destroy(&s->client[i]);
        net_fixture_stop(&s->net[i]);
    }
    zloop_destroy(&s->loop);
    id_fixture_stop(&s->id);
    cond_fixture_stop(&s->cond);
    zn_free(s->body);
    zn_free(s);
    return 0;
}

/* POST BODY to PATH on agent AGENT; the created record's id into ID (64 bytes). */
static void
s_create(s_state_t *s, int agent, const char *path, const char *kind, const char *body, char *id)
{
    int status = net_fixture_http(s->net[agent], "POST", path, s->admin, body, s->body, 262144);
    if (status != 201) {
        (void)fprintf(stderr, "POST %s: %d %s\n", path, status, s->body);
    }
    assert_int_equal(status, 201);
    json_t *root = json_loads(s->body, 0, NULL);
    assert_non_null(root);
    (void)snprintf(id, 64, "%s",
                   json_string_value(json_object_get(json_object_get(root, kind), "id")));
    json_decref(root);
}

static void
s_network_with_subnet(s_state_t *s, const char *name, const char *subnet_extra, char *net_id,
                      char *subnet_id)
{
    char *body = zn_asprintf("{\"network\": {\"name\": \"%s\"}}", name);
    s_create(s, 0, "/v2.0/networks", "network", body, net_id);
    zn_str_free(&body);
    body = zn_asprintf("{\"subnet\": {\"network_id\": \"%s\", %s}}", net_id, subnet_extra);
    s_create(s, 1, "/v2.0/subnets", "subnet", body, subnet_id);
    zn_str_free(&body);
}

static zn_ctx_t
s_ctx(const char *token)
{
    zn_ctx_t ctx;
    memset(&ctx, 0, sizeof(ctx));
    (void)snprintf(ctx.req_id, sizeof(ctx.req_id), "req-test");
    ctx.token = (zn_buf_t){(const uint8_t *)token, strlen(token)};
    return ctx;
}

/* Call METHOD on agent AGENT with BODY (a schema and object) and wait; decode the answer
 * with REPLY_SCHEMA into REPLY. Returns the call's code. */
static int
s_call(s_state_t *s, int agent, const char *token, const char *method, const zn_schema_t *schema,
       const void *body, const zn_schema_t *reply_schema, void *reply)
{
    zn_pack_t *pack = zn_pack_new();
    zn_schema_encode(schema, body, pack);
    zn_ctx_t ctx = s_ctx(token);
    zn_reply_t *answer = NULL;
    zn_fault_t fault;
    int rc = zn_client_call_sync(s->client[agent], method, &ctx, zn_pack_buf(pack), 5000, &answer,
                                 &fault);
    zn_pack_destroy(&pack);
    if (rc == 0 && reply_schema != NULL) {
        rc = zn_schema_decode(reply_schema, zn_reply_env(answer)->body, reply, NULL, &fault);
    }
    zn_reply_destroy(&answer);
    return rc;
}

static int
s_bind(s_state_t *s, int agent, const char *network_id, const char *device,
       zn_net_bind_reply_t *out)
{
    char host[] = "node1";
    zn_net_bind_req_t req = {.network_id = (char *)(uintptr_t)network_id,
                             .device_id = (char *)(uintptr_t)device,
                             .host = host};
    memset(out, 0, sizeof(*out));
    return s_call(s, agent, s->admin, "port_bind", &zn_net_bind_req_schema, &req,
                  &zn_net_bind_reply_schema, out);
}

static int
s_release(s_state_t *s, int agent, const char *device)
{
    zn_net_release_req_t req = {.device_id = (char *)(uintptr_t)device};
    return s_call(s, agent, s->admin, "port_release", &zn_net_release_req_schema, &req, NULL, NULL);
}

static void
test_network_rpc_example(void **state)
{
    s_state_t *s = *state;
    char net_id[64];
    char subnet_id[64];
    s_network_with_subnet(s, "example", "\"cidr\": \"10.1.0.0/24\"", net_id, subnet_id);

    /* network_get: what a compute agent needs to plug a tap. */
    zn_net_get_req_t get = {.network_id = net_id};
    zn_net_get_reply_t net;
    memset(&net, 0, sizeof(net));
    assert_int_equal(s_call(s, 1, s->admin, "network_get", &zn_net_get_req_schema, &get,
                            &zn_net_get_reply_schema, &net),
                     0);
    assert_string_equal(net.bridge, "br-zinc");
    assert_int_equal(net.mtu, 1500);
    assert_int_equal(net.subnet_count, 1);
    assert_string_equal(net.subnets[0], subnet_id);
    zn_schema_release(&zn_net_get_reply_schema, &net);

    /* port_bind: a port with an address and a MAC; again: the same port. */
    zn_net_bind_reply_t port;
    assert_int_equal(s_bind(s, 0, net_id, "vm-example", &port), 0);
    assert_string_equal(port.network_id, net_id);
    assert_string_equal(port.bridge, "br-zinc");
    assert_int_equal(port.fixed_ip_count, 1);
    assert_string_equal(port.fixed_ips[0].ip_address, "10.1.0.2");
    assert_int_equal(strncmp(port.mac, "fa:16:3e:", 9), 0);
    zn_net_bind_reply_t again;
    assert_int_equal(s_bind(s, 1, net_id, "vm-example", &again), 0);
    assert_string_equal(again.port_id, port.port_id);
    assert_string_equal(again.fixed_ips[0].ip_address, "10.1.0.2");
    zn_schema_release(&zn_net_bind_reply_schema, &again);
    /* Rescheduled to another host: the same port, bound there. */
    char host2[] = "node2";
    char device[] = "vm-example";
    zn_net_bind_req_t moved = {.network_id = net_id, .device_id = device, .host = host2};
    assert_int_equal(s_call(s, 0, s->admin, "port_bind", &zn_net_bind_req_schema, &moved,
                            &zn_net_bind_reply_schema, &again),
                     0);
    assert_string_equal(again.port_id, port.port_id);
    zn_schema_release(&zn_net_bind_reply_schema, &again);

    /* The REST API shows it, bound. */
    char *path = zn_asprintf("/v2.0/ports/%s", port.port_id);
    assert_int_equal(net_fixture_http(s->net[1], "GET", path, s->admin, NULL, s->body, 262144),
                     200);
    assert_non_null(strstr(s->body, "\"binding:host_id\":\"node2\""));
    assert_non_null(strstr(s->body, "\"status\":\"ACTIVE\""));

    /* port_release deletes what port_bind made; twice is fine. */
    assert_int_equal(s_release(s, 1, "vm-example"), 0);
    assert_int_equal(s_release(s, 0, "vm-example"), 0);
    assert_int_equal(net_fixture_http(s->net[0], "GET", path, s->admin, NULL, s->body, 262144),
                     404);
    zn_str_free(&path);
    zn_schema_release(&zn_net_bind_reply_schema, &port);
}

static void
test_network_rpc_user_port(void **state)
{
    s_state_t *s = *state;
    char net_id[64];
    char subnet_id[64];
    char port_id[64];
    s_network_with_subnet(s, "userport", "\"cidr\": \"10.2.0.0/24\"", net_id, subnet_id);
    char *body = zn_asprintf("{\"port\": {\"network_id\": \"%s\"}}", net_id);
    s_create(s, 0, "/v2.0/ports", "port", body, port_id);
    zn_str_free(&body);
    char device[] = "vm-user";
    char thief[] = "vm-thief";
    char host[] = "node2";
    zn_net_bind_req_t req = {.port_id = port_id, .device_id = device, .host = host};
    zn_net_bind_reply_t port;
    memset(&port, 0, sizeof(port));
    assert_int_equal(s_call(s, 1, s->admin, "port_bind", &zn_net_bind_req_schema, &req,
                            &zn_net_bind_reply_schema, &port),
                     0);
    assert_string_equal(port.port_id, port_id);
    zn_schema_release(&zn_net_bind_reply_schema, &port);
    /* Another device cannot take it. */
    req.device_id = thief;
    assert_int_equal(s_call(s, 0, s->admin, "port_bind", &zn_net_bind_req_schema, &req,
                            &zn_net_bind_reply_schema, &port),
                     ZN_ECONFLICT);
    /* Release unbinds a user's port but keeps it. */
    assert_int_equal(s_release(s, 0, "vm-user"), 0);
    char *path = zn_asprintf("/v2.0/ports/%s", port_id);
    assert_int_equal(net_fixture_http(s->net[1], "GET", path, s->admin, NULL, s->body, 262144),
                     200);
    assert_non_null(strstr(s->body, "\"device_id\":\"\""));
    assert_non_null(strstr(s->body, "\"status\":\"DOWN\""));
    zn_str_free(&path);
}

static void
test_network_rpc_refuses(void **state)
{
    s_state_t *s = *state;
    char nope[] = "nope";
    zn_net_get_req_t get = {.network_id = nope};
    zn_net_get_reply_t net;
    assert_int_equal(s_call(s, 0, s->admin, "network_get", &zn_net_get_req_schema, &get,
                            &zn_net_get_reply_schema, &net),
                     -ENOENT);
    assert_int_equal(s_call(s, 0, "zt1forged", "network_get", &zn_net_get_req_schema, &get,
                            &zn_net_get_reply_schema, &net),
                     ZN_EAUTH);
    /* No token in plaintext mode: trusted as a controller (zn_rpcauth, as the broker's
     * ZN_M_CONTROLLER rule), so the unknown network is what fails. */
    assert_int_equal(s_call(s, 0, "", "network_get", &zn_net_get_req_schema, &get,
                            &zn_net_get_reply_schema, &net),
                     -ENOENT);
    /* A body without its required device_id. */
    zn_net_release_req_t bad = {.device_id = NULL};
    assert_int_equal(
        s_call(s, 0, s->admin, "port_release", &zn_net_release_req_schema, &bad, NULL, NULL),
        -EBADMSG);
    /* "auto" with several networks in the project is ambiguous. */
    zn_net_bind_reply_t port;
    assert_int_equal(s_bind(s, 1, "auto", "vm-auto", &port), -EINVAL);
}

static void
test_network_rpc_failure_leaks_nothing(void **state)
{
    s_state_t *s = *state;
    char net_id[64];
    char subnet_id[64];
    s_network_with_subnet(s, "faulty",
                          "\"cidr\": \"10.3.0.0/24\", \"allocation_pools\": [{\"start\": "
                          "\"10.3.0.10\", \"end\": \"10.3.0.11\"}]",
                          net_id, subnet_id);
    /* The allocation fails after an address was picked: it must go back to the pool. */
    zn_failpoint_set("network.port_alloc", -EIO, 1);
    zn_net_bind_reply_t port;
    assert_int_equal(s_bind(s, 0, net_id, "vm-fail", &port), -EIO);
    assert_int_equal(zn_failpoint_fired("network.port_alloc"), 1);
    zn_failpoint_clear_all();
    char *path = zn_asprintf("/v2.0/ports?device_id=vm-fail");
    assert_int_equal(net_fixture_http(s->net[0], "GET", path, s->admin, NULL, s->body, 262144),
                     200);
    assert_string_equal(s->body, "{\"ports\":[]}");
    zn_str_free(&path);
    /* Both addresses of the two-address pool are still there to hand out, by the same agent. */
    assert_int_equal(s_bind(s, 0, net_id, "vm-a", &port), 0);
    assert_string_equal(port.fixed_ips[0].ip_address, "10.3.0.11");
    zn_schema_release(&zn_net_bind_reply_schema, &port);
    assert_int_equal(s_bind(s, 0, net_id, "vm-b", &port), 0);
    assert_string_equal(port.fixed_ips[0].ip_address, "10.3.0.10");
    zn_schema_release(&zn_net_bind_reply_schema, &port);
    assert_int_equal(s_bind(s, 0, net_id, "vm-c", &port), -ENOSPC);
}

/* ---- concurrent IPAM ------------------------------------------------------------------------ */

typedef struct {
    size_t done;
    size_t ok;
    size_t exhausted;
    size_t other;
    char addresses[S_BINDS][64];
    bool bound[S_BINDS]; /* by device number */
} s_storm_t;

typedef struct {
    s_storm_t *storm;
    size_t device;
} s_bind_call_t;

static void
s_on_bind(void *arg, const zn_env_t *reply, const zn_fault_t *fault)
{
    const s_bind_call_t *call = arg;
    s_storm_t *storm = call->storm;
    storm->done++;
    if (fault->code == -ENOSPC) {
        storm->exhausted++;
        return;
    }
    zn_net_bind_reply_t port;
    if (fault->code != 0 ||
        zn_schema_decode(&zn_net_bind_reply_schema, reply->body, &port, NULL, NULL) != 0) {
        (void)fprintf(stderr, "bind failed: %d %s\n", fault->code, fault->message);
        storm->other++;
        return;
    }
    storm->bound[call->device] = true;
    (void)snprintf(storm->addresses[storm->ok++], 64, "%s", port.fixed_ips[0].ip_address);
    zn_schema_release(&zn_net_bind_reply_schema, &port);
}

typedef struct {
    size_t want;
    s_storm_t storm;
    s_bind_call_t calls[S_BINDS];
} s_wait_t;

static int
s_on_tick(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    const s_wait_t *wait = arg;
    return wait->storm.done >= wait->want ? -1 : 0;
}

/* Bind devices PREFIX-0..COUNT-1 on NET_ID, alternating agents, all in flight at once. */
static void
s_storm(s_state_t *s, const char *net_id, const char *prefix, size_t count, s_wait_t *wait)
{
    memset(wait, 0, sizeof(*wait));
    wait->want = count;
    zn_ctx_t ctx = s_ctx(s->admin);
    zn_pack_t *pack = zn_pack_new();
    for (size_t i = 0; i < count; i++) {
        char device[64];
        (void)snprintf(device, sizeof(device), "%s-%zu", prefix, i);
        zn_net_bind_req_t req = {.network_id = (char *)(uintptr_t)net_id, .device_id = device};
        zn_pack_reset(pack);
        zn_schema_encode(&zn_net_bind_req_schema, &req, pack);
        wait->calls[i] = (s_bind_call_t){&wait->storm, i};
        assert_int_equal(zn_client_call(s->client[i % 2], "port_bind", &ctx, zn_pack_buf(pack),
                                        20000, s_on_bind, &wait->calls[i]),
                         0);
    }
    zn_pack_destroy(&pack);
    int timer = zloop_timer(s->loop, 5, 0, s_on_tick, wait);
    (void)zloop_start(s->loop); /* until the tick sees every answer */
    zloop_timer_end(s->loop, timer);
    assert_int_equal(wait->storm.done, count);
}

static int
s_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void
s_assert_distinct(char (*addresses)[64], size_t count)
{
    qsort(addresses, count, 64, s_cmp);
    for (size_t i = 1; i < count; i++) {
        assert_string_not_equal(addresses[i - 1], addresses[i]);
    }
}

static void
s_ignore_reply(void *arg, const zn_env_t *reply, const zn_fault_t *fault)
{
    (void)reply;
    (void)fault;
    (*(size_t *)arg)++;
}

static void
test_network_rpc_stop_with_work_in_flight(void **state)
{
    s_state_t *s = *state;
    char net_id[64];
    char subnet_id[64];
    s_network_with_subnet(s, "stopping", "\"cidr\": \"10.4.0.0/24\"", net_id, subnet_id);
    /* An agent with no grace: stopped while binds are waiting for the store or for identity. */
    const char *settings[] = {"agent.shutdown_grace_ms=0", "identity.token_cache_ttl_ms=-1", NULL};
    net_fixture_t *net =
        net_fixture_start(cond_fixture_call(s->cond), cond_fixture_store_dir(s->cond),
                          id_fixture_call_endpoint(s->id), settings);
    const char *endpoint = net_fixture_call(net);
    zn_client_opts_t opts = {.name = "network", .endpoints = &endpoint, .endpoint_count = 1};
    zn_client_t *client = NULL;
    assert_int_equal(zn_client_open(&client, &opts, NULL), 0);
    zn_ctx_t ctx = s_ctx(s->admin);
    zn_pack_t *pack = zn_pack_new();
    size_t answered = 0;
    for (size_t i = 0; i < 100; i++) {
        char device[64];
        (void)snprintf(device, sizeof(device), "stop-%zu", i);
        zn_net_bind_req_t req = {.network_id = net_id, .device_id = device};
        zn_pack_reset(pack);
        zn_schema_encode(&zn_net_bind_req_schema, &req, pack);
        assert_int_equal(zn_client_call(client, "port_bind", &ctx, zn_pack_buf(pack), 2000,
                                        s_ignore_reply, &answered),
                         0);
    }
    /* One answer proves the agent is serving; the rest are in flight as it stops. */
    zn_reply_t *reply = NULL;
    zn_fault_t fault;
    zn_net_get_req_t get = {.network_id = net_id};
    zn_pack_reset(pack);
    zn_schema_encode(&zn_net_get_req_schema, &get, pack);
    assert_int_equal(
        zn_client_call_sync(client, "network_get", &ctx, zn_pack_buf(pack), 5000, &reply, &fault),
        0);
    zn_reply_destroy(&reply);
    net_fixture_stop(&net); /* ASan: nothing used after free, nothing leaked */
    zn_client_destroy(&client);
    assert_int_equal(answered, 100); /* answered, failed or cancelled: each exactly once */
    zn_pack_destroy(&pack);

    /* The compute agents retry through the other agents: every device ends with exactly one
     * port (a bind that committed before the stop is found again, not made twice). */
    s_wait_t *wait = zn_calloc(1, sizeof(*wait));
    s_storm(s, net_id, "stop", 100, wait);
    assert_int_equal(wait->storm.ok, 100);
    s_assert_distinct(wait->storm.addresses, 100);
    zn_free(wait);
    for (size_t i = 0; i < 100; i++) {
        char *path = zn_asprintf("/v2.0/ports?device_id=stop-%zu", i);
        assert_int_equal(
            net_fixture_http(s->net[i % 2], "GET", path, s->admin, NULL, s->body, 262144), 200);
        json_t *root = json_loads(s->body, 0, NULL);
        assert_int_equal(json_array_size(json_object_get(root, "ports")), 1);
        json_decref(root);
        zn_str_free(&path);
    }
}

static void
test_network_concurrent_ipam(void **state)
{
    s_state_t *s = *state;
    char net_id[64];
    char subnet_id[64];
    s_network_with_subnet(s, "storm",
                          "\"cidr\": \"10.50.0.0/24\", \"allocation_pools\": [{\"start\": "
                          "\"10.50.0.10\", \"end\": \"10.50.0.159\"}]",
                          net_id, subnet_id);
    s_wait_t *wait = zn_calloc(1, sizeof(*wait));
    s_storm(s, net_id, "storm", S_BINDS, wait);
    assert_int_equal(wait->storm.other, 0);
    assert_int_equal(wait->storm.ok, S_POOL);
    assert_int_equal(wait->storm.exhausted, S_BINDS - S_POOL);
    s_assert_distinct(wait->storm.addresses, wait->storm.ok);

    /* Release 20 through one agent; 20 new devices through both get exactly those back. */
    char released[20][64];
    size_t next = 0;
    for (size_t i = 0; i < 20; i++) {
        while (!wait->storm.bound[next]) {
            next++; /* that device got no address */
        }
        char device[64];
        (void)snprintf(device, sizeof(device), "storm-%zu", next++);
        zn_net_bind_reply_t port;
        assert_int_equal(s_bind(s, 0, net_id, device, &port), 0); /* idempotent: its port */
        (void)snprintf(released[i], 64, "%s", port.fixed_ips[0].ip_address);
        zn_schema_release(&zn_net_bind_reply_schema, &port);
        assert_int_equal(s_release(s, 1, device), 0);
    }
    s_storm(s, net_id, "again", 20, wait);
    assert_int_equal(wait->storm.ok, 20);
    qsort(released, 20, 64, s_cmp);
    qsort(wait->storm.addresses, 20, 64, s_cmp);
    for (size_t i = 0; i < 20; i++) {
        assert_string_equal(wait->storm.addresses[i], released[i]);
    }
    /* And the pool is full again. */
    zn_net_bind_reply_t port;
    assert_int_equal(s_bind(s, 1, net_id, "one-too-many", &port), -ENOSPC);
    zn_free(wait);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_network_rpc_example),
        cmocka_unit_test(test_network_rpc_user_port),
        cmocka_unit_test(test_network_rpc_refuses),
        cmocka_unit_test(test_network_rpc_failure_leaks_nothing),
        cmocka_unit_test(test_network_rpc_stop_with_work_in_flight),
        cmocka_unit_test(test_network_concurrent_ipam),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
