/* SPDX-License-Identifier: Apache-2.0 */
/* zn_volops_list.c - volume lists from the local replica: one project's through the table's
 * project index, or every project's by a table scan that skips the usage records; filtered by
 * name and status, paged by marker in id order. */
#include <errno.h>
#include <string.h>

#include "zn_mem.h"
#include "zn_tables.h"
#include "zn_volops_int.h"

#define S_PAGE 128

typedef struct {
    const zn_volops_query_t *query;
    zn_vol_t *vols;
    size_t count; /* kept, up to limit + 1 (the one past the limit says "more") */
} s_list_t;

static bool
s_matches(const zn_volops_query_t *query, const zn_vol_t *vol)
{
    if (query->name != NULL && (vol->name == NULL || strcmp(vol->name, query->name) != 0)) {
        return false;
    }
    return query->status == NULL ||
           (vol->status != NULL && strcmp(vol->status, query->status) == 0);
}

/* Keep the matching volumes of RECS; returns true once the list is full. */
static bool
s_take(s_list_t *list, const zn_store_record_t *recs, int n)
{
    for (int i = 0; i < n && list->count <= list->query->limit; i++) {
        if (zn_volrec_is_usage_key((const char *)recs[i].key.ptr, recs[i].key.len)) {
            continue;
        }
        zn_vol_t *vol = &list->vols[list->count];
        if (zn_schema_decode(&zn_vol_schema, recs[i].value, vol, NULL, NULL) < 0) {
            continue; /* a damaged record is not listed; get says why */
        }
        if (s_matches(list->query, vol)) {
            list->count++;
        } else {
            zn_schema_release(&zn_vol_schema, vol);
        }
    }
    return list->count > list->query->limit;
}

static int
s_scan_index(s_list_t *list, zn_store_read_t *txn, const zn_store_table_t *table,
             zn_store_record_t *recs)
{
    const zn_volops_query_t *query = list->query;
    const zn_store_index_t *index = zn_store_index(table, "project_id");
    if (index == NULL) {
        return ZN_EUNAVAIL;
    }
    zn_buf_t project = {(const uint8_t *)query->project_id, strlen(query->project_id)};
    char last[ZN_STORE_KEY_MAX_BYTES + 1] = "";
    (void)snprintf(last, sizeof(last), "%s", query->marker != NULL ? query->marker : "");
    for (;;) {
        zn_store_index_query_t iq = {.value = project,
                                     .match = ZN_STORE_MATCH_EXACT,
                                     .marker_value = project,
                                     .marker_key = {(const uint8_t *)last, strlen(last)}};
        int n = zn_store_index_scan(txn, index, &iq, recs, S_PAGE);
        if (n < 0) {
            return n;
        }
        if (s_take(list, recs, n) || n < S_PAGE) {
            return 0;
        }
        (void)snprintf(last, sizeof(last), "%.*s", (int)recs[n - 1].key.len,
                       (const char *)recs[n - 1].key.ptr);
    }
}

static int
s_scan_table(s_list_t *list, zn_store_read_t *txn, const zn_store_table_t *table,
             zn_store_record_t *recs)
{
    char last[ZN_STORE_KEY_MAX_BYTES + 1] = "";
    const char *marker = list->query->marker;
    (void)snprintf(last, sizeof(last), "%s", marker != NULL ? marker : "");
    for (;;) {
        zn_buf_t from = {(const uint8_t *)last, strlen(last)};
        int n = zn_store_scan(txn, table, from, recs, S_PAGE);
        if (n < 0) {
            return n;
        }
        if (s_take(list, recs, n) || n < S_PAGE) {
            return 0;
        }
        (void)snprintf(last, sizeof(last), "%.*s", (int)recs[n - 1].key.len,
                       (const char *)recs[n - 1].key.ptr);
    }
}

static int
s_list(s_list_t *list, zn_store_read_t *txn, const zn_store_table_t *table, zn_fault_t *fault)
{
    const char *marker = list->query->marker;
    if (marker != NULL) {
        uint64_t gen = 0;
        zn_buf_t key = {(const uint8_t *)marker, strlen(marker)};
        if (key.len == 0 || key.len > ZN_STORE_KEY_MAX_BYTES ||
            zn_store_get_generation(txn, table, key, &gen) < 0) {
            return zn_fault_set(fault, -ENOENT, "Marker %.64s could not be found.", marker);
        }
    }
    zn_store_record_t *recs = zn_calloc(S_PAGE, sizeof(*recs));
    int rc = list->query->project_id != NULL ? s_scan_index(list, txn, table, recs)
                                             : s_scan_table(list, txn, table, recs);
    zn_free(recs);
    return rc < 0 ? zn_fault_set(fault, rc, "volumes cannot be listed: %s", zn_strerror(rc)) : 0;
}

int
zn_volops_list(zn_volops_t *self, const zn_volops_query_t *query, zn_vol_t **out, size_t *count,
               bool *more, zn_fault_t *fault)
{
    *out = NULL;
    *count = 0;
    *more = false;
    if (query->limit < 1 || query->limit > ZN_VOLOPS_LIST_MAX) {
        return zn_fault_set(fault, -EINVAL, "limit must be between 1 and %u", ZN_VOLOPS_LIST_MAX);
    }
    const zn_store_table_t *table = zn_sclient_table(self->sc, ZN_TABLE_VOLUMES);
    zn_store_read_t *txn = NULL;
    int rc = zn_sclient_read_begin(self->sc, &txn, fault);
    if (rc == 0 && table == NULL) {
        table = zn_sclient_table(self->sc, ZN_TABLE_VOLUMES); /* the replica opened just now */
    }
    if (rc < 0 || table == NULL) {
        zn_store_read_end(&txn);
        return rc < 0 ? rc : zn_fault_set(fault, ZN_EUNAVAIL, "the volumes table is missing");
    }
    s_list_t list = {query, zn_calloc(query->limit + 1, sizeof(zn_vol_t)), 0};
    rc = s_list(&list, txn, table, fault);
    zn_store_read_end(&txn);
    if (rc < 0 || list.count > query->limit) {
        *more = rc == 0;
        if (list.count > 0) {
            zn_schema_release(&zn_vol_schema, &list.vols[--list.count]);
        }
    }
    if (rc < 0) {
        zn_volops_list_free(&list.vols, list.count);
        return rc;
    }
    *out = list.vols;
    *count = list.count;
    return 0;
}

void
zn_volops_list_free(zn_vol_t **vols_p, size_t count)
{
    zn_vol_t *vols = *vols_p;
    if (vols == NULL) {
        return;
    }
    for (size_t i = 0; i < count; i++) {
        zn_schema_release(&zn_vol_schema, &vols[i]);
    }
    zn_free(vols);
    *vols_p = NULL;
}
