/* SPDX-License-Identifier: Apache-2.0 */
/* test_api_servers.c - servers through HTTP with a real conductor and store but no scheduler:
 * create (checks, quota, the batch), show in the 2.1 shape, list filters and pages, update,
 * metadata, project isolation, delete through the conductor, and a burst of creates racing
 * for the last places of a quota. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <czmq.h>

#include "api_fixture.h"
#include "zn_cellrec.h"
#include "zn_failpoint.h"
#include "zn_sclient.h"
#include "zn_tables.h"

#define S_IMG "155d900f-4e14-4e4c-a73d-069cbf4541e6"

static api_fixture_t *s_fix;

static int
s_http(const char *method, const char *path, int who, const char *body, json_t **out)
{
    return api_fixture_http(s_fix, method, path, who, body, NULL, out, NULL, 0);
}

static int
s_setup(void **state)
{
    (void)state;
    s_fix = api_fixture_start(NULL);
    json_t *doc = NULL;
    assert_int_equal(s_http("POST", "/flavors", API_ADMIN,
                            "{\"flavor\":{\"name\":\"small\",\"ram\":512,\"vcpus\":1,\"disk\":1,"
                            "\"id\":\"1\"}}",
                            &doc),
                     200);
    json_decref(doc);
    assert_int_equal(s_http("POST", "/flavors", API_ADMIN,
                            "{\"flavor\":{\"name\":\"huge\",\"ram\":1024,\"vcpus\":8,\"disk\":1,"
                            "\"id\":\"8\"}}",
                            &doc),
                     200);
    json_decref(doc);
    return 0;
}

static int
s_teardown(void **state)
{
    (void)state;
    api_fixture_stop(&s_fix);
    return 0;
}

/* Create NAME as WHO; the new id into ID (37 bytes). Returns the status. */
static int
s_create(int who, const char *name, const char *extra, char *id)
{
    char body[1024];
    (void)snprintf(body, sizeof(body),
                   "{\"server\":{\"name\":\"%s\",\"imageRef\":\"" S_IMG
                   "\",\"flavorRef\":\"1\"%s}}",
                   name, extra != NULL ? extra : "");
    json_t *doc = NULL;
    int status = s_http("POST", "/servers", who, body, &doc);
    json_t *server = json_object_get(doc, "server");
    if (status == 202) {
        (void)snprintf(id, 37, "%s", json_string_value(json_object_get(server, "id")));
        assert_non_null(json_string_value(json_object_get(server, "adminPass")));
        assert_non_null(json_object_get(server, "links"));
        assert_int_equal(json_object_size(server), 5); /* the 2.1 create answer, nothing more */
    }
    json_decref(doc);
    return status;
}

static void
test_api_servers_example(void **state)
{
    (void)state;
    char id[37];
    assert_int_equal(s_create(API_ALICE, "vm-example", NULL, id), 202);
    char path[200];
    (void)snprintf(path, sizeof(path), "/servers/%s", id);
    json_t *doc = NULL;
    assert_int_equal(s_http("GET", path, API_ALICE, NULL, &doc), 200);
    json_t *server = json_object_get(doc, "server");
    assert_string_equal(json_string_value(json_object_get(server, "status")), "BUILD");
    assert_string_equal(json_string_value(json_object_get(server, "OS-EXT-STS:task_state")),
                        "scheduling");
    json_decref(doc);
}

/* The 2.1 server document: the keys Tempest requires, and none beyond what it allows. */
static void
test_api_servers_shape(void **state)
{
    (void)state;
    static const char *const allowed[] = {"id",
                                          "name",
                                          "status",
                                          "image",
                                          "flavor",
                                          "user_id",
                                          "tenant_id",
                                          "created",
                                          "updated",
                                          "metadata",
                                          "links",
                                          "addresses",
                                          "hostId",
                                          "OS-DCF:diskConfig",
                                          "OS-EXT-AZ:availability_zone",
                                          "OS-EXT-SRV-ATTR:host",
                                          "OS-EXT-SRV-ATTR:hypervisor_hostname",
                                          "OS-EXT-SRV-ATTR:instance_name",
                                          "OS-EXT-STS:power_state",
                                          "OS-EXT-STS:task_state",
                                          "OS-EXT-STS:vm_state",
                                          "OS-SRV-USG:launched_at",
                                          "OS-SRV-USG:terminated_at",
                                          "accessIPv4",
                                          "accessIPv6",
                                          "config_drive",
                                          "fault",
                                          "key_name",
                                          "os-extended-volumes:volumes_attached",
                                          "progress",
                                          "security_groups"};
    char id[37];
    assert_int_equal(s_create(API_ALICE, "vm-shape", ",\"metadata\":{\"k\":\"v\"}", id), 202);
    char path[200];
    (void)snprintf(path, sizeof(path), "/servers/%s", id);
    for (int who = API_ADMIN; who <= API_ALICE; who++) {
        json_t *doc = NULL;
        assert_int_equal(s_http("GET", path, who, NULL, &doc), 200);
        json_t *server = json_object_get(doc, "server");
        const char *key;
        json_t *value;
        json_object_foreach(server, key, value)
        {
            bool ok = false;
            for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]) && !ok; i++) {
                ok = strcmp(key, allowed[i]) == 0;
            }
            if (!ok) {
                fail_msg("unexpected key %s", key);
            }
        }
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(server, "flavor"), "id")), "1");
        assert_non_null(json_object_get(json_object_get(server, "flavor"), "links"));
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(server, "metadata"), "k")), "v");
        assert_int_equal(json_object_get(server, "OS-EXT-SRV-ATTR:host") != NULL, who == API_ADMIN);
        json_decref(doc);
    }
    (void)snprintf(path, sizeof(path), "/servers/%s/ips", id);
    json_t *doc = NULL;
    assert_int_equal(s_http("GET", path, API_ALICE, NULL, &doc), 200);
    assert_true(json_is_object(json_object_get(doc, "addresses")));
    json_decref(doc);
    (void)snprintf(path, sizeof(path), "/servers/%s/ips/nonet", id);
    assert_int_equal(s_http("GET", path, API_ALICE, NULL, &doc), 404);
    json_decref(doc);
}

static void
test_api_servers_refused(void **state)
{
    (void)state;
    char id[37];
    json_t *doc = NULL;
    assert_int_equal(s_http("POST", "/servers", API_ALICE, "{\"server\":", &doc), 400);
    assert_non_null(json_object_get(doc, "badRequest"));
    json_decref(doc);
    assert_int_equal(s_http("POST", "/servers", API_ALICE,
                            "{\"server\":{\"name\":\"x\",\"imageRef\":\"" S_IMG
                            "\",\"flavorRef\":\"nope\"}}",
                            &doc),
                     400);
    assert_non_null(
        strstr(json_string_value(json_object_get(json_object_get(doc, "badRequest"), "message")),
               "Flavor nope could not be found"));
    json_decref(doc);
    assert_int_equal(s_create(API_ALICE, "x", ",\"key_name\":\"nokey\"", id), 400);
    assert_int_equal(s_http("POST", "/servers", API_ALICE,
                            "{\"server\":{\"name\":\"x\",\"imageRef\":\"" S_IMG
                            "\",\"flavorRef\":\"8\",\"min_count\":3}}",
                            &doc),
                     403);
    assert_non_null(
        strstr(json_string_value(json_object_get(json_object_get(doc, "forbidden"), "message")),
               "Quota exceeded for cores"));
    json_decref(doc);
    assert_int_equal(
        s_http("GET", "/servers/00000000-0000-4000-8000-000000000000", API_ALICE, NULL, &doc), 404);
    assert_non_null(json_object_get(doc, "itemNotFound"));
    json_decref(doc);
}

static void
test_api_servers_isolation(void **state)
{
    (void)state;
    char id[37];
    assert_int_equal(s_create(API_ALICE, "vm-private", NULL, id), 202);
    char path[200];
    (void)snprintf(path, sizeof(path), "/servers/%s", id);
    json_t *doc = NULL;
    assert_int_equal(s_http("GET", path, API_BOB, NULL, &doc), 404);
    json_decref(doc);
    assert_int_equal(s_http("DELETE", path, API_BOB, NULL, &doc), 404);
    json_decref(doc);
    assert_int_equal(s_http("GET", "/servers?name=vm-private", API_BOB, NULL, &doc), 200);
    assert_int_equal(json_array_size(json_object_get(doc, "servers")), 0);
    json_decref(doc);
    assert_int_equal(
        s_http("GET", "/servers/detail?all_tenants=1&name=vm-private", API_ADMIN, NULL, &doc), 200);
    assert_int_equal(json_array_size(json_object_get(doc, "servers")), 1);
    json_decref(doc);
}

static void
test_api_servers_list(void **state)
{
    (void)state;
    char id[37];
    assert_int_equal(s_create(API_BOB, "web", ",\"min_count\":3", id), 202);
    json_t *doc = NULL;
    assert_int_equal(s_http("GET", "/servers?name=^web-[0-9]$", API_BOB, NULL, &doc), 200);
    assert_int_equal(json_array_size(json_object_get(doc, "servers")), 3);
    json_decref(doc);
    assert_int_equal(s_http("GET", "/servers/detail?limit=2", API_BOB, NULL, &doc), 200);
    json_t *servers = json_object_get(doc, "servers");
    assert_int_equal(json_array_size(servers), 2);
    const char *next = json_string_value(
        json_object_get(json_array_get(json_object_get(doc, "servers_links"), 0), "href"));
    assert_non_null(strstr(next, "marker="));
    char path[160];
    (void)snprintf(path, sizeof(path), "/servers?limit=2&marker=%s",
                   json_string_value(json_object_get(json_array_get(servers, 1), "id")));
    json_decref(doc);
    assert_int_equal(s_http("GET", path, API_BOB, NULL, &doc), 200);
    assert_int_equal(json_array_size(json_object_get(doc, "servers")), 1);
    json_decref(doc);
    assert_int_equal(s_http("GET", "/servers?status=ACTIVE", API_BOB, NULL, &doc), 200);
    assert_int_equal(json_array_size(json_object_get(doc, "servers")), 0);
    json_decref(doc);
    assert_int_equal(s_http("GET", "/servers?marker=nope", API_BOB, NULL, &doc), 400);
    json_decref(doc);
    assert_int_equal(
        s_http("GET", "/servers?changes-since=2000-01-01T00:00:00Z", API_BOB, NULL, &doc), 200);
    assert_int_equal(json_array_size(json_object_get(doc, "servers")), 3);
    json_decref(doc);
    assert_int_equal(
        s_http("GET", "/servers?changes-since=2999-01-01T00:00:00.000000", API_BOB, NULL, &doc),
        200);
    assert_int_equal(json_array_size(json_object_get(doc, "servers")), 0);
    json_decref(doc);
    assert_int_equal(s_http("GET", "/servers?changes-since=yesterday", API_BOB, NULL, &doc), 400);
    json_decref(doc);
    assert_int_equal(s_http("GET", "/servers?ip=^10\\.", API_BOB, NULL, &doc), 200);
    assert_int_equal(json_array_size(json_object_get(doc, "servers")), 0); /* no address yet */
    json_decref(doc);
}

static void
test_api_servers_update(void **state)
{
    (void)state;
    char id[37];
    assert_int_equal(s_create(API_ALICE, "before", NULL, id), 202);
    char path[200];
    (void)snprintf(path, sizeof(path), "/servers/%s", id);
    json_t *doc = NULL;
    assert_int_equal(s_http("PUT", path, API_ALICE, "{\"server\":{\"name\":\"after\"}}", &doc),
                     200);
    assert_string_equal(json_string_value(json_object_get(json_object_get(doc, "server"), "name")),
                        "after");
    json_decref(doc);
    assert_int_equal(s_http("PUT", path, API_ALICE, "{\"server\":{\"bogus\":1}}", &doc), 400);
    json_decref(doc);
    (void)snprintf(path, sizeof(path), "/servers/%s/metadata", id);
    assert_int_equal(s_http("POST", path, API_ALICE, "{\"metadata\":{\"a\":\"1\"}}", &doc), 200);
    json_decref(doc);
    assert_int_equal(s_http("POST", path, API_ALICE, "{\"metadata\":{\"b\":\"2\"}}", &doc), 200);
    assert_int_equal(json_object_size(json_object_get(doc, "metadata")), 2);
    json_decref(doc);
    assert_int_equal(s_http("PUT", path, API_ALICE, "{\"metadata\":{\"c\":\"3\"}}", &doc), 200);
    json_decref(doc);
    assert_int_equal(s_http("GET", path, API_ALICE, NULL, &doc), 200);
    json_t *md = json_object_get(doc, "metadata");
    assert_int_equal(json_object_size(md), 1);
    assert_string_equal(json_string_value(json_object_get(md, "c")), "3");
    json_decref(doc);
}

static void
test_api_servers_delete(void **state)
{
    (void)state;
    char id[37];
    assert_int_equal(s_create(API_ALICE, "doomed", NULL, id), 202);
    char path[200];
    (void)snprintf(path, sizeof(path), "/servers/%s", id);
    assert_int_equal(s_http("DELETE", path, API_ALICE, NULL, NULL), 204);
    assert_true(api_fixture_wait_server(s_fix, path, API_ALICE, 404, NULL, NULL, 5000));
    json_t *doc = NULL;
    assert_int_equal(s_http("DELETE", path, API_ALICE, NULL, &doc), 404);
    json_decref(doc);
}

/* Twelve creates at once for a project with room for fewer: the quota usage is conditioned
 * on its generation, so exactly as many commit as fit. */
static void
test_api_servers_quota_race(void **state)
{
    (void)state;
    json_t *doc = NULL;
    assert_int_equal(s_http("GET", "/limits", API_ADMIN, NULL, &doc) >= 200, 1);
    json_decref(doc);
    int statuses[12];
    const char *body =
        "{\"server\":{\"name\":\"race\",\"imageRef\":\"" S_IMG "\",\"flavorRef\":\"1\"}}";
    api_fixture_http_burst(s_fix, "POST", "/servers", API_ADMIN, body, 12, statuses);
    int accepted = 0;
    for (int i = 0; i < 12; i++) {
        assert_true(statuses[i] == 202 || statuses[i] == 403);
        accepted += statuses[i] == 202;
    }
    assert_int_equal(accepted, 10); /* the default quota: 10 instances */
    assert_int_equal(s_http("GET", "/servers?name=race", API_ADMIN, NULL, &doc), 200);
    assert_int_equal(json_array_size(json_object_get(doc, "servers")), 10);
    json_decref(doc);
}

/* Write an ACTIVE instance ID of alice's project on host "ghost", whose compute agent's cast
 * endpoint nobody listens on. */
static void
s_seed_ghost(const char *id)
{
    zn_sclient_t *sc = NULL;
    zn_fault_t fault;
    zn_sclient_opts_t opts = {.data_dir = api_fixture_store_dir(s_fix),
                              .conductor_call = api_fixture_conductor_call(s_fix)};
    assert_int_equal(zn_sclient_open(&sc, &opts, &fault), 0);
    char project[80];
    (void)snprintf(project, sizeof(project), "%s", api_fixture_project(s_fix, API_ALICE));
    char name[] = "ghostly";
    char active[] = "active";
    char ghost[] = "ghost";
    char flavor_id[] = "1";
    char endpoint[] = "tcp://127.0.0.1:9";
    char id_copy[40];
    (void)snprintf(id_copy, sizeof(id_copy), "%s", id);
    zn_cell_instance_t inst = {.id = id_copy,
                               .name = name,
                               .project_id = project,
                               .host = ghost,
                               .node = ghost,
                               .vm_state = active,
                               .power_state = 1,
                               .flavor = {.id = flavor_id, .vcpus = 1, .ram_mb = 512}};
    zn_cell_host_t host = {.host = ghost,
                           .vcpus = 4,
                           .ram_mb = 4096,
                           .cast_endpoint = endpoint,
                           .call_endpoint = endpoint};
    zn_batch_t *batch = zn_batch_new();
    assert_int_equal(zn_sclient_put(batch, ZN_TABLE_INSTANCES, id, &zn_cell_instance_schema, &inst,
                                    ZN_BATCH_GEN_ANY),
                     0);
    assert_int_equal(
        zn_sclient_put(batch, ZN_TABLE_HOSTS, ghost, &zn_cell_host_schema, &host, ZN_BATCH_GEN_ANY),
        0);
    assert_int_equal(zn_sclient_write_sync(sc, NULL, batch, 5000, &fault), 0);
    zn_batch_destroy(&batch);
    zn_sclient_destroy(&sc);
}

/* A host whose compute agent is gone: a stop is recorded, its cast finds no taker, and the
 * task ends at once with an Error event; a delete falls back to the conductor. */
static void
test_api_servers_dead_host(void **state)
{
    (void)state;
    const char *id = "5d0c0c1e-2b7a-4f43-9c1e-6f1a7f0a0d01";
    s_seed_ghost(id);
    char path[200];
    (void)snprintf(path, sizeof(path), "/servers/%s/action", id);
    json_t *doc = NULL;
    assert_int_equal(s_http("POST", path, API_ALICE, "{\"os-stop\":null}", &doc), 202);
    json_decref(doc);
    (void)snprintf(path, sizeof(path), "/servers/%s", id);
    /* The revert is a second write after the 202: poll for it. */
    bool idle = false;
    for (int i = 0; i < 250 && !idle; i++) {
        assert_int_equal(s_http("GET", path, API_ALICE, NULL, &doc), 200);
        json_t *server = json_object_get(doc, "server");
        idle = json_is_null(json_object_get(server, "OS-EXT-STS:task_state"));
        bool active = strcmp(json_string_value(json_object_get(server, "status")), "ACTIVE") == 0;
        json_decref(doc);
        assert_true(active);
        if (!idle) {
            zclock_sleep(20);
        }
    }
    assert_true(idle);
    (void)snprintf(path, sizeof(path), "/servers/%s/os-instance-actions", id);
    assert_int_equal(s_http("GET", path, API_ALICE, NULL, &doc), 200);
    json_t *stop = json_array_get(json_object_get(doc, "instanceActions"), 0);
    assert_string_equal(json_string_value(json_object_get(stop, "action")), "stop");
    assert_non_null(strstr(json_string_value(json_object_get(stop, "message")), "ghost"));
    json_decref(doc);
    (void)snprintf(path, sizeof(path), "/servers/%s", id);
    assert_int_equal(s_http("DELETE", path, API_ALICE, NULL, NULL), 204);
    assert_true(api_fixture_wait_server(s_fix, path, API_ALICE, 404, NULL, NULL, 5000));
}

static int64_t
s_instances_used(int who)
{
    json_t *doc = NULL;
    assert_int_equal(s_http("GET", "/limits", who, NULL, &doc), 200);
    int64_t n = json_integer_value(json_object_get(
        json_object_get(json_object_get(doc, "limits"), "absolute"), "totalInstancesUsed"));
    json_decref(doc);
    return n;
}

/* The answer to a committed create is lost (outcome unknown): the api writes again, finds its
 * instance already there, and answers 202 once, with one instance and one quota unit used. */
static void
test_api_servers_lost_ack(void **state)
{
    (void)state;
    int64_t before = s_instances_used(API_BOB);
    zn_failpoint_set("api.create.ack", ZN_EUNKNOWN, 1);
    char id[37];
    assert_int_equal(s_create(API_BOB, "lost-ack", NULL, id), 202);
    assert_int_equal(zn_failpoint_fired("api.create.ack"), 1);
    zn_failpoint_clear_all();
    json_t *doc = NULL;
    assert_int_equal(s_http("GET", "/servers?name=^lost-ack$", API_BOB, NULL, &doc), 200);
    json_t *servers = json_object_get(doc, "servers");
    assert_int_equal(json_array_size(servers), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(servers, 0), "id")), id);
    json_decref(doc);
    assert_int_equal(s_instances_used(API_BOB), before + 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api_servers_example),   cmocka_unit_test(test_api_servers_shape),
        cmocka_unit_test(test_api_servers_refused),   cmocka_unit_test(test_api_servers_isolation),
        cmocka_unit_test(test_api_servers_list),      cmocka_unit_test(test_api_servers_update),
        cmocka_unit_test(test_api_servers_delete),    cmocka_unit_test(test_api_servers_quota_race),
        cmocka_unit_test(test_api_servers_dead_host), cmocka_unit_test(test_api_servers_lost_ack),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
