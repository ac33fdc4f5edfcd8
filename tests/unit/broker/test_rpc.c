/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for zn_server, zn_client and zn_caster over real TCP loopback sockets. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <czmq.h>

#include "echo_service.h"
#include "zn_caster.h"
#include "zn_client.h"
#include "zn_clock.h"
#include "zn_log.h"
#include "zn_mem.h"
#include "zn_server.h"
#include "zn_uuid.h"

static zn_client_t *
s_client(const char *endpoint, int64_t attempt_timeout_ms)
{
    const char *endpoints[] = {endpoint};
    zn_client_opts_t opts = {"echo", endpoints, 1, NULL, NULL, attempt_timeout_ms, NULL};
    zn_client_t *client = NULL;
    zn_fault_t fault;
    assert_int_equal(zn_client_open(&client, &opts, &fault), 0);
    return client;
}

static int
s_call(zn_client_t *client, const char *method, zn_buf_t body, int64_t timeout_ms,
       zn_reply_t **reply, zn_fault_t *fault)
{
    return zn_client_call_sync(client, method, NULL, body, timeout_ms, reply, fault);
}

/* Wait (bounded) until the service has counted WANT. */
static int
s_wait_count(echo_service_t *svc, int want)
{
    int64_t until = zn_clock_mono_ms() + 5000;
    int got = echo_service_count(svc);
    while (got < want && zn_clock_mono_ms() < until) {
        zclock_sleep(2);
        got = echo_service_count(svc);
    }
    return got;
}

static void
test_rpc_example(void **state)
{
    (void)state;
    echo_service_t *svc = echo_service_start(NULL, NULL);
    zn_client_t *client = s_client(echo_service_call_endpoint(svc), 0);

    zn_pack_t *body = zn_pack_new();
    zn_pack_map(body, 1);
    zn_pack_str(body, "flavor");
    zn_pack_str(body, "m1.tiny");
    zn_reply_t *reply = NULL;
    zn_fault_t fault;
    assert_int_equal(s_call(client, "echo", zn_pack_buf(body), 2000, &reply, &fault), 0);
    const zn_env_t *env = zn_reply_env(reply);
    assert_int_equal(env->kind, ZN_KIND_REPLY);
    assert_int_equal(env->body.len, zn_pack_buf(body).len);
    assert_memory_equal(env->body.ptr, zn_pack_buf(body).ptr, env->body.len);

    zn_reply_destroy(&reply);
    zn_pack_destroy(&body);
    zn_client_destroy(&client);
    echo_service_stop(&svc);
}

static void
test_rpc_errors_come_back_with_words(void **state)
{
    (void)state;
    echo_service_t *svc = echo_service_start(NULL, NULL);
    zn_client_t *client = s_client(echo_service_call_endpoint(svc), 0);
    zn_buf_t none = {NULL, 0};
    zn_reply_t *reply = NULL;
    zn_fault_t fault;
    assert_int_equal(s_call(client, "fail", none, 2000, &reply, &fault), -ENOENT);
    assert_string_equal(fault.message, "no such thing");
    assert_null(reply);
    assert_int_equal(s_call(client, "nonexistent", none, 2000, &reply, &fault), ZN_EMETHOD);
    assert_non_null(strstr(fault.message, "nonexistent"));
    zn_client_destroy(&client);
    echo_service_stop(&svc);
}

static void
test_rpc_context_travels(void **state)
{
    (void)state;
    echo_service_t *svc = echo_service_start(NULL, NULL);
    zn_client_t *client = s_client(echo_service_call_endpoint(svc), 0);
    zn_ctx_t ctx;
    memset(&ctx, 0, sizeof(ctx));
    (void)snprintf(ctx.req_id, sizeof(ctx.req_id), "req-42");
    (void)snprintf(ctx.user_id, sizeof(ctx.user_id), "alice");
    (void)snprintf(ctx.project_id, sizeof(ctx.project_id), "p1");
    ctx.token = (zn_buf_t){(const uint8_t *)"tok123", 6};
    zn_buf_t none = {NULL, 0};
    zn_reply_t *reply = NULL;
    zn_fault_t fault;
    assert_int_equal(zn_client_call_sync(client, "whoami", &ctx, none, 2000, &reply, &fault), 0);
    char *json = NULL;
    assert_int_equal(zn_mp_to_json(zn_reply_env(reply)->body, &json, &fault), 0);
    assert_string_equal(json, "[\"req-42\",\"alice\",\"p1\",\"tok123\"]");
    zn_str_free(&json);
    zn_reply_destroy(&reply);
    zn_client_destroy(&client);
    echo_service_stop(&svc);
}

static void
test_rpc_timeout_then_keeps_working(void **state)
{
    (void)state;
    echo_service_t *svc = echo_service_start(NULL, NULL);
    zn_client_t *client = s_client(echo_service_call_endpoint(svc), 0);
    zn_buf_t none = {NULL, 0};
    zn_reply_t *reply = NULL;
    zn_fault_t fault;
    int64_t started = zn_clock_mono_ms();
    assert_int_equal(s_call(client, "slow", none, 50, &reply, &fault), -ETIMEDOUT);
    int64_t took = zn_clock_mono_ms() - started;
    assert_true(took >= 50 && took < 500);
    assert_non_null(strstr(fault.message, "outcome unknown"));
    assert_int_equal(s_call(client, "count", none, 2000, &reply, &fault), 0);
    zn_reply_destroy(&reply);
    assert_int_equal(zn_client_pending(client), 0);
    zn_client_destroy(&client);
    echo_service_stop(&svc);
}

/* An endpoint nobody can be listening on: a TCP port freed by a probe could be taken by a test
 * running in parallel, but a fresh IPC path cannot. */
static void
s_nobody_endpoint(char *out, size_t cap)
{
    zn_uuid_t u = zn_uuid_generate();
    (void)snprintf(out, cap, "ipc:///tmp/zn-nobody-%s", u.str);
}

static void
test_rpc_nobody_there_is_unavailable(void **state)
{
    (void)state;
    char endpoint[128];
    s_nobody_endpoint(endpoint, sizeof(endpoint));
    zn_client_t *client = s_client(endpoint, 0);
    zn_buf_t none = {NULL, 0};
    zn_reply_t *reply = NULL;
    zn_fault_t fault;
    assert_int_equal(s_call(client, "echo", none, 100, &reply, &fault), ZN_EUNAVAIL);
    zn_client_destroy(&client);
}

typedef struct {
    int ok;
    int failed;
    int outstanding;
} s_tally_t;

static void
s_on_reply(void *arg, const zn_env_t *reply, const zn_fault_t *fault)
{
    s_tally_t *t = arg;
    if (fault->code == 0 && reply != NULL) {
        t->ok++;
    } else {
        t->failed++;
    }
    t->outstanding--;
}

static int
s_end_when_done(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    return ((s_tally_t *)arg)->outstanding == 0 ? -1 : 0;
}

static void
test_rpc_many_in_flight_on_a_loop(void **state)
{
    (void)state;
    echo_service_t *svc = echo_service_start(NULL, NULL);
    zn_client_t *client = s_client(echo_service_call_endpoint(svc), 0);
    zloop_t *loop = zloop_new();
    assert_int_equal(zn_client_attach(client, loop), 0);
    s_tally_t tally = {0, 0, 0};
    zn_buf_t none = {NULL, 0};
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(zn_client_call(client, "count", NULL, none, 5000, s_on_reply, &tally), 0);
        tally.outstanding++;
    }
    assert_true(zn_client_pending(client) > 0);
    (void)zloop_timer(loop, 5, 0, s_end_when_done, &tally);
    (void)zloop_start(loop);
    assert_int_equal(tally.ok, 1000);
    assert_int_equal(tally.failed, 0);
    assert_int_equal(echo_service_count(svc), 1000);
    zn_client_destroy(&client);
    zloop_destroy(&loop);
    echo_service_stop(&svc);
}

static void *
s_caller_thread(void *arg)
{
    zn_client_t *client = s_client(arg, 0);
    zn_buf_t none = {NULL, 0};
    intptr_t ok = 0;
    for (int i = 0; i < 200; i++) {
        zn_reply_t *reply = NULL;
        zn_fault_t fault;
        if (s_call(client, "count", none, 5000, &reply, &fault) == 0) {
            ok++;
        }
        zn_reply_destroy(&reply);
    }
    zn_client_destroy(&client);
    return (void *)ok;
}

static void
test_rpc_concurrent_clients(void **state)
{
    (void)state;
    echo_service_t *svc = echo_service_start(NULL, NULL);
    pthread_t threads[4];
    for (int i = 0; i < 4; i++) {
        pthread_create(&threads[i], NULL, s_caller_thread, (void *)echo_service_call_endpoint(svc));
    }
    for (int i = 0; i < 4; i++) {
        void *ok = NULL;
        pthread_join(threads[i], &ok);
        assert_int_equal((intptr_t)ok, 200);
    }
    assert_int_equal(echo_service_count(svc), 800);
    echo_service_stop(&svc);
}

static void
test_rpc_cast_delivery_and_dedup(void **state)
{
    (void)state;
    echo_service_t *svc = echo_service_start(NULL, NULL);
    zn_caster_opts_t opts = {"echo", echo_service_cast_endpoint(svc), NULL, NULL, 2000};
    zn_caster_t *caster = NULL;
    zn_fault_t fault;
    assert_int_equal(zn_caster_open(&caster, &opts, &fault), 0);
    zn_buf_t none = {NULL, 0};
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(zn_caster_cast(caster, "count", NULL, none, NULL, NULL), 0);
    }
    assert_int_equal(s_wait_count(svc, 1000), 1000);
    /* A redelivered cast (same id) runs once. */
    zn_msgid_t id = zn_msgid_generate();
    assert_int_equal(zn_caster_cast(caster, "count", NULL, none, &id, NULL), 0);
    assert_int_equal(zn_caster_cast(caster, "count", NULL, none, &id, NULL), 0);
    assert_int_equal(zn_caster_cast(caster, "count", NULL, none, NULL, NULL), 0);
    assert_int_equal(s_wait_count(svc, 1002), 1002);
    zn_caster_destroy(&caster);
    echo_service_stop(&svc);
}

static void
test_rpc_cast_to_nobody_fails_fast(void **state)
{
    (void)state;
    char endpoint[128];
    s_nobody_endpoint(endpoint, sizeof(endpoint));
    zn_caster_opts_t opts = {"nobody", endpoint, NULL, NULL, 0};
    zn_caster_t *caster = NULL;
    zn_fault_t fault;
    assert_int_equal(zn_caster_open(&caster, &opts, &fault), 0);
    zn_buf_t none = {NULL, 0};
    assert_int_equal(zn_caster_cast(caster, "count", NULL, none, NULL, NULL), -EAGAIN);
    zn_caster_destroy(&caster);
}

/* Send FRAME on a raw DEALER and return the decoded answer's code (0 for REPLY). */
static int
s_raw_exchange(zsock_t *dealer, const void *frame, size_t len, zn_env_t *answer, zmsg_t **keep)
{
    assert_int_equal(zmq_send(zsock_resolve(dealer), frame, len, 0), (int)len);
    zmsg_t *msg = zmsg_recv(dealer);
    assert_non_null(msg);
    zframe_t *f = zmsg_first(msg);
    zn_buf_t bytes = {zframe_data(f), zframe_size(f)};
    zn_fault_t fault;
    assert_int_equal(zn_env_decode(answer, bytes, &fault), 0);
    *keep = msg;
    return answer->kind == ZN_KIND_ERROR ? answer->err_code : 0;
}

static void
test_rpc_malformed_frames_get_errors(void **state)
{
    (void)state;
    char *log = NULL;
    size_t log_len = 0;
    FILE *sink = open_memstream(&log, &log_len);
    zn_log_set_sink(sink);
    echo_service_t *svc = echo_service_start(NULL, NULL);
    zsock_t *dealer = zsock_new_dealer(echo_service_call_endpoint(svc));
    zsock_set_rcvtimeo(dealer, 2000);
    zn_env_t answer;
    zmsg_t *keep = NULL;
    const uint8_t garbage[] = {0xc1, 0xff, 0x00, 0x12};
    assert_int_equal(s_raw_exchange(dealer, garbage, sizeof(garbage), &answer, &keep), -EBADMSG);
    zmsg_destroy(&keep);
    const uint8_t bomb[] = {0xdd, 0xff, 0xff, 0xff, 0xff}; /* array of 4 billion, 0 bytes */
    assert_int_equal(s_raw_exchange(dealer, bomb, sizeof(bomb), &answer, &keep), -EBADMSG);
    zmsg_destroy(&keep);

    /* A valid frame cut short at every length: each gets an error, none crashes the server. */
    zn_env_t env;
    zn_env_init(&env, ZN_KIND_CALL, "count");
    zn_pack_t *pack = zn_pack_new();
    zn_env_encode(&env, pack);
    zn_buf_t whole = zn_pack_buf(pack);
    for (size_t cut = 1; cut < whole.len; cut++) {
        assert_true(s_raw_exchange(dealer, whole.ptr, cut, &answer, &keep) < 0);
        zmsg_destroy(&keep);
    }
    /* Another major version is refused by name. */
    zn_pack_reset(pack);
    env.major = ZN_PROTO_MAJOR + 1;
    zn_env_encode(&env, pack);
    assert_int_equal(
        s_raw_exchange(dealer, zn_pack_buf(pack).ptr, zn_pack_buf(pack).len, &answer, &keep),
        ZN_EVERSION);
    zmsg_destroy(&keep);
    assert_int_equal(echo_service_count(svc), 0);

    zn_client_t *client = s_client(echo_service_call_endpoint(svc), 0);
    zn_buf_t none = {NULL, 0};
    zn_reply_t *reply = NULL;
    zn_fault_t fault;
    assert_int_equal(s_call(client, "count", none, 2000, &reply, &fault), 0);
    zn_reply_destroy(&reply);
    zn_client_destroy(&client);
    zn_pack_destroy(&pack);
    zsock_destroy(&dealer);
    echo_service_stop(&svc);
    zn_log_set_sink(NULL);
    fclose(sink);
    /* Dozens of bad frames in well under a second: one warning line, not one each. */
    int lines = 0;
    for (const char *p = strstr(log, "malformed message refused"); p != NULL;
         p = strstr(p + 1, "malformed message refused")) {
        lines++;
    }
    assert_int_equal(lines, 1);
    free(log);
}

static void
test_rpc_retry_with_same_id_runs_once(void **state)
{
    (void)state;
    echo_service_t *svc = echo_service_start(NULL, NULL);
    zsock_t *dealer = zsock_new_dealer(echo_service_call_endpoint(svc));
    zsock_set_rcvtimeo(dealer, 2000);
    zn_env_t env;
    zn_env_init(&env, ZN_KIND_CALL, "count");
    zn_pack_t *pack = zn_pack_new();
    zn_env_encode(&env, pack);
    zn_env_t first;
    zn_env_t second;
    zmsg_t *keep1 = NULL;
    zmsg_t *keep2 = NULL;
    zn_buf_t frame = zn_pack_buf(pack);
    assert_int_equal(s_raw_exchange(dealer, frame.ptr, frame.len, &first, &keep1), 0);
    assert_int_equal(s_raw_exchange(dealer, frame.ptr, frame.len, &second, &keep2), 0);
    assert_int_equal(first.body.len, second.body.len);
    assert_memory_equal(first.body.ptr, second.body.ptr, first.body.len);
    assert_int_equal(echo_service_count(svc), 1);
    zmsg_destroy(&keep1);
    zmsg_destroy(&keep2);
    zn_pack_destroy(&pack);
    zsock_destroy(&dealer);
    echo_service_stop(&svc);
}

static void
test_rpc_expired_deadline_not_run(void **state)
{
    (void)state;
    echo_service_t *svc = echo_service_start(NULL, NULL);
    zsock_t *dealer = zsock_new_dealer(echo_service_call_endpoint(svc));
    zsock_set_rcvtimeo(dealer, 2000);
    zn_env_t env;
    zn_env_init(&env, ZN_KIND_CALL, "count");
    env.ctx.deadline_ms = zn_clock_mono_ms() - 10;
    zn_pack_t *pack = zn_pack_new();
    zn_env_encode(&env, pack);
    zn_env_t answer;
    zmsg_t *keep = NULL;
    zn_buf_t frame = zn_pack_buf(pack);
    assert_int_equal(s_raw_exchange(dealer, frame.ptr, frame.len, &answer, &keep), -ETIMEDOUT);
    assert_int_equal(echo_service_count(svc), 0);
    zmsg_destroy(&keep);
    zn_pack_destroy(&pack);
    zsock_destroy(&dealer);
    echo_service_stop(&svc);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rpc_example),
        cmocka_unit_test(test_rpc_errors_come_back_with_words),
        cmocka_unit_test(test_rpc_context_travels),
        cmocka_unit_test(test_rpc_timeout_then_keeps_working),
        cmocka_unit_test(test_rpc_nobody_there_is_unavailable),
        cmocka_unit_test(test_rpc_many_in_flight_on_a_loop),
        cmocka_unit_test(test_rpc_concurrent_clients),
        cmocka_unit_test(test_rpc_cast_delivery_and_dedup),
        cmocka_unit_test(test_rpc_cast_to_nobody_fails_fast),
        cmocka_unit_test(test_rpc_malformed_frames_get_errors),
        cmocka_unit_test(test_rpc_retry_with_same_id_runs_once),
        cmocka_unit_test(test_rpc_expired_deadline_not_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
