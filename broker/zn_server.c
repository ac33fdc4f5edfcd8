/* SPDX-License-Identifier: Apache-2.0 */
/* zn_server.c - receive, check, deduplicate, dispatch, answer. */
#include "zn_server.h"

#include <errno.h>
#include <string.h>

#include "zn_clock.h"
#include "zn_dedup.h"
#include "zn_link_int.h"
#include "zn_log.h"
#include "zn_mem.h"
#include "zn_secure.h"
#include "zn_zap.h"

#define S_ROUTING_ID_MAX 256
#define S_DRAIN_MAX      1024 /* messages handled per wake-up before other sockets get a turn */

#define S_PEER_MAX 64

struct zn_call {
    zn_server_t *server; /* the one it came in on, and answers through */
    char peer[S_PEER_MAX];
    zn_env_t env;
    bool is_cast;
    int64_t started_us; /* when its handler ran, for the trace span of a deferred answer */
    uint8_t routing_id[S_ROUTING_ID_MAX];
    size_t routing_id_len;
};

struct zn_server {
    char *name;
    zsock_t *router;
    zsock_t *pull;
    char *call_endpoint;
    char *cast_endpoint;
    bool zap_registered;
    const zn_method_t *methods;
    void *arg;
    zn_metrics_t *metrics;
    zn_trace_t *trace;
    zn_dedup_t *dedup;
    zn_pack_t *body;  /* the handler's reply body */
    zn_pack_t *frame; /* the encoded reply */
    zloop_t *loop;
    bool secure;                 /* CURVE on: callers have names, and ZN_M_CONTROLLER is enforced */
    int64_t malformed_logged_ms; /* last warning about a malformed message */
    uint64_t malformed_quiet;    /* refused since then without a line of their own */
    int64_t now_ms; /* read once per drained batch: the dedup window needs no finer clock */
};

static int
s_open_sockets(zn_server_t *self, const zn_server_opts_t *opts, zn_fault_t *fault)
{
    if (opts->keys != NULL) {
        zn_allow_t *allow = opts->allow ? zn_allow_dup(opts->allow) : zn_allow_new();
        int rc = zn_zap_register(self->name, &allow);
        if (rc < 0) {
            return zn_fault_set(fault, rc, "server %s: cannot register its client keys: %s",
                                self->name, zn_strerror(rc));
        }
        self->zap_registered = true;
        self->secure = true;
    }
    const char *endpoints[2] = {opts->call_endpoint, opts->cast_endpoint};
    zsock_t **socks[2] = {&self->router, &self->pull};
    char **bound[2] = {&self->call_endpoint, &self->cast_endpoint};
    for (int i = 0; i < 2; i++) {
        if (endpoints[i] == NULL) {
            continue;
        }
        *socks[i] = zsock_new(i == 0 ? ZMQ_ROUTER : ZMQ_PULL);
        zn__link_tune(*socks[i], 0);
        if (i == 0) {
            /* Replies to a vanished caller fail loudly instead of vanishing silently. */
            zsock_set_router_mandatory(*socks[i], 1);
        }
        if (opts->keys != NULL) {
            zn__link_secure_server(*socks[i], opts->keys, self->name);
        }
        int rc = zn__link_bind(*socks[i], endpoints[i], bound[i], fault);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

int
zn_server_open(zn_server_t **out, const zn_server_opts_t *opts, const zn_method_t *methods,
               void *arg, zn_fault_t *fault)
{
    *out = NULL;
    zn_server_t *self = zn_calloc(1, sizeof(*self));
    self->name = zn_strdup(opts->name ? opts->name : "server");
    self->methods = methods;
    self->arg = arg;
    self->metrics = opts->metrics;
    self->trace = opts->trace;
    self->dedup = zn_dedup_new(opts->dedup_capacity ? opts->dedup_capacity : 65536,
                               opts->dedup_window_ms ? opts->dedup_window_ms : 120000);
    self->body = zn_pack_new();
    self->frame = zn_pack_new();
    int rc = s_open_sockets(self, opts, fault);
    if (rc < 0) {
        zn_server_destroy(&self);
        return rc;
    }
    *out = self;
    return 0;
}

void
zn_server_destroy(zn_server_t **self_p)
{
    zn_server_t *self = *self_p;
    if (self == NULL) {
        return;
    }
    zsock_t *socks[2] = {self->router, self->pull};
    for (int i = 0; i < 2 && self->loop != NULL; i++) {
        if (socks[i] != NULL) {
            zloop_reader_end(self->loop, socks[i]);
        }
    }
    zsock_destroy(&self->router);
    zsock_destroy(&self->pull);
    if (self->zap_registered) {
        zn_zap_unregister(self->name);
    }
    zn_str_free(&self->call_endpoint);
    zn_str_free(&self->cast_endpoint);
    zn_dedup_destroy(&self->dedup);
    zn_pack_destroy(&self->body);
    zn_pack_destroy(&self->frame);
    zn_str_free(&self->name);
    zn_free(self);
    *self_p = NULL;
}

static void
s_count(zn_server_t *self, const char *name)
{
    if (self->metrics != NULL) {
        zn_metrics_count(self->metrics, name, 1);
    }
}

static const zn_method_t *
s_find_method(const zn_server_t *self, const char *name)
{
    for (const zn_method_t *m = self->methods; m->name != NULL; m++) {
        if (strcmp(m->name, name) == 0) {
            return m;
        }
    }
    return NULL;
}

/* Encode and send the answer to CALL; remember it so that a retry gets the same answer. */
static int
s_send_answer(zn_server_t *self, const zn_call_t *call, int code, zn_buf_t body,
              const char *message)
{
    zn_env_t reply;
    zn_env_init_reply(&reply, &call->env, code, message);
    reply.body = body;
    zn_pack_reset(self->frame);
    zn_env_encode(&reply, self->frame);
    zn_buf_t frame = zn_pack_buf(self->frame);
    zn_dedup_answer(self->dedup, &call->env.id, frame);
    zn_buf_t routing = {call->routing_id, call->routing_id_len};
    int rc = zn__link_send(self->router, routing, frame, ZMQ_DONTWAIT);
    if (rc < 0) {
        zn_log_warn(call->env.ctx.req_id, "%s: cannot answer %s: %s", self->name, call->env.method,
                    zn_strerror(rc));
    }
    return rc;
}

static void
s_fail(zn_server_t *self, zn_call_t *call, const zn_fault_t *fault)
{
    s_count(self, "rpc_errors");
    if (!call->is_cast) {
        zn_buf_t none = {NULL, 0};
        (void)s_send_answer(self, call, fault->code, none, zn_fault_message(fault));
    } else {
        zn_log_warn(call->env.ctx.req_id, "%s: cast %s failed: %s", self->name, call->env.method,
                    zn_fault_message(fault));
    }
}

/* Run the handler for a checked, new message and answer it. */
static void
s_run_handler(zn_server_t *self, zn_call_t *call, const zn_method_t *method)
{
    zn_fault_t fault;
    zn_fault_clear(&fault);
    zn_pack_reset(self->body);
    bool traced = self->trace != NULL && call->env.ctx.req_id[0] != '\0';
    int64_t started_us = self->metrics != NULL || traced ? zn_clock_mono_us() : 0;
    call->started_us = started_us; /* before the handler: zn_call_defer copies CALL */
    int rc = method->fn(self->arg, call, self->body, &fault);
    int64_t took_us = started_us != 0 ? zn_clock_mono_us() - started_us : 0;
    if (self->metrics != NULL) {
        zn_metrics_observe_us(self->metrics, "rpc_handler_us", took_us);
    }
    if (traced && rc != ZN_DEFERRED) {
        zn_trace_add(self->trace, call->env.ctx.req_id, call->env.method,
                     call->is_cast ? "cast" : "call", started_us, took_us, rc < 0 ? rc : 0);
    }
    if (rc == ZN_DEFERRED) {
        return;
    }
    if (rc < 0) {
        if (fault.code == 0) {
            fault.code = rc;
        }
        s_fail(self, call, &fault);
    } else if (!call->is_cast) {
        (void)s_send_answer(self, call, 0, zn_pack_buf(self->body), NULL);
    }
}

/* Everything between a decoded envelope and its handler: kind, duplicates, deadline, method. */
static void
s_dispatch(zn_server_t *self, zn_call_t *call)
{
    zn_fault_t fault;
    zn_kind_t want = call->is_cast ? ZN_KIND_CAST : ZN_KIND_CALL;
    if (call->env.kind != want) {
        zn_fault_set(&fault, -EPROTO, "expected a %s on this socket",
                     call->is_cast ? "cast" : "call");
        s_fail(self, call, &fault);
        return;
    }
    zn_buf_t stored = {NULL, 0};
    zn_dedup_state_t seen = zn_dedup_check(self->dedup, &call->env.id, self->now_ms, &stored);
    if (seen != ZN_DEDUP_NEW) {
        s_count(self, "rpc_duplicates");
        if (seen == ZN_DEDUP_ANSWERED && !call->is_cast) {
            zn_buf_t routing = {call->routing_id, call->routing_id_len};
            if (zn__link_send(self->router, routing, stored, ZMQ_DONTWAIT) < 0) {
                s_count(self, "rpc_unanswerable");
            }
        }
        return;
    }
    s_count(self, call->is_cast ? "rpc_casts" : "rpc_calls");
    if (zn_ctx_is_expired(&call->env.ctx)) {
        zn_fault_set(&fault, -ETIMEDOUT, "%s: deadline passed before it was handled",
                     call->env.method);
        s_fail(self, call, &fault);
        return;
    }
    const zn_method_t *method = s_find_method(self, call->env.method);
    uint32_t need = call->is_cast ? ZN_M_CAST : ZN_M_CALL;
    if (method == NULL || (method->flags & need) == 0) {
        zn_fault_set(&fault, ZN_EMETHOD, "unknown method '%s'", call->env.method);
        s_fail(self, call, &fault);
        return;
    }
    if (zn_log_enabled(ZN_LOG_D)) {
        zn_log_debug(call->env.ctx.req_id, "%s: %s from key '%s'", self->name, call->env.method,
                     call->peer);
    }
    if (self->secure && (method->flags & ZN_M_CONTROLLER) &&
        !zn_secure_name_is_controller(call->peer)) {
        zn_log_warn(call->env.ctx.req_id, "%s: %s refused to key '%s': controllers only",
                    self->name, call->env.method, call->peer);
        zn_fault_set(&fault, ZN_EFORBIDDEN, "%s: only controller keys may call it",
                     call->env.method);
        s_fail(self, call, &fault);
        return;
    }
    s_run_handler(self, call, method);
}

/* Read the message parts waiting on SOCK. A well-formed message is one frame after the routing
 * id (ROUTER) or one frame (PULL); anything else is drained and refused. */
static int
s_recv(zsock_t *sock, bool routed, zn_call_t *call, zmq_msg_t *frame)
{
    void *handle = zsock_resolve(sock);
    call->routing_id_len = 0;
    if (routed) {
        int n = zmq_recv(handle, call->routing_id, sizeof(call->routing_id), ZMQ_DONTWAIT);
        if (n < 0) {
            return -zmq_errno();
        }
        /* zmq_recv reports the full length even when it cut the frame: never trust more than
         * the buffer holds (libzmq caps routing ids at 255 bytes, but this is the edge). */
        call->routing_id_len = (size_t)n <= sizeof(call->routing_id) ? (size_t)n : 0;
    }
    if (zmq_msg_recv(frame, handle, ZMQ_DONTWAIT) < 0) {
        return -zmq_errno();
    }
    int parts = 0;
    while (zmq_msg_more(frame)) {
        zmq_msg_close(frame);
        zmq_msg_init(frame);
        (void)zmq_msg_recv(frame, handle, 0);
        parts++;
    }
    return parts == 0 ? 0 : -EBADMSG;
}

/* At most one line a second about malformed messages, with how many went unlogged: a peer that
 * sends garbage gets error replies, but cannot flood the log. */
static void
s_log_malformed(zn_server_t *self, const zn_fault_t *fault)
{
    int64_t now_ms = zn_clock_mono_ms();
    if (self->malformed_logged_ms != 0 && now_ms - self->malformed_logged_ms < 1000) {
        self->malformed_quiet++;
        return;
    }
    zn_log_warn(NULL, "%s: malformed message refused: %s (and %llu more since the last line)",
                self->name, fault->message, (unsigned long long)self->malformed_quiet);
    self->malformed_logged_ms = now_ms;
    self->malformed_quiet = 0;
}

/* The key name ZAP gave this connection, if any. */
static void
s_read_peer(zn_call_t *call, zmq_msg_t *frame)
{
    const char *user = zmq_msg_gets(frame, "User-Id");
    size_t len = user != NULL ? strnlen(user, S_PEER_MAX - 1) : 0;
    memcpy(call->peer, user != NULL ? user : "", len);
    call->peer[len] = '\0';
}

static int
s_handle_one(zn_server_t *self, zsock_t *sock)
{
    bool routed = sock == self->router;
    zn_call_t call;
    call.server = self;
    call.is_cast = !routed;
    zmq_msg_t frame;
    zmq_msg_init(&frame);
    int rc = s_recv(sock, routed, &call, &frame);
    if (rc == -EAGAIN) {
        zmq_msg_close(&frame);
        return rc;
    }
    zn_fault_t fault;
    zn_fault_clear(&fault);
    memset(&call.env.id, 0, sizeof(call.env.id));
    s_read_peer(&call, &frame);
    if (rc == 0) {
        zn_buf_t bytes = {zmq_msg_data(&frame), zmq_msg_size(&frame)};
        rc = zn_env_decode(&call.env, bytes, &fault);
    } else {
        zn_fault_set(&fault, rc, "message has more than one frame");
    }
    if (rc < 0) {
        s_count(self, "rpc_malformed");
        s_log_malformed(self, &fault);
        /* Answer when there is someone to answer; the id may be zero if it was unreadable. */
        if (routed) {
            zn_msgid_t id = call.env.id;
            zn_env_init(&call.env, ZN_KIND_CALL, "");
            call.env.id = id;
            s_fail(self, &call, &fault);
        }
    } else {
        s_dispatch(self, &call);
    }
    zmq_msg_close(&frame);
    return 0;
}

static int
s_on_readable(zloop_t *loop, zsock_t *sock, void *arg)
{
    (void)loop;
    zn_server_t *self = arg;
    self->now_ms = zn_clock_mono_ms();
    /* Drain a bounded batch: fair to other readers, and cheap under load. */
    for (int i = 0; i < S_DRAIN_MAX; i++) {
        if (s_handle_one(self, sock) == -EAGAIN) {
            break;
        }
    }
    return 0;
}

int
zn_server_attach(zn_server_t *self, zloop_t *loop)
{
    if (self->loop != NULL) {
        return -EINVAL;
    }
    self->loop = loop;
    if (self->router != NULL && zloop_reader(loop, self->router, s_on_readable, self) < 0) {
        return -EINVAL;
    }
    if (self->pull != NULL && zloop_reader(loop, self->pull, s_on_readable, self) < 0) {
        return -EINVAL;
    }
    return 0;
}

int
zn_server_poll(zn_server_t *self, int timeout_ms)
{
    zmq_pollitem_t items[2] = {
        {self->router ? zsock_resolve(self->router) : NULL, 0, ZMQ_POLLIN, 0},
        {self->pull ? zsock_resolve(self->pull) : NULL, 0, ZMQ_POLLIN, 0},
    };
    int handled = 0;
    if (zmq_poll(items, 2, timeout_ms) < 0) {
        return -zmq_errno();
    }
    zsock_t *socks[2] = {self->router, self->pull};
    self->now_ms = zn_clock_mono_ms();
    for (int i = 0; i < 2; i++) {
        while (socks[i] != NULL && s_handle_one(self, socks[i]) == 0) {
            handled++;
        }
    }
    return handled;
}

const char *
zn_server_call_endpoint(const zn_server_t *self)
{
    return self->call_endpoint;
}

const char *
zn_server_cast_endpoint(const zn_server_t *self)
{
    return self->cast_endpoint;
}

const zn_env_t *
zn_call_env(const zn_call_t *call)
{
    return &call->env;
}

const char *
zn_call_peer(const zn_call_t *call)
{
    return call->peer;
}

bool
zn_call_is_cast(const zn_call_t *call)
{
    return call->is_cast;
}

zn_call_t *
zn_call_defer(zn_call_t *call)
{
    ZN_ASSERT(!call->is_cast);
    zn_call_t *copy = zn_malloc(sizeof(*copy));
    *copy = *call;
    copy->env.ctx.token.ptr = NULL;
    copy->env.ctx.token.len = 0;
    copy->env.body.ptr = NULL;
    copy->env.body.len = 0;
    return copy;
}

int
zn_server_answer(zn_server_t *self, zn_call_t **call_p, int code, zn_buf_t body,
                 const char *message)
{
    zn_call_t *call = *call_p;
    *call_p = NULL;
    if (code < 0) {
        s_count(self, "rpc_errors");
    }
    if (self->trace != NULL && call->env.ctx.req_id[0] != '\0' && call->started_us != 0) {
        zn_trace_add(self->trace, call->env.ctx.req_id, call->env.method, "call, deferred",
                     call->started_us, zn_clock_mono_us() - call->started_us, code < 0 ? code : 0);
    }
    int rc = s_send_answer(self, call, code, body, message);
    zn_free(call);
    return rc;
}

int
zn_call_answer(zn_call_t **call_p, int code, zn_buf_t body, const char *message)
{
    return zn_server_answer((*call_p)->server, call_p, code, body, message);
}

void
zn_call_destroy(zn_call_t **call_p)
{
    if (*call_p != NULL) {
        zn_free(*call_p);
        *call_p = NULL;
    }
}
