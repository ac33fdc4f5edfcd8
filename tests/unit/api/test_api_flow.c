/* SPDX-License-Identifier: Apache-2.0 */
/* test_api_flow.c - the whole control path in-process: api, identity, conductor, scheduler and
 * two compute agents on libvirt's test driver. A server goes to ACTIVE, stops, starts, reboots,
 * shows its console and its actions, is deleted with its claim given back; a flavor no host
 * fits ends in ERROR with the scheduler's words; services, hypervisors, zones and quotas. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <czmq.h>

#include "cell_fixture.h"

#define S_IMG "155d900f-4e14-4e4c-a73d-069cbf4541e6"

static cell_fixture_t *s_cell;
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
    s_cell = cell_fixture_start(2, 4, 4096);
    s_fix = cell_fixture_api(s_cell);
    json_t *doc = NULL;
    assert_int_equal(s_http("POST", "/flavors", API_ADMIN,
                            "{\"flavor\":{\"name\":\"small\",\"ram\":256,\"vcpus\":1,\"disk\":1,"
                            "\"id\":\"1\"}}",
                            &doc),
                     200);
    json_decref(doc);
    assert_int_equal(s_http("POST", "/flavors", API_ADMIN,
                            "{\"flavor\":{\"name\":\"giant\",\"ram\":40000,\"vcpus\":1,"
                            "\"disk\":1,\"id\":\"16\"}}",
                            &doc),
                     200);
    json_decref(doc);
    return 0;
}

static int
s_teardown(void **state)
{
    (void)state;
    cell_fixture_stop(&s_cell);
    return 0;
}

static void
s_create(int who, const char *name, const char *flavor, char *id)
{
    char body[512];
    (void)snprintf(body, sizeof(body),
                   "{\"server\":{\"name\":\"%s\",\"imageRef\":\"" S_IMG
                   "\",\"flavorRef\":\"%s\",\"networks\":\"none\"}}",
                   name, flavor);
    json_t *doc = NULL;
    assert_int_equal(s_http("POST", "/servers", who, body, &doc), 202);
    (void)snprintf(id, 37, "%s",
                   json_string_value(json_object_get(json_object_get(doc, "server"), "id")));
    json_decref(doc);
}

static bool
s_wait_status(const char *id, const char *status)
{
    char path[200];
    (void)snprintf(path, sizeof(path), "/servers/%s", id);
    return api_fixture_wait_server(s_fix, path, API_ADMIN, 200, "status", status, 10000);
}

static int
s_action(const char *id, const char *body)
{
    char path[200];
    (void)snprintf(path, sizeof(path), "/servers/%s/action", id);
    json_t *doc = NULL;
    int status = s_http("POST", path, API_ALICE, body, &doc);
    json_decref(doc);
    return status;
}

static void
test_api_flow_example(void **state)
{
    (void)state;
    char id[37];
    s_create(API_ALICE, "vm1", "1", id);
    assert_true(s_wait_status(id, "ACTIVE"));
    char path[200];
    (void)snprintf(path, sizeof(path), "/servers/%s", id);
    json_t *doc = NULL;
    assert_int_equal(s_http("GET", path, API_ADMIN, NULL, &doc), 200);
    json_t *server = json_object_get(doc, "server");
    const char *host = json_string_value(json_object_get(server, "OS-EXT-SRV-ATTR:host"));
    assert_true(strcmp(host, "node1") == 0 || strcmp(host, "node2") == 0);
    assert_int_equal(json_integer_value(json_object_get(server, "OS-EXT-STS:power_state")), 1);
    assert_true(json_is_string(json_object_get(server, "OS-SRV-USG:launched_at")));
    json_decref(doc);
}

static void
test_api_flow_lifecycle(void **state)
{
    (void)state;
    char id[37];
    s_create(API_ALICE, "vm-life", "1", id);
    assert_true(s_wait_status(id, "ACTIVE"));
    assert_int_equal(s_action(id, "{\"os-stop\":null}"), 202);
    assert_true(s_wait_status(id, "SHUTOFF"));
    assert_int_equal(s_action(id, "{\"os-stop\":null}"), 409);
    assert_int_equal(s_action(id, "{\"os-start\":null}"), 202);
    assert_true(s_wait_status(id, "ACTIVE"));
    assert_int_equal(s_action(id, "{\"reboot\":{\"type\":\"SOFT\"}}"), 202);
    assert_true(s_wait_status(id, "ACTIVE"));
    assert_int_equal(s_action(id, "{\"reboot\":{\"type\":\"HARD\"}}"), 202);
    assert_true(s_wait_status(id, "ACTIVE"));
    assert_int_equal(s_action(id, "{\"reboot\":{\"type\":\"SIDEWAYS\"}}"), 400);
    assert_int_equal(s_action(id, "{\"os-migrate\":null}"), 400);
    char path[200];
    (void)snprintf(path, sizeof(path), "/servers/%s/os-instance-actions", id);
    json_t *doc = NULL;
    assert_int_equal(s_http("GET", path, API_ALICE, NULL, &doc), 200);
    json_t *actions = json_object_get(doc, "instanceActions");
    assert_int_equal(json_array_size(actions), 5);
    assert_string_equal(json_string_value(json_object_get(json_array_get(actions, 4), "action")),
                        "create");
    assert_string_equal(json_string_value(json_object_get(json_array_get(actions, 3), "action")),
                        "stop");
    char request_id[64];
    (void)snprintf(request_id, sizeof(request_id), "%s",
                   json_string_value(json_object_get(json_array_get(actions, 3), "request_id")));
    json_decref(doc);
    char action_path[200];
    (void)snprintf(action_path, sizeof(action_path), "/servers/%s/os-instance-actions/%s", id,
                   request_id);
    assert_true(api_fixture_wait_server(s_fix, action_path, API_ALICE, 200, NULL, NULL, 1000));
    assert_int_equal(s_http("GET", action_path, API_ALICE, NULL, &doc), 200);
    json_t *events = json_object_get(json_object_get(doc, "instanceAction"), "events");
    assert_string_equal(json_string_value(json_object_get(json_array_get(events, 0), "result")),
                        "Success");
    json_decref(doc);
}

static void
test_api_flow_console(void **state)
{
    (void)state;
    char id[37];
    s_create(API_ALICE, "vm-console", "1", id);
    assert_true(s_wait_status(id, "ACTIVE"));
    char path[200];
    (void)snprintf(path, sizeof(path), "/servers/%s/action", id);
    json_t *doc = NULL;
    assert_int_equal(
        s_http("POST", path, API_ALICE, "{\"os-getConsoleOutput\":{\"length\":5}}", &doc), 200);
    assert_true(json_is_string(json_object_get(doc, "output")));
    json_decref(doc);
}

static void
test_api_flow_no_valid_host(void **state)
{
    (void)state;
    char id[37];
    s_create(API_ALICE, "vm-giant", "16", id);
    assert_true(s_wait_status(id, "ERROR"));
    char path[200];
    (void)snprintf(path, sizeof(path), "/servers/%s", id);
    json_t *doc = NULL;
    assert_int_equal(s_http("GET", path, API_ALICE, NULL, &doc), 200);
    const char *message = json_string_value(
        json_object_get(json_object_get(json_object_get(doc, "server"), "fault"), "message"));
    assert_non_null(message);
    assert_non_null(strstr(message, "No valid host was found"));
    json_decref(doc);
    assert_int_equal(s_http("DELETE", path, API_ALICE, NULL, NULL), 204);
    assert_true(api_fixture_wait_server(s_fix, path, API_ALICE, 404, NULL, NULL, 10000));
}

static int64_t
s_running_vms(void)
{
    json_t *doc = NULL;
    assert_int_equal(s_http("GET", "/os-hypervisors/statistics", API_ADMIN, NULL, &doc), 200);
    int64_t n = json_integer_value(
        json_object_get(json_object_get(doc, "hypervisor_statistics"), "running_vms"));
    json_decref(doc);
    return n;
}

static void
test_api_flow_zones(void **state)
{
    (void)state;
    json_t *doc = NULL;
    assert_int_equal(s_http("POST", "/servers", API_ALICE,
                            "{\"server\":{\"name\":\"z\",\"imageRef\":\"" S_IMG
                            "\",\"flavorRef\":\"1\",\"networks\":\"none\","
                            "\"availability_zone\":\"mars\"}}",
                            &doc),
                     400);
    json_decref(doc);
    char body[512];
    (void)snprintf(body, sizeof(body),
                   "{\"server\":{\"name\":\"z\",\"imageRef\":\"" S_IMG
                   "\",\"flavorRef\":\"1\",\"networks\":\"none\",\"availability_zone\":"
                   "\"nova\"}}");
    assert_int_equal(s_http("POST", "/servers", API_ALICE, body, &doc), 202);
    char id[40];
    (void)snprintf(id, sizeof(id), "%s",
                   json_string_value(json_object_get(json_object_get(doc, "server"), "id")));
    json_decref(doc);
    assert_true(s_wait_status(id, "ACTIVE"));
    char path[200];
    (void)snprintf(path, sizeof(path), "/servers/%s", id);
    assert_int_equal(s_http("DELETE", path, API_ALICE, NULL, NULL), 204);
    assert_true(api_fixture_wait_server(s_fix, path, API_ALICE, 404, NULL, NULL, 10000));
}

static void
test_api_flow_delete(void **state)
{
    (void)state;
    int64_t before = s_running_vms();
    char id[37];
    s_create(API_BOB, "vm-gone", "1", id);
    assert_true(s_wait_status(id, "ACTIVE"));
    assert_int_equal(s_running_vms(), before + 1);
    char path[200];
    (void)snprintf(path, sizeof(path), "/servers/%s", id);
    assert_int_equal(s_http("DELETE", path, API_BOB, NULL, NULL), 204);
    assert_true(api_fixture_wait_server(s_fix, path, API_BOB, 404, NULL, NULL, 10000));
    assert_int_equal(s_running_vms(), before); /* the claim went back */
}

/* Enable or disable HOST's compute service (REASON may be NULL). */
static void
s_service(bool disable, const char *host, const char *reason)
{
    char body[256];
    (void)snprintf(body, sizeof(body), "{\"host\":\"%s\",\"binary\":\"nova-compute\"%s%s%s}", host,
                   reason != NULL ? ",\"disabled_reason\":\"" : "", reason != NULL ? reason : "",
                   reason != NULL ? "\"" : "");
    const char *path = !disable         ? "/os-services/enable"
                       : reason != NULL ? "/os-services/disable-log-reason"
                                        : "/os-services/disable";
    json_t *doc = NULL;
    assert_int_equal(s_http("PUT", path, API_ADMIN, body, &doc), 200);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(doc, "service"), "status")),
        disable ? "disabled" : "enabled");
    json_decref(doc);
}

/* Create admin servers (each deleted again) until one ends in STATUS (ACTIVE or ERROR), up to
 * 10 s; the host of that one ("" for none). */
static const char *
s_place_until(const char *status)
{
    static char host[64];
    host[0] = '\0';
    int64_t deadline = zclock_mono() + 10000;
    bool done = false;
    while (!done && zclock_mono() < deadline) {
        char id[37];
        s_create(API_ADMIN, "vm-placed", "1", id);
        char path[200];
        (void)snprintf(path, sizeof(path), "/servers/%s", id);
        json_t *doc = NULL;
        const char *got = "BUILD";
        while (strcmp(got, "BUILD") == 0 && zclock_mono() < deadline) {
            json_decref(doc);
            assert_int_equal(s_http("GET", path, API_ADMIN, NULL, &doc), 200);
            got = json_string_value(json_object_get(json_object_get(doc, "server"), "status"));
        }
        done = strcmp(got, status) == 0;
        const char *on = json_string_value(
            json_object_get(json_object_get(doc, "server"), "OS-EXT-SRV-ATTR:host"));
        (void)snprintf(host, sizeof(host), "%s", on != NULL ? on : "");
        json_decref(doc);
        assert_int_equal(s_http("DELETE", path, API_ADMIN, NULL, NULL), 204);
        assert_true(api_fixture_wait_server(s_fix, path, API_ADMIN, 404, NULL, NULL, 10000));
    }
    assert_true(done);
    return host;
}

static void
test_api_flow_services(void **state)
{
    (void)state;
    json_t *doc = NULL;
    assert_int_equal(s_http("GET", "/os-services?binary=nova-compute", API_ADMIN, NULL, &doc), 200);
    json_t *services = json_object_get(doc, "services");
    assert_int_equal(json_array_size(services), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(services, 0), "state")),
                        "up");
    json_decref(doc);
    assert_int_equal(s_http("GET", "/os-services", API_ALICE, NULL, &doc), 403);
    json_decref(doc);
    s_service(true, "node1", "maintenance");
    s_service(true, "node2", "maintenance");
    /* The scheduler learns of changes within its refresh interval: once a create ends in No
     * valid host it has seen both hosts disabled. Enabling node2 alone then sends every
     * server there and none to node1. */
    assert_string_equal(s_place_until("ERROR"), "");
    s_service(false, "node2", NULL);
    assert_string_equal(s_place_until("ACTIVE"), "node2");
    s_service(false, "node1", NULL);
    assert_int_equal(s_http("PUT", "/os-services/enable", API_ADMIN,
                            "{\"host\":\"nowhere\",\"binary\":\"nova-compute\"}", &doc),
                     404);
    json_decref(doc);
}

static void
test_api_flow_hypervisors(void **state)
{
    (void)state;
    json_t *doc = NULL;
    assert_int_equal(s_http("GET", "/os-hypervisors/detail", API_ADMIN, NULL, &doc), 200);
    json_t *list = json_object_get(doc, "hypervisors");
    assert_int_equal(json_array_size(list), 2);
    json_t *hv = json_array_get(list, 0);
    assert_int_equal(json_integer_value(json_object_get(hv, "vcpus")), 4);
    assert_true(json_is_integer(json_object_get(hv, "id")));
    char path[200];
    (void)snprintf(path, sizeof(path), "/os-hypervisors/%lld",
                   (long long)json_integer_value(json_object_get(hv, "id")));
    json_decref(doc);
    assert_int_equal(s_http("GET", path, API_ADMIN, NULL, &doc), 200);
    json_decref(doc);
    assert_int_equal(s_http("GET", "/os-hypervisors/12345", API_ADMIN, NULL, &doc), 404);
    json_decref(doc);
    assert_int_equal(s_http("GET", "/os-availability-zone", API_ALICE, NULL, &doc), 200);
    assert_string_equal(
        json_string_value(json_object_get(
            json_array_get(json_object_get(doc, "availabilityZoneInfo"), 0), "zoneName")),
        "nova");
    json_decref(doc);
}

static void
test_api_flow_quotas(void **state)
{
    (void)state;
    char path[200];
    (void)snprintf(path, sizeof(path), "/os-quota-sets/%s", api_fixture_project(s_fix, API_BOB));
    json_t *doc = NULL;
    assert_int_equal(s_http("PUT", path, API_ADMIN, "{\"quota_set\":{\"instances\":0}}", &doc),
                     200);
    json_decref(doc);
    assert_int_equal(s_http("GET", path, API_BOB, NULL, &doc), 200);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(doc, "quota_set"), "instances")), 0);
    json_decref(doc);
    assert_int_equal(s_http("GET", path, API_ALICE, NULL, &doc), 403);
    json_decref(doc);
    assert_int_equal(s_http("POST", "/servers", API_BOB,
                            "{\"server\":{\"name\":\"over\",\"imageRef\":\"" S_IMG
                            "\",\"flavorRef\":\"1\",\"networks\":\"none\"}}",
                            &doc),
                     403);
    assert_non_null(json_object_get(doc, "forbidden"));
    json_decref(doc);
    assert_int_equal(s_http("DELETE", path, API_ADMIN, NULL, NULL), 202);
    assert_int_equal(s_http("GET", "/limits", API_BOB, NULL, &doc), 200);
    assert_int_equal(
        json_integer_value(json_object_get(
            json_object_get(json_object_get(doc, "limits"), "absolute"), "maxTotalInstances")),
        10);
    json_decref(doc);
}

static void
test_api_flow_server_groups(void **state)
{
    (void)state;
    json_t *doc = NULL;
    assert_int_equal(s_http("POST", "/os-server-groups", API_ALICE,
                            "{\"server_group\":{\"name\":\"g\",\"policies\":[\"sideways\"]}}",
                            &doc),
                     400);
    json_decref(doc);
    assert_int_equal(s_http("POST", "/os-server-groups", API_ALICE,
                            "{\"server_group\":{\"name\":\"apart\",\"policies\":"
                            "[\"anti-affinity\"]}}",
                            &doc),
                     200);
    char group[40];
    (void)snprintf(group, sizeof(group), "%s",
                   json_string_value(json_object_get(json_object_get(doc, "server_group"), "id")));
    json_decref(doc);
    char body[512];
    (void)snprintf(body, sizeof(body),
                   "{\"server\":{\"name\":\"apart\",\"imageRef\":\"" S_IMG
                   "\",\"flavorRef\":\"1\",\"networks\":\"none\",\"min_count\":3},"
                   "\"os:scheduler_hints\":{\"group\":\"%s\"}}",
                   group);
    assert_int_equal(s_http("POST", "/servers", API_ALICE, body, &doc), 202);
    json_decref(doc);
    char path[200];
    (void)snprintf(path, sizeof(path), "/os-server-groups/%s", group);
    assert_int_equal(s_http("GET", path, API_BOB, NULL, &doc), 404);
    json_decref(doc);
    assert_int_equal(s_http("GET", path, API_ALICE, NULL, &doc), 200);
    json_t *members = json_object_get(json_object_get(doc, "server_group"), "members");
    assert_int_equal(json_array_size(members), 3);
    char ids[3][40];
    for (size_t i = 0; i < 3; i++) {
        (void)snprintf(ids[i], sizeof(ids[i]), "%s", json_string_value(json_array_get(members, i)));
    }
    json_decref(doc);
    doc = NULL;
    /* Two hosts, three members kept apart: two ACTIVE on different hosts, one ERROR. */
    int active = 0;
    int error = 0;
    char hosts[3][16] = {"", "", ""};
    for (size_t i = 0; i < 3; i++) {
        (void)snprintf(path, sizeof(path), "/servers/%s", ids[i]);
        const char *got = "BUILD";
        int64_t deadline = zclock_mono() + 10000;
        while (strcmp(got, "BUILD") == 0 && zclock_mono() < deadline) {
            json_decref(doc);
            assert_int_equal(s_http("GET", path, API_ADMIN, NULL, &doc), 200);
            got = json_string_value(json_object_get(json_object_get(doc, "server"), "status"));
        }
        active += strcmp(got, "ACTIVE") == 0;
        error += strcmp(got, "ERROR") == 0;
        const char *host = json_string_value(
            json_object_get(json_object_get(doc, "server"), "OS-EXT-SRV-ATTR:host"));
        (void)snprintf(hosts[i], sizeof(hosts[i]), "%s",
                       strcmp(got, "ACTIVE") == 0 && host != NULL ? host : "");
        json_decref(doc);
        doc = NULL;
        assert_int_equal(s_http("DELETE", path, API_ALICE, NULL, NULL), 204);
    }
    assert_int_equal(active, 2);
    assert_int_equal(error, 1);
    for (size_t i = 0; i < 3; i++) {
        for (size_t k = i + 1; k < 3; k++) {
            assert_true(hosts[i][0] == '\0' || strcmp(hosts[i], hosts[k]) != 0);
        }
    }
    /* Deleted servers leave the group. */
    (void)snprintf(path, sizeof(path), "/os-server-groups/%s", group);
    size_t left = 3;
    for (int i = 0; i < 250 && left > 0; i++) {
        assert_int_equal(s_http("GET", path, API_ALICE, NULL, &doc), 200);
        left = json_array_size(json_object_get(json_object_get(doc, "server_group"), "members"));
        json_decref(doc);
        if (left > 0) {
            zclock_sleep(20); /* the leave is written after the 204 */
        }
    }
    assert_int_equal(left, 0);
    assert_int_equal(s_http("DELETE", path, API_ALICE, NULL, NULL), 204);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api_flow_example),
        cmocka_unit_test(test_api_flow_lifecycle),
        cmocka_unit_test(test_api_flow_console),
        cmocka_unit_test(test_api_flow_no_valid_host),
        cmocka_unit_test(test_api_flow_delete),
        cmocka_unit_test(test_api_flow_services),
        cmocka_unit_test(test_api_flow_hypervisors),
        cmocka_unit_test(test_api_flow_quotas),
        cmocka_unit_test(test_api_flow_server_groups),
        cmocka_unit_test(test_api_flow_zones),
    };
    const char *filter = getenv("ZN_TEST_FILTER"); /* run a subset while debugging */
    if (filter != NULL) {
        cmocka_set_test_filter(filter);
    }
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
