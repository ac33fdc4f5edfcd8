/* SPDX-License-Identifier: Apache-2.0 */
/* zn_env.c - encoding and strict decoding of the RPC envelope. */
#include "zn_env.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "zn_clock.h"
#include "zn_mpread.h"

/* Header keys: small integers, so that a header costs a byte per key. Never renumber. */
enum {
    S_KEY_MAJOR = 0,
    S_KEY_MINOR = 1,
    S_KEY_KIND = 2,
    S_KEY_ID = 3,
    S_KEY_METHOD = 4,
    S_KEY_REQ_ID = 5,
    S_KEY_TOKEN = 6,
    S_KEY_USER_ID = 7,
    S_KEY_PROJECT_ID = 8,
    S_KEY_ROLES = 9,
    S_KEY_TIMEOUT_MS = 10,
    S_KEY_ERR_CODE = 11,
    S_KEY_ERR_MESSAGE = 12,
    S_KEY_COUNT
};

static const char *const s_key_names[S_KEY_COUNT] = {
    "major",   "minor",      "kind",  "id",         "method",   "req_id",      "token",
    "user_id", "project_id", "roles", "timeout_ms", "err_code", "err_message",
};

/* The text keys: where each lives in zn_env_t and how long it may be. */
typedef struct {
    uint8_t key;
    size_t offset;
    size_t cap; /* bytes including the NUL */
} s_text_key_t;

#define S_TEXT_KEY(key, member)                                          \
    {                                                                    \
        key, offsetof(zn_env_t, member), sizeof(((zn_env_t *)0)->member) \
    }

static const s_text_key_t s_text_keys[] = {
    S_TEXT_KEY(S_KEY_METHOD, method),       S_TEXT_KEY(S_KEY_REQ_ID, ctx.req_id),
    S_TEXT_KEY(S_KEY_USER_ID, ctx.user_id), S_TEXT_KEY(S_KEY_PROJECT_ID, ctx.project_id),
    S_TEXT_KEY(S_KEY_ROLES, ctx.roles),     S_TEXT_KEY(S_KEY_ERR_MESSAGE, err_message),
};

/* What the header walk learned beyond the fields it fills in directly. */
typedef struct {
    uint32_t seen; /* bit per known key */
    int64_t timeout_ms;
} s_header_t;

/* Message ids are made per thread: 8 random bytes chosen once, then a keyed SipHash of a counter.
 * Unique (distinct counters, random prefix per thread and process), unpredictable to anyone without
 * the key (so no peer can pre-empt another's id to have its message dropped as a duplicate), and
 * with no system call per message: getrandom() on every cast cost more than the cast itself. */
typedef struct {
    bool ready;
    uint8_t prefix[8];
    uint8_t key[crypto_shorthash_KEYBYTES];
    uint64_t counter;
} s_idgen_t;

static _Thread_local s_idgen_t s_idgen;

zn_msgid_t
zn_msgid_generate(void)
{
    s_idgen_t *g = &s_idgen;
    if (!g->ready) {
        randombytes_buf(g->prefix, sizeof(g->prefix));
        randombytes_buf(g->key, sizeof(g->key));
        g->ready = true;
    }
    g->counter++;
    uint8_t counter[8];
    memcpy(counter, &g->counter, sizeof(counter));
    zn_msgid_t id;
    memcpy(id.bytes, g->prefix, sizeof(g->prefix));
    crypto_shorthash(id.bytes + 8, counter, sizeof(counter), g->key);
    return id;
}

void
zn_msgid_format(const zn_msgid_t *id, char out[33])
{
    sodium_bin2hex(out, 33, id->bytes, sizeof(id->bytes));
}

/* Empty ENV without touching its 1.3 KB of text buffers: every string is NUL-terminated at [0].
 * This runs for every message, sent or received, so it matters that it is cheap. */
static void
s_env_clear(zn_env_t *env)
{
    env->major = 0;
    env->minor = 0;
    env->kind = (zn_kind_t)0;
    memset(&env->id, 0, sizeof(env->id));
    env->method[0] = '\0';
    env->ctx.req_id[0] = '\0';
    env->ctx.user_id[0] = '\0';
    env->ctx.project_id[0] = '\0';
    env->ctx.roles[0] = '\0';
    env->ctx.token = (zn_buf_t){NULL, 0};
    env->ctx.deadline_ms = 0;
    env->err_code = 0;
    env->err_message[0] = '\0';
    env->body = (zn_buf_t){NULL, 0};
}

void
zn_env_init(zn_env_t *env, zn_kind_t kind, const char *method)
{
    s_env_clear(env);
    env->major = ZN_PROTO_MAJOR;
    env->minor = ZN_PROTO_MINOR;
    env->kind = kind;
    env->id = zn_msgid_generate();
    if (method != NULL) {
        size_t len = strlen(method);
        ZN_ASSERT(len <= ZN_METHOD_MAX);
        memcpy(env->method, method, len + 1);
    }
}

void
zn_env_init_reply(zn_env_t *reply, const zn_env_t *request, int code, const char *message)
{
    s_env_clear(reply);
    reply->major = ZN_PROTO_MAJOR;
    reply->minor = ZN_PROTO_MINOR;
    reply->kind = code < 0 ? ZN_KIND_ERROR : ZN_KIND_REPLY;
    reply->id = request->id;
    memcpy(reply->method, request->method, strlen(request->method) + 1);
    memcpy(reply->ctx.req_id, request->ctx.req_id, strlen(request->ctx.req_id) + 1);
    if (code < 0) {
        reply->err_code = code;
        snprintf(reply->err_message, sizeof(reply->err_message), "%s",
                 message != NULL ? message : zn_strerror(code));
    }
}

static const char *
s_text_at(const zn_env_t *env, const s_text_key_t *row)
{
    return (const char *)env + row->offset;
}

static uint32_t
s_header_count(const zn_env_t *env)
{
    uint32_t count = 4; /* major, minor, kind, id */
    for (size_t i = 0; i < ZN_ARRAY_COUNT(s_text_keys); i++) {
        count += s_text_at(env, &s_text_keys[i])[0] != '\0';
    }
    count += env->ctx.token.len > 0;
    count += env->ctx.deadline_ms != 0;
    count += env->err_code != 0;
    return count;
}

void
zn_env_encode(const zn_env_t *env, zn_pack_t *out)
{
    zn_pack_map(out, s_header_count(env));
    zn_pack_u64(out, S_KEY_MAJOR);
    zn_pack_u64(out, env->major);
    zn_pack_u64(out, S_KEY_MINOR);
    zn_pack_u64(out, env->minor);
    zn_pack_u64(out, S_KEY_KIND);
    zn_pack_u64(out, (uint64_t)env->kind);
    zn_pack_u64(out, S_KEY_ID);
    zn_pack_bin(out, env->id.bytes, sizeof(env->id.bytes));
    for (size_t i = 0; i < ZN_ARRAY_COUNT(s_text_keys); i++) {
        const char *text = s_text_at(env, &s_text_keys[i]);
        if (text[0] != '\0') {
            zn_pack_u64(out, s_text_keys[i].key);
            zn_pack_str(out, text);
        }
    }
    if (env->ctx.token.len > 0) {
        zn_pack_u64(out, S_KEY_TOKEN);
        zn_pack_bin(out, env->ctx.token.ptr, env->ctx.token.len);
    }
    if (env->ctx.deadline_ms != 0) {
        /* Monotonic clocks of two hosts are unrelated: send what is left of the budget. */
        zn_pack_u64(out, S_KEY_TIMEOUT_MS);
        zn_pack_i64(out, env->ctx.deadline_ms - zn_clock_mono_ms());
    }
    if (env->err_code != 0) {
        zn_pack_u64(out, S_KEY_ERR_CODE);
        zn_pack_i64(out, env->err_code);
    }
    zn_pack_raw(out, env->body);
}

static int
s_read_uint(const zn_mpval_t *val, uint64_t max, uint8_t key, uint64_t *out, zn_fault_t *fault)
{
    if (val->type != ZN_MPT_UINT) {
        return zn_fault_set(fault, -EBADMSG, "header %s: expected unsigned integer",
                            s_key_names[key]);
    }
    if (val->v.u > max) {
        return zn_fault_set(fault, -EBADMSG, "header %s: %llu out of range", s_key_names[key],
                            (unsigned long long)val->v.u);
    }
    *out = val->v.u;
    return 0;
}

static int
s_read_text(zn_env_t *env, const zn_mpval_t *val, uint8_t key, zn_fault_t *fault)
{
    const s_text_key_t *row = NULL;
    for (size_t i = 0; i < ZN_ARRAY_COUNT(s_text_keys); i++) {
        if (s_text_keys[i].key == key) {
            row = &s_text_keys[i];
        }
    }
    ZN_ASSERT(row != NULL);
    if (val->type != ZN_MPT_STR) {
        return zn_fault_set(fault, -EBADMSG, "header %s: expected string", s_key_names[key]);
    }
    zn_buf_t text = val->v.bytes;
    if (text.len >= row->cap) {
        return zn_fault_set(fault, ZN_ETOOBIG, "header %s: %zu bytes, limit %zu", s_key_names[key],
                            text.len, row->cap - 1);
    }
    if (memchr(text.ptr, '\0', text.len) != NULL) {
        return zn_fault_set(fault, -EBADMSG, "header %s: embedded NUL", s_key_names[key]);
    }
    char *dst = (char *)env + row->offset;
    memcpy(dst, text.ptr, text.len);
    dst[text.len] = '\0';
    return 0;
}

static int
s_read_id(zn_env_t *env, const zn_mpval_t *val, zn_fault_t *fault)
{
    if (val->type != ZN_MPT_BIN || val->v.bytes.len != sizeof(env->id.bytes)) {
        return zn_fault_set(fault, -EBADMSG, "header id: expected bin of %zu bytes",
                            sizeof(env->id.bytes));
    }
    memcpy(env->id.bytes, val->v.bytes.ptr, sizeof(env->id.bytes));
    return 0;
}

static int
s_read_token(zn_env_t *env, const zn_mpval_t *val, zn_fault_t *fault)
{
    if (val->type != ZN_MPT_BIN && val->type != ZN_MPT_STR) {
        return zn_fault_set(fault, -EBADMSG, "header token: expected bin or string");
    }
    if (val->v.bytes.len > ZN_TOKEN_MAX) {
        return zn_fault_set(fault, ZN_ETOOBIG, "header token: %zu bytes, limit %d",
                            val->v.bytes.len, ZN_TOKEN_MAX);
    }
    env->ctx.token = val->v.bytes;
    return 0;
}

static int
s_read_int(const zn_mpval_t *val, int64_t min, int64_t max, uint8_t key, int64_t *out,
           zn_fault_t *fault)
{
    int64_t v = 0;
    if (val->type == ZN_MPT_INT) {
        v = val->v.i;
    } else if (val->type == ZN_MPT_UINT) {
        v = val->v.u > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)val->v.u;
    } else {
        return zn_fault_set(fault, -EBADMSG, "header %s: expected integer", s_key_names[key]);
    }
    if (v < min || v > max) {
        return zn_fault_set(fault, -EBADMSG, "header %s: %lld out of range", s_key_names[key],
                            (long long)v);
    }
    *out = v;
    return 0;
}

static int
s_read_number(zn_env_t *env, s_header_t *header, const zn_mpval_t *val, uint8_t key,
              zn_fault_t *fault)
{
    uint64_t u = 0;
    int64_t i = 0;
    int rc = 0;
    switch (key) {
    case S_KEY_MAJOR:
    case S_KEY_MINOR:
        rc = s_read_uint(val, UINT8_MAX, key, &u, fault);
        if (key == S_KEY_MAJOR) {
            env->major = (uint8_t)u;
        } else {
            env->minor = (uint8_t)u;
        }
        return rc;
    case S_KEY_KIND:
        rc = s_read_uint(val, ZN_KIND_ERROR, key, &u, fault);
        if (rc == 0 && u < ZN_KIND_CALL) {
            rc = zn_fault_set(fault, -EBADMSG, "header kind: 0 out of range");
        }
        env->kind = (zn_kind_t)u;
        return rc;
    case S_KEY_TIMEOUT_MS:
        return s_read_int(val, INT64_MIN, INT64_MAX, key, &header->timeout_ms, fault);
    default:
        ZN_ASSERT(key == S_KEY_ERR_CODE);
        rc = s_read_int(val, INT32_MIN, INT32_MAX, key, &i, fault);
        env->err_code = (int32_t)i;
        return rc;
    }
}

/* Read the value VAL of known header key KEY into ENV. */
static int
s_read_entry(zn_env_t *env, s_header_t *header, uint8_t key, const zn_mpval_t *val,
             zn_fault_t *fault)
{
    if (val->type == ZN_MPT_NIL) {
        return 0; /* nil means absent */
    }
    if (header->seen & (1u << key)) {
        return zn_fault_set(fault, -EBADMSG, "header %s: repeated", s_key_names[key]);
    }
    int rc = 0;
    switch (key) {
    case S_KEY_ID:
        rc = s_read_id(env, val, fault);
        break;
    case S_KEY_TOKEN:
        rc = s_read_token(env, val, fault);
        break;
    case S_KEY_METHOD:
    case S_KEY_REQ_ID:
    case S_KEY_USER_ID:
    case S_KEY_PROJECT_ID:
    case S_KEY_ROLES:
    case S_KEY_ERR_MESSAGE:
        rc = s_read_text(env, val, key, fault);
        break;
    default:
        rc = s_read_number(env, header, val, key, fault);
        break;
    }
    /* Only a key read successfully counts as seen: a malformed major is not "another major". */
    if (rc == 0) {
        header->seen |= 1u << key;
    }
    return rc;
}

/* Read one entry's key and value tokens; the key's contents, if it is a container, are skipped. */
static int
s_next_entry(zn_mpread_t *reader, zn_mpval_t *key, zn_mpval_t *val, zn_fault_t *fault)
{
    int rc = zn_mpread_next(reader, key, fault);
    if (rc == 0) {
        rc = zn_mpread_skip_contents(reader, key, fault);
    }
    if (rc == 0) {
        rc = zn_mpread_next(reader, val, fault);
    }
    return rc;
}

/* Walk the header map. The first bad entry's error is kept, but the walk goes on so that the id
 * and the major version are learnt wherever they sit. Returns the first error or 0. */
static int
s_read_header(zn_env_t *env, zn_mpread_t *reader, s_header_t *header, zn_fault_t *fault)
{
    zn_mpval_t map;
    int rc = zn_mpread_next(reader, &map, fault);
    if (rc < 0) {
        return rc;
    }
    if (map.type != ZN_MPT_MAP) {
        return zn_fault_set(fault, -EBADMSG, "header: expected map");
    }
    int first_rc = 0;
    for (uint32_t i = 0; i < map.v.count; i++) {
        zn_fault_t *first_fault = first_rc < 0 ? NULL : fault;
        zn_mpval_t key;
        zn_mpval_t val;
        rc = s_next_entry(reader, &key, &val, first_fault);
        /* Keys this build does not know, integer or not, are skipped: a newer minor sent them. */
        if (rc == 0 && key.type == ZN_MPT_UINT && key.v.u < S_KEY_COUNT) {
            int entry_rc = s_read_entry(env, header, (uint8_t)key.v.u, &val, first_fault);
            first_rc = first_rc < 0 ? first_rc : entry_rc;
            first_fault = first_rc < 0 ? NULL : fault;
        }
        if (rc == 0) {
            rc = zn_mpread_skip_contents(reader, &val, first_fault);
        }
        if (rc < 0) {
            return first_rc < 0 ? first_rc : rc;
        }
    }
    return first_rc;
}

static int64_t
s_local_deadline(int64_t timeout_ms)
{
    int64_t now = zn_clock_mono_ms();
    int64_t deadline = now;
    if (timeout_ms > 0) {
        deadline = timeout_ms > INT64_MAX - now ? INT64_MAX : now + timeout_ms;
    }
    return deadline > 0 ? deadline : 1; /* 0 would mean "no deadline" */
}

/* The checks that need the whole header: version first, since another major may mean anything. */
static int
s_check_header(zn_env_t *env, const s_header_t *header, int rc, zn_fault_t *fault)
{
    if ((header->seen & (1u << S_KEY_MAJOR)) && env->major != ZN_PROTO_MAJOR) {
        return zn_fault_set(fault, ZN_EVERSION, "header: protocol major %u, this build speaks %d",
                            env->major, ZN_PROTO_MAJOR);
    }
    if (rc < 0) {
        return rc;
    }
    const uint8_t required[] = {S_KEY_MAJOR, S_KEY_KIND, S_KEY_ID};
    for (size_t i = 0; i < sizeof(required); i++) {
        if (!(header->seen & (1u << required[i]))) {
            return zn_fault_set(fault, -EBADMSG, "header %s: missing", s_key_names[required[i]]);
        }
    }
    bool is_request = env->kind == ZN_KIND_CALL || env->kind == ZN_KIND_CAST;
    if (is_request && env->method[0] == '\0') {
        return zn_fault_set(fault, -EBADMSG, "header method: missing");
    }
    if (env->kind == ZN_KIND_ERROR && env->err_code >= 0) {
        return zn_fault_set(fault, -EBADMSG, "header err_code: an error needs a negative code");
    }
    if (header->seen & (1u << S_KEY_TIMEOUT_MS)) {
        env->ctx.deadline_ms = s_local_deadline(header->timeout_ms);
    }
    return 0;
}

/* The header is already bad; still learn the id if it can be read, for the error reply. The
 * reader is bounds-checked, so walking unchecked bytes is safe. */
static int
s_check_body(zn_buf_t body, zn_fault_t *fault)
{
    size_t consumed = 0;
    int rc = zn_mp_check(body, &consumed, fault);
    if (rc < 0) {
        return rc;
    }
    if (consumed != body.len) {
        return zn_fault_set(fault, -EBADMSG, "body: %zu trailing bytes", body.len - consumed);
    }
    return 0;
}

int
zn_env_decode(zn_env_t *env, zn_buf_t frame, zn_fault_t *fault)
{
    s_env_clear(env);
    if (frame.len > ZN_FRAME_MAX_BYTES) {
        return zn_fault_set(fault, ZN_ETOOBIG, "frame: %zu bytes, limit %u", frame.len,
                            ZN_FRAME_MAX_BYTES);
    }
    /* The header is read by the bounds-checked cursor alone, without a zn_mp_check pass first:
     * its values are scalars, and anything nested under an unknown key is skipped without
     * recursion, so depth and item limits cannot be hit. The id is set as soon as it is read,
     * so an error reply can still be addressed when a later key is bad. */
    zn_mpread_t reader;
    zn_mpread_init(&reader, frame);
    s_header_t header = {0};
    int rc = s_read_header(env, &reader, &header, fault);
    rc = s_check_header(env, &header, rc, fault);
    if (rc < 0) {
        return rc;
    }
    zn_buf_t body = {frame.ptr + reader.pos, frame.len - reader.pos};
    if (body.len > 0) {
        rc = s_check_body(body, fault);
        if (rc < 0) {
            return rc;
        }
        env->body = body;
    }
    return 0;
}

bool
zn_ctx_is_expired(const zn_ctx_t *ctx)
{
    return ctx->deadline_ms != 0 && zn_clock_mono_ms() >= ctx->deadline_ms;
}

void
zn_ctx_copy(zn_ctx_t *to, const zn_ctx_t *from)
{
    *to = *from;
}
