/* SPDX-License-Identifier: Apache-2.0 */
/* zn_server.h - serve RPC calls (ROUTER) and casts (PULL) from a method table, on a zloop. */
#ifndef ZN_SERVER_H
#define ZN_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include <czmq.h>

#include "zn_env.h"
#include "zn_err.h"
#include "zn_keys.h"
#include "zn_metrics.h"
#include "zn_mp.h"
#include "zn_trace.h"

typedef struct zn_server zn_server_t;

/* One received call or cast. Valid only while its handler runs, unless deferred. */
typedef struct zn_call zn_call_t;

/* A handler returns this when it took the call with zn_call_defer and will answer later. */
#define ZN_DEFERRED 1

/* Handle CALL. For a call, pack the reply body (one MessagePack value, or nothing) into REPLY and
 * return 0; or return a negative code with FAULT filled (zn_fault_set) to send an ERROR; or return
 * ZN_DEFERRED after zn_call_defer. For a cast the reply is ignored and a failure is only logged.
 * ARG is the one given to zn_server_open. Loop thread. */
typedef int(zn_handler_fn)(void *arg, zn_call_t *call, zn_pack_t *reply, zn_fault_t *fault);

enum {
    ZN_M_CALL = 1u << 0,       /* accepted as a call */
    ZN_M_CAST = 1u << 1,       /* accepted as a cast */
    ZN_M_CONTROLLER = 1u << 2, /* with CURVE on: only controller and operator keys, never a
                                  hypervisor's (zn_secure_name_is_controller); ZN_EFORBIDDEN */
};

/* One row of a method table; a table ends with a row whose name is NULL. */
typedef struct zn_method {
    const char *name;
    zn_handler_fn *fn;
    uint32_t flags;
} zn_method_t;

typedef struct zn_server_opts {
    const char *name;          /* for logs and metrics, and the ZAP domain of its sockets */
    const char *call_endpoint; /* ROUTER bind ("tcp://127.0.0.1:*" picks a port); NULL: none */
    const char *cast_endpoint; /* PULL bind; NULL: none */
    const zn_keys_t *keys;     /* the server's key pair; NULL: plaintext (tests, make run) */
    const zn_allow_t *allow;   /* with keys: the client keys accepted (copied) */
    zn_metrics_t *metrics;     /* borrowed, may be NULL */
    size_t dedup_capacity;     /* remembered message ids; 0: 65536 */
    int64_t dedup_window_ms;   /* how long an id is remembered; 0: 120000 */
    zn_trace_t *trace;         /* borrowed, may be NULL: a span per handled request with an id */
} zn_server_opts_t;

/* Bind the sockets of OPTS and serve METHODS (borrowed; must outlive the server) with ARG.
 * Returns 0, or a negative errno with FAULT (bad endpoint, address in use, bad keys). */
ZN_MUST_CHECK int zn_server_open(zn_server_t **out, const zn_server_opts_t *opts,
                                 const zn_method_t *methods, void *arg, zn_fault_t *fault);

/* Unbind, close and free; call it before destroying the loop it is attached to. Deferred calls not
 * yet answered are dropped (their callers time out). */
void zn_server_destroy(zn_server_t **self_p);

/* Serve on LOOP: registers the sockets as readers. Returns 0 or -EINVAL. */
ZN_MUST_CHECK int zn_server_attach(zn_server_t *self, zloop_t *loop);

/* Handle every message waiting on the sockets, waiting up to TIMEOUT_MS for the first one.
 * For servers run without a loop (tests, tools). Returns the number handled or a negative errno. */
int zn_server_poll(zn_server_t *self, int timeout_ms);

/* The endpoints actually bound (wildcard ports resolved), or NULL. Borrowed from SELF. */
const char *zn_server_call_endpoint(const zn_server_t *self);
const char *zn_server_cast_endpoint(const zn_server_t *self);

/* The decoded request: method, context (request id, identity, token, deadline), body. The token
 * and body are borrowed from the frame and gone once the handler returns. */
const zn_env_t *zn_call_env(const zn_call_t *call);

/* The name of the key the caller authenticated with (its key file's name, such as
 * "compute-node1" or "api"), or "" in plaintext mode. Borrowed from CALL. */
const char *zn_call_peer(const zn_call_t *call);

/* True for a cast (no reply expected). */
bool zn_call_is_cast(const zn_call_t *call);

/* Keep CALL past its handler, to answer later with zn_server_answer. The copy keeps the id,
 * method and context but not the token or body (copy those first if needed). Calls only. */
zn_call_t *zn_call_defer(zn_call_t *call);

/* Answer the deferred *CALL_P: with CODE 0 a REPLY carrying BODY, else an ERROR with CODE and
 * MESSAGE. Consumes *call_p even on failure. Returns 0 or a negative errno from the send
 * (-EHOSTUNREACH when the caller is gone). Loop thread. */
ZN_MUST_CHECK int zn_server_answer(zn_server_t *self, zn_call_t **call_p, int code, zn_buf_t body,
                                   const char *message);

/* Answer the deferred *CALL_P through the server it came in on (an agent may serve several),
 * as zn_server_answer does. That server must still exist. */
ZN_MUST_CHECK int zn_call_answer(zn_call_t **call_p, int code, zn_buf_t body, const char *message);

/* Free a deferred call without answering (its caller will time out). */
void zn_call_destroy(zn_call_t **call_p);

#endif
