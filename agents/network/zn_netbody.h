/* SPDX-License-Identifier: Apache-2.0 */
/* zn_netbody.h - the Neutron v2.0 request bodies zinc-network accepts, checked strictly and
 * turned into records: `{"network": {...}}`, `{"subnet": {...}}`, `{"port": {...}}` for create
 * (POST) and update (PUT). Bodies are untrusted (tests/fuzz/fuzz_network_body.c): every type,
 * length and address is checked; unknown attributes are ignored. Pure: no store, no clock. */
#ifndef ZN_NETBODY_H
#define ZN_NETBODY_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "zn_err.h"
#include "zn_netdb.h"
#include "zn_netrec.h"

/* What the parsers need to know of the caller and the deployment. */
typedef struct zn_netbody_ctx {
    const char *project_id;     /* the caller's project: records are created in it */
    bool is_admin;              /* may create in another project, set provider attributes */
    const char *default_bridge; /* networks without provider:physical_network */
    const char *mappings;       /* "PHYSNET:BRIDGE,...": provider:physical_network to bridge */
    int64_t default_mtu;
} zn_netbody_ctx_t;

/* The fixed IPs a port create asked for. IPS borrow from the body. */
typedef struct zn_netbody_ips {
    zn_netdb_ip_req_t ips[ZN_NET_IPS_MAX];
    size_t count;
    bool given; /* "fixed_ips" was present (an empty list means no address) */
} zn_netbody_ips_t;

/* Fill NET (zeroed by the caller; release with zn_schema_release) from the create body BODY:
 * defaults (admin_state_up, mtu, bridge), the caller's project, a new id. Returns 0 or -EINVAL
 * with FAULT; ZN_EFORBIDDEN for provider attributes or another project from a non-admin. */
ZN_MUST_CHECK int zn_netbody_network_create(const json_t *body, const zn_netbody_ctx_t *ctx,
                                            zn_net_network_t *net, zn_fault_t *fault);

/* Apply the update body BODY to NET (name, description, admin_state_up, shared,
 * router:external, mtu, port_security_enabled). Returns 0 or -EINVAL with FAULT. */
ZN_MUST_CHECK int zn_netbody_network_update(const json_t *body, const zn_netbody_ctx_t *ctx,
                                            zn_net_network_t *net, zn_fault_t *fault);

/* Fill SUBNET from the create body: network_id, cidr (IPv4 or IPv6, no host bits), ip_version
 * (must match), gateway_ip (absent: the first host; null: none), allocation_pools (checked
 * inside the CIDR, apart, without the gateway: ZN_ECONFLICT otherwise), dns_nameservers,
 * enable_dhcp, name, description. Returns 0, -EINVAL or ZN_ECONFLICT with FAULT. */
ZN_MUST_CHECK int zn_netbody_subnet_create(const json_t *body, const zn_netbody_ctx_t *ctx,
                                           zn_net_subnet_t *subnet, zn_fault_t *fault);

/* Apply an update: name, description, dns_nameservers, enable_dhcp, gateway_ip (a host of the
 * CIDR outside the pools, or null). Returns 0, -EINVAL or ZN_ECONFLICT with FAULT. */
ZN_MUST_CHECK int zn_netbody_subnet_update(const json_t *body, const zn_netbody_ctx_t *ctx,
                                           zn_net_subnet_t *subnet, zn_fault_t *fault);

/* Fill PORT from the create body (network_id, name, description, admin_state_up,
 * mac_address, device_id, device_owner, binding:host_id) and IPS from its fixed_ips. */
ZN_MUST_CHECK int zn_netbody_port_create(const json_t *body, const zn_netbody_ctx_t *ctx,
                                         zn_net_port_t *port, zn_netbody_ips_t *ips,
                                         zn_fault_t *fault);

/* Apply an update: name, description, admin_state_up, device_id, device_owner,
 * binding:host_id. Changing fixed_ips or mac_address is refused (-EINVAL). */
ZN_MUST_CHECK int zn_netbody_port_update(const json_t *body, const zn_netbody_ctx_t *ctx,
                                         zn_net_port_t *port, zn_fault_t *fault);

/* The bridge for PHYSNET per MAPPINGS ("physnet1:br-ex,physnet2:br-vlan") into OUT (cap
 * bytes). Returns 0 or -ENOENT when PHYSNET is not mapped. */
ZN_MUST_CHECK int zn_netbody_bridge_for(const char *mappings, const char *physnet, char *out,
                                        size_t cap);

#endif
