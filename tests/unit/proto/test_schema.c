/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for zn_schema: round trips of nested typed messages, copy, release, strict decoding. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "zn_mem.h"
#include "zn_mp.h"
#include "zn_schema.h"

typedef struct {
    char *name;
    uint64_t disk_gb;
} flavor_t;

typedef struct {
    char *mac;
    char *ip;
} nic_t;

typedef struct {
    char *name;
    int64_t vcpus;
    uint64_t memory_mb;
    double ratio;
    bool active;
    zn_bytes_t key;
    char **tags;
    size_t tag_count;
    flavor_t flavor;
    nic_t *nics;
    size_t nic_count;
} instance_t;

static const zn_field_t s_flavor_fields[] = {
    {"name", ZN_FT_STR, ZN_F_REQUIRED, offsetof(flavor_t, name), 0, 0, NULL},
    {"disk_gb", ZN_FT_U64, 0, offsetof(flavor_t, disk_gb), 0, 0, NULL},
};
static const zn_schema_t s_flavor = {"flavor", 1, s_flavor_fields, 2, sizeof(flavor_t)};

static const zn_field_t s_nic_fields[] = {
    {"mac", ZN_FT_STR, ZN_F_REQUIRED, offsetof(nic_t, mac), 0, 17, NULL},
    {"ip", ZN_FT_STR, 0, offsetof(nic_t, ip), 0, 0, NULL},
};
static const zn_schema_t s_nic = {"nic", 1, s_nic_fields, 2, sizeof(nic_t)};

static const zn_field_t s_instance_fields[] = {
    {"name", ZN_FT_STR, ZN_F_REQUIRED, offsetof(instance_t, name), 0, 32, NULL},
    {"vcpus", ZN_FT_I64, 0, offsetof(instance_t, vcpus), 0, 0, NULL},
    {"memory_mb", ZN_FT_U64, 0, offsetof(instance_t, memory_mb), 0, 0, NULL},
    {"ratio", ZN_FT_F64, 0, offsetof(instance_t, ratio), 0, 0, NULL},
    {"active", ZN_FT_BOOL, 0, offsetof(instance_t, active), 0, 0, NULL},
    {"key", ZN_FT_BIN, 0, offsetof(instance_t, key), 0, 8, NULL},
    {"tags", ZN_FT_STRLIST, 0, offsetof(instance_t, tags), offsetof(instance_t, tag_count), 3,
     NULL},
    {"flavor", ZN_FT_OBJ, ZN_F_REQUIRED, offsetof(instance_t, flavor), 0, 0, &s_flavor},
    {"nics", ZN_FT_OBJLIST, 0, offsetof(instance_t, nics), offsetof(instance_t, nic_count), 0,
     &s_nic},
};
static const zn_schema_t s_instance = {"instance", 3, s_instance_fields,
                                       ZN_ARRAY_COUNT(s_instance_fields), sizeof(instance_t)};

static void
s_fill(instance_t *vm)
{
    memset(vm, 0, sizeof(*vm));
    vm->name = zn_strdup("vm-1");
    vm->vcpus = -2;
    vm->memory_mb = UINT64_MAX;
    vm->ratio = 1.5;
    vm->active = true;
    vm->key.ptr = zn_malloc(3);
    memcpy(vm->key.ptr, "\x00\x01\x02", 3);
    vm->key.len = 3;
    vm->tag_count = 2;
    vm->tags = zn_calloc(2, sizeof(char *));
    vm->tags[0] = zn_strdup("web");
    vm->tags[1] = NULL;
    vm->flavor.name = zn_strdup("m1.tiny");
    vm->flavor.disk_gb = 10;
    vm->nic_count = 2;
    vm->nics = zn_calloc(2, sizeof(nic_t));
    vm->nics[0].mac = zn_strdup("fa:16:3e:00:00:01");
    vm->nics[0].ip = zn_strdup("10.0.0.5");
    vm->nics[1].mac = zn_strdup("fa:16:3e:00:00:02");
}

static void
s_assert_same(const instance_t *a, const instance_t *b)
{
    assert_string_equal(a->name, b->name);
    assert_true(a->vcpus == b->vcpus);
    assert_true(a->memory_mb == b->memory_mb);
    assert_true(a->ratio == b->ratio);
    assert_int_equal(a->active, b->active);
    assert_int_equal(a->key.len, b->key.len);
    assert_memory_equal(a->key.ptr, b->key.ptr, a->key.len);
    assert_int_equal(a->tag_count, b->tag_count);
    assert_string_equal(a->tags[0], b->tags[0]);
    assert_null(b->tags[1]);
    assert_string_equal(a->flavor.name, b->flavor.name);
    assert_true(a->flavor.disk_gb == b->flavor.disk_gb);
    assert_int_equal(a->nic_count, b->nic_count);
    assert_string_equal(a->nics[0].mac, b->nics[0].mac);
    assert_string_equal(a->nics[0].ip, b->nics[0].ip);
    assert_string_equal(a->nics[1].mac, b->nics[1].mac);
    assert_null(b->nics[1].ip);
}

static void
test_schema_example(void **state)
{
    (void)state;
    /* A flavor is a struct plus its field table; encode packs a map keyed by field name. */
    char name[] = "m1.small";
    flavor_t small = {.name = name, .disk_gb = 20};
    zn_pack_t *p = zn_pack_new();
    zn_schema_encode(&s_flavor, &small, p);

    /* Decode strictly into a fresh struct, which then owns its strings. */
    flavor_t got;
    uint32_t version = 0;
    zn_fault_t fault = {0};
    assert_int_equal(zn_schema_decode(&s_flavor, zn_pack_buf(p), &got, &version, &fault), 0);
    assert_int_equal(version, 1);
    assert_string_equal(got.name, "m1.small");
    assert_int_equal(got.disk_gb, 20);

    char *json = NULL;
    assert_int_equal(zn_mp_to_json(zn_pack_buf(p), &json, &fault), 0);
    assert_string_equal(json, "{\"_v\":1,\"name\":\"m1.small\",\"disk_gb\":20}");
    zn_str_free(&json);

    zn_schema_release(&s_flavor, &got);
    assert_null(got.name);
    zn_schema_release(&s_flavor, &got); /* safe twice */
    zn_pack_destroy(&p);
}

static void
test_schema_nested_round_trip_and_copy(void **state)
{
    (void)state;
    instance_t vm;
    s_fill(&vm);
    zn_pack_t *p = zn_pack_new();
    zn_schema_encode(&s_instance, &vm, p);

    instance_t got;
    uint32_t version = 0;
    zn_fault_t fault = {0};
    assert_int_equal(zn_schema_decode(&s_instance, zn_pack_buf(p), &got, &version, &fault), 0);
    assert_int_equal(version, 3);
    s_assert_same(&vm, &got);

    instance_t copy;
    zn_schema_copy(&s_instance, &copy, &got);
    zn_schema_release(&s_instance, &got);
    s_assert_same(&vm, &copy);
    assert_ptr_not_equal(copy.nics, vm.nics);

    /* The copy encodes to the same bytes as the original. */
    zn_pack_t *again = zn_pack_new();
    zn_schema_encode(&s_instance, &copy, again);
    assert_int_equal(zn_pack_buf(again).len, zn_pack_buf(p).len);
    assert_memory_equal(zn_pack_buf(again).ptr, zn_pack_buf(p).ptr, zn_pack_buf(p).len);

    zn_schema_release(&s_instance, &copy);
    zn_schema_release(&s_instance, &vm);
    zn_pack_destroy(&again);
    zn_pack_destroy(&p);
}

static void
test_schema_empty_and_null_values(void **state)
{
    (void)state;
    char name[] = "bare";
    char flavor[] = "f";
    instance_t vm = {0};
    vm.name = name;
    vm.flavor.name = flavor;
    zn_pack_t *p = zn_pack_new();
    zn_schema_encode(&s_instance, &vm, p);
    instance_t got;
    zn_fault_t fault;
    assert_int_equal(zn_schema_decode(&s_instance, zn_pack_buf(p), &got, NULL, &fault), 0);
    assert_null(got.key.ptr);
    assert_null(got.tags);
    assert_int_equal(got.tag_count, 0);
    assert_null(got.nics); /* an empty list allocates nothing */
    assert_int_equal(got.nic_count, 0);
    zn_schema_release(&s_instance, &got);
    zn_pack_destroy(&p);
}

/* ---- malformed input ------------------------------------------------------------------------ */

/* Pack an instance map whose field KEY holds what PACK_VALUE packs; the rest is valid. */
static void
s_pack_with(zn_pack_t *p, const char *key, void (*pack_value)(zn_pack_t *p))
{
    zn_pack_reset(p);
    zn_pack_map(p, 3);
    zn_pack_str(p, strcmp(key, "name") == 0 ? "ignored" : "name");
    zn_pack_str(p, "vm");
    zn_pack_str(p, strcmp(key, "flavor") == 0 ? "ignored" : "flavor");
    zn_pack_map(p, 1);
    zn_pack_str(p, "name");
    zn_pack_str(p, "f");
    zn_pack_str(p, key);
    pack_value(p);
}

static void
s_expect_fail(zn_pack_t *p, int code, const char *message)
{
    instance_t got;
    zn_fault_t fault = {0};
    assert_int_equal(zn_schema_decode(&s_instance, zn_pack_buf(p), &got, NULL, &fault), code);
    assert_string_equal(fault.message, message);
    /* On failure the struct holds nothing. */
    instance_t zero = {0};
    assert_memory_equal(&got, &zero, sizeof(got));
}

static void
s_str(zn_pack_t *p)
{
    zn_pack_str(p, "x");
}

static void
s_neg(zn_pack_t *p)
{
    zn_pack_i64(p, -1);
}

static void
s_huge(zn_pack_t *p)
{
    zn_pack_u64(p, UINT64_MAX);
}

static void
s_long_name(zn_pack_t *p)
{
    zn_pack_str(p, "0123456789012345678901234567890123");
}

static void
s_nul_name(zn_pack_t *p)
{
    zn_pack_strn(p, "a\0b", 3);
}

static void
s_four_tags(zn_pack_t *p)
{
    zn_pack_array(p, 4);
    for (int i = 0; i < 4; i++) {
        zn_pack_str(p, "t");
    }
}

static void
s_tags_with_int(zn_pack_t *p)
{
    zn_pack_array(p, 2);
    zn_pack_str(p, "ok");
    zn_pack_u64(p, 1);
}

static void
s_nics_bad_second(zn_pack_t *p)
{
    zn_pack_array(p, 2);
    zn_pack_map(p, 2);
    zn_pack_str(p, "mac");
    zn_pack_str(p, "m0");
    zn_pack_str(p, "ip");
    zn_pack_str(p, "10.0.0.1");
    zn_pack_map(p, 1);
    zn_pack_str(p, "mac");
    zn_pack_u64(p, 5);
}

static void
s_nics_missing_mac(zn_pack_t *p)
{
    zn_pack_array(p, 1);
    zn_pack_map(p, 1);
    zn_pack_str(p, "ip");
    zn_pack_str(p, "10.0.0.1");
}

static void
s_long_key(zn_pack_t *p)
{
    zn_pack_bin(p, "123456789", 9);
}

static void
s_nil(zn_pack_t *p)
{
    zn_pack_nil(p);
}

static void
s_float(zn_pack_t *p)
{
    zn_pack_f64(p, 2.5);
}

static void
test_schema_wrong_types_and_limits(void **state)
{
    (void)state;

    static const struct {
        const char *key;
        void (*pack)(zn_pack_t *p);
        int code;
        const char *message;
    } cases[] = {
        {"vcpus", s_str, -EBADMSG, "instance.vcpus: expected integer"},
        {"vcpus", s_huge, -EBADMSG, "instance.vcpus: integer out of range"},
        {"vcpus", s_float, -EBADMSG, "instance.vcpus: expected integer"},
        {"memory_mb", s_neg, -EBADMSG, "instance.memory_mb: expected unsigned integer"},
        {"ratio", s_str, -EBADMSG, "instance.ratio: expected number"},
        {"active", s_neg, -EBADMSG, "instance.active: expected boolean"},
        {"key", s_str, -EBADMSG, "instance.key: expected bin"},
        {"key", s_long_key, ZN_ETOOBIG, "instance.key: 9 bytes, limit 8"},
        {"name", s_long_name, ZN_ETOOBIG, "instance.name: 34 bytes, limit 32"},
        {"name", s_nul_name, -EBADMSG, "instance.name: embedded NUL"},
        {"name", s_nil, -EBADMSG, "instance.name: missing"},
        {"tags", s_str, -EBADMSG, "instance.tags: expected array"},
        {"tags", s_four_tags, ZN_ETOOBIG, "instance.tags: 4 elements, limit 3"},
        {"tags", s_tags_with_int, -EBADMSG, "instance.tags[1]: expected string"},
        {"flavor", s_str, -EBADMSG, "instance.flavor: expected map"},
        {"nics", s_nics_bad_second, -EBADMSG, "instance.nics[1].mac: expected string"},
        {"nics", s_nics_missing_mac, -EBADMSG, "instance.nics[0].mac: missing"},
        {"_v", s_neg, -EBADMSG, "instance._v: expected unsigned 32-bit integer"},
        {"_v", s_huge, -EBADMSG, "instance._v: expected unsigned 32-bit integer"},
    };

    zn_pack_t *p = zn_pack_new();
    for (size_t i = 0; i < ZN_ARRAY_COUNT(cases); i++) {
        s_pack_with(p, cases[i].key, cases[i].pack);
        s_expect_fail(p, cases[i].code, cases[i].message);
    }
    /* F64 takes integers; I64 takes both signs. */
    s_pack_with(p, "ratio", s_neg);
    instance_t got;
    assert_int_equal(zn_schema_decode(&s_instance, zn_pack_buf(p), &got, NULL, NULL), 0);
    assert_true(got.ratio == -1.0);
    zn_schema_release(&s_instance, &got);
    zn_pack_destroy(&p);
}

static void
s_flavor_missing_name(zn_pack_t *p)
{
    zn_pack_map(p, 0);
}

static void
test_schema_structure_errors(void **state)
{
    (void)state;
    zn_pack_t *p = zn_pack_new();
    zn_pack_array(p, 0);
    s_expect_fail(p, -EBADMSG, "instance: expected map");

    /* Missing required field, at the top and nested. */
    zn_pack_reset(p);
    zn_pack_map(p, 0);
    s_expect_fail(p, -EBADMSG, "instance.name: missing");
    s_pack_with(p, "flavor", s_flavor_missing_name);
    s_expect_fail(p, -EBADMSG, "instance.flavor.name: missing");

    /* Trailing bytes, a repeated key, malformed bytes. */
    s_pack_with(p, "unknown", s_str);
    zn_pack_nil(p);
    s_expect_fail(p, -EBADMSG, "instance: 1 trailing bytes");
    s_pack_with(p, "name", s_str);
    zn_buf_t buf = zn_pack_buf(p);
    uint8_t *twice = zn_malloc(buf.len + 7);
    memcpy(twice, buf.ptr, buf.len);
    twice[0] = 0x84; /* one more entry: "name": "y" again */
    memcpy(twice + buf.len, "\xa4name\xa1y", 7);
    zn_pack_reset(p);
    zn_pack_raw(p, (zn_buf_t){twice, buf.len + 7});
    zn_free(twice);
    s_expect_fail(p, -EBADMSG, "instance.name: repeated");

    const uint8_t ext[] = {0x81, 0xa4, 'n', 'a', 'm', 'e', 0xd4, 0x01, 0x01};
    zn_pack_reset(p);
    zn_pack_raw(p, (zn_buf_t){ext, sizeof(ext)});
    s_expect_fail(p, -EBADMSG, "instance: msgpack offset 6: extension type 0xd4 refused");
    zn_pack_destroy(&p);
}

static void
test_schema_unknown_keys_ignored(void **state)
{
    (void)state;
    zn_pack_t *p = zn_pack_new();
    zn_pack_map(p, 5);
    zn_pack_u64(p, 7); /* a key that is not a string */
    zn_pack_str(p, "x");
    zn_pack_str(p, "name");
    zn_pack_str(p, "vm");
    zn_pack_str(p, "future_field");
    zn_pack_map(p, 1);
    zn_pack_array(p, 1);
    zn_pack_nil(p);
    zn_pack_array(p, 0);
    zn_pack_str(p, "flavor");
    zn_pack_map(p, 2);
    zn_pack_str(p, "_v"); /* nested maps have no version: an unknown key there */
    zn_pack_u64(p, 9);
    zn_pack_str(p, "name");
    zn_pack_str(p, "f");
    zn_pack_str(p, "vcpus");
    zn_pack_nil(p);
    instance_t got;
    uint32_t version = 99;
    zn_fault_t fault = {0};
    assert_int_equal(zn_schema_decode(&s_instance, zn_pack_buf(p), &got, &version, &fault), 0);
    assert_int_equal(version, 0);
    assert_string_equal(got.name, "vm");
    assert_string_equal(got.flavor.name, "f");
    assert_int_equal(got.vcpus, 0);
    zn_schema_release(&s_instance, &got);
    zn_pack_destroy(&p);
}

static void
test_schema_truncated_at_every_offset(void **state)
{
    (void)state;
    instance_t vm;
    s_fill(&vm);
    zn_pack_t *p = zn_pack_new();
    zn_schema_encode(&s_instance, &vm, p);
    zn_schema_release(&s_instance, &vm);
    zn_buf_t full = zn_pack_buf(p);
    for (size_t len = 0; len < full.len; len++) {
        uint8_t *cut = zn_malloc(len);
        memcpy(cut, full.ptr, len);
        instance_t got;
        assert_int_equal(zn_schema_decode(&s_instance, (zn_buf_t){cut, len}, &got, NULL, NULL),
                         -EBADMSG);
        zn_free(cut);
    }
    zn_pack_destroy(&p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema_example),
        cmocka_unit_test(test_schema_nested_round_trip_and_copy),
        cmocka_unit_test(test_schema_empty_and_null_values),
        cmocka_unit_test(test_schema_wrong_types_and_limits),
        cmocka_unit_test(test_schema_structure_errors),
        cmocka_unit_test(test_schema_unknown_keys_ignored),
        cmocka_unit_test(test_schema_truncated_at_every_offset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
