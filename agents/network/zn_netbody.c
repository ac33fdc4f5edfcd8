/* SPDX-License-Identifier: Apache-2.0 */
/* zn_netbody.c - strict parsing of Neutron request bodies into records. */
#include "zn_netbody.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "zn_ipam.h"
#include "zn_mem.h"
#include "zn_str.h"
#include "zn_uuid.h"

#define S_MTU_MIN    68
#define S_MTU_MAX    9216
#define S_BRIDGE_MAX 15 /* IFNAMSIZ - 1 */

/* ---- typed attribute readers: absent leaves *dst as it was -------------------------------- */

static int
s_root(const json_t *body, const char *name, json_t **out, zn_fault_t *fault)
{
    *out = json_is_object(body) ? json_object_get(body, name) : NULL;
    if (!json_is_object(*out)) {
        return zn_fault_set(fault, -EINVAL, "Resource body required: {\"%s\": {...}}", name);
    }
    return 0;
}

static int
s_str(const json_t *obj, const char *key, size_t max, bool nullable, char **dst, zn_fault_t *fault)
{
    json_t *value = json_object_get(obj, key);
    if (value == NULL) {
        return 0;
    }
    if (json_is_null(value) && nullable) {
        zn_free(*dst);
        *dst = NULL;
        return 0;
    }
    if (!json_is_string(value)) {
        return zn_fault_set(fault, -EINVAL, "Invalid input for %s: not a string", key);
    }
    const char *text = json_string_value(value);
    size_t len = json_string_length(value);
    if (len > max || strlen(text) != len) {
        return zn_fault_set(fault, -EINVAL,
                            "Invalid input for %s: longer than %zu characters or "
                            "holding a NUL",
                            key, max);
    }
    zn_free(*dst);
    *dst = zn_strdup(text);
    return 0;
}

static int
s_bool(const json_t *obj, const char *key, bool *dst, zn_fault_t *fault)
{
    json_t *value = json_object_get(obj, key);
    if (value == NULL) {
        return 0;
    }
    if (json_is_boolean(value)) {
        *dst = json_is_true(value);
        return 0;
    }
    /* Neutron converts the strings "true" and "false" too. */
    const char *text = json_string_value(value);
    if (text != NULL && (strcasecmp(text, "true") == 0 || strcasecmp(text, "false") == 0)) {
        *dst = strcasecmp(text, "true") == 0;
        return 0;
    }
    return zn_fault_set(fault, -EINVAL, "Invalid input for %s: not a boolean", key);
}

static int
s_int(const json_t *obj, const char *key, int64_t min, int64_t max, int64_t *dst, zn_fault_t *fault)
{
    json_t *value = json_object_get(obj, key);
    if (value == NULL || json_is_null(value)) {
        return 0;
    }
    if (!json_is_integer(value) || json_integer_value(value) < min ||
        json_integer_value(value) > max) {
        return zn_fault_set(fault, -EINVAL, "Invalid input for %s: an integer from %lld to %lld",
                            key, (long long)min, (long long)max);
    }
    *dst = json_integer_value(value);
    return 0;
}

/* Refuse KEY for a caller who is not an admin (Neutron's admin-only attributes). */
static int
s_admin_only(const json_t *obj, const char *key, const zn_netbody_ctx_t *ctx, zn_fault_t *fault)
{
    if (!ctx->is_admin && json_object_get(obj, key) != NULL) {
        return zn_fault_set(fault, ZN_EFORBIDDEN,
                            "(rule:create_network:%s) is disallowed by "
                            "policy",
                            key);
    }
    return 0;
}

/* The record's project: the caller's, or (admins only) project_id / tenant_id. */
static int
s_project(const json_t *obj, const zn_netbody_ctx_t *ctx, char **dst, zn_fault_t *fault)
{
    char *given = NULL;
    int rc = s_str(obj, "tenant_id", ZN_NET_ID_MAX, false, &given, fault);
    if (rc == 0) {
        rc = s_str(obj, "project_id", ZN_NET_ID_MAX, false, &given, fault);
    }
    if (rc == 0 && given != NULL && !ctx->is_admin &&
        (ctx->project_id == NULL || strcmp(given, ctx->project_id) != 0)) {
        rc = zn_fault_set(fault, ZN_EFORBIDDEN,
                          "Specifying 'project_id' or 'tenant_id' other "
                          "than the authenticated project in request requires admin privileges");
    }
    if (rc == 0) {
        zn_free(*dst);
        *dst = given != NULL ? given : zn_strdup(ctx->project_id != NULL ? ctx->project_id : "");
        given = NULL;
    }
    zn_free(given);
    return rc;
}

static char *
s_new_id(void)
{
    zn_uuid_t id = zn_uuid_generate();
    return zn_strdup(id.str);
}

/* ---- networks ------------------------------------------------------------------------------ */

static bool
s_bridge_name_ok(const char *name, size_t len)
{
    if (len == 0 || len > S_BRIDGE_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!isalnum((unsigned char)c) && c != '-' && c != '_' && c != '.') {
            return false;
        }
    }
    return true;
}

int
zn_netbody_bridge_for(const char *mappings, const char *physnet, char *out, size_t cap)
{
    size_t want = strlen(physnet);
    for (const char *p = mappings; p != NULL && *p != '\0';) {
        const char *end = strchr(p, ',');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        const char *colon = memchr(p, ':', len);
        if (colon != NULL && (size_t)(colon - p) == want && memcmp(p, physnet, want) == 0) {
            size_t blen = len - want - 1;
            if (!s_bridge_name_ok(colon + 1, blen) || blen >= cap) {
                return -ENOENT;
            }
            memcpy(out, colon + 1, blen);
            out[blen] = '\0';
            return 0;
        }
        p = end != NULL ? end + 1 : NULL;
    }
    return -ENOENT;
}

static int
s_network_provider(const json_t *obj, const zn_netbody_ctx_t *ctx, zn_net_network_t *net,
                   zn_fault_t *fault)
{
    const char *admin_keys[] = {"provider:network_type", "provider:physical_network",
                                "provider:segmentation_id", "zinc:bridge", "router:external"};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < ZN_ARRAY_COUNT(admin_keys); i++) {
        rc = s_admin_only(obj, admin_keys[i], ctx, fault);
    }
    rc = rc == 0 ? s_str(obj, "provider:network_type", 32, true, &net->network_type, fault) : rc;
    rc = rc == 0 ? s_str(obj, "provider:physical_network", 64, true, &net->physical_network, fault)
                 : rc;
    rc = rc == 0 ? s_int(obj, "provider:segmentation_id", 1, 4094, &net->segmentation_id, fault)
                 : rc;
    if (rc == 0 && net->network_type != NULL && strcmp(net->network_type, "flat") != 0 &&
        strcmp(net->network_type, "vlan") != 0 && strcmp(net->network_type, "local") != 0) {
        rc = zn_fault_set(fault, -EINVAL, "provider:network_type %s: flat, vlan or local",
                          net->network_type);
    }
    char bridge[S_BRIDGE_MAX + 1];
    if (rc == 0 && net->physical_network != NULL) {
        if (zn_netbody_bridge_for(ctx->mappings, net->physical_network, bridge, sizeof(bridge)) <
            0) {
            return zn_fault_set(fault, -EINVAL,
                                "physical network %s is not mapped to a bridge "
                                "([network] bridge_mappings)",
                                net->physical_network);
        }
        zn_free(net->bridge);
        net->bridge = zn_strdup(bridge);
    }
    rc = rc == 0 ? s_str(obj, "zinc:bridge", S_BRIDGE_MAX, false, &net->bridge, fault) : rc;
    if (rc == 0 && (net->bridge == NULL || !s_bridge_name_ok(net->bridge, strlen(net->bridge)))) {
        rc = zn_fault_set(fault, -EINVAL, "bridge name: 1-15 letters, digits, '-', '_', '.'");
    }
    return rc;
}

static int
s_network_common(const json_t *obj, const zn_netbody_ctx_t *ctx, zn_net_network_t *net,
                 zn_fault_t *fault)
{
    int rc = s_str(obj, "name", ZN_NET_NAME_MAX, false, &net->name, fault);
    rc = rc == 0 ? s_str(obj, "description", ZN_NET_DESC_MAX, false, &net->description, fault) : rc;
    rc = rc == 0 ? s_bool(obj, "admin_state_up", &net->admin_state_up, fault) : rc;
    rc = rc == 0 ? s_bool(obj, "port_security_enabled", &net->port_security_enabled, fault) : rc;
    rc = rc == 0 ? s_int(obj, "mtu", S_MTU_MIN, S_MTU_MAX, &net->mtu, fault) : rc;
    bool shared = net->shared;
    rc = rc == 0 ? s_bool(obj, "shared", &shared, fault) : rc;
    if (rc == 0 && shared != net->shared && !ctx->is_admin) {
        rc = zn_fault_set(fault, ZN_EFORBIDDEN,
                          "(rule:create_network:shared) is disallowed by "
                          "policy");
    }
    net->shared = shared;
    return rc == 0 ? s_bool(obj, "router:external", &net->router_external, fault) : rc;
}

int
zn_netbody_network_create(const json_t *body, const zn_netbody_ctx_t *ctx, zn_net_network_t *net,
                          zn_fault_t *fault)
{
    json_t *obj = NULL;
    int rc = s_root(body, "network", &obj, fault);
    if (rc < 0) {
        return rc;
    }
    net->id = s_new_id();
    net->admin_state_up = true;
    net->port_security_enabled = true;
    net->mtu = ctx->default_mtu;
    net->bridge = zn_strdup(ctx->default_bridge != NULL ? ctx->default_bridge : "br-zinc");
    net->name = zn_strdup("");
    rc = s_project(obj, ctx, &net->project_id, fault);
    rc = rc == 0 ? s_network_common(obj, ctx, net, fault) : rc;
    return rc == 0 ? s_network_provider(obj, ctx, net, fault) : rc;
}

int
zn_netbody_network_update(const json_t *body, const zn_netbody_ctx_t *ctx, zn_net_network_t *net,
                          zn_fault_t *fault)
{
    json_t *obj = NULL;
    int rc = s_root(body, "network", &obj, fault);
    if (rc == 0 && !ctx->is_admin && json_object_get(obj, "router:external") != NULL) {
        rc = s_admin_only(obj, "router:external", ctx, fault);
    }
    return rc == 0 ? s_network_common(obj, ctx, net, fault) : rc;
}

/* ---- subnets ------------------------------------------------------------------------------- */

static int
s_addr_at(const json_t *value, const char *what, zn_ipaddr_t *out, zn_fault_t *fault)
{
    const char *text = json_string_value(value);
    if (text == NULL || zn_ipaddr_parse(text, out) < 0) {
        return zn_fault_set(fault, -EINVAL, "Invalid input for %s: not an IP address", what);
    }
    return 0;
}

static int
s_pools(const json_t *obj, zn_ipam_layout_t *layout, zn_fault_t *fault)
{
    json_t *pools = json_object_get(obj, "allocation_pools");
    if (pools == NULL || json_is_null(pools)) {
        return 0;
    }
    if (!json_is_array(pools) || json_array_size(pools) > ZN_IPAM_POOLS_MAX) {
        return zn_fault_set(fault, -EINVAL,
                            "Invalid input for allocation_pools: a list of at "
                            "most %d {start, end}",
                            ZN_IPAM_POOLS_MAX);
    }
    for (size_t i = 0; i < json_array_size(pools); i++) {
        json_t *pool = json_array_get(pools, i);
        int rc = s_addr_at(json_object_get(pool, "start"), "allocation_pools start",
                           &layout->pools[i].start, fault);
        rc = rc == 0 ? s_addr_at(json_object_get(pool, "end"), "allocation_pools end",
                                 &layout->pools[i].end, fault)
                     : rc;
        if (rc < 0) {
            return rc;
        }
    }
    layout->pool_count = json_array_size(pools);
    return 0;
}

static int
s_dns(const json_t *obj, zn_net_subnet_t *subnet, zn_fault_t *fault)
{
    json_t *dns = json_object_get(obj, "dns_nameservers");
    if (dns == NULL) {
        return 0;
    }
    if (!json_is_array(dns) || json_array_size(dns) > ZN_NET_DNS_MAX) {
        return zn_fault_set(fault, -EINVAL,
                            "Invalid input for dns_nameservers: a list of at "
                            "most %d addresses",
                            ZN_NET_DNS_MAX);
    }
    char **list = zn_calloc(json_array_size(dns) + 1, sizeof(*list));
    size_t count = 0;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < json_array_size(dns); i++) {
        zn_ipaddr_t addr;
        rc = s_addr_at(json_array_get(dns, i), "dns_nameservers", &addr, fault);
        if (rc == 0) {
            char text[ZN_IPADDR_TEXT_MAX];
            zn_ipaddr_format(&addr, text);
            list[count++] = zn_strdup(text);
        }
    }
    for (size_t i = 0; i < subnet->dns_count; i++) {
        zn_free(subnet->dns_nameservers[i]);
    }
    zn_free(subnet->dns_nameservers);
    subnet->dns_nameservers = list;
    subnet->dns_count = count;
    return rc;
}

static int
s_gateway(const json_t *obj, const zn_cidr_t *cidr, zn_ipam_layout_t *layout,
          zn_ipam_gateway_t *mode, zn_fault_t *fault)
{
    json_t *gw = json_object_get(obj, "gateway_ip");
    *mode = gw == NULL ? ZN_IPAM_GATEWAY_DEFAULT
                       : (json_is_null(gw) ? ZN_IPAM_GATEWAY_NONE : ZN_IPAM_GATEWAY_GIVEN);
    if (*mode != ZN_IPAM_GATEWAY_GIVEN) {
        return 0;
    }
    int rc = s_addr_at(gw, "gateway_ip", &layout->gateway, fault);
    if (rc == 0 && layout->gateway.version != cidr->addr.version) {
        rc = zn_fault_set(fault, -EINVAL, "Invalid input for gateway_ip: wrong IP version");
    }
    return rc;
}

static void
s_fill_layout(const zn_ipam_layout_t *layout, zn_net_subnet_t *subnet)
{
    char text[ZN_CIDR_TEXT_MAX];
    zn_cidr_format(&layout->cidr, text);
    zn_free(subnet->cidr);
    subnet->cidr = zn_strdup(text);
    subnet->ip_version = layout->cidr.addr.version;
    zn_free(subnet->gateway_ip);
    subnet->gateway_ip = NULL;
    if (layout->has_gateway) {
        zn_ipaddr_format(&layout->gateway, text);
        subnet->gateway_ip = zn_strdup(text);
    }
    subnet->pools = zn_calloc(layout->pool_count, sizeof(*subnet->pools));
    subnet->pool_count = layout->pool_count;
    for (size_t i = 0; i < layout->pool_count; i++) {
        zn_ipaddr_format(&layout->pools[i].start, text);
        subnet->pools[i].start = zn_strdup(text);
        zn_ipaddr_format(&layout->pools[i].end, text);
        subnet->pools[i].end = zn_strdup(text);
    }
}

static int
s_subnet_layout(const json_t *obj, zn_ipam_layout_t *layout, zn_fault_t *fault)
{
    const char *cidr_text = json_string_value(json_object_get(obj, "cidr"));
    if (cidr_text == NULL) {
        return zn_fault_set(fault, -EINVAL, "Invalid input for cidr: a CIDR is required");
    }
    int rc = zn_cidr_parse(cidr_text, &layout->cidr, fault);
    int64_t version = layout->cidr.addr.version;
    rc = rc == 0 ? s_int(obj, "ip_version", 4, 6, &version, fault) : rc;
    if (rc == 0 && version != layout->cidr.addr.version) {
        rc = zn_fault_set(fault, -EINVAL, "Invalid input: cidr %s is not an IPv%lld network",
                          cidr_text, (long long)version);
    }
    zn_ipam_gateway_t mode = ZN_IPAM_GATEWAY_DEFAULT;
    rc = rc == 0 ? s_gateway(obj, &layout->cidr, layout, &mode, fault) : rc;
    rc = rc == 0 ? s_pools(obj, layout, fault) : rc;
    return rc == 0 ? zn_ipam_layout_complete(layout, mode, fault) : rc;
}

int
zn_netbody_subnet_create(const json_t *body, const zn_netbody_ctx_t *ctx, zn_net_subnet_t *subnet,
                         zn_fault_t *fault)
{
    json_t *obj = NULL;
    int rc = s_root(body, "subnet", &obj, fault);
    if (rc < 0) {
        return rc;
    }
    subnet->id = s_new_id();
    subnet->enable_dhcp = true;
    subnet->name = zn_strdup("");
    rc = s_str(obj, "network_id", ZN_NET_ID_MAX, false, &subnet->network_id, fault);
    if (rc == 0 && subnet->network_id == NULL) {
        rc = zn_fault_set(fault, -EINVAL, "Invalid input for network_id: required");
    }
    rc = rc == 0 ? s_project(obj, ctx, &subnet->project_id, fault) : rc;
    rc = rc == 0 ? s_str(obj, "name", ZN_NET_NAME_MAX, false, &subnet->name, fault) : rc;
    rc = rc == 0 ? s_str(obj, "description", ZN_NET_DESC_MAX, false, &subnet->description, fault)
                 : rc;
    rc = rc == 0 ? s_bool(obj, "enable_dhcp", &subnet->enable_dhcp, fault) : rc;
    rc = rc == 0 ? s_dns(obj, subnet, fault) : rc;
    zn_ipam_layout_t layout;
    memset(&layout, 0, sizeof(layout));
    rc = rc == 0 ? s_subnet_layout(obj, &layout, fault) : rc;
    if (rc == 0) {
        s_fill_layout(&layout, subnet);
    }
    return rc;
}

/* A new gateway must be a host of the CIDR and outside every pool. */
static int
s_gateway_update(const json_t *obj, zn_net_subnet_t *subnet, zn_fault_t *fault)
{
    json_t *gw = json_object_get(obj, "gateway_ip");
    if (gw == NULL) {
        return 0;
    }
    if (json_is_null(gw)) {
        zn_free(subnet->gateway_ip);
        subnet->gateway_ip = NULL;
        return 0;
    }
    zn_cidr_t cidr;
    zn_ipaddr_t addr;
    int rc = zn_cidr_parse(subnet->cidr, &cidr, fault);
    rc = rc == 0 ? s_addr_at(gw, "gateway_ip", &addr, fault) : rc;
    if (rc == 0 && !zn_ipam_is_host(&cidr, &addr)) {
        rc = zn_fault_set(fault, -EINVAL, "Gateway IP is not a host address of the subnet");
    }
    for (size_t i = 0; rc == 0 && i < subnet->pool_count; i++) {
        zn_ipaddr_t start;
        zn_ipaddr_t end;
        if (zn_ipaddr_parse(subnet->pools[i].start, &start) == 0 &&
            zn_ipaddr_parse(subnet->pools[i].end, &end) == 0 &&
            zn_ipaddr_compare(&addr, &start) >= 0 && zn_ipaddr_compare(&addr, &end) <= 0) {
            rc = zn_fault_set(fault, ZN_ECONFLICT, "Gateway ip conflicts with allocation pool");
        }
    }
    if (rc == 0) {
        char text[ZN_IPADDR_TEXT_MAX];
        zn_ipaddr_format(&addr, text);
        zn_free(subnet->gateway_ip);
        subnet->gateway_ip = zn_strdup(text);
    }
    return rc;
}

int
zn_netbody_subnet_update(const json_t *body, const zn_netbody_ctx_t *ctx, zn_net_subnet_t *subnet,
                         zn_fault_t *fault)
{
    (void)ctx;
    json_t *obj = NULL;
    int rc = s_root(body, "subnet", &obj, fault);
    if (rc == 0 && (json_object_get(obj, "allocation_pools") != NULL ||
                    json_object_get(obj, "cidr") != NULL)) {
        rc = zn_fault_set(fault, -EINVAL, "changing cidr or allocation_pools is not supported");
    }
    rc = rc == 0 ? s_str(obj, "name", ZN_NET_NAME_MAX, false, &subnet->name, fault) : rc;
    rc = rc == 0 ? s_str(obj, "description", ZN_NET_DESC_MAX, false, &subnet->description, fault)
                 : rc;
    rc = rc == 0 ? s_bool(obj, "enable_dhcp", &subnet->enable_dhcp, fault) : rc;
    rc = rc == 0 ? s_dns(obj, subnet, fault) : rc;
    return rc == 0 ? s_gateway_update(obj, subnet, fault) : rc;
}

/* ---- ports --------------------------------------------------------------------------------- */

static int
s_fixed_ips(const json_t *obj, zn_netbody_ips_t *ips, zn_fault_t *fault)
{
    json_t *list = json_object_get(obj, "fixed_ips");
    memset(ips, 0, sizeof(*ips));
    if (list == NULL || json_is_null(list)) {
        return 0;
    }
    if (!json_is_array(list) || json_array_size(list) > ZN_NET_IPS_MAX) {
        return zn_fault_set(fault, -EINVAL, "Invalid input for fixed_ips: a list of at most %d",
                            ZN_NET_IPS_MAX);
    }
    ips->given = true;
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *item = json_array_get(list, i);
        json_t *subnet = json_object_get(item, "subnet_id");
        json_t *addr = json_object_get(item, "ip_address");
        if (!json_is_object(item) || (subnet != NULL && !json_is_string(subnet)) ||
            (addr != NULL && !json_is_string(addr)) || (subnet == NULL && addr == NULL)) {
            return zn_fault_set(fault, -EINVAL,
                                "Invalid input for fixed_ips: each needs "
                                "subnet_id or ip_address (strings)");
        }
        ips->ips[i].subnet_id = json_string_value(subnet);
        ips->ips[i].ip_address = json_string_value(addr);
        ips->count++;
    }
    return 0;
}

static int
s_port_common(const json_t *obj, const zn_netbody_ctx_t *ctx, zn_net_port_t *port,
              zn_fault_t *fault)
{
    int rc = s_str(obj, "name", ZN_NET_NAME_MAX, false, &port->name, fault);
    rc =
        rc == 0 ? s_str(obj, "description", ZN_NET_DESC_MAX, false, &port->description, fault) : rc;
    rc = rc == 0 ? s_bool(obj, "admin_state_up", &port->admin_state_up, fault) : rc;
    rc = rc == 0 ? s_str(obj, "device_id", ZN_NET_NAME_MAX, false, &port->device_id, fault) : rc;
    rc = rc == 0 ? s_str(obj, "device_owner", ZN_NET_NAME_MAX, false, &port->device_owner, fault)
                 : rc;
    rc = rc == 0 ? s_admin_only(obj, "binding:host_id", ctx, fault) : rc;
    return rc == 0 ? s_str(obj, "binding:host_id", ZN_NET_NAME_MAX, false, &port->host_id, fault)
                   : rc;
}

int
zn_netbody_port_create(const json_t *body, const zn_netbody_ctx_t *ctx, zn_net_port_t *port,
                       zn_netbody_ips_t *ips, zn_fault_t *fault)
{
    json_t *obj = NULL;
    memset(ips, 0, sizeof(*ips));
    int rc = s_root(body, "port", &obj, fault);
    if (rc < 0) {
        return rc;
    }
    port->id = s_new_id();
    port->admin_state_up = true;
    port->status = zn_strdup("DOWN");
    port->name = zn_strdup("");
    rc = s_str(obj, "network_id", ZN_NET_ID_MAX, false, &port->network_id, fault);
    if (rc == 0 && port->network_id == NULL) {
        rc = zn_fault_set(fault, -EINVAL, "Invalid input for network_id: required");
    }
    rc = rc == 0 ? s_project(obj, ctx, &port->project_id, fault) : rc;
    rc = rc == 0 ? s_port_common(obj, ctx, port, fault) : rc;
    char *mac = NULL;
    rc = rc == 0 ? s_str(obj, "mac_address", 32, true, &mac, fault) : rc;
    if (rc == 0 && mac != NULL) {
        char norm[ZN_MAC_TEXT_MAX];
        rc = zn_mac_normalize(mac, norm) < 0
                 ? zn_fault_set(fault, -EINVAL, "Invalid input for mac_address: '%s'", mac)
                 : 0;
        port->mac_address = rc == 0 ? zn_strdup(norm) : NULL;
    }
    zn_free(mac);
    return rc == 0 ? s_fixed_ips(obj, ips, fault) : rc;
}

int
zn_netbody_port_update(const json_t *body, const zn_netbody_ctx_t *ctx, zn_net_port_t *port,
                       zn_fault_t *fault)
{
    json_t *obj = NULL;
    int rc = s_root(body, "port", &obj, fault);
    if (rc == 0 &&
        (json_object_get(obj, "fixed_ips") != NULL || json_object_get(obj, "mac_address") != NULL ||
         json_object_get(obj, "network_id") != NULL)) {
        rc = zn_fault_set(fault, -EINVAL,
                          "changing fixed_ips, mac_address or network_id of a "
                          "port is not supported");
    }
    return rc == 0 ? s_port_common(obj, ctx, port, fault) : rc;
}
