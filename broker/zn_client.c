/* SPDX-License-Identifier: Apache-2.0 */
/* zn_client.c - calls in flight, keyed by message id; resends with the same id; deadlines. */
#include "zn_client.h"

#include <errno.h>
#include <string.h>

#include "zn_clock.h"
#include "zn_link_int.h"
#include "zn_log.h"
#include "zn_mem.h"

#define S_TICK_MS 10

struct zn_reply {
    uint8_t *bytes;
    zn_env_t env;
};

typedef struct {
    zn_msgid_t id;
    uint8_t *frame;
    size_t frame_len;
    int64_t deadline_ms;
    int64_t resend_ms;
    int64_t started_us;
    bool sent;
    zn_reply_fn *fn;
    void *arg;
    zn_reply_t **sync_out; /* set for zn_client_call_sync */
    zn_fault_t *sync_fault;
    bool *sync_done;
    char method[ZN_METHOD_MAX + 1];
    char req_id[ZN_ID_MAX + 1];
} s_pending_t;

struct zn_client {
    char *name;
    zsock_t *dealer;
    zhashx_t *pending; /* zn_msgid_t -> s_pending_t */
    zn_pack_t *frame;
    zloop_t *loop;
    int timer_id;
    int64_t attempt_timeout_ms;
    zn_metrics_t *metrics;
};

static size_t
s_id_hash(const void *key)
{
    /* The first half of an id is constant per sender: mix both halves. */
    uint64_t a;
    uint64_t b;
    memcpy(&a, key, sizeof(a));
    memcpy(&b, (const uint8_t *)key + 8, sizeof(b));
    return (size_t)((a ^ b) * 0x9E3779B97F4A7C15ULL);
}

static int
s_id_compare(const void *a, const void *b)
{
    return memcmp(a, b, sizeof(zn_msgid_t));
}

static void *
s_id_dup(const void *key)
{
    zn_msgid_t *copy = zn_malloc(sizeof(*copy));
    memcpy(copy, key, sizeof(*copy));
    return copy;
}

static void
s_id_free(void **key)
{
    zn_free(*key);
    *key = NULL;
}

static void
s_pending_free(s_pending_t **p_p)
{
    if (*p_p != NULL) {
        zn_free((*p_p)->frame);
        zn_free(*p_p);
        *p_p = NULL;
    }
}

static zhashx_t *
s_pending_table(void)
{
    zhashx_t *t = zhashx_new();
    zhashx_set_key_hasher(t, s_id_hash);
    zhashx_set_key_comparator(t, s_id_compare);
    zhashx_set_key_duplicator(t, s_id_dup);
    zhashx_set_key_destructor(t, s_id_free);
    return t;
}

static int
s_connect_all(zn_client_t *self, const zn_client_opts_t *opts, zn_fault_t *fault)
{
    if (opts->endpoint_count == 0) {
        return zn_fault_set(fault, -EINVAL, "client %s: no endpoint configured", self->name);
    }
    if (opts->keys != NULL &&
        zn__link_secure_client(self->dealer, opts->keys, opts->server_public) < 0) {
        return zn_fault_set(fault, -EINVAL, "client %s: the server public key is not a CURVE key",
                            self->name);
    }
    for (size_t i = 0; i < opts->endpoint_count; i++) {
        if (zsock_connect(self->dealer, "%s", opts->endpoints[i]) < 0) {
            return zn_fault_set(fault, -EINVAL, "client %s: cannot connect to %s: %s", self->name,
                                opts->endpoints[i], zmq_strerror(zmq_errno()));
        }
    }
    return 0;
}

int
zn_client_open(zn_client_t **out, const zn_client_opts_t *opts, zn_fault_t *fault)
{
    *out = NULL;
    zn_client_t *self = zn_calloc(1, sizeof(*self));
    self->name = zn_strdup(opts->name ? opts->name : "client");
    self->dealer = zsock_new(ZMQ_DEALER);
    zn__link_tune(self->dealer, 0);
    /* Queue only to replicas whose connection is up: a dead replica must not swallow calls. */
    zsock_set_immediate(self->dealer, 1);
    self->pending = s_pending_table();
    self->frame = zn_pack_new();
    self->timer_id = -1;
    self->attempt_timeout_ms = opts->attempt_timeout_ms > 0 ? opts->attempt_timeout_ms : 1000;
    self->metrics = opts->metrics;
    int rc = s_connect_all(self, opts, fault);
    if (rc < 0) {
        zn_client_destroy(&self);
        return rc;
    }
    *out = self;
    return 0;
}

static void s_finish(zn_client_t *self, s_pending_t *p, const zn_env_t *reply, zn_buf_t raw,
                     const zn_fault_t *fault);

void
zn_client_destroy(zn_client_t **self_p)
{
    zn_client_t *self = *self_p;
    if (self == NULL) {
        return;
    }
    if (self->loop != NULL) {
        zloop_reader_end(self->loop, self->dealer);
        if (self->timer_id >= 0) {
            zloop_timer_end(self->loop, self->timer_id);
        }
    }
    zn_fault_t cancelled;
    zn_fault_set(&cancelled, -ECANCELED, "client %s closed with the call in flight", self->name);
    s_pending_t *p = zhashx_first(self->pending);
    while (p != NULL) {
        zhashx_delete(self->pending, &p->id);
        zn_buf_t none = {NULL, 0};
        s_finish(self, p, NULL, none, &cancelled);
        p = zhashx_first(self->pending);
    }
    zhashx_destroy(&self->pending);
    zsock_destroy(&self->dealer);
    zn_pack_destroy(&self->frame);
    zn_str_free(&self->name);
    zn_free(self);
    *self_p = NULL;
}

/* Keep a copy of the reply frame RAW for a synchronous caller. RAW decoded once already. */
static zn_reply_t *
s_reply_keep(zn_buf_t raw)
{
    zn_reply_t *owned = zn_calloc(1, sizeof(*owned));
    owned->bytes = zn_malloc(raw.len);
    memcpy(owned->bytes, raw.ptr, raw.len);
    zn_buf_t copy = {owned->bytes, raw.len};
    zn_fault_t fault;
    ZN_ASSERT(zn_env_decode(&owned->env, copy, &fault) == 0);
    return owned;
}

/* Deliver the outcome of P (already removed from the table) and free it. RAW is the reply frame
 * that REPLY was decoded from, when there is one. */
static void
s_finish(zn_client_t *self, s_pending_t *p, const zn_env_t *reply, zn_buf_t raw,
         const zn_fault_t *fault)
{
    if (self->metrics != NULL) {
        zn_metrics_count(self->metrics, fault->code == 0 ? "rpc_replies" : "rpc_failures", 1);
        zn_metrics_observe_us(self->metrics, "rpc_call_us", zn_clock_mono_us() - p->started_us);
    }
    if (p->sync_done != NULL) {
        *p->sync_done = true;
        *p->sync_fault = *fault;
        if (fault->code == 0 && reply != NULL) {
            *p->sync_out = s_reply_keep(raw);
        }
    } else {
        p->fn(p->arg, reply, fault);
    }
    s_pending_free(&p);
}

static int
s_try_send(zn_client_t *self, s_pending_t *p, int64_t now_ms)
{
    zn_buf_t none = {NULL, 0};
    zn_buf_t frame = {p->frame, p->frame_len};
    int rc = zn__link_send(self->dealer, none, frame, ZMQ_DONTWAIT);
    if (rc == 0) {
        p->sent = true;
        p->resend_ms = now_ms + self->attempt_timeout_ms;
    }
    return rc;
}

/* Turn one received frame into the outcome of its call. Replies are untrusted input too. */
static void
s_on_frame(zn_client_t *self, zn_buf_t raw)
{
    zn_env_t env;
    zn_fault_t fault;
    zn_fault_clear(&fault);
    memset(&env.id, 0, sizeof(env.id));
    int rc = zn_env_decode(&env, raw, &fault);
    s_pending_t *p = zhashx_lookup(self->pending, &env.id);
    if (p == NULL) {
        /* A late answer to a call that timed out, or a duplicate: the caller has moved on. */
        if (self->metrics != NULL) {
            zn_metrics_count(self->metrics, "rpc_late_replies", 1);
        }
        return;
    }
    zhashx_delete(self->pending, &env.id);
    if (rc == 0 && env.kind == ZN_KIND_ERROR) {
        zn_fault_set(&fault, env.err_code, "%s", env.err_message);
    } else if (rc == 0 && env.kind != ZN_KIND_REPLY) {
        rc = zn_fault_set(&fault, -EPROTO, "%s: answer of kind %d", self->name, (int)env.kind);
    }
    if (rc < 0) {
        zn_log_warn(p->req_id, "%s %s: bad answer: %s", self->name, p->method, fault.message);
    }
    s_finish(self, p, fault.code == 0 ? &env : NULL, raw, &fault);
}

/* Receive every frame waiting on the socket. Returns how many were handled. */
static int
s_drain(zn_client_t *self)
{
    void *handle = zsock_resolve(self->dealer);
    int handled = 0;
    for (;;) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, handle, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&msg);
            return handled;
        }
        bool more = zmq_msg_more(&msg);
        zn_buf_t raw = {zmq_msg_data(&msg), zmq_msg_size(&msg)};
        if (!more) {
            s_on_frame(self, raw);
        }
        zmq_msg_close(&msg);
        while (more) { /* a well-behaved server never sends these: drop them */
            zmq_msg_init(&msg);
            (void)zmq_msg_recv(&msg, handle, 0);
            more = zmq_msg_more(&msg);
            zmq_msg_close(&msg);
        }
        handled++;
    }
}

static int
s_on_readable(zloop_t *loop, zsock_t *sock, void *arg)
{
    (void)loop;
    (void)sock;
    (void)s_drain(arg);
    return 0;
}

/* Send what could not be sent, resend what went unanswered, fail what ran out of time. */
static void
s_tick(zn_client_t *self)
{
    int64_t now_ms = zn_clock_mono_ms();
    size_t expired_count = 0;
    s_pending_t **expired = NULL;
    for (s_pending_t *p = zhashx_first(self->pending); p != NULL; p = zhashx_next(self->pending)) {
        if (now_ms >= p->deadline_ms) {
            /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers. */
            expired = zn_realloc(expired, (expired_count + 1) * sizeof(*expired));
            expired[expired_count++] = p;
        } else if (!p->sent || now_ms >= p->resend_ms) {
            /* Same id: a server that already ran it answers from its reply cache. */
            (void)s_try_send(self, p, now_ms);
        }
    }
    for (size_t i = 0; i < expired_count; i++) {
        s_pending_t *p = expired[i];
        zhashx_delete(self->pending, &p->id);
        zn_fault_t fault;
        if (p->sent) {
            zn_fault_set(&fault, -ETIMEDOUT, "%s %s: no answer in time; outcome unknown",
                         self->name, p->method);
        } else {
            zn_fault_set(&fault, ZN_EUNAVAIL, "%s %s: no replica reachable", self->name, p->method);
        }
        zn_buf_t none = {NULL, 0};
        s_finish(self, p, NULL, none, &fault);
    }
    zn_free(expired);
}

static int
s_on_timer(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    s_tick(arg);
    return 0;
}

int
zn_client_attach(zn_client_t *self, zloop_t *loop)
{
    if (self->loop != NULL || zloop_reader(loop, self->dealer, s_on_readable, self) < 0) {
        return -EINVAL;
    }
    self->loop = loop;
    self->timer_id = zloop_timer(loop, S_TICK_MS, 0, s_on_timer, self);
    return self->timer_id < 0 ? -EINVAL : 0;
}

static s_pending_t *
s_pending_new(zn_client_t *self, const char *method, const zn_ctx_t *ctx, zn_buf_t body,
              int64_t timeout_ms)
{
    s_pending_t *p = zn_calloc(1, sizeof(*p));
    int64_t now_ms = zn_clock_mono_ms();
    p->deadline_ms = now_ms + timeout_ms;
    if (ctx != NULL && ctx->deadline_ms > 0 && ctx->deadline_ms < p->deadline_ms) {
        p->deadline_ms = ctx->deadline_ms;
    }
    p->started_us = zn_clock_mono_us();
    zn_env_t env;
    zn_env_init(&env, ZN_KIND_CALL, method);
    if (ctx != NULL) {
        env.ctx = *ctx;
    }
    env.ctx.deadline_ms = p->deadline_ms;
    env.body = body;
    p->id = env.id;
    (void)snprintf(p->method, sizeof(p->method), "%s", method);
    (void)snprintf(p->req_id, sizeof(p->req_id), "%s", env.ctx.req_id);
    zn_pack_reset(self->frame);
    zn_env_encode(&env, self->frame);
    zn_buf_t frame = zn_pack_buf(self->frame);
    p->frame = zn_malloc(frame.len);
    memcpy(p->frame, frame.ptr, frame.len);
    p->frame_len = frame.len;
    return p;
}

static int
s_start(zn_client_t *self, s_pending_t *p)
{
    if (strlen(p->method) == 0) {
        s_pending_free(&p);
        return -EINVAL;
    }
    int rc = s_try_send(self, p, zn_clock_mono_ms());
    if (rc < 0 && rc != -EAGAIN) {
        zn_log_warn(p->req_id, "%s %s: cannot send: %s", self->name, p->method, zn_strerror(rc));
        s_pending_free(&p);
        return rc;
    }
    zhashx_insert(self->pending, &p->id, p);
    return 0;
}

int
zn_client_call(zn_client_t *self, const char *method, const zn_ctx_t *ctx, zn_buf_t body,
               int64_t timeout_ms, zn_reply_fn *fn, void *arg)
{
    if (strlen(method) > ZN_METHOD_MAX || timeout_ms <= 0) {
        return -EINVAL;
    }
    s_pending_t *p = s_pending_new(self, method, ctx, body, timeout_ms);
    p->fn = fn;
    p->arg = arg;
    return s_start(self, p);
}

const zn_env_t *
zn_reply_env(const zn_reply_t *reply)
{
    return &reply->env;
}

void
zn_reply_destroy(zn_reply_t **reply_p)
{
    zn_reply_t *reply = *reply_p;
    if (reply != NULL) {
        zn_free(reply->bytes);
        zn_free(reply);
        *reply_p = NULL;
    }
}

int
zn_client_call_sync(zn_client_t *self, const char *method, const zn_ctx_t *ctx, zn_buf_t body,
                    int64_t timeout_ms, zn_reply_t **out, zn_fault_t *fault)
{
    *out = NULL;
    if (strlen(method) > ZN_METHOD_MAX || timeout_ms <= 0) {
        return zn_fault_set(fault, -EINVAL, "bad method or timeout");
    }
    bool done = false;
    s_pending_t *p = s_pending_new(self, method, ctx, body, timeout_ms);
    p->sync_out = out;
    p->sync_fault = fault;
    p->sync_done = &done;
    int rc = s_start(self, p);
    if (rc < 0) {
        return zn_fault_set(fault, rc, "%s %s: cannot send: %s", self->name, method,
                            zn_strerror(rc));
    }
    while (!done) {
        /* Until the call is out, wake as soon as a replica's connection comes up; wake at least
         * every tick so that deadlines are enforced. */
        short events = p->sent ? ZMQ_POLLIN : (ZMQ_POLLIN | ZMQ_POLLOUT);
        zmq_pollitem_t item = {zsock_resolve(self->dealer), 0, events, 0};
        if (zmq_poll(&item, 1, S_TICK_MS) > 0 && (item.revents & ZMQ_POLLIN)) {
            (void)s_drain(self);
        }
        /* DONE changes behind cppcheck's back: s_drain sets it through the call's sync_done. */
        /* cppcheck-suppress identicalInnerCondition */
        if (!done) {
            s_tick(self);
        }
    }
    return fault->code;
}

size_t
zn_client_pending(const zn_client_t *self)
{
    return zhashx_size(self->pending);
}
