/* SPDX-License-Identifier: Apache-2.0 */
/* zn_rpcauth.c - the caller of an agent's ZeroMQ method: token (cache first) or controller. */
#include "zn_rpcauth.h"

#include <stdio.h>
#include <string.h>

#include "zn_mem.h"
#include "zn_secure.h"

/* A validation in flight: the caller's continuation. */
typedef struct {
    zn_rpcauth_fn *fn;
    void *arg;
} s_pending_t;

static void
s_from_auth(zn_rpcauth_t *who, const zn_idclient_auth_t *auth)
{
    memset(who, 0, sizeof(*who));
    (void)snprintf(who->project_id, sizeof(who->project_id), "%s",
                   auth->project_id != NULL ? auth->project_id : "");
    (void)snprintf(who->user_id, sizeof(who->user_id), "%s",
                   auth->user_id != NULL ? auth->user_id : "");
    for (size_t i = 0; i < auth->role_count; i++) {
        who->admin = who->admin || strcmp(auth->roles[i], "admin") == 0;
    }
}

static void
s_on_validated(void *arg, const zn_idclient_auth_t *auth, const zn_fault_t *fault)
{
    s_pending_t *pending = arg;
    zn_rpcauth_fn *fn = pending->fn;
    void *fn_arg = pending->arg;
    zn_free(pending);
    if (auth == NULL) {
        zn_fault_t why;
        zn_fault_set(&why, fault->code == ZN_EAUTH ? ZN_EAUTH : ZN_EUNAVAIL,
                     "the token cannot be validated: %s", zn_fault_message(fault));
        fn(fn_arg, NULL, &why);
        return;
    }
    zn_rpcauth_t who;
    s_from_auth(&who, auth);
    zn_fault_t ok;
    zn_fault_clear(&ok);
    fn(fn_arg, &who, &ok);
}

int
zn_rpcauth_check(zn_idclient_t *idclient, zn_call_t *call, int64_t timeout_ms, zn_rpcauth_t *who,
                 zn_rpcauth_fn *fn, void *arg, zn_fault_t *fault)
{
    memset(who, 0, sizeof(*who));
    const zn_ctx_t *ctx = &zn_call_env(call)->ctx;
    if (ctx->token.len == 0) {
        const char *peer = zn_call_peer(call); /* "" in plaintext mode */
        if (peer[0] != '\0' && !zn_secure_name_is_controller(peer)) {
            return zn_fault_set(fault, ZN_EAUTH, "a user token is required in the call's context");
        }
        who->admin = true;
        who->controller = true;
        return 0;
    }
    const zn_idclient_auth_t *cached = zn_idclient_lookup(idclient, ctx->token);
    if (cached != NULL) {
        s_from_auth(who, cached);
        return 0;
    }
    s_pending_t *pending = zn_calloc(1, sizeof(*pending));
    pending->fn = fn;
    pending->arg = arg;
    if (zn_idclient_validate(idclient, ctx, ctx->token, timeout_ms, s_on_validated, pending) < 0) {
        zn_free(pending);
        return zn_fault_set(fault, ZN_EUNAVAIL, "identity is unreachable");
    }
    return 1;
}
