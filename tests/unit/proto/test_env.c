/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for zn_env: round trips, deadlines, and every way a frame can be wrong. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "zn_clock.h"
#include "zn_env.h"
#include "zn_mem.h"
#include "zn_mp.h"

static void
test_env_example(void **state)
{
    (void)state;
    /* The caller builds a CALL: method, request context, and a body packed on its own. */
    zn_pack_t *body = zn_pack_new();
    zn_pack_map(body, 1);
    zn_pack_str(body, "flavor");
    zn_pack_str(body, "m1.tiny");

    zn_env_t call;
    zn_env_init(&call, ZN_KIND_CALL, "compute.boot");
    strncpy(call.ctx.req_id, "req-42", sizeof(call.ctx.req_id) - 1);
    strncpy(call.ctx.user_id, "alice", sizeof(call.ctx.user_id) - 1);
    call.ctx.token = (zn_buf_t){(const uint8_t *)"secret", 6};
    call.ctx.deadline_ms = zn_clock_mono_ms() + 5000;
    call.body = zn_pack_buf(body);

    zn_pack_t *frame = zn_pack_new();
    zn_env_encode(&call, frame);

    /* The receiver decodes strictly; token and body borrow the frame. */
    zn_env_t got;
    zn_fault_t fault = {0};
    assert_int_equal(zn_env_decode(&got, zn_pack_buf(frame), &fault), 0);
    assert_int_equal(got.kind, ZN_KIND_CALL);
    assert_string_equal(got.method, "compute.boot");
    assert_string_equal(got.ctx.req_id, "req-42");
    assert_string_equal(got.ctx.user_id, "alice");
    assert_memory_equal(got.id.bytes, call.id.bytes, sizeof(call.id.bytes));
    assert_int_equal(got.ctx.token.len, 6);
    assert_memory_equal(got.ctx.token.ptr, "secret", 6);
    assert_true(got.ctx.deadline_ms > zn_clock_mono_ms() + 4000);
    assert_false(zn_ctx_is_expired(&got.ctx));
    assert_int_equal(got.body.len, zn_pack_buf(body).len);
    assert_memory_equal(got.body.ptr, zn_pack_buf(body).ptr, got.body.len);

    /* The answer carries the same id, so the caller can match it. */
    zn_env_t reply;
    zn_env_init_reply(&reply, &got, 0, NULL);
    zn_pack_reset(frame);
    zn_env_encode(&reply, frame);
    assert_int_equal(zn_env_decode(&got, zn_pack_buf(frame), &fault), 0);
    assert_int_equal(got.kind, ZN_KIND_REPLY);
    assert_memory_equal(got.id.bytes, call.id.bytes, sizeof(call.id.bytes));
    assert_int_equal(got.body.len, 0);

    zn_pack_destroy(&frame);
    zn_pack_destroy(&body);
    assert_null(frame);
}

/* ---- helpers -------------------------------------------------------------------------------- */

static const uint8_t s_id[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

/* Start a header map with major 1, minor 0, KIND and s_id, and EXTRA more entries to come. */
static void
s_header(zn_pack_t *p, uint32_t extra, uint64_t kind)
{
    zn_pack_map(p, 4 + extra);
    zn_pack_u64(p, 0);
    zn_pack_u64(p, 1);
    zn_pack_u64(p, 1);
    zn_pack_u64(p, 0);
    zn_pack_u64(p, 2);
    zn_pack_u64(p, kind);
    zn_pack_u64(p, 3);
    zn_pack_bin(p, s_id, sizeof(s_id));
}

static int
s_decode(zn_pack_t *p, zn_env_t *env, zn_fault_t *fault)
{
    memset(fault, 0, sizeof(*fault));
    return zn_env_decode(env, zn_pack_buf(p), fault);
}

/* ---- round trips ---------------------------------------------------------------------------- */

static void
test_env_error_reply_round_trip(void **state)
{
    (void)state;
    zn_env_t call;
    zn_env_init(&call, ZN_KIND_CALL, "image.get");
    strncpy(call.ctx.req_id, "req-7", sizeof(call.ctx.req_id) - 1);
    zn_env_t err;
    zn_env_init_reply(&err, &call, -ENOENT, "image abc: not found");
    assert_int_equal(err.kind, ZN_KIND_ERROR);

    zn_pack_t *p = zn_pack_new();
    zn_env_encode(&err, p);
    zn_env_t got;
    zn_fault_t fault;
    assert_int_equal(s_decode(p, &got, &fault), 0);
    assert_int_equal(got.kind, ZN_KIND_ERROR);
    assert_int_equal(got.err_code, -ENOENT);
    assert_string_equal(got.err_message, "image abc: not found");
    assert_string_equal(got.method, "image.get");
    assert_string_equal(got.ctx.req_id, "req-7");
    assert_memory_equal(got.id.bytes, call.id.bytes, 16);

    /* Without a message, the code's words are used. */
    zn_env_init_reply(&err, &call, ZN_EQUOTA, NULL);
    assert_string_equal(err.err_message, zn_strerror(ZN_EQUOTA));
    zn_pack_destroy(&p);
}

static void
test_env_all_fields_round_trip(void **state)
{
    (void)state;
    zn_env_t cast;
    zn_env_init(&cast, ZN_KIND_CAST, "network.port_update");
    memset(cast.ctx.req_id, 'r', ZN_ID_MAX);
    memset(cast.ctx.user_id, 'u', ZN_ID_MAX);
    memset(cast.ctx.project_id, 'p', ZN_ID_MAX);
    memset(cast.ctx.roles, 'a', ZN_ROLES_MAX);
    uint8_t token[ZN_TOKEN_MAX];
    memset(token, 0xab, sizeof(token));
    cast.ctx.token = (zn_buf_t){token, sizeof(token)};
    zn_pack_t *p = zn_pack_new();
    zn_env_encode(&cast, p);
    zn_env_t got;
    zn_fault_t fault;
    assert_int_equal(s_decode(p, &got, &fault), 0);
    assert_int_equal(got.kind, ZN_KIND_CAST);
    assert_string_equal(got.ctx.req_id, cast.ctx.req_id);
    assert_string_equal(got.ctx.user_id, cast.ctx.user_id);
    assert_string_equal(got.ctx.project_id, cast.ctx.project_id);
    assert_string_equal(got.ctx.roles, cast.ctx.roles);
    assert_int_equal(got.ctx.token.len, sizeof(token));
    assert_int_equal(got.ctx.deadline_ms, 0);
    assert_int_equal(got.major, ZN_PROTO_MAJOR);
    assert_int_equal(got.minor, ZN_PROTO_MINOR);

    zn_ctx_t copy;
    zn_ctx_copy(&copy, &got.ctx);
    assert_string_equal(copy.roles, cast.ctx.roles);
    assert_ptr_equal(copy.token.ptr, got.ctx.token.ptr);
    zn_pack_destroy(&p);
}

static void
test_env_deadline_is_remaining_budget(void **state)
{
    (void)state;
    zn_env_t call;
    zn_env_init(&call, ZN_KIND_CALL, "m");
    call.ctx.deadline_ms = zn_clock_mono_ms() - 10; /* already late */
    zn_pack_t *p = zn_pack_new();
    zn_env_encode(&call, p);
    zn_env_t got;
    zn_fault_t fault;
    assert_int_equal(s_decode(p, &got, &fault), 0);
    assert_true(got.ctx.deadline_ms != 0);
    assert_true(zn_ctx_is_expired(&got.ctx));

    /* A peer says 60 s remain: the local deadline is now + 60 s, whatever the peer's clock. */
    zn_pack_reset(p);
    s_header(p, 2, ZN_KIND_CALL);
    zn_pack_u64(p, 4);
    zn_pack_str(p, "m");
    zn_pack_u64(p, 10);
    zn_pack_u64(p, 60000);
    int64_t before = zn_clock_mono_ms();
    assert_int_equal(s_decode(p, &got, &fault), 0);
    assert_true(got.ctx.deadline_ms >= before + 60000);
    assert_true(got.ctx.deadline_ms <= zn_clock_mono_ms() + 60000);
    assert_false(zn_ctx_is_expired(&got.ctx));

    /* A huge budget saturates instead of overflowing. */
    zn_pack_reset(p);
    s_header(p, 2, ZN_KIND_CALL);
    zn_pack_u64(p, 4);
    zn_pack_str(p, "m");
    zn_pack_u64(p, 10);
    zn_pack_u64(p, UINT64_MAX);
    assert_int_equal(s_decode(p, &got, &fault), 0);
    assert_int_equal(got.ctx.deadline_ms, INT64_MAX);

    zn_ctx_t none = {0};
    assert_false(zn_ctx_is_expired(&none));
    zn_pack_destroy(&p);
}

static void
test_env_msgid(void **state)
{
    (void)state;
    zn_msgid_t a = zn_msgid_generate();
    zn_msgid_t b = zn_msgid_generate();
    assert_memory_not_equal(a.bytes, b.bytes, sizeof(a.bytes));
    zn_msgid_t fixed;
    memcpy(fixed.bytes, s_id, sizeof(s_id));
    char hex[33];
    zn_msgid_format(&fixed, hex);
    assert_string_equal(hex, "0102030405060708090a0b0c0d0e0f10");
}

/* ---- malformed frames ----------------------------------------------------------------------- */

static void
test_env_truncated_at_every_offset(void **state)
{
    (void)state;
    zn_pack_t *body = zn_pack_new();
    zn_pack_array(body, 3);
    zn_pack_str(body, "a");
    zn_pack_i64(body, -5);
    zn_pack_bin(body, "xyz", 3);
    zn_env_t call;
    zn_env_init(&call, ZN_KIND_CALL, "compute.boot");
    strncpy(call.ctx.req_id, "req-1", sizeof(call.ctx.req_id) - 1);
    call.ctx.token = (zn_buf_t){(const uint8_t *)"tok", 3};
    call.ctx.deadline_ms = zn_clock_mono_ms() + 1000;
    call.body = zn_pack_buf(body);
    zn_pack_t *frame = zn_pack_new();
    zn_env_encode(&call, frame);
    zn_buf_t full = zn_pack_buf(frame);
    size_t header_len = full.len - call.body.len;

    for (size_t len = 0; len < full.len; len++) {
        /* A private copy of each prefix, so that ASan sees any read past its end. */
        uint8_t *cut = zn_malloc(len);
        memcpy(cut, full.ptr, len);
        zn_env_t got;
        zn_fault_t fault = {0};
        int rc = zn_env_decode(&got, (zn_buf_t){cut, len}, &fault);
        if (len == header_len) {
            assert_int_equal(rc, 0); /* a frame without a body is complete */
        } else {
            assert_int_equal(rc, -EBADMSG);
            assert_true(fault.message[0] != '\0');
        }
        zn_free(cut);
    }
    zn_pack_destroy(&frame);
    zn_pack_destroy(&body);
}

static void
test_env_huge_declared_lengths(void **state)
{
    (void)state;
    static const uint8_t frames[][8] = {
        {0xdf, 0xff, 0xff, 0xff, 0xff, 0x00},             /* map32 of 4G entries */
        {0xdd, 0xff, 0xff, 0xff, 0xff, 0x00},             /* array32 */
        {0xdb, 0xff, 0xff, 0xff, 0xff, 0x00},             /* str32 */
        {0xc6, 0xff, 0xff, 0xff, 0xff, 0x00},             /* bin32 */
        {0x81, 0x04, 0xdb, 0xff, 0xff, 0xff, 0xf0, 0x61}, /* method str32 */
        {0x81, 0x03, 0xc6, 0x7f, 0xff, 0xff, 0xff, 0x00}, /* id bin32 */
    };
    for (size_t i = 0; i < ZN_ARRAY_COUNT(frames); i++) {
        zn_env_t got;
        zn_fault_t fault = {0};
        assert_int_equal(zn_env_decode(&got, (zn_buf_t){frames[i], sizeof(frames[i])}, &fault),
                         -EBADMSG);
    }
    /* A frame over the limit is refused before a byte of it is read. */
    zn_env_t got;
    zn_fault_t fault;
    uint8_t one = 0x80;
    assert_int_equal(zn_env_decode(&got, (zn_buf_t){&one, ZN_FRAME_MAX_BYTES + 1}, &fault),
                     ZN_ETOOBIG);
}

static void
test_env_depth_bomb_and_reserved_bytes(void **state)
{
    (void)state;
    zn_pack_t *p = zn_pack_new();
    s_header(p, 1, ZN_KIND_CALL);
    zn_pack_u64(p, 4);
    zn_pack_str(p, "m");
    for (int i = 0; i < 1000; i++) {
        zn_pack_array(p, 1); /* body: 1000 nested arrays */
    }
    zn_pack_nil(p);
    zn_env_t got;
    zn_fault_t fault;
    assert_int_equal(s_decode(p, &got, &fault), ZN_ETOOBIG);
    assert_memory_equal(got.id.bytes, s_id, 16);

    /* 0xc1 and each extension type, in the header and in the body. */
    static const uint8_t bad[] = {0xc1, 0xc7, 0xc8, 0xc9, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8};
    for (size_t i = 0; i < sizeof(bad); i++) {
        zn_pack_reset(p);
        s_header(p, 2, ZN_KIND_CAST);
        zn_pack_u64(p, 4);
        zn_pack_str(p, "m");
        zn_pack_u64(p, 99);
        uint8_t raw[8] = {bad[i], 1, 1, 0, 0, 0, 0, 0};
        zn_pack_raw(p, (zn_buf_t){raw, sizeof(raw)});
        assert_int_equal(s_decode(p, &got, &fault), -EBADMSG);

        zn_pack_reset(p);
        s_header(p, 1, ZN_KIND_CAST);
        zn_pack_u64(p, 4);
        zn_pack_str(p, "m");
        zn_pack_raw(p, (zn_buf_t){raw, sizeof(raw)});
        assert_int_equal(s_decode(p, &got, &fault), -EBADMSG);
    }
    zn_pack_destroy(&p);
}

/* One header entry with a value of the wrong type for its key. */
typedef struct {
    uint64_t key;
    void (*pack)(zn_pack_t *p);
} s_wrong_t;

static void
s_pack_str_x(zn_pack_t *p)
{
    zn_pack_str(p, "x");
}

static void
s_pack_neg(zn_pack_t *p)
{
    zn_pack_i64(p, -1);
}

static void
s_pack_array(zn_pack_t *p)
{
    zn_pack_array(p, 1);
    zn_pack_u64(p, 1);
}

static void
s_pack_bool(zn_pack_t *p)
{
    zn_pack_bool(p, true);
}

static void
s_pack_300(zn_pack_t *p)
{
    zn_pack_u64(p, 300);
}

static void
s_pack_bin15(zn_pack_t *p)
{
    zn_pack_bin(p, s_id, 15);
}

static void
s_pack_big_int(zn_pack_t *p)
{
    zn_pack_i64(p, INT64_MIN);
}

static void
s_pack_f64(zn_pack_t *p)
{
    zn_pack_f64(p, 1.5);
}

static void
test_env_wrong_types(void **state)
{
    (void)state;
    static const s_wrong_t cases[] = {
        {0, s_pack_str_x}, {0, s_pack_neg},    {0, s_pack_300},      {1, s_pack_bool},
        {2, s_pack_str_x}, {2, s_pack_300},    {3, s_pack_str_x},    {3, s_pack_bin15},
        {4, s_pack_bool},  {4, s_pack_array},  {5, s_pack_neg},      {6, s_pack_bool},
        {7, s_pack_array}, {8, s_pack_f64},    {9, s_pack_neg},      {10, s_pack_str_x},
        {10, s_pack_f64},  {11, s_pack_str_x}, {11, s_pack_big_int}, {12, s_pack_bool},
    };
    zn_pack_t *p = zn_pack_new();
    for (size_t i = 0; i < ZN_ARRAY_COUNT(cases); i++) {
        /* The wrong entry comes first, so the valid ones after it repeat nothing it set. */
        zn_pack_reset(p);
        zn_pack_map(p, 1);
        zn_pack_u64(p, cases[i].key);
        cases[i].pack(p);
        zn_buf_t wrong = zn_pack_buf(p);
        uint8_t entry[32];
        size_t entry_len = wrong.len - 1;
        memcpy(entry, wrong.ptr + 1, entry_len);

        zn_pack_reset(p);
        zn_pack_map(p, 5);
        zn_pack_raw(p, (zn_buf_t){entry, entry_len});
        uint64_t keys[] = {0, 1, 2, 3, 4};
        for (size_t k = 0; k < 5; k++) {
            if (keys[k] == cases[i].key) {
                keys[k] = 50 + k; /* unknown, ignored */
            }
        }
        zn_pack_u64(p, keys[0]);
        zn_pack_u64(p, 1);
        zn_pack_u64(p, keys[1]);
        zn_pack_u64(p, 0);
        zn_pack_u64(p, keys[2]);
        zn_pack_u64(p, ZN_KIND_CAST);
        zn_pack_u64(p, keys[3]);
        zn_pack_bin(p, s_id, 16);
        zn_pack_u64(p, keys[4]);
        zn_pack_str(p, "m");
        zn_env_t got;
        zn_fault_t fault;
        int rc = s_decode(p, &got, &fault);
        assert_int_equal(rc, -EBADMSG);
        assert_non_null(strstr(fault.message, "header"));
    }
    zn_pack_destroy(&p);
}

static void
test_env_missing_required(void **state)
{
    (void)state;
    zn_pack_t *p = zn_pack_new();
    zn_env_t got;
    zn_fault_t fault;

    /* A CALL without a method. */
    s_header(p, 0, ZN_KIND_CALL);
    assert_int_equal(s_decode(p, &got, &fault), -EBADMSG);
    assert_string_equal(fault.message, "header method: missing");

    /* A REPLY needs none. */
    zn_pack_reset(p);
    s_header(p, 0, ZN_KIND_REPLY);
    assert_int_equal(s_decode(p, &got, &fault), 0);

    /* An ERROR needs a negative code. */
    zn_pack_reset(p);
    s_header(p, 0, ZN_KIND_ERROR);
    assert_int_equal(s_decode(p, &got, &fault), -EBADMSG);

    /* Nil counts as missing. */
    zn_pack_reset(p);
    s_header(p, 1, ZN_KIND_CAST);
    zn_pack_u64(p, 4);
    zn_pack_nil(p);
    assert_int_equal(s_decode(p, &got, &fault), -EBADMSG);

    /* No major, no kind, no id. */
    static const char *const names[] = {"major", "kind", "id"};
    static const uint64_t drop[] = {0, 2, 3};
    for (size_t i = 0; i < 3; i++) {
        zn_pack_reset(p);
        zn_pack_map(p, 3);
        for (uint64_t key = 0; key < 4; key++) {
            if (key == drop[i]) {
                continue;
            }
            zn_pack_u64(p, key);
            if (key == 3) {
                zn_pack_bin(p, s_id, 16);
            } else {
                zn_pack_u64(p, key == 2 ? ZN_KIND_REPLY : 1);
            }
        }
        assert_int_equal(s_decode(p, &got, &fault), -EBADMSG);
        assert_non_null(strstr(fault.message, names[i]));
    }
    zn_pack_destroy(&p);
}

static void
s_decode_text(uint64_t key, const char *text, size_t len, int expect)
{
    zn_pack_t *p = zn_pack_new();
    s_header(p, key == 4 ? 1 : 2, ZN_KIND_CAST);
    if (key != 4) {
        zn_pack_u64(p, 4);
        zn_pack_str(p, "m");
    }
    zn_pack_u64(p, key);
    zn_pack_strn(p, text, len);
    zn_env_t got;
    zn_fault_t fault;
    assert_int_equal(s_decode(p, &got, &fault), expect);
    zn_pack_destroy(&p);
}

static void
test_env_oversize_and_nul_strings(void **state)
{
    (void)state;
    char big[ZN_TOKEN_MAX + 2];
    memset(big, 'x', sizeof(big));

    static const struct {
        uint64_t key;
        size_t max;
    } limits[] = {{4, ZN_METHOD_MAX}, {5, ZN_ID_MAX},    {7, ZN_ID_MAX},
                  {8, ZN_ID_MAX},     {9, ZN_ROLES_MAX}, {12, ZN_FAULT_MESSAGE_MAX - 1},
                  {6, ZN_TOKEN_MAX}};

    for (size_t i = 0; i < ZN_ARRAY_COUNT(limits); i++) {
        s_decode_text(limits[i].key, big, limits[i].max, 0);
        s_decode_text(limits[i].key, big, limits[i].max + 1, ZN_ETOOBIG);
        s_decode_text(limits[i].key, "a\0b", 3, limits[i].key == 6 ? 0 : -EBADMSG);
    }
}

static void
test_env_other_major(void **state)
{
    (void)state;
    zn_pack_t *p = zn_pack_new();
    /* Major 2 with a key whose meaning changed: still ZN_EVERSION, and the id is known. */
    zn_pack_map(p, 4);
    zn_pack_u64(p, 4);
    zn_pack_array(p, 0);
    zn_pack_u64(p, 3);
    zn_pack_bin(p, s_id, 16);
    zn_pack_u64(p, 0);
    zn_pack_u64(p, 2);
    zn_pack_u64(p, 2);
    zn_pack_u64(p, 9);
    zn_env_t got;
    zn_fault_t fault;
    assert_int_equal(s_decode(p, &got, &fault), ZN_EVERSION);
    assert_memory_equal(got.id.bytes, s_id, 16);
    assert_int_equal(got.major, 2);
    zn_pack_destroy(&p);
}

static void
test_env_unknown_keys_ignored(void **state)
{
    (void)state;
    zn_pack_t *p = zn_pack_new();
    s_header(p, 5, ZN_KIND_CALL);
    zn_pack_u64(p, 99); /* a key from a newer minor */
    zn_pack_map(p, 1);
    zn_pack_str(p, "k");
    zn_pack_array(p, 2);
    zn_pack_nil(p);
    zn_pack_nil(p);
    zn_pack_str(p, "name"); /* a string key */
    zn_pack_str(p, "ignored");
    zn_pack_array(p, 1); /* a container key */
    zn_pack_u64(p, 4);
    zn_pack_str(p, "ignored");
    zn_pack_i64(p, -4); /* a negative key */
    zn_pack_bool(p, true);
    zn_pack_u64(p, 4);
    zn_pack_str(p, "scheduler.select");
    zn_env_t got;
    zn_fault_t fault;
    assert_int_equal(s_decode(p, &got, &fault), 0);
    assert_string_equal(got.method, "scheduler.select");
    zn_pack_destroy(&p);
}

static void
test_env_repeated_key_and_bad_kind(void **state)
{
    (void)state;
    zn_pack_t *p = zn_pack_new();
    s_header(p, 2, ZN_KIND_CALL);
    zn_pack_u64(p, 4);
    zn_pack_str(p, "a");
    zn_pack_u64(p, 4);
    zn_pack_str(p, "b");
    zn_env_t got;
    zn_fault_t fault;
    assert_int_equal(s_decode(p, &got, &fault), -EBADMSG);
    assert_non_null(strstr(fault.message, "repeated"));

    for (uint64_t kind = 0; kind < 7; kind += 5) {
        zn_pack_reset(p);
        s_header(p, 0, kind);
        assert_int_equal(s_decode(p, &got, &fault), -EBADMSG);
    }
    zn_pack_destroy(&p);
}

static void
test_env_trailing_garbage(void **state)
{
    (void)state;
    zn_pack_t *p = zn_pack_new();
    s_header(p, 0, ZN_KIND_REPLY);
    zn_pack_u64(p, 1); /* body */
    zn_pack_u64(p, 2); /* a second object: garbage */
    zn_env_t got;
    zn_fault_t fault;
    assert_int_equal(s_decode(p, &got, &fault), -EBADMSG);
    assert_non_null(strstr(fault.message, "trailing"));

    zn_pack_reset(p);
    zn_pack_array(p, 0); /* a header that is not a map */
    assert_int_equal(s_decode(p, &got, &fault), -EBADMSG);
    assert_int_equal(zn_env_decode(&got, (zn_buf_t){NULL, 0}, &fault), -EBADMSG);
    zn_pack_destroy(&p);
}

static void
test_env_id_set_on_failure(void **state)
{
    (void)state;
    zn_pack_t *p = zn_pack_new();
    s_header(p, 1, ZN_KIND_CALL);
    zn_pack_u64(p, 4);
    zn_pack_u64(p, 7); /* method of the wrong type */
    zn_env_t got;
    zn_fault_t fault;
    assert_int_equal(s_decode(p, &got, &fault), -EBADMSG);
    assert_memory_equal(got.id.bytes, s_id, 16);
    assert_string_equal(fault.message, "header method: expected string");

    /* Even when the header is cut short after the id. */
    zn_pack_reset(p);
    s_header(p, 1, ZN_KIND_CALL);
    zn_pack_u64(p, 4);
    zn_buf_t cut = zn_pack_buf(p);
    assert_int_equal(zn_env_decode(&got, cut, &fault), -EBADMSG);
    assert_memory_equal(got.id.bytes, s_id, 16);
    zn_pack_destroy(&p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_env_example),
        cmocka_unit_test(test_env_error_reply_round_trip),
        cmocka_unit_test(test_env_all_fields_round_trip),
        cmocka_unit_test(test_env_deadline_is_remaining_budget),
        cmocka_unit_test(test_env_msgid),
        cmocka_unit_test(test_env_truncated_at_every_offset),
        cmocka_unit_test(test_env_huge_declared_lengths),
        cmocka_unit_test(test_env_depth_bomb_and_reserved_bytes),
        cmocka_unit_test(test_env_wrong_types),
        cmocka_unit_test(test_env_missing_required),
        cmocka_unit_test(test_env_oversize_and_nul_strings),
        cmocka_unit_test(test_env_other_major),
        cmocka_unit_test(test_env_unknown_keys_ignored),
        cmocka_unit_test(test_env_repeated_key_and_bad_kind),
        cmocka_unit_test(test_env_trailing_garbage),
        cmocka_unit_test(test_env_id_set_on_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
