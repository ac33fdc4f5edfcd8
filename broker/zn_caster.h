/* SPDX-License-Identifier: Apache-2.0 */
/* zn_caster.h - fire-and-forget casts to one agent (for example one compute host) over PUSH. */
#ifndef ZN_CASTER_H
#define ZN_CASTER_H

#include <stdint.h>

#include "zn_env.h"
#include "zn_err.h"
#include "zn_keys.h"

typedef struct zn_caster zn_caster_t;

typedef struct zn_caster_opts {
    const char *name;          /* the target, for logs */
    const char *endpoint;      /* the target's PULL endpoint */
    const zn_keys_t *keys;     /* our key pair; NULL: plaintext */
    const char *server_public; /* the target's public key, with keys */
    int send_timeout_ms;       /* how long a cast may wait for a connection; 0: never wait */
} zn_caster_opts_t;

/* Connect to the target of OPTS (in the background). Returns 0 or -EINVAL with FAULT. */
ZN_MUST_CHECK int zn_caster_open(zn_caster_t **out, const zn_caster_opts_t *opts,
                                 zn_fault_t *fault);

void zn_caster_destroy(zn_caster_t **self_p);

/* Cast METHOD with CTX and BODY. ID (optional) is the message id to use: pass the same id when
 * repeating a cast so that the receiver runs it once; NULL picks a fresh one, which is returned
 * in *id_out when that is not NULL. A cast is only queued for a live connection: when none comes
 * up within send_timeout_ms (or the queue is full) the cast fails with -EAGAIN and nothing was
 * sent, so the caller knows to retry or fail over. Returns 0 or a negative errno. */
ZN_MUST_CHECK int zn_caster_cast(zn_caster_t *self, const char *method, const zn_ctx_t *ctx,
                                 zn_buf_t body, const zn_msgid_t *id, zn_msgid_t *id_out);

#endif
