/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for zn_trace: the span ring, and the spans a server records for what it handles. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <czmq.h>

#include "zn_caster.h"
#include "zn_clock.h"
#include "zn_mpread.h"
#include "zn_server.h"
#include "zn_trace.h"

/* Decode a packed span array: how many spans, and the step of the first and last. */
static uint32_t
s_spans(zn_pack_t *packed, char *first_step, char *last_step, size_t cap)
{
    zn_mpread_t reader;
    zn_mpread_init(&reader, zn_pack_buf(packed));
    zn_mpval_t val;
    assert_int_equal(zn_mpread_next(&reader, &val, NULL), 0);
    assert_int_equal(val.type, ZN_MPT_ARRAY);
    uint32_t count = val.v.count;
    for (uint32_t i = 0; i < count; i++) {
        assert_int_equal(zn_mpread_next(&reader, &val, NULL), 0);
        assert_int_equal(val.type, ZN_MPT_MAP);
        uint32_t fields = val.v.count;
        for (uint32_t f = 0; f < fields; f++) {
            zn_mpval_t key;
            assert_int_equal(zn_mpread_next(&reader, &key, NULL), 0);
            assert_int_equal(zn_mpread_next(&reader, &val, NULL), 0);
            bool is_step = key.v.bytes.len == 4 && memcmp(key.v.bytes.ptr, "step", 4) == 0;
            if (is_step && (i == 0 || i + 1 == count)) {
                char *dst = i == 0 ? first_step : last_step;
                size_t len = val.v.bytes.len < cap - 1 ? val.v.bytes.len : cap - 1;
                memcpy(dst, val.v.bytes.ptr, len);
                dst[len] = '\0';
                if (count == 1) {
                    memcpy(last_step, dst, len + 1);
                }
            }
        }
    }
    return count;
}

static void
test_trace_example(void **state)
{
    (void)state;
    zn_trace_t *trace = zn_trace_new(16);
    int64_t now = zn_clock_mono_us();
    zn_trace_add(trace, "req-1", "POST /v2.1/servers", "http 202", now - 500, 400, 0);
    zn_trace_add(trace, "req-2", "validate", "call", now - 450, 30, 0);
    zn_trace_add(trace, "req-1", "select_destinations", "call", now - 300, 80, 0);
    zn_trace_add(trace, "", "ignored", NULL, now, 1, 0);
    assert_int_equal(zn_trace_count(trace), 3);
    zn_pack_t *packed = zn_pack_new();
    char first[64];
    char last[64];
    zn_trace_pack(trace, "req-1", packed);
    assert_int_equal(s_spans(packed, first, last, sizeof(first)), 2);
    assert_string_equal(first, "POST /v2.1/servers");
    assert_string_equal(last, "select_destinations");
    zn_pack_destroy(&packed);
    zn_trace_destroy(&trace);
    zn_trace_destroy(&trace); /* twice is harmless */
}

static void
test_trace_ring_overwrites_oldest(void **state)
{
    (void)state;
    zn_trace_t *trace = zn_trace_new(4);
    for (int i = 0; i < 10; i++) {
        char step[16];
        (void)snprintf(step, sizeof(step), "step%d", i);
        zn_trace_add(trace, "req-x", step, NULL, zn_clock_mono_us(), i, 0);
    }
    zn_pack_t *packed = zn_pack_new();
    char first[64];
    char last[64];
    zn_trace_pack(trace, "req-x", packed);
    assert_int_equal(s_spans(packed, first, last, sizeof(first)), 4);
    assert_string_equal(first, "step6");
    assert_string_equal(last, "step9");
    zn_pack_reset(packed);
    zn_trace_pack(trace, "req-unknown", packed);
    assert_int_equal(s_spans(packed, first, last, sizeof(first)), 0);
    zn_pack_destroy(&packed);
    zn_trace_destroy(&trace);
}

static int
s_noop(void *arg, zn_call_t *call, zn_pack_t *reply, zn_fault_t *fault)
{
    (void)arg;
    (void)call;
    (void)reply;
    (void)fault;
    return 0;
}

static const zn_method_t s_methods[] = {
    {"build", s_noop, ZN_M_CAST},
    {NULL, NULL, 0},
};

/* A server with a trace records a span per handled message that carries a request id. */
static void
test_trace_server_spans(void **state)
{
    (void)state;
    zn_trace_t *trace = zn_trace_new(0);
    zn_server_opts_t opts = {
        .name = "traced", .cast_endpoint = "tcp://127.0.0.1:*", .trace = trace};
    zn_server_t *server = NULL;
    assert_int_equal(zn_server_open(&server, &opts, s_methods, NULL, NULL), 0);
    zn_caster_opts_t copts = {"traced", zn_server_cast_endpoint(server), NULL, NULL, 0};
    zn_caster_t *caster = NULL;
    assert_int_equal(zn_caster_open(&caster, &copts, NULL), 0);
    zn_ctx_t ctx;
    memset(&ctx, 0, sizeof(ctx));
    (void)snprintf(ctx.req_id, sizeof(ctx.req_id), "req-traced");
    zn_buf_t none = {NULL, 0};
    int64_t until = zn_clock_mono_ms() + 5000;
    while (zn_caster_cast(caster, "build", &ctx, none, NULL, NULL) != 0 &&
           zn_clock_mono_ms() < until) {
        zclock_sleep(5); /* the PUSH socket refuses until its connection is up */
    }
    while (zn_trace_count(trace) == 0 && zn_clock_mono_ms() < until) {
        (void)zn_server_poll(server, 50);
    }
    zn_pack_t *packed = zn_pack_new();
    char first[64];
    char last[64];
    zn_trace_pack(trace, "req-traced", packed);
    assert_int_equal(s_spans(packed, first, last, sizeof(first)), 1);
    assert_string_equal(first, "build");
    zn_pack_destroy(&packed);
    zn_caster_destroy(&caster);
    zn_server_destroy(&server);
    zn_trace_destroy(&trace);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trace_example),
        cmocka_unit_test(test_trace_ring_overwrites_oldest),
        cmocka_unit_test(test_trace_server_spans),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
