/* SPDX-License-Identifier: Apache-2.0 */
/* zn_tokenkeys.h - the token key repository on disk, rotated like Keystone's Fernet keys.
 *
 * KEYS_DIR holds files named by a number, each one 256-bit key in base64 (mode 0600):
 *   0        the staged key: accepted, and the next primary
 *   highest  the primary key: seals new tokens
 *   others   secondary keys: still accepted, so tokens sealed before a rotation stay valid
 * Rotation renames 0 to highest+1 (it becomes primary), writes a new 0, and deletes the oldest
 * secondaries beyond MAX_ACTIVE keys. Because every node already holds the staged key, a key
 * directory copied to all nodes before a rotation lets them rotate one after the other with
 * no token refused. The running agent rereads the directory when it changes. */
#ifndef ZN_TOKENKEYS_H
#define ZN_TOKENKEYS_H

#include <stddef.h>
#include <stdint.h>

#include "zn_err.h"

#define ZN_TOKENKEY_BYTES     32
#define ZN_TOKENKEYS_MAX      64 /* files considered */
#define ZN_TOKENKEYS_MIN_KEEP 3  /* staged + primary + one secondary */

typedef struct zn_tokenkeys zn_tokenkeys_t;

/* Create KEYS_DIR (0700) with a staged key 0 and a primary key 1 when it holds no key yet
 * (like keystone-manage fernet_setup). Returns 0 or a negative errno with FAULT. */
ZN_MUST_CHECK int zn_tokenkeys_setup(const char *keys_dir, zn_fault_t *fault);

/* Rotate the keys in KEYS_DIR as described above, keeping at most MAX_ACTIVE keys (at least
 * ZN_TOKENKEYS_MIN_KEEP). Returns 0 or a negative errno with FAULT. Safe while agents run. */
ZN_MUST_CHECK int zn_tokenkeys_rotate(const char *keys_dir, int max_active, zn_fault_t *fault);

/* Load the keys of KEYS_DIR (setting it up when empty) into *out. Keys live in sodium_malloc
 * memory. Returns 0, or a negative errno with FAULT (unreadable directory, a damaged key). */
ZN_MUST_CHECK int zn_tokenkeys_open(zn_tokenkeys_t **out, const char *keys_dir, zn_fault_t *fault);

/* Wipe and free the keys, and set *self_p to NULL. No-op on NULL. */
void zn_tokenkeys_destroy(zn_tokenkeys_t **self_p);

/* Reread the directory when its modification time changed since the last load. Returns 1 when
 * the keys changed, 0 when not, or a negative errno with FAULT (the old keys stay in use). */
ZN_MUST_CHECK int zn_tokenkeys_refresh(zn_tokenkeys_t *self, zn_fault_t *fault);

/* How many keys are accepted (primary, secondaries, staged). */
size_t zn_tokenkeys_count(const zn_tokenkeys_t *self);

/* Key INDEX (< count) in the order to try: 0 is the primary, then the newer secondaries first,
 * the staged key last. Borrowed until the next refresh or destroy. */
const uint8_t *zn_tokenkeys_key(const zn_tokenkeys_t *self, size_t index);

/* The primary key's number (its file name). */
int zn_tokenkeys_primary_number(const zn_tokenkeys_t *self);

#endif
