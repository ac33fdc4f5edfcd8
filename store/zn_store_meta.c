/* SPDX-License-Identifier: Apache-2.0 */
/* zn_store_meta.c - the meta database: file format, per-table record versions, forward
 * migrations, index rebuilds and the applied sequence. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "zn_failpoint.h"
#include "zn_le_int.h"
#include "zn_log.h"
#include "zn_mem.h"
#include "zn_store.h"
#include "zn_store_int.h"

/* Keys of the meta database: "format" -> { u32 major, u32 minor }, "applied_seq" -> u64,
 * "v.<table>" -> u32 record version. */
#define S_KEY_FORMAT      "format"
#define S_KEY_APPLIED_SEQ "applied_seq"

static MDB_val
s_val(const void *ptr, size_t len)
{
    MDB_val val = {len, (void *)(uintptr_t)ptr}; /* LMDB's API is not const-correct */
    return val;
}

static MDB_val
s_cstr_val(const char *s)
{
    return s_val(s, strlen(s));
}

/* Open database NAME, creating it when CREATE; *created tells whether it was new. */
static int
s_open_db(MDB_txn *txn, const char *name, bool create, MDB_dbi *dbi, bool *created)
{
    *created = false;
    int rc = mdb_dbi_open(txn, name, 0, dbi);
    if (rc == MDB_NOTFOUND && create) {
        rc = mdb_dbi_open(txn, name, MDB_CREATE, dbi);
        *created = rc == 0;
    }
    return zn__store_rc(rc);
}

int
zn__store_meta_check_format(MDB_txn *txn, MDB_dbi meta, const char *path, zn_fault_t *fault)
{
    MDB_val key = s_cstr_val(S_KEY_FORMAT);
    MDB_val val;
    int rc = zn__store_rc(mdb_get(txn, meta, &key, &val));
    if (rc == -ENOENT || (rc == 0 && val.mv_size != 8)) {
        return zn_fault_set(fault, -EBADMSG, "store %s: no valid format record", path);
    }
    if (rc < 0) {
        return zn_fault_set(fault, rc, "store %s: read format: %s", path, zn_strerror(rc));
    }
    uint32_t major = zn__le_get_u32(val.mv_data);
    uint32_t minor = zn__le_get_u32((const uint8_t *)val.mv_data + 4);
    if (major != ZN_STORE_FORMAT_MAJOR) {
        return zn_fault_set(fault, ZN_EVERSION,
                            "store %s: file format %u.%u was written by %s zinc; this build "
                            "reads format %u.x",
                            path, major, minor,
                            major > ZN_STORE_FORMAT_MAJOR ? "a newer" : "an older",
                            ZN_STORE_FORMAT_MAJOR);
    }
    return 0;
}

static int
s_put_format(zn_store_t *self, MDB_txn *txn)
{
    uint8_t buf[8];
    zn__le_put_u32(buf, ZN_STORE_FORMAT_MAJOR);
    zn__le_put_u32(buf + 4, ZN_STORE_FORMAT_MINOR);
    MDB_val key = s_cstr_val(S_KEY_FORMAT);
    MDB_val val = s_val(buf, sizeof(buf));
    return zn__store_rc(mdb_put(txn, self->meta_dbi, &key, &val, 0));
}

/* Create the format record on a new store, or check the one there. */
static int
s_setup_format(zn_store_t *self, MDB_txn *txn, bool created, zn_fault_t *fault)
{
    if (created) {
        int rc = s_put_format(self, txn);
        if (rc < 0) {
            return zn_fault_set(fault, rc, "store %s: write format: %s", self->path,
                                zn_strerror(rc));
        }
        zn_log_notice(NULL, "store created path=%s format=%u.%u", self->path, ZN_STORE_FORMAT_MAJOR,
                      ZN_STORE_FORMAT_MINOR);
        return 0;
    }
    return zn__store_meta_check_format(txn, self->meta_dbi, self->path, fault);
}

static int
s_get_u32(MDB_txn *txn, MDB_dbi dbi, const char *name, uint32_t *out)
{
    MDB_val key = s_cstr_val(name);
    MDB_val val;
    int rc = zn__store_rc(mdb_get(txn, dbi, &key, &val));
    if (rc == 0 && val.mv_size != 4) {
        return -EBADMSG;
    }
    if (rc == 0) {
        *out = zn__le_get_u32(val.mv_data);
    }
    return rc;
}

static int
s_put_u32(MDB_txn *txn, MDB_dbi dbi, const char *name, uint32_t v)
{
    uint8_t buf[4];
    zn__le_put_u32(buf, v);
    MDB_val key = s_cstr_val(name);
    MDB_val val = s_val(buf, sizeof(buf));
    return zn__store_rc(mdb_put(txn, dbi, &key, &val, 0));
}

static const zn_store_migration_t *
s_find_migration(const zn_store_t *self, const char *table, uint32_t from)
{
    for (size_t i = 0; i < self->migration_count; i++) {
        const zn_store_migration_t *m = &self->migrations[i];
        if (strcmp(m->table, table) == 0 && m->from_version == from) {
            return m;
        }
    }
    return NULL;
}

/* Rewrite the record under CURSOR with M, keeping its generation. SCRATCH grows as needed. */
static int
s_migrate_one(MDB_cursor *cursor, const MDB_val *key, const MDB_val *val,
              const zn_store_migration_t *m, zn_buf_t *scratch)
{
    zn_store_record_t record;
    int rc = zn__store_record_parse(val, &record);
    if (rc < 0 || record.record_version != m->from_version) {
        return -EBADMSG;
    }
    zn_buf_t pk = {key->mv_data, key->mv_size};
    zn_buf_t next = {NULL, 0};
    rc = m->migrate(pk, record.value, &next, m->arg);
    if (rc < 0) {
        return rc;
    }
    size_t len = ZN__STORE_RECORD_HEADER_BYTES + next.len;
    if (scratch->len < len) {
        zn_free((void *)(uintptr_t)scratch->ptr);
        scratch->ptr = zn_malloc(len);
        scratch->len = len;
    }
    uint8_t *dest = (uint8_t *)(uintptr_t)scratch->ptr;
    zn__store_record_header(dest, record.generation, m->to_version);
    if (next.len > 0) {
        memcpy(dest + ZN__STORE_RECORD_HEADER_BYTES, next.ptr, next.len);
    }
    /* KEY points into the page being rewritten: hand LMDB a copy. */
    uint8_t key_copy[ZN_STORE_KEY_MAX_BYTES];
    memcpy(key_copy, key->mv_data, key->mv_size);
    MDB_val key_val = s_val(key_copy, key->mv_size);
    MDB_val new_val = s_val(dest, len);
    return zn__store_rc(mdb_cursor_put(cursor, &key_val, &new_val, MDB_CURRENT));
}

static int
s_migrate_records(MDB_txn *txn, const zn_store_table_t *table, const zn_store_migration_t *m,
                  zn_fault_t *fault)
{
    MDB_cursor *cursor = NULL;
    int rc = zn__store_rc(mdb_cursor_open(txn, table->dbi, &cursor));
    if (rc < 0) {
        return zn_fault_set(fault, rc, "table %s: cursor: %s", table->def->name, zn_strerror(rc));
    }
    zn_buf_t scratch = {NULL, 0};
    MDB_val key;
    MDB_val val;
    size_t count = 0;
    rc = zn__store_rc(mdb_cursor_get(cursor, &key, &val, MDB_FIRST));
    while (rc == 0) {
        rc = s_migrate_one(cursor, &key, &val, m, &scratch);
        if (rc == 0) {
            count++;
            rc = zn__store_rc(mdb_cursor_get(cursor, &key, &val, MDB_NEXT));
        }
    }
    mdb_cursor_close(cursor);
    zn_free((void *)(uintptr_t)scratch.ptr);
    if (rc != -ENOENT) {
        return zn_fault_set(fault, rc, "table %s: migration %u->%u failed after %zu records: %s",
                            table->def->name, m->from_version, m->to_version, count,
                            zn_strerror(rc));
    }
    zn_log_notice(NULL, "store migrated table=%s from=%u to=%u records=%zu", table->def->name,
                  m->from_version, m->to_version, count);
    return 0;
}

static int
s_migrate_table(zn_store_t *self, MDB_txn *txn, const zn_store_table_t *table, uint32_t from,
                zn_fault_t *fault)
{
    uint32_t version = from;
    while (version < table->def->record_version) {
        const zn_store_migration_t *m = s_find_migration(self, table->def->name, version);
        if (m == NULL || m->to_version > table->def->record_version) {
            return zn_fault_set(fault, ZN_EVERSION,
                                "table %s: no migration from record version %u towards %u",
                                table->def->name, version, table->def->record_version);
        }
        int rc = ZN_FAILPOINT("store.migrate");
        if (rc < 0) {
            return zn_fault_set(fault, rc, "table %s: failpoint store.migrate", table->def->name);
        }
        rc = s_migrate_records(txn, table, m, fault);
        if (rc < 0) {
            return rc;
        }
        version = m->to_version;
    }
    return 0;
}

int
zn__store_rebuild_indexes(MDB_txn *txn, const zn_store_table_t *table, zn_fault_t *fault)
{
    for (size_t i = 0; i < table->def->index_count; i++) {
        int rc = zn__store_rc(mdb_drop(txn, table->indexes[i].dbi, 0));
        if (rc < 0) {
            return zn_fault_set(fault, rc, "table %s: empty index: %s", table->def->name,
                                zn_strerror(rc));
        }
    }
    MDB_cursor *cursor = NULL;
    int rc = zn__store_rc(mdb_cursor_open(txn, table->dbi, &cursor));
    MDB_val key;
    MDB_val val;
    if (rc == 0) {
        rc = zn__store_rc(mdb_cursor_get(cursor, &key, &val, MDB_FIRST));
    }
    while (rc == 0) {
        zn_store_record_t record;
        zn_buf_t pk = {key.mv_data, key.mv_size};
        rc = zn__store_record_parse(&val, &record);
        if (rc == 0) {
            rc = zn__store_index_insert_all(txn, table, pk, &record, fault);
        }
        if (rc == 0) {
            rc = zn__store_rc(mdb_cursor_get(cursor, &key, &val, MDB_NEXT));
        }
    }
    mdb_cursor_close(cursor);
    if (rc != -ENOENT) {
        return zn_fault_set(fault, rc, "table %s: index rebuild: %s", table->def->name,
                            zn_strerror(rc));
    }
    return 0;
}

/* Open the table's index databases; *rebuild is set when one of them is new. */
static int
s_open_indexes(zn_store_t *self, MDB_txn *txn, zn_store_table_t *table, bool *rebuild)
{
    bool create = self->mode == ZN_STORE_READ_WRITE;
    for (size_t i = 0; i < table->def->index_count; i++) {
        char name[ZN__STORE_DB_NAME_MAX + 1];
        (void)snprintf(name, sizeof(name), "i.%s.%s", table->def->name,
                       table->indexes[i].def->name);
        bool created = false;
        int rc = s_open_db(txn, name, create, &table->indexes[i].dbi, &created);
        if (rc < 0) {
            return rc;
        }
        *rebuild = *rebuild || created;
    }
    return 0;
}

/* Compare the table's stored record version with the definition's; migrate forward. */
static int
s_setup_version(zn_store_t *self, MDB_txn *txn, zn_store_table_t *table, bool *rebuild,
                zn_fault_t *fault)
{
    const zn_store_table_def_t *def = table->def;
    bool read_only = self->mode == ZN_STORE_READ_ONLY;
    char name[ZN__STORE_DB_NAME_MAX + 1];
    (void)snprintf(name, sizeof(name), "v.%s", def->name);
    uint32_t stored = def->record_version;
    int rc = s_get_u32(txn, self->meta_dbi, name, &stored);
    if (rc < 0 && rc != -ENOENT) {
        return zn_fault_set(fault, rc, "table %s: read version: %s", def->name, zn_strerror(rc));
    }
    if (stored > def->record_version || (read_only && stored != def->record_version)) {
        return zn_fault_set(fault, ZN_EVERSION,
                            "table %s: records are at version %u, this build %s version %u",
                            def->name, stored, read_only ? "reads" : "writes", def->record_version);
    }
    if (read_only || (rc == 0 && stored == def->record_version)) {
        return 0;
    }
    if (stored < def->record_version) {
        rc = s_migrate_table(self, txn, table, stored, fault);
        *rebuild = true;
        if (rc < 0) {
            return rc;
        }
    }
    rc = s_put_u32(txn, self->meta_dbi, name, def->record_version);
    return rc < 0 ? zn_fault_set(fault, rc, "table %s: write version", def->name) : 0;
}

static int
s_setup_table(zn_store_t *self, MDB_txn *txn, zn_store_table_t *table, zn_fault_t *fault)
{
    char name[ZN__STORE_DB_NAME_MAX + 1];
    (void)snprintf(name, sizeof(name), "t.%s", table->def->name);
    bool created = false;
    int rc = s_open_db(txn, name, self->mode == ZN_STORE_READ_WRITE, &table->dbi, &created);
    bool rebuild = false;
    if (rc == 0) {
        rc = s_open_indexes(self, txn, table, &rebuild);
    }
    if (rc < 0) {
        return zn_fault_set(fault, rc, "table %s: open: %s%s", table->def->name, zn_strerror(rc),
                            rc == -ENOENT ? " (open the store read-write once to create it)" : "");
    }
    rc = s_setup_version(self, txn, table, &rebuild, fault);
    if (rc == 0 && rebuild && !created) {
        rc = zn__store_rebuild_indexes(txn, table, fault);
    }
    return rc;
}

int
zn__store_meta_setup(zn_store_t *self, zn_fault_t *fault)
{
    bool read_only = self->mode == ZN_STORE_READ_ONLY;
    MDB_txn *txn = NULL;
    int rc = zn__store_rc(mdb_txn_begin(self->env, NULL, read_only ? MDB_RDONLY : 0, &txn));
    if (rc < 0) {
        return zn_fault_set(fault, rc, "store %s: begin: %s", self->path, zn_strerror(rc));
    }
    bool created = false;
    rc = s_open_db(txn, ZN__STORE_META_DB, !read_only, &self->meta_dbi, &created);
    if (rc < 0) {
        zn_fault_set(fault, rc, "store %s: meta database: %s", self->path, zn_strerror(rc));
        goto out_abort;
    }
    rc = s_setup_format(self, txn, created, fault);
    for (size_t i = 0; rc == 0 && i < self->table_count; i++) {
        rc = s_setup_table(self, txn, &self->tables[i], fault);
    }
    if (rc == 0) {
        rc = ZN_FAILPOINT("store.open.commit");
        if (rc < 0) {
            zn_fault_set(fault, rc, "store %s: failpoint store.open.commit", self->path);
        }
    }
    if (rc < 0) {
        goto out_abort;
    }
    /* Committing (rather than aborting) a read-only transaction keeps the database handles. */
    rc = zn__store_rc(mdb_txn_commit(txn));
    return rc < 0 ? zn_fault_set(fault, rc, "store %s: commit: %s", self->path, zn_strerror(rc))
                  : 0;

out_abort:
    mdb_txn_abort(txn);
    return rc;
}

int
zn__store_meta_applied_seq(zn_store_t *self, MDB_txn *txn, uint64_t *out)
{
    MDB_val key = s_cstr_val(S_KEY_APPLIED_SEQ);
    MDB_val val;
    *out = 0;
    int rc = zn__store_rc(mdb_get(txn, self->meta_dbi, &key, &val));
    if (rc == -ENOENT) {
        return 0;
    }
    if (rc == 0 && val.mv_size != 8) {
        return -EBADMSG;
    }
    if (rc == 0) {
        *out = zn__le_get_u64(val.mv_data);
    }
    return rc;
}

int
zn__store_meta_set_applied_seq(zn_store_t *self, MDB_txn *txn, uint64_t seq)
{
    uint8_t buf[8];
    zn__le_put_u64(buf, seq);
    MDB_val key = s_cstr_val(S_KEY_APPLIED_SEQ);
    MDB_val val = s_val(buf, sizeof(buf));
    return zn__store_rc(mdb_put(txn, self->meta_dbi, &key, &val, 0));
}

int
zn_store_reset_applied_seq(zn_store_t *self, zn_fault_t *fault)
{
    if (self->mode == ZN_STORE_READ_ONLY) {
        return zn_fault_set(fault, -EPERM, "store %s: opened read-only", self->path);
    }
    pthread_mutex_lock(&self->write_lock);
    MDB_txn *txn = NULL;
    int rc = zn__store_rc(mdb_txn_begin(self->env, NULL, 0, &txn));
    if (rc == 0) {
        rc = zn__store_meta_set_applied_seq(self, txn, 0);
        if (rc == 0) {
            rc = zn__store_rc(mdb_txn_commit(txn)); /* frees TXN either way */
        } else {
            mdb_txn_abort(txn);
        }
    }
    pthread_mutex_unlock(&self->write_lock);
    if (rc < 0) {
        return zn_fault_set(fault, rc, "store %s: reset applied sequence: %s", self->path,
                            zn_strerror(rc));
    }
    return 0;
}
