/* SPDX-License-Identifier: Apache-2.0 */
/* echo_service.c - a test server: a real zn_server on a real loop, in an actor. */
#include "echo_service.h"

#include <errno.h>
#include <string.h>

#include "zn_mem.h"
#include "zn_server.h"

struct echo_service {
    zactor_t *actor;
    char call_endpoint[256];
    char cast_endpoint[256];
};

typedef struct {
    const zn_keys_t *keys;
    const zn_allow_t *allow;
} s_args_t;

typedef struct {
    zn_server_t *server;
    zloop_t *loop;
    int count;
    zn_call_t *slow[64];
    int slow_count;
} s_state_t;

static int
s_echo(void *arg, zn_call_t *call, zn_pack_t *reply, zn_fault_t *fault)
{
    (void)arg;
    (void)fault;
    zn_pack_raw(reply, zn_call_env(call)->body);
    return 0;
}

static int
s_fail(void *arg, zn_call_t *call, zn_pack_t *reply, zn_fault_t *fault)
{
    (void)arg;
    (void)call;
    (void)reply;
    return zn_fault_set(fault, -ENOENT, "no such thing");
}

static int
s_answer_slow(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    s_state_t *st = arg;
    zn_pack_t *body = zn_pack_new();
    zn_pack_str(body, "slow");
    for (int i = 0; i < st->slow_count; i++) {
        if (zn_server_answer(st->server, &st->slow[i], 0, zn_pack_buf(body), NULL) < 0) {
            continue; /* the caller is gone: fine for a test server */
        }
    }
    st->slow_count = 0;
    zn_pack_destroy(&body);
    return 0;
}

static int
s_slow(void *arg, zn_call_t *call, zn_pack_t *reply, zn_fault_t *fault)
{
    (void)reply;
    s_state_t *st = arg;
    if (st->slow_count == 64) {
        return zn_fault_set(fault, -EBUSY, "too many slow calls");
    }
    st->slow[st->slow_count++] = zn_call_defer(call);
    (void)zloop_timer(st->loop, 200, 1, s_answer_slow, st);
    return ZN_DEFERRED;
}

static int
s_count(void *arg, zn_call_t *call, zn_pack_t *reply, zn_fault_t *fault)
{
    (void)call;
    (void)fault;
    s_state_t *st = arg;
    st->count++;
    zn_pack_i64(reply, st->count);
    return 0;
}

static int
s_whoami(void *arg, zn_call_t *call, zn_pack_t *reply, zn_fault_t *fault)
{
    (void)arg;
    (void)fault;
    const zn_ctx_t *ctx = &zn_call_env(call)->ctx;
    zn_pack_array(reply, 4);
    zn_pack_str(reply, ctx->req_id);
    zn_pack_str(reply, ctx->user_id);
    zn_pack_str(reply, ctx->project_id);
    zn_pack_strn(reply, (const char *)ctx->token.ptr, ctx->token.len);
    return 0;
}

static int
s_whois(void *arg, zn_call_t *call, zn_pack_t *reply, zn_fault_t *fault)
{
    (void)arg;
    (void)fault;
    zn_pack_str(reply, zn_call_peer(call));
    return 0;
}

static const zn_method_t s_methods[] = {
    {"whois", s_whois, ZN_M_CALL | ZN_M_CONTROLLER},
    {"echo", s_echo, ZN_M_CALL},
    {"fail", s_fail, ZN_M_CALL},
    {"slow", s_slow, ZN_M_CALL},
    {"count", s_count, ZN_M_CALL | ZN_M_CAST},
    {"whoami", s_whoami, ZN_M_CALL},
    {NULL, NULL, 0},
};

static int
s_on_pipe(zloop_t *loop, zsock_t *pipe, void *arg)
{
    (void)loop;
    s_state_t *st = arg;
    char *cmd = zstr_recv(pipe);
    int rc = 0;
    if (cmd == NULL || strcmp(cmd, "$TERM") == 0) {
        rc = -1;
    } else if (strcmp(cmd, "COUNT") == 0) {
        zsock_send(pipe, "i", st->count);
    }
    zstr_free(&cmd);
    return rc;
}

static void
s_actor(zsock_t *pipe, void *argp)
{
    s_args_t *args = argp;
    zsock_signal(pipe, 0); /* zactor_new waits for this; the endpoints follow */
    s_state_t st = {0};
    zn_server_opts_t opts = {
        .name = "echo",
        .call_endpoint = "tcp://127.0.0.1:*",
        .cast_endpoint = "tcp://127.0.0.1:*",
        .keys = args->keys,
        .allow = args->allow,
    };
    zn_fault_t fault;
    if (zn_server_open(&st.server, &opts, s_methods, &st, &fault) < 0) {
        zsock_send(pipe, "ss", "", "");
        return;
    }
    st.loop = zloop_new();
    if (zn_server_attach(st.server, st.loop) < 0) {
        zsock_send(pipe, "ss", "", "");
        zn_server_destroy(&st.server);
        zloop_destroy(&st.loop);
        return;
    }
    (void)zloop_reader(st.loop, pipe, s_on_pipe, &st);
    zsock_send(pipe, "ss", zn_server_call_endpoint(st.server), zn_server_cast_endpoint(st.server));
    (void)zloop_start(st.loop);
    for (int i = 0; i < st.slow_count; i++) {
        zn_call_destroy(&st.slow[i]);
    }
    zn_server_destroy(&st.server);
    zloop_destroy(&st.loop);
}

echo_service_t *
echo_service_start(const zn_keys_t *keys, const zn_allow_t *allow)
{
    echo_service_t *self = zn_calloc(1, sizeof(*self));
    s_args_t args = {keys, allow};
    self->actor = zactor_new(s_actor, &args);
    char *call = NULL;
    char *cast = NULL;
    zsock_recv(self->actor, "ss", &call, &cast);
    (void)snprintf(self->call_endpoint, sizeof(self->call_endpoint), "%s", call);
    (void)snprintf(self->cast_endpoint, sizeof(self->cast_endpoint), "%s", cast);
    zstr_free(&call);
    zstr_free(&cast);
    return self;
}

void
echo_service_stop(echo_service_t **self_p)
{
    if (*self_p != NULL) {
        zactor_destroy(&(*self_p)->actor);
        zn_free(*self_p);
        *self_p = NULL;
    }
}

const char *
echo_service_call_endpoint(echo_service_t *self)
{
    return self->call_endpoint;
}

const char *
echo_service_cast_endpoint(echo_service_t *self)
{
    return self->cast_endpoint;
}

int
echo_service_count(echo_service_t *self)
{
    zstr_send(self->actor, "COUNT");
    int count = -1;
    zsock_recv(self->actor, "i", &count);
    return count;
}
