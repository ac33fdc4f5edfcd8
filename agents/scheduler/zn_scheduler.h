/* SPDX-License-Identifier: Apache-2.0 */
/* zn_scheduler.h - zinc-scheduler: steps 8-11. Keeps the compute hosts' states in memory (built
 * from the store replica, refreshed as their records change, liveness from the conductors'
 * registry) and serves `select_destinations` to controllers: filter, weigh, claim atomically,
 * answer the host and its alternates. docs/scheduler.md tells the whole story. */
#ifndef ZN_SCHEDULER_H
#define ZN_SCHEDULER_H

#include <stdint.h>

#include <czmq.h>

#include "zn_agent_cfg.h"
#include "zn_cfg.h"
#include "zn_err.h"

#define ZN_PORT_SCHEDULER_CALL  "7103"
#define ZN_PORT_SCHEDULER_ADMIN "7203"

typedef struct zn_scheduler_cfg {
    zn_agent_cfg_t common;
    char *call_endpoint;
    char *replica_dir;
    char *ram_weight_multiplier; /* decimals, parsed at open */
    char *cpu_weight_multiplier;
    char *disk_weight_multiplier;
    char *strategy; /* spread | pack */
    int64_t host_subset_size;
    char *partition; /* "I/N" or "" */
    int64_t refresh_interval_ms;
    int64_t refresh_min_ms;
    bool check_alive;
    int64_t alive_interval_ms;
    int64_t claim_attempts;
} zn_scheduler_cfg_t;

extern const zn_cfg_opt_t zn_scheduler_options[];

typedef struct zn_scheduler zn_scheduler_t;

/* Bind the call and admin sockets per CFG (borrowed; must outlive it), connect to the
 * conductors and load the host states. Returns 0, or ZN_ECONFIG / a negative errno having
 * logged why. */
ZN_MUST_CHECK int zn_scheduler_open(zn_scheduler_t **out, const zn_scheduler_cfg_t *cfg);

void zn_scheduler_destroy(zn_scheduler_t **self_p);

/* Stop when PIPE says "$TERM" (tests run the scheduler as a czmq actor). */
ZN_MUST_CHECK int zn_scheduler_watch_pipe(zn_scheduler_t *self, zsock_t *pipe);

/* The call endpoint actually bound. Borrowed from SELF. */
const char *zn_scheduler_call_endpoint(const zn_scheduler_t *self);

/* The admin endpoint. Borrowed from SELF. */
const char *zn_scheduler_admin_endpoint(const zn_scheduler_t *self);

/* Serve until SIGTERM/SIGINT. Returns 0. */
int zn_scheduler_run(zn_scheduler_t *self);

#endif
