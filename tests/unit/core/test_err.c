/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for zn_err, zn_log, zn_failpoint and zn_uuid. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "zn_err.h"
#include "zn_failpoint.h"
#include "zn_log.h"
#include "zn_uuid.h"

static void
test_err_example(void **state)
{
    (void)state;
    zn_fault_t fault;
    int rc = zn_fault_set(&fault, -ENOENT, "flavor %s: unknown", "m1.tiny");
    assert_int_equal(rc, -ENOENT);
    assert_string_equal(zn_fault_message(&fault), "flavor m1.tiny: unknown");
    assert_string_equal(zn_errname(-ENOENT), "ENOENT");
    assert_string_equal(zn_strerror(ZN_ECONFLICT),
                        "generation conflict: the record changed underneath");
    assert_int_equal(zn_errcode("ZN_ENOQUORUM"), ZN_ENOQUORUM);
    assert_int_equal(zn_errcode("EIO"), -EIO);
    assert_int_equal(zn_errcode("nonsense"), 0);
    assert_true(ZN_EUSAGE < -4096); /* clear of errno */
}

static void
test_err_fault_truncates(void **state)
{
    (void)state;
    char big[2000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    zn_fault_t fault;
    zn_fault_set(&fault, -EINVAL, "%s", big);
    assert_int_equal(strlen(fault.message), ZN_FAULT_MESSAGE_MAX - 1);
    assert_string_equal(fault.message + ZN_FAULT_MESSAGE_MAX - 4, "...");
    assert_int_equal(zn_fault_set(NULL, -EIO, "no fault"), -EIO);
}

static void
test_log_one_line_with_request_id(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *sink = open_memstream(&buf, &len);
    zn_log_open("tester", ZN_LOG_N);
    zn_log_set_sink(sink);
    zn_log_warn("req-1", "no host fits\nflavor=%s", "m1");
    zn_log_info("req-2", "suppressed at notice");
    zn_log_set_sink(NULL);
    fclose(sink);
    assert_non_null(strstr(buf, " W tester req=req-1 no host fits flavor=m1\n"));
    assert_null(strstr(buf, "suppressed"));
    zn_log_level_t level;
    assert_int_equal(zn_log_level_parse("debug", &level), 0);
    assert_int_equal(level, ZN_LOG_D);
    assert_int_equal(zn_log_level_parse("loud", &level), -EINVAL);
    free(buf);
}

static void
test_failpoint_counts(void **state)
{
    (void)state;
    assert_int_equal(zn_failpoint_check("x.y"), 0);
    zn_failpoint_set("x.y", -EIO, 2);
    assert_int_equal(zn_failpoint_check("x.y"), -EIO);
    assert_int_equal(zn_failpoint_check("x.y"), -EIO);
    assert_int_equal(zn_failpoint_check("x.y"), 0);
    assert_int_equal(zn_failpoint_fired("x.y"), 2);
    zn_failpoint_clear_all();
    assert_int_equal(zn_failpoint_fired("x.y"), 0);
}

static void
test_uuid(void **state)
{
    (void)state;
    zn_uuid_t a = zn_uuid_generate();
    zn_uuid_t b = zn_uuid_generate();
    assert_true(zn_uuid_is_valid(a.str));
    assert_string_not_equal(a.str, b.str);
    assert_int_equal(a.str[14], '4');
    assert_false(zn_uuid_is_valid("not-a-uuid"));
    assert_false(zn_uuid_is_valid("0123456789abcdef0123456789abcdef0123"));
    char req[ZN_REQ_ID_LEN + 1];
    zn_uuid_request_id(req);
    assert_int_equal(strncmp(req, "req-", 4), 0);
    assert_true(zn_uuid_is_valid(req + 4));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err_example),
        cmocka_unit_test(test_err_fault_truncates),
        cmocka_unit_test(test_log_one_line_with_request_id),
        cmocka_unit_test(test_failpoint_counts),
        cmocka_unit_test(test_uuid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
