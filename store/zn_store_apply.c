/* SPDX-License-Identifier: Apache-2.0 */
/* zn_store_apply.c - applying batches: conditions, generations, index maintenance, group
 * commit, the applied sequence, and growing the map when it fills. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "zn_failpoint.h"
#include "zn_log.h"
#include "zn_mem.h"
#include "zn_store.h"
#include "zn_store_int.h"

/* State of one group commit. */
typedef struct s_group {
    zn_store_t *store;
    MDB_txn *txn;
    uint64_t applied_seq;
    bool seq_dirty;
    bool map_full; /* LMDB said MDB_MAP_FULL: growing the map and retrying may help */
    uint8_t *scratch;
    size_t scratch_cap;
} s_group_t;

/* Translate MDB_RC, remembering a full map (which, translated, looks like a full disk). */
static int
s_rc(s_group_t *group, int mdb_rc)
{
    if (mdb_rc == MDB_MAP_FULL) {
        group->map_full = true;
    }
    return zn__store_rc(mdb_rc);
}

/* Errors that come from the batch itself: on every replica the same bytes fail the same way,
 * so they fail only their batch. Anything else (I/O, a full map) fails the whole group. */
static bool
s_is_batch_error(int rc)
{
    return rc == ZN_ECONFLICT || rc == -EINVAL || rc == -EBADMSG || rc == ZN_ETOOBIG;
}

/* KEY as printable text for a fault: bytes outside printable ASCII become \xHH. */
static void
s_key_text(zn_buf_t key, char *buf, size_t cap)
{
    size_t used = 0;
    for (size_t i = 0; i < key.len && used + 5 < cap; i++) {
        uint8_t c = key.ptr[i];
        if (isprint(c) && c != '\\') {
            buf[used++] = (char)c;
        } else {
            used += (size_t)snprintf(buf + used, cap - used, "\\x%02x", c);
        }
    }
    buf[used] = '\0';
}

static int
s_conflict(const zn_batch_op_t *op, const char *found, zn_fault_t *fault)
{
    char key[128];
    s_key_text(op->key, key, sizeof(key));
    char expected[32];
    if (op->expect_gen == ZN_BATCH_GEN_ABSENT) {
        (void)snprintf(expected, sizeof(expected), "absent");
    } else {
        (void)snprintf(expected, sizeof(expected), "generation %" PRIu64, op->expect_gen);
    }
    return zn_fault_set(fault, ZN_ECONFLICT, "conflict table=%.*s key=%s expected %s, found %s",
                        (int)op->table.len, (const char *)op->table.ptr, key, expected, found);
}

static int
s_check_condition(const zn_batch_op_t *op, const zn_store_record_t *old, zn_fault_t *fault)
{
    if (op->expect_gen == ZN_BATCH_GEN_ANY) {
        return 0;
    }
    uint64_t found = old != NULL ? old->generation : 0;
    if (found == op->expect_gen) {
        return 0;
    }
    char text[32] = "absent";
    if (old != NULL) {
        (void)snprintf(text, sizeof(text), "generation %" PRIu64, found);
    }
    return s_conflict(op, text, fault);
}

/* Read the current record of OP's key into *old (NULL when absent). Its bytes are copied to
 * the group's scratch when they feed index maintenance, since later writes in the transaction
 * may move or spill the page they live on. */
static int
s_load_old(s_group_t *group, MDB_txn *txn, const zn_store_table_t *table, const zn_batch_op_t *op,
           zn_store_record_t **old, zn_fault_t *fault)
{
    MDB_val key = {op->key.len, (void *)(uintptr_t)op->key.ptr};
    MDB_val val;
    int rc = s_rc(group, mdb_get(txn, table->dbi, &key, &val));
    if (rc == -ENOENT) {
        *old = NULL;
        return 0;
    }
    if (rc == 0 && zn__store_record_parse(&val, *old) < 0) {
        rc = ZN_EINTERNAL;
    }
    if (rc < 0) {
        return zn_fault_set(fault, rc, "table %s: read: %s", table->def->name, zn_strerror(rc));
    }
    if (table->def->index_count > 0) {
        if ((*old)->value.len > group->scratch_cap) {
            group->scratch_cap = (*old)->value.len;
            group->scratch = zn_realloc(group->scratch, group->scratch_cap);
        }
        if ((*old)->value.len > 0) {
            memcpy(group->scratch, (*old)->value.ptr, (*old)->value.len);
        }
        (*old)->value.ptr = group->scratch;
    }
    return 0;
}

static int
s_put_record(s_group_t *group, MDB_txn *txn, const zn_store_table_t *table, const zn_batch_op_t *op,
             uint64_t generation, zn_fault_t *fault)
{
    uint32_t version = table->def->record_version;
    if (op->record_version != 0 && op->record_version != version) {
        return zn_fault_set(fault, -EINVAL, "table %s: record version %u, this store writes %u",
                            table->def->name, op->record_version, version);
    }
    MDB_val key = {op->key.len, (void *)(uintptr_t)op->key.ptr};
    MDB_val val = {ZN__STORE_RECORD_HEADER_BYTES + op->value.len, NULL};
    int rc = s_rc(group, mdb_put(txn, table->dbi, &key, &val, MDB_RESERVE));
    if (rc < 0) {
        return zn_fault_set(fault, rc, "table %s: put: %s", table->def->name, zn_strerror(rc));
    }
    zn__store_record_header(val.mv_data, generation, version);
    if (op->value.len > 0) {
        memcpy((uint8_t *)val.mv_data + ZN__STORE_RECORD_HEADER_BYTES, op->value.ptr,
               op->value.len);
    }
    return 0;
}

static bool
s_keys_contain(const zn_store_keys_t *keys, zn_buf_t value)
{
    for (size_t i = 0; i < keys->count; i++) {
        if (keys->values[i].len == value.len &&
            (value.len == 0 || memcmp(keys->values[i].ptr, value.ptr, value.len) == 0)) {
            return true;
        }
    }
    return false;
}

/* Apply to INDEX the difference between the entries of the old and the new record of PK. */
static int
s_index_diff(s_group_t *group, MDB_txn *txn, const zn_store_index_t *index, zn_buf_t pk,
             const zn_store_keys_t *old_keys, const zn_store_keys_t *new_keys)
{
    uint8_t buf[ZN__STORE_INDEX_KEY_MAX_BYTES];
    MDB_val key;
    MDB_val empty = {0, NULL};
    for (size_t i = 0; i < old_keys->count; i++) {
        if (!s_keys_contain(new_keys, old_keys->values[i])) {
            zn__store_index_key(&key, buf, old_keys->values[i], pk);
            int rc = s_rc(group, mdb_del(txn, index->dbi, &key, NULL));
            if (rc < 0 && rc != -ENOENT) {
                return rc;
            }
        }
    }
    for (size_t i = 0; i < new_keys->count; i++) {
        if (!s_keys_contain(old_keys, new_keys->values[i])) {
            zn__store_index_key(&key, buf, new_keys->values[i], pk);
            int rc = s_rc(group, mdb_put(txn, index->dbi, &key, &empty, 0));
            if (rc < 0) {
                return rc;
            }
        }
    }
    return 0;
}

/* Bring every index of TABLE from OLD (NULL: absent) to the record OP leaves (none for a
 * delete). */
static int
s_update_indexes(s_group_t *group, MDB_txn *txn, const zn_store_table_t *table,
                 const zn_batch_op_t *op, const zn_store_record_t *old, zn_fault_t *fault)
{
    zn_store_keys_t old_keys;
    zn_store_keys_t new_keys;
    for (size_t i = 0; i < table->def->index_count; i++) {
        const zn_store_index_t *index = &table->indexes[i];
        old_keys.count = 0;
        new_keys.count = 0;
        int rc = 0;
        if (old != NULL) {
            rc = zn__store_extract(index, old->value, old->record_version, &old_keys, fault);
        }
        if (rc == 0 && op->kind == ZN_BATCH_PUT) {
            rc = zn__store_extract(index, op->value, table->def->record_version, &new_keys, fault);
        }
        if (rc == 0) {
            rc = s_index_diff(group, txn, index, op->key, &old_keys, &new_keys);
            if (rc < 0) {
                zn_fault_set(fault, rc, "index %s: %s", index->def->name, zn_strerror(rc));
            }
        }
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

static int
s_apply_op(s_group_t *group, MDB_txn *txn, const zn_batch_op_t *op, zn_fault_t *fault)
{
    int rc = ZN_FAILPOINT("store.apply.op");
    if (rc < 0) {
        return zn_fault_set(fault, rc, "failpoint store.apply.op");
    }
    const zn_store_table_t *table = zn__store_table_find(group->store, op->table);
    if (table == NULL) {
        return zn_fault_set(fault, -EINVAL, "unknown table %.*s", (int)op->table.len,
                            (const char *)op->table.ptr);
    }
    zn_store_record_t record;
    zn_store_record_t *old = &record;
    rc = s_load_old(group, txn, table, op, &old, fault);
    if (rc == 0) {
        rc = s_check_condition(op, old, fault);
    }
    if (rc < 0 || (op->kind == ZN_BATCH_DELETE && old == NULL)) {
        return rc; /* an unconditional delete of a missing key is done */
    }
    if (op->kind == ZN_BATCH_PUT) {
        rc = s_put_record(group, txn, table, op, old != NULL ? old->generation + 1 : 1, fault);
    } else {
        MDB_val key = {op->key.len, (void *)(uintptr_t)op->key.ptr};
        rc = s_rc(group, mdb_del(txn, table->dbi, &key, NULL));
        if (rc < 0) {
            zn_fault_set(fault, rc, "table %s: delete: %s", table->def->name, zn_strerror(rc));
        }
    }
    if (rc == 0) {
        rc = ZN_FAILPOINT("store.apply.index");
        if (rc < 0) {
            zn_fault_set(fault, rc, "failpoint store.apply.index");
        }
    }
    if (rc == 0) {
        rc = s_update_indexes(group, txn, table, op, old, fault);
    }
    return rc;
}

/* Decode BYTES and apply every operation in a transaction nested in the group's, so that a
 * failure undoes exactly this batch. */
static int
s_apply_batch(s_group_t *group, zn_buf_t bytes, zn_fault_t *fault)
{
    zn_batch_t *batch = NULL;
    int rc = zn_batch_decode(&batch, bytes, fault);
    if (rc < 0) {
        return rc;
    }
    MDB_txn *child = NULL;
    rc = s_rc(group, mdb_txn_begin(group->store->env, group->txn, 0, &child));
    if (rc < 0) {
        zn_fault_set(fault, rc, "store %s: begin batch: %s", group->store->path, zn_strerror(rc));
        goto out_destroy_batch;
    }
    size_t count = zn_batch_count(batch);
    for (size_t i = 0; rc == 0 && i < count; i++) {
        zn_batch_op_t op;
        zn_batch_op(batch, i, &op);
        rc = s_apply_op(group, child, &op, fault);
    }
    if (rc == 0) {
        rc = s_rc(group, mdb_txn_commit(child));
        if (rc < 0) {
            zn_fault_set(fault, rc, "store %s: commit batch: %s", group->store->path,
                         zn_strerror(rc));
        }
    } else {
        mdb_txn_abort(child);
    }
out_destroy_batch:
    zn_batch_destroy(&batch);
    return rc;
}

static int
s_apply_entry(s_group_t *group, zn_store_entry_t *entry, zn_fault_t *fault)
{
    zn_fault_t local;
    zn_fault_clear(&local);
    uint64_t seq = entry->applied_seq;
    int rc = 0;
    if (seq != 0 && seq <= group->applied_seq) {
        rc = zn_fault_set(&local, ZN_EDUPLICATE,
                          "batch seq %" PRIu64 " already applied (at %" PRIu64 ")", seq,
                          group->applied_seq);
    } else {
        rc = s_apply_batch(group, entry->batch, &local);
        if (rc < 0 && !s_is_batch_error(rc)) {
            if (fault != NULL) {
                *fault = local;
            }
            return rc;
        }
        if (seq != 0) {
            group->applied_seq = seq;
            group->seq_dirty = true;
        }
    }
    entry->rc = rc;
    if (entry->fault != NULL) {
        *entry->fault = local;
    }
    return 0;
}

static int
s_commit_group(s_group_t *group, zn_fault_t *fault)
{
    int rc = 0;
    if (group->seq_dirty) {
        rc = zn__store_meta_set_applied_seq(group->store, group->txn, group->applied_seq);
        group->map_full = group->map_full || rc == -ENOSPC;
    }
    if (rc == 0) {
        rc = ZN_FAILPOINT("store.commit");
    }
    if (rc < 0) {
        mdb_txn_abort(group->txn);
        return zn_fault_set(fault, rc, "store %s: before commit: %s", group->store->path,
                            zn_strerror(rc));
    }
    rc = s_rc(group, mdb_txn_commit(group->txn));
    if (rc < 0) {
        return zn_fault_set(fault, rc, "store %s: commit: %s", group->store->path, zn_strerror(rc));
    }
    return 0;
}

static int
s_apply_group(s_group_t *group, zn_store_entry_t *entries, size_t count, zn_fault_t *fault)
{
    int rc = ZN_FAILPOINT("store.apply");
    if (rc < 0) {
        return zn_fault_set(fault, rc, "failpoint store.apply");
    }
    rc = zn__store_txn_begin(group->store, NULL, 0, &group->txn);
    if (rc < 0) {
        return zn_fault_set(fault, rc, "store %s: begin: %s", group->store->path, zn_strerror(rc));
    }
    rc = zn__store_meta_applied_seq(group->store, group->txn, &group->applied_seq);
    if (rc < 0) {
        zn_fault_set(fault, rc, "store %s: read applied_seq: %s", group->store->path,
                     zn_strerror(rc));
    }
    for (size_t i = 0; rc == 0 && i < count; i++) {
        rc = s_apply_entry(group, &entries[i], fault);
    }
    if (rc < 0) {
        mdb_txn_abort(group->txn);
        return rc;
    }
    return s_commit_group(group, fault);
}

int
zn__store_grow(zn_store_t *self, zn_fault_t *fault)
{
    pthread_mutex_lock(&self->reader_lock);
    size_t old_bytes = self->map_bytes;
    size_t new_bytes = old_bytes > self->map_max_bytes / 2 ? self->map_max_bytes : old_bytes * 2;
    int rc = -ENOSPC;
    if (self->readers > 0) {
        zn_fault_set(fault, rc,
                     "store %s: map full at %zu bytes; cannot grow while %zu read "
                     "transactions are open",
                     self->path, old_bytes, self->readers);
    } else if (new_bytes <= old_bytes) {
        zn_fault_set(fault, rc, "store %s: map full at its maximum of %zu bytes (map_max_bytes)",
                     self->path, old_bytes);
    } else {
        rc = zn__store_rc(mdb_env_set_mapsize(self->env, new_bytes));
        if (rc == 0) {
            self->map_bytes = new_bytes;
        }
    }
    pthread_mutex_unlock(&self->reader_lock);
    if (rc == 0) {
        zn_log_notice(NULL, "store map grown path=%s from=%zu to=%zu", self->path, old_bytes,
                      new_bytes);
    }
    return rc;
}

int
zn_store_apply_many(zn_store_t *self, zn_store_entry_t *entries, size_t count, zn_fault_t *fault)
{
    if (self->mode == ZN_STORE_READ_ONLY) {
        return zn_fault_set(fault, -EROFS, "store %s: opened read-only", self->path);
    }
    if (count == 0 || count > ZN_BATCH_MAX_OPS) {
        return zn_fault_set(fault, -EINVAL, "store: group of %zu batches (want 1..%u)", count,
                            ZN_BATCH_MAX_OPS);
    }
    pthread_mutex_lock(&self->write_lock);
    s_group_t group = {.store = self};
    int rc = s_apply_group(&group, entries, count, fault);
    if (rc < 0 && group.map_full) {
        /* Nothing was written: the whole transaction was aborted. Grow and retry once. */
        rc = zn__store_grow(self, fault);
        if (rc == 0) {
            group.map_full = false;
            group.seq_dirty = false;
            rc = s_apply_group(&group, entries, count, fault);
            if (rc < 0 && group.map_full) {
                rc = zn_fault_set(fault, -ENOSPC,
                                  "store %s: map full at %zu bytes even after "
                                  "growing",
                                  self->path, self->map_bytes);
            }
        }
    }
    pthread_mutex_unlock(&self->write_lock);
    zn_free(group.scratch);
    return rc;
}

int
zn_store_apply(zn_store_t *self, zn_buf_t batch, uint64_t applied_seq, zn_fault_t *fault)
{
    zn_store_entry_t entry = {.batch = batch, .applied_seq = applied_seq, .fault = fault};
    int rc = zn_store_apply_many(self, &entry, 1, fault);
    return rc < 0 ? rc : entry.rc;
}
