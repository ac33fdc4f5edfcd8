/* SPDX-License-Identifier: Apache-2.0 */
/* bench_rpc - zinc calls and casts against raw libzmq on the same TCP loopback, same payload.
 *
 *   call: raw REQ/REP round trip vs zn_client_call_sync to a zn_server (median of reps)
 *   cast: raw PUSH/PULL messages/s vs zn_caster_cast to a zn_server, counted at the receiver
 * Each is measured in plaintext and with CURVE. Last line:
 *   rpc: call_rtt_ratio=X cast_throughput_ratio=Y   (zinc/raw, plaintext, median of reps) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

#include "zn_caster.h"
#include "zn_client.h"
#include "zn_clock.h"
#include "zn_keys.h"
#include "zn_log.h"
#include "zn_mem.h"
#include "zn_server.h"

#define S_REPS         7
#define S_CALLS        5000
#define S_CASTS        1000000
#define S_PAYLOAD_SIZE 256

typedef struct {
    const zn_keys_t *server_keys; /* NULL: plaintext */
    const zn_allow_t *allow;
} s_security_t;

static uint8_t s_payload[S_PAYLOAD_SIZE + 16];
static size_t s_payload_len;

/* ---- the servers, each in its own actor thread --------------------------------------------- */

static void
s_secure_server(zsock_t *sock, const s_security_t *sec)
{
    if (sec->server_keys != NULL) {
        /* The same ZAP domain as the zinc server: raw and zinc pay the same handshake. */
        zsock_set_zap_domain(sock, "bench-curve");
        zsock_set_curve_server(sock, 1);
        zsock_set_curve_secretkey(sock, zn_keys_secret(sec->server_keys));
    }
}

static void
s_raw_rep_actor(zsock_t *pipe, void *arg)
{
    zsock_t *rep = zsock_new(ZMQ_REP);
    s_secure_server(rep, arg);
    int port = zsock_bind(rep, "tcp://127.0.0.1:*");
    zsock_signal(pipe, 0);
    zsock_send(pipe, "i", port);
    zpoller_t *poller = zpoller_new(pipe, rep, NULL);
    uint8_t buf[65536];
    while (zpoller_wait(poller, -1) == rep) {
        int n = zmq_recv(zsock_resolve(rep), buf, sizeof(buf), 0);
        (void)zmq_send(zsock_resolve(rep), buf, (size_t)(n < 0 ? 0 : n), 0);
    }
    zpoller_destroy(&poller);
    zsock_destroy(&rep);
}

/* Counts raw PULL messages; says "DONE" on the pipe after each batch of S_CASTS. */
static void
s_raw_pull_actor(zsock_t *pipe, void *arg)
{
    zsock_t *pull = zsock_new(ZMQ_PULL);
    zsock_set_rcvhwm(pull, 100000);
    s_secure_server(pull, arg);
    int port = zsock_bind(pull, "tcp://127.0.0.1:*");
    zsock_signal(pipe, 0);
    zsock_send(pipe, "i", port);
    zpoller_t *poller = zpoller_new(pipe, pull, NULL);
    uint8_t buf[65536];
    long count = 0;
    while (zpoller_wait(poller, -1) == pull) {
        while (zmq_recv(zsock_resolve(pull), buf, sizeof(buf), ZMQ_DONTWAIT) >= 0) {
            if (++count % S_CASTS == 0) {
                zstr_send(pipe, "DONE");
            }
        }
    }
    zpoller_destroy(&poller);
    zsock_destroy(&pull);
}

typedef struct {
    zsock_t *pipe;
    long count;
} s_zinc_state_t;

static int
s_echo(void *arg, zn_call_t *call, zn_pack_t *reply, zn_fault_t *fault)
{
    (void)arg;
    (void)fault;
    zn_pack_raw(reply, zn_call_env(call)->body);
    return 0;
}

static int
s_count(void *arg, zn_call_t *call, zn_pack_t *reply, zn_fault_t *fault)
{
    (void)call;
    (void)reply;
    (void)fault;
    s_zinc_state_t *st = arg;
    if (++st->count % S_CASTS == 0) {
        zstr_send(st->pipe, "DONE");
    }
    return 0;
}

static const zn_method_t s_methods[] = {
    {"echo", s_echo, ZN_M_CALL},
    {"count", s_count, ZN_M_CAST},
    {NULL, NULL, 0},
};

static int
s_on_pipe(zloop_t *loop, zsock_t *pipe, void *arg)
{
    (void)loop;
    (void)arg;
    char *cmd = zstr_recv(pipe);
    zstr_free(&cmd);
    return -1;
}

static void
s_zinc_actor(zsock_t *pipe, void *arg)
{
    const s_security_t *sec = arg;
    s_zinc_state_t st = {pipe, 0};
    zn_server_opts_t opts = {
        .name = sec->server_keys ? "bench-curve" : "bench",
        .call_endpoint = "tcp://127.0.0.1:*",
        .cast_endpoint = "tcp://127.0.0.1:*",
        .keys = sec->server_keys,
        .allow = sec->allow,
    };
    zn_server_t *server = NULL;
    zn_fault_t fault;
    ZN_ASSERT(zn_server_open(&server, &opts, s_methods, &st, &fault) == 0);
    zloop_t *loop = zloop_new();
    ZN_ASSERT(zn_server_attach(server, loop) == 0);
    (void)zloop_reader(loop, pipe, s_on_pipe, NULL);
    zsock_signal(pipe, 0);
    zsock_send(pipe, "ss", zn_server_call_endpoint(server), zn_server_cast_endpoint(server));
    (void)zloop_start(loop);
    zn_server_destroy(&server);
    zloop_destroy(&loop);
}

/* ---- the measurements ------------------------------------------------------------------------ */

static void
s_secure_client(zsock_t *sock, const zn_keys_t *client, const zn_keys_t *server)
{
    if (server != NULL) {
        zsock_set_curve_serverkey(sock, zn_keys_public(server));
        zsock_set_curve_publickey(sock, zn_keys_public(client));
        zsock_set_curve_secretkey(sock, zn_keys_secret(client));
    }
}

/* Mean round trip in microseconds of S_CALLS raw REQ/REP exchanges. */
static double
s_raw_call_us(int port, const zn_keys_t *client, const zn_keys_t *server)
{
    zsock_t *req = zsock_new(ZMQ_REQ);
    s_secure_client(req, client, server);
    ZN_ASSERT(zsock_connect(req, "tcp://127.0.0.1:%d", port) == 0);
    uint8_t buf[65536];
    for (int i = 0; i < 100; i++) { /* warm up: connect and handshake */
        (void)zmq_send(zsock_resolve(req), s_payload, s_payload_len, 0);
        (void)zmq_recv(zsock_resolve(req), buf, sizeof(buf), 0);
    }
    int64_t started = zn_clock_mono_us();
    for (int i = 0; i < S_CALLS; i++) {
        (void)zmq_send(zsock_resolve(req), s_payload, s_payload_len, 0);
        (void)zmq_recv(zsock_resolve(req), buf, sizeof(buf), 0);
    }
    double us = (double)(zn_clock_mono_us() - started) / S_CALLS;
    zsock_destroy(&req);
    return us;
}

static zn_client_t *
s_zinc_client(const char *endpoint, const zn_keys_t *client, const zn_keys_t *server)
{
    const char *endpoints[] = {endpoint};
    zn_client_opts_t opts = {
        "bench", endpoints, 1, server ? client : NULL, server ? zn_keys_public(server) : NULL,
        0,       NULL};
    zn_client_t *c = NULL;
    zn_fault_t fault;
    ZN_ASSERT(zn_client_open(&c, &opts, &fault) == 0);
    return c;
}

static double
s_zinc_call_us(const char *endpoint, const zn_keys_t *client, const zn_keys_t *server)
{
    zn_client_t *c = s_zinc_client(endpoint, client, server);
    zn_buf_t body = {s_payload, s_payload_len};
    zn_fault_t fault;
    int64_t started = 0;
    for (int i = 0; i < S_CALLS + 100; i++) {
        if (i == 100) { /* the first 100 connect and warm up, as for raw */
            started = zn_clock_mono_us();
        }
        zn_reply_t *reply = NULL;
        ZN_ASSERT(zn_client_call_sync(c, "echo", NULL, body, 5000, &reply, &fault) == 0);
        zn_reply_destroy(&reply);
    }
    double us = (double)(zn_clock_mono_us() - started) / S_CALLS;
    zn_client_destroy(&c);
    return us;
}

/* Wait for the receiver's "DONE" and return messages per second since STARTED_US. */
static double
s_wait_done(zactor_t *receiver, int64_t started_us)
{
    char *done = zstr_recv(receiver);
    double secs = (double)(zn_clock_mono_us() - started_us) / 1e6;
    zstr_free(&done);
    return S_CASTS / secs;
}

static double
s_raw_cast_per_s(zactor_t *receiver, int port, const zn_keys_t *client, const zn_keys_t *server)
{
    zsock_t *push = zsock_new(ZMQ_PUSH);
    zsock_set_sndhwm(push, 100000);
    s_secure_client(push, client, server);
    ZN_ASSERT(zsock_connect(push, "tcp://127.0.0.1:%d", port) == 0);
    int64_t started = zn_clock_mono_us();
    for (int i = 0; i < S_CASTS; i++) {
        (void)zmq_send(zsock_resolve(push), s_payload, s_payload_len, 0);
    }
    double rate = s_wait_done(receiver, started);
    zsock_destroy(&push);
    return rate;
}

static double
s_zinc_cast_per_s(zactor_t *receiver, const char *endpoint, const zn_keys_t *client,
                  const zn_keys_t *server)
{
    zn_caster_opts_t opts = {"bench", endpoint, server ? client : NULL,
                             server ? zn_keys_public(server) : NULL, 5000};
    zn_caster_t *caster = NULL;
    zn_fault_t fault;
    ZN_ASSERT(zn_caster_open(&caster, &opts, &fault) == 0);
    zn_buf_t body = {s_payload, s_payload_len};
    int64_t started = zn_clock_mono_us();
    for (int i = 0; i < S_CASTS; i++) {
        ZN_ASSERT(zn_caster_cast(caster, "count", NULL, body, NULL, NULL) == 0);
    }
    double rate = s_wait_done(receiver, started);
    zn_caster_destroy(&caster);
    return rate;
}

static int
s_compare(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct {
    double min;
    double median;
    double max;
} s_stats_t;

static s_stats_t
s_stats(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), s_compare);
    return (s_stats_t){v[0], v[n / 2], v[n - 1]};
}

static void
s_print(const char *what, const char *unit, s_stats_t s)
{
    printf("  %-34s min=%10.1f median=%10.1f max=%10.1f %s\n", what, s.min, s.median, s.max, unit);
}

typedef struct {
    s_stats_t raw_call;
    s_stats_t zinc_call;
    s_stats_t raw_cast;
    s_stats_t zinc_cast;
} s_result_t;

/* Run every measure S_REPS times, interleaving raw and zinc so that noise hits both alike. */
static s_result_t
s_run(const char *label, const zn_keys_t *server, const zn_keys_t *client, zn_allow_t *allow)
{
    s_security_t sec = {server, allow};
    zactor_t *zinc = zactor_new(s_zinc_actor, &sec);
    char *call_ep = NULL;
    char *cast_ep = NULL;
    zsock_recv(zinc, "ss", &call_ep, &cast_ep);
    zactor_t *rep = zactor_new(s_raw_rep_actor, &sec);
    zactor_t *pull = zactor_new(s_raw_pull_actor, &sec);
    int rep_port = 0;
    int pull_port = 0;
    zsock_recv(rep, "i", &rep_port);
    zsock_recv(pull, "i", &pull_port);
    double v[4][S_REPS];
    for (int r = 0; r < S_REPS; r++) {
        v[0][r] = s_raw_call_us(rep_port, client, server);
        v[1][r] = s_zinc_call_us(call_ep, client, server);
        v[2][r] = s_raw_cast_per_s(pull, pull_port, client, server);
        v[3][r] = s_zinc_cast_per_s(zinc, cast_ep, client, server);
    }
    s_result_t res = {s_stats(v[0], S_REPS), s_stats(v[1], S_REPS), s_stats(v[2], S_REPS),
                      s_stats(v[3], S_REPS)};
    printf("%s (payload %zu bytes, %d calls and %d casts per rep, %d reps)\n", label, s_payload_len,
           S_CALLS, S_CASTS, S_REPS);
    s_print("raw REQ/REP round trip", "us", res.raw_call);
    s_print("zinc call round trip", "us", res.zinc_call);
    s_print("raw PUSH/PULL throughput", "msg/s", res.raw_cast);
    s_print("zinc cast throughput", "msg/s", res.zinc_cast);
    printf("  ratios: call_rtt=%.3f cast_throughput=%.3f\n",
           res.zinc_call.median / res.raw_call.median, res.zinc_cast.median / res.raw_cast.median);
    zstr_free(&call_ep);
    zstr_free(&cast_ep);
    zactor_destroy(&zinc);
    zactor_destroy(&pull);
    zactor_destroy(&rep);
    return res;
}

int
main(void)
{
    zn_log_open("bench", ZN_LOG_W);
    /* The payload is one packed value, as an RPC body is: a map with a 200-byte string. */
    zn_pack_t *pack = zn_pack_new();
    char text[201];
    memset(text, 'x', 200);
    text[200] = '\0';
    zn_pack_map(pack, 1);
    zn_pack_str(pack, "data");
    zn_pack_str(pack, text);
    s_payload_len = zn_pack_buf(pack).len;
    memcpy(s_payload, zn_pack_buf(pack).ptr, s_payload_len);
    zn_pack_destroy(&pack);

    s_result_t plain = s_run("plaintext", NULL, NULL, NULL);
    zn_keys_t *server = zn_keys_generate();
    zn_keys_t *client = zn_keys_generate();
    zn_allow_t *allow = zn_allow_new();
    ZN_ASSERT(zn_allow_add_z85(allow, zn_keys_public(client)) == 0);
    s_result_t curve = s_run("curve", server, client, allow);
    printf("rpc-curve: call_rtt_ratio=%.3f cast_throughput_ratio=%.3f\n",
           curve.zinc_call.median / curve.raw_call.median,
           curve.zinc_cast.median / curve.raw_cast.median);
    printf("rpc: call_rtt_ratio=%.3f cast_throughput_ratio=%.3f\n",
           plain.zinc_call.median / plain.raw_call.median,
           plain.zinc_cast.median / plain.raw_cast.median);
    zn_allow_destroy(&allow);
    zn_keys_destroy(&client);
    zn_keys_destroy(&server);
    return 0;
}
