/* SPDX-License-Identifier: Apache-2.0 */
/* zn_store_read.c - read transactions: point reads, paginated scans and index scans. */
#include <errno.h>
#include <string.h>

#include "zn_mem.h"
#include "zn_store.h"
#include "zn_store_int.h"

struct zn_store_read {
    zn_store_t *store;
    MDB_txn *txn;
};

int
zn_store_read_begin(zn_store_t *self, zn_store_read_t **out)
{
    *out = NULL;
    /* Counted before LMDB sees it, so that the map cannot be remapped under it. */
    zn__store_reader_enter(self);
    MDB_txn *txn = NULL;
    int rc = zn__store_txn_begin(self, NULL, MDB_RDONLY, &txn);
    if (rc < 0) {
        zn__store_reader_leave(self);
        return rc;
    }
    zn_store_read_t *read = zn_malloc(sizeof(*read));
    read->store = self;
    read->txn = txn;
    *out = read;
    return 0;
}

void
zn_store_read_end(zn_store_read_t **txn_p)
{
    if (*txn_p == NULL) {
        return;
    }
    zn_store_read_t *read = *txn_p;
    mdb_txn_abort(read->txn);
    zn__store_reader_leave(read->store);
    zn_free(read);
    *txn_p = NULL;
}

static MDB_val
s_val(zn_buf_t buf)
{
    MDB_val val = {buf.len, (void *)(uintptr_t)buf.ptr}; /* LMDB's API is not const-correct */
    return val;
}

static zn_buf_t
s_buf(const MDB_val *val)
{
    zn_buf_t buf = {val->mv_data, val->mv_size};
    return buf;
}

int
zn_store_get(zn_store_read_t *txn, const zn_store_table_t *table, zn_buf_t key,
             zn_store_record_t *out)
{
    if (key.len == 0 || key.len > ZN_STORE_KEY_MAX_BYTES) {
        return -ENOENT; /* no such key can have been stored */
    }
    MDB_val k = s_val(key);
    MDB_val v;
    int rc = zn__store_rc(mdb_get(txn->txn, table->dbi, &k, &v));
    if (rc < 0) {
        return rc;
    }
    out->key = key;
    out->index_value.ptr = NULL;
    out->index_value.len = 0;
    return zn__store_record_parse(&v, out);
}

int
zn_store_get_generation(zn_store_read_t *txn, const zn_store_table_t *table, zn_buf_t key,
                        uint64_t *out)
{
    zn_store_record_t record;
    int rc = zn_store_get(txn, table, key, &record);
    if (rc == 0) {
        *out = record.generation;
    }
    return rc;
}

static int
s_emit(const MDB_val *key, const MDB_val *val, zn_store_record_t *out)
{
    out->key = s_buf(key);
    out->index_value.ptr = NULL;
    out->index_value.len = 0;
    return zn__store_record_parse(val, out);
}

int
zn_store_scan(zn_store_read_t *txn, const zn_store_table_t *table, zn_buf_t marker,
              zn_store_record_t *out, size_t limit)
{
    if (limit == 0 || limit > ZN_STORE_PAGE_MAX) {
        return -EINVAL;
    }
    MDB_cursor *cursor = NULL;
    int rc = zn__store_rc(mdb_cursor_open(txn->txn, table->dbi, &cursor));
    if (rc < 0) {
        return rc;
    }
    MDB_val key = s_val(marker);
    MDB_val val;
    rc = zn__store_rc(mdb_cursor_get(cursor, &key, &val, marker.len ? MDB_SET_RANGE : MDB_FIRST));
    if (rc == 0 && marker.len > 0 && key.mv_size == marker.len &&
        memcmp(key.mv_data, marker.ptr, marker.len) == 0) {
        rc = zn__store_rc(mdb_cursor_get(cursor, &key, &val, MDB_NEXT));
    }
    size_t count = 0;
    while (rc == 0 && count < limit) {
        rc = s_emit(&key, &val, &out[count]);
        if (rc == 0) {
            count++;
            rc = count < limit ? zn__store_rc(mdb_cursor_get(cursor, &key, &val, MDB_NEXT)) : 0;
        }
    }
    mdb_cursor_close(cursor);
    return rc < 0 && rc != -ENOENT ? rc : (int)count;
}

/* Where an index scan starts and what every entry it returns must begin with. */
typedef struct s_range {
    uint8_t start[ZN__STORE_INDEX_KEY_MAX_BYTES];
    MDB_val start_key;
    bool skip_start; /* the start is the marker itself, already returned */
    uint8_t match[ZN_STORE_INDEX_VALUE_MAX_BYTES + 1];
    size_t match_len;
} s_range_t;

static int
s_range_init(s_range_t *range, const zn_store_index_query_t *query)
{
    bool exact = query->match == ZN_STORE_MATCH_EXACT;
    if (query->value.len > ZN_STORE_INDEX_VALUE_MAX_BYTES ||
        query->marker_value.len > ZN_STORE_INDEX_VALUE_MAX_BYTES ||
        query->marker_key.len > ZN_STORE_KEY_MAX_BYTES) {
        return -EINVAL;
    }
    if (query->value.len > 0) {
        memcpy(range->match, query->value.ptr, query->value.len);
    }
    range->match[query->value.len] = '\0';
    range->match_len = query->value.len + (exact ? 1u : 0u);
    range->skip_start = query->marker_key.len > 0;
    if (range->skip_start) {
        zn_buf_t value = exact ? query->value : query->marker_value;
        zn__store_index_key(&range->start_key, range->start, value, query->marker_key);
    } else {
        memcpy(range->start, range->match, range->match_len);
        range->start_key.mv_data = range->start;
        range->start_key.mv_size = range->match_len;
    }
    return 0;
}

/* Fill OUT from the index entry KEY: split it and read the record it points to. */
static int
s_emit_entry(zn_store_read_t *txn, const zn_store_index_t *index, const MDB_val *key,
             zn_store_record_t *out)
{
    const uint8_t *bytes = key->mv_data;
    const uint8_t *nul = memchr(bytes, '\0', key->mv_size);
    if (nul == NULL) {
        return -EBADMSG;
    }
    zn_buf_t value = {bytes, (size_t)(nul - bytes)};
    zn_buf_t pk = {nul + 1, key->mv_size - value.len - 1};
    int rc = zn_store_get(txn, index->table, pk, out);
    if (rc == -ENOENT) {
        return -EBADMSG; /* an index entry without its record */
    }
    out->index_value = value;
    return rc;
}

static bool
s_in_range(const s_range_t *range, const MDB_val *key)
{
    return key->mv_size >= range->match_len &&
           (range->match_len == 0 || memcmp(key->mv_data, range->match, range->match_len) == 0);
}

int
zn_store_index_scan(zn_store_read_t *txn, const zn_store_index_t *index,
                    const zn_store_index_query_t *query, zn_store_record_t *out, size_t limit)
{
    s_range_t range;
    if (limit == 0 || limit > ZN_STORE_PAGE_MAX || s_range_init(&range, query) < 0) {
        return -EINVAL;
    }
    MDB_cursor *cursor = NULL;
    int rc = zn__store_rc(mdb_cursor_open(txn->txn, index->dbi, &cursor));
    if (rc < 0) {
        return rc;
    }
    MDB_val key = range.start_key;
    MDB_val val;
    rc = zn__store_rc(mdb_cursor_get(cursor, &key, &val, key.mv_size ? MDB_SET_RANGE : MDB_FIRST));
    if (rc == 0 && range.skip_start && key.mv_size == range.start_key.mv_size &&
        memcmp(key.mv_data, range.start, key.mv_size) == 0) {
        rc = zn__store_rc(mdb_cursor_get(cursor, &key, &val, MDB_NEXT));
    }
    size_t count = 0;
    while (rc == 0 && count < limit && s_in_range(&range, &key)) {
        rc = s_emit_entry(txn, index, &key, &out[count]);
        if (rc == 0) {
            count++;
            rc = zn__store_rc(mdb_cursor_get(cursor, &key, &val, MDB_NEXT));
        }
    }
    mdb_cursor_close(cursor);
    return rc < 0 && rc != -ENOENT ? rc : (int)count;
}

int
zn_store_applied_seq(zn_store_t *self, uint64_t *out)
{
    zn_store_read_t *read = NULL;
    int rc = zn_store_read_begin(self, &read);
    if (rc < 0) {
        return rc;
    }
    rc = zn__store_meta_applied_seq(self, read->txn, out);
    zn_store_read_end(&read);
    return rc;
}
