/* SPDX-License-Identifier: Apache-2.0 */
/* zn_env.h - the RPC envelope: one ZeroMQ frame = a MessagePack header map, then the body. */
#ifndef ZN_ENV_H
#define ZN_ENV_H

#include <stdbool.h>
#include <stdint.h>

#include "zn_buf.h"
#include "zn_common.h"
#include "zn_err.h"
#include "zn_mp.h"

/* Within one major version agents interoperate: unknown header keys are ignored, so a newer
 * minor may add keys. A different major is refused with ZN_EVERSION. */
#define ZN_PROTO_MAJOR 1
#define ZN_PROTO_MINOR 0

#define ZN_METHOD_MAX 63
#define ZN_ID_MAX     63  /* request, user and project ids */
#define ZN_ROLES_MAX  255 /* comma-separated role names */
#define ZN_TOKEN_MAX  4096

typedef enum {
    ZN_KIND_CALL = 1,  /* expects exactly one REPLY or ERROR */
    ZN_KIND_CAST = 2,  /* no reply */
    ZN_KIND_REPLY = 3, /* success answer to a CALL; same id */
    ZN_KIND_ERROR = 4, /* failure answer to a CALL; same id; err_code and err_message set */
} zn_kind_t;

/* 128 random bits: unique per message, kept across retries of the same request so that the
 * receiver recognises a redelivery. */
typedef struct zn_msgid {
    uint8_t bytes[16];
} zn_msgid_t;

/* The request context that travels with every hop: who asked, with what token, by when. */
typedef struct zn_ctx {
    char req_id[ZN_ID_MAX + 1];
    char user_id[ZN_ID_MAX + 1];
    char project_id[ZN_ID_MAX + 1];
    char roles[ZN_ROLES_MAX + 1];
    /* The user's token. Borrowed: from the frame after decoding, from the caller when encoding. */
    zn_buf_t token;
    /* Local monotonic deadline in ms, 0 for none. On the wire it travels as the remaining
     * budget (clocks of two hosts are not comparable), and decoding turns it back into a local
     * deadline. */
    int64_t deadline_ms;
} zn_ctx_t;

typedef struct zn_env {
    uint8_t major;
    uint8_t minor;
    zn_kind_t kind;
    zn_msgid_t id;
    char method[ZN_METHOD_MAX + 1];
    zn_ctx_t ctx;
    int32_t err_code; /* ERROR only: a negative errno or zinc code */
    char err_message[ZN_FAULT_MESSAGE_MAX];
    zn_buf_t body; /* borrowed: the bytes after the header, one MessagePack object or empty */
} zn_env_t;

/* A fresh random message id. */
zn_msgid_t zn_msgid_generate(void);

/* Hex text of ID (33 bytes with the NUL) for logs. */
void zn_msgid_format(const zn_msgid_t *id, char out[33]);

/* Initialise ENV as KIND for METHOD with a fresh id and this build's protocol version; the
 * context is empty and the body empty. METHOD longer than ZN_METHOD_MAX is an API misuse. */
void zn_env_init(zn_env_t *env, zn_kind_t kind, const char *method);

/* Initialise REPLY as the answer of kind REPLY (or ERROR with CODE and MESSAGE when code < 0) to
 * REQUEST: same id, method and request id. */
void zn_env_init_reply(zn_env_t *reply, const zn_env_t *request, int code, const char *message);

/* Append ENV's header and then ENV->body to OUT (which is not reset first). */
void zn_env_encode(const zn_env_t *env, zn_pack_t *out);

/* Decode FRAME strictly into ENV: size within ZN_FRAME_MAX_BYTES, header checked by zn_mp_check,
 * each known key of the right type and within its limit, required keys (major, kind, id, and
 * method for CALL/CAST) present, and the body, when present, exactly one well-formed object.
 * ENV's token and body borrow FRAME. Returns 0, -EBADMSG, ZN_ETOOBIG or ZN_EVERSION (other major),
 * with FAULT saying what was wrong. When the id could be read, ENV->id is set even on failure so
 * that the server can address an error reply. */
ZN_MUST_CHECK int zn_env_decode(zn_env_t *env, zn_buf_t frame, zn_fault_t *fault);

/* True when CTX has a deadline and it has passed. */
bool zn_ctx_is_expired(const zn_ctx_t *ctx);

/* Copy the request id, identity and deadline of FROM into TO (the token stays borrowed). */
void zn_ctx_copy(zn_ctx_t *to, const zn_ctx_t *from);

#endif
