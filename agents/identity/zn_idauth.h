/* SPDX-License-Identifier: Apache-2.0 */
/* zn_idauth.h - tokens as the identity agent sees them: issue for a user and scope, validate
 * (open, expiry, revocation, then the user, project and role assignments as they are now), and
 * revoke (by token, user or project). Revocation events live in the store and in memory; each
 * one bumps a generation that the validate reply carries, so that caches elsewhere notice.
 * Loop thread only. */
#ifndef ZN_IDAUTH_H
#define ZN_IDAUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "zn_err.h"
#include "zn_idstore.h"
#include "zn_token.h"
#include "zn_tokenkeys.h"

#define ZN_IDAUTH_ROLES_MAX 16

typedef struct zn_idauth zn_idauth_t;

/* A validated (or just issued) token, with the records it names as they are now. Owned:
 * zn_idauth_result_release. */
typedef struct zn_idauth_result {
    zn_token_claims_t claims;
    zn_id_user_t user;
    zn_id_project_t project; /* empty (id NULL) unless project-scoped */
    zn_id_domain_t domain;   /* the scope domain when domain-scoped, else empty */
    zn_id_role_t roles[ZN_IDAUTH_ROLES_MAX];
    size_t role_count;
    uint32_t role_bits; /* ZN_ROLE_* of zn_policy.h */
} zn_idauth_result_t;

void zn_idauth_result_release(zn_idauth_result_t *result);

/* Load the revocation events of STORE (both borrowed, must outlive the result). TTL_MS is the
 * lifetime of new tokens. Returns 0 or a negative errno with FAULT. */
ZN_MUST_CHECK int zn_idauth_open(zn_idauth_t **out, zn_idstore_t *store, zn_tokenkeys_t *keys,
                                 int64_t ttl_ms, zn_fault_t *fault);

void zn_idauth_destroy(zn_idauth_t **self_p);

/* The scope asked for: at most one of PROJECT_ID and DOMAIN_ID. */
typedef struct zn_idauth_scope {
    const char *project_id;
    const char *domain_id;
} zn_idauth_scope_t;

/* Issue a token for USER (already authenticated, borrowed) with SCOPE and METHOD ("password",
 * "token"); CHAIN is the re-scoped token's claims or NULL. On 0, *token (the caller's,
 * zn_str_free) and RESULT are set. Returns ZN_EAUTH with FAULT when the user, project or domain
 * is disabled or missing or the user has no role on the project. */
ZN_MUST_CHECK int zn_idauth_issue(zn_idauth_t *self, const zn_id_user_t *user,
                                  const zn_idauth_scope_t *scope, const char *method,
                                  const zn_token_claims_t *chain, char **token,
                                  zn_idauth_result_t *result, zn_fault_t *fault);

/* Validate TOKEN fully at NOW_WALL_MS into RESULT. Returns 0 or ZN_EAUTH with FAULT saying why
 * (malformed, unreadable, expired, revoked, user or project disabled or gone, no roles left). */
ZN_MUST_CHECK int zn_idauth_validate(zn_idauth_t *self, const char *token, int64_t now_wall_ms,
                                     zn_idauth_result_t *result, zn_fault_t *fault);

/* Revoke: the token with AUDIT_ID (and its re-scoped children), or every token of USER_ID or of
 * PROJECT_ID issued up to now. Exactly one of the three is set. Returns 0 or -EIO with FAULT. */
ZN_MUST_CHECK int zn_idauth_revoke(zn_idauth_t *self, const char *audit_id, const char *user_id,
                                   const char *project_id, zn_fault_t *fault);

/* Forget revocation events whose tokens have all expired by NOW_WALL_MS, in memory and in the
 * store. Returns how many stored events were removed, or -EIO with FAULT. */
ZN_MUST_CHECK int zn_idauth_prune(zn_idauth_t *self, int64_t now_wall_ms, zn_fault_t *fault);

/* Read the store's revocation events again and keep what is new: another identity agent on the
 * same replicated store may have revoked tokens. Returns how many events revoked more than was
 * known (the generation moves when any did), or a negative errno with FAULT. */
ZN_MUST_CHECK int zn_idauth_refresh(zn_idauth_t *self, zn_fault_t *fault);

/* Bumped by every revocation; starts at the wall clock in ms at open, so that it grows across
 * restarts too. */
uint64_t zn_idauth_revocation_generation(const zn_idauth_t *self);

#endif
