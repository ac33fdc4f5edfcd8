/* SPDX-License-Identifier: Apache-2.0 */
/* zn_client.h - make RPC calls to one service (one or more replicas) over a DEALER socket. */
#ifndef ZN_CLIENT_H
#define ZN_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <czmq.h>

#include "zn_env.h"
#include "zn_err.h"
#include "zn_keys.h"
#include "zn_metrics.h"

typedef struct zn_client zn_client_t;

typedef struct zn_client_opts {
    const char *name;             /* the service called, for logs and metrics */
    const char *const *endpoints; /* the service's replicas; calls go to a connected one */
    size_t endpoint_count;
    const zn_keys_t *keys;      /* our key pair; NULL: plaintext */
    const char *server_public;  /* the service's public key (Z85), with keys */
    int64_t attempt_timeout_ms; /* resend (same id) after this long without answer; 0: 1000 */
    zn_metrics_t *metrics;      /* borrowed, may be NULL */
} zn_client_opts_t;

/* Connect to the endpoints of OPTS (connections complete in the background).
 * Returns 0, or -EINVAL with FAULT (no endpoint, bad endpoint, bad server key). */
ZN_MUST_CHECK int zn_client_open(zn_client_t **out, const zn_client_opts_t *opts,
                                 zn_fault_t *fault);

/* Close the socket and free (before destroying the loop it is attached to). Every pending call's
 * callback runs first with -ECANCELED. */
void zn_client_destroy(zn_client_t **self_p);

/* Receive replies and enforce deadlines on LOOP. Returns 0 or -EINVAL. */
ZN_MUST_CHECK int zn_client_attach(zn_client_t *self, zloop_t *loop);

/* Called exactly once per call. On success FAULT->code is 0 and REPLY is the answer (its body
 * borrowed until the callback returns). On failure FAULT has the code and words: the remote
 * error, -ETIMEDOUT (sent, no answer by the deadline: the outcome is unknown), ZN_EUNAVAIL (no
 * replica was connected before the deadline), -ECANCELED (client destroyed); REPLY is NULL for
 * the local ones. */
typedef void(zn_reply_fn)(void *arg, const zn_env_t *reply, const zn_fault_t *fault);

/* Call METHOD with CTX (request id, identity, token; its deadline caps TIMEOUT_MS) and BODY (one
 * packed value, copied). FN runs later on the loop thread, never inside this call.
 * Returns 0, or a negative errno when the call could not even be queued (FN then never runs). */
ZN_MUST_CHECK int zn_client_call(zn_client_t *self, const char *method, const zn_ctx_t *ctx,
                                 zn_buf_t body, int64_t timeout_ms, zn_reply_fn *fn, void *arg);

/* An owned reply from zn_client_call_sync. */
typedef struct zn_reply zn_reply_t;

/* The decoded reply; its body lives as long as the reply. */
const zn_env_t *zn_reply_env(const zn_reply_t *reply);

void zn_reply_destroy(zn_reply_t **reply_p);

/* Call and wait up to TIMEOUT_MS for the answer, handling other replies that arrive meanwhile.
 * For tools and tests; blocks the calling thread. On 0, *out owns the reply. On failure returns
 * the code that zn_reply_fn would see, with FAULT. */
ZN_MUST_CHECK int zn_client_call_sync(zn_client_t *self, const char *method, const zn_ctx_t *ctx,
                                      zn_buf_t body, int64_t timeout_ms, zn_reply_t **out,
                                      zn_fault_t *fault);

/* Calls sent and not yet answered or failed. */
size_t zn_client_pending(const zn_client_t *self);

#endif
