/* SPDX-License-Identifier: Apache-2.0 */
/* zn_keys.h - CURVE key pairs (secret half in locked memory) and allow-lists of public keys. */
#ifndef ZN_KEYS_H
#define ZN_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zn_common.h"
#include "zn_err.h"

#define ZN_KEY_Z85_LEN 40 /* a 32-byte CURVE key in Z85 text */

/* An agent's CURVE key pair. The secret lives in sodium_malloc memory, wiped on destroy. */
typedef struct zn_keys zn_keys_t;

/* A new random key pair. */
zn_keys_t *zn_keys_generate(void);

/* Load a key pair from PATH, a file written by zn_keys_save ("public = Z85", "secret = Z85").
 * Returns 0, -ENOENT/-EACCES (cannot open), or -EINVAL with FAULT naming the file and the problem
 * (missing or malformed key, or a public key that does not match the secret). */
ZN_MUST_CHECK int zn_keys_load(zn_keys_t **out, const char *path, zn_fault_t *fault);

/* Write the pair to PATH (mode 0600) and the public half alone to PATH with ".pub" appended
 * (mode 0644), each via a temporary file and rename. Returns 0 or a negative errno. */
ZN_MUST_CHECK int zn_keys_save(const zn_keys_t *self, const char *path, zn_fault_t *fault);

void zn_keys_destroy(zn_keys_t **self_p);

/* The public key as Z85 text, borrowed until SELF is destroyed. */
const char *zn_keys_public(const zn_keys_t *self);

/* The secret key as Z85 text, borrowed until SELF is destroyed. Only for socket options. */
const char *zn_keys_secret(const zn_keys_t *self);

/* Read the public key from PATH (a ".pub" file or a full key file) into OUT (41 bytes).
 * Returns 0, a negative errno, or -EINVAL with FAULT. */
ZN_MUST_CHECK int zn_keys_read_public(const char *path, char out[ZN_KEY_Z85_LEN + 1],
                                      zn_fault_t *fault);

/* A set of public keys a server accepts. */
typedef struct zn_allow zn_allow_t;

zn_allow_t *zn_allow_new(void);

void zn_allow_destroy(zn_allow_t **self_p);

/* Add one Z85 public key. Returns 0 or -EINVAL when the text is not a 40-character Z85 key. */
ZN_MUST_CHECK int zn_allow_add_z85(zn_allow_t *self, const char *z85);

/* Add one Z85 public key known as NAME (copied; at most 63 bytes): the name a server learns for
 * a client that authenticates with it (zn_call_peer). Returns 0 or -EINVAL. */
ZN_MUST_CHECK int zn_allow_add_named(zn_allow_t *self, const char *z85, const char *name);

/* The name KEY was added with ("" when none), or NULL when KEY is not in the set. Borrowed. */
const char *zn_allow_name_of(const zn_allow_t *self, const uint8_t key[32]);

/* Add the public key of every "*.pub" file in DIR, named by the file ("api.key.pub" is "api").
 * Returns the number added, or a negative errno (with FAULT) when DIR cannot be read or a file is
 * malformed. */
ZN_MUST_CHECK int zn_allow_load_dir(zn_allow_t *self, const char *dir, zn_fault_t *fault);

/* As zn_allow_load_dir, but only files whose name starts with PREFIX. */
ZN_MUST_CHECK int zn_allow_load_dir_prefix(zn_allow_t *self, const char *dir, const char *prefix,
                                           zn_fault_t *fault);

/* True when the 32-byte binary KEY is in the set. Constant time per comparison. */
bool zn_allow_contains(const zn_allow_t *self, const uint8_t key[32]);

size_t zn_allow_count(const zn_allow_t *self);

/* A deep copy. */
zn_allow_t *zn_allow_dup(const zn_allow_t *self);

#endif
