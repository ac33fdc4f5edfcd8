/* SPDX-License-Identifier: Apache-2.0 */
/* zn_ratelimit.h - failed-login counting per key (a user name, a source address): after
 * MAX_FAILURES within WINDOW_MS the key is blocked until the window has passed. Keys are
 * counted whether or not a user exists, so blocking reveals nothing. Loop thread only. */
#ifndef ZN_RATELIMIT_H
#define ZN_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#define ZN_RATELIMIT_KEYS_MAX 65536 /* beyond this, expired entries are swept first */

typedef struct zn_ratelimit zn_ratelimit_t;

/* MAX_FAILURES 0 disables limiting. */
zn_ratelimit_t *zn_ratelimit_new(int max_failures, int64_t window_ms);

void zn_ratelimit_destroy(zn_ratelimit_t **self_p);

/* True when KEY has reached its failures within the window ending at NOW_MS. */
bool zn_ratelimit_is_blocked(zn_ratelimit_t *self, const char *key, int64_t now_ms);

/* Count one failure of KEY at NOW_MS. */
void zn_ratelimit_fail(zn_ratelimit_t *self, const char *key, int64_t now_ms);

/* Forget KEY's failures (after a successful login). */
void zn_ratelimit_reset(zn_ratelimit_t *self, const char *key);

#endif
