/* SPDX-License-Identifier: Apache-2.0 */
/* zn_store_replace.c - replace the content of an open store with another store's in one write
 * transaction, so that a raft snapshot installs while readers carry on. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "zn_le_int.h"
#include "zn_log.h"
#include "zn_store.h"
#include "zn_store_int.h"

#define S_GROW_ATTEMPTS 16

/* The source store: opened read-only, without a lock file, inside one read transaction. */
typedef struct s_source {
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta;
} s_source_t;

static void
s_source_close(s_source_t *src)
{
    mdb_txn_abort(src->txn); /* NULL is fine */
    mdb_env_close(src->env); /* NULL is fine */
}

static int
s_source_open(zn_store_t *self, const char *dir, s_source_t *src, zn_fault_t *fault)
{
    int rc = zn__store_rc(mdb_env_create(&src->env));
    if (rc == 0) {
        rc = zn__store_rc(mdb_env_set_maxdbs(src->env, (MDB_dbi)self->table_count + 1u));
    }
    if (rc == 0) {
        rc = zn__store_rc(mdb_env_open(src->env, dir, MDB_RDONLY | MDB_NOLOCK, 0));
    }
    if (rc == 0) {
        rc = zn__store_rc(mdb_txn_begin(src->env, NULL, MDB_RDONLY, &src->txn));
    }
    if (rc == 0) {
        rc = zn__store_rc(mdb_dbi_open(src->txn, ZN__STORE_META_DB, 0, &src->meta));
        rc = rc == -ENOENT ? -EBADMSG : rc;
    }
    if (rc < 0) {
        return zn_fault_set(fault, rc, "replace from %s: not a readable zinc store: %s", dir,
                            zn_strerror(rc));
    }
    return zn__store_meta_check_format(src->txn, src->meta, dir, fault);
}

/* The source's records of TABLE must be at the version this build writes (or absent). */
static int
s_check_version(const s_source_t *src, const zn_store_table_t *table, zn_fault_t *fault)
{
    char name[ZN__STORE_DB_NAME_MAX + 1];
    (void)snprintf(name, sizeof(name), "v.%s", table->def->name);
    MDB_val key = {strlen(name), name};
    MDB_val val;
    int rc = zn__store_rc(mdb_get(src->txn, src->meta, &key, &val));
    if (rc == -ENOENT) {
        return 0;
    }
    if (rc == 0 && val.mv_size != 4) {
        rc = -EBADMSG;
    }
    if (rc < 0) {
        return zn_fault_set(fault, rc, "replace: table %s: read version: %s", table->def->name,
                            zn_strerror(rc));
    }
    uint32_t version = zn__le_get_u32(val.mv_data);
    if (version != table->def->record_version) {
        return zn_fault_set(fault, ZN_EVERSION,
                            "replace: table %s: source records are at version %u, this build "
                            "writes version %u",
                            table->def->name, version, table->def->record_version);
    }
    return 0;
}

/* Copy every record of TABLE (already emptied in DST) in key order. */
static int
s_copy_records(const s_source_t *src, MDB_dbi src_dbi, MDB_txn *dst, const zn_store_table_t *table)
{
    MDB_cursor *cursor = NULL;
    int rc = zn__store_rc(mdb_cursor_open(src->txn, src_dbi, &cursor));
    MDB_val key;
    MDB_val val;
    if (rc == 0) {
        rc = zn__store_rc(mdb_cursor_get(cursor, &key, &val, MDB_FIRST));
    }
    while (rc == 0) {
        rc = zn__store_rc(mdb_put(dst, table->dbi, &key, &val, MDB_APPEND));
        if (rc == 0) {
            rc = zn__store_rc(mdb_cursor_get(cursor, &key, &val, MDB_NEXT));
        }
    }
    mdb_cursor_close(cursor); /* NULL is fine */
    return rc == -ENOENT ? 0 : rc;
}

static int
s_copy_table(const s_source_t *src, MDB_txn *dst, const zn_store_table_t *table, zn_fault_t *fault)
{
    int rc = s_check_version(src, table, fault);
    if (rc < 0) {
        return rc;
    }
    rc = zn__store_rc(mdb_drop(dst, table->dbi, 0));
    char name[ZN__STORE_DB_NAME_MAX + 1];
    (void)snprintf(name, sizeof(name), "t.%s", table->def->name);
    MDB_dbi src_dbi;
    int found = rc == 0 ? zn__store_rc(mdb_dbi_open(src->txn, name, 0, &src_dbi)) : rc;
    if (rc == 0 && found == 0) {
        rc = s_copy_records(src, src_dbi, dst, table);
    } else if (rc == 0 && found != -ENOENT) {
        rc = found;
    }
    if (rc < 0) {
        return zn_fault_set(fault, rc, "replace: table %s: copy: %s", table->def->name,
                            zn_strerror(rc));
    }
    /* Indexes are rebuilt rather than copied: extractors are deterministic, and this build may
     * have indexes the source never had. */
    return zn__store_rebuild_indexes(dst, table, fault);
}

static int
s_copy_applied_seq(zn_store_t *self, const s_source_t *src, MDB_txn *dst, zn_fault_t *fault)
{
    char name[] = "applied_seq"; /* LMDB's API is not const-correct */
    MDB_val key = {sizeof(name) - 1, name};
    MDB_val val;
    uint64_t seq = 0;
    int rc = zn__store_rc(mdb_get(src->txn, src->meta, &key, &val));
    if (rc == 0 && val.mv_size == 8) {
        seq = zn__le_get_u64(val.mv_data);
    } else if (rc == 0) {
        rc = -EBADMSG;
    }
    if (rc == 0 || rc == -ENOENT) {
        rc = zn__store_meta_set_applied_seq(self, dst, seq);
    }
    return rc < 0 ? zn_fault_set(fault, rc, "replace: applied_seq: %s", zn_strerror(rc)) : 0;
}

static int
s_replace_once(zn_store_t *self, const s_source_t *src, zn_fault_t *fault)
{
    MDB_txn *txn = NULL;
    int rc = zn__store_txn_begin(self, NULL, 0, &txn);
    if (rc < 0) {
        return zn_fault_set(fault, rc, "store %s: begin: %s", self->path, zn_strerror(rc));
    }
    for (size_t i = 0; rc == 0 && i < self->table_count; i++) {
        rc = s_copy_table(src, txn, &self->tables[i], fault);
    }
    if (rc == 0) {
        rc = s_copy_applied_seq(self, src, txn, fault);
    }
    if (rc < 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    rc = zn__store_rc(mdb_txn_commit(txn));
    return rc < 0 ? zn_fault_set(fault, rc, "store %s: commit: %s", self->path, zn_strerror(rc))
                  : 0;
}

int
zn_store_replace(zn_store_t *self, const char *source_dir, zn_fault_t *fault)
{
    if (self->mode == ZN_STORE_READ_ONLY) {
        return zn_fault_set(fault, -EROFS, "store %s: opened read-only", self->path);
    }
    s_source_t src = {0};
    int rc = s_source_open(self, source_dir, &src, fault);
    if (rc < 0) {
        goto out_close_source;
    }
    pthread_mutex_lock(&self->write_lock);
    rc = s_replace_once(self, &src, fault);
    /* A full map aborted the whole transaction: grow (with no reader of ours open) and retry. */
    for (int i = 0; rc == -ENOSPC && i < S_GROW_ATTEMPTS; i++) {
        rc = zn__store_grow(self, fault);
        if (rc == 0) {
            rc = s_replace_once(self, &src, fault);
        }
    }
    pthread_mutex_unlock(&self->write_lock);
    if (rc == 0) {
        zn_log_notice(NULL, "store replaced path=%s from=%s", self->path, source_dir);
    }
out_close_source:
    s_source_close(&src);
    return rc;
}
