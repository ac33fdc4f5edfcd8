/* SPDX-License-Identifier: Apache-2.0 */
/* zn_token.h - self-contained tokens: claims packed with zn_schema, then sealed (encrypted and
 * authenticated) with XChaCha20-Poly1305 under the primary key of a zn_tokenkeys repository.
 *
 * Text form: "zt1" + URL-safe base64 (no padding) of nonce(24) || ciphertext || tag(16). The
 * prefix names the format version; the version byte is also bound in as associated data. A
 * token opens under any accepted key (primary, secondary, staged); one flipped bit, a key that
 * was rotated out, or a foreign key makes it unreadable. Expiry is checked here; revocation and
 * the user's current rights are the caller's (zn_identity) business. */
#ifndef ZN_TOKEN_H
#define ZN_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zn_err.h"
#include "zn_schema.h"
#include "zn_tokenkeys.h"

#define ZN_TOKEN_TEXT_MAX 2048 /* longer strings are refused before decoding */
#define ZN_TOKEN_PREFIX   "zt1"

/* What a token says. Strings owned (zn_schema_release with zn_token_claims_schema). */
typedef struct zn_token_claims {
    char *user_id;
    char *project_id; /* set for a project-scoped token */
    char *domain_id;  /* set for a domain-scoped token; neither: unscoped */
    char **role_ids;
    size_t role_count;
    char **methods; /* "password", "token" */
    size_t method_count;
    char *audit_id;       /* this token's audit id (22 characters, like Keystone) */
    char *audit_chain_id; /* the first token's audit id when re-scoped, else NULL */
    int64_t issued_at_ms;
    int64_t expires_at_ms;
} zn_token_claims_t;

extern const zn_schema_t zn_token_claims_schema;

/* Seal CLAIMS under KEYS' primary key into *out, a new string the caller owns (zn_str_free).
 * Never fails except by running out of memory. */
void zn_token_seal(const zn_token_claims_t *claims, const zn_tokenkeys_t *keys, char **out);

/* Open TEXT with KEYS into CLAIMS (zeroed first; release with zn_schema_release) and check its
 * expiry against NOW_WALL_MS. Returns 0; -EINVAL when TEXT is not a token (bad prefix, length,
 * base64); -EACCES when no key opens it (tampered, foreign, rotated out); -EBADMSG when it opens
 * but the claims are malformed; -ETIMEDOUT when it has expired. CLAIMS is empty on failure. */
ZN_MUST_CHECK int zn_token_open(const char *text, const zn_tokenkeys_t *keys, int64_t now_wall_ms,
                                zn_token_claims_t *claims);

/* A fresh random audit id (22 URL-safe characters) into OUT. */
void zn_token_audit_id(char out[23]);

#endif
