/* SPDX-License-Identifier: Apache-2.0 */
/* zn_sched_place.h - `select_destinations` (steps 8-11, docs/flow.md): decode the request,
 * resolve its hints and server group to hosts, decide in memory (zn_sched_hosts), and claim the
 * host atomically in the store with one batch (`put host_usage/H if gen == g` + `put
 * claims/INSTANCE if absent`). A conflict re-reads that host and decides again; a request that
 * only busy hosts (our own claims in flight) could take waits for them to settle; a second call
 * for an instance that holds a claim answers that claim's host. Loop thread. */
#ifndef ZN_SCHED_PLACE_H
#define ZN_SCHED_PLACE_H

#include <stdint.h>

#include "zn_metrics.h"
#include "zn_sched_hosts.h"
#include "zn_sclient.h"
#include "zn_server.h"

typedef struct zn_sched_place_opts {
    zn_sclient_t *sc;        /* borrowed: the replica and the conductors */
    zn_sched_hosts_t *hosts; /* borrowed */
    zn_metrics_t *metrics;   /* borrowed, may be NULL */
    int64_t claim_attempts;  /* decisions per request before giving up on conflicts */
    int64_t refresh_min_ms;  /* a failure refreshes from the store first, at most this often */
} zn_sched_place_opts_t;

/* What the admin socket shows. */
typedef struct zn_sched_place_counts {
    uint64_t requests;
    uint64_t decisions; /* placements decided in memory (every attempt) */
    uint64_t claims;    /* claims committed */
    uint64_t conflicts; /* claims the store refused (another scheduler was first) */
    uint64_t no_valid_host;
    uint64_t idempotent; /* answered from an existing claim */
    uint64_t in_flight;  /* requests not answered yet */
    uint64_t waiting;    /* of those, waiting for a busy host */
} zn_sched_place_counts_t;

typedef struct zn_sched_place zn_sched_place_t;

/* Cannot fail. OPTS is copied; what it points to must outlive the result. */
zn_sched_place_t *zn_sched_place_new(const zn_sched_place_opts_t *opts);

/* Drop every request still in flight (their callers time out). Call zn_sched_place_close
 * and destroy the store client first, so that no claim answer arrives afterwards. */
void zn_sched_place_destroy(zn_sched_place_t **self_p);

/* Stop answering: claim answers that arrive from now on (the store client's destruction runs
 * them with -ECANCELED) only free their requests. */
void zn_sched_place_close(zn_sched_place_t *self);

/* The `select_destinations` handler (zn_handler_fn with SELF as ARG): returns ZN_DEFERRED
 * (answered later) or a negative code with FAULT for a body that does not decode. */
int zn_sched_place_select(void *self, zn_call_t *call, zn_pack_t *reply, zn_fault_t *fault);

/* Decode and check a `select_destinations` BODY (untrusted bytes) as the handler does, and
 * forget it: for fuzzing and tests. Returns 0, or -EBADMSG / ZN_ETOOBIG / -EINVAL with FAULT. */
ZN_MUST_CHECK int zn_sched_place_check(zn_buf_t body, zn_fault_t *fault);

void zn_sched_place_counts(const zn_sched_place_t *self, zn_sched_place_counts_t *out);

/* True when no request is in flight (for a clean shutdown). */
bool zn_sched_place_is_idle(const zn_sched_place_t *self);

#endif
