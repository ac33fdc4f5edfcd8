/* SPDX-License-Identifier: Apache-2.0 */
/* zn_rpcauth.h - who makes a call to an agent's ZeroMQ methods: the RPC counterpart of
 * zn_rest's token check, shared by the image, network and volume agents (steps 20, 23, 26).
 *
 * A call carries the user's token in its context; it is validated through zn_idclient, its
 * cache first, and the call acts for the token's project (for every project with the admin
 * role). Without a token only a controller may call (the conductor releasing a deleted
 * instance's ports and volumes), and acts for every project: with CURVE, a key that is not a
 * hypervisor's; in plaintext mode, where no caller can be told apart and any local process may
 * write the store through the conductor anyway, anyone, as the broker's ZN_M_CONTROLLER rule.
 * Loop thread. */
#ifndef ZN_RPCAUTH_H
#define ZN_RPCAUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "zn_env.h"
#include "zn_err.h"
#include "zn_idclient.h"
#include "zn_server.h"

#define ZN_RPCAUTH_ID_MAX ZN_ID_MAX /* project and user ids, as in a call's context */

typedef struct {
    char project_id[ZN_RPCAUTH_ID_MAX + 1]; /* "" without a project scope, or for a controller */
    char user_id[ZN_RPCAUTH_ID_MAX + 1];
    bool admin;      /* the token has the admin role, or a controller called without one */
    bool controller; /* no token: a controller's key */
} zn_rpcauth_t;

/* The answer to a deferred check: WHO, or NULL with FAULT (ZN_EAUTH: the token is refused;
 * ZN_EUNAVAIL: identity could not say). */
typedef void(zn_rpcauth_fn)(void *arg, const zn_rpcauth_t *who, const zn_fault_t *fault);

/* Find out who makes CALL. Returns 0 with *WHO filled (a cached token, or a controller without
 * one); 1 when identity is asked, and FN runs on the loop with the answer (the caller defers
 * CALL meanwhile); or a negative code with FAULT: ZN_EAUTH (no token from a hypervisor's key),
 * ZN_EUNAVAIL (identity unreachable). */
ZN_MUST_CHECK int zn_rpcauth_check(zn_idclient_t *idclient, zn_call_t *call, int64_t timeout_ms,
                                   zn_rpcauth_t *who, zn_rpcauth_fn *fn, void *arg,
                                   zn_fault_t *fault);

#endif
