/* SPDX-License-Identifier: Apache-2.0 */
/* zn_dedup.h - recently seen message ids, so that a redelivered or retried message runs once. */
#ifndef ZN_DEDUP_H
#define ZN_DEDUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zn_buf.h"
#include "zn_env.h"

/* A bounded table of message ids with, for calls, the reply that was sent, so that a retry gets
 * the same answer instead of a second execution. The oldest entry is evicted first; an entry is
 * also forgotten after the retry window, which must exceed any caller's total call timeout.
 * One loop thread only. */
typedef struct zn_dedup zn_dedup_t;

typedef enum {
    ZN_DEDUP_NEW,         /* first sighting: recorded as in progress */
    ZN_DEDUP_IN_PROGRESS, /* seen, not answered yet: drop the duplicate */
    ZN_DEDUP_ANSWERED,    /* seen and answered: resend the stored reply */
} zn_dedup_state_t;

/* CAPACITY entries (rounded up to a power of two), each kept at most WINDOW_MS. */
zn_dedup_t *zn_dedup_new(size_t capacity, int64_t window_ms);

void zn_dedup_destroy(zn_dedup_t **self_p);

/* Look ID up at time NOW_MS and record it if new. For ZN_DEDUP_ANSWERED, *reply is the stored
 * reply frame, borrowed until the next call on SELF. */
zn_dedup_state_t zn_dedup_check(zn_dedup_t *self, const zn_msgid_t *id, int64_t now_ms,
                                zn_buf_t *reply);

/* Store the reply frame sent for ID (copied). Does nothing if ID was evicted meanwhile. */
void zn_dedup_answer(zn_dedup_t *self, const zn_msgid_t *id, zn_buf_t reply);

/* Forget ID, so that a later copy runs again (used when a handler failed before doing anything). */
void zn_dedup_forget(zn_dedup_t *self, const zn_msgid_t *id);

size_t zn_dedup_count(const zn_dedup_t *self);

#endif
