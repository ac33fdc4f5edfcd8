/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for zn_password: Argon2id hashing and verification (at the test cost). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "zn_clock.h"
#include "zn_mem.h"
#include "zn_password.h"

static void
test_password_example(void **state)
{
    (void)state;
    char *hash = NULL;
    assert_int_equal(zn_password_hash("s3cret", 6, ZN_PASSWORD_TEST, &hash), 0);
    assert_non_null(strstr(hash, "$argon2id$"));
    assert_true(zn_password_verify(hash, hash, "s3cret", 6));
    assert_false(zn_password_verify(hash, hash, "s3creT", 6));
    assert_false(zn_password_verify(hash, hash, "", 0));
    zn_str_free(&hash);
}

static void
test_password_unknown_user_never_matches(void **state)
{
    (void)state;
    char *dummy = NULL;
    assert_int_equal(zn_password_hash("dummy", 5, ZN_PASSWORD_TEST, &dummy), 0);
    /* Even the dummy's own password does not log an unknown user in. */
    assert_false(zn_password_verify(NULL, dummy, "dummy", 5));
    zn_str_free(&dummy);
}

static void
test_password_salted_and_bounded(void **state)
{
    (void)state;
    char *a = NULL;
    char *b = NULL;
    assert_int_equal(zn_password_hash("same", 4, ZN_PASSWORD_TEST, &a), 0);
    assert_int_equal(zn_password_hash("same", 4, ZN_PASSWORD_TEST, &b), 0);
    assert_string_not_equal(a, b);
    char *c = NULL;
    assert_int_equal(zn_password_hash("x", ZN_PASSWORD_MAX_LEN + 1, ZN_PASSWORD_TEST, &c),
                     ZN_ETOOBIG);
    assert_null(c);
    zn_str_free(&a);
    zn_str_free(&b);
}

static void
test_password_cost_names(void **state)
{
    (void)state;
    zn_password_cost_t cost;
    assert_int_equal(zn_password_cost_parse("interactive", &cost), 0);
    assert_int_equal(cost, ZN_PASSWORD_INTERACTIVE);
    assert_int_equal(zn_password_cost_parse("test", &cost), 0);
    assert_int_equal(cost, ZN_PASSWORD_TEST);
    assert_int_equal(zn_password_cost_parse("cheap", &cost), -EINVAL);
    assert_non_null(strstr(zn_password_cost_describe(ZN_PASSWORD_TEST), "TEST"));
}

static double
s_verify_ms(const char *hash, const char *dummy)
{
    int64_t start = zn_clock_mono_us();
    for (int i = 0; i < 3; i++) {
        assert_false(zn_password_verify(hash, dummy, "wrong", 5));
    }
    return (double)(zn_clock_mono_us() - start) / 3000.0;
}

/* A wrong password for a real user and any password for an unknown one cost the same Argon2id
 * work (interactive cost, as in production). */
static void
test_password_unknown_user_costs_the_same(void **state)
{
    (void)state;
    char *hash = NULL;
    char *dummy = NULL;
    assert_int_equal(zn_password_hash("right", 5, ZN_PASSWORD_INTERACTIVE, &hash), 0);
    assert_int_equal(zn_password_hash("dummy", 5, ZN_PASSWORD_INTERACTIVE, &dummy), 0);
    double known_ms = s_verify_ms(hash, dummy);
    double unknown_ms = s_verify_ms(NULL, dummy);
    /* Wide bounds: a loaded machine varies; a shortcut for unknown users would be ~0. */
    assert_true(unknown_ms > known_ms * 0.5 && unknown_ms < known_ms * 2.0);
    zn_str_free(&hash);
    zn_str_free(&dummy);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_password_example),
        cmocka_unit_test(test_password_unknown_user_never_matches),
        cmocka_unit_test(test_password_salted_and_bounded),
        cmocka_unit_test(test_password_cost_names),
        cmocka_unit_test(test_password_unknown_user_costs_the_same),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
