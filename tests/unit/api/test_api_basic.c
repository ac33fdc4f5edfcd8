/* SPDX-License-Identifier: Apache-2.0 */
/* test_api_basic.c - zinc-api's version documents, microversion negotiation, flavors, extra
 * specs and key pairs, through HTTP against a real identity and conductor. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "api_fixture.h"

static api_fixture_t *s_fix;

static int
s_setup(void **state)
{
    (void)state;
    s_fix = api_fixture_start(NULL);
    return 0;
}

static int
s_teardown(void **state)
{
    (void)state;
    api_fixture_stop(&s_fix);
    return 0;
}

static int
s_http(const char *method, const char *path, int who, const char *body, json_t **out)
{
    return api_fixture_http(s_fix, method, path, who, body, NULL, out, NULL, 0);
}

/* A Nova error body {"NAME": {"code": STATUS, "message": "..."}}. */
static void
s_assert_fault(json_t *doc, const char *name, int status)
{
    json_t *fault = json_object_get(doc, name);
    assert_non_null(fault);
    assert_int_equal(json_integer_value(json_object_get(fault, "code")), status);
    assert_non_null(json_string_value(json_object_get(fault, "message")));
    json_decref(doc);
}

static void
test_api_example(void **state)
{
    (void)state;
    json_t *doc = NULL;
    assert_int_equal(s_http("POST", "/flavors", API_ADMIN,
                            "{\"flavor\":{\"name\":\"m1.example\",\"ram\":512,\"vcpus\":1,"
                            "\"disk\":1,\"id\":\"ex1\"}}",
                            &doc),
                     200);
    json_decref(doc);
    assert_int_equal(s_http("GET", "/flavors/ex1", API_ALICE, NULL, &doc), 200);
    assert_string_equal(json_string_value(json_object_get(json_object_get(doc, "flavor"), "name")),
                        "m1.example");
    json_decref(doc);
}

static void
test_api_versions(void **state)
{
    (void)state;
    json_t *doc = NULL;
    assert_int_equal(s_http("GET", "!/", -1, NULL, &doc), 200);
    json_t *list = json_object_get(doc, "versions");
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "id")), "v2.0");
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 1), "id")), "v2.1");
    json_decref(doc);
    assert_int_equal(s_http("GET", "!/compute/v2.1", -1, NULL, &doc), 200);
    json_t *v = json_object_get(doc, "version");
    assert_string_equal(json_string_value(json_object_get(v, "version")), "2.1");
    assert_string_equal(json_string_value(json_object_get(v, "min_version")), "2.1");
    const char *href =
        json_string_value(json_object_get(json_array_get(json_object_get(v, "links"), 0), "href"));
    assert_non_null(strstr(href, "/compute/v2.1/"));
    json_decref(doc);
    assert_int_equal(s_http("GET", "!/v2", API_ADMIN, NULL, &doc), 200);
    json_decref(doc);
}

static void
test_api_microversions(void **state)
{
    (void)state;
    char headers[4096];
    json_t *doc = NULL;
    int status =
        api_fixture_http(s_fix, "GET", "/flavors", API_ALICE, NULL,
                         "X-OpenStack-Nova-API-Version: 2.1\r\n", &doc, headers, sizeof(headers));
    assert_int_equal(status, 200);
    json_decref(doc);
    assert_non_null(strcasestr(headers, "OpenStack-API-Version: compute 2.1"));
    assert_non_null(strcasestr(headers, "X-Openstack-Request-Id: req-"));
    status = api_fixture_http(s_fix, "GET", "/flavors", API_ALICE, NULL,
                              "OpenStack-API-Version: compute 2.95\r\n", &doc, NULL, 0);
    assert_int_equal(status, 406);
    s_assert_fault(doc, "notAcceptable", 406);
    status = api_fixture_http(s_fix, "GET", "/flavors", API_ALICE, NULL,
                              "X-OpenStack-Nova-API-Version: two\r\n", &doc, NULL, 0);
    assert_int_equal(status, 400);
    s_assert_fault(doc, "badRequest", 400);
    status = api_fixture_http(s_fix, "GET", "/flavors", API_ALICE, NULL,
                              "OpenStack-API-Version: compute latest\r\n", &doc, NULL, 0);
    assert_int_equal(status, 200);
    json_decref(doc);
}

static void
test_api_auth(void **state)
{
    (void)state;
    json_t *doc = NULL;
    assert_int_equal(s_http("GET", "/flavors", -1, NULL, &doc), 401);
    json_decref(doc);
    assert_int_equal(s_http("GET", "/nothing-here", API_ALICE, NULL, &doc), 404);
    s_assert_fault(doc, "itemNotFound", 404);
    assert_int_equal(s_http("POST", "/flavors", API_ALICE,
                            "{\"flavor\":{\"name\":\"x\",\"ram\":1,\"vcpus\":1,\"disk\":0}}", &doc),
                     403);
    s_assert_fault(doc, "forbidden", 403);
    assert_int_equal(s_http("POST", "/flavors", API_ADMIN, "{\"flavor\": {", &doc), 400);
    s_assert_fault(doc, "badRequest", 400);
}

static void
test_api_flavors(void **state)
{
    (void)state;
    json_t *doc = NULL;
    const char *body = "{\"flavor\":{\"name\":\"m1.tiny\",\"ram\":256,\"vcpus\":1,\"disk\":1,"
                       "\"id\":\"42\",\"swap\":0,\"OS-FLV-EXT-DATA:ephemeral\":0,"
                       "\"rxtx_factor\":1.0,\"os-flavor-access:is_public\":true}}";
    assert_int_equal(s_http("POST", "/flavors", API_ADMIN, body, &doc), 200);
    json_t *f = json_object_get(doc, "flavor");
    assert_string_equal(json_string_value(json_object_get(f, "id")), "42");
    assert_int_equal(json_integer_value(json_object_get(f, "ram")), 256);
    assert_string_equal(json_string_value(json_object_get(f, "swap")), "");
    assert_null(json_object_get(f, "extra_specs")); /* 2.1 shape */
    json_decref(doc);
    assert_int_equal(s_http("POST", "/flavors", API_ADMIN, body, &doc), 409);
    s_assert_fault(doc, "conflictingRequest", 409);
    assert_int_equal(s_http("POST", "/flavors", API_ADMIN,
                            "{\"flavor\":{\"name\":\"m1.auto\",\"ram\":512,\"vcpus\":2,"
                            "\"disk\":1,\"id\":null}}",
                            &doc),
                     200);
    json_decref(doc);
    assert_int_equal(s_http("POST", "/flavors", API_ADMIN,
                            "{\"flavor\":{\"name\":\"bad\",\"ram\":0,\"vcpus\":1,\"disk\":1}}",
                            &doc),
                     400);
    s_assert_fault(doc, "badRequest", 400);
    assert_int_equal(s_http("GET", "/flavors/detail?is_public=True", API_ALICE, NULL, &doc), 200);
    assert_true(json_array_size(json_object_get(doc, "flavors")) >= 2);
    json_decref(doc);
    assert_int_equal(s_http("GET", "/flavors?limit=1", API_ALICE, NULL, &doc), 200);
    assert_int_equal(json_array_size(json_object_get(doc, "flavors")), 1);
    json_decref(doc);
    assert_int_equal(s_http("GET", "/flavors?marker=nope", API_ALICE, NULL, &doc), 400);
    json_decref(doc);
    assert_int_equal(s_http("GET", "/flavors/m1.tiny", API_ALICE, NULL, &doc), 404);
    s_assert_fault(doc, "itemNotFound", 404);
    assert_int_equal(s_http("DELETE", "/flavors/42", API_ALICE, NULL, &doc), 403);
    json_decref(doc);
    assert_int_equal(s_http("DELETE", "/flavors/42", API_ADMIN, NULL, NULL), 202);
    assert_int_equal(s_http("GET", "/flavors/42", API_ALICE, NULL, &doc), 404);
    json_decref(doc);
}

static void
test_api_extra_specs(void **state)
{
    (void)state;
    json_t *doc = NULL;
    assert_int_equal(s_http("POST", "/flavors", API_ADMIN,
                            "{\"flavor\":{\"name\":\"m1.spec\",\"ram\":64,\"vcpus\":1,"
                            "\"disk\":0,\"id\":\"spec\"}}",
                            &doc),
                     200);
    json_decref(doc);
    assert_int_equal(s_http("GET", "/flavors/spec/os-extra_specs", API_ALICE, NULL, &doc), 200);
    assert_int_equal(json_object_size(json_object_get(doc, "extra_specs")), 0);
    json_decref(doc);
    assert_int_equal(s_http("POST", "/flavors/spec/os-extra_specs", API_ADMIN,
                            "{\"extra_specs\":{\"hw:cpu_policy\":\"shared\",\"a\":\"1\"}}", &doc),
                     200);
    json_decref(doc);
    assert_int_equal(s_http("GET", "/flavors/spec/os-extra_specs/a", API_ALICE, NULL, &doc), 200);
    assert_string_equal(json_string_value(json_object_get(doc, "a")), "1");
    json_decref(doc);
    assert_int_equal(
        s_http("PUT", "/flavors/spec/os-extra_specs/a", API_ADMIN, "{\"a\":\"2\"}", &doc), 200);
    json_decref(doc);
    assert_int_equal(
        s_http("DELETE", "/flavors/spec/os-extra_specs/hw:cpu_policy", API_ADMIN, NULL, NULL), 202);
    assert_int_equal(s_http("GET", "/flavors/spec/os-extra_specs", API_ALICE, NULL, &doc), 200);
    json_t *specs = json_object_get(doc, "extra_specs");
    assert_int_equal(json_object_size(specs), 1);
    assert_string_equal(json_string_value(json_object_get(specs, "a")), "2");
    json_decref(doc);
    assert_int_equal(s_http("GET", "/flavors/spec/os-extra_specs/zzz", API_ALICE, NULL, &doc), 404);
    json_decref(doc);
}

static void
test_api_keypairs(void **state)
{
    (void)state;
    json_t *doc = NULL;
    assert_int_equal(
        s_http("POST", "/os-keypairs", API_ALICE, "{\"keypair\":{\"name\":\"kp1\"}}", &doc), 200);
    json_t *kp = json_object_get(doc, "keypair");
    assert_non_null(strstr(json_string_value(json_object_get(kp, "private_key")),
                           "-----BEGIN OPENSSH PRIVATE KEY-----\n"));
    char public_key[512];
    (void)snprintf(public_key, sizeof(public_key), "%s",
                   json_string_value(json_object_get(kp, "public_key")));
    assert_int_equal(strncmp(public_key, "ssh-ed25519 AAAA", 16), 0);
    assert_int_equal(strncmp(json_string_value(json_object_get(kp, "fingerprint")), "SHA256:", 7),
                     0);
    json_decref(doc);
    char body[1024];
    (void)snprintf(body, sizeof(body), "{\"keypair\":{\"name\":\"kp2\",\"public_key\":\"%s\"}}",
                   public_key);
    assert_int_equal(s_http("POST", "/os-keypairs", API_ALICE, body, &doc), 200);
    assert_null(json_object_get(json_object_get(doc, "keypair"), "private_key"));
    json_decref(doc);
    assert_int_equal(
        s_http("POST", "/os-keypairs", API_ALICE, "{\"keypair\":{\"name\":\"kp1\"}}", &doc), 409);
    s_assert_fault(doc, "conflictingRequest", 409);
    assert_int_equal(s_http("POST", "/os-keypairs", API_ALICE,
                            "{\"keypair\":{\"name\":\"kp3\",\"public_key\":\"ssh-rsa !!\"}}", &doc),
                     400);
    s_assert_fault(doc, "badRequest", 400);
    assert_int_equal(
        s_http("POST", "/os-keypairs", API_ALICE, "{\"keypair\":{\"name\":\"a*b\"}}", &doc), 400);
    json_decref(doc);
    assert_int_equal(s_http("GET", "/os-keypairs", API_ALICE, NULL, &doc), 200);
    json_t *list = json_object_get(doc, "keypairs");
    assert_int_equal(json_array_size(list), 2);
    assert_non_null(json_object_get(json_object_get(json_array_get(list, 0), "keypair"), "name"));
    json_decref(doc);
    assert_int_equal(s_http("GET", "/os-keypairs", API_BOB, NULL, &doc), 200);
    assert_int_equal(json_array_size(json_object_get(doc, "keypairs")), 0);
    json_decref(doc);
    assert_int_equal(s_http("GET", "/os-keypairs/kp1", API_BOB, NULL, &doc), 404);
    json_decref(doc);
    assert_int_equal(s_http("GET", "/os-keypairs/kp1", API_ALICE, NULL, &doc), 200);
    assert_int_equal(json_is_false(json_object_get(json_object_get(doc, "keypair"), "deleted")), 1);
    json_decref(doc);
    assert_int_equal(s_http("DELETE", "/os-keypairs/kp1", API_ALICE, NULL, NULL), 202);
    assert_int_equal(s_http("GET", "/os-keypairs/kp1", API_ALICE, NULL, &doc), 404);
    s_assert_fault(doc, "itemNotFound", 404);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api_example),       cmocka_unit_test(test_api_versions),
        cmocka_unit_test(test_api_microversions), cmocka_unit_test(test_api_auth),
        cmocka_unit_test(test_api_flavors),       cmocka_unit_test(test_api_extra_specs),
        cmocka_unit_test(test_api_keypairs),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
