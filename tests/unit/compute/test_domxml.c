/* SPDX-License-Identifier: Apache-2.0 */
/* test_domxml.c - domain XML from typed data: whole documents compared for representative
 * flavors, user strings escaped, bad identifiers refused; and libvirt's test driver accepts
 * what is generated. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libvirt/libvirt.h>

#include "zn_domxml.h"
#include "zn_mem.h"

#define S_UUID "6f1f6c3a-0d6e-4b7e-9d59-2c1b5e0b8e11"

static void
test_domxml_example(void **state)
{
    (void)state;
    zn_domxml_disk_t disks[] = {
        {"/var/lib/zinc/compute/instances/" S_UUID "/disk", "qcow2", "vda"}};
    zn_domxml_t dom = {
        .type = "qemu",
        .name = "zinc-" S_UUID,
        .uuid = S_UUID,
        .title = "web-1",
        .flavor = "m1.tiny",
        .project_id = "p1",
        .arch = "x86_64",
        .console_path = "/var/lib/zinc/compute/instances/" S_UUID "/console.log",
        .vcpus = 1,
        .memory_mb = 512,
        .disks = disks,
        .disk_count = 1,
    };
    char *xml = NULL;
    zn_fault_t fault;
    assert_int_equal(zn_domxml_render(&dom, &xml, &fault), 0);
    const char *expected =
        "<domain type='qemu'>\n"
        "  <name>zinc-" S_UUID "</name>\n"
        "  <uuid>" S_UUID "</uuid>\n"
        "  <title>web-1</title>\n"
        "  <metadata>\n"
        "    <zinc:instance xmlns:zinc='https://zinc.dev/xmlns/compute/1'>\n"
        "      <zinc:name>web-1</zinc:name>\n"
        "      <zinc:flavor>m1.tiny</zinc:flavor>\n"
        "      <zinc:project>p1</zinc:project>\n"
        "    </zinc:instance>\n"
        "  </metadata>\n"
        "  <memory unit='MiB'>512</memory>\n"
        "  <vcpu>1</vcpu>\n"
        "  <os>\n"
        "    <type arch='x86_64'>hvm</type>\n"
        "    <boot dev='hd'/>\n"
        "  </os>\n"
        "  <features>\n"
        "    <acpi/>\n"
        "  </features>\n"
        "  <on_poweroff>destroy</on_poweroff>\n"
        "  <on_reboot>restart</on_reboot>\n"
        "  <on_crash>destroy</on_crash>\n"
        "  <devices>\n"
        "    <disk type='file' device='disk'>\n"
        "      <driver name='qemu' type='qcow2'/>\n"
        "      <source file='/var/lib/zinc/compute/instances/" S_UUID "/disk'/>\n"
        "      <target dev='vda' bus='virtio'/>\n"
        "    </disk>\n"
        "    <serial type='file'>\n"
        "      <source path='/var/lib/zinc/compute/instances/" S_UUID
        "/console.log' append='on'/>\n"
        "      <target port='0'/>\n"
        "    </serial>\n"
        "  </devices>\n"
        "</domain>\n";
    assert_string_equal(xml, expected);
    zn_str_free(&xml);
}

/* A large KVM flavor with a volume and two NICs, one with an MTU. */
static void
test_domxml_large_flavor(void **state)
{
    (void)state;
    zn_domxml_disk_t disks[] = {{"/srv/i/disk", "qcow2", "vda"}, {"/srv/v/vol-1", "raw", "vdb"}};
    zn_domxml_nic_t nics[] = {{"fa:16:3e:00:00:01", "brq-net1", 1450},
                              {"FA:16:3E:AB:CD:EF", "br0", 0}};
    zn_domxml_t dom = {
        .type = "kvm",
        .name = "zinc-" S_UUID,
        .uuid = S_UUID,
        .arch = "x86_64",
        .machine = "q35",
        .vcpus = 16,
        .memory_mb = 65536,
        .disks = disks,
        .disk_count = 2,
        .nics = nics,
        .nic_count = 2,
    };
    char *xml = NULL;
    zn_fault_t fault;
    assert_int_equal(zn_domxml_render(&dom, &xml, &fault), 0);
    assert_non_null(strstr(xml, "<domain type='kvm'>\n"));
    assert_non_null(strstr(xml, "  <memory unit='MiB'>65536</memory>\n  <vcpu>16</vcpu>\n"));
    assert_non_null(strstr(xml, "<type arch='x86_64' machine='q35'>hvm</type>"));
    assert_non_null(strstr(xml, "      <driver name='qemu' type='raw'/>\n"
                                "      <source file='/srv/v/vol-1'/>\n"
                                "      <target dev='vdb' bus='virtio'/>\n"));
    assert_non_null(strstr(xml, "    <interface type='bridge'>\n"
                                "      <mac address='fa:16:3e:00:00:01'/>\n"
                                "      <source bridge='brq-net1'/>\n"
                                "      <model type='virtio'/>\n"
                                "      <mtu size='1450'/>\n"
                                "    </interface>\n"));
    assert_non_null(strstr(xml, "      <source bridge='br0'/>\n      <model type='virtio'/>\n"
                                "    </interface>\n"));
    assert_null(strstr(xml, "<serial")); /* no console path: no serial console */
    assert_null(strstr(xml, "<title>"));
    zn_str_free(&xml);
}

/* Whatever a user calls an instance, it stays text. */
static void
test_domxml_escapes_user_strings(void **state)
{
    (void)state;
    zn_domxml_disk_t disks[] = {{"/srv/a&b/disk", "raw", "vda"}};
    zn_domxml_t dom = {
        .type = "test",
        .name = "zinc-" S_UUID,
        .uuid = S_UUID,
        .title = "</title><devices><disk type='block'>\"x\"\n\x01",
        .flavor = "a<b",
        .project_id = "p&q",
        .arch = "x86_64",
        .vcpus = 1,
        .memory_mb = 64,
        .disks = disks,
        .disk_count = 1,
    };
    char *xml = NULL;
    zn_fault_t fault;
    assert_int_equal(zn_domxml_render(&dom, &xml, &fault), 0);
    assert_non_null(strstr(xml,
                           "<title>&lt;/title&gt;&lt;devices&gt;&lt;disk type=&apos;block&apos;"
                           "&gt;&quot;x&quot; ?</title>"));
    assert_non_null(strstr(xml, "<zinc:name>&lt;/title&gt;&lt;devices&gt;&lt;disk "
                                "type=&apos;block&apos;&gt;&quot;x&quot;\n?</zinc:name>"));
    assert_non_null(strstr(xml, "<zinc:flavor>a&lt;b</zinc:flavor>"));
    assert_non_null(strstr(xml, "<zinc:project>p&amp;q</zinc:project>"));
    assert_non_null(strstr(xml, "<source file='/srv/a&amp;b/disk'/>"));
    assert_null(strstr(xml, "<disk type='block'"));
    zn_str_free(&xml);

    char *text = zn_domxml_escape("<&>'\"\t");
    assert_string_equal(text, "&lt;&amp;&gt;&apos;&quot;\t");
    zn_str_free(&text);
}

static void
s_expect_refused(zn_domxml_t dom, const char *words)
{
    char *xml = NULL;
    zn_fault_t fault;
    assert_int_equal(zn_domxml_render(&dom, &xml, &fault), -EINVAL);
    assert_null(xml);
    assert_non_null(strstr(fault.message, words));
}

static void
test_domxml_refuses_bad_identifiers(void **state)
{
    (void)state;
    zn_domxml_disk_t disk = {"/d", "raw", "vda"};
    zn_domxml_nic_t nic = {"fa:16:3e:00:00:01", "br0", 0};
    zn_domxml_t good = {.type = "qemu",
                        .name = "zinc-x",
                        .uuid = S_UUID,
                        .arch = "x86_64",
                        .vcpus = 1,
                        .memory_mb = 64,
                        .disks = &disk,
                        .disk_count = 1,
                        .nics = &nic,
                        .nic_count = 1};
    char *xml = NULL;
    zn_fault_t fault;
    assert_int_equal(zn_domxml_render(&good, &xml, &fault), 0);
    zn_str_free(&xml);

    zn_domxml_t bad = good;
    bad.uuid = "6f1f6c3a'/><x";
    s_expect_refused(bad, "UUID");
    bad = good;
    bad.type = "qemu' foo='";
    s_expect_refused(bad, "words");
    bad = good;
    bad.vcpus = 0;
    s_expect_refused(bad, "vcpus");
    bad = good;
    bad.memory_mb = -5;
    s_expect_refused(bad, "memory");
    zn_domxml_nic_t bad_mac = {"fa:16:3e:00:00:0'", "br0", 0};
    bad = good;
    bad.nics = &bad_mac;
    s_expect_refused(bad, "MAC");
    zn_domxml_nic_t bad_bridge = {"fa:16:3e:00:00:01", "br0'/><x", 0};
    bad.nics = &bad_bridge;
    s_expect_refused(bad, "bridge");
    zn_domxml_disk_t bad_target = {"/d", "raw", "sda"};
    bad = good;
    bad.disks = &bad_target;
    s_expect_refused(bad, "disk 0");
    zn_domxml_disk_t relative = {"d", "raw", "vda"};
    bad.disks = &relative;
    s_expect_refused(bad, "disk 0");
}

/* libvirt's own parser takes the documents (the test driver checks the schema it knows). */
static void
test_domxml_libvirt_accepts(void **state)
{
    (void)state;
    zn_domxml_disk_t disks[] = {{"/tmp/zn-domxml-disk", "raw", "vda"}};
    zn_domxml_nic_t nics[] = {{"fa:16:3e:00:00:09", "br0", 1500}};
    zn_domxml_t dom = {.type = "test",
                       .name = "zinc-" S_UUID,
                       .uuid = S_UUID,
                       .title = "a <tricky> & 'quoted' name",
                       .arch = "x86_64",
                       .console_path = "/tmp/zn-domxml-console.log",
                       .vcpus = 2,
                       .memory_mb = 256,
                       .disks = disks,
                       .disk_count = 1,
                       .nics = nics,
                       .nic_count = 1};
    char *xml = NULL;
    zn_fault_t fault;
    assert_int_equal(zn_domxml_render(&dom, &xml, &fault), 0);
    virConnectPtr conn = virConnectOpen("test:///default");
    assert_non_null(conn);
    virDomainPtr d = virDomainDefineXML(conn, xml);
    assert_non_null(d);
    const char *title = NULL;
    char *meta = virDomainGetMetadata(d, VIR_DOMAIN_METADATA_TITLE, NULL, 0);
    title = meta;
    assert_string_equal(title, "a <tricky> & 'quoted' name");
    free(meta);
    unsigned char uuid[VIR_UUID_BUFLEN];
    assert_int_equal(virDomainGetUUID(d, uuid), 0);
    assert_int_equal(virDomainGetMaxMemory(d), 256 * 1024);
    assert_int_equal(virDomainUndefine(d), 0);
    virDomainFree(d);
    virConnectClose(conn);
    zn_str_free(&xml);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_domxml_example),
        cmocka_unit_test(test_domxml_large_flavor),
        cmocka_unit_test(test_domxml_escapes_user_strings),
        cmocka_unit_test(test_domxml_refuses_bad_identifiers),
        cmocka_unit_test(test_domxml_libvirt_accepts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
