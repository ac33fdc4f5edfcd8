/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for zn_netbody: Neutron request bodies into records, with defaults, admin-only
 * attributes, bridge mappings, subnet layouts and port fixed IPs. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "zn_netbody.h"

static const zn_netbody_ctx_t s_member = {.project_id = "p1",
                                          .default_bridge = "br-zinc",
                                          .mappings = "physnet1:br-ex,physnet2:br-vlan",
                                          .default_mtu = 1500};

static zn_netbody_ctx_t
s_admin(void)
{
    zn_netbody_ctx_t ctx = s_member;
    ctx.is_admin = true;
    return ctx;
}

static json_t *
s_json(const char *text)
{
    json_t *root = json_loads(text, JSON_ALLOW_NUL, NULL);
    assert_non_null(root);
    return root;
}

static int
s_network(const char *text, const zn_netbody_ctx_t *ctx, zn_net_network_t *net)
{
    memset(net, 0, sizeof(*net));
    json_t *root = s_json(text);
    zn_fault_t fault;
    int rc = zn_netbody_network_create(root, ctx, net, &fault);
    json_decref(root);
    return rc;
}

static int
s_subnet(const char *text, zn_net_subnet_t *subnet, zn_fault_t *fault)
{
    memset(subnet, 0, sizeof(*subnet));
    json_t *root = s_json(text);
    int rc = zn_netbody_subnet_create(root, &s_member, subnet, fault);
    json_decref(root);
    return rc;
}

static void
test_netbody_example(void **state)
{
    (void)state;
    zn_net_network_t net;
    assert_int_equal(s_network("{\"network\": {\"name\": \"net1\"}}", &s_member, &net), 0);
    assert_string_equal(net.name, "net1");
    assert_string_equal(net.project_id, "p1");
    assert_string_equal(net.bridge, "br-zinc");
    assert_int_equal(net.mtu, 1500);
    assert_true(net.admin_state_up);
    assert_false(net.shared);
    assert_int_equal(strlen(net.id), 36);
    zn_schema_release(&zn_net_network_schema, &net);
}

static void
test_netbody_network_rules(void **state)
{
    (void)state;
    zn_net_network_t net;
    zn_netbody_ctx_t admin = s_admin();
    const char *physnet =
        "{\"network\": {\"provider:physical_network\": \"physnet2\", "
        "\"provider:network_type\": \"vlan\", \"provider:segmentation_id\": 100}}";
    assert_int_equal(s_network(physnet, &admin, &net), 0);
    assert_string_equal(net.bridge, "br-vlan");
    assert_int_equal(net.segmentation_id, 100);
    zn_schema_release(&zn_net_network_schema, &net);
    assert_int_equal(s_network(physnet, &s_member, &net), ZN_EFORBIDDEN);
    zn_schema_release(&zn_net_network_schema, &net);
    const char *refused[] = {
        "{\"network\": {\"provider:physical_network\": \"physnet9\"}}",
        "{\"network\": {\"provider:network_type\": \"gre\"}}",
        "{\"network\": {\"zinc:bridge\": \"this-name-is-too-long\"}}",
        "{\"network\": {\"zinc:bridge\": \"br ex\"}}",
        "{\"network\": {\"mtu\": 67}}",
        "{\"network\": {\"mtu\": \"1500\"}}",
        "{\"network\": {\"admin_state_up\": \"maybe\"}}",
        "{\"network\": {\"name\": \"a\\u0000b\"}}",
        "{\"network\": []}",
        "{\"networks\": {}}",
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        assert_int_equal(s_network(refused[i], &admin, &net), -EINVAL);
        zn_schema_release(&zn_net_network_schema, &net);
    }
    /* Neutron's string booleans; another project only for admins. */
    assert_int_equal(s_network("{\"network\": {\"admin_state_up\": \"False\", \"project_id\": "
                               "\"p2\"}}",
                               &admin, &net),
                     0);
    assert_false(net.admin_state_up);
    assert_string_equal(net.project_id, "p2");
    zn_schema_release(&zn_net_network_schema, &net);
    assert_int_equal(s_network("{\"network\": {\"tenant_id\": \"p2\"}}", &s_member, &net),
                     ZN_EFORBIDDEN);
    zn_schema_release(&zn_net_network_schema, &net);
    assert_int_equal(s_network("{\"network\": {\"tenant_id\": \"p1\"}}", &s_member, &net), 0);
    zn_schema_release(&zn_net_network_schema, &net);
}

static void
test_netbody_bridge_mappings(void **state)
{
    (void)state;
    char bridge[16];
    assert_int_equal(zn_netbody_bridge_for("a:br-a,bb:br-b", "bb", bridge, sizeof(bridge)), 0);
    assert_string_equal(bridge, "br-b");
    assert_int_equal(zn_netbody_bridge_for("a:br-a,bb:br-b", "b", bridge, sizeof(bridge)), -ENOENT);
    assert_int_equal(zn_netbody_bridge_for("", "a", bridge, sizeof(bridge)), -ENOENT);
    assert_int_equal(zn_netbody_bridge_for("a:", "a", bridge, sizeof(bridge)), -ENOENT);
    assert_int_equal(zn_netbody_bridge_for("a:br a", "a", bridge, sizeof(bridge)), -ENOENT);
}

static void
test_netbody_subnets(void **state)
{
    (void)state;
    zn_net_subnet_t subnet;
    zn_fault_t fault;
    assert_int_equal(
        s_subnet("{\"subnet\": {\"network_id\": \"n1\", \"cidr\": \"10.0.0.0/24\", "
                 "\"allocation_pools\": [{\"start\": \"10.0.0.100\", \"end\": "
                 "\"10.0.0.110\"}, {\"start\": \"10.0.0.10\", \"end\": \"10.0.0.20\"}], "
                 "\"dns_nameservers\": [\"2001:DB8::53\"], \"enable_dhcp\": false}}",
                 &subnet, &fault),
        0);
    assert_string_equal(subnet.gateway_ip, "10.0.0.1");
    assert_int_equal(subnet.ip_version, 4);
    assert_int_equal(subnet.pool_count, 2);
    assert_string_equal(subnet.pools[0].start, "10.0.0.10"); /* sorted */
    assert_string_equal(subnet.dns_nameservers[0], "2001:db8::53");
    assert_false(subnet.enable_dhcp);
    /* Updates: a gateway inside a pool conflicts; outside it is fine; pools cannot change. */
    json_t *update = s_json("{\"subnet\": {\"gateway_ip\": \"10.0.0.15\"}}");
    assert_int_equal(zn_netbody_subnet_update(update, &s_member, &subnet, &fault), ZN_ECONFLICT);
    json_decref(update);
    update = s_json("{\"subnet\": {\"gateway_ip\": \"10.0.0.254\", \"name\": \"s\"}}");
    assert_int_equal(zn_netbody_subnet_update(update, &s_member, &subnet, &fault), 0);
    assert_string_equal(subnet.gateway_ip, "10.0.0.254");
    json_decref(update);
    update = s_json("{\"subnet\": {\"allocation_pools\": []}}");
    assert_int_equal(zn_netbody_subnet_update(update, &s_member, &subnet, &fault), -EINVAL);
    json_decref(update);
    zn_schema_release(&zn_net_subnet_schema, &subnet);

    assert_int_equal(s_subnet("{\"subnet\": {\"network_id\": \"n1\", \"cidr\": \"2001:db8::/64\", "
                              "\"gateway_ip\": null}}",
                              &subnet, &fault),
                     0);
    assert_null(subnet.gateway_ip);
    assert_int_equal(subnet.ip_version, 6);
    assert_string_equal(subnet.pools[0].start, "2001:db8::1");
    zn_schema_release(&zn_net_subnet_schema, &subnet);

    const char *refused[] = {
        "{\"subnet\": {\"cidr\": \"10.0.0.0/24\"}}",
        "{\"subnet\": {\"network_id\": \"n1\"}}",
        "{\"subnet\": {\"network_id\": \"n1\", \"cidr\": \"10.0.0.1/24\"}}",
        "{\"subnet\": {\"network_id\": \"n1\", \"cidr\": \"10.0.0.0/24\", \"ip_version\": 6}}",
        "{\"subnet\": {\"network_id\": \"n1\", \"cidr\": \"10.0.0.0/24\", \"ip_version\": 5}}",
        "{\"subnet\": {\"network_id\": \"n1\", \"cidr\": \"10.0.0.0/24\", \"gateway_ip\": "
        "\"2001:db8::1\"}}",
        "{\"subnet\": {\"network_id\": \"n1\", \"cidr\": \"10.0.0.0/24\", \"allocation_pools\": "
        "[{\"start\": \"10.0.0.5\"}]}}",
        "{\"subnet\": {\"network_id\": \"n1\", \"cidr\": \"10.0.0.0/24\", \"dns_nameservers\": "
        "\"8.8.8.8\"}}",
        "{\"subnet\": {\"network_id\": 7, \"cidr\": \"10.0.0.0/24\"}}",
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        assert_int_equal(s_subnet(refused[i], &subnet, &fault), -EINVAL);
        zn_schema_release(&zn_net_subnet_schema, &subnet);
    }
}

static void
test_netbody_ports(void **state)
{
    (void)state;
    zn_net_port_t port;
    memset(&port, 0, sizeof(port));
    zn_netbody_ips_t ips;
    zn_fault_t fault;
    json_t *root = s_json("{\"port\": {\"network_id\": \"n1\", \"mac_address\": "
                          "\"FA:16:3E:0A:0B:0C\", \"device_id\": \"vm\", \"fixed_ips\": "
                          "[{\"subnet_id\": \"s1\"}, {\"ip_address\": \"10.0.0.9\"}]}}");
    assert_int_equal(zn_netbody_port_create(root, &s_member, &port, &ips, &fault), 0);
    assert_string_equal(port.mac_address, "fa:16:3e:0a:0b:0c");
    assert_string_equal(port.status, "DOWN");
    assert_string_equal(port.device_id, "vm");
    assert_true(ips.given);
    assert_int_equal(ips.count, 2);
    assert_string_equal(ips.ips[0].subnet_id, "s1");
    assert_null(ips.ips[0].ip_address);
    assert_string_equal(ips.ips[1].ip_address, "10.0.0.9");
    json_decref(root);
    json_t *update = s_json("{\"port\": {\"fixed_ips\": []}}");
    assert_int_equal(zn_netbody_port_update(update, &s_member, &port, &fault), -EINVAL);
    json_decref(update);
    update = s_json("{\"port\": {\"binding:host_id\": \"h\"}}");
    assert_int_equal(zn_netbody_port_update(update, &s_member, &port, &fault), ZN_EFORBIDDEN);
    json_decref(update);
    zn_schema_release(&zn_net_port_schema, &port);

    const char *refused[] = {
        "{\"port\": {}}",
        "{\"port\": {\"network_id\": \"n1\", \"mac_address\": \"zz:16:3e:0a:0b:0c\"}}",
        "{\"port\": {\"network_id\": \"n1\", \"fixed_ips\": [{}]}}",
        "{\"port\": {\"network_id\": \"n1\", \"fixed_ips\": [{\"subnet_id\": 5}]}}",
        "{\"port\": {\"network_id\": \"n1\", \"fixed_ips\": {\"subnet_id\": \"s\"}}}",
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        memset(&port, 0, sizeof(port));
        root = s_json(refused[i]);
        assert_int_equal(zn_netbody_port_create(root, &s_member, &port, &ips, &fault), -EINVAL);
        json_decref(root);
        zn_schema_release(&zn_net_port_schema, &port);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_netbody_example),
        cmocka_unit_test(test_netbody_network_rules),
        cmocka_unit_test(test_netbody_bridge_mappings),
        cmocka_unit_test(test_netbody_subnets),
        cmocka_unit_test(test_netbody_ports),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
