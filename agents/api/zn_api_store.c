/* SPDX-License-Identifier: Apache-2.0 */
/* zn_api_store.c - the api's use of the store: replica reads, writes through the conductor, and
 * the conditional read-modify-write of an instance that every state change goes through. */
#include <errno.h>
#include <string.h>

#include "zn_api_int.h"
#include "zn_clock.h"
#include "zn_log.h"
#include "zn_mem.h"
#include "zn_mp.h"
#include "zn_tables.h"

#define S_SCAN_PAGE 256

int
zn__api_read_begin(zn_api_t *self, zn_store_read_t **out, zn_fault_t *fault)
{
    return zn_sclient_read_begin(self->sclient, out, fault);
}

const zn_store_table_t *
zn__api_table(zn_api_t *self, const char *table)
{
    return zn_sclient_table(self->sclient, table);
}

int
zn__api_get(zn_api_t *self, zn_store_read_t *txn, const char *table, const char *key,
            const zn_schema_t *schema, void *obj, uint64_t *gen, zn_fault_t *fault)
{
    const zn_store_table_t *t = zn__api_table(self, table);
    if (t == NULL) {
        return zn_fault_set(fault, ZN_EUNAVAIL, "the store has no table %s yet", table);
    }
    return zn_sclient_get(txn, t, key, schema, obj, gen, fault);
}

static int
s_scan_index(zn_store_read_t *txn, const zn_store_index_t *index, const char *value,
             zn__api_visit_fn *fn, void *arg)
{
    zn_store_record_t *recs = zn_calloc(S_SCAN_PAGE, sizeof(*recs));
    zn_store_index_query_t q = {.value = zn_batch_str(value), .match = ZN_STORE_MATCH_EXACT};
    int rc = 0;
    for (;;) {
        int n = zn_store_index_scan(txn, index, &q, recs, S_SCAN_PAGE);
        if (n < 0) {
            rc = n;
            break;
        }
        for (int i = 0; i < n && rc == 0; i++) {
            rc = fn(arg, &recs[i]);
        }
        if (rc < 0 || n < S_SCAN_PAGE) {
            break;
        }
        q.marker_value = recs[n - 1].index_value;
        q.marker_key = recs[n - 1].key;
    }
    zn_free(recs);
    return rc;
}

static int
s_scan_table(zn_store_read_t *txn, const zn_store_table_t *table, zn__api_visit_fn *fn, void *arg)
{
    zn_store_record_t *recs = zn_calloc(S_SCAN_PAGE, sizeof(*recs));
    zn_buf_t marker = {NULL, 0};
    int rc = 0;
    for (;;) {
        int n = zn_store_scan(txn, table, marker, recs, S_SCAN_PAGE);
        if (n < 0) {
            rc = n;
            break;
        }
        for (int i = 0; i < n && rc == 0; i++) {
            rc = fn(arg, &recs[i]);
        }
        if (rc < 0 || n < S_SCAN_PAGE) {
            break;
        }
        marker = recs[n - 1].key;
    }
    zn_free(recs);
    return rc;
}

int
zn__api_scan(zn_api_t *self, zn_store_read_t *txn, const char *table, const char *index,
             const char *value, zn__api_visit_fn *fn, void *arg)
{
    const zn_store_table_t *t = zn__api_table(self, table);
    if (t == NULL) {
        return 0; /* no replica yet: nothing to list */
    }
    if (index == NULL) {
        return s_scan_table(txn, t, fn, arg);
    }
    const zn_store_index_t *idx = zn_store_index(t, index);
    return idx == NULL ? -EINVAL : s_scan_index(txn, idx, value, fn, arg);
}

/* A write in flight: the caller's callback and the api's pending count. */
typedef struct {
    zn_api_t *api;
    zn_sclient_done_fn *fn;
    void *arg;
} s_write_t;

static void
s_written(void *arg, const zn_fault_t *fault)
{
    s_write_t *w = arg;
    zn_api_t *api = w->api;
    w->fn(w->arg, fault);
    zn_free(w);
    zn__api_release(api);
}

int
zn__api_write(zn_api_t *self, const zn_ctx_t *ctx, const zn_batch_t *batch, zn_sclient_done_fn *fn,
              void *arg)
{
    s_write_t *w = zn_calloc(1, sizeof(*w));
    w->api = self;
    w->fn = fn;
    w->arg = arg;
    int rc = zn_sclient_write(self->sclient, ctx, batch, ZN_SCLIENT_WRITE_TIMEOUT_MS, s_written, w);
    if (rc < 0) {
        zn_free(w);
        return rc;
    }
    zn__api_hold(self);
    return 0;
}

void
zn__api_ctx(const zn_rest_req_t *req, zn_ctx_t *out)
{
    zn_rest_ctx(req, out);
}

void
zn__api_set_str(char **field, const char *value)
{
    zn_free(*field);
    *field = value != NULL && value[0] != '\0' ? zn_strdup(value) : NULL;
}

int
zn__api_event_start(zn_batch_t *batch, zn_cell_instance_t *inst, const zn_ctx_t *ctx,
                    const char *action, const char *event)
{
    inst->event_seq++;
    zn_cell_event_t ev = {
        .instance_id = inst->id,
        .action = (char *)(uintptr_t)action, /* only read by the encoder */
        .request_id = (char *)(uintptr_t)ctx->req_id,
        .user_id = (char *)(uintptr_t)ctx->user_id,
        .project_id = (char *)(uintptr_t)ctx->project_id,
        .event = (char *)(uintptr_t)event,
        .host = inst->host,
        .start_ms = zn_clock_wall_ms(),
    };
    char key[ZN_CELLREC_EVENT_KEY_MAX];
    zn_cellrec_event_key(inst->id, inst->event_seq, key);
    return zn_sclient_put(batch, ZN_TABLE_INSTANCE_EVENTS, key, &zn_cell_event_schema, &ev,
                          ZN_BATCH_GEN_ABSENT);
}

/* ---- instance read-modify-write ----------------------------------------------------------- */

typedef struct {
    zn_api_t *api;
    zn_ctx_t ctx; /* without the token: the mutations do not need it */
    char id[ZN_API_ID_MAX + 1];
    zn__api_mutate_fn *mutate;
    zn__api_done_fn *done;
    void *arg;
    int tries;
    zn_cell_instance_t inst; /* as last written */
} s_op_t;

static void s_op_run(s_op_t *op);

static void
s_op_end(s_op_t *op, const zn_fault_t *fault)
{
    zn_api_t *api = op->api;
    op->done(op->arg, fault->code == 0 ? &op->inst : NULL, fault);
    zn_schema_release(&zn_cell_instance_schema, &op->inst);
    zn_free(op);
    zn__api_release(api);
}

static void
s_op_written(void *arg, const zn_fault_t *fault)
{
    s_op_t *op = arg;
    if (fault->code == ZN_ECONFLICT && op->tries < ZN_API_TRIES) {
        s_op_run(op); /* someone wrote first: read again and decide again */
        return;
    }
    s_op_end(op, fault);
}

static int
s_op_build(s_op_t *op, zn_store_read_t *txn, zn_batch_t *batch, zn_fault_t *fault)
{
    uint64_t gen = 0;
    zn_schema_release(&zn_cell_instance_schema, &op->inst);
    int rc = zn__api_get(op->api, txn, ZN_TABLE_INSTANCES, op->id, &zn_cell_instance_schema,
                         &op->inst, &gen, fault);
    if (rc == -ENOENT) {
        return zn_fault_set(fault, -ENOENT, "Instance %s could not be found.", op->id);
    }
    if (rc == 0) {
        rc = op->mutate(op->arg, txn, &op->inst, batch, fault);
    }
    if (rc == 0) {
        op->inst.updated_ms = zn_clock_wall_ms();
        rc = zn_sclient_put(batch, ZN_TABLE_INSTANCES, op->id, &zn_cell_instance_schema, &op->inst,
                            gen);
        if (rc < 0) {
            zn_fault_set(fault, rc, "instance %s: the write does not fit a batch", op->id);
        }
    }
    return rc;
}

static void
s_op_run(s_op_t *op)
{
    op->tries++;
    zn_fault_t fault;
    zn_fault_clear(&fault);
    zn_store_read_t *txn = NULL;
    zn_batch_t *batch = zn_batch_new();
    int rc = zn__api_read_begin(op->api, &txn, &fault);
    if (rc == 0) {
        rc = s_op_build(op, txn, batch, &fault);
    }
    zn_store_read_end(&txn);
    if (rc == 0) {
        rc = zn__api_write(op->api, &op->ctx, batch, s_op_written, op);
        if (rc < 0) {
            zn_fault_set(&fault, rc, "cannot reach the conductor: %s", zn_strerror(rc));
        }
    } else if (rc == ZN_EDONE) {
        zn_fault_clear(&fault);
    }
    zn_batch_destroy(&batch);
    if (rc != 0) {
        if (rc < 0 && rc != ZN_EDONE) {
            zn_schema_release(&zn_cell_instance_schema, &op->inst);
        }
        s_op_end(op, &fault);
    }
}

void
zn__api_inst_update(zn_api_t *self, const zn_ctx_t *ctx, const char *instance_id,
                    zn__api_mutate_fn *mutate, zn__api_done_fn *done, void *arg)
{
    s_op_t *op = zn_calloc(1, sizeof(*op));
    op->api = self;
    if (ctx != NULL) {
        zn_ctx_copy(&op->ctx, ctx);
        op->ctx.token = (zn_buf_t){NULL, 0};
    }
    (void)snprintf(op->id, sizeof(op->id), "%s", instance_id);
    op->mutate = mutate;
    op->done = done;
    op->arg = arg;
    zn__api_hold(self);
    s_op_run(op);
}

/* ---- quotas ------------------------------------------------------------------------------- */

int
zn__api_quota_read(zn_api_t *self, zn_store_read_t *txn, const char *project_id,
                   zn_cell_quota_t *limits, zn_cell_quota_t *usage, uint64_t *gen,
                   zn_fault_t *fault)
{
    int rc = zn__api_get(self, txn, ZN_TABLE_QUOTAS, project_id, &zn_cell_quota_schema, limits,
                         NULL, fault);
    if (rc == -ENOENT) {
        memset(limits, 0, sizeof(*limits));
        limits->project_id = zn_strdup(project_id);
        limits->instances = ZN_CELL_QUOTA_INSTANCES;
        limits->cores = ZN_CELL_QUOTA_CORES;
        limits->ram_mb = ZN_CELL_QUOTA_RAM_MB;
        rc = 0;
    }
    if (rc < 0) {
        return rc;
    }
    *gen = ZN_BATCH_GEN_ABSENT;
    rc = zn__api_get(self, txn, ZN_TABLE_QUOTA_USAGE, project_id, &zn_cell_quota_schema, usage, gen,
                     fault);
    if (rc == -ENOENT) {
        memset(usage, 0, sizeof(*usage));
        usage->project_id = zn_strdup(project_id);
        *gen = ZN_BATCH_GEN_ABSENT;
        rc = 0;
    }
    if (rc < 0) {
        zn_schema_release(&zn_cell_quota_schema, limits);
    }
    return rc;
}

/* ---- write, then answer ------------------------------------------------------------------- */

typedef struct {
    zn_rest_req_t *req;
    unsigned status;
    json_t *body;
    char *conflict_words;
} s_answer_t;

static void
s_answer_written(void *arg, const zn_fault_t *fault)
{
    s_answer_t *a = arg;
    if (fault->code == 0) {
        zn_rest_reply(a->req, a->status, a->body);
        a->body = NULL;
    } else if (fault->code == ZN_ECONFLICT) {
        zn_rest_error(a->req, ZN_ECONFLICT, a->conflict_words);
    } else {
        zn_rest_error(a->req, fault->code, zn_fault_message(fault));
    }
    json_decref(a->body);
    zn_free(a->conflict_words);
    zn_free(a);
}

int
zn__api_write_reply(zn_api_t *self, zn_rest_req_t *req, const zn_batch_t *batch, unsigned status,
                    json_t *body, const char *conflict_words, zn_fault_t *fault)
{
    s_answer_t *a = zn_calloc(1, sizeof(*a));
    a->req = req;
    a->status = status;
    a->body = body;
    a->conflict_words = zn_strdup(conflict_words != NULL ? conflict_words : "conflict");
    zn_ctx_t ctx;
    zn__api_ctx(req, &ctx);
    int rc = zn__api_write(self, &ctx, batch, s_answer_written, a);
    if (rc < 0) {
        json_decref(a->body);
        zn_free(a->conflict_words);
        zn_free(a);
        return zn_fault_set(fault, ZN_EUNAVAIL, "cannot reach the conductor: %s", zn_strerror(rc));
    }
    return ZN_DEFERRED;
}

/* ---- events and claims -------------------------------------------------------------------- */

int
zn__api_event_finish(zn_api_t *self, zn_store_read_t *txn, const zn_cell_instance_t *inst,
                     zn_batch_t *batch, const char *result, const char *message)
{
    if (inst->event_seq <= 0) {
        return 0;
    }
    char key[ZN_CELLREC_EVENT_KEY_MAX];
    zn_cellrec_event_key(inst->id, inst->event_seq, key);
    zn_cell_event_t ev;
    uint64_t gen = 0;
    if (zn__api_get(self, txn, ZN_TABLE_INSTANCE_EVENTS, key, &zn_cell_event_schema, &ev, &gen,
                    NULL) < 0) {
        return 0; /* the row is gone or damaged: the instance's state still changes */
    }
    zn__api_set_str(&ev.result, result);
    zn__api_set_str(&ev.message, message);
    ev.finish_ms = zn_clock_wall_ms();
    int rc = zn_sclient_put(batch, ZN_TABLE_INSTANCE_EVENTS, key, &zn_cell_event_schema, &ev, gen);
    zn_schema_release(&zn_cell_event_schema, &ev);
    return rc;
}

typedef struct {
    zn_api_t *api;
    zn_ctx_t ctx;
    char id[ZN_API_ID_MAX + 1];
    int tries;
} s_orphan_t;

static void s_orphan_run(s_orphan_t *o);

static void
s_orphan_written(void *arg, const zn_fault_t *fault)
{
    s_orphan_t *o = arg;
    if (fault->code == ZN_ECONFLICT && o->tries < ZN_API_TRIES) {
        s_orphan_run(o);
        return;
    }
    if (fault->code < 0) {
        zn_log_warn(o->ctx.req_id, "claim of deleted instance %s not released: %s", o->id,
                    zn_fault_message(fault));
    }
    zn_free(o);
}

/* The claim's release into BATCH; ZN_EDONE when there is no claim. */
static int
s_orphan_batch(s_orphan_t *o, zn_store_read_t *txn, zn_batch_t *batch)
{
    zn_cell_claim_t claim;
    uint64_t claim_gen = 0;
    int rc = zn__api_get(o->api, txn, ZN_TABLE_CLAIMS, o->id, &zn_cell_claim_schema, &claim,
                         &claim_gen, NULL);
    if (rc < 0) {
        return rc == -ENOENT ? ZN_EDONE : rc;
    }
    zn_cell_usage_t usage;
    uint64_t usage_gen = 0;
    rc = zn__api_get(o->api, txn, ZN_TABLE_HOST_USAGE, claim.host, &zn_cell_usage_schema, &usage,
                     &usage_gen, NULL);
    if (rc == 0) {
        usage.vcpus_used -= claim.vcpus;
        usage.ram_mb_used -= claim.ram_mb;
        usage.disk_gb_used -= claim.disk_gb;
        usage.instances -= 1;
        rc = zn_sclient_put(batch, ZN_TABLE_HOST_USAGE, claim.host, &zn_cell_usage_schema, &usage,
                            usage_gen);
        zn_schema_release(&zn_cell_usage_schema, &usage);
    } else if (rc == -ENOENT) {
        rc = 0;
    }
    if (rc == 0) {
        rc = zn_batch_delete(batch, ZN_TABLE_CLAIMS, zn_batch_str(o->id), claim_gen);
    }
    zn_schema_release(&zn_cell_claim_schema, &claim);
    return rc;
}

static void
s_orphan_run(s_orphan_t *o)
{
    o->tries++;
    zn_store_read_t *txn = NULL;
    zn_batch_t *batch = zn_batch_new();
    int rc = zn__api_read_begin(o->api, &txn, NULL);
    if (rc == 0) {
        rc = s_orphan_batch(o, txn, batch);
    }
    zn_store_read_end(&txn);
    if (rc == 0) {
        rc = zn__api_write(o->api, &o->ctx, batch, s_orphan_written, o);
    }
    zn_batch_destroy(&batch);
    if (rc != 0) {
        if (rc != ZN_EDONE) {
            zn_log_warn(o->ctx.req_id, "claim of deleted instance %s not released: %s", o->id,
                        zn_strerror(rc));
        }
        zn_free(o);
    }
}

void
zn__api_release_orphan_claim(zn_api_t *self, const zn_ctx_t *ctx, const char *instance_id)
{
    s_orphan_t *o = zn_calloc(1, sizeof(*o));
    o->api = self;
    zn_ctx_copy(&o->ctx, ctx);
    o->ctx.token = (zn_buf_t){NULL, 0};
    (void)snprintf(o->id, sizeof(o->id), "%s", instance_id);
    s_orphan_run(o);
}

int
zn__api_scan_prefix(zn_api_t *self, zn_store_read_t *txn, const char *table, const char *prefix,
                    zn__api_visit_fn *fn, void *arg)
{
    const zn_store_table_t *t = zn__api_table(self, table);
    if (t == NULL) {
        return 0;
    }
    size_t prefix_len = strlen(prefix);
    zn_store_record_t *recs = zn_calloc(S_SCAN_PAGE, sizeof(*recs));
    zn_buf_t marker = zn_batch_str(prefix); /* keys after the bare prefix */
    int rc = 0;
    bool more = true;
    while (more && rc == 0) {
        int n = zn_store_scan(txn, t, marker, recs, S_SCAN_PAGE);
        if (n < 0) {
            rc = n;
            break;
        }
        for (int i = 0; i < n && rc == 0 && more; i++) {
            more =
                recs[i].key.len >= prefix_len && memcmp(recs[i].key.ptr, prefix, prefix_len) == 0;
            rc = more ? fn(arg, &recs[i]) : 0;
        }
        more = more && n == S_SCAN_PAGE;
        if (n > 0) {
            marker = recs[n - 1].key;
        }
    }
    zn_free(recs);
    return rc;
}
