/* SPDX-License-Identifier: Apache-2.0 */
/* zn_password.c - Argon2id through libsodium's crypto_pwhash_str family. */
#include "zn_password.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "zn_mem.h"

static const struct {
    const char *name;
    unsigned long long ops;
    size_t mem;
    const char *describe;
} s_costs[] = {
    [ZN_PASSWORD_INTERACTIVE] = {"interactive", crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                 crypto_pwhash_MEMLIMIT_INTERACTIVE,
                                 "argon2id ops=2 mem=64MiB (interactive)"},
    [ZN_PASSWORD_MODERATE] = {"moderate", crypto_pwhash_OPSLIMIT_MODERATE,
                              crypto_pwhash_MEMLIMIT_MODERATE,
                              "argon2id ops=3 mem=256MiB (moderate)"},
    [ZN_PASSWORD_TEST] = {"test", crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN,
                          "argon2id ops=1 mem=8KiB (TEST ONLY)"},
};

int
zn_password_cost_parse(const char *text, zn_password_cost_t *out)
{
    for (size_t i = 0; i < ZN_ARRAY_COUNT(s_costs); i++) {
        if (text != NULL && strcmp(text, s_costs[i].name) == 0) {
            *out = (zn_password_cost_t)i;
            return 0;
        }
    }
    return -EINVAL;
}

const char *
zn_password_cost_describe(zn_password_cost_t cost)
{
    return s_costs[cost].describe;
}

int
zn_password_hash(const char *password, size_t len, zn_password_cost_t cost, char **out)
{
    *out = NULL;
    if (len > ZN_PASSWORD_MAX_LEN) {
        return ZN_ETOOBIG;
    }
    char hash[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str(hash, password, len, s_costs[cost].ops, s_costs[cost].mem) != 0) {
        return -ENOMEM;
    }
    *out = zn_strdup(hash);
    sodium_memzero(hash, sizeof(hash));
    return 0;
}

bool
zn_password_verify(const char *hash, const char *dummy_hash, const char *password, size_t len)
{
    if (len > ZN_PASSWORD_MAX_LEN) {
        return false;
    }
    const char *against = hash != NULL ? hash : dummy_hash;
    bool match = crypto_pwhash_str_verify(against, password, len) == 0;
    return hash != NULL && match;
}
