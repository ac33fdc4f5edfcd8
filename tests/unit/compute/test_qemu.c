/* SPDX-License-Identifier: Apache-2.0 */
/* test_qemu.c - a real guest: a 512-byte boot sector that prints a marker on its serial port,
 * booted by zinc-compute through libvirt's embedded QEMU driver (qemu:///embed, no daemon) in
 * software emulation (TCG), on a qcow2 overlay made with qemu-img. Passes only when the marker
 * comes back through the agent's console_log call. The agent makes itself a child subreaper,
 * so the delete at the end completes at once. Skips (77) only when QEMU is not installed. */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <czmq.h>

#include "comp_fixture.h"
#include "zn_fs.h"
#include "zn_mem.h"
#include "zn_mp.h"
#include "zn_schema.h"

#define S_MARKER   "ZINC-BOOT-OK"
#define S_IMAGE_ID "boot-marker"

/* Real mode, loaded at 0x7c00: point DS:SI at the message, write it to COM1 (0x3f8) byte by
 * byte, then halt forever. */
static const unsigned char s_code[] = {
    0xfa,             /* cli */
    0x31, 0xc0,       /* xor ax, ax */
    0x8e, 0xd8,       /* mov ds, ax */
    0xbe, 0x16, 0x7c, /* mov si, 0x7c16 (the message) */
    0xba, 0xf8, 0x03, /* mov dx, 0x3f8 */
    0xac,             /* next: lodsb */
    0x84, 0xc0,       /* test al, al */
    0x74, 0x03,       /* jz done */
    0xee,             /* out dx, al */
    0xeb, 0xf8,       /* jmp next */
    0xf4,             /* done: hlt */
    0xeb, 0xfd,       /* jmp done */
};

static void
s_write_boot_sector(const char *path)
{
    unsigned char sector[512];
    memset(sector, 0, sizeof(sector));
    memcpy(sector, s_code, sizeof(s_code));
    const char message[] = S_MARKER "\r\n";
    memcpy(sector + sizeof(s_code), message, sizeof(message)); /* with its NUL */
    sector[510] = 0x55;
    sector[511] = 0xaa;
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(sector, 1, sizeof(sector), f), sizeof(sector));
    assert_int_equal(fclose(f), 0);
}

static bool
s_have(const char *program)
{
    char *cmd = zn_asprintf("command -v %s >/dev/null 2>&1", program);
    bool ok = system(cmd) == 0;
    zn_str_free(&cmd);
    return ok;
}

/* The embedded driver's configuration: as root, run QEMU as root (the Debian default user may
 * not exist), without a security driver, with logs in files rather than through virtlogd. */
static void
s_write_qemu_conf(const char *root)
{
    char *etc = zn_asprintf("%s/etc", root);
    assert_int_equal(zn_fs_mkdir_p(etc, 0755), 0);
    char *path = zn_asprintf("%s/qemu.conf", etc);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    if (geteuid() == 0) {
        (void)fputs("user = \"root\"\ngroup = \"root\"\ndynamic_ownership = 0\n", f);
    }
    (void)fputs("security_driver = \"none\"\nstdio_handler = \"file\"\n", f);
    assert_int_equal(fclose(f), 0);
    zn_str_free(&path);
    zn_str_free(&etc);
}

static char *
s_console(comp_fixture_t *fix, const char *id)
{
    zn_pack_t *p = zn_pack_new();
    zn_pack_map(p, 1);
    zn_pack_str(p, "instance_id");
    zn_pack_str(p, id);
    zn_reply_t *reply = NULL;
    zn_fault_t fault;
    char *json = NULL;
    if (zn_client_call_sync(comp_fixture_compute_client(fix), "console_log", NULL, zn_pack_buf(p),
                            5000, &reply, &fault) == 0 &&
        zn_mp_to_json(zn_reply_env(reply)->body, &json, &fault) != 0) {
        json = NULL;
    }
    zn_reply_destroy(&reply);
    zn_pack_destroy(&p);
    return json;
}

/* The test's directory, kept for the teardown. */
typedef struct {
    char dir[32];
} s_env_t;

static int
s_setup(void **state)
{
    s_env_t *env = zn_calloc(1, sizeof(*env));
    (void)snprintf(env->dir, sizeof(env->dir), "/tmp/zn-qemu.XXXXXX");
    assert_non_null(mkdtemp(env->dir));
    *state = env;
    return 0;
}

/* Even after a failed assertion: guests of the embedded driver outlive the agent, so stop them
 * by the pid files libvirt keeps, then remove everything. */
static int
s_teardown(void **state)
{
    s_env_t *env = *state;
    char *cmd = zn_asprintf("for f in '%s'/libvirt/run/qemu/zinc-*.pid; do [ -f \"$f\" ] && "
                            "kill -9 \"$(cat \"$f\")\" 2>/dev/null; done; rm -rf '%s'",
                            env->dir, env->dir);
    (void)!system(cmd);
    zn_str_free(&cmd);
    zn_free(env);
    return 0;
}

static void
test_qemu_boots_and_prints_marker(void **state)
{
    s_env_t *env = *state;
    const char *dir = env->dir;
    char *root = zn_asprintf("%s/libvirt", dir);
    char *images = zn_asprintf("%s/images", dir);
    char *image = zn_asprintf("%s/" S_IMAGE_ID, images);
    assert_int_equal(zn_fs_mkdir_p(images, 0755), 0);
    s_write_qemu_conf(root);
    s_write_boot_sector(image);
    char *uri = zn_asprintf("compute.libvirt_uri=qemu:///embed?root=%s", root);
    char *local = zn_asprintf("compute.local_images_dir=%s", images);
    const char *settings[] = {uri,
                              local,
                              "compute.domain_type=qemu",
                              "compute.disk_mode=qcow2",
                              "compute.build_workers=2",
                              "compute.stop_timeout_ms=500",
                              NULL};
    comp_fixture_t *fix = comp_fixture_start("qemu-node", settings, NULL);

    char id[40];
    comp_fixture_uuid(id);
    comp_seed_t seed = {.image_id = S_IMAGE_ID, .name = "marker", .ram_mb = 64};
    comp_fixture_seed(fix, id, &seed);
    int64_t started = zclock_mono();
    assert_int_equal(comp_fixture_cast(fix, "build", id, false, "tok"), 0);
    assert_true(comp_fixture_wait(fix, id, "active", 60000));
    int64_t active = zclock_mono();
    char *json = NULL;
    for (int i = 0; i < 600; i++) {
        zn_str_free(&json);
        json = s_console(fix, id);
        if (json != NULL && strstr(json, S_MARKER) != NULL) {
            break;
        }
        zclock_sleep(100);
    }
    assert_non_null(json);
    assert_non_null(strstr(json, S_MARKER));
    int64_t marked = zclock_mono();
    zn_str_free(&json);

    /* A soft reboot: this guest ignores ACPI, so after stop_timeout_ms the agent power-cycles
     * it, and the guest prints its marker a second time into the same log. */
    assert_int_equal(comp_fixture_cast(fix, "reboot", id, false, "tok"), 0);
    bool twice = false;
    for (int i = 0; i < 600 && !twice; i++) {
        json = s_console(fix, id);
        const char *first = json != NULL ? strstr(json, S_MARKER) : NULL;
        twice = first != NULL && strstr(first + 1, S_MARKER) != NULL;
        zn_str_free(&json);
        if (!twice) {
            zclock_sleep(100);
        }
    }
    assert_true(twice);
    assert_true(comp_fixture_wait(fix, id, "active", 30000));
    int64_t rebooted = zclock_mono();
    assert_int_equal(comp_fixture_cast(fix, "delete", id, false, "tok"), 0);
    assert_true(comp_fixture_wait(fix, id, NULL, 30000));
    int64_t deleted = zclock_mono();
    printf("qemu: build->active %" PRId64 " ms, active->marker %" PRId64
           " ms, soft reboot (500 ms grace, then hard) %" PRId64 " ms, delete %" PRId64 " ms\n",
           active - started, marked - active, rebooted - marked, deleted - rebooted);

    comp_fixture_stop(&fix);
    zn_str_free(&uri);
    zn_str_free(&local);
    zn_str_free(&image);
    zn_str_free(&images);
    zn_str_free(&root);
}

int
main(void)
{
    if (!s_have("qemu-system-x86_64") || !s_have("qemu-img")) {
        printf("SKIP: qemu-system-x86_64 or qemu-img not installed (tools/deps.sh)\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_qemu_boots_and_prints_marker, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
