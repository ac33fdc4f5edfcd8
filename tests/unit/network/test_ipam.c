/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for zn_ipam: addresses, CIDRs, subnet layouts with Neutron's defaults and checks, MACs,
 * and the free-address tracker (bitmap and set modes, exhaustion, reuse, next fit). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "zn_ipam.h"

static zn_ipaddr_t
s_ip(const char *text)
{
    zn_ipaddr_t addr;
    assert_int_equal(zn_ipaddr_parse(text, &addr), 0);
    return addr;
}

static void
s_assert_ip(const zn_ipaddr_t *addr, const char *want)
{
    char text[ZN_IPADDR_TEXT_MAX];
    zn_ipaddr_format(addr, text);
    assert_string_equal(text, want);
}

static zn_ipam_layout_t
s_layout(const char *cidr)
{
    zn_ipam_layout_t layout;
    memset(&layout, 0, sizeof(layout));
    assert_int_equal(zn_cidr_parse(cidr, &layout.cidr, NULL), 0);
    return layout;
}

static void
test_ipam_example(void **state)
{
    (void)state;
    /* A subnet's layout: Neutron's default gateway (.1) and pool (.2 - .254). */
    zn_ipam_layout_t layout = s_layout("192.0.2.0/24");
    assert_int_equal(zn_ipam_layout_complete(&layout, ZN_IPAM_GATEWAY_DEFAULT, NULL), 0);
    assert_true(layout.has_gateway);
    s_assert_ip(&layout.gateway, "192.0.2.1");
    assert_int_equal(layout.pool_count, 1);
    s_assert_ip(&layout.pools[0].start, "192.0.2.2");
    s_assert_ip(&layout.pools[0].end, "192.0.2.254");

    /* The tracker hands out the pool in order, never twice. */
    zn_ipam_t *ipam = zn_ipam_new(layout.pools, layout.pool_count);
    assert_int_equal(zn_ipam_size(ipam), 253);
    zn_ipaddr_t addr;
    assert_int_equal(zn_ipam_take(ipam, &addr), 0);
    s_assert_ip(&addr, "192.0.2.2");
    assert_int_equal(zn_ipam_take(ipam, &addr), 0);
    s_assert_ip(&addr, "192.0.2.3");
    assert_int_equal(zn_ipam_used(ipam), 2);
    zn_ipam_destroy(&ipam);
    assert_null(ipam);
}

static void
test_ipam_addresses(void **state)
{
    (void)state;
    zn_ipaddr_t a;
    assert_int_equal(zn_ipaddr_parse("10.0.0.1", &a), 0);
    assert_int_equal(a.version, 4);
    assert_int_equal(zn_ipaddr_parse("2001:DB8::0:1", &a), 0);
    assert_int_equal(a.version, 6);
    s_assert_ip(&a, "2001:db8::1");
    assert_int_equal(zn_ipaddr_parse("10.0.0.256", &a), -EINVAL);
    assert_int_equal(zn_ipaddr_parse("", &a), -EINVAL);
    assert_int_equal(zn_ipaddr_parse(NULL, &a), -EINVAL);
    assert_int_equal(zn_ipaddr_parse("10.0.0.1 ", &a), -EINVAL);
    zn_ipaddr_t b = s_ip("10.0.0.2");
    zn_ipaddr_t c = s_ip("10.0.0.10");
    assert_int_equal(zn_ipaddr_compare(&b, &c), -1);
    assert_int_equal(zn_ipaddr_compare(&c, &b), 1);
    assert_int_equal(zn_ipaddr_compare(&b, &b), 0);
}

static void
test_ipam_cidrs(void **state)
{
    (void)state;
    zn_cidr_t cidr;
    zn_fault_t fault;
    char text[ZN_CIDR_TEXT_MAX];
    assert_int_equal(zn_cidr_parse("10.1.0.0/16", &cidr, &fault), 0);
    zn_cidr_format(&cidr, text);
    assert_string_equal(text, "10.1.0.0/16");
    assert_int_equal(zn_cidr_parse("10.1.2.3/16", &cidr, &fault), -EINVAL);
    assert_non_null(strstr(fault.message, "did you mean '10.1.0.0/16'"));
    const char *bad[] = {"10.0.0.0",       "10.0.0.0/33", "10.0.0.0/",     "10.0.0.0/a", "x/8",
                         "2001:db8::/129", "10.0.0.0/-1", "10.0.0.0/0016", "/24",        ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(zn_cidr_parse(bad[i], &cidr, &fault), -EINVAL);
    }
    assert_int_equal(zn_cidr_parse(NULL, &cidr, &fault), -EINVAL);
    assert_int_equal(zn_cidr_parse("2001:db8:1::/48", &cidr, &fault), 0);
    zn_ipaddr_t in = s_ip("2001:db8:1:ffff::5");
    zn_ipaddr_t out = s_ip("2001:db8:2::5");
    zn_ipaddr_t v4 = s_ip("10.0.0.1");
    assert_true(zn_cidr_contains(&cidr, &in));
    assert_false(zn_cidr_contains(&cidr, &out));
    assert_false(zn_cidr_contains(&cidr, &v4));
    zn_cidr_t a;
    zn_cidr_t b;
    zn_cidr_t c;
    assert_int_equal(zn_cidr_parse("10.0.0.0/8", &a, NULL), 0);
    assert_int_equal(zn_cidr_parse("10.2.0.0/16", &b, NULL), 0);
    assert_int_equal(zn_cidr_parse("11.0.0.0/16", &c, NULL), 0);
    assert_true(zn_cidr_overlaps(&a, &b));
    assert_true(zn_cidr_overlaps(&b, &a));
    assert_false(zn_cidr_overlaps(&a, &c));
    assert_false(zn_cidr_overlaps(&a, &cidr));
}

static void
test_ipam_layouts(void **state)
{
    (void)state;
    zn_fault_t fault;
    /* IPv6: gateway ::1, the pool runs to the last address (no broadcast). */
    zn_ipam_layout_t v6 = s_layout("2001:db8::/64");
    assert_int_equal(zn_ipam_layout_complete(&v6, ZN_IPAM_GATEWAY_DEFAULT, NULL), 0);
    s_assert_ip(&v6.gateway, "2001:db8::1");
    s_assert_ip(&v6.pools[0].start, "2001:db8::2");
    s_assert_ip(&v6.pools[0].end, "2001:db8::ffff:ffff:ffff:ffff");

    /* No gateway: the pool starts at the first host. */
    zn_ipam_layout_t none = s_layout("10.0.0.0/29");
    assert_int_equal(zn_ipam_layout_complete(&none, ZN_IPAM_GATEWAY_NONE, NULL), 0);
    assert_false(none.has_gateway);
    s_assert_ip(&none.pools[0].start, "10.0.0.1");
    s_assert_ip(&none.pools[0].end, "10.0.0.6");

    /* A gateway in the middle splits the default pool. */
    zn_ipam_layout_t mid = s_layout("10.0.0.0/29");
    mid.gateway = s_ip("10.0.0.4");
    assert_int_equal(zn_ipam_layout_complete(&mid, ZN_IPAM_GATEWAY_GIVEN, NULL), 0);
    assert_int_equal(mid.pool_count, 2);
    s_assert_ip(&mid.pools[0].end, "10.0.0.3");
    s_assert_ip(&mid.pools[1].start, "10.0.0.5");

    /* Bad gateways and tiny subnets. */
    const char *gateways[] = {"10.0.0.0", "10.0.0.7", "10.0.1.1", "2001:db8::1"};
    for (size_t i = 0; i < sizeof(gateways) / sizeof(gateways[0]); i++) {
        zn_ipam_layout_t bad = s_layout("10.0.0.0/29");
        bad.gateway = s_ip(gateways[i]);
        assert_int_equal(zn_ipam_layout_complete(&bad, ZN_IPAM_GATEWAY_GIVEN, &fault), -EINVAL);
    }
    zn_ipam_layout_t tiny = s_layout("10.0.0.0/31");
    assert_int_equal(zn_ipam_layout_complete(&tiny, ZN_IPAM_GATEWAY_DEFAULT, &fault), -EINVAL);
    zn_ipam_layout_t tiny6 = s_layout("2001:db8::/127");
    assert_int_equal(zn_ipam_layout_complete(&tiny6, ZN_IPAM_GATEWAY_DEFAULT, &fault), -EINVAL);
}

static int
s_pools(const char *cidr, const char *const *ends, size_t count, zn_ipam_layout_t *layout)
{
    *layout = s_layout(cidr);
    for (size_t i = 0; i < count; i++) {
        layout->pools[i].start = s_ip(ends[2 * i]);
        layout->pools[i].end = s_ip(ends[2 * i + 1]);
    }
    layout->pool_count = count;
    return zn_ipam_layout_complete(layout, ZN_IPAM_GATEWAY_DEFAULT, NULL);
}

static void
test_ipam_pools_checked(void **state)
{
    (void)state;
    zn_ipam_layout_t layout;
    const char *good[] = {"10.0.0.100", "10.0.0.200", "10.0.0.10", "10.0.0.20"};
    assert_int_equal(s_pools("10.0.0.0/24", good, 2, &layout), 0);
    s_assert_ip(&layout.pools[0].start, "10.0.0.10"); /* sorted */
    const char *gateway[] = {"10.0.0.1", "10.0.0.20"};
    assert_int_equal(s_pools("10.0.0.0/24", gateway, 1, &layout), ZN_ECONFLICT);
    const char *outside[] = {"10.0.0.10", "10.0.1.20"};
    assert_int_equal(s_pools("10.0.0.0/24", outside, 1, &layout), -EINVAL);
    const char *broadcast[] = {"10.0.0.10", "10.0.0.255"};
    assert_int_equal(s_pools("10.0.0.0/24", broadcast, 1, &layout), -EINVAL);
    const char *reversed[] = {"10.0.0.20", "10.0.0.10"};
    assert_int_equal(s_pools("10.0.0.0/24", reversed, 1, &layout), -EINVAL);
    const char *overlap[] = {"10.0.0.10", "10.0.0.20", "10.0.0.20", "10.0.0.30"};
    assert_int_equal(s_pools("10.0.0.0/24", overlap, 2, &layout), -EINVAL);
    const char *version[] = {"2001:db8::10", "2001:db8::20"};
    assert_int_equal(s_pools("10.0.0.0/24", version, 1, &layout), -EINVAL);
}

static void
test_ipam_exhaustion_and_reuse(void **state)
{
    (void)state;
    zn_ipam_layout_t layout = s_layout("10.9.0.0/29"); /* pool .2 - .6: five addresses */
    assert_int_equal(zn_ipam_layout_complete(&layout, ZN_IPAM_GATEWAY_DEFAULT, NULL), 0);
    zn_ipam_t *ipam = zn_ipam_new(layout.pools, layout.pool_count);
    zn_ipaddr_t got[5];
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(zn_ipam_take(ipam, &got[i]), 0);
        for (size_t j = 0; j < i; j++) {
            assert_int_not_equal(zn_ipaddr_compare(&got[i], &got[j]), 0);
        }
    }
    zn_ipaddr_t extra;
    assert_int_equal(zn_ipam_take(ipam, &extra), -ENOSPC);
    zn_ipam_unmark(ipam, &got[1]);
    assert_false(zn_ipam_is_marked(ipam, &got[1]));
    assert_int_equal(zn_ipam_take(ipam, &extra), 0);
    assert_int_equal(zn_ipaddr_compare(&extra, &got[1]), 0);
    /* The gateway and outside addresses are not tracked. */
    assert_false(zn_ipam_mark(ipam, &layout.gateway));
    zn_ipaddr_t far = s_ip("10.10.0.3");
    assert_false(zn_ipam_mark(ipam, &far));
    zn_ipam_clear(ipam);
    assert_int_equal(zn_ipam_used(ipam), 0);
    assert_int_equal(zn_ipam_take(ipam, &extra), 0);
    zn_ipam_destroy(&ipam);
}

static void
test_ipam_slash16_is_fast_and_unique(void **state)
{
    (void)state;
    zn_ipam_layout_t layout = s_layout("172.16.0.0/16");
    assert_int_equal(zn_ipam_layout_complete(&layout, ZN_IPAM_GATEWAY_DEFAULT, NULL), 0);
    zn_ipam_t *ipam = zn_ipam_new(layout.pools, layout.pool_count);
    uint64_t size = zn_ipam_size(ipam);
    assert_int_equal(size, 65533);
    /* Pre-mark every other address, as a store reload would; then fill the rest. */
    zn_ipaddr_t addr;
    for (uint64_t i = 0; i < size; i += 2) {
        assert_int_equal(zn_ipam_take(ipam, &addr), 0);
        zn_ipaddr_t skip;
        if (zn_ipam_take(ipam, &skip) == 0) {
            zn_ipam_unmark(ipam, &skip);
        }
    }
    uint64_t taken = zn_ipam_used(ipam);
    while (zn_ipam_take(ipam, &addr) == 0) {
        taken++;
    }
    assert_int_equal(taken, size);
    assert_int_equal(zn_ipam_used(ipam), size);
    zn_ipam_destroy(&ipam);
}

static void
test_ipam_ipv6_set_mode(void **state)
{
    (void)state;
    zn_ipam_layout_t layout = s_layout("2001:db8:5::/64");
    assert_int_equal(zn_ipam_layout_complete(&layout, ZN_IPAM_GATEWAY_DEFAULT, NULL), 0);
    zn_ipam_t *ipam = zn_ipam_new(layout.pools, layout.pool_count);
    assert_true(zn_ipam_size(ipam) > ZN_IPAM_BITMAP_MAX);
    zn_ipaddr_t first;
    assert_int_equal(zn_ipam_take(ipam, &first), 0);
    s_assert_ip(&first, "2001:db8:5::2");
    /* Another agent took ::3 - ::5000: marks from the store make the tracker skip them. */
    zn_ipaddr_t addr = first;
    for (unsigned i = 0; i < 5000; i++) {
        addr.bytes[15]++;
        if (addr.bytes[15] == 0) {
            addr.bytes[14]++;
        }
        assert_true(zn_ipam_mark(ipam, &addr));
    }
    zn_ipaddr_t next;
    assert_int_equal(zn_ipam_take(ipam, &next), 0);
    s_assert_ip(&next, "2001:db8:5::138b");
    for (unsigned i = 0; i < 3000; i++) {
        zn_ipam_unmark(ipam, &addr);
        addr.bytes[15]--;
        if (addr.bytes[15] == 0xff) {
            addr.bytes[14]--;
        }
    }
    assert_int_equal(zn_ipam_used(ipam), 1 + 2000 + 1);
    assert_true(zn_ipam_is_marked(ipam, &first));
    zn_ipam_destroy(&ipam);
}

static void
test_ipam_scatter_still_fills_the_pool(void **state)
{
    (void)state;
    zn_ipam_layout_t layout = s_layout("10.7.0.0/22"); /* 1021 pool addresses */
    assert_int_equal(zn_ipam_layout_complete(&layout, ZN_IPAM_GATEWAY_DEFAULT, NULL), 0);
    zn_ipam_t *ipam = zn_ipam_new(layout.pools, layout.pool_count);
    zn_ipaddr_t addr;
    uint64_t taken = 0;
    for (;;) {
        zn_ipam_scatter(ipam); /* as after every lost race */
        if (zn_ipam_take(ipam, &addr) < 0) {
            break;
        }
        assert_true(zn_ipam_is_marked(ipam, &addr));
        taken++;
    }
    assert_int_equal(taken, zn_ipam_size(ipam));
    assert_int_equal(taken, 1021);
    zn_ipam_destroy(&ipam);
}

static void
test_ipam_macs(void **state)
{
    (void)state;
    char mac[ZN_MAC_TEXT_MAX];
    char other[ZN_MAC_TEXT_MAX];
    zn_mac_random(mac);
    zn_mac_random(other);
    assert_int_equal(strncmp(mac, "fa:16:3e:", 9), 0);
    assert_int_equal(strlen(mac), 17);
    char norm[ZN_MAC_TEXT_MAX];
    assert_int_equal(zn_mac_normalize(mac, norm), 0);
    assert_string_equal(norm, mac);
    assert_int_equal(zn_mac_normalize("FA:16:3E:AA:BB:CC", norm), 0);
    assert_string_equal(norm, "fa:16:3e:aa:bb:cc");
    const char *bad[] = {"fa:16:3e:aa:bb",    "fa-16-3e-aa-bb-cc", "01:00:5e:00:00:01",
                         "00:00:00:00:00:00", "fa:16:3e:aa:bb:cg", "fa:16:3e:aa:bb:ccc"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(zn_mac_normalize(bad[i], norm), -EINVAL);
    }
    assert_int_equal(zn_mac_normalize(NULL, norm), -EINVAL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ipam_example),
        cmocka_unit_test(test_ipam_addresses),
        cmocka_unit_test(test_ipam_cidrs),
        cmocka_unit_test(test_ipam_layouts),
        cmocka_unit_test(test_ipam_pools_checked),
        cmocka_unit_test(test_ipam_exhaustion_and_reuse),
        cmocka_unit_test(test_ipam_slash16_is_fast_and_unique),
        cmocka_unit_test(test_ipam_ipv6_set_mode),
        cmocka_unit_test(test_ipam_scatter_still_fills_the_pool),
        cmocka_unit_test(test_ipam_macs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
