/* SPDX-License-Identifier: Apache-2.0 */
/* zn_sched_alive.h - what the scheduler learns from a conductor's `services` answer (an array
 * of service maps, untrusted bytes): which compute hosts are alive, and how many schedulers are
 * alive and which of them it is (its share of the hosts). */
#ifndef ZN_SCHED_ALIVE_H
#define ZN_SCHED_ALIVE_H

#include <stdbool.h>
#include <stddef.h>

#include <czmq.h>

#include "zn_buf.h"

typedef struct zn_sched_alive {
    zhashx_t *hosts;   /* compute hosts called up (values unused); owned */
    bool self_seen;    /* SELF_ENDPOINT is among the schedulers called up */
    size_t schedulers; /* schedulers called up */
    size_t before;     /* of those, how many have a call endpoint sorting before ours */
} zn_sched_alive_t;

/* Read BODY into *out (zeroed first), counting schedulers relative to SELF_ENDPOINT (our call
 * endpoint, as announced). Entries that do not decode are skipped. Returns true, or false when
 * BODY is not an array (then *out holds nothing). Release with zn_sched_alive_release. */
bool zn_sched_alive_parse(zn_buf_t body, const char *self_endpoint, zn_sched_alive_t *out);

/* Free what *alive holds; safe twice. */
void zn_sched_alive_release(zn_sched_alive_t *alive);

#endif
