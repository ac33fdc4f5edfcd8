/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for zn_metrics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "zn_metrics.h"

static void
test_metrics_example(void **state)
{
    (void)state;
    zn_metrics_t *m = zn_metrics_new();
    zn_metrics_count(m, "calls", 1);
    zn_metrics_count(m, "calls", 2);
    for (int i = 1; i <= 100; i++) {
        zn_metrics_observe_us(m, "call_us", i * 10);
    }
    assert_int_equal(zn_metrics_counter(m, "calls"), 3);
    uint64_t p50 = zn_metrics_quantile_us(m, "call_us", 0.5);
    assert_true(p50 >= 500 && p50 <= 1024);
    assert_int_equal(zn_metrics_quantile_us(m, "call_us", 1.0), 1000);
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    zn_metrics_write_prometheus(m, "api", out);
    fclose(out);
    assert_non_null(strstr(buf, "zinc_api_calls 3\n"));
    assert_non_null(strstr(buf, "zinc_api_call_us_seconds_count 100\n"));
    free(buf);
    zn_metrics_destroy(&m);
    zn_metrics_destroy(&m);
    assert_null(m);
}

static void
test_metrics_overflow_counted(void **state)
{
    (void)state;
    zn_metrics_t *m = zn_metrics_new();
    static char names[ZN_METRICS_MAX + 5][16];
    for (int i = 0; i < ZN_METRICS_MAX + 5; i++) {
        snprintf(names[i], sizeof(names[i]), "m%d", i);
        zn_metrics_count(m, names[i], 1);
    }
    assert_int_equal(zn_metrics_counter(m, "m0"), 1);
    assert_int_equal(zn_metrics_counter(m, names[ZN_METRICS_MAX + 1]), 0);
    zn_metrics_destroy(&m);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_example),
        cmocka_unit_test(test_metrics_overflow_counted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
