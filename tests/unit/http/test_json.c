/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for zn_json: strict request parsing, lookups and OpenStack error bodies. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "zn_json.h"
#include "zn_mem.h"

static json_t *
s_parse(const char *text, int want)
{
    json_t *root = NULL;
    zn_fault_t fault;
    assert_int_equal(zn_json_parse(text, strlen(text), &root, &fault), want);
    if (want < 0) {
        assert_null(root);
        assert_true(fault.message[0] != '\0');
    }
    return root;
}

static void
test_json_example(void **state)
{
    (void)state;
    json_t *root = s_parse("{\"auth\":{\"identity\":{\"methods\":[\"password\"]}}}", 0);
    assert_true(json_is_array(zn_json_at(root, "auth.identity.methods")));
    assert_null(zn_json_at(root, "auth.scope.project"));
    assert_null(zn_json_str_at(root, "auth.identity"));
    json_decref(root);
    char *body = zn_json_error_body(404, "Could not find project: x.");
    assert_string_equal(body, "{\"error\":{\"code\":404,\"title\":\"Not Found\","
                              "\"message\":\"Could not find project: x.\"}}");
    zn_str_free(&body);
}

static void
test_json_refuses_bad_bodies(void **state)
{
    (void)state;
    s_parse("", -EINVAL);
    s_parse("{\"a\":", -EINVAL);
    s_parse("[1,2]", -EINVAL);
    s_parse("\"text\"", -EINVAL);
    s_parse("{\"a\":1,\"a\":2}", -EINVAL);
    /* Nesting beyond the limit: {"a":{"a":...{}...}}. */
    char deep[8 * (ZN_JSON_DEPTH_MAX + 4)];
    size_t len = 0;
    for (int i = 0; i < ZN_JSON_DEPTH_MAX + 2; i++) {
        memcpy(deep + len, "{\"a\":", 5);
        len += 5;
    }
    deep[len++] = '1';
    memset(deep + len, '}', ZN_JSON_DEPTH_MAX + 2);
    len += ZN_JSON_DEPTH_MAX + 2;
    deep[len] = '\0';
    s_parse(deep, -EINVAL);
}

static void
test_json_error_body_never_echoes_invalid_utf8(void **state)
{
    (void)state;
    char *body = zn_json_error_body(400, "bad \xff\xfe input");
    assert_non_null(strstr(body, "\"code\":400"));
    assert_null(strstr(body, "\xff"));
    zn_str_free(&body);
    assert_string_equal(zn_json_title(429), "Too Many Requests");
    assert_string_equal(zn_json_title(599), "Error");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_example),
        cmocka_unit_test(test_json_refuses_bad_bodies),
        cmocka_unit_test(test_json_error_body_never_echoes_invalid_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
