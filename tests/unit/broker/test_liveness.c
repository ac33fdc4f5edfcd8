/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for the registry, heartbeats and the agent runtime's admin socket. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <czmq.h>

#include "zn_agent.h"
#include "zn_client.h"
#include "zn_clock.h"
#include "zn_mem.h"
#include "zn_registry.h"
#include "zn_sig.h"

#define S_DEAD_AFTER_MS 300

static zn_service_t
s_service(const char *role, const char *host)
{
    zn_service_t s;
    memset(&s, 0, sizeof(s));
    s.role = (char *)(uintptr_t)role; /* borrowed for the call only; never freed */
    s.host = (char *)(uintptr_t)host;
    return s;
}

typedef struct {
    int ups;
    int downs;
} s_watch_t;

static void
s_watch(void *arg, const zn_service_t *service, bool up)
{
    (void)service;
    s_watch_t *w = arg;
    if (up) {
        w->ups++;
    } else {
        w->downs++;
    }
}

static void
test_registry_example(void **state)
{
    (void)state;
    zn_registry_t *r = zn_registry_new(1000);
    s_watch_t w = {0, 0};
    zn_registry_set_watch(r, s_watch, &w);
    zn_service_t c1 = s_service("compute", "node1");
    zn_service_t c0 = s_service("compute", "node0");
    zn_registry_beat(r, &c1, 0);
    zn_registry_beat(r, &c0, 0);
    zn_registry_beat(r, &c1, 500);
    bool up = false;
    int64_t age = 0;
    assert_non_null(zn_registry_find(r, "compute", "node1", 600, &up, &age));
    assert_true(up);
    assert_int_equal(age, 100);
    assert_null(zn_registry_find(r, "compute", "node9", 600, &up, &age));
    assert_int_equal(zn_registry_sweep(r, 1200), 1); /* node0 silent for 1200 ms */
    assert_int_equal(zn_registry_sweep(r, 1200), 0); /* only once */
    zn_registry_beat(r, &c0, 1300);                  /* back up */
    assert_int_equal(w.ups, 3);
    assert_int_equal(w.downs, 1);
    zn_registry_destroy(&r);
}

/* A registry served on a loop, as the conductor serves it. */
typedef struct {
    zn_server_t *server;
    zn_registry_t *registry;
} s_reg_t;

static int
s_on_heartbeat(void *arg, zn_call_t *call, zn_pack_t *reply, zn_fault_t *fault)
{
    (void)reply;
    s_reg_t *reg = arg;
    return zn_registry_beat_packed(reg->registry, zn_call_env(call)->body, zn_clock_mono_ms(),
                                   fault);
}

static const zn_method_t s_reg_methods[] = {
    {"heartbeat", s_on_heartbeat, ZN_M_CAST},
    {NULL, NULL, 0},
};

static int
s_sweep(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    s_reg_t *reg = arg;
    (void)zn_registry_sweep(reg->registry, zn_clock_mono_ms());
    return 0;
}

static int
s_reg_pipe(zloop_t *loop, zsock_t *pipe, void *arg)
{
    (void)loop;
    s_reg_t *reg = arg;
    char *cmd = NULL;
    char *host = NULL;
    if (zsock_recv(pipe, "ss", &cmd, &host) < 0 || strcmp(cmd, "$TERM") == 0) {
        zstr_free(&cmd);
        zstr_free(&host);
        return -1;
    }
    bool up = false;
    const zn_service_t *s =
        zn_registry_find(reg->registry, "compute", host, zn_clock_mono_ms(), &up, NULL);
    zsock_send(pipe, "i", s == NULL ? -1 : (up ? 1 : 0));
    zstr_free(&cmd);
    zstr_free(&host);
    return 0;
}

static void
s_registry_actor(zsock_t *pipe, void *arg)
{
    (void)arg;
    zsock_signal(pipe, 0);
    s_reg_t reg = {NULL, zn_registry_new(S_DEAD_AFTER_MS)};
    zn_server_opts_t opts = {.name = "registry", .cast_endpoint = "tcp://127.0.0.1:*"};
    zn_fault_t fault;
    assert_int_equal(zn_server_open(&reg.server, &opts, s_reg_methods, &reg, &fault), 0);
    zloop_t *loop = zloop_new();
    assert_int_equal(zn_server_attach(reg.server, loop), 0);
    (void)zloop_timer(loop, 20, 0, s_sweep, &reg);
    (void)zloop_reader(loop, pipe, s_reg_pipe, &reg);
    zstr_send(pipe, zn_server_cast_endpoint(reg.server));
    (void)zloop_start(loop);
    zn_server_destroy(&reg.server); /* before its loop */
    zloop_destroy(&loop);
    zn_registry_destroy(&reg.registry);
}

/* A real agent runtime with heartbeats, run as an actor until $TERM. */
static void
s_agent_actor(zsock_t *pipe, void *arg)
{
    zsock_signal(pipe, 0);
    zn_agent_opts_t opts = {.role = "compute",
                            .host = "node1",
                            .admin_endpoint = "tcp://127.0.0.1:*",
                            .shutdown_grace_ms = 100};
    zn_agent_t *agent = NULL;
    zn_fault_t fault;
    assert_int_equal(zn_agent_open(&agent, &opts, &fault), 0);
    assert_int_equal(zn_agent_watch_pipe(agent, pipe), 0);
    zn_service_t me = s_service("compute", "node1");
    me.admin_endpoint = (char *)(uintptr_t)zn_agent_admin_endpoint(agent);
    assert_int_equal(zn_agent_heartbeat(agent, arg, NULL, &me, 50, &fault), 0);
    zstr_send(pipe, zn_agent_admin_endpoint(agent));
    (void)zn_agent_run(agent);
    zn_agent_destroy(&agent);
}

static int
s_state_of(zactor_t *registry, const char *host)
{
    int state = -2;
    zsock_send(registry, "ss", "FIND", host);
    zsock_recv(registry, "i", &state);
    return state;
}

/* Wait, bounded, until HOST is in state WANT; returns how long it took in ms, or -1. */
static int64_t
s_wait_state(zactor_t *registry, const char *host, int want)
{
    int64_t started = zn_clock_mono_ms();
    while (zn_clock_mono_ms() - started < 5000) {
        if (s_state_of(registry, host) == want) {
            return zn_clock_mono_ms() - started;
        }
        zclock_sleep(5);
    }
    return -1;
}

static void
test_dead_peer_detected(void **state)
{
    (void)state;
    zactor_t *registry = zactor_new(s_registry_actor, NULL);
    char *endpoint = zstr_recv(registry);
    zactor_t *agent = zactor_new(s_agent_actor, endpoint);
    char *admin = zstr_recv(agent);
    assert_true(s_wait_state(registry, "node1", 1) >= 0);

    /* The admin socket answers ping while the agent lives. */
    const char *endpoints[] = {admin};
    zn_client_opts_t copts = {"admin", endpoints, 1, NULL, NULL, 0, NULL};
    zn_client_t *client = NULL;
    zn_fault_t fault;
    assert_int_equal(zn_client_open(&client, &copts, &fault), 0);
    zn_buf_t none = {NULL, 0};
    zn_reply_t *reply = NULL;
    assert_int_equal(zn_client_call_sync(client, "ping", NULL, none, 2000, &reply, &fault), 0);
    char *json = NULL;
    assert_int_equal(zn_mp_to_json(zn_reply_env(reply)->body, &json, &fault), 0);
    assert_non_null(strstr(json, "\"role\":\"compute\""));
    zn_str_free(&json);
    zn_reply_destroy(&reply);
    assert_int_equal(zn_client_call_sync(client, "metrics", NULL, none, 2000, &reply, &fault), 0);
    zn_reply_destroy(&reply);

    /* The agent dies: the registry knows within the dead-after time plus one sweep. */
    zactor_destroy(&agent);
    int64_t took = s_wait_state(registry, "node1", 0);
    assert_true(took >= 0);
    assert_true(took <= S_DEAD_AFTER_MS + 200);
    /* And its admin socket is gone: the call fails instead of hanging. */
    assert_int_equal(zn_client_call_sync(client, "ping", NULL, none, 200, &reply, &fault),
                     ZN_EUNAVAIL);
    zn_client_destroy(&client);
    zstr_free(&admin);
    zstr_free(&endpoint);
    zactor_destroy(&registry);
}

int
main(void)
{
    zn_signals_block();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry_example),
        cmocka_unit_test(test_dead_peer_detected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
