/* SPDX-License-Identifier: Apache-2.0 */
/* zn_volume_int.h - inside the volume agent: its state, shared by the lifecycle and RPC part
 * (zn_volume.c) and the REST handlers (zn_volume_rest.c). */
#ifndef ZN_VOLUME_INT_H
#define ZN_VOLUME_INT_H

#include "zn_agent.h"
#include "zn_client.h"
#include "zn_idclient.h"
#include "zn_rest.h"
#include "zn_sclient.h"
#include "zn_server.h"
#include "zn_vbackend.h"
#include "zn_volops.h"
#include "zn_volume.h"

struct zn_volume {
    const zn_volume_cfg_t *cfg;
    const zn_secure_t *secure; /* the agent's, borrowed */
    zn_agent_t *agent;
    zn_vbackend_t *backend;
    zn_sclient_t *sc;
    zn_idclient_t *idclient;
    zn_client_t *image; /* NULL without [peers] image_call */
    zn_volops_t *ops;
    zn_rest_t *rest;
    zn_server_t *server;
    zlistx_t *calls;    /* RPC calls in flight (s_call_t), freed at the end if still there */
    int64_t started_ms; /* wall clock: what is older was left by an earlier run */
};

/* The REST routes (zn_volume_rest.c). */
extern const zn_rest_route_t zn__volume_routes[];

#endif
