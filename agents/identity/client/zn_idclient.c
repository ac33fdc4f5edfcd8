/* SPDX-License-Identifier: Apache-2.0 */
/* zn_idclient.c - `validate` calls and the answer cache. */
#include "zn_idclient.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "zn_client.h"
#include "zn_clock.h"
#include "zn_mem.h"

#define S_KEY_BYTES 16
#define S_KEY_LEN   (2 * S_KEY_BYTES + 1)

#define S_F(name, type, max)                                             \
    {                                                                    \
#name, type, 0, offsetof(zn_idclient_auth_t, name), 0, max, NULL \
    }

static const zn_field_t s_fields[] = {
    S_F(user_id, ZN_FT_STR, 64),
    S_F(user_name, ZN_FT_STR, 255),
    S_F(project_id, ZN_FT_STR, 64),
    S_F(domain_id, ZN_FT_STR, 64),
    {"roles", ZN_FT_STRLIST, 0, offsetof(zn_idclient_auth_t, roles),
     offsetof(zn_idclient_auth_t, role_count), 64, NULL},
    S_F(expires_at_ms, ZN_FT_I64, 0),
    S_F(audit_id, ZN_FT_STR, 32),
    S_F(revocation_generation, ZN_FT_U64, 0),
};

const zn_schema_t zn_idclient_auth_schema = {
    "idclient_auth", 1, s_fields, ZN_ARRAY_COUNT(s_fields), sizeof(zn_idclient_auth_t),
};

typedef struct s_entry {
    zn_idclient_auth_t auth;
    int64_t fresh_until_ms; /* monotonic */
} s_entry_t;

struct zn_idclient {
    zn_client_t *client;
    zhashx_t *cache; /* hex BLAKE2b of the token -> s_entry_t */
    int64_t ttl_ms;
    size_t cache_max;
    uint64_t generation;
};

typedef struct s_pending {
    zn_idclient_t *self;
    zn_idclient_fn *fn;
    void *arg;
    char key[S_KEY_LEN];
} s_pending_t;

static void
s_entry_free(void **item)
{
    s_entry_t *entry = *item;
    zn_schema_release(&zn_idclient_auth_schema, &entry->auth);
    zn_free(entry);
    *item = NULL;
}

static void
s_key(zn_buf_t token, char out[S_KEY_LEN])
{
    uint8_t digest[S_KEY_BYTES];
    crypto_generichash(digest, sizeof(digest), token.ptr, token.len, NULL, 0);
    sodium_bin2hex(out, S_KEY_LEN, digest, sizeof(digest));
}

int
zn_idclient_open(zn_idclient_t **out, const zn_idclient_opts_t *opts, zn_fault_t *fault)
{
    *out = NULL;
    if (sodium_init() < 0) {
        return zn_fault_set(fault, -EIO, "libsodium cannot initialise");
    }
    zn_client_opts_t client_opts = {
        .name = "identity",
        .endpoints = opts->endpoints,
        .endpoint_count = opts->endpoint_count,
        .keys = opts->keys,
        .server_public = opts->server_public,
        .metrics = opts->metrics,
    };
    zn_idclient_t *self = zn_calloc(1, sizeof(*self));
    int rc = zn_client_open(&self->client, &client_opts, fault);
    if (rc < 0) {
        zn_free(self);
        return rc;
    }
    self->cache = zhashx_new();
    zhashx_set_destructor(self->cache, s_entry_free);
    self->ttl_ms = opts->cache_ttl_ms != 0 ? opts->cache_ttl_ms : ZN_IDCLIENT_TTL_DEFAULT;
    self->cache_max = opts->cache_max != 0 ? opts->cache_max : ZN_IDCLIENT_CACHE_DEFAULT;
    *out = self;
    return 0;
}

void
zn_idclient_destroy(zn_idclient_t **self_p)
{
    zn_idclient_t *self = *self_p;
    if (self == NULL) {
        return;
    }
    zn_client_destroy(&self->client); /* runs pending callbacks with -ECANCELED */
    zhashx_destroy(&self->cache);
    zn_free(self);
    *self_p = NULL;
}

int
zn_idclient_attach(zn_idclient_t *self, zloop_t *loop)
{
    return zn_client_attach(self->client, loop);
}

const zn_idclient_auth_t *
zn_idclient_lookup(zn_idclient_t *self, zn_buf_t token)
{
    if (zhashx_size(self->cache) == 0) {
        return NULL;
    }
    char key[S_KEY_LEN];
    s_key(token, key);
    s_entry_t *entry = zhashx_lookup(self->cache, key);
    if (entry == NULL) {
        return NULL;
    }
    if (zn_clock_mono_ms() >= entry->fresh_until_ms) {
        zhashx_delete(self->cache, key);
        return NULL;
    }
    return &entry->auth;
}

/* Remember AUTH under KEY, first dropping everything when the revocation generation moved. */
static void
s_remember(zn_idclient_t *self, const char *key, const zn_idclient_auth_t *auth)
{
    if (auth->revocation_generation != self->generation) {
        zhashx_purge(self->cache); /* something was revoked: trust nothing cached */
        self->generation = auth->revocation_generation;
    }
    int64_t left_ms = auth->expires_at_ms - zn_clock_wall_ms();
    int64_t keep_ms = left_ms < self->ttl_ms ? left_ms : self->ttl_ms;
    if (self->ttl_ms < 0 || keep_ms <= 0) {
        return;
    }
    if (zhashx_size(self->cache) >= self->cache_max) {
        zhashx_purge(self->cache);
    }
    s_entry_t *entry = zn_calloc(1, sizeof(*entry));
    zn_schema_copy(&zn_idclient_auth_schema, &entry->auth, auth);
    entry->fresh_until_ms = zn_clock_mono_ms() + keep_ms;
    zhashx_update(self->cache, key, entry);
}

/* Decode REPLY into AUTH and cache it. Returns 0 or -EBADMSG with FAULT. */
static int
s_accept(zn_idclient_t *self, const char *key, const zn_env_t *reply, zn_idclient_auth_t *auth,
         zn_fault_t *fault)
{
    int rc = zn_schema_decode(&zn_idclient_auth_schema, reply->body, auth, NULL, fault);
    if (rc < 0 || auth->user_id == NULL) {
        zn_schema_release(&zn_idclient_auth_schema, auth);
        return zn_fault_set(fault, -EBADMSG, "identity's validate answer is malformed");
    }
    s_remember(self, key, auth);
    return 0;
}

static void
s_on_reply(void *arg, const zn_env_t *reply, const zn_fault_t *fault)
{
    s_pending_t *pending = arg;
    zn_idclient_auth_t auth;
    zn_fault_t bad;
    zn_fault_clear(&bad);
    if (fault->code < 0) {
        pending->fn(pending->arg, NULL, fault);
    } else if (s_accept(pending->self, pending->key, reply, &auth, &bad) < 0) {
        pending->fn(pending->arg, NULL, &bad);
    } else {
        pending->fn(pending->arg, &auth, fault);
        zn_schema_release(&zn_idclient_auth_schema, &auth);
    }
    zn_free(pending);
}

static void
s_ctx_for(zn_ctx_t *ctx, const zn_ctx_t *from, zn_buf_t token)
{
    memset(ctx, 0, sizeof(*ctx));
    if (from != NULL) {
        zn_ctx_copy(ctx, from);
    }
    ctx->token = token;
}

int
zn_idclient_validate(zn_idclient_t *self, const zn_ctx_t *ctx, zn_buf_t token, int64_t timeout_ms,
                     zn_idclient_fn *fn, void *arg)
{
    if (token.len == 0 || token.len > ZN_TOKEN_MAX) {
        return -EINVAL;
    }
    s_pending_t *pending = zn_calloc(1, sizeof(*pending));
    pending->self = self;
    pending->fn = fn;
    pending->arg = arg;
    s_key(token, pending->key);
    zn_ctx_t call_ctx;
    s_ctx_for(&call_ctx, ctx, token);
    zn_buf_t none = {NULL, 0};
    int rc = zn_client_call(self->client, ZN_IDCLIENT_METHOD, &call_ctx, none, timeout_ms,
                            s_on_reply, pending);
    if (rc < 0) {
        zn_free(pending);
    }
    return rc;
}

int
zn_idclient_validate_sync(zn_idclient_t *self, zn_buf_t token, int64_t timeout_ms,
                          zn_idclient_auth_t *out, zn_fault_t *fault)
{
    memset(out, 0, sizeof(*out));
    if (token.len == 0 || token.len > ZN_TOKEN_MAX) {
        return zn_fault_set(fault, ZN_EAUTH, "no token or an oversized one");
    }
    zn_ctx_t ctx;
    s_ctx_for(&ctx, NULL, token);
    zn_buf_t none = {NULL, 0};
    zn_reply_t *reply = NULL;
    int rc = zn_client_call_sync(self->client, ZN_IDCLIENT_METHOD, &ctx, none, timeout_ms, &reply,
                                 fault);
    if (rc == 0) {
        char key[S_KEY_LEN];
        s_key(token, key);
        rc = s_accept(self, key, zn_reply_env(reply), out, fault);
    }
    zn_reply_destroy(&reply);
    return rc;
}

size_t
zn_idclient_cached(const zn_idclient_t *self)
{
    return zhashx_size(self->cache);
}

void
zn_idclient_flush(zn_idclient_t *self)
{
    zhashx_purge(self->cache);
}
