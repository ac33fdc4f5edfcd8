/* SPDX-License-Identifier: Apache-2.0 */
/* test_api_body.c - the server-create body parser against Nova's 2.1 schema. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "zn_api_body.h"

#define S_IMG "155d900f-4e14-4e4c-a73d-069cbf4541e6"
#define S_NET "3cb9bc59-5699-4588-a4b1-b87f96708bc6"
#define S_VOL "a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d"

static int
s_parse(const char *text, zn_api_server_req_t *out, zn_fault_t *fault)
{
    json_t *doc = json_loads(text, 0, NULL);
    assert_non_null(doc);
    int rc = zn_api_server_parse(doc, out, fault);
    json_decref(doc);
    return rc;
}

static void
test_api_body_example(void **state)
{
    (void)state;
    zn_api_server_req_t req;
    zn_fault_t fault;
    assert_int_equal(s_parse("{\"server\":{\"name\":\"vm1\",\"imageRef\":\"" S_IMG
                             "\",\"flavorRef\":\"42\",\"min_count\":1,\"max_count\":3,"
                             "\"networks\":[{\"uuid\":\"" S_NET "\"}],\"key_name\":\"kp\","
                             "\"metadata\":{\"a\":\"b\"},\"security_groups\":[{\"name\":"
                             "\"default\"}]}}",
                             &req, &fault),
                     0);
    assert_string_equal(req.name, "vm1");
    assert_string_equal(req.image_ref, S_IMG);
    assert_string_equal(req.flavor_ref, "42");
    assert_int_equal(req.max_count, 3);
    assert_int_equal(req.nic_count, 1);
    assert_string_equal(req.nics[0].network_id, S_NET);
    assert_false(req.nics_auto);
    assert_string_equal(req.key_name, "kp");
    assert_string_equal(req.metadata[0], "a=b");
    zn_api_server_req_release(&req);
    zn_api_server_req_release(&req); /* twice is harmless */
}

static void
test_api_body_networks(void **state)
{
    (void)state;
    zn_api_server_req_t req;
    zn_fault_t fault;
    assert_int_equal(s_parse("{\"server\":{\"name\":\"a\",\"imageRef\":\"" S_IMG
                             "\",\"flavorRef\":1}}",
                             &req, &fault),
                     0);
    assert_true(req.nics_auto); /* 2.1 without networks */
    assert_string_equal(req.flavor_ref, "1");
    zn_api_server_req_release(&req);
    assert_int_equal(s_parse("{\"server\":{\"name\":\"a\",\"imageRef\":\"" S_IMG
                             "\",\"flavorRef\":\"1\",\"networks\":\"none\"}}",
                             &req, &fault),
                     0);
    assert_true(req.nics_none);
    zn_api_server_req_release(&req);
    assert_int_equal(s_parse("{\"server\":{\"name\":\"a\",\"imageRef\":\"" S_IMG
                             "\",\"flavorRef\":\"1\",\"networks\":[{\"uuid\":\"nope\"}]}}",
                             &req, &fault),
                     -EINVAL);
    assert_non_null(strstr(fault.message, "network uuid is not in proper format"));
}

static void
test_api_body_volumes(void **state)
{
    (void)state;
    zn_api_server_req_t req;
    zn_fault_t fault;
    assert_int_equal(s_parse("{\"server\":{\"name\":\"a\",\"flavorRef\":\"1\","
                             "\"block_device_mapping_v2\":[{\"source_type\":\"volume\","
                             "\"destination_type\":\"volume\",\"uuid\":\"" S_VOL
                             "\",\"boot_index\":\"0\"}]}}",
                             &req, &fault),
                     0);
    assert_null(req.image_ref);
    assert_int_equal(req.bdm_count, 1);
    assert_string_equal(req.bdms[0].volume_id, S_VOL);
    assert_int_equal(req.bdms[0].boot_index, 0);
    zn_api_server_req_release(&req);
    assert_int_equal(s_parse("{\"server\":{\"name\":\"a\",\"flavorRef\":\"1\","
                             "\"block_device_mapping_v2\":[{\"source_type\":\"blank\","
                             "\"destination_type\":\"local\",\"uuid\":\"" S_VOL "\"}]}}",
                             &req, &fault),
                     -EINVAL);
}

static void
test_api_body_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "{}",
        "{\"server\":[]}",
        "{\"server\":{\"imageRef\":\"" S_IMG "\",\"flavorRef\":\"1\"}}",
        "{\"server\":{\"name\":\"\",\"imageRef\":\"" S_IMG "\",\"flavorRef\":\"1\"}}",
        "{\"server\":{\"name\":\" x\",\"imageRef\":\"" S_IMG "\",\"flavorRef\":\"1\"}}",
        "{\"server\":{\"name\":\"x\",\"imageRef\":\"abc\",\"flavorRef\":\"1\"}}",
        "{\"server\":{\"name\":\"x\",\"imageRef\":\"" S_IMG "\"}}",
        "{\"server\":{\"name\":\"x\",\"flavorRef\":\"1\"}}",
        "{\"server\":{\"name\":\"x\",\"imageRef\":\"" S_IMG "\",\"flavorRef\":\"1\",\"bogus\":1}}",
        "{\"server\":{\"name\":\"x\",\"imageRef\":\"" S_IMG
        "\",\"flavorRef\":\"1\",\"min_count\":3,\"max_count\":2}}",
        "{\"server\":{\"name\":\"x\",\"imageRef\":\"" S_IMG
        "\",\"flavorRef\":\"1\",\"min_count\":0}}",
        "{\"server\":{\"name\":\"x\",\"imageRef\":\"" S_IMG
        "\",\"flavorRef\":\"1\",\"metadata\":{\"a\":1}}}",
        "{\"server\":{\"name\":\"x\",\"imageRef\":\"" S_IMG
        "\",\"flavorRef\":\"1\",\"user_data\":\"not base64!\"}}",
        "{\"server\":{\"name\":\"x\",\"imageRef\":\"" S_IMG
        "\",\"flavorRef\":\"1\",\"networks\":[{\"fixed_ip\":\"10.0.0.1\"}]}}",
        "{\"server\":{\"name\":\"x\",\"imageRef\":\"" S_IMG
        "\",\"flavorRef\":\"1\",\"networks\":[{\"uuid\":\"" S_NET "\",\"fixed_ip\":\"x\"}]}}",
        "{\"server\":{\"name\":\"x\",\"imageRef\":\"" S_IMG
        "\",\"flavorRef\":\"1\"},\"os:scheduler_hints\":{\"group\":\"g\"}}",
        "{\"server\":{\"name\":\"x\",\"imageRef\":\"" S_IMG
        "\",\"flavorRef\":\"1\",\"security_groups\":[{\"name\":\"web\"}]}}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        zn_api_server_req_t req;
        zn_fault_t fault;
        zn_fault_clear(&fault);
        if (s_parse(bad[i], &req, &fault) != -EINVAL) {
            fail_msg("accepted: %s", bad[i]);
        }
        assert_true(fault.message[0] != '\0');
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api_body_example),
        cmocka_unit_test(test_api_body_networks),
        cmocka_unit_test(test_api_body_volumes),
        cmocka_unit_test(test_api_body_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
