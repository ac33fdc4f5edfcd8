/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for zn_dedup. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "zn_dedup.h"

static void
test_dedup_example(void **state)
{
    (void)state;
    zn_dedup_t *d = zn_dedup_new(16, 1000);
    zn_msgid_t id = zn_msgid_generate();
    zn_buf_t reply = {NULL, 0};
    assert_int_equal(zn_dedup_check(d, &id, 0, &reply), ZN_DEDUP_NEW);
    assert_int_equal(zn_dedup_check(d, &id, 1, &reply), ZN_DEDUP_IN_PROGRESS);
    zn_buf_t answer = {(const uint8_t *)"abc", 3};
    zn_dedup_answer(d, &id, answer);
    assert_int_equal(zn_dedup_check(d, &id, 2, &reply), ZN_DEDUP_ANSWERED);
    assert_int_equal(reply.len, 3);
    assert_memory_equal(reply.ptr, "abc", 3);
    zn_dedup_destroy(&d);
    assert_null(d);
}

static void
test_dedup_capacity_and_window(void **state)
{
    (void)state;
    zn_dedup_t *d = zn_dedup_new(16, 1000);
    zn_msgid_t ids[40];
    zn_buf_t reply;
    for (int i = 0; i < 40; i++) {
        ids[i] = zn_msgid_generate();
        assert_int_equal(zn_dedup_check(d, &ids[i], 10, &reply), ZN_DEDUP_NEW);
    }
    assert_int_equal(zn_dedup_count(d), 16);
    assert_int_equal(zn_dedup_check(d, &ids[39], 10, &reply), ZN_DEDUP_IN_PROGRESS);
    /* The oldest were evicted to make room: they count as new again. */
    assert_int_equal(zn_dedup_check(d, &ids[0], 10, &reply), ZN_DEDUP_NEW);
    /* Past the window everything is forgotten. */
    assert_int_equal(zn_dedup_check(d, &ids[39], 5000, &reply), ZN_DEDUP_NEW);
    assert_int_equal(zn_dedup_count(d), 1);
    zn_dedup_destroy(&d);
}

static void
test_dedup_forget_and_holes(void **state)
{
    (void)state;
    zn_dedup_t *d = zn_dedup_new(16, 1000);
    zn_msgid_t a = zn_msgid_generate();
    zn_msgid_t b = zn_msgid_generate();
    zn_buf_t reply;
    assert_int_equal(zn_dedup_check(d, &a, 0, &reply), ZN_DEDUP_NEW);
    assert_int_equal(zn_dedup_check(d, &b, 0, &reply), ZN_DEDUP_NEW);
    zn_dedup_forget(d, &a);
    assert_int_equal(zn_dedup_check(d, &a, 0, &reply), ZN_DEDUP_NEW);
    /* Fill past capacity across the hole: no entry is lost twice, nothing loops. */
    for (int i = 0; i < 100; i++) {
        zn_msgid_t id = zn_msgid_generate();
        assert_int_equal(zn_dedup_check(d, &id, 1, &reply), ZN_DEDUP_NEW);
        zn_dedup_answer(d, &id, (zn_buf_t){(const uint8_t *)"x", 1});
    }
    assert_true(zn_dedup_count(d) <= 16);
    zn_dedup_destroy(&d);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dedup_example),
        cmocka_unit_test(test_dedup_capacity_and_window),
        cmocka_unit_test(test_dedup_forget_and_holes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
