/* SPDX-License-Identifier: Apache-2.0 */
/* zn_secure.c - loading an agent's keys from its key directory. */
#include "zn_secure.h"

#include <stdio.h>
#include <string.h>

#include "zn_mem.h"
#include "zn_str.h"

struct zn_secure {
    char *keys_dir;
    zn_keys_t *keys;
    zn_allow_t *allow;
    zn_allow_t *admin_allow;
};

int
zn_secure_open(zn_secure_t **out, bool enabled, const char *keys_dir, const char *own_name,
               zn_fault_t *fault)
{
    *out = NULL;
    zn_secure_t *self = zn_calloc(1, sizeof(*self));
    if (!enabled) {
        *out = self;
        return 0;
    }
    self->keys_dir = zn_strdup(keys_dir);
    char *path = zn_asprintf("%s/%s.key", keys_dir, own_name);
    int rc = zn_keys_load(&self->keys, path, fault);
    zn_str_free(&path);
    if (rc == 0) {
        self->allow = zn_allow_new();
        int added = zn_allow_load_dir(self->allow, keys_dir, fault);
        rc = added < 0 ? added : 0;
    }
    if (rc == 0) {
        self->admin_allow = zn_allow_new();
        int added = zn_allow_load_dir_prefix(self->admin_allow, keys_dir, "admin", fault);
        rc = added < 0 ? added : 0;
    }
    if (rc < 0) {
        zn_secure_destroy(&self);
        return rc;
    }
    *out = self;
    return 0;
}

void
zn_secure_destroy(zn_secure_t **self_p)
{
    zn_secure_t *self = *self_p;
    if (self == NULL) {
        return;
    }
    zn_keys_destroy(&self->keys);
    zn_allow_destroy(&self->allow);
    zn_allow_destroy(&self->admin_allow);
    zn_str_free(&self->keys_dir);
    zn_free(self);
    *self_p = NULL;
}

const zn_keys_t *
zn_secure_keys(const zn_secure_t *self)
{
    return self->keys;
}

const zn_allow_t *
zn_secure_allow(const zn_secure_t *self)
{
    return self->allow;
}

const zn_allow_t *
zn_secure_admin_allow(const zn_secure_t *self)
{
    return self->admin_allow;
}

int
zn_secure_peer_public(const zn_secure_t *self, const char *name, char out[ZN_KEY_Z85_LEN + 1],
                      zn_fault_t *fault)
{
    out[0] = '\0';
    if (self->keys == NULL) {
        return 0;
    }
    char *path = zn_asprintf("%s/%s.key.pub", self->keys_dir, name);
    int rc = zn_keys_read_public(path, out, fault);
    zn_str_free(&path);
    return rc;
}

bool
zn_secure_name_is_controller(const char *name)
{
    return name != NULL && name[0] != '\0' && strncmp(name, "compute-", 8) != 0;
}

const char *
zn_secure_public_or_null(const zn_secure_t *self, const char *out)
{
    return self->keys != NULL ? out : NULL;
}

int
zn_secure_client_open(const zn_secure_t *self, const char *name, const char *key_name,
                      const char *endpoints, zn_metrics_t *metrics, zloop_t *loop,
                      zn_client_t **out, zn_fault_t *fault)
{
    *out = NULL;
    if (endpoints == NULL || endpoints[0] == '\0') {
        return 0;
    }
    char server_public[ZN_KEY_Z85_LEN + 1];
    int rc = zn_secure_peer_public(self, key_name, server_public, fault);
    if (rc < 0) {
        return rc;
    }
    size_t count = 0;
    char **list = zn_str_split(endpoints, ',', &count);
    zn_client_opts_t copts = {
        .name = name,
        .endpoints = (const char *const *)list,
        .endpoint_count = count,
        .keys = zn_secure_keys(self),
        .server_public = zn_secure_public_or_null(self, server_public),
        .metrics = metrics,
    };
    rc = zn_client_open(out, &copts, fault);
    zn_strv_free(&list);
    if (rc == 0) {
        rc = zn_client_attach(*out, loop);
    }
    if (rc < 0) {
        zn_client_destroy(out);
    }
    return rc;
}
