/* SPDX-License-Identifier: Apache-2.0 */
/* zn_password.h - password hashes: Argon2id (libsodium crypto_pwhash_str), verified in constant
 * time, with a dummy hash so that an unknown user costs what a known one does. */
#ifndef ZN_PASSWORD_H
#define ZN_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

#include "zn_err.h"

#define ZN_PASSWORD_MAX_LEN 4096 /* longer passwords are refused before hashing */

/* Argon2id cost. TEST is for test suites only: it makes a hash cheap to brute-force. */
typedef enum {
    ZN_PASSWORD_INTERACTIVE = 0, /* ~170 ms, 64 MiB: the default */
    ZN_PASSWORD_MODERATE = 1,    /* ~1 s, 256 MiB */
    ZN_PASSWORD_TEST = 2,        /* minimum cost: tests only, never production */
} zn_password_cost_t;

/* Parse "interactive", "moderate" or "test". Returns 0 or -EINVAL. */
ZN_MUST_CHECK int zn_password_cost_parse(const char *text, zn_password_cost_t *out);

/* A short description of COST for reports: "argon2id ops=2 mem=64MiB". Static. */
const char *zn_password_cost_describe(zn_password_cost_t cost);

/* Hash PASSWORD (LEN bytes) at COST into *out, a new string the caller owns (zn_str_free; it is
 * not secret but is never logged). Returns 0, ZN_ETOOBIG when LEN > ZN_PASSWORD_MAX_LEN, or
 * -ENOMEM when Argon2id cannot get its memory. Blocks for the cost: call it off the loop. */
ZN_MUST_CHECK int zn_password_hash(const char *password, size_t len, zn_password_cost_t cost,
                                   char **out);

/* True when PASSWORD matches HASH (a string from zn_password_hash). With HASH NULL, verify
 * against DUMMY_HASH instead and return false: an unknown user takes as long as a known one.
 * Blocks like zn_password_hash. */
bool zn_password_verify(const char *hash, const char *dummy_hash, const char *password, size_t len);

#endif
