/* SPDX-License-Identifier: Apache-2.0 */
/* zn_compute.h - zinc-compute: the agent on each hypervisor node. Today it announces itself to
 * the conductor with heartbeats and discovers the other services; building domains on libvirt
 * (steps 19-28) comes with the compute agent issue. */
#ifndef ZN_COMPUTE_H
#define ZN_COMPUTE_H

#include "zn_agent_cfg.h"
#include "zn_cfg.h"
#include "zn_err.h"

typedef struct zn_compute_cfg {
    zn_agent_cfg_t common;
    char *call_endpoint;
    char *cast_endpoint;
} zn_compute_cfg_t;

extern const zn_cfg_opt_t zn_compute_options[];

typedef struct zn_compute zn_compute_t;

/* Bind per CFG (borrowed; must outlive the agent) and start heartbeats. Returns 0 or a negative
 * errno, having logged why. */
ZN_MUST_CHECK int zn_compute_open(zn_compute_t **out, const zn_compute_cfg_t *cfg);

void zn_compute_destroy(zn_compute_t **self_p);

/* Serve until SIGTERM/SIGINT. Returns 0. */
int zn_compute_run(zn_compute_t *self);

#endif
