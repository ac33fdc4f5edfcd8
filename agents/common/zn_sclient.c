/* SPDX-License-Identifier: Apache-2.0 */
/* zn_sclient.c - local replica reads, conductor writes. */
#include "zn_sclient.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "zn_client.h"
#include "zn_log.h"
#include "zn_mem.h"
#include "zn_mp.h"
#include "zn_str.h"
#include "zn_tables.h"

struct zn_sclient {
    char *data_dir;
    zn_client_t *client;
    zn_store_t *store; /* opened on first read */
    zn_pack_t *pack;   /* scratch for write bodies */
};

typedef struct {
    zn_sclient_done_fn *fn;
    void *arg;
} s_pending_t;

int
zn_sclient_open(zn_sclient_t **out, const zn_sclient_opts_t *opts, zn_fault_t *fault)
{
    *out = NULL;
    if (opts->data_dir == NULL || opts->conductor_call == NULL) {
        return zn_fault_set(fault, -EINVAL, "store client: data_dir and conductor_call are needed");
    }
    size_t count = 0;
    char **endpoints = zn_str_split(opts->conductor_call, ',', &count);
    zn_client_opts_t copts = {
        .name = "store",
        .endpoints = (const char *const *)endpoints,
        .endpoint_count = count,
        .keys = opts->keys,
        .server_public = opts->conductor_public,
        .metrics = opts->metrics,
    };
    zn_sclient_t *self = zn_calloc(1, sizeof(*self));
    int rc = zn_client_open(&self->client, &copts, fault);
    zn_strv_free(&endpoints);
    if (rc < 0) {
        zn_free(self);
        return rc;
    }
    self->data_dir = zn_strdup(opts->data_dir);
    self->pack = zn_pack_new();
    *out = self;
    return 0;
}

void
zn_sclient_destroy(zn_sclient_t **self_p)
{
    zn_sclient_t *self = *self_p;
    if (self == NULL) {
        return;
    }
    zn_client_destroy(&self->client);
    zn_store_destroy(&self->store);
    zn_pack_destroy(&self->pack);
    zn_free(self->data_dir);
    zn_free(self);
    *self_p = NULL;
}

int
zn_sclient_attach(zn_sclient_t *self, zloop_t *loop)
{
    return zn_client_attach(self->client, loop);
}

/* ---- reads ------------------------------------------------------------------------------- */

/* Open the replica read-only once the conductor has created it. */
static int
s_replica(zn_sclient_t *self, zn_fault_t *fault)
{
    if (self->store != NULL) {
        return 0;
    }
    size_t count = 0;
    const zn_store_table_def_t *tables = zn_tables(&count);
    /* The conductor keeps its LMDB in [store] data_dir/store: accept either directory. */
    char *nested = zn_asprintf("%s/store/data.mdb", self->data_dir);
    struct stat st;
    bool use_nested = stat(nested, &st) == 0;
    zn_str_free(&nested);
    char *path = use_nested ? zn_asprintf("%s/store", self->data_dir) : zn_strdup(self->data_dir);
    zn_store_opts_t sopts = {
        .path = path,
        .tables = tables,
        .table_count = count,
        .mode = ZN_STORE_READ_ONLY,
    };
    zn_fault_t why;
    int rc = zn_store_open(&self->store, &sopts, &why);
    zn_str_free(&path);
    if (rc < 0) {
        return zn_fault_set(fault, ZN_EUNAVAIL,
                            "the store replica in %s cannot be read (%s): is this node's "
                            "conductor running with [store] data_dir = %s?",
                            self->data_dir, why.message, self->data_dir);
    }
    return 0;
}

int
zn_sclient_read_begin(zn_sclient_t *self, zn_store_read_t **out, zn_fault_t *fault)
{
    *out = NULL;
    int rc = s_replica(self, fault);
    if (rc < 0) {
        return rc;
    }
    rc = zn_store_read_begin(self->store, out);
    return rc < 0 ? zn_fault_set(fault, rc, "store read: %s", zn_strerror(rc)) : 0;
}

const zn_store_table_t *
zn_sclient_table(zn_sclient_t *self, const char *name)
{
    if (s_replica(self, NULL) < 0) {
        return NULL;
    }
    return zn_store_table(self->store, name);
}

int
zn_sclient_get(zn_store_read_t *txn, const zn_store_table_t *table, const char *key,
               const zn_schema_t *schema, void *obj, uint64_t *generation, zn_fault_t *fault)
{
    zn_store_record_t rec;
    int rc = zn_store_get(txn, table, zn_batch_str(key), &rec);
    if (rc == -ENOENT) {
        return zn_fault_set(fault, rc, "%s %s not found", schema->name, key);
    }
    if (rc < 0) {
        return zn_fault_set(fault, rc, "%s %s: %s", schema->name, key, zn_strerror(rc));
    }
    rc = zn_schema_decode(schema, rec.value, obj, NULL, fault);
    if (rc == 0 && generation != NULL) {
        *generation = rec.generation;
    }
    return rc;
}

/* ---- writes ------------------------------------------------------------------------------ */

static zn_buf_t
s_body(zn_sclient_t *self, const zn_batch_t *batch)
{
    zn_buf_t bytes = zn_batch_bytes(batch);
    zn_pack_reset(self->pack);
    zn_pack_bin(self->pack, bytes.ptr, bytes.len);
    return zn_pack_buf(self->pack);
}

static void
s_on_reply(void *arg, const zn_env_t *reply, const zn_fault_t *fault)
{
    (void)reply;
    s_pending_t *pending = arg;
    pending->fn(pending->arg, fault);
    zn_free(pending);
}

int
zn_sclient_write(zn_sclient_t *self, const zn_ctx_t *ctx, const zn_batch_t *batch,
                 int64_t timeout_ms, zn_sclient_done_fn *fn, void *arg)
{
    s_pending_t *pending = zn_calloc(1, sizeof(*pending));
    pending->fn = fn;
    pending->arg = arg;
    int rc = zn_client_call(self->client, "store_write", ctx, s_body(self, batch),
                            timeout_ms > 0 ? timeout_ms : ZN_SCLIENT_WRITE_TIMEOUT_MS, s_on_reply,
                            pending);
    if (rc < 0) {
        zn_free(pending);
    }
    return rc;
}

int
zn_sclient_write_sync(zn_sclient_t *self, const zn_ctx_t *ctx, const zn_batch_t *batch,
                      int64_t timeout_ms, zn_fault_t *fault)
{
    zn_reply_t *reply = NULL;
    int rc = zn_client_call_sync(self->client, "store_write", ctx, s_body(self, batch),
                                 timeout_ms > 0 ? timeout_ms : ZN_SCLIENT_WRITE_TIMEOUT_MS, &reply,
                                 fault);
    zn_reply_destroy(&reply);
    return rc;
}

int
zn_sclient_put(zn_batch_t *batch, const char *table, const char *key, const zn_schema_t *schema,
               const void *obj, uint64_t expect_gen)
{
    zn_pack_t *pack = zn_pack_new();
    zn_schema_encode(schema, obj, pack);
    int rc = zn_batch_put(batch, table, zn_batch_str(key), zn_pack_buf(pack), expect_gen);
    zn_pack_destroy(&pack);
    return rc;
}
