/* SPDX-License-Identifier: Apache-2.0 */
/* zn_schema.c - typed messages: field-table driven encode, strict decode, release and copy. */
#include "zn_schema.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "zn_mem.h"
#include "zn_mpread.h"

/* Fields per schema: the decoder tracks which it has seen in a bitmap on its stack. */
#define S_FIELDS_MAX 256u
#define S_PATH_MAX   192u

/* Decoding state: the cursor, and the dotted path of the value being read, for messages such
 * as "instance.nics[1].mac: expected string". */
typedef struct {
    zn_mpread_t reader;
    zn_fault_t *fault;
    size_t path_len;
    char path[S_PATH_MAX];
} s_decoder_t;

static void *
s_at(void *obj, size_t offset)
{
    return (uint8_t *)obj + offset;
}

static const void *
s_const_at(const void *obj, size_t offset)
{
    return (const uint8_t *)obj + offset;
}

static size_t
s_count(const void *obj, const zn_field_t *field)
{
    const size_t *count = s_const_at(obj, field->count_offset);
    return *count;
}

static uint32_t
s_max(const zn_field_t *field, uint32_t fallback)
{
    return field->max != 0 ? field->max : fallback;
}

/* ---- encode --------------------------------------------------------------------------------- */

static void s_encode_fields(const zn_schema_t *schema, const void *obj, zn_pack_t *out);

static void
s_encode_list(const zn_field_t *field, const void *obj, zn_pack_t *out)
{
    size_t count = s_count(obj, field);
    ZN_ASSERT(count <= UINT32_MAX);
    zn_pack_array(out, (uint32_t)count);
    if (field->type == ZN_FT_STRLIST) {
        char *const *const *list = s_const_at(obj, field->offset);
        for (size_t i = 0; i < count; i++) {
            zn_pack_str(out, (*list)[i]);
        }
        return;
    }
    const void *const *list = s_const_at(obj, field->offset);
    for (size_t i = 0; i < count; i++) {
        zn_pack_map(out, (uint32_t)field->sub->field_count);
        s_encode_fields(field->sub, s_const_at(*list, i * field->sub->size), out);
    }
}

static void
s_encode_bin(const zn_bytes_t *bin, zn_pack_t *out)
{
    if (bin->ptr == NULL) {
        zn_pack_nil(out);
    } else {
        zn_pack_bin(out, bin->ptr, bin->len);
    }
}

static void
s_encode_field(const zn_field_t *field, const void *obj, zn_pack_t *out)
{
    const void *at = s_const_at(obj, field->offset);
    const char *const *str = at;
    const int64_t *i64 = at;
    const uint64_t *u64 = at;
    const bool *flag = at;
    const double *f64 = at;
    switch (field->type) {
    case ZN_FT_STR:
        zn_pack_str(out, *str);
        break;
    case ZN_FT_I64:
        zn_pack_i64(out, *i64);
        break;
    case ZN_FT_U64:
        zn_pack_u64(out, *u64);
        break;
    case ZN_FT_BOOL:
        zn_pack_bool(out, *flag);
        break;
    case ZN_FT_F64:
        zn_pack_f64(out, *f64);
        break;
    case ZN_FT_BIN:
        s_encode_bin(at, out);
        break;
    case ZN_FT_OBJ:
        zn_pack_map(out, (uint32_t)field->sub->field_count);
        s_encode_fields(field->sub, at, out);
        break;
    case ZN_FT_STRLIST:
    case ZN_FT_OBJLIST:
        s_encode_list(field, obj, out);
        break;
    }
}

static void
s_encode_fields(const zn_schema_t *schema, const void *obj, zn_pack_t *out)
{
    for (size_t i = 0; i < schema->field_count; i++) {
        zn_pack_str(out, schema->fields[i].name);
        s_encode_field(&schema->fields[i], obj, out);
    }
}

void
zn_schema_encode(const zn_schema_t *schema, const void *obj, zn_pack_t *out)
{
    ZN_ASSERT(schema->field_count < UINT32_MAX);
    zn_pack_map(out, (uint32_t)schema->field_count + 1);
    zn_pack_str(out, "_v");
    zn_pack_u64(out, schema->version);
    s_encode_fields(schema, obj, out);
}

/* ---- decode --------------------------------------------------------------------------------- */

static size_t s_path_push(s_decoder_t *dec, const char *fmt, ...) ZN_PRINTF(2, 3);

/* Append to the path; return the length to restore with s_path_pop. */
static size_t
s_path_push(s_decoder_t *dec, const char *fmt, ...)
{
    size_t saved = dec->path_len;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(dec->path + saved, sizeof(dec->path) - saved, fmt, ap);
    va_end(ap);
    size_t added = n > 0 ? (size_t)n : 0;
    dec->path_len = saved + added < sizeof(dec->path) ? saved + added : sizeof(dec->path) - 1;
    return saved;
}

static void
s_path_pop(s_decoder_t *dec, size_t saved)
{
    dec->path_len = saved;
    dec->path[saved] = '\0';
}

static int
s_fail(const s_decoder_t *dec, int code, const char *what)
{
    return zn_fault_set(dec->fault, code, "%s: %s", dec->path, what);
}

static int
s_next(s_decoder_t *dec, zn_mpval_t *val)
{
    /* The bytes passed zn_mp_check, so this cannot fail; keep the check for robustness. */
    int rc = zn_mpread_next(&dec->reader, val, NULL);
    return rc < 0 ? s_fail(dec, rc, "malformed") : 0;
}

/* A string of at most MAX bytes without NULs, copied into a new allocation in *out. */
static int
s_take_str(const s_decoder_t *dec, const zn_mpval_t *val, uint32_t max, char **out)
{
    if (val->type != ZN_MPT_STR) {
        return s_fail(dec, -EBADMSG, "expected string");
    }
    if (val->v.bytes.len > max) {
        char what[64];
        snprintf(what, sizeof(what), "%zu bytes, limit %u", val->v.bytes.len, max);
        return s_fail(dec, ZN_ETOOBIG, what);
    }
    if (memchr(val->v.bytes.ptr, '\0', val->v.bytes.len) != NULL) {
        return s_fail(dec, -EBADMSG, "embedded NUL");
    }
    *out = zn_strndup((const char *)val->v.bytes.ptr, val->v.bytes.len);
    return 0;
}

static int
s_take_bin(const s_decoder_t *dec, const zn_mpval_t *val, uint32_t max, zn_bytes_t *out)
{
    if (val->type != ZN_MPT_BIN) {
        return s_fail(dec, -EBADMSG, "expected bin");
    }
    if (val->v.bytes.len > max) {
        char what[64];
        snprintf(what, sizeof(what), "%zu bytes, limit %u", val->v.bytes.len, max);
        return s_fail(dec, ZN_ETOOBIG, what);
    }
    out->ptr = zn_malloc(val->v.bytes.len);
    memcpy(out->ptr, val->v.bytes.ptr, val->v.bytes.len);
    out->len = val->v.bytes.len;
    return 0;
}

static int
s_take_number(const s_decoder_t *dec, const zn_field_t *field, const zn_mpval_t *val, void *at)
{
    int64_t *i64 = at;
    uint64_t *u64 = at;
    double *f64 = at;
    if (field->type == ZN_FT_F64 && val->type == ZN_MPT_F64) {
        *f64 = val->v.f;
    } else if (field->type == ZN_FT_F64 && val->type == ZN_MPT_UINT) {
        *f64 = (double)val->v.u;
    } else if (field->type == ZN_FT_F64 && val->type == ZN_MPT_INT) {
        *f64 = (double)val->v.i;
    } else if (field->type == ZN_FT_F64) {
        return s_fail(dec, -EBADMSG, "expected number");
    } else if (field->type == ZN_FT_U64 && val->type == ZN_MPT_UINT) {
        *u64 = val->v.u;
    } else if (field->type == ZN_FT_U64) {
        return s_fail(dec, -EBADMSG, "expected unsigned integer");
    } else if (val->type == ZN_MPT_INT) {
        *i64 = val->v.i;
    } else if (val->type == ZN_MPT_UINT && val->v.u <= (uint64_t)INT64_MAX) {
        *i64 = (int64_t)val->v.u;
    } else {
        return s_fail(dec, -EBADMSG,
                      val->type == ZN_MPT_UINT ? "integer out of range" : "expected integer");
    }
    return 0;
}

static int s_decode_map(s_decoder_t *dec, const zn_schema_t *schema, void *obj,
                        const zn_mpval_t *map, uint32_t *version);

/* Decode the array element at index I of a list field into its slot. */
static int
s_decode_element(s_decoder_t *dec, const zn_field_t *field, void *list, size_t i)
{
    zn_mpval_t val;
    int rc = s_next(dec, &val);
    if (rc < 0) {
        return rc;
    }
    size_t saved = s_path_push(dec, "[%zu]", i);
    if (field->type == ZN_FT_STRLIST) {
        char **strings = list;
        if (val.type != ZN_MPT_NIL) {
            rc = s_take_str(dec, &val, ZN_SCHEMA_STR_MAX_DEFAULT, &strings[i]);
        }
    } else {
        rc = s_decode_map(dec, field->sub, s_at(list, i * field->sub->size), &val, NULL);
    }
    s_path_pop(dec, saved);
    return rc;
}

static int
s_decode_list(s_decoder_t *dec, const zn_field_t *field, const zn_mpval_t *val, void *obj)
{
    if (val->type != ZN_MPT_ARRAY) {
        return s_fail(dec, -EBADMSG, "expected array");
    }
    uint32_t max = s_max(field, ZN_SCHEMA_LIST_MAX_DEFAULT);
    if (val->v.count > max) {
        char what[64];
        snprintf(what, sizeof(what), "%u elements, limit %u", val->v.count, max);
        return s_fail(dec, ZN_ETOOBIG, what);
    }
    if (val->v.count == 0) {
        return 0; /* an empty list allocates nothing */
    }
    /* The count is bounded by the limit and by the bytes that carry it: safe to allocate. */
    size_t size = field->type == ZN_FT_STRLIST ? sizeof(char *) : field->sub->size;
    void **slot = s_at(obj, field->offset);
    size_t *count = s_at(obj, field->count_offset);
    *slot = zn_calloc(val->v.count, size);
    *count = val->v.count; /* set now: a failure half way releases what was decoded */
    for (size_t i = 0; i < *count; i++) {
        int rc = s_decode_element(dec, field, *slot, i);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

static int
s_decode_value(s_decoder_t *dec, const zn_field_t *field, const zn_mpval_t *val, void *obj)
{
    void *at = s_at(obj, field->offset);
    bool *flag = at;
    switch (field->type) {
    case ZN_FT_STR:
        return s_take_str(dec, val, s_max(field, ZN_SCHEMA_STR_MAX_DEFAULT), at);
    case ZN_FT_BIN:
        return s_take_bin(dec, val, s_max(field, ZN_SCHEMA_STR_MAX_DEFAULT), at);
    case ZN_FT_BOOL:
        if (val->type != ZN_MPT_BOOL) {
            return s_fail(dec, -EBADMSG, "expected boolean");
        }
        *flag = val->v.b;
        return 0;
    case ZN_FT_I64:
    case ZN_FT_U64:
    case ZN_FT_F64:
        return s_take_number(dec, field, val, at);
    case ZN_FT_OBJ:
        return s_decode_map(dec, field->sub, at, val, NULL);
    case ZN_FT_STRLIST:
    case ZN_FT_OBJLIST:
        return s_decode_list(dec, field, val, obj);
    }
    return s_fail(dec, -EBADMSG, "unknown field type");
}

static const zn_field_t *
s_find_field(const zn_schema_t *schema, zn_buf_t name, size_t *index)
{
    for (size_t i = 0; i < schema->field_count; i++) {
        const char *candidate = schema->fields[i].name;
        if (strlen(candidate) == name.len && memcmp(candidate, name.ptr, name.len) == 0) {
            *index = i;
            return &schema->fields[i];
        }
    }
    return NULL;
}

static int
s_decode_version(s_decoder_t *dec, uint32_t *version)
{
    zn_mpval_t val;
    int rc = s_next(dec, &val);
    if (rc < 0) {
        return rc;
    }
    if (val.type != ZN_MPT_UINT || val.v.u > UINT32_MAX) {
        size_t saved = s_path_push(dec, "._v");
        rc = s_fail(dec, -EBADMSG, "expected unsigned 32-bit integer");
        s_path_pop(dec, saved);
        return rc;
    }
    *version = (uint32_t)val.v.u;
    return 0;
}

/* Decode the value of one field whose key was just read; SEEN marks fields already present. */
static int
s_decode_entry(s_decoder_t *dec, const zn_field_t *field, size_t index, uint64_t *seen, void *obj)
{
    zn_mpval_t val;
    int rc = s_next(dec, &val);
    if (rc < 0 || val.type == ZN_MPT_NIL) {
        return rc; /* nil counts as missing */
    }
    size_t saved = s_path_push(dec, ".%s", field->name);
    if (seen[index / 64] & (1ull << (index % 64))) {
        rc = s_fail(dec, -EBADMSG, "repeated");
    } else {
        seen[index / 64] |= 1ull << (index % 64);
        rc = s_decode_value(dec, field, &val, obj);
    }
    s_path_pop(dec, saved);
    return rc;
}

/* Read one key and its value; unknown keys, and keys that are not strings, are skipped. */
static int
s_decode_key(s_decoder_t *dec, const zn_schema_t *schema, void *obj, uint64_t *seen,
             uint32_t *version)
{
    zn_mpval_t key;
    int rc = s_next(dec, &key);
    if (rc < 0) {
        return rc;
    }
    const zn_field_t *field = NULL;
    size_t index = 0;
    if (key.type == ZN_MPT_STR) {
        if (version != NULL && key.v.bytes.len == 2 && memcmp(key.v.bytes.ptr, "_v", 2) == 0) {
            return s_decode_version(dec, version);
        }
        field = s_find_field(schema, key.v.bytes, &index);
    }
    if (field == NULL) {
        rc = zn_mpread_skip_contents(&dec->reader, &key, NULL);
        rc = rc < 0 ? rc : zn_mpread_skip(&dec->reader, 1, NULL);
        return rc < 0 ? s_fail(dec, rc, "malformed") : 0;
    }
    return s_decode_entry(dec, field, index, seen, obj);
}

static int
s_check_required(s_decoder_t *dec, const zn_schema_t *schema, const uint64_t *seen)
{
    for (size_t i = 0; i < schema->field_count; i++) {
        bool present = seen[i / 64] & (1ull << (i % 64));
        if ((schema->fields[i].flags & ZN_F_REQUIRED) && !present) {
            size_t saved = s_path_push(dec, ".%s", schema->fields[i].name);
            int rc = s_fail(dec, -EBADMSG, "missing");
            s_path_pop(dec, saved);
            return rc;
        }
    }
    return 0;
}

/* Decode the map whose header MAP was just read into OBJ. Recursion is bounded by the depth
 * limit zn_mp_check enforced. VERSION is non-NULL only at the top, where "_v" lives. */
static int
s_decode_map(s_decoder_t *dec, const zn_schema_t *schema, void *obj, const zn_mpval_t *map,
             uint32_t *version)
{
    if (map->type != ZN_MPT_MAP) {
        return s_fail(dec, -EBADMSG, "expected map");
    }
    ZN_ASSERT(schema->field_count <= S_FIELDS_MAX);
    uint64_t seen[S_FIELDS_MAX / 64] = {0};
    for (uint32_t i = 0; i < map->v.count; i++) {
        int rc = s_decode_key(dec, schema, obj, seen, version);
        if (rc < 0) {
            return rc;
        }
    }
    return s_check_required(dec, schema, seen);
}

static int
s_check_bytes(const zn_schema_t *schema, zn_buf_t bytes, zn_fault_t *fault)
{
    zn_fault_t inner = {0};
    size_t consumed = 0;
    int rc = zn_mp_check(bytes, &consumed, &inner);
    if (rc < 0) {
        return zn_fault_set(fault, rc, "%s: %s", schema->name, inner.message);
    }
    if (consumed != bytes.len) {
        return zn_fault_set(fault, -EBADMSG, "%s: %zu trailing bytes", schema->name,
                            bytes.len - consumed);
    }
    return 0;
}

int
zn_schema_decode(const zn_schema_t *schema, zn_buf_t bytes, void *obj, uint32_t *version_out,
                 zn_fault_t *fault)
{
    memset(obj, 0, schema->size);
    if (version_out != NULL) {
        *version_out = 0;
    }
    int rc = s_check_bytes(schema, bytes, fault);
    if (rc < 0) {
        return rc;
    }
    s_decoder_t dec = {.fault = fault};
    zn_mpread_init(&dec.reader, bytes);
    (void)s_path_push(&dec, "%s", schema->name); /* the root: nothing to pop back to */
    uint32_t version = 0;
    zn_mpval_t map;
    rc = s_next(&dec, &map);
    if (rc == 0) {
        rc = s_decode_map(&dec, schema, obj, &map, &version);
    }
    if (rc < 0) {
        zn_schema_release(schema, obj);
        return rc;
    }
    if (version_out != NULL) {
        *version_out = version;
    }
    return 0;
}

/* ---- release and copy ----------------------------------------------------------------------- */

static void s_release_fields(const zn_schema_t *schema, void *obj);

static void
s_release_list(const zn_field_t *field, void *obj)
{
    void **slot = s_at(obj, field->offset);
    size_t count = s_count(obj, field);
    for (size_t i = 0; *slot != NULL && i < count; i++) {
        if (field->type == ZN_FT_STRLIST) {
            char **strings = *slot;
            zn_free(strings[i]);
        } else {
            s_release_fields(field->sub, s_at(*slot, i * field->sub->size));
        }
    }
    zn_free(*slot);
}

static void
s_release_fields(const zn_schema_t *schema, void *obj)
{
    for (size_t i = 0; i < schema->field_count; i++) {
        const zn_field_t *field = &schema->fields[i];
        void *at = s_at(obj, field->offset);
        char **str = at;
        zn_bytes_t *bin = at;
        switch (field->type) {
        case ZN_FT_STR:
            zn_free(*str);
            break;
        case ZN_FT_BIN:
            zn_free(bin->ptr);
            break;
        case ZN_FT_OBJ:
            s_release_fields(field->sub, at);
            break;
        case ZN_FT_STRLIST:
        case ZN_FT_OBJLIST:
            s_release_list(field, obj);
            break;
        default:
            break;
        }
    }
}

void
zn_schema_release(const zn_schema_t *schema, void *obj)
{
    s_release_fields(schema, obj);
    memset(obj, 0, schema->size);
}

static void s_deepen_fields(const zn_schema_t *schema, void *obj);

/* OBJ's list field still points at the source's array: give it its own deep copy. */
static void
s_deepen_list(const zn_field_t *field, void *obj)
{
    void **slot = s_at(obj, field->offset);
    size_t count = s_count(obj, field);
    if (*slot == NULL) {
        return;
    }
    size_t size = field->type == ZN_FT_STRLIST ? sizeof(char *) : field->sub->size;
    void *copy = zn_calloc(count, size);
    memcpy(copy, *slot, count * size);
    *slot = copy;
    for (size_t i = 0; i < count; i++) {
        if (field->type == ZN_FT_STRLIST) {
            char **strings = copy;
            strings[i] = strings[i] != NULL ? zn_strdup(strings[i]) : NULL;
        } else {
            s_deepen_fields(field->sub, s_at(copy, i * size));
        }
    }
}

static void
s_deepen_bin(zn_bytes_t *bin)
{
    if (bin->ptr != NULL) {
        uint8_t *copy = zn_malloc(bin->len);
        memcpy(copy, bin->ptr, bin->len);
        bin->ptr = copy;
    }
}

/* OBJ is a shallow copy: replace every pointer it shares with the source by its own copy. */
static void
s_deepen_fields(const zn_schema_t *schema, void *obj)
{
    for (size_t i = 0; i < schema->field_count; i++) {
        const zn_field_t *field = &schema->fields[i];
        void *at = s_at(obj, field->offset);
        char **str = at;
        switch (field->type) {
        case ZN_FT_STR:
            *str = *str != NULL ? zn_strdup(*str) : NULL;
            break;
        case ZN_FT_BIN:
            s_deepen_bin(at);
            break;
        case ZN_FT_OBJ:
            s_deepen_fields(field->sub, at);
            break;
        case ZN_FT_STRLIST:
        case ZN_FT_OBJLIST:
            s_deepen_list(field, obj);
            break;
        default:
            break;
        }
    }
}

void
zn_schema_copy(const zn_schema_t *schema, void *dst, const void *src)
{
    memcpy(dst, src, schema->size);
    s_deepen_fields(schema, dst);
}
