/* SPDX-License-Identifier: Apache-2.0 */
/* zn_netrec.c - record schemas, method bodies and Neutron views. */
#include "zn_netrec.h"

#include <stdio.h>

#include "zn_clock.h"
#include "zn_mem.h"

#define S_F(type_, name, ftype, flags, max)                      \
    {                                                            \
#name, ftype, flags, offsetof(type_, name), 0, max, NULL \
    }
#define S_LIST(type_, name, ftype, count, max, sub)                              \
    {                                                                            \
#name, ftype, 0, offsetof(type_, name), offsetof(type_, count), max, sub \
    }
#define S_SCHEMA(var, label, type_, fields) \
    const zn_schema_t var = {label, 1, fields, ZN_ARRAY_COUNT(fields), sizeof(type_)}

#define S_N(name, ftype, flags, max) S_F(zn_net_network_t, name, ftype, flags, max)
static const zn_field_t s_network_fields[] = {
    S_N(id, ZN_FT_STR, ZN_F_REQUIRED, ZN_NET_ID_MAX),
    S_N(name, ZN_FT_STR, 0, ZN_NET_NAME_MAX),
    S_N(project_id, ZN_FT_STR, 0, ZN_NET_ID_MAX),
    S_N(description, ZN_FT_STR, 0, ZN_NET_DESC_MAX),
    S_N(admin_state_up, ZN_FT_BOOL, 0, 0),
    S_N(shared, ZN_FT_BOOL, 0, 0),
    S_N(router_external, ZN_FT_BOOL, 0, 0),
    S_N(port_security_enabled, ZN_FT_BOOL, 0, 0),
    S_N(mtu, ZN_FT_I64, 0, 0),
    S_N(bridge, ZN_FT_STR, 0, 64),
    S_N(network_type, ZN_FT_STR, 0, 32),
    S_N(physical_network, ZN_FT_STR, 0, 64),
    S_N(segmentation_id, ZN_FT_I64, 0, 0),
    S_N(created_ms, ZN_FT_I64, 0, 0),
    S_N(updated_ms, ZN_FT_I64, 0, 0),
    S_N(revision, ZN_FT_I64, 0, 0),
};
S_SCHEMA(zn_net_network_schema, "network", zn_net_network_t, s_network_fields);

static const zn_field_t s_pool_fields[] = {
    S_F(zn_net_pool_t, start, ZN_FT_STR, ZN_F_REQUIRED, 64),
    S_F(zn_net_pool_t, end, ZN_FT_STR, ZN_F_REQUIRED, 64),
};
static S_SCHEMA(s_pool_schema, "allocation_pool", zn_net_pool_t, s_pool_fields);

#define S_S(name, ftype, flags, max) S_F(zn_net_subnet_t, name, ftype, flags, max)
static const zn_field_t s_subnet_fields[] = {
    S_S(id, ZN_FT_STR, ZN_F_REQUIRED, ZN_NET_ID_MAX),
    S_S(name, ZN_FT_STR, 0, ZN_NET_NAME_MAX),
    S_S(network_id, ZN_FT_STR, ZN_F_REQUIRED, ZN_NET_ID_MAX),
    S_S(project_id, ZN_FT_STR, 0, ZN_NET_ID_MAX),
    S_S(description, ZN_FT_STR, 0, ZN_NET_DESC_MAX),
    S_S(cidr, ZN_FT_STR, ZN_F_REQUIRED, 64),
    S_S(ip_version, ZN_FT_I64, 0, 0),
    S_S(gateway_ip, ZN_FT_STR, 0, 64),
    S_LIST(zn_net_subnet_t, pools, ZN_FT_OBJLIST, pool_count, 16, &s_pool_schema),
    S_LIST(zn_net_subnet_t, dns_nameservers, ZN_FT_STRLIST, dns_count, ZN_NET_DNS_MAX, NULL),
    S_S(enable_dhcp, ZN_FT_BOOL, 0, 0),
    S_S(created_ms, ZN_FT_I64, 0, 0),
    S_S(updated_ms, ZN_FT_I64, 0, 0),
    S_S(revision, ZN_FT_I64, 0, 0),
};
S_SCHEMA(zn_net_subnet_schema, "subnet", zn_net_subnet_t, s_subnet_fields);

static const zn_field_t s_fixed_ip_fields[] = {
    S_F(zn_net_fixed_ip_t, subnet_id, ZN_FT_STR, 0, ZN_NET_ID_MAX),
    S_F(zn_net_fixed_ip_t, ip_address, ZN_FT_STR, 0, 64),
};
static S_SCHEMA(s_fixed_ip_schema, "fixed_ip", zn_net_fixed_ip_t, s_fixed_ip_fields);

#define S_P(name, ftype, flags, max) S_F(zn_net_port_t, name, ftype, flags, max)
static const zn_field_t s_port_fields[] = {
    S_P(id, ZN_FT_STR, ZN_F_REQUIRED, ZN_NET_ID_MAX),
    S_P(name, ZN_FT_STR, 0, ZN_NET_NAME_MAX),
    S_P(network_id, ZN_FT_STR, ZN_F_REQUIRED, ZN_NET_ID_MAX),
    S_P(project_id, ZN_FT_STR, 0, ZN_NET_ID_MAX),
    S_P(description, ZN_FT_STR, 0, ZN_NET_DESC_MAX),
    S_P(mac_address, ZN_FT_STR, 0, 32),
    S_P(device_id, ZN_FT_STR, 0, ZN_NET_NAME_MAX),
    S_P(device_owner, ZN_FT_STR, 0, ZN_NET_NAME_MAX),
    S_P(status, ZN_FT_STR, 0, 32),
    S_P(host_id, ZN_FT_STR, 0, ZN_NET_NAME_MAX),
    S_P(admin_state_up, ZN_FT_BOOL, 0, 0),
    S_P(bind_created, ZN_FT_BOOL, 0, 0),
    S_LIST(zn_net_port_t, fixed_ips, ZN_FT_OBJLIST, fixed_ip_count, ZN_NET_IPS_MAX,
           &s_fixed_ip_schema),
    S_P(created_ms, ZN_FT_I64, 0, 0),
    S_P(updated_ms, ZN_FT_I64, 0, 0),
    S_P(revision, ZN_FT_I64, 0, 0),
};
S_SCHEMA(zn_net_port_schema, "port", zn_net_port_t, s_port_fields);

/* ---- method bodies ------------------------------------------------------------------------- */

static const zn_field_t s_get_req_fields[] = {
    S_F(zn_net_get_req_t, network_id, ZN_FT_STR, ZN_F_REQUIRED, ZN_NET_ID_MAX),
};
S_SCHEMA(zn_net_get_req_schema, "network_get", zn_net_get_req_t, s_get_req_fields);

static const zn_field_t s_get_reply_fields[] = {
    S_F(zn_net_get_reply_t, id, ZN_FT_STR, 0, ZN_NET_ID_MAX),
    S_F(zn_net_get_reply_t, name, ZN_FT_STR, 0, ZN_NET_NAME_MAX),
    S_F(zn_net_get_reply_t, project_id, ZN_FT_STR, 0, ZN_NET_ID_MAX),
    S_F(zn_net_get_reply_t, shared, ZN_FT_BOOL, 0, 0),
    S_F(zn_net_get_reply_t, bridge, ZN_FT_STR, 0, 64),
    S_F(zn_net_get_reply_t, mtu, ZN_FT_I64, 0, 0),
    S_LIST(zn_net_get_reply_t, subnets, ZN_FT_STRLIST, subnet_count, 1024, NULL),
};
S_SCHEMA(zn_net_get_reply_schema, "network", zn_net_get_reply_t, s_get_reply_fields);

static const zn_field_t s_bind_req_fields[] = {
    S_F(zn_net_bind_req_t, network_id, ZN_FT_STR, 0, ZN_NET_ID_MAX),
    S_F(zn_net_bind_req_t, port_id, ZN_FT_STR, 0, ZN_NET_ID_MAX),
    S_F(zn_net_bind_req_t, device_id, ZN_FT_STR, ZN_F_REQUIRED, ZN_NET_NAME_MAX),
    S_F(zn_net_bind_req_t, host, ZN_FT_STR, 0, ZN_NET_NAME_MAX),
    S_F(zn_net_bind_req_t, project_id, ZN_FT_STR, 0, ZN_NET_ID_MAX),
};
S_SCHEMA(zn_net_bind_req_schema, "port_bind", zn_net_bind_req_t, s_bind_req_fields);

static const zn_field_t s_bind_reply_fields[] = {
    S_F(zn_net_bind_reply_t, port_id, ZN_FT_STR, 0, ZN_NET_ID_MAX),
    S_F(zn_net_bind_reply_t, mac, ZN_FT_STR, 0, 32),
    S_F(zn_net_bind_reply_t, network_id, ZN_FT_STR, 0, ZN_NET_ID_MAX),
    S_F(zn_net_bind_reply_t, bridge, ZN_FT_STR, 0, 64),
    S_F(zn_net_bind_reply_t, mtu, ZN_FT_I64, 0, 0),
    S_LIST(zn_net_bind_reply_t, fixed_ips, ZN_FT_OBJLIST, fixed_ip_count, ZN_NET_IPS_MAX,
           &s_fixed_ip_schema),
};
S_SCHEMA(zn_net_bind_reply_schema, "port", zn_net_bind_reply_t, s_bind_reply_fields);

static const zn_field_t s_release_req_fields[] = {
    S_F(zn_net_release_req_t, device_id, ZN_FT_STR, ZN_F_REQUIRED, ZN_NET_NAME_MAX),
    S_F(zn_net_release_req_t, port_id, ZN_FT_STR, 0, ZN_NET_ID_MAX),
};
S_SCHEMA(zn_net_release_req_schema, "port_release", zn_net_release_req_t, s_release_req_fields);

char *
zn_netrec_ip_key(const char *subnet_id, const char *address)
{
    return zn_asprintf("%s/%s", subnet_id, address);
}

/* ---- views --------------------------------------------------------------------------------- */

static json_t *
s_str_or_null(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

static json_t *
s_time(int64_t wall_ms)
{
    char iso[32];
    zn_clock_format_iso(wall_ms, iso, sizeof(iso));
    /* Neutron shows whole seconds: "2026-03-01T10:22:04Z". */
    if (iso[0] != '\0' && iso[19] == '.') {
        iso[19] = 'Z';
        iso[20] = '\0';
    }
    return json_string(iso);
}

static void
s_common(json_t *obj, const char *id, const char *name, const char *project_id,
         const char *description, int64_t created_ms, int64_t updated_ms, int64_t revision)
{
    json_object_set_new(obj, "id", json_string(id));
    json_object_set_new(obj, "name", json_string(name != NULL ? name : ""));
    json_object_set_new(obj, "project_id", json_string(project_id != NULL ? project_id : ""));
    json_object_set_new(obj, "tenant_id", json_string(project_id != NULL ? project_id : ""));
    json_object_set_new(obj, "description", json_string(description != NULL ? description : ""));
    json_object_set_new(obj, "created_at", s_time(created_ms));
    json_object_set_new(obj, "updated_at", s_time(updated_ms));
    json_object_set_new(obj, "revision_number", json_integer(revision));
    json_object_set_new(obj, "tags", json_array());
}

json_t *
zn_netrec_network_json(const zn_net_network_t *net, char *const *subnet_ids, size_t count)
{
    json_t *obj = json_object();
    s_common(obj, net->id, net->name, net->project_id, net->description, net->created_ms,
             net->updated_ms, net->revision);
    json_t *subnets = json_array();
    for (size_t i = 0; i < count; i++) {
        json_array_append_new(subnets, json_string(subnet_ids[i]));
    }
    json_object_set_new(obj, "subnets", subnets);
    json_object_set_new(obj, "status", json_string("ACTIVE"));
    json_object_set_new(obj, "admin_state_up", json_boolean(net->admin_state_up));
    json_object_set_new(obj, "shared", json_boolean(net->shared));
    json_object_set_new(obj, "router:external", json_boolean(net->router_external));
    json_object_set_new(obj, "port_security_enabled", json_boolean(net->port_security_enabled));
    json_object_set_new(obj, "mtu", json_integer(net->mtu));
    json_object_set_new(obj, "availability_zones", json_pack("[s]", "nova"));
    json_object_set_new(obj, "availability_zone_hints", json_array());
    json_object_set_new(obj, "ipv4_address_scope", json_null());
    json_object_set_new(obj, "ipv6_address_scope", json_null());
    json_object_set_new(obj, "is_default", json_false());
    json_object_set_new(obj, "provider:network_type", s_str_or_null(net->network_type));
    json_object_set_new(obj, "provider:physical_network", s_str_or_null(net->physical_network));
    json_object_set_new(obj, "provider:segmentation_id",
                        net->segmentation_id > 0 ? json_integer(net->segmentation_id)
                                                 : json_null());
    json_object_set_new(obj, "zinc:bridge", s_str_or_null(net->bridge));
    return obj;
}

json_t *
zn_netrec_subnet_json(const zn_net_subnet_t *subnet)
{
    json_t *obj = json_object();
    s_common(obj, subnet->id, subnet->name, subnet->project_id, subnet->description,
             subnet->created_ms, subnet->updated_ms, subnet->revision);
    json_object_set_new(obj, "network_id", json_string(subnet->network_id));
    json_object_set_new(obj, "cidr", json_string(subnet->cidr));
    json_object_set_new(obj, "ip_version", json_integer(subnet->ip_version));
    json_object_set_new(obj, "gateway_ip", s_str_or_null(subnet->gateway_ip));
    json_t *pools = json_array();
    for (size_t i = 0; i < subnet->pool_count; i++) {
        json_array_append_new(pools, json_pack("{s:s,s:s}", "start", subnet->pools[i].start, "end",
                                               subnet->pools[i].end));
    }
    json_object_set_new(obj, "allocation_pools", pools);
    json_t *dns = json_array();
    for (size_t i = 0; i < subnet->dns_count; i++) {
        json_array_append_new(dns, json_string(subnet->dns_nameservers[i]));
    }
    json_object_set_new(obj, "dns_nameservers", dns);
    json_object_set_new(obj, "host_routes", json_array());
    json_object_set_new(obj, "enable_dhcp", json_boolean(subnet->enable_dhcp));
    json_object_set_new(obj, "ipv6_ra_mode", json_null());
    json_object_set_new(obj, "ipv6_address_mode", json_null());
    json_object_set_new(obj, "subnetpool_id", json_null());
    json_object_set_new(obj, "service_types", json_array());
    return obj;
}

json_t *
zn_netrec_port_json(const zn_net_port_t *port)
{
    json_t *obj = json_object();
    s_common(obj, port->id, port->name, port->project_id, port->description, port->created_ms,
             port->updated_ms, port->revision);
    json_object_set_new(obj, "network_id", json_string(port->network_id));
    json_object_set_new(obj, "mac_address", s_str_or_null(port->mac_address));
    json_object_set_new(obj, "admin_state_up", json_boolean(port->admin_state_up));
    json_object_set_new(obj, "status", json_string(port->status != NULL ? port->status : "DOWN"));
    json_object_set_new(obj, "device_id", json_string(port->device_id ? port->device_id : ""));
    json_object_set_new(obj, "device_owner",
                        json_string(port->device_owner ? port->device_owner : ""));
    json_t *ips = json_array();
    for (size_t i = 0; i < port->fixed_ip_count; i++) {
        json_array_append_new(ips, json_pack("{s:s,s:s}", "subnet_id", port->fixed_ips[i].subnet_id,
                                             "ip_address", port->fixed_ips[i].ip_address));
    }
    json_object_set_new(obj, "fixed_ips", ips);
    bool bound = port->host_id != NULL && port->host_id[0] != '\0';
    json_object_set_new(obj, "binding:host_id", json_string(bound ? port->host_id : ""));
    json_object_set_new(obj, "binding:vif_type", json_string(bound ? "bridge" : "unbound"));
    json_object_set_new(obj, "binding:vnic_type", json_string("normal"));
    json_object_set_new(obj, "binding:profile", json_object());
    json_object_set_new(obj, "binding:vif_details", json_object());
    json_object_set_new(obj, "security_groups", json_array());
    json_object_set_new(obj, "allowed_address_pairs", json_array());
    json_object_set_new(obj, "extra_dhcp_opts", json_array());
    json_object_set_new(obj, "port_security_enabled", json_true());
    json_object_set_new(obj, "dns_name", json_string(""));
    return obj;
}
