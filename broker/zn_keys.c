/* SPDX-License-Identifier: Apache-2.0 */
/* zn_keys.c - CURVE keys on disk and in memory. */
#include "zn_keys.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>
#include <sodium.h>
#include <zmq.h>

#include "zn_mem.h"

struct zn_keys {
    char public_z85[ZN_KEY_Z85_LEN + 1];
    char *secret_z85; /* sodium_malloc: guarded, locked, wiped on free */
};

static zn_keys_t *
s_keys_alloc(void)
{
    /* Idempotent and cheap after the first call; libsodium needs it before sodium_malloc. */
    ZN_ASSERT(sodium_init() >= 0);
    zn_keys_t *self = zn_calloc(1, sizeof(*self));
    self->secret_z85 = sodium_malloc(ZN_KEY_Z85_LEN + 1);
    ZN_ASSERT(self->secret_z85 != NULL);
    memset(self->secret_z85, 0, ZN_KEY_Z85_LEN + 1);
    return self;
}

zn_keys_t *
zn_keys_generate(void)
{
    zn_keys_t *self = s_keys_alloc();
    ZN_ASSERT(zmq_curve_keypair(self->public_z85, self->secret_z85) == 0);
    return self;
}

static bool
s_is_z85_key(const char *text)
{
    uint8_t bin[32];
    return strlen(text) == ZN_KEY_Z85_LEN && zmq_z85_decode(bin, text) != NULL;
}

typedef struct {
    zn_keys_t *keys;
    bool has_public;
    bool has_secret;
} s_load_ctx_t;

static int
s_key_line(void *user, const char *section, const char *name, const char *value)
{
    s_load_ctx_t *ctx = user;
    (void)section;
    if (!s_is_z85_key(value)) {
        return 0;
    }
    if (strcmp(name, "public") == 0) {
        memcpy(ctx->keys->public_z85, value, ZN_KEY_Z85_LEN + 1);
        ctx->has_public = true;
    } else if (strcmp(name, "secret") == 0) {
        memcpy(ctx->keys->secret_z85, value, ZN_KEY_Z85_LEN + 1);
        ctx->has_secret = true;
    }
    return 1;
}

static int
s_parse_key_file(const char *path, s_load_ctx_t *ctx, zn_fault_t *fault)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        int err = errno;
        return zn_fault_set(fault, -err, "key file %s: %s", path, strerror(err));
    }
    int line = ini_parse_file(f, s_key_line, ctx);
    (void)fclose(f);
    if (line != 0) {
        return zn_fault_set(fault, -EINVAL, "key file %s:%d: malformed key", path, line);
    }
    return 0;
}

int
zn_keys_load(zn_keys_t **out, const char *path, zn_fault_t *fault)
{
    *out = NULL;
    s_load_ctx_t ctx = {s_keys_alloc(), false, false};
    int rc = s_parse_key_file(path, &ctx, fault);
    if (rc == 0 && (!ctx.has_public || !ctx.has_secret)) {
        rc = zn_fault_set(fault, -EINVAL, "key file %s: needs both public and secret", path);
    }
    char derived[ZN_KEY_Z85_LEN + 1];
    if (rc == 0 && (zmq_curve_public(derived, ctx.keys->secret_z85) != 0 ||
                    strcmp(derived, ctx.keys->public_z85) != 0)) {
        rc = zn_fault_set(fault, -EINVAL, "key file %s: public key does not match secret", path);
    }
    if (rc < 0) {
        zn_keys_destroy(&ctx.keys);
        return rc;
    }
    *out = ctx.keys;
    return 0;
}

static int
s_write_file(const char *path, const char *text, mode_t mode, zn_fault_t *fault)
{
    char *tmp = zn_asprintf("%s.tmp", path);
    int rc = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        rc = zn_fault_set(fault, -errno, "cannot write %s: %s", tmp, strerror(errno));
        goto out_free_tmp;
    }
    size_t len = strlen(text);
    if (write(fd, text, len) != (ssize_t)len || fsync(fd) != 0) {
        rc = zn_fault_set(fault, -EIO, "cannot write %s", tmp);
    }
    (void)close(fd);
    if (rc == 0 && rename(tmp, path) != 0) {
        rc = zn_fault_set(fault, -errno, "cannot rename %s: %s", tmp, strerror(errno));
    }
    if (rc < 0) {
        (void)unlink(tmp);
    }
out_free_tmp:
    zn_str_free(&tmp);
    return rc;
}

int
zn_keys_save(const zn_keys_t *self, const char *path, zn_fault_t *fault)
{
    /* The secret text is built in locked memory so that it never sits in ordinary heap. */
    size_t cap = 256;
    char *text = sodium_malloc(cap);
    ZN_ASSERT(text != NULL);
    (void)snprintf(text, cap, "# zinc CURVE key pair: keep secret\npublic = %s\nsecret = %s\n",
                   self->public_z85, self->secret_z85);
    int rc = s_write_file(path, text, 0600, fault);
    sodium_free(text);
    if (rc < 0) {
        return rc;
    }
    char pub[128];
    (void)snprintf(pub, sizeof(pub), "# zinc CURVE public key\npublic = %s\n", self->public_z85);
    char *pub_path = zn_asprintf("%s.pub", path);
    rc = s_write_file(pub_path, pub, 0644, fault);
    zn_str_free(&pub_path);
    return rc;
}

void
zn_keys_destroy(zn_keys_t **self_p)
{
    zn_keys_t *self = *self_p;
    if (self == NULL) {
        return;
    }
    sodium_free(self->secret_z85);
    zn_free(self);
    *self_p = NULL;
}

const char *
zn_keys_public(const zn_keys_t *self)
{
    return self->public_z85;
}

const char *
zn_keys_secret(const zn_keys_t *self)
{
    return self->secret_z85;
}

int
zn_keys_read_public(const char *path, char out[ZN_KEY_Z85_LEN + 1], zn_fault_t *fault)
{
    s_load_ctx_t ctx = {s_keys_alloc(), false, false};
    int rc = s_parse_key_file(path, &ctx, fault);
    if (rc == 0 && !ctx.has_public) {
        rc = zn_fault_set(fault, -EINVAL, "key file %s: no public key", path);
    }
    if (rc == 0) {
        memcpy(out, ctx.keys->public_z85, ZN_KEY_Z85_LEN + 1);
    }
    zn_keys_destroy(&ctx.keys);
    return rc;
}

/* ---- allow-lists ------------------------------------------------------------------------ */

#define S_NAME_MAX 64

struct zn_allow {
    uint8_t (*keys)[32];
    char (*names)[S_NAME_MAX];
    size_t count;
    size_t cap;
};

zn_allow_t *
zn_allow_new(void)
{
    return zn_calloc(1, sizeof(zn_allow_t));
}

void
zn_allow_destroy(zn_allow_t **self_p)
{
    zn_allow_t *self = *self_p;
    if (self == NULL) {
        return;
    }
    zn_free(self->keys);
    zn_free(self->names);
    zn_free(self);
    *self_p = NULL;
}

int
zn_allow_add_z85(zn_allow_t *self, const char *z85)
{
    return zn_allow_add_named(self, z85, "");
}

int
zn_allow_add_named(zn_allow_t *self, const char *z85, const char *name)
{
    uint8_t bin[32];
    if (strlen(z85) != ZN_KEY_Z85_LEN || zmq_z85_decode(bin, z85) == NULL ||
        strlen(name) >= S_NAME_MAX) {
        return -EINVAL;
    }
    if (zn_allow_contains(self, bin)) {
        return 0;
    }
    if (self->count == self->cap) {
        self->cap = self->cap ? self->cap * 2 : 8;
        self->keys = zn_realloc(self->keys, self->cap * sizeof(*self->keys));
        self->names = zn_realloc(self->names, self->cap * sizeof(*self->names));
    }
    memcpy(self->keys[self->count], bin, 32);
    memcpy(self->names[self->count], name, strlen(name) + 1);
    self->count++;
    return 0;
}

static bool
s_is_pub_file(const char *name)
{
    size_t len = strlen(name);
    return len > 4 && strcmp(name + len - 4, ".pub") == 0;
}

int
zn_allow_load_dir(zn_allow_t *self, const char *dir, zn_fault_t *fault)
{
    return zn_allow_load_dir_prefix(self, dir, "", fault);
}

int
zn_allow_load_dir_prefix(zn_allow_t *self, const char *dir, const char *prefix, zn_fault_t *fault)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        return zn_fault_set(fault, -errno, "key directory %s: %s", dir, strerror(errno));
    }
    int added = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!s_is_pub_file(e->d_name) || strncmp(e->d_name, prefix, strlen(prefix)) != 0) {
            continue;
        }
        char path[4096];
        char z85[ZN_KEY_Z85_LEN + 1];
        (void)snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        int rc = zn_keys_read_public(path, z85, fault);
        if (rc == 0) {
            /* "NAME.key.pub" (or "NAME.pub") names the key NAME. */
            char name[S_NAME_MAX];
            (void)snprintf(name, sizeof(name), "%s", e->d_name);
            char *dot = strstr(name, ".key.pub");
            dot = dot != NULL ? dot : strstr(name, ".pub");
            if (dot != NULL) {
                *dot = '\0';
            }
            rc = zn_allow_add_named(self, z85, name);
        }
        if (rc < 0) {
            (void)closedir(d);
            return rc;
        }
        added++;
    }
    (void)closedir(d);
    return added;
}

const char *
zn_allow_name_of(const zn_allow_t *self, const uint8_t key[32])
{
    for (size_t i = 0; i < self->count; i++) {
        if (sodium_memcmp(self->keys[i], key, 32) == 0) {
            return self->names[i];
        }
    }
    return NULL;
}

bool
zn_allow_contains(const zn_allow_t *self, const uint8_t key[32])
{
    return zn_allow_name_of(self, key) != NULL;
}

size_t
zn_allow_count(const zn_allow_t *self)
{
    return self->count;
}

zn_allow_t *
zn_allow_dup(const zn_allow_t *self)
{
    zn_allow_t *copy = zn_allow_new();
    copy->cap = self->count;
    copy->count = self->count;
    copy->keys = zn_malloc(self->count * sizeof(*self->keys));
    copy->names = zn_malloc(self->count * sizeof(*self->names));
    if (self->count > 0) {
        memcpy(copy->keys, self->keys, self->count * sizeof(*self->keys));
        memcpy(copy->names, self->names, self->count * sizeof(*self->names));
    }
    return copy;
}
