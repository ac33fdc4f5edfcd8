/* SPDX-License-Identifier: Apache-2.0 */
/* zn_conductor.h - zinc-conductor: the controller that compute agents talk to. Today it keeps
 * the service registry (heartbeats in, `services` out); the control path adds instance reads
 * and writes on behalf of compute agents (steps 14-18). */
#ifndef ZN_CONDUCTOR_H
#define ZN_CONDUCTOR_H

#include <stdint.h>

#include <czmq.h>

#include "zn_agent_cfg.h"
#include "zn_cfg.h"
#include "zn_conductor_inst.h"
#include "zn_conductor_store.h"
#include "zn_err.h"

typedef struct zn_conductor_cfg {
    zn_agent_cfg_t common;
    char *call_endpoint;
    char *cast_endpoint;
    int64_t dead_after_ms;
    zn_conductor_store_cfg_t store;
    zn_conductor_build_cfg_t build;
} zn_conductor_cfg_t;

extern const zn_cfg_opt_t zn_conductor_options[];

typedef struct zn_conductor zn_conductor_t;

/* Bind the conductor's sockets and admin socket per CFG (borrowed; must outlive it).
 * Returns 0 or a negative errno, having logged why. */
ZN_MUST_CHECK int zn_conductor_open(zn_conductor_t **out, const zn_conductor_cfg_t *cfg);

void zn_conductor_destroy(zn_conductor_t **self_p);

/* Stop when PIPE says "$TERM" (tests run the conductor as a czmq actor). */
ZN_MUST_CHECK int zn_conductor_watch_pipe(zn_conductor_t *self, zsock_t *pipe);

/* The call endpoint actually bound. Borrowed from SELF. */
const char *zn_conductor_call_endpoint(const zn_conductor_t *self);

/* Serve until SIGTERM/SIGINT. Returns 0. */
int zn_conductor_run(zn_conductor_t *self);

#endif
