/* SPDX-License-Identifier: Apache-2.0 */
/* zn_api.h - zinc-api: the Nova v2.1 subset over HTTP (step 3 of the flow). It validates each
 * request's token through identity (steps 4-5), reads the compute cell's records from this
 * node's replica and writes them through the conductor (steps 6-7), asks the scheduler for a
 * host (steps 8-11) and casts the build and every lifecycle action to that host's compute agent
 * (steps 12-13). docs/api.md. */
#ifndef ZN_API_H
#define ZN_API_H

#include <stdint.h>

#include <czmq.h>

#include "zn_agent_cfg.h"
#include "zn_cfg.h"
#include "zn_err.h"

typedef struct zn_api_cfg {
    zn_agent_cfg_t common;
    char *http_endpoint;
    char *url_prefix;
    char *store_dir;
    int64_t http_body_max_bytes;
    int64_t max_limit;
    char *identity_call;
    char *scheduler_call;
    char *image_call;
    char *network_call;
    char *volume_call;
    int64_t call_timeout_ms;
    int64_t scheduler_timeout_ms;
    int64_t take_timeout_ms;
    int64_t action_timeout_ms;
    int64_t cast_wait_ms;
    char *default_zone;
} zn_api_cfg_t;

extern const zn_cfg_opt_t zn_api_options[];

typedef struct zn_api zn_api_t;

/* Bind the REST port and connect to identity, the conductors and the configured peers, per
 * CFG (borrowed; must outlive the agent). Returns 0 or a negative errno, having logged why. */
ZN_MUST_CHECK int zn_api_open(zn_api_t **out, const zn_api_cfg_t *cfg);

/* Stop serving and free; requests still waiting are dropped. No-op on NULL. */
void zn_api_destroy(zn_api_t **self_p);

/* Serve until SIGTERM/SIGINT (or $TERM on a watched pipe). Returns 0. Loop thread. */
int zn_api_run(zn_api_t *self);

/* Also stop on "$TERM" from PIPE, to run the agent as a czmq actor (tests). */
ZN_MUST_CHECK int zn_api_watch_pipe(zn_api_t *self, zsock_t *pipe);

/* The HTTP port actually bound. */
uint16_t zn_api_http_port(const zn_api_t *self);

#endif
