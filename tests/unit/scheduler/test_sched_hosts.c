/* SPDX-License-Identifier: Apache-2.0 */
/* test_sched_hosts.c - the placement decision in memory: each filter, each weigher, the random
 * choice among the best, busy hosts, usage generations, and the tree against brute force. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "zn_sched_hosts.h"

static const zn_sched_policy_t s_spread = {.ram_multiplier = 1.0,
                                           .cpu_multiplier = 0,
                                           .disk_multiplier = 0,
                                           .host_subset_size = 1,
                                           .seed = 42};

/* A host with VCPUS, RAM_MB and DISK_GB, ratio 1, nothing reserved, x86_64/QEMU in zone nova. */
static zn_cell_host_t
s_host(const char *name, int64_t vcpus, int64_t ram_mb, int64_t disk_gb)
{
    zn_cell_host_t h = {
        .host = (char *)name,
        .vcpus = vcpus,
        .ram_mb = ram_mb,
        .disk_gb = disk_gb,
        .cpu_ratio = 1.0,
        .ram_ratio = 1.0,
        .disk_ratio = 1.0,
        .hypervisor_type = (char *)"QEMU",
        .arch = (char *)"x86_64",
    };
    return h;
}

static void
s_add(zn_sched_hosts_t *hosts, zn_cell_host_t h)
{
    assert_int_equal(zn_sched_hosts_update(hosts, &h, 1), 0);
}

static zn_sched_request_t
s_req(int64_t vcpus, int64_t ram_mb, int64_t disk_gb)
{
    zn_sched_request_t r = {.vcpus = vcpus, .ram_mb = ram_mb, .disk_gb = disk_gb};
    return r;
}

/* Select and return the chosen host's name (borrowed), or NULL with *rc set. */
static const char *
s_pick(zn_sched_hosts_t *hosts, const zn_sched_request_t *req, int *rc, zn_fault_t *fault)
{
    zn_sched_pick_t pick;
    *rc = zn_sched_hosts_select(hosts, req, &pick, fault);
    return *rc == 0 ? pick.hosts[0] : NULL;
}

static void
s_expect_host(zn_sched_hosts_t *hosts, const zn_sched_request_t *req, const char *want)
{
    int rc = 0;
    zn_fault_t fault;
    const char *got = s_pick(hosts, req, &rc, &fault);
    if (rc != 0) {
        fail_msg("expected %s, got %s", want, fault.message);
    }
    assert_string_equal(got, want);
}

static void
s_expect_none(zn_sched_hosts_t *hosts, const zn_sched_request_t *req, const char *words)
{
    int rc = 0;
    zn_fault_t fault;
    const char *got = s_pick(hosts, req, &rc, &fault);
    if (rc == 0) {
        fail_msg("expected no valid host, got %s", got);
    }
    assert_int_equal(rc, ZN_ENOVALIDHOST);
    if (strstr(fault.message, words) == NULL) {
        fail_msg("'%s' does not say '%s'", fault.message, words);
    }
}

static void
test_sched_hosts_example(void **state)
{
    (void)state;
    zn_sched_hosts_t *hosts = zn_sched_hosts_new(&s_spread);
    s_add(hosts, s_host("small", 4, 4096, 40));
    s_add(hosts, s_host("big", 16, 32768, 400));
    zn_sched_request_t req = s_req(2, 2048, 20);
    req.alternates = 1;
    zn_sched_pick_t pick;
    zn_fault_t fault;
    assert_int_equal(zn_sched_hosts_select(hosts, &req, &pick, &fault), 0);
    assert_int_equal(pick.count, 2);
    assert_string_equal(pick.hosts[0], "big"); /* spread: the most free RAM */
    assert_string_equal(pick.hosts[1], "small");
    /* The claim: counted in memory, written with the generation it rests on. */
    zn_sched_claim_t claim;
    assert_int_equal(zn_sched_hosts_reserve(hosts, "big", &req, &claim), 0);
    assert_int_equal(claim.ram_mb_used, 2048);
    assert_int_equal(claim.instances, 1);
    assert_int_equal(claim.expect_gen, 0); /* no usage record yet: create it */
    zn_sched_hosts_settle(hosts, "big", true);
    uint64_t host_gen = 0;
    uint64_t usage_gen = 0;
    assert_true(zn_sched_hosts_gens(hosts, "big", &host_gen, &usage_gen));
    assert_int_equal(usage_gen, 1);
    assert_int_equal(zn_sched_hosts_count(hosts), 2);
    zn_sched_hosts_destroy(&hosts);
    assert_null(hosts);
}

static void
test_compute_filter(void **state)
{
    (void)state;
    zn_sched_hosts_t *hosts = zn_sched_hosts_new(&s_spread);
    zn_cell_host_t off = s_host("off", 8, 8192, 80);
    off.disabled = true;
    s_add(hosts, off);
    s_add(hosts, s_host("dead", 8, 8192, 80));
    zn_sched_hosts_set_alive(hosts, "dead", false);
    s_add(hosts, s_host("small", 1, 512, 80));
    zn_sched_request_t req = s_req(1, 1024, 1);
    s_expect_none(hosts, &req, "ComputeFilter eliminated 2 of 3 hosts; RamFilter eliminated 1");
    zn_sched_hosts_set_alive(hosts, "dead", true);
    s_expect_host(hosts, &req, "dead");
    zn_sched_hosts_set_all_alive(hosts, false);
    s_expect_none(hosts, &req, "ComputeFilter eliminated 3 of 3 hosts");
    zn_sched_hosts_destroy(&hosts);
}

static void
test_ram_core_disk_filters_with_ratios(void **state)
{
    (void)state;
    zn_sched_hosts_t *hosts = zn_sched_hosts_new(&s_spread);
    zn_cell_host_t h = s_host("h", 4, 4096, 100);
    h.cpu_ratio = 4.0; /* (4 - 1) * 4 = 12 vCPUs */
    h.vcpus_reserved = 1;
    h.ram_ratio = 1.5; /* (4096 - 512) * 1.5 = 5376 MiB */
    h.ram_mb_reserved = 512;
    h.disk_gb_reserved = 10; /* 90 GiB */
    s_add(hosts, h);
    zn_sched_request_t fits = s_req(12, 5376, 90);
    s_expect_host(hosts, &fits, "h");
    zn_sched_request_t req = s_req(13, 1, 1);
    s_expect_none(hosts, &req, "CoreFilter eliminated 1 of 1 hosts");
    req = s_req(1, 5377, 1);
    s_expect_none(hosts, &req, "RamFilter eliminated 1 of 1 hosts");
    req = s_req(1, 1, 91);
    s_expect_none(hosts, &req, "DiskFilter eliminated 1 of 1 hosts");
    /* What is used counts: after a claim of 10 vCPUs, 3 no longer fit. */
    zn_sched_claim_t claim;
    req = s_req(10, 100, 10);
    assert_int_equal(zn_sched_hosts_reserve(hosts, "h", &req, &claim), 0);
    zn_sched_hosts_settle(hosts, "h", true);
    req = s_req(3, 1, 1);
    s_expect_none(hosts, &req, "CoreFilter");
    req = s_req(2, 1, 1);
    s_expect_host(hosts, &req, "h");
    zn_sched_hosts_destroy(&hosts);
}

static void
test_availability_zone_filter(void **state)
{
    (void)state;
    zn_sched_hosts_t *hosts = zn_sched_hosts_new(&s_spread);
    zn_cell_host_t a = s_host("a", 8, 65536, 80);
    a.availability_zone = (char *)"az1";
    s_add(hosts, a);
    s_add(hosts, s_host("b", 8, 8192, 80)); /* no zone: "nova" */
    zn_sched_request_t req = s_req(1, 512, 1);
    req.availability_zone = "nova";
    s_expect_host(hosts, &req, "b");
    req.availability_zone = "az1";
    s_expect_host(hosts, &req, "a");
    req.availability_zone = "az9";
    s_expect_none(hosts, &req, "AvailabilityZoneFilter eliminated 2 of 2 hosts");
    zn_sched_hosts_destroy(&hosts);
}

static void
test_image_properties_filter(void **state)
{
    (void)state;
    zn_sched_hosts_t *hosts = zn_sched_hosts_new(&s_spread);
    zn_cell_host_t arm = s_host("arm", 8, 65536, 80);
    arm.arch = (char *)"aarch64";
    s_add(hosts, arm);
    zn_cell_host_t test = s_host("test", 8, 32768, 80);
    test.hypervisor_type = (char *)"test";
    s_add(hosts, test);
    s_add(hosts, s_host("qemu", 8, 8192, 80));
    zn_sched_request_t req = s_req(1, 512, 1);
    req.image_arch = "X86_64"; /* case does not matter */
    s_expect_host(hosts, &req, "test");
    req.image_hypervisor_type = "qemu";
    s_expect_host(hosts, &req, "qemu");
    req.image_arch = "aarch64";
    req.image_hypervisor_type = "test";
    s_expect_none(hosts, &req, "ImagePropertiesFilter eliminated 3 of 3 hosts");
    req.image_arch = NULL;
    req.image_hypervisor_type = NULL;
    s_expect_host(hosts, &req, "arm");
    zn_sched_hosts_destroy(&hosts);
}

static void
test_same_and_different_host_filters(void **state)
{
    (void)state;
    zn_sched_hosts_t *hosts = zn_sched_hosts_new(&s_spread);
    s_add(hosts, s_host("a", 8, 65536, 80));
    s_add(hosts, s_host("b", 8, 32768, 80));
    s_add(hosts, s_host("c", 8, 8192, 80));
    zn_sched_request_t req = s_req(1, 512, 1);
    const char *same[] = {"c", "b"};
    req.same_host = same;
    req.same_host_count = 2;
    s_expect_host(hosts, &req, "b"); /* the best of the two */
    const char *different[] = {"b"};
    req.different_host = different;
    req.different_host_count = 1;
    s_expect_host(hosts, &req, "c");
    req.same_host_count = 0;
    s_expect_host(hosts, &req, "a");
    const char *all[] = {"a", "b", "c"};
    req.different_host = all;
    req.different_host_count = 3;
    s_expect_none(hosts, &req, "DifferentHostFilter eliminated 3 of 3 hosts");
    req.different_host_count = 0;
    const char *gone[] = {"zz"};
    req.same_host = gone;
    req.same_host_count = 1;
    s_expect_none(hosts, &req, "SameHostFilter eliminated 3 of 3 hosts");
    zn_sched_hosts_destroy(&hosts);
}

static void
test_server_group_filters(void **state)
{
    (void)state;
    zn_sched_hosts_t *hosts = zn_sched_hosts_new(&s_spread);
    s_add(hosts, s_host("a", 8, 65536, 80));
    s_add(hosts, s_host("b", 8, 32768, 80));
    s_add(hosts, s_host("c", 1, 8192, 80));
    zn_sched_request_t req = s_req(1, 512, 1);
    const char *members[] = {"b"};
    req.group_hosts = members;
    req.group_host_count = 1;
    req.group_policy = ZN_SCHED_GROUP_AFFINITY;
    s_expect_host(hosts, &req, "b");
    req.group_policy = ZN_SCHED_GROUP_ANTI_AFFINITY;
    s_expect_host(hosts, &req, "a");
    /* The first member of an affinity group goes anywhere. */
    req.group_policy = ZN_SCHED_GROUP_AFFINITY;
    req.group_host_count = 0;
    s_expect_host(hosts, &req, "a");
    /* Hard affinity to a full host fails; soft affinity falls back to the best other host. */
    const char *full[] = {"c"};
    req.group_hosts = full;
    req.group_host_count = 1;
    req.vcpus = 2;
    s_expect_none(hosts, &req,
                  "ServerGroupAffinityFilter eliminated 2 of 3 hosts; CoreFilter "
                  "eliminated 1");
    req.group_policy = ZN_SCHED_GROUP_SOFT_AFFINITY;
    s_expect_host(hosts, &req, "a");
    const char *two[] = {"a", "b"};
    req.group_hosts = two;
    req.group_host_count = 2;
    req.group_policy = ZN_SCHED_GROUP_ANTI_AFFINITY;
    s_expect_none(hosts, &req, "ServerGroupAntiAffinityFilter eliminated 2 of 3 hosts");
    req.group_policy = ZN_SCHED_GROUP_SOFT_ANTI_AFFINITY;
    s_expect_host(hosts, &req, "a");
    zn_sched_group_policy_t policy;
    assert_int_equal(zn_sched_group_policy_parse("soft-anti-affinity", &policy), 0);
    assert_int_equal(policy, ZN_SCHED_GROUP_SOFT_ANTI_AFFINITY);
    assert_int_equal(zn_sched_group_policy_parse("nope", &policy), -EINVAL);
    zn_sched_hosts_destroy(&hosts);
}

static void
test_retry_filter(void **state)
{
    (void)state;
    zn_sched_hosts_t *hosts = zn_sched_hosts_new(&s_spread);
    s_add(hosts, s_host("a", 8, 65536, 80));
    s_add(hosts, s_host("b", 8, 8192, 80));
    zn_sched_request_t req = s_req(1, 512, 1);
    const char *tried[] = {"a"};
    req.ignore_hosts = tried;
    req.ignore_host_count = 1;
    s_expect_host(hosts, &req, "b");
    const char *both[] = {"a", "b"};
    req.ignore_hosts = both;
    req.ignore_host_count = 2;
    s_expect_none(hosts, &req, "RetryFilter eliminated 2 of 2 hosts");
    zn_sched_hosts_destroy(&hosts);
}

static void
test_no_hosts_and_bad_request(void **state)
{
    (void)state;
    zn_sched_hosts_t *hosts = zn_sched_hosts_new(&s_spread);
    zn_sched_request_t req = s_req(1, 512, 1);
    s_expect_none(hosts, &req, "There are no compute hosts");
    req.ram_mb = -1;
    int rc = 0;
    zn_fault_t fault;
    assert_null(s_pick(hosts, &req, &rc, &fault));
    assert_int_equal(rc, -EINVAL);
    zn_cell_host_t nameless = s_host("", 1, 1, 1);
    assert_int_equal(zn_sched_hosts_update(hosts, &nameless, 1), -EINVAL);
    zn_sched_hosts_destroy(&hosts);
}

static void
test_weighers_spread_pack_and_multipliers(void **state)
{
    (void)state;
    zn_sched_policy_t policy = s_spread;
    zn_cell_host_t ram_rich = s_host("ram_rich", 4, 65536, 10);
    zn_cell_host_t cpu_rich = s_host("cpu_rich", 64, 8192, 20);
    zn_cell_host_t disk_rich = s_host("disk_rich", 8, 16384, 1000);
    zn_sched_request_t req = s_req(1, 512, 1);

    struct {
        double ram, cpu, disk;
        bool pack;
        const char *want;
    } cases[] = {
        {1, 0, 0, false, "ram_rich"}, {0, 1, 0, false, "cpu_rich"}, {0, 0, 1, false, "disk_rich"},
        {1, 0, 0, true, "cpu_rich"},  {0, 1, 0, true, "ram_rich"},  {1, 10, 0, false, "cpu_rich"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        policy.ram_multiplier = cases[i].ram;
        policy.cpu_multiplier = cases[i].cpu;
        policy.disk_multiplier = cases[i].disk;
        policy.pack = cases[i].pack;
        zn_sched_hosts_t *hosts = zn_sched_hosts_new(&policy);
        s_add(hosts, ram_rich);
        s_add(hosts, cpu_rich);
        s_add(hosts, disk_rich);
        s_expect_host(hosts, &req, cases[i].want);
        zn_sched_hosts_destroy(&hosts);
    }
}

/* Packing fills the fullest host that still fits before opening another. */
static void
test_pack_fills_hosts_in_turn(void **state)
{
    (void)state;
    zn_sched_policy_t policy = s_spread;
    policy.pack = true;
    zn_sched_hosts_t *hosts = zn_sched_hosts_new(&policy);
    s_add(hosts, s_host("a", 8, 4096, 80));
    s_add(hosts, s_host("b", 8, 4096, 80));
    zn_sched_request_t req = s_req(1, 1024, 1);
    const char *first = NULL;
    for (int i = 0; i < 4; i++) {
        int rc = 0;
        zn_fault_t fault;
        const char *got = s_pick(hosts, &req, &rc, &fault);
        assert_int_equal(rc, 0);
        if (first == NULL) {
            first = got;
        }
        assert_string_equal(got, first);
        zn_sched_claim_t claim;
        assert_int_equal(zn_sched_hosts_reserve(hosts, got, &req, &claim), 0);
        zn_sched_hosts_settle(hosts, got, true);
    }
    int rc = 0;
    zn_fault_t fault;
    const char *fifth = s_pick(hosts, &req, &rc, &fault);
    assert_int_equal(rc, 0);
    assert_string_not_equal(fifth, first);
    zn_sched_hosts_destroy(&hosts);
}

static void
test_random_choice_among_top_n(void **state)
{
    (void)state;
    zn_sched_policy_t policy = s_spread;
    policy.host_subset_size = 3;
    zn_sched_hosts_t *hosts = zn_sched_hosts_new(&policy);
    char names[6][8];
    for (int i = 0; i < 6; i++) {
        (void)snprintf(names[i], sizeof(names[i]), "h%d", i);
        s_add(hosts, s_host(names[i], 8, 10000 - i * 1000, 80));
    }
    int seen[6] = {0};
    zn_sched_request_t req = s_req(1, 512, 1);
    req.alternates = 2;
    for (int i = 0; i < 300; i++) {
        zn_sched_pick_t pick;
        zn_fault_t fault;
        assert_int_equal(zn_sched_hosts_select(hosts, &req, &pick, &fault), 0);
        assert_int_equal(pick.count, 3);
        assert_string_not_equal(pick.hosts[0], pick.hosts[1]);
        assert_string_not_equal(pick.hosts[1], pick.hosts[2]);
        seen[pick.hosts[0][1] - '0']++;
    }
    assert_true(seen[0] > 50 && seen[1] > 50 && seen[2] > 50);
    assert_int_equal(seen[3] + seen[4] + seen[5], 0);
    zn_sched_hosts_destroy(&hosts);
}

static void
test_busy_hosts_wait(void **state)
{
    (void)state;
    zn_sched_hosts_t *hosts = zn_sched_hosts_new(&s_spread);
    s_add(hosts, s_host("a", 8, 8192, 80));
    zn_sched_request_t req = s_req(1, 1024, 1);
    zn_sched_claim_t claim;
    /* Two claims gather on one host: one batch writes the totals of both. */
    assert_int_equal(zn_sched_hosts_reserve(hosts, "a", &req, &claim), 0);
    s_expect_host(hosts, &req, "a"); /* gathering, not sent: still a candidate */
    assert_int_equal(zn_sched_hosts_reserve(hosts, "a", &req, &claim), 0);
    assert_int_equal(claim.ram_mb_used, 2048);
    assert_int_equal(claim.instances, 2);
    assert_int_equal(claim.expect_gen, 0);
    assert_int_equal(zn_sched_hosts_seal(hosts, "a"), 0);
    assert_int_equal(zn_sched_hosts_seal(hosts, "a"), -EINVAL);
    assert_int_equal(zn_sched_hosts_seal(hosts, "zz"), -ENOENT);
    assert_int_equal(zn_sched_hosts_reserve(hosts, "a", &req, &claim), -EBUSY);
    assert_int_equal(zn_sched_hosts_reserve(hosts, "zz", &req, &claim), -ENOENT);
    int rc = 0;
    zn_fault_t fault;
    assert_null(s_pick(hosts, &req, &rc, &fault));
    assert_int_equal(rc, -EAGAIN); /* only the busy host fits: ask again once it settles */
    /* A failed batch gives both reservations back, and the store's word is taken after it. */
    zn_sched_hosts_settle(hosts, "a", false);
    req.ram_mb = 8192;
    s_expect_host(hosts, &req, "a");
    req.ram_mb = 1024;
    zn_cell_usage_t usage = {
        .host = (char *)"a", .ram_mb_used = 7168, .vcpus_used = 7, .instances = 7};
    assert_true(zn_sched_hosts_reset_usage(hosts, "a", &usage, 3));
    s_expect_host(hosts, &req, "a");
    req.ram_mb = 1025;
    s_expect_none(hosts, &req, "RamFilter eliminated 1 of 1 hosts");
    zn_sched_hosts_destroy(&hosts);
}

static void
test_usage_generations(void **state)
{
    (void)state;
    zn_sched_hosts_t *hosts = zn_sched_hosts_new(&s_spread);
    s_add(hosts, s_host("a", 8, 8192, 80));
    zn_cell_usage_t usage = {.host = (char *)"a", .ram_mb_used = 1024};
    assert_true(zn_sched_hosts_set_usage(hosts, "a", &usage, 5));
    assert_false(zn_sched_hosts_set_usage(hosts, "a", &usage, 4)); /* a lagging replica */
    assert_false(zn_sched_hosts_set_usage(hosts, "zz", &usage, 9));
    zn_sched_request_t req = s_req(1, 1024, 1);
    zn_sched_claim_t claim;
    assert_int_equal(zn_sched_hosts_reserve(hosts, "a", &req, &claim), 0);
    assert_int_equal(claim.expect_gen, 5);
    assert_int_equal(claim.ram_mb_used, 2048);
    assert_false(zn_sched_hosts_set_usage(hosts, "a", &usage, 9)); /* busy: ours is ahead */
    zn_sched_hosts_settle(hosts, "a", true);
    uint64_t host_gen = 0;
    uint64_t usage_gen = 0;
    assert_true(zn_sched_hosts_gens(hosts, "a", &host_gen, &usage_gen));
    assert_int_equal(host_gen, 1);
    assert_int_equal(usage_gen, 6);
    assert_true(zn_sched_hosts_reset_usage(hosts, "a", NULL, 0)); /* record gone: nothing used */
    req.ram_mb = 8192;
    s_expect_host(hosts, &req, "a");
    zn_sched_hosts_remove(hosts, "a");
    zn_sched_hosts_remove(hosts, "a");
    assert_int_equal(zn_sched_hosts_count(hosts), 0);
    zn_sched_hosts_destroy(&hosts);
}

/* Two schedulers with shares 0/2 and 1/2 place on disjoint hosts while their shares have room,
 * and each spills into the other's share only when its own is full. */
static void
test_partition_shares(void **state)
{
    (void)state;
    zn_sched_policy_t policy = s_spread;
    policy.host_subset_size = 2;
    policy.partition_count = 2;
    zn_sched_hosts_t *shares[2];
    char names[20][8];
    for (int p = 0; p < 2; p++) {
        policy.partition_index = (size_t)p;
        shares[p] = zn_sched_hosts_new(&policy);
        for (int i = 0; i < 20; i++) {
            (void)snprintf(names[i], sizeof(names[i]), "s%02d", i);
            s_add(shares[p], s_host(names[i], 4, 4096, 40));
        }
    }
    char used[2][20][8];
    int count[2] = {0, 0};
    zn_sched_request_t req = s_req(4, 512, 1); /* a whole host each */
    for (int p = 0; p < 2; p++) {
        for (;;) {
            int rc = 0;
            zn_fault_t fault;
            const char *got = s_pick(shares[p], &req, &rc, &fault);
            if (rc != 0) {
                break;
            }
            zn_sched_claim_t claim;
            assert_int_equal(zn_sched_hosts_reserve(shares[p], got, &req, &claim), 0);
            zn_sched_hosts_settle(shares[p], got, true);
            (void)snprintf(used[p][count[p]++], 8, "%s", got);
        }
        assert_int_equal(count[p], 20); /* every host, ours first then the rest */
    }
    /* The first picks of each are from its own share (of ~10 hosts), so they are disjoint. */
    for (int i = 0; i < 5; i++) {
        for (int j = 0; j < 5; j++) {
            assert_string_not_equal(used[0][i], used[1][j]);
        }
    }
    zn_sched_hosts_destroy(&shares[0]);
    zn_sched_hosts_destroy(&shares[1]);
}

/* ---- the tree against brute force --------------------------------------------------------- */

#define S_N 300

typedef struct {
    char name[16];
    int64_t vcpus, ram, disk, used_vcpus, used_ram, used_disk;
    const char *az;
    bool disabled;
} s_ref_t;

static uint64_t s_rng = 12345;

static uint64_t
s_next(void)
{
    s_rng ^= s_rng << 13;
    s_rng ^= s_rng >> 7;
    s_rng ^= s_rng << 17;
    return s_rng;
}

/* The best host by brute force (ram weigher only, spread, subset 1), or -1. */
static int
s_ref_best(const s_ref_t *ref, const zn_sched_request_t *req)
{
    int best = -1;
    for (int i = 0; i < S_N; i++) {
        const s_ref_t *h = &ref[i];
        bool fits = !h->disabled && h->vcpus - h->used_vcpus >= req->vcpus &&
                    h->ram - h->used_ram >= req->ram_mb && h->disk - h->used_disk >= req->disk_gb &&
                    (req->availability_zone == NULL || strcmp(req->availability_zone, h->az) == 0);
        if (fits && (best < 0 || h->ram - h->used_ram > ref[best].ram - ref[best].used_ram)) {
            best = i;
        }
    }
    return best;
}

static void
test_decisions_match_brute_force(void **state)
{
    (void)state;
    static s_ref_t ref[S_N];
    static const char *zones[] = {"z1", "z2", "z3"};
    zn_sched_hosts_t *hosts = zn_sched_hosts_new(&s_spread);
    for (int i = 0; i < S_N; i++) {
        s_ref_t *h = &ref[i];
        (void)snprintf(h->name, sizeof(h->name), "n%03d", i);
        h->vcpus = 4 + (int64_t)(s_next() % 29);
        h->ram = 4096 + (int64_t)(s_next() % 61) * 1024 + i; /* distinct: no ties */
        h->disk = 40 + (int64_t)(s_next() % 400);
        h->az = zones[s_next() % 3];
        h->disabled = s_next() % 17 == 0;
        zn_cell_host_t rec = s_host(h->name, h->vcpus, h->ram, h->disk);
        rec.availability_zone = (char *)h->az;
        rec.disabled = h->disabled;
        s_add(hosts, rec);
    }
    for (int round = 0; round < 3000; round++) {
        zn_sched_request_t req =
            s_req(1 + (int64_t)(s_next() % 8), 512 + (int64_t)(s_next() % 16) * 512,
                  (int64_t)(s_next() % 80));
        req.availability_zone = s_next() % 2 == 0 ? NULL : zones[s_next() % 3];
        int want = s_ref_best(ref, &req);
        int rc = 0;
        zn_fault_t fault;
        const char *got = s_pick(hosts, &req, &rc, &fault);
        if (want < 0) {
            assert_int_equal(rc, ZN_ENOVALIDHOST);
            continue;
        }
        assert_int_equal(rc, 0);
        assert_string_equal(got, ref[want].name);
        zn_sched_claim_t claim;
        assert_int_equal(zn_sched_hosts_reserve(hosts, got, &req, &claim), 0);
        zn_sched_hosts_settle(hosts, got, true);
        ref[want].used_vcpus += req.vcpus;
        ref[want].used_ram += req.ram_mb;
        ref[want].used_disk += req.disk_gb;
    }
    zn_sched_hosts_destroy(&hosts);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sched_hosts_example),
        cmocka_unit_test(test_compute_filter),
        cmocka_unit_test(test_ram_core_disk_filters_with_ratios),
        cmocka_unit_test(test_availability_zone_filter),
        cmocka_unit_test(test_image_properties_filter),
        cmocka_unit_test(test_same_and_different_host_filters),
        cmocka_unit_test(test_server_group_filters),
        cmocka_unit_test(test_retry_filter),
        cmocka_unit_test(test_no_hosts_and_bad_request),
        cmocka_unit_test(test_weighers_spread_pack_and_multipliers),
        cmocka_unit_test(test_pack_fills_hosts_in_turn),
        cmocka_unit_test(test_random_choice_among_top_n),
        cmocka_unit_test(test_busy_hosts_wait),
        cmocka_unit_test(test_usage_generations),
        cmocka_unit_test(test_partition_shares),
        cmocka_unit_test(test_decisions_match_brute_force),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
