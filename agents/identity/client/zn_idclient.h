/* SPDX-License-Identifier: Apache-2.0 */
/* zn_idclient.h - token validation for the API agents (steps 4-5, 20, 23, 26): calls the
 * identity agent's `validate` method over ZeroMQ and caches the answers, so that a token seen
 * recently is validated at memory speed.
 *
 * Where it lives: agents/identity/client/ is its own library (zn_idclient, linking only
 * broker/ and proto/), so that other agents link it without including the identity agent's
 * headers; broker/ must not know about identity.
 *
 * The `validate` call: the token travels in the request context (zn_ctx_t.token), the body is
 * empty; the reply body is a zn_idclient_auth_schema map; a bad, expired or revoked token is an
 * ERROR with ZN_EAUTH.
 *
 * Cache and revocation: an answer is kept for at most min(cache_ttl_ms, the token's expiry), so
 * a revocation takes effect everywhere within cache_ttl_ms (default 1000). Every reply also
 * carries the identity agent's revocation generation; a client that sees it change drops its
 * whole cache at once, so a revocation noticed through any token applies to all of them at
 * once. Tokens are not kept: the cache is keyed by a BLAKE2b hash of the token. Loop thread. */
#ifndef ZN_IDCLIENT_H
#define ZN_IDCLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <czmq.h>

#include "zn_buf.h"
#include "zn_env.h"
#include "zn_err.h"
#include "zn_keys.h"
#include "zn_metrics.h"
#include "zn_schema.h"

#define ZN_IDCLIENT_METHOD        "validate"
#define ZN_IDCLIENT_TTL_DEFAULT   1000
#define ZN_IDCLIENT_CACHE_DEFAULT 65536

/* Who a token stands for. Strings owned (zn_schema_release with zn_idclient_auth_schema). */
typedef struct zn_idclient_auth {
    char *user_id;
    char *user_name;
    char *project_id; /* NULL unless project-scoped */
    char *domain_id;  /* NULL unless domain-scoped */
    char **roles;     /* role names */
    size_t role_count;
    int64_t expires_at_ms; /* wall clock */
    char *audit_id;
    uint64_t revocation_generation;
} zn_idclient_auth_t;

extern const zn_schema_t zn_idclient_auth_schema;

typedef struct zn_idclient zn_idclient_t;

typedef struct zn_idclient_opts {
    const char *const *endpoints; /* the identity agents' call endpoints */
    size_t endpoint_count;
    const zn_keys_t *keys;     /* our CURVE pair; NULL: plaintext */
    const char *server_public; /* identity's public key, with keys */
    zn_metrics_t *metrics;     /* borrowed, may be NULL */
    int64_t cache_ttl_ms;      /* 0: ZN_IDCLIENT_TTL_DEFAULT; negative: no cache */
    size_t cache_max;          /* entries; 0: ZN_IDCLIENT_CACHE_DEFAULT; full: cleared */
} zn_idclient_opts_t;

/* Connect per OPTS. Returns 0 or -EINVAL with FAULT. */
ZN_MUST_CHECK int zn_idclient_open(zn_idclient_t **out, const zn_idclient_opts_t *opts,
                                   zn_fault_t *fault);

/* Close and free; pending validations are answered with -ECANCELED first. No-op on NULL. */
void zn_idclient_destroy(zn_idclient_t **self_p);

/* Receive answers on LOOP. Returns 0 or -EINVAL. */
ZN_MUST_CHECK int zn_idclient_attach(zn_idclient_t *self, zloop_t *loop);

/* The cached answer for TOKEN when it is still fresh, else NULL. Borrowed until the next call
 * into SELF. Never blocks, never sends. */
const zn_idclient_auth_t *zn_idclient_lookup(zn_idclient_t *self, zn_buf_t token);

/* Called once per validation: AUTH (borrowed for the call) on success, else FAULT's code is
 * ZN_EAUTH (refused), -ETIMEDOUT or ZN_EUNAVAIL (identity unreachable), -ECANCELED. */
typedef void(zn_idclient_fn)(void *arg, const zn_idclient_auth_t *auth, const zn_fault_t *fault);

/* Validate TOKEN (copied) for the request CTX (its request id travels; may be NULL) by calling
 * identity, and cache the answer. The usual pattern is zn_idclient_lookup first and this only on
 * a miss. FN runs later on the loop thread, never inside this call. Returns 0, or a negative
 * errno when nothing was queued (FN never runs). */
ZN_MUST_CHECK int zn_idclient_validate(zn_idclient_t *self, const zn_ctx_t *ctx, zn_buf_t token,
                                       int64_t timeout_ms, zn_idclient_fn *fn, void *arg);

/* Validate and wait (tools, tests, benchmarks). On 0 *out is a copy the caller releases with
 * zn_schema_release(&zn_idclient_auth_schema, out). Errors as for zn_idclient_fn. */
ZN_MUST_CHECK int zn_idclient_validate_sync(zn_idclient_t *self, zn_buf_t token, int64_t timeout_ms,
                                            zn_idclient_auth_t *out, zn_fault_t *fault);

/* Entries in the cache, and drop them all. */
size_t zn_idclient_cached(const zn_idclient_t *self);
void zn_idclient_flush(zn_idclient_t *self);

#endif
