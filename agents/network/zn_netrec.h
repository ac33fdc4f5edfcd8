/* SPDX-License-Identifier: Apache-2.0 */
/* zn_netrec.h - zinc-network's records in the replicated store (networks, subnets, ports; the
 * ip_allocs and mac_allocs keys), the bodies of its ZeroMQ methods, and the Neutron v2.0 JSON
 * views the REST API answers with. Records are zn_schema maps; every string is owned
 * (zn_schema_release with the record's schema). */
#ifndef ZN_NETREC_H
#define ZN_NETREC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "zn_schema.h"

#define ZN_NET_ID_MAX   64
#define ZN_NET_NAME_MAX 255
#define ZN_NET_DESC_MAX 1024
#define ZN_NET_IPS_MAX  16 /* fixed IPs per port */
#define ZN_NET_DNS_MAX  8  /* dns_nameservers per subnet */

typedef struct zn_net_network {
    char *id;
    char *name;
    char *project_id;
    char *description;
    bool admin_state_up;
    bool shared;
    bool router_external;
    bool port_security_enabled;
    int64_t mtu;
    char *bridge;           /* the Linux bridge compute agents plug taps into */
    char *network_type;     /* provider:network_type: "flat", "vlan", "local" */
    char *physical_network; /* provider:physical_network, mapped to BRIDGE by configuration */
    int64_t segmentation_id;
    int64_t created_ms;
    int64_t updated_ms;
    int64_t revision;
} zn_net_network_t;

typedef struct zn_net_pool {
    char *start;
    char *end;
} zn_net_pool_t;

typedef struct zn_net_subnet {
    char *id;
    char *name;
    char *network_id;
    char *project_id;
    char *description;
    char *cidr;
    int64_t ip_version;
    char *gateway_ip; /* NULL: none */
    zn_net_pool_t *pools;
    size_t pool_count;
    char **dns_nameservers;
    size_t dns_count;
    bool enable_dhcp;
    int64_t created_ms;
    int64_t updated_ms;
    int64_t revision;
} zn_net_subnet_t;

typedef struct zn_net_fixed_ip {
    char *subnet_id;
    char *ip_address;
} zn_net_fixed_ip_t;

typedef struct zn_net_port {
    char *id;
    char *name;
    char *network_id;
    char *project_id;
    char *description;
    char *mac_address;
    char *device_id;
    char *device_owner;
    char *status; /* "DOWN", "ACTIVE" */
    char *host_id;
    bool admin_state_up;
    bool bind_created; /* made by port_bind: port_release deletes it (else only unbinds) */
    zn_net_fixed_ip_t *fixed_ips;
    size_t fixed_ip_count;
    int64_t created_ms;
    int64_t updated_ms;
    int64_t revision;
} zn_net_port_t;

extern const zn_schema_t zn_net_network_schema;
extern const zn_schema_t zn_net_subnet_schema;
extern const zn_schema_t zn_net_port_schema;

/* ---- ZeroMQ bodies (docs/flow.md, steps 22-24) --------------------------------------------- */

typedef struct zn_net_get_req {
    char *network_id;
} zn_net_get_req_t;

typedef struct zn_net_get_reply {
    char *id;
    char *name;
    char *project_id;
    bool shared;
    char *bridge;
    int64_t mtu;
    char **subnets;
    size_t subnet_count;
} zn_net_get_reply_t;

typedef struct zn_net_bind_req {
    char *network_id; /* NULL or "auto": the project's only network, else the one shared */
    char *port_id;
    char *device_id;
    char *host;
    char *project_id;
} zn_net_bind_req_t;

typedef struct zn_net_bind_reply {
    char *port_id;
    char *mac;
    char *network_id;
    char *bridge;
    int64_t mtu;
    zn_net_fixed_ip_t *fixed_ips;
    size_t fixed_ip_count;
} zn_net_bind_reply_t;

typedef struct zn_net_release_req {
    char *device_id;
    char *port_id;
} zn_net_release_req_t;

extern const zn_schema_t zn_net_get_req_schema;
extern const zn_schema_t zn_net_get_reply_schema;
extern const zn_schema_t zn_net_bind_req_schema;
extern const zn_schema_t zn_net_bind_reply_schema;
extern const zn_schema_t zn_net_release_req_schema;

/* ---- store keys ---------------------------------------------------------------------------- */

/* "SUBNET_ID/ADDRESS", the ip_allocs key of one address: the caller's (zn_str_free). */
char *zn_netrec_ip_key(const char *subnet_id, const char *address);

/* ---- Neutron JSON views -------------------------------------------------------------------- */

/* The Neutron view of NET with the ids of its subnets (SUBNET_IDS, COUNT). A new reference. */
json_t *zn_netrec_network_json(const zn_net_network_t *net, char *const *subnet_ids, size_t count);
json_t *zn_netrec_subnet_json(const zn_net_subnet_t *subnet);
json_t *zn_netrec_port_json(const zn_net_port_t *port);

#endif
