/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for zn_batch: building, encoding and strict decoding of store write batches. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "zn_batch.h"

static void
test_batch_example(void **state)
{
    (void)state;
    zn_batch_t *batch = zn_batch_new();
    assert_int_equal(zn_batch_put(batch, "instances", zn_batch_str("vm-1"),
                                  zn_batch_str("record bytes"), ZN_BATCH_GEN_ABSENT),
                     0);
    assert_int_equal(zn_batch_delete(batch, "ports", zn_batch_str("p-1"), 7), 0);
    assert_int_equal(zn_batch_count(batch), 2);

    /* The bytes are what a replicated store would propose; decoding gives the same ops. */
    zn_batch_t *copy = NULL;
    zn_fault_t fault;
    assert_int_equal(zn_batch_decode(&copy, zn_batch_bytes(batch), &fault), 0);
    assert_int_equal(zn_batch_count(copy), 2);
    zn_batch_op_t op;
    zn_batch_op(copy, 1, &op);
    assert_int_equal(op.kind, ZN_BATCH_DELETE);
    assert_int_equal(op.table.len, 5);
    assert_memory_equal(op.table.ptr, "ports", 5);
    assert_memory_equal(op.key.ptr, "p-1", 3);
    assert_int_equal(op.expect_gen, 7);
    zn_batch_op(copy, 0, &op);
    assert_int_equal(op.kind, ZN_BATCH_PUT);
    assert_int_equal(op.expect_gen, ZN_BATCH_GEN_ABSENT);
    assert_int_equal(op.value.len, 12);
    assert_int_equal(zn_batch_bytes(copy).len, zn_batch_bytes(batch).len);
    assert_memory_equal(zn_batch_bytes(copy).ptr, zn_batch_bytes(batch).ptr,
                        zn_batch_bytes(batch).len);
    zn_batch_destroy(&copy);
    zn_batch_destroy(&batch);
    zn_batch_destroy(&batch); /* harmless */
}

static void
test_batch_add_refuses_bad_ops(void **state)
{
    (void)state;
    zn_batch_t *batch = zn_batch_new();
    zn_buf_t empty = {NULL, 0};
    char long_key[ZN_STORE_KEY_MAX_BYTES + 2];
    memset(long_key, 'k', sizeof(long_key) - 1);
    long_key[sizeof(long_key) - 1] = '\0';
    assert_int_equal(zn_batch_put(batch, "t", empty, zn_batch_str("v"), 0), -EINVAL);
    assert_int_equal(zn_batch_put(batch, "t", zn_batch_str(long_key), zn_batch_str("v"), 0),
                     ZN_ETOOBIG);
    assert_int_equal(zn_batch_put(batch, "Bad", zn_batch_str("k"), zn_batch_str("v"), 0), -EINVAL);
    assert_int_equal(zn_batch_put(batch, "", zn_batch_str("k"), zn_batch_str("v"), 0), -EINVAL);
    assert_int_equal(zn_batch_delete(batch, "t", zn_batch_str("k"), ZN_BATCH_GEN_ABSENT), -EINVAL);
    zn_batch_op_t op = {.kind = 9, .table = zn_batch_str("t"), .key = zn_batch_str("k")};
    zn_fault_t fault;
    assert_int_equal(zn_batch_add(batch, &op, &fault), -EINVAL);
    assert_string_equal(zn_fault_message(&fault), "batch: unknown operation kind 9");
    assert_int_equal(zn_batch_count(batch), 0);
    long_key[ZN_STORE_KEY_MAX_BYTES] = '\0';
    assert_int_equal(zn_batch_put(batch, "t", zn_batch_str(long_key), empty, 0), 0);
    zn_batch_destroy(&batch);
}

static void
test_batch_decode_rejects_every_truncation(void **state)
{
    (void)state;
    zn_batch_t *batch = zn_batch_new();
    assert_int_equal(zn_batch_put(batch, "a", zn_batch_str("k1"), zn_batch_str("v1"), 3), 0);
    assert_int_equal(zn_batch_delete(batch, "b", zn_batch_str("k2"), ZN_BATCH_GEN_ANY), 0);
    zn_buf_t full = zn_batch_bytes(batch);
    for (size_t len = 0; len < full.len; len++) {
        zn_buf_t cut = {full.ptr, len};
        zn_batch_t *out = NULL;
        int rc = zn_batch_decode(&out, cut, NULL);
        assert_true(rc == -EBADMSG);
        assert_null(out);
    }
    /* One byte too many. */
    uint8_t *longer = calloc(1, full.len + 1);
    memcpy(longer, full.ptr, full.len);
    zn_buf_t extra = {longer, full.len + 1};
    zn_batch_t *out = NULL;
    zn_fault_t fault;
    assert_int_equal(zn_batch_decode(&out, extra, &fault), -EBADMSG);
    assert_string_equal(zn_fault_message(&fault), "batch: 1 trailing bytes");
    free(longer);
    zn_batch_destroy(&batch);
}

/* Flip each header field of a valid encoding to something illegal. */
static void
test_batch_decode_rejects_bad_fields(void **state)
{
    (void)state;
    zn_batch_t *batch = zn_batch_new();
    assert_int_equal(zn_batch_put(batch, "a", zn_batch_str("k"), zn_batch_str("v"), 3), 0);
    zn_buf_t good = zn_batch_bytes(batch);

    struct {
        size_t offset;
        uint8_t value;
        int rc;
    } cases[] = {
        {0, 'X', -EBADMSG}, /* magic */
        {3, 2, -EBADMSG},   /* format version */
        {6, 1, ZN_ETOOBIG}, /* op count 65536+ */
        {8, 3, -EINVAL},    /* kind */
        {9, 0, -EINVAL},    /* empty table name */
        {9, 40, -EBADMSG},  /* table name runs past the end */
        {10, 0, -EINVAL},   /* empty key */
        {20, 1, -EBADMSG},  /* reserved */
        {32, 'A', -EINVAL}, /* table name character */
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t copy[64];
        assert_true(good.len <= sizeof(copy));
        memcpy(copy, good.ptr, good.len);
        copy[cases[i].offset] = cases[i].value;
        zn_buf_t bad = {copy, good.len};
        zn_batch_t *out = NULL;
        assert_int_equal(zn_batch_decode(&out, bad, NULL), cases[i].rc);
        assert_null(out);
    }
    zn_batch_destroy(&batch);
}

static void
test_batch_limits(void **state)
{
    (void)state;
    zn_batch_t *batch = zn_batch_new();
    for (unsigned i = 0; i < ZN_BATCH_MAX_OPS; i++) {
        assert_int_equal(zn_batch_put(batch, "t", zn_batch_str("k"), zn_batch_str("v"), 0), 0);
    }
    zn_fault_t fault;
    zn_batch_op_t op = {.kind = ZN_BATCH_PUT, .table = zn_batch_str("t"), .key = zn_batch_str("k")};
    assert_int_equal(zn_batch_add(batch, &op, &fault), ZN_ETOOBIG);
    zn_batch_reset(batch);
    assert_int_equal(zn_batch_count(batch), 0);
    assert_int_equal(zn_batch_bytes(batch).len, 8);
    zn_batch_destroy(&batch);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_example),
        cmocka_unit_test(test_batch_add_refuses_bad_ops),
        cmocka_unit_test(test_batch_decode_rejects_every_truncation),
        cmocka_unit_test(test_batch_decode_rejects_bad_fields),
        cmocka_unit_test(test_batch_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
