/* SPDX-License-Identifier: Apache-2.0 */
/* zn_sclient.c - local replica reads, conductor writes. */
#include "zn_sclient.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "zn_client.h"
#include "zn_clock.h"
#include "zn_log.h"
#include "zn_mem.h"
#include "zn_mp.h"
#include "zn_mpread.h"
#include "zn_str.h"
#include "zn_tables.h"

/* The longest pause between two looks at the replica while a write waits for it. */
#define S_POLL_MAX_MS 16

typedef struct s_pending s_pending_t;

struct zn_sclient {
    char *data_dir;
    zn_client_t *client;
    zn_store_t *store; /* opened on first read */
    zn_pack_t *pack;   /* scratch for write bodies */
    zloop_t *loop;
    int64_t applied_wait_ms;
    s_pending_t *waiting; /* committed writes waiting for the replica to apply them */
};

/* A write in flight, then (when the replica lags) waiting for the replica. */
struct s_pending {
    zn_sclient_t *owner;
    zn_sclient_done_fn *fn;
    void *arg;
    uint64_t applied_seq; /* from the conductor's answer */
    int64_t wait_until;
    int wait_ms;
    int timer_id;
    s_pending_t *prev;
    s_pending_t *next;
};

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
    self->applied_wait_ms =
        opts->applied_wait_ms > 0 ? opts->applied_wait_ms : ZN_SCLIENT_APPLIED_WAIT_MS;
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
    /* Writes waiting for the replica did commit: tell their callers so. */
    while (self->waiting != NULL) {
        s_pending_t *p = self->waiting;
        self->waiting = p->next;
        if (p->timer_id >= 0) {
            zloop_timer_end(self->loop, p->timer_id);
        }
        zn_fault_t ok;
        zn_fault_clear(&ok);
        p->fn(p->arg, &ok);
        zn_free(p);
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
    self->loop = loop;
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

/* The applied_seq in a store_write answer's BODY ({applied_seq: N}), or 0 when it has none (a
 * conductor from before read-your-writes). */
static uint64_t
s_body_seq(zn_buf_t body)
{
    zn_mpread_t reader;
    zn_mpval_t v;
    zn_mpread_init(&reader, body);
    if (body.len == 0 || zn_mpread_next(&reader, &v, NULL) < 0 || v.type != ZN_MPT_MAP) {
        return 0;
    }
    for (uint32_t i = 0; i < v.v.count; i++) {
        zn_mpval_t key;
        zn_mpval_t val;
        if (zn_mpread_next(&reader, &key, NULL) < 0 || zn_mpread_next(&reader, &val, NULL) < 0) {
            return 0;
        }
        if (key.type == ZN_MPT_STR && key.v.bytes.len == strlen("applied_seq") &&
            memcmp(key.v.bytes.ptr, "applied_seq", key.v.bytes.len) == 0) {
            return val.type == ZN_MPT_UINT ? val.v.u : 0;
        }
        if (zn_mpread_skip_contents(&reader, &val, NULL) < 0) {
            return 0;
        }
    }
    return 0;
}

/* True once the local replica has applied everything up to SEQ (the seq of a committed batch).
 * A replica that cannot be opened at all does not hold back the caller: its reads fail anyway. */
static bool
s_applied(zn_sclient_t *self, uint64_t seq)
{
    uint64_t have = 0;
    if (seq == 0 || s_replica(self, NULL) < 0) {
        return true;
    }
    return zn_store_applied_seq(self->store, &have) == 0 && have >= seq;
}

static void
s_timed_out(const zn_sclient_t *self, uint64_t seq)
{
    zn_log_warn(NULL,
                "store write committed at applied_seq %" PRIu64
                " but the replica in %s has not applied it after %" PRId64 " ms: going on",
                seq, self->data_dir, self->applied_wait_ms);
}

static void
s_unlink(zn_sclient_t *self, s_pending_t *p)
{
    if (p->prev != NULL) {
        p->prev->next = p->next;
    } else {
        self->waiting = p->next;
    }
    if (p->next != NULL) {
        p->next->prev = p->prev;
    }
}

static int
s_on_wait(zloop_t *loop, int timer_id, void *arg)
{
    (void)timer_id;
    s_pending_t *p = arg;
    zn_sclient_t *self = p->owner;
    p->timer_id = -1;
    bool done = s_applied(self, p->applied_seq);
    if (!done && zn_clock_mono_ms() >= p->wait_until) {
        s_timed_out(self, p->applied_seq);
        done = true;
    }
    if (done) {
        s_unlink(self, p);
        zn_fault_t ok;
        zn_fault_clear(&ok);
        p->fn(p->arg, &ok);
        zn_free(p);
        return 0;
    }
    p->wait_ms = p->wait_ms * 2 > S_POLL_MAX_MS ? S_POLL_MAX_MS : p->wait_ms * 2;
    p->timer_id = zloop_timer(loop, (size_t)p->wait_ms, 1, s_on_wait, p);
    return 0;
}

/* Keep P until the replica has applied its write; false when there is no loop to wait on. */
static bool
s_wait(zn_sclient_t *self, s_pending_t *p)
{
    if (self->loop == NULL) {
        return false;
    }
    p->wait_until = zn_clock_mono_ms() + self->applied_wait_ms;
    p->wait_ms = 1;
    p->timer_id = zloop_timer(self->loop, 1, 1, s_on_wait, p);
    if (p->timer_id < 0) {
        return false;
    }
    p->next = self->waiting;
    if (self->waiting != NULL) {
        self->waiting->prev = p;
    }
    self->waiting = p;
    return true;
}

static void
s_on_reply(void *arg, const zn_env_t *reply, const zn_fault_t *fault)
{
    s_pending_t *pending = arg;
    if (fault->code == 0 && reply != NULL) {
        /* Read-your-writes: the callback runs once the replica this client reads holds the
         * write. Usually it already does (the check is one LMDB read); on a follower it may lag
         * the leader by a heartbeat. */
        pending->applied_seq = s_body_seq(reply->body);
        if (!s_applied(pending->owner, pending->applied_seq) && s_wait(pending->owner, pending)) {
            return;
        }
    }
    pending->fn(pending->arg, fault);
    zn_free(pending);
}

int
zn_sclient_write(zn_sclient_t *self, const zn_ctx_t *ctx, const zn_batch_t *batch,
                 int64_t timeout_ms, zn_sclient_done_fn *fn, void *arg)
{
    s_pending_t *pending = zn_calloc(1, sizeof(*pending));
    pending->owner = self;
    pending->fn = fn;
    pending->arg = arg;
    pending->timer_id = -1;
    int rc = zn_client_call(self->client, "store_write", ctx, s_body(self, batch),
                            timeout_ms > 0 ? timeout_ms : ZN_SCLIENT_WRITE_TIMEOUT_MS, s_on_reply,
                            pending);
    if (rc < 0) {
        zn_free(pending);
    }
    return rc;
}

/* Block until the replica has applied SEQ or the wait is over (the sync path only). */
static void
s_wait_sync(zn_sclient_t *self, uint64_t seq)
{
    int64_t until = zn_clock_mono_ms() + self->applied_wait_ms;
    int pause = 1;
    while (!s_applied(self, seq)) {
        if (zn_clock_mono_ms() >= until) {
            s_timed_out(self, seq);
            return;
        }
        zclock_sleep(pause);
        pause = pause * 2 > S_POLL_MAX_MS ? S_POLL_MAX_MS : pause * 2;
    }
}

int
zn_sclient_write_sync(zn_sclient_t *self, const zn_ctx_t *ctx, const zn_batch_t *batch,
                      int64_t timeout_ms, zn_fault_t *fault)
{
    zn_reply_t *reply = NULL;
    int rc = zn_client_call_sync(self->client, "store_write", ctx, s_body(self, batch),
                                 timeout_ms > 0 ? timeout_ms : ZN_SCLIENT_WRITE_TIMEOUT_MS, &reply,
                                 fault);
    if (rc == 0 && reply != NULL) {
        s_wait_sync(self, s_body_seq(zn_reply_env(reply)->body));
    }
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
