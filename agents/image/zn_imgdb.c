/* SPDX-License-Identifier: Apache-2.0 */
/* zn_imgdb.c - image records: replica reads, conditional writes through the conductors. */
#include "zn_imgdb.h"

#include <errno.h>
#include <string.h>

#include "zn_mem.h"
#include "zn_tables.h"

#define S_PAGE 64

struct zn_imgdb {
    zn_sclient_t *sclient;
    int64_t write_timeout_ms;
};

zn_imgdb_t *
zn_imgdb_new(zn_sclient_t *sclient, int64_t write_timeout_ms)
{
    zn_imgdb_t *self = zn_calloc(1, sizeof(*self));
    self->sclient = sclient;
    self->write_timeout_ms = write_timeout_ms > 0 ? write_timeout_ms : ZN_SCLIENT_WRITE_TIMEOUT_MS;
    return self;
}

void
zn_imgdb_destroy(zn_imgdb_t **self_p)
{
    zn_free(*self_p);
    *self_p = NULL;
}

static int
s_begin(zn_imgdb_t *self, const zn_store_table_t **table, zn_store_read_t **txn, zn_fault_t *fault)
{
    *table = zn_sclient_table(self->sclient, ZN_TABLE_IMAGES);
    if (*table == NULL) {
        return zn_fault_set(fault, ZN_EUNAVAIL, "the store replica is not readable yet");
    }
    return zn_sclient_read_begin(self->sclient, txn, fault);
}

int
zn_imgdb_get(zn_imgdb_t *self, const char *id, zn_imgrec_t *out, uint64_t *generation,
             zn_fault_t *fault)
{
    memset(out, 0, sizeof(*out));
    const zn_store_table_t *table = NULL;
    zn_store_read_t *txn = NULL;
    int rc = s_begin(self, &table, &txn, fault);
    if (rc == 0 && (id == NULL || id[0] == '\0' || strlen(id) > ZN_STORE_KEY_MAX_BYTES)) {
        rc = -ENOENT;
    } else if (rc == 0) {
        rc = zn_sclient_get(txn, table, id, &zn_imgrec_schema, out, generation, fault);
    }
    zn_store_read_end(&txn);
    if (rc == -ENOENT) {
        return zn_fault_set(fault, rc, "No image found with ID %s", id != NULL ? id : "");
    }
    return rc;
}

/* Visit one page; true when the visitor asked to stop. */
static bool
s_visit_page(const zn_store_record_t *recs, int count, zn_imgdb_visit_fn *visit, void *arg)
{
    for (int i = 0; i < count; i++) {
        zn_imgrec_t image;
        if (zn_schema_decode(&zn_imgrec_schema, recs[i].value, &image, NULL, NULL) < 0) {
            continue; /* a damaged record must not hide the others */
        }
        bool more = visit(arg, &image);
        zn_schema_release(&zn_imgrec_schema, &image);
        if (!more) {
            return true;
        }
    }
    return false;
}

int
zn_imgdb_list(zn_imgdb_t *self, const char *marker, zn_imgdb_visit_fn *visit, void *arg,
              zn_fault_t *fault)
{
    const zn_store_table_t *table = NULL;
    zn_store_read_t *txn = NULL;
    int rc = s_begin(self, &table, &txn, fault);
    if (rc < 0) {
        return rc;
    }
    zn_store_record_t *recs = zn_calloc(S_PAGE, sizeof(*recs));
    zn_buf_t from = marker != NULL ? zn_batch_str(marker) : (zn_buf_t){NULL, 0};
    for (;;) {
        int count = zn_store_scan(txn, table, from, recs, S_PAGE);
        if (count < 0) {
            rc = zn_fault_set(fault, count, "images: %s", zn_strerror(count));
            break;
        }
        if (s_visit_page(recs, count, visit, arg) || count < S_PAGE) {
            break;
        }
        from = recs[count - 1].key; /* valid until the transaction ends */
    }
    zn_free(recs);
    zn_store_read_end(&txn);
    return rc;
}

int
zn_imgdb_usage(zn_imgdb_t *self, const char *project_id, uint64_t *bytes, zn_fault_t *fault)
{
    *bytes = 0;
    const zn_store_table_t *table = NULL;
    zn_store_read_t *txn = NULL;
    int rc = s_begin(self, &table, &txn, fault);
    if (rc < 0) {
        return rc;
    }
    const zn_store_index_t *index = zn_store_index(table, "owner");
    zn_store_index_query_t query = {.value = zn_batch_str(project_id),
                                    .match = ZN_STORE_MATCH_EXACT};
    zn_store_record_t *recs = zn_calloc(S_PAGE, sizeof(*recs));
    while (index != NULL && strlen(project_id) <= ZN_STORE_INDEX_VALUE_MAX_BYTES) {
        int count = zn_store_index_scan(txn, index, &query, recs, S_PAGE);
        if (count < 0) {
            rc = zn_fault_set(fault, count, "images by owner: %s", zn_strerror(count));
            break;
        }
        for (int i = 0; i < count; i++) {
            zn_imgrec_t image;
            if (zn_schema_decode(&zn_imgrec_schema, recs[i].value, &image, NULL, NULL) == 0) {
                *bytes += image.size > 0 ? (uint64_t)image.size : 0;
                zn_schema_release(&zn_imgrec_schema, &image);
            }
        }
        if (count < S_PAGE) {
            break;
        }
        query.marker_value = recs[count - 1].index_value;
        query.marker_key = recs[count - 1].key;
    }
    zn_free(recs);
    zn_store_read_end(&txn);
    return rc;
}

typedef struct s_write {
    zn_imgdb_done_fn *fn;
    void *arg;
} s_write_t;

static void
s_on_written(void *arg, const zn_fault_t *fault)
{
    s_write_t *write = arg;
    write->fn(write->arg, fault);
    zn_free(write);
}

static int
s_send(zn_imgdb_t *self, const zn_ctx_t *ctx, zn_batch_t **batch_p, zn_imgdb_done_fn *fn, void *arg)
{
    s_write_t *write = zn_calloc(1, sizeof(*write));
    write->fn = fn;
    write->arg = arg;
    int rc =
        zn_sclient_write(self->sclient, ctx, *batch_p, self->write_timeout_ms, s_on_written, write);
    if (rc < 0) {
        zn_free(write);
    }
    zn_batch_destroy(batch_p);
    return rc;
}

int
zn_imgdb_put(zn_imgdb_t *self, const zn_ctx_t *ctx, const zn_imgrec_t *image, uint64_t expect_gen,
             zn_imgdb_done_fn *fn, void *arg)
{
    zn_batch_t *batch = zn_batch_new();
    int rc =
        zn_sclient_put(batch, ZN_TABLE_IMAGES, image->id, &zn_imgrec_schema, image, expect_gen);
    if (rc < 0) {
        zn_batch_destroy(&batch);
        return rc;
    }
    return s_send(self, ctx, &batch, fn, arg);
}

int
zn_imgdb_delete(zn_imgdb_t *self, const zn_ctx_t *ctx, const char *id, uint64_t expect_gen,
                zn_imgdb_done_fn *fn, void *arg)
{
    zn_batch_t *batch = zn_batch_new();
    int rc = zn_batch_delete(batch, ZN_TABLE_IMAGES, zn_batch_str(id), expect_gen);
    if (rc < 0) {
        zn_batch_destroy(&batch);
        return rc;
    }
    return s_send(self, ctx, &batch, fn, arg);
}
