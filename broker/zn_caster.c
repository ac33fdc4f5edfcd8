/* SPDX-License-Identifier: Apache-2.0 */
/* zn_caster.c - a PUSH socket with immediate mode, so a cast is never queued for a dead peer. */
#include "zn_caster.h"

#include <errno.h>
#include <string.h>

#include <czmq.h>

#include "zn_link_int.h"
#include "zn_mem.h"

struct zn_caster {
    char *name;
    zsock_t *push;
    zn_pack_t *frame;
};

int
zn_caster_open(zn_caster_t **out, const zn_caster_opts_t *opts, zn_fault_t *fault)
{
    *out = NULL;
    zn_caster_t *self = zn_calloc(1, sizeof(*self));
    self->name = zn_strdup(opts->name ? opts->name : "caster");
    self->push = zsock_new(ZMQ_PUSH);
    self->frame = zn_pack_new();
    /* Linger so that casts sent just before close still leave. */
    zn__link_tune(self->push, 1000);
    zsock_set_immediate(self->push, 1);
    zsock_set_sndtimeo(self->push, opts->send_timeout_ms);
    int rc = 0;
    if (opts->keys != NULL &&
        zn__link_secure_client(self->push, opts->keys, opts->server_public) < 0) {
        rc = zn_fault_set(fault, -EINVAL, "caster %s: the target public key is not a CURVE key",
                          self->name);
    } else if (zsock_connect(self->push, "%s", opts->endpoint) < 0) {
        rc = zn_fault_set(fault, -EINVAL, "caster %s: cannot connect to %s", self->name,
                          opts->endpoint);
    }
    if (rc < 0) {
        zn_caster_destroy(&self);
        return rc;
    }
    *out = self;
    return 0;
}

void
zn_caster_destroy(zn_caster_t **self_p)
{
    zn_caster_t *self = *self_p;
    if (self == NULL) {
        return;
    }
    zsock_destroy(&self->push);
    zn_pack_destroy(&self->frame);
    zn_str_free(&self->name);
    zn_free(self);
    *self_p = NULL;
}

int
zn_caster_cast(zn_caster_t *self, const char *method, const zn_ctx_t *ctx, zn_buf_t body,
               const zn_msgid_t *id, zn_msgid_t *id_out)
{
    if (strlen(method) == 0 || strlen(method) > ZN_METHOD_MAX) {
        return -EINVAL;
    }
    zn_env_t env;
    zn_env_init(&env, ZN_KIND_CAST, method);
    if (id != NULL) {
        env.id = *id;
    }
    if (ctx != NULL) {
        env.ctx = *ctx;
    }
    env.body = body;
    zn_pack_reset(self->frame);
    zn_env_encode(&env, self->frame);
    zn_buf_t none = {NULL, 0};
    int rc = zn__link_send(self->push, none, zn_pack_buf(self->frame), 0);
    if (rc == 0 && id_out != NULL) {
        *id_out = env.id;
    }
    return rc;
}
