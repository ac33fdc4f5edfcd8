/* SPDX-License-Identifier: Apache-2.0 */
/* zn_mp.c - packing over msgpack-c, and the strict checker and JSON view of untrusted bytes. */
#include "zn_mp.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>
#include <sodium.h>

#include "zn_mem.h"
#include "zn_mpread.h"

struct zn_pack {
    uint8_t *data;
    size_t len;
    size_t cap;
    msgpack_packer packer;
};

static void
s_pack_append(zn_pack_t *self, const void *ptr, size_t len)
{
    if (len == 0) {
        return; /* an empty string or bin may come as a NULL pointer: memcpy must not see it */
    }
    if (len > self->cap - self->len) {
        size_t cap = self->cap;
        while (len > cap - self->len) {
            cap *= 2;
        }
        self->data = zn_realloc(self->data, cap);
        self->cap = cap;
    }
    memcpy(self->data + self->len, ptr, len);
    self->len += len;
}

/* msgpack-c's sink. It writes into our buffer so that running out of memory aborts in zn_realloc
 * like everywhere else, and the packer itself can never report a failure. */
static int
s_pack_write(void *data, const char *buf, size_t len)
{
    s_pack_append(data, buf, len);
    return 0;
}

zn_pack_t *
zn_pack_new(void)
{
    zn_pack_t *self = zn_calloc(1, sizeof(*self));
    self->cap = 256;
    self->data = zn_malloc(self->cap);
    msgpack_packer_init(&self->packer, self, s_pack_write);
    return self;
}

void
zn_pack_destroy(zn_pack_t **self_p)
{
    if (*self_p == NULL) {
        return;
    }
    zn_free((*self_p)->data);
    zn_free(*self_p);
    *self_p = NULL;
}

void
zn_pack_reset(zn_pack_t *self)
{
    self->len = 0;
}

zn_buf_t
zn_pack_buf(const zn_pack_t *self)
{
    return (zn_buf_t){self->data, self->len};
}

/* The msgpack_pack_* calls below return whatever s_pack_write returned, which is always 0. */

void
zn_pack_map(zn_pack_t *self, uint32_t count)
{
    (void)msgpack_pack_map(&self->packer, count);
}

void
zn_pack_array(zn_pack_t *self, uint32_t count)
{
    (void)msgpack_pack_array(&self->packer, count);
}

void
zn_pack_str(zn_pack_t *self, const char *s)
{
    if (s == NULL) {
        zn_pack_nil(self);
        return;
    }
    zn_pack_strn(self, s, strlen(s));
}

void
zn_pack_strn(zn_pack_t *self, const char *s, size_t len)
{
    ZN_ASSERT(len <= UINT32_MAX);
    (void)msgpack_pack_str(&self->packer, len);
    (void)msgpack_pack_str_body(&self->packer, s, len);
}

void
zn_pack_bin(zn_pack_t *self, const void *ptr, size_t len)
{
    ZN_ASSERT(len <= UINT32_MAX);
    (void)msgpack_pack_bin(&self->packer, len);
    (void)msgpack_pack_bin_body(&self->packer, ptr, len);
}

void
zn_pack_u64(zn_pack_t *self, uint64_t v)
{
    (void)msgpack_pack_uint64(&self->packer, v);
}

void
zn_pack_i64(zn_pack_t *self, int64_t v)
{
    (void)msgpack_pack_int64(&self->packer, v);
}

void
zn_pack_f64(zn_pack_t *self, double v)
{
    (void)msgpack_pack_double(&self->packer, v);
}

void
zn_pack_bool(zn_pack_t *self, bool v)
{
    if (v) {
        (void)msgpack_pack_true(&self->packer);
    } else {
        (void)msgpack_pack_false(&self->packer);
    }
}

void
zn_pack_nil(zn_pack_t *self)
{
    (void)msgpack_pack_nil(&self->packer);
}

void
zn_pack_raw(zn_pack_t *self, zn_buf_t bytes)
{
    if (bytes.len > 0) {
        s_pack_append(self, bytes.ptr, bytes.len);
    }
}

/* Open a container read at DEPTH (the number of unfinished containers around it). */
static int
s_check_push(uint64_t *pending, size_t *depth, const zn_mpval_t *val, size_t offset,
             zn_fault_t *fault)
{
    if (val->type != ZN_MPT_ARRAY && val->type != ZN_MPT_MAP) {
        return 0;
    }
    if (*depth >= ZN_MP_MAX_DEPTH) {
        return zn_fault_set(fault, ZN_ETOOBIG, "msgpack offset %zu: nested deeper than %d", offset,
                            ZN_MP_MAX_DEPTH);
    }
    uint64_t count = val->type == ZN_MPT_MAP ? 2u * (uint64_t)val->v.count : val->v.count;
    if (count > 0) {
        pending[(*depth)++] = count;
    }
    return 0;
}

int
zn_mp_check(zn_buf_t bytes, size_t *consumed, zn_fault_t *fault)
{
    uint64_t pending[ZN_MP_MAX_DEPTH]; /* elements still due in each open container */
    size_t depth = 0;
    size_t items = 0;
    zn_mpread_t reader;
    zn_mpread_init(&reader, bytes);
    do {
        size_t offset = reader.pos;
        zn_mpval_t val;
        int rc = zn_mpread_next(&reader, &val, fault);
        if (rc < 0) {
            return rc;
        }
        if (++items > ZN_MP_MAX_ITEMS) {
            return zn_fault_set(fault, ZN_ETOOBIG, "msgpack offset %zu: more than %u objects",
                                offset, ZN_MP_MAX_ITEMS);
        }
        if (depth > 0) {
            pending[depth - 1]--;
        }
        rc = s_check_push(pending, &depth, &val, offset, fault);
        if (rc < 0) {
            return rc;
        }
        while (depth > 0 && pending[depth - 1] == 0) {
            depth--;
        }
    } while (depth > 0);
    if (consumed != NULL) {
        *consumed = reader.pos;
    }
    return 0;
}

/* ---- JSON ----------------------------------------------------------------------------------- */

typedef struct {
    char *data;
    size_t len;
    size_t cap;
} s_text_t;

/* Make room for LEN more bytes plus a NUL. */
static void
s_text_reserve(s_text_t *text, size_t len)
{
    if (len + 1 <= text->cap - text->len) {
        return;
    }
    size_t cap = text->cap;
    while (len + 1 > cap - text->len) {
        cap *= 2;
    }
    text->data = zn_realloc(text->data, cap);
    text->cap = cap;
}

static void
s_text_put(s_text_t *text, const void *ptr, size_t len)
{
    s_text_reserve(text, len);
    memcpy(text->data + text->len, ptr, len);
    text->len += len;
    text->data[text->len] = '\0';
}

static void
s_text_puts(s_text_t *text, const char *s)
{
    s_text_put(text, s, strlen(s));
}

/* The length of the valid UTF-8 sequence at P, or 0 when it is invalid (overlong, surrogate,
 * beyond U+10FFFF, or cut short). */
static size_t
s_utf8_len(const uint8_t *p, size_t left)
{
    static const uint32_t min_code[5] = {0, 0, 0x80, 0x800, 0x10000};
    size_t n = 0;
    uint32_t code = 0;
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        n = 2;
        code = p[0] & 0x1fu;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        n = 3;
        code = p[0] & 0x0fu;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        n = 4;
        code = p[0] & 0x07u;
    }
    if (n == 0 || n > left) {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0u) != 0x80u) {
            return 0;
        }
        code = (code << 6) | (p[i] & 0x3fu);
    }
    if (code < min_code[n] || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) {
        return 0;
    }
    return n;
}

/* Append the escape for P[0], or the valid UTF-8 sequence there; return the bytes used. */
static size_t
s_json_escape_one(s_text_t *text, const uint8_t *p, size_t left)
{
    char esc[8];
    switch (p[0]) {
    case '"':
        s_text_puts(text, "\\\"");
        return 1;
    case '\\':
        s_text_puts(text, "\\\\");
        return 1;
    case '\n':
        s_text_puts(text, "\\n");
        return 1;
    case '\r':
        s_text_puts(text, "\\r");
        return 1;
    case '\t':
        s_text_puts(text, "\\t");
        return 1;
    default:
        break;
    }
    if (p[0] < 0x20) {
        snprintf(esc, sizeof(esc), "\\u%04x", p[0]);
        s_text_puts(text, esc);
        return 1;
    }
    size_t n = s_utf8_len(p, left);
    if (n == 0) {
        s_text_puts(text, "\\ufffd");
        return 1;
    }
    s_text_put(text, p, n);
    return n;
}

static void
s_json_string(s_text_t *text, const uint8_t *p, size_t len)
{
    s_text_put(text, "\"", 1);
    size_t i = 0;
    while (i < len) {
        /* Copy runs of plain ASCII in one go; only the rest needs a closer look. */
        size_t run = i;
        while (run < len && p[run] >= 0x20 && p[run] < 0x80 && p[run] != '"' && p[run] != '\\') {
            run++;
        }
        s_text_put(text, p + i, run - i);
        i = run;
        if (i < len) {
            i += s_json_escape_one(text, p + i, len - i);
        }
    }
    s_text_put(text, "\"", 1);
}

static void
s_json_base64(s_text_t *text, zn_buf_t bin)
{
    size_t size = sodium_base64_ENCODED_LEN(bin.len, sodium_base64_VARIANT_ORIGINAL);
    s_text_put(text, "\"", 1);
    s_text_reserve(text, size);
    sodium_bin2base64(text->data + text->len, size, bin.ptr, bin.len,
                      sodium_base64_VARIANT_ORIGINAL);
    text->len += size - 1;
    s_text_put(text, "\"", 1);
}

static void
s_json_number(s_text_t *text, const zn_mpval_t *val)
{
    char num[40];
    if (val->type == ZN_MPT_UINT) {
        snprintf(num, sizeof(num), "%" PRIu64, val->v.u);
    } else if (val->type == ZN_MPT_INT) {
        snprintf(num, sizeof(num), "%" PRId64, val->v.i);
    } else if (!isfinite(val->v.f)) {
        snprintf(num, sizeof(num), "null"); /* JSON has no NaN or infinity */
    } else {
        /* The shortest of the two precisions that reads back as the same double. */
        snprintf(num, sizeof(num), "%.15g", val->v.f);
        if (strtod(num, NULL) != val->v.f) {
            snprintf(num, sizeof(num), "%.17g", val->v.f);
        }
    }
    s_text_puts(text, num);
}

static int s_json_value(zn_mpread_t *reader, const zn_mpval_t *val, s_text_t *text);

/* Render the next object. Recursion is bounded: zn_mp_check already limited the depth. */
static int
s_json_next(zn_mpread_t *reader, s_text_t *text, bool as_key)
{
    zn_mpval_t val;
    int rc = zn_mpread_next(reader, &val, NULL);
    if (rc < 0) {
        return rc;
    }
    if (!as_key || val.type == ZN_MPT_STR || val.type == ZN_MPT_BIN) {
        return s_json_value(reader, &val, text);
    }
    /* JSON keys are strings: render any other key as JSON, then quote that text. */
    size_t start = text->len;
    rc = s_json_value(reader, &val, text);
    if (rc < 0) {
        return rc;
    }
    size_t len = text->len - start;
    char *raw = zn_strndup(text->data + start, len);
    text->len = start;
    s_json_string(text, (const uint8_t *)raw, len);
    zn_free(raw);
    return 0;
}

static int
s_json_container(zn_mpread_t *reader, const zn_mpval_t *val, s_text_t *text)
{
    bool is_map = val->type == ZN_MPT_MAP;
    s_text_put(text, is_map ? "{" : "[", 1);
    for (uint32_t i = 0; i < val->v.count; i++) {
        if (i > 0) {
            s_text_put(text, ",", 1);
        }
        int rc = s_json_next(reader, text, is_map);
        if (rc == 0 && is_map) {
            s_text_put(text, ":", 1);
            rc = s_json_next(reader, text, false);
        }
        if (rc < 0) {
            return rc;
        }
    }
    s_text_put(text, is_map ? "}" : "]", 1);
    return 0;
}

static int
s_json_value(zn_mpread_t *reader, const zn_mpval_t *val, s_text_t *text)
{
    switch (val->type) {
    case ZN_MPT_NIL:
        s_text_puts(text, "null");
        return 0;
    case ZN_MPT_BOOL:
        s_text_puts(text, val->v.b ? "true" : "false");
        return 0;
    case ZN_MPT_STR:
        s_json_string(text, val->v.bytes.ptr, val->v.bytes.len);
        return 0;
    case ZN_MPT_BIN:
        s_json_base64(text, val->v.bytes);
        return 0;
    case ZN_MPT_ARRAY:
    case ZN_MPT_MAP:
        return s_json_container(reader, val, text);
    default:
        s_json_number(text, val);
        return 0;
    }
}

int
zn_mp_to_json(zn_buf_t bytes, char **out, zn_fault_t *fault)
{
    *out = NULL;
    size_t consumed = 0;
    int rc = zn_mp_check(bytes, &consumed, fault);
    if (rc < 0) {
        return rc;
    }
    s_text_t text = {zn_malloc(64), 0, 64};
    text.data[0] = '\0';
    zn_mpread_t reader;
    zn_mpread_init(&reader, (zn_buf_t){bytes.ptr, consumed});
    rc = s_json_next(&reader, &text, false);
    if (rc < 0) {
        zn_free(text.data);
        return zn_fault_set(fault, rc, "msgpack: cannot render as json");
    }
    *out = text.data;
    return 0;
}
