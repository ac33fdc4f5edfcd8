/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for zn_mp and zn_mpread: packing, the strict checker, the JSON view, the token reader. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "zn_mem.h"
#include "zn_mp.h"
#include "zn_mpread.h"

static void
test_mp_example(void **state)
{
    (void)state;
    /* Pack a document; one packer is reused across messages. */
    zn_pack_t *p = zn_pack_new();
    zn_pack_map(p, 3);
    zn_pack_str(p, "name");
    zn_pack_str(p, "vm-1");
    zn_pack_str(p, "vcpus");
    zn_pack_u64(p, 2);
    zn_pack_str(p, "tags");
    zn_pack_array(p, 2);
    zn_pack_str(p, "web");
    zn_pack_nil(p);

    /* Untrusted bytes are checked before anything else looks at them. */
    size_t consumed = 0;
    zn_fault_t fault = {0};
    assert_int_equal(zn_mp_check(zn_pack_buf(p), &consumed, &fault), 0);
    assert_int_equal(consumed, zn_pack_buf(p).len);

    /* And people read them as JSON. */
    char *json = NULL;
    assert_int_equal(zn_mp_to_json(zn_pack_buf(p), &json, &fault), 0);
    assert_string_equal(json, "{\"name\":\"vm-1\",\"vcpus\":2,\"tags\":[\"web\",null]}");
    zn_str_free(&json);

    zn_pack_reset(p);
    assert_int_equal(zn_pack_buf(p).len, 0);
    zn_pack_destroy(&p);
    assert_null(p);
    zn_pack_destroy(&p); /* harmless twice */
}

static void
s_expect_json(zn_pack_t *p, const char *want)
{
    char *json = NULL;
    zn_fault_t fault;
    assert_int_equal(zn_mp_to_json(zn_pack_buf(p), &json, &fault), 0);
    assert_string_equal(json, want);
    zn_str_free(&json);
    zn_pack_reset(p);
}

static void
test_mp_every_type_round_trips_through_reader(void **state)
{
    (void)state;
    zn_pack_t *p = zn_pack_new();
    static const int64_t ints[] = {0,     1,          127,        128,       255,       256,
                                   65535, 65536,      -1,         -32,       -33,       -128,
                                   -129,  -32768,     -32769,     INT32_MIN, INT64_MIN, INT64_MAX,
                                   -3000, 4294967295, 4294967296, INT32_MAX};
    for (size_t i = 0; i < ZN_ARRAY_COUNT(ints); i++) {
        zn_pack_reset(p);
        zn_pack_i64(p, ints[i]);
        zn_mpread_t reader;
        zn_mpread_init(&reader, zn_pack_buf(p));
        zn_mpval_t val;
        assert_int_equal(zn_mpread_next(&reader, &val, NULL), 0);
        if (ints[i] < 0) {
            assert_int_equal(val.type, ZN_MPT_INT);
            assert_true(val.v.i == ints[i]);
        } else {
            assert_int_equal(val.type, ZN_MPT_UINT);
            assert_true(val.v.u == (uint64_t)ints[i]);
        }
        assert_int_equal(zn_mpread_remaining(&reader), 0);
    }
    /* A signed encoding of a non-negative value still reads as UINT. */
    const uint8_t int8_five[] = {0xd0, 0x05};
    zn_mpread_t reader;
    zn_mpread_init(&reader, (zn_buf_t){int8_five, 2});
    zn_mpval_t val;
    assert_int_equal(zn_mpread_next(&reader, &val, NULL), 0);
    assert_int_equal(val.type, ZN_MPT_UINT);
    assert_int_equal(val.v.u, 5);
    /* float 32 widens. */
    const uint8_t f32[] = {0xca, 0x3f, 0xc0, 0x00, 0x00};
    zn_mpread_init(&reader, (zn_buf_t){f32, sizeof(f32)});
    assert_int_equal(zn_mpread_next(&reader, &val, NULL), 0);
    assert_int_equal(val.type, ZN_MPT_F64);
    assert_true(val.v.f == 1.5);
    zn_pack_reset(p);
    zn_pack_u64(p, UINT64_MAX);
    zn_mpread_init(&reader, zn_pack_buf(p));
    assert_int_equal(zn_mpread_next(&reader, &val, NULL), 0);
    assert_true(val.v.u == UINT64_MAX);
    zn_pack_destroy(&p);
}

/* An empty bin or string given as a NULL pointer packs as empty (UBSan once caught a memcpy
 * from NULL here, through zincctl's scan of a table from its first key). */
static void
test_mp_empty_from_null(void **state)
{
    (void)state;
    zn_pack_t *pack = zn_pack_new();
    zn_pack_array(pack, 2);
    zn_pack_bin(pack, NULL, 0);
    zn_pack_strn(pack, NULL, 0);
    zn_buf_t buf = zn_pack_buf(pack);
    assert_int_equal(buf.len, 1 + 2 + 1); /* fixarray, bin8 of 0, fixstr of 0 */
    zn_pack_destroy(&pack);
}

static void
test_mp_json_rendering(void **state)
{
    (void)state;
    zn_pack_t *p = zn_pack_new();
    zn_pack_strn(p, "q\"b\\n\n\t\x01\x1f\x7f", 10);
    s_expect_json(p, "\"q\\\"b\\\\n\\n\\t\\u0001\\u001f\x7f\"");
    zn_pack_str(p, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    s_expect_json(p, "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
    /* Invalid UTF-8: a stray continuation, an overlong, a surrogate, a cut sequence. */
    zn_pack_str(p, "a\x80 \xc0\xaf \xed\xa0\x80 \xe2\x82");
    s_expect_json(p, "\"a\\ufffd \\ufffd\\ufffd \\ufffd\\ufffd\\ufffd \\ufffd\\ufffd\"");
    zn_pack_bin(p, "hello", 5);
    s_expect_json(p, "\"aGVsbG8=\"");
    zn_pack_bin(p, "", 0);
    s_expect_json(p, "\"\"");
    zn_pack_array(p, 6);
    zn_pack_i64(p, -7);
    zn_pack_f64(p, 0.1);
    zn_pack_f64(p, 1e300);
    zn_pack_f64(p, NAN);
    zn_pack_bool(p, false);
    zn_pack_u64(p, UINT64_MAX);
    s_expect_json(p, "[-7,0.1,1e+300,null,false,18446744073709551615]");
    /* Keys that are not strings become strings. */
    zn_pack_map(p, 4);
    zn_pack_u64(p, 1);
    zn_pack_str(p, "one");
    zn_pack_nil(p);
    zn_pack_bool(p, true);
    zn_pack_array(p, 2);
    zn_pack_str(p, "k");
    zn_pack_u64(p, 2);
    zn_pack_map(p, 0);
    zn_pack_bin(p, "\xff", 1);
    zn_pack_array(p, 0);
    s_expect_json(p, "{\"1\":\"one\",\"null\":true,\"[\\\"k\\\",2]\":{},\"/w==\":[]}");
    zn_pack_destroy(&p);
}

static void
test_mp_check_truncated_at_every_offset(void **state)
{
    (void)state;
    zn_pack_t *p = zn_pack_new();
    zn_pack_map(p, 2);
    zn_pack_str(p, "list");
    zn_pack_array(p, 4);
    zn_pack_u64(p, 70000);
    zn_pack_f64(p, 2.5);
    zn_pack_bin(p, "abcdef", 6);
    zn_pack_map(p, 1);
    zn_pack_i64(p, -40000);
    zn_pack_strn(p, "0123456789012345678901234567890123456789", 40);
    zn_pack_u64(p, 3);
    zn_pack_bool(p, true);
    zn_buf_t full = zn_pack_buf(p);
    for (size_t len = 0; len < full.len; len++) {
        uint8_t *cut = zn_malloc(len);
        memcpy(cut, full.ptr, len);
        zn_fault_t fault = {0};
        assert_int_equal(zn_mp_check((zn_buf_t){cut, len}, NULL, &fault), -EBADMSG);
        assert_non_null(strstr(fault.message, "offset"));
        char *json = NULL;
        assert_int_equal(zn_mp_to_json((zn_buf_t){cut, len}, &json, NULL), -EBADMSG);
        assert_null(json);
        zn_free(cut);
    }
    zn_pack_destroy(&p);
}

static void
test_mp_check_huge_declared_lengths(void **state)
{
    (void)state;
    static const uint8_t docs[][6] = {
        {0xdd, 0xff, 0xff, 0xff, 0xff, 0x01}, /* array32: 4G elements in 1 byte */
        {0xdf, 0xff, 0xff, 0xff, 0xff, 0x01}, /* map32 */
        {0xdb, 0xff, 0xff, 0xff, 0xff, 0x01}, /* str32 */
        {0xc6, 0xff, 0xff, 0xff, 0xff, 0x01}, /* bin32 */
        {0xdc, 0x00, 0x04, 0x01, 0x02, 0x03}, /* array16 of 4 with 3 */
        {0xde, 0x00, 0x02, 0x01, 0x02, 0x03}, /* map16 of 2 entries with 3 bytes */
    };
    for (size_t i = 0; i < ZN_ARRAY_COUNT(docs); i++) {
        zn_fault_t fault;
        assert_int_equal(zn_mp_check((zn_buf_t){docs[i], sizeof(docs[i])}, NULL, &fault), -EBADMSG);
    }
    /* Exactly enough is fine, and the byte after the object is not consumed. */
    const uint8_t ok[] = {0x82, 0x01, 0x02, 0x03, 0xc0, 0xff};
    size_t consumed = 0;
    assert_int_equal(zn_mp_check((zn_buf_t){ok, sizeof(ok)}, &consumed, NULL), 0);
    assert_int_equal(consumed, 5);
}

static void
test_mp_check_depth_and_items(void **state)
{
    (void)state;
    zn_pack_t *p = zn_pack_new();
    for (int i = 0; i < ZN_MP_MAX_DEPTH; i++) {
        zn_pack_array(p, 1);
    }
    zn_pack_nil(p);
    assert_int_equal(zn_mp_check(zn_pack_buf(p), NULL, NULL), 0);
    zn_pack_reset(p);
    for (int i = 0; i < ZN_MP_MAX_DEPTH; i++) {
        zn_pack_map(p, 1);
        zn_pack_nil(p);
    }
    zn_pack_array(p, 0); /* even an empty container is a level */
    zn_fault_t fault;
    assert_int_equal(zn_mp_check(zn_pack_buf(p), NULL, &fault), ZN_ETOOBIG);
    assert_non_null(strstr(fault.message, "nested"));

    /* A depth bomb: a megabyte of "array of one". */
    uint8_t *bomb = zn_malloc(1 << 20);
    memset(bomb, 0x91, 1 << 20);
    assert_int_equal(zn_mp_check((zn_buf_t){bomb, 1 << 20}, NULL, NULL), ZN_ETOOBIG);
    char *json = NULL;
    assert_int_equal(zn_mp_to_json((zn_buf_t){bomb, 1 << 20}, &json, NULL), ZN_ETOOBIG);
    /* Too many objects: an array of ZN_MP_MAX_ITEMS fixints, plus the array itself. */
    size_t len = 5 + ZN_MP_MAX_ITEMS;
    memset(bomb, 0x00, len);
    const uint8_t head[] = {0xdd, 0x00, 0x04, 0x00, 0x00};
    memcpy(bomb, head, sizeof(head));
    assert_int_equal(zn_mp_check((zn_buf_t){bomb, len}, NULL, &fault), ZN_ETOOBIG);
    assert_non_null(strstr(fault.message, "objects"));
    bomb[4] = 0xff; /* ZN_MP_MAX_ITEMS - 1 elements: exactly at the limit */
    bomb[3] = 0xff;
    bomb[2] = 0x03;
    assert_int_equal(zn_mp_check((zn_buf_t){bomb, len}, NULL, &fault), 0);
    zn_free(bomb);
    zn_pack_destroy(&p);
}

static void
test_mp_check_refuses_reserved_and_ext(void **state)
{
    (void)state;
    static const uint8_t bad[] = {0xc1, 0xc7, 0xc8, 0xc9, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8};
    for (size_t i = 0; i < sizeof(bad); i++) {
        uint8_t doc[24] = {0x92, 0x01, bad[i], 0x01, 0x01};
        zn_fault_t fault;
        assert_int_equal(zn_mp_check((zn_buf_t){doc, sizeof(doc)}, NULL, &fault), -EBADMSG);
        assert_non_null(strstr(fault.message, "refused"));
        assert_int_equal(zn_mp_check((zn_buf_t){doc + 2, sizeof(doc) - 2}, NULL, NULL), -EBADMSG);
    }
    assert_int_equal(zn_mp_check((zn_buf_t){NULL, 0}, NULL, NULL), -EBADMSG);
}

static void
test_mpread_skip(void **state)
{
    (void)state;
    zn_pack_t *p = zn_pack_new();
    zn_pack_map(p, 2);
    zn_pack_str(p, "a");
    zn_pack_array(p, 2);
    zn_pack_map(p, 0);
    zn_pack_bin(p, "xy", 2);
    zn_pack_u64(p, 1);
    zn_pack_f64(p, 3.0);
    zn_pack_str(p, "after");
    zn_mpread_t reader;
    zn_mpread_init(&reader, zn_pack_buf(p));
    zn_mpval_t val;
    assert_int_equal(zn_mpread_next(&reader, &val, NULL), 0);
    assert_int_equal(val.type, ZN_MPT_MAP);
    assert_int_equal(zn_mpread_skip_contents(&reader, &val, NULL), 0);
    assert_int_equal(zn_mpread_next(&reader, &val, NULL), 0);
    assert_int_equal(val.type, ZN_MPT_STR);
    assert_memory_equal(val.v.bytes.ptr, "after", 5);

    /* Skipping past the end fails cleanly. */
    zn_mpread_init(&reader, zn_pack_buf(p));
    assert_int_equal(zn_mpread_skip(&reader, 3, NULL), -EBADMSG);
    zn_pack_destroy(&p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mp_example),
        cmocka_unit_test(test_mp_every_type_round_trips_through_reader),
        cmocka_unit_test(test_mp_empty_from_null),
        cmocka_unit_test(test_mp_json_rendering),
        cmocka_unit_test(test_mp_check_truncated_at_every_offset),
        cmocka_unit_test(test_mp_check_huge_declared_lengths),
        cmocka_unit_test(test_mp_check_depth_and_items),
        cmocka_unit_test(test_mp_check_refuses_reserved_and_ext),
        cmocka_unit_test(test_mpread_skip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
