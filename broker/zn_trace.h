/* SPDX-License-Identifier: Apache-2.0 */
/* zn_trace.h - the recent history of one agent's work per request id: a fixed ring of spans
 * (what ran, for which request, when, how long, with what result) that servers fill for every
 * call and cast they handle, REST fronts for every HTTP request, and agents for their own steps.
 * `zincctl trace REQUEST_ID` asks every agent's admin socket for its spans of that request and
 * prints one timeline. Memory is fixed (capacity spans); the oldest are overwritten. Loop thread
 * (one ring per agent, never shared between threads). */
#ifndef ZN_TRACE_H
#define ZN_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "zn_mp.h"

#define ZN_TRACE_CAPACITY_DEFAULT 8192
#define ZN_TRACE_STEP_MAX         47
#define ZN_TRACE_DETAIL_MAX       95

typedef struct zn_trace zn_trace_t;

/* A ring of CAPACITY spans (0: ZN_TRACE_CAPACITY_DEFAULT). */
zn_trace_t *zn_trace_new(size_t capacity);

void zn_trace_destroy(zn_trace_t **self_p);

/* Record that STEP ran for REQ_ID from START_MONO_US (zn_clock_mono_us) for DURATION_US and
 * ended with CODE (0 or a negative error); DETAIL (may be NULL) says more. Strings are copied
 * and cut at their limits. A span with no request id is not kept. No-op on a NULL SELF. */
void zn_trace_add(zn_trace_t *self, const char *req_id, const char *step, const char *detail,
                  int64_t start_mono_us, int64_t duration_us, int code);

/* Pack the spans of REQ_ID, oldest first, as an array of maps {step, detail, start_us (wall
 * clock, microseconds since the epoch), duration_us, code}. */
void zn_trace_pack(const zn_trace_t *self, const char *req_id, zn_pack_t *out);

/* Spans recorded since creation (also those overwritten since). */
uint64_t zn_trace_count(const zn_trace_t *self);

#endif
