/* SPDX-License-Identifier: Apache-2.0 */
/* zn_network.h - zinc-network: the Neutron v2.0 subset over HTTP (networks, subnets, ports with
 * IPAM) and network_get, port_bind and port_release over ZeroMQ for compute agents and the api
 * (steps 22-24 of the flow). Records live in the replicated store. docs/network.md. */
#ifndef ZN_NETWORK_H
#define ZN_NETWORK_H

#include <stdint.h>

#include <czmq.h>

#include "zn_agent_cfg.h"
#include "zn_cfg.h"
#include "zn_err.h"

typedef struct zn_network_cfg {
    zn_agent_cfg_t common;
    char *call_endpoint;
    char *http_endpoint;
    char *url_prefix;
    int64_t http_body_max_bytes;
    char *store_replica_dir;
    char *store_conductor_call;
    int64_t write_timeout_ms;
    char *default_bridge;
    char *bridge_mappings;
    int64_t default_mtu;
    char *identity_call;
    int64_t token_cache_ttl_ms;
} zn_network_cfg_t;

extern const zn_cfg_opt_t zn_network_options[];

typedef struct zn_network zn_network_t;

/* Connect to the store and identity, bind the HTTP and RPC endpoints and start heartbeats, per
 * CFG (borrowed; must outlive the agent). Returns 0 or a negative errno, having logged why. */
ZN_MUST_CHECK int zn_network_open(zn_network_t **out, const zn_network_cfg_t *cfg);

void zn_network_destroy(zn_network_t **self_p);

/* Serve until SIGTERM/SIGINT (or $TERM on a watched pipe). Returns 0. Loop thread. */
int zn_network_run(zn_network_t *self);

/* Also stop on "$TERM" from PIPE, to run the agent as a czmq actor (tests, benchmarks). */
ZN_MUST_CHECK int zn_network_watch_pipe(zn_network_t *self, zsock_t *pipe);

/* The HTTP port and the RPC call endpoint actually bound (wildcards resolved). */
uint16_t zn_network_http_port(const zn_network_t *self);
const char *zn_network_call_endpoint(const zn_network_t *self);

#endif
