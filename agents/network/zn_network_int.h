/* SPDX-License-Identifier: Apache-2.0 */
/* zn_network_int.h - what the network agent's files share: the agent's state, its REST routes
 * (zn_network_rest.c) and its ZeroMQ methods (zn_network_rpc.c). Only agents/network/. */
#ifndef ZN_NETWORK_INT_H
#define ZN_NETWORK_INT_H

#include "zn_agent.h"
#include "zn_idclient.h"
#include "zn_netbody.h"
#include "zn_netdb.h"
#include "zn_network.h"
#include "zn_rest.h"
#include "zn_sclient.h"
#include "zn_server.h"

struct zn_network {
    const zn_network_cfg_t *cfg;
    zn_agent_t *agent;
    const zn_secure_t *secure; /* the agent's, borrowed */
    zn_server_t *server;
    zn_sclient_t *sclient;
    zn_idclient_t *idclient;
    zn_rest_t *rest;
    zn_netdb_t *db;
};

extern const zn_rest_route_t zn__network_routes[];
extern const zn_method_t zn__network_methods[];

/* True when a caller of PROJECT_ID (ADMIN: any) may see network NET: its own, shared and
 * external (router:external) networks. */
bool zn__network_visible(const zn_net_network_t *net, const char *project_id, bool admin);

/* True when such a caller may make ports on NET: its own and shared networks. */
bool zn__network_usable(const zn_net_network_t *net, const char *project_id, bool admin);

#endif
