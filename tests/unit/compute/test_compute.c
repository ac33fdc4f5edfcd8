/* SPDX-License-Identifier: Apache-2.0 */
/* test_compute.c - zinc-compute against a real conductor and libvirt's test driver: a build
 * end to end, every failing step rolled back and reported, deletes in every state, stop, start
 * and reboot, the console log, the power sync after a domain is destroyed behind zinc's back,
 * and the reconciliation after a restart. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libvirt/libvirt.h>

#include "comp_fixture.h"
#include "zn_failpoint.h"
#include "zn_mem.h"
#include "zn_mp.h"
#include "zn_schema.h"

#define S_HOST    "node-a"
#define S_WAIT_MS 10000

typedef struct {
    comp_fixture_t *fix;
    virConnectPtr conn; /* the same in-process test driver the agent uses */
} s_env_t;

static int
s_setup(void **state)
{
    s_env_t *env = zn_calloc(1, sizeof(*env));
    env->fix = comp_fixture_start(S_HOST, NULL, NULL);
    env->conn = virConnectOpen("test:///default");
    assert_non_null(env->conn);
    *state = env;
    return 0;
}

static int
s_teardown(void **state)
{
    s_env_t *env = *state;
    zn_failpoint_clear_all();
    virConnectClose(env->conn);
    comp_fixture_stop(&env->fix);
    zn_free(env);
    return 0;
}

/* The libvirt state of ID: -1 when there is no such domain. */
static int
s_domain_state(s_env_t *env, const char *id)
{
    virDomainPtr dom = virDomainLookupByUUIDString(env->conn, id);
    if (dom == NULL) {
        return -1;
    }
    int state = 0;
    int reason = 0;
    assert_int_equal(virDomainGetState(dom, &state, &reason, 0), 0);
    virDomainFree(dom);
    return state;
}

static bool
s_dir_exists(s_env_t *env, const char *id)
{
    char *path = zn_asprintf("%s/instances/%s", comp_fixture_state_dir(env->fix), id);
    bool exists = access(path, F_OK) == 0;
    zn_str_free(&path);
    return exists;
}

static void
s_build_ok(s_env_t *env, const char *id)
{
    comp_fixture_seed(env->fix, id, NULL);
    assert_int_equal(comp_fixture_cast(env->fix, "build", id, false, "tok-user"), 0);
    assert_true(comp_fixture_wait(env->fix, id, "active", S_WAIT_MS));
}

/* Read the host record the resource reports wrote. */
static void
s_expect_host_record(s_env_t *env)
{
    zn_cell_host_t host;
    bool found = false;
    for (int i = 0; i < 500 && !found; i++) {
        found = comp_fixture_host_record(env->fix, &host) == 0;
        if (!found) {
            usleep(10000);
        }
    }
    assert_true(found);
    assert_string_equal(host.host, S_HOST);
    assert_true(host.vcpus > 0);
    assert_true(host.ram_mb > 0);
    assert_int_equal(host.ram_mb_reserved, 512);
    assert_string_equal(host.hypervisor_type, "TEST");
    assert_string_equal(host.availability_zone, "nova");
    assert_true(host.cpu_ratio == 4.0);
    assert_non_null(host.cast_endpoint);
    zn_schema_release(&zn_cell_host_schema, &host);
}

static void
test_compute_example(void **state)
{
    s_env_t *env = *state;
    char id[40];
    comp_fixture_uuid(id);
    s_build_ok(env, id);
    zn_cell_instance_t inst;
    assert_int_equal(comp_fixture_instance(env->fix, id, &inst), 0);
    assert_int_equal(inst.power_state, 1);
    assert_null(inst.token);
    zn_schema_release(&zn_cell_instance_schema, &inst);
    /* The domain runs, named for zinc, its UUID the instance id. */
    assert_int_equal(s_domain_state(env, id), VIR_DOMAIN_RUNNING);
    virDomainPtr dom = virDomainLookupByUUIDString(env->conn, id);
    assert_non_null(dom);
    char name[64];
    (void)snprintf(name, sizeof(name), "zinc-%s", id);
    assert_string_equal(virDomainGetName(dom), name);
    char *xml = virDomainGetXMLDesc(dom, 0);
    assert_non_null(strstr(xml, "<title>vm</title>"));
    assert_non_null(strstr(xml, "console.log"));
    free(xml);
    virDomainFree(dom);
    assert_true(s_dir_exists(env, id));
    s_expect_host_record(env);
}

static void
test_compute_console_log(void **state)
{
    s_env_t *env = *state;
    char id[40];
    comp_fixture_uuid(id);
    s_build_ok(env, id);
    /* The test driver runs no guest: write what a guest would have printed. */
    char *path = zn_asprintf("%s/instances/%s/console.log", comp_fixture_state_dir(env->fix), id);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    (void)fputs("boot\nline two\n\x1b[0mlast line\n", f);
    (void)fclose(f);
    zn_str_free(&path);
    zn_pack_t *p = zn_pack_new();
    zn_pack_map(p, 2);
    zn_pack_str(p, "instance_id");
    zn_pack_str(p, id);
    zn_pack_str(p, "length");
    zn_pack_i64(p, 2);
    zn_reply_t *reply = NULL;
    zn_fault_t fault;
    assert_int_equal(zn_client_call_sync(comp_fixture_compute_client(env->fix), "console_log", NULL,
                                         zn_pack_buf(p), 5000, &reply, &fault),
                     0);
    char *json = NULL;
    assert_int_equal(zn_mp_to_json(zn_reply_env(reply)->body, &json, &fault), 0);
    assert_string_equal(json, "{\"output\":\"line two\\n?[0mlast line\\n\"}");
    zn_str_free(&json);
    zn_reply_destroy(&reply);
    /* An instance with no console here. */
    char other[40];
    comp_fixture_uuid(other);
    zn_pack_reset(p);
    zn_pack_map(p, 1);
    zn_pack_str(p, "instance_id");
    zn_pack_str(p, other);
    assert_int_equal(zn_client_call_sync(comp_fixture_compute_client(env->fix), "console_log", NULL,
                                         zn_pack_buf(p), 5000, &reply, &fault),
                     -ENOENT);
    zn_pack_destroy(&p);
}

typedef struct {
    const char *failpoint;
    const char *step;
    bool host_failure;
} s_failure_t;

static void
test_compute_failures_roll_back(void **state)
{
    s_env_t *env = *state;
    const s_failure_t failures[] = {
        {"compute.image", "image", false},   {"compute.network", "network", false},
        {"compute.volume", "volume", false}, {"compute.disk", "disk", true},
        {"compute.define", "define", true},  {"compute.start", "start", true},
    };
    for (size_t i = 0; i < sizeof(failures) / sizeof(failures[0]); i++) {
        const s_failure_t *f = &failures[i];
        char id[40];
        comp_fixture_uuid(id);
        comp_fixture_seed(env->fix, id, NULL);
        zn_failpoint_set(f->failpoint, ZN_EINTERNAL, 1);
        assert_int_equal(comp_fixture_cast(env->fix, "build", id, false, "tok"), 0);
        assert_true(comp_fixture_wait(env->fix, id, "error", S_WAIT_MS));
        assert_int_equal(zn_failpoint_fired(f->failpoint), 1);
        zn_cell_instance_t inst;
        assert_int_equal(comp_fixture_instance(env->fix, id, &inst), 0);
        char words[64];
        (void)snprintf(words, sizeof(words), "step %s on host " S_HOST, f->step);
        assert_non_null(strstr(inst.fault.message, words));
        /* A host failure asks for a reschedule (no scheduler here: "no more hosts"). */
        assert_true((strstr(inst.fault.message, "no more hosts") != NULL) == f->host_failure);
        zn_schema_release(&zn_cell_instance_schema, &inst);
        /* Nothing left behind: no domain, no files. */
        assert_int_equal(s_domain_state(env, id), -1);
        assert_false(s_dir_exists(env, id));
        zn_failpoint_clear_all();
    }
}

static void
s_delete(s_env_t *env, const char *id)
{
    assert_int_equal(comp_fixture_cast(env->fix, "delete", id, false, "tok"), 0);
    assert_true(comp_fixture_wait(env->fix, id, NULL, S_WAIT_MS));
    assert_int_equal(s_domain_state(env, id), -1);
    assert_false(s_dir_exists(env, id));
}

static void
test_compute_delete_in_every_state(void **state)
{
    s_env_t *env = *state;
    char active[40];
    comp_fixture_uuid(active);
    s_build_ok(env, active);
    s_delete(env, active);

    char stopped[40];
    comp_fixture_uuid(stopped);
    s_build_ok(env, stopped);
    assert_int_equal(comp_fixture_cast(env->fix, "stop", stopped, false, "tok"), 0);
    assert_true(comp_fixture_wait(env->fix, stopped, "stopped", S_WAIT_MS));
    s_delete(env, stopped);

    char failed[40];
    comp_fixture_uuid(failed);
    comp_fixture_seed(env->fix, failed, NULL);
    zn_failpoint_set("compute.define", ZN_EINTERNAL, 1);
    assert_int_equal(comp_fixture_cast(env->fix, "build", failed, false, "tok"), 0);
    assert_true(comp_fixture_wait(env->fix, failed, "error", S_WAIT_MS));
    s_delete(env, failed);

    /* Still building: the delete waits for the build, then undoes it. */
    char building[40];
    comp_fixture_uuid(building);
    comp_fixture_seed(env->fix, building, NULL);
    assert_int_equal(comp_fixture_cast(env->fix, "build", building, false, "tok"), 0);
    s_delete(env, building);

    /* Never built here at all (the api's record only). */
    char fresh[40];
    comp_fixture_uuid(fresh);
    comp_fixture_seed(env->fix, fresh, NULL);
    s_delete(env, fresh);
}

static int
s_power(s_env_t *env, const char *id)
{
    zn_cell_instance_t inst;
    assert_int_equal(comp_fixture_instance(env->fix, id, &inst), 0);
    int power = (int)inst.power_state;
    zn_schema_release(&zn_cell_instance_schema, &inst);
    return power;
}

static void
test_compute_stop_start_reboot(void **state)
{
    s_env_t *env = *state;
    char id[40];
    comp_fixture_uuid(id);
    s_build_ok(env, id);
    assert_int_equal(comp_fixture_cast(env->fix, "stop", id, false, "tok"), 0);
    assert_true(comp_fixture_wait(env->fix, id, "stopped", S_WAIT_MS));
    assert_int_equal(s_power(env, id), 4);
    assert_int_equal(s_domain_state(env, id), VIR_DOMAIN_SHUTOFF);
    assert_int_equal(comp_fixture_cast(env->fix, "start", id, false, "tok"), 0);
    assert_true(comp_fixture_wait(env->fix, id, "active", S_WAIT_MS));
    assert_int_equal(s_power(env, id), 1);
    assert_int_equal(s_domain_state(env, id), VIR_DOMAIN_RUNNING);
    /* Soft (the test driver may refuse: then a power cycle), then hard. */
    assert_int_equal(comp_fixture_cast(env->fix, "reboot", id, false, "tok"), 0);
    assert_int_equal(comp_fixture_cast(env->fix, "reboot", id, true, "tok"), 0);
    assert_int_equal(comp_fixture_cast(env->fix, "stop", id, false, "tok"), 0);
    assert_true(comp_fixture_wait(env->fix, id, "stopped", S_WAIT_MS));
    assert_int_equal(s_domain_state(env, id), VIR_DOMAIN_SHUTOFF);
    s_delete(env, id);
}

static bool
s_wait_power(s_env_t *env, const char *id, const char *vm_state, int power)
{
    for (int i = 0; i < 1000; i++) {
        zn_cell_instance_t inst;
        assert_int_equal(comp_fixture_instance(env->fix, id, &inst), 0);
        bool done = strcmp(inst.vm_state, vm_state) == 0 && inst.power_state == power;
        zn_schema_release(&zn_cell_instance_schema, &inst);
        if (done) {
            return true;
        }
        usleep(10000);
    }
    return false;
}

static void
test_compute_power_sync_after_destroy_behind_our_back(void **state)
{
    s_env_t *env = *state;
    char id[40];
    comp_fixture_uuid(id);
    s_build_ok(env, id);
    virDomainPtr dom = virDomainLookupByUUIDString(env->conn, id);
    assert_non_null(dom);
    assert_int_equal(virDomainDestroy(dom), 0); /* `virsh destroy` */
    assert_true(s_wait_power(env, id, "stopped", 4));
    /* Started again behind zinc's back: active again. */
    assert_int_equal(virDomainCreate(dom), 0);
    assert_true(s_wait_power(env, id, "active", 1));
    /* Vanished altogether: no state. */
    assert_int_equal(virDomainDestroy(dom), 0);
    assert_int_equal(virDomainUndefine(dom), 0);
    virDomainFree(dom);
    assert_true(s_wait_power(env, id, "stopped", 0));
}

/* Define a running domain for ID as zinc would have, behind the agent's back. */
static void
s_define_domain(s_env_t *env, const char *id)
{
    char *xml = zn_asprintf("<domain type='test'><name>zinc-%s</name><uuid>%s</uuid>"
                            "<memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type>hvm</type>"
                            "</os></domain>",
                            id, id);
    virDomainPtr dom = virDomainDefineXML(env->conn, xml);
    assert_non_null(dom);
    assert_int_equal(virDomainCreate(dom), 0);
    virDomainFree(dom);
    zn_str_free(&xml);
}

static void
test_compute_restart_reconciles(void **state)
{
    s_env_t *env = *state;
    char kept[40];
    comp_fixture_uuid(kept);
    s_build_ok(env, kept);
    comp_fixture_stop_compute(env->fix);

    /* While the agent is down: an orphan domain nobody knows, and a build it had taken up. */
    char orphan[40];
    comp_fixture_uuid(orphan);
    s_define_domain(env, orphan);
    char interrupted[40];
    comp_fixture_uuid(interrupted);
    comp_seed_t seed = {.task_state = "spawning", .task_taken = true};
    comp_fixture_seed(env->fix, interrupted, &seed);
    s_define_domain(env, interrupted);

    comp_fixture_start_compute(env->fix); /* returns once reconciled */
    assert_int_equal(s_domain_state(env, orphan), -1);
    assert_int_equal(s_domain_state(env, interrupted), -1);
    assert_true(comp_fixture_wait(env->fix, interrupted, "error", S_WAIT_MS));
    zn_cell_instance_t inst;
    assert_int_equal(comp_fixture_instance(env->fix, interrupted, &inst), 0);
    assert_non_null(strstr(inst.fault.message, "step restart"));
    zn_schema_release(&zn_cell_instance_schema, &inst);
    /* The instance it ran before still runs, once, and is watched again. */
    assert_int_equal(s_domain_state(env, kept), VIR_DOMAIN_RUNNING);
    virDomainPtr dom = virDomainLookupByUUIDString(env->conn, kept);
    assert_int_equal(virDomainDestroy(dom), 0);
    virDomainFree(dom);
    assert_true(s_wait_power(env, kept, "stopped", 4));
    s_delete(env, kept);
}

/* Many builds at once: each one ends ACTIVE, through the worker limit. */
static void
test_compute_parallel_builds(void **state)
{
    s_env_t *env = *state;
    char ids[40][40];
    for (int i = 0; i < 40; i++) {
        comp_fixture_uuid(ids[i]);
    }
    comp_fixture_seed_many(env->fix, ids, 40, NULL);
    for (int i = 0; i < 40; i++) {
        assert_int_equal(comp_fixture_cast(env->fix, "build", ids[i], false, "tok"), 0);
    }
    for (int i = 0; i < 40; i++) {
        assert_true(comp_fixture_wait(env->fix, ids[i], "active", S_WAIT_MS));
    }
    for (int i = 0; i < 40; i++) {
        assert_int_equal(comp_fixture_cast(env->fix, "delete", ids[i], false, "tok"), 0);
    }
    for (int i = 0; i < 40; i++) {
        assert_true(comp_fixture_wait(env->fix, ids[i], NULL, S_WAIT_MS));
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_compute_example, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_compute_console_log, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_compute_failures_roll_back, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_compute_delete_in_every_state, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_compute_stop_start_reboot, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_compute_power_sync_after_destroy_behind_our_back,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_compute_restart_reconciles, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_compute_parallel_builds, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
