/* SPDX-License-Identifier: Apache-2.0 */
/* zn_store_int.h - what the store's .c files share: the structs, the on-disk record header,
 * index key helpers and LMDB error translation (folder-private). */
#ifndef ZN_STORE_INT_H
#define ZN_STORE_INT_H

#include <pthread.h>
#include <stdbool.h>

#include <lmdb.h>

#include "zn_store.h"

/* Every record value starts with { u64 generation, u32 record_version, u32 reserved = 0 },
 * little-endian, followed by the record bytes. */
#define ZN__STORE_RECORD_HEADER_BYTES 16u

/* Index entry keys are index_value NUL primary_key, with an empty value. */
#define ZN__STORE_INDEX_KEY_MAX_BYTES (ZN_STORE_INDEX_VALUE_MAX_BYTES + 1u + ZN_STORE_KEY_MAX_BYTES)

/* Names of the LMDB databases: "zn.meta", "t.<table>" and "i.<table>.<index>". */
#define ZN__STORE_META_DB     "zn.meta"
#define ZN__STORE_DB_NAME_MAX (2u + 2u * ZN_STORE_NAME_MAX_LEN + 2u)

struct zn_store_index {
    const zn_store_index_def_t *def;
    const zn_store_table_t *table;
    MDB_dbi dbi;
};

struct zn_store_table {
    const zn_store_table_def_t *def;
    MDB_dbi dbi;
    zn_store_index_t *indexes; /* def->index_count of them */
};

struct zn_store {
    MDB_env *env;
    char *path;
    int lock_fd; /* zinc.lock, held shared while open: restore takes it exclusively */
    zn_store_mode_t mode;
    bool durable_elsewhere; /* MDB_NOMETASYNC: see zn_store_opts_t */
    MDB_dbi meta_dbi;
    zn_store_table_t *tables;
    size_t table_count;
    const zn_store_migration_t *migrations;
    size_t migration_count;
    size_t map_max_bytes;
    /* Serialises this process's writers, so that growing the map (which needs no write
     * transaction in the environment) happens between two of them. */
    pthread_mutex_t write_lock;
    /* Guards READERS and the map: LMDB remaps on mdb_env_set_mapsize, which would leave every
     * pointer an open read transaction handed out dangling, so the map only changes size while
     * this process has no read transaction open. */
    pthread_mutex_t reader_lock;
    size_t readers;
    size_t map_bytes;
};

struct zn_store_keys {
    size_t count;
    zn_buf_t values[ZN_STORE_INDEX_VALUES_MAX]; /* point into BYTES */
    uint8_t bytes[ZN_STORE_INDEX_VALUES_MAX * ZN_STORE_INDEX_VALUE_MAX_BYTES];
    size_t used;
};

/* Translate an LMDB or errno return into zinc's convention: MDB_NOTFOUND -> -ENOENT,
 * MDB_MAP_FULL -> -ENOSPC, MDB_KEYEXIST -> -EEXIST, MDB_VERSION_MISMATCH -> ZN_EVERSION,
 * MDB_INVALID/MDB_CORRUPTED/MDB_PAGE_NOTFOUND -> -EBADMSG, MDB_READERS_FULL -> -EAGAIN,
 * positive errno -> -errno, other LMDB codes -> ZN_EINTERNAL. */
int zn__store_rc(int mdb_rc);

/* The table whose name is NAME (not NUL-terminated), or NULL. */
const zn_store_table_t *zn__store_table_find(const zn_store_t *self, zn_buf_t name);

/* Parse a stored value into OUT's value, generation and record_version. -EBADMSG when short. */
int zn__store_record_parse(const MDB_val *stored, zn_store_record_t *out);

/* Write the record header for GENERATION and VERSION into DEST (16 bytes). */
void zn__store_record_header(uint8_t *dest, uint64_t generation, uint32_t version);

/* Run INDEX's extractor on RECORD into KEYS (reset first). -EINVAL (with FAULT) on refusal. */
int zn__store_extract(const zn_store_index_t *index, zn_buf_t record, uint32_t version,
                      zn_store_keys_t *keys, zn_fault_t *fault);

/* Build the index entry key VALUE NUL PK into DEST (ZN__STORE_INDEX_KEY_MAX_BYTES). */
void zn__store_index_key(MDB_val *dest_key, uint8_t *dest, zn_buf_t value, zn_buf_t pk);

/* Add every entry of RECORD (stored under PK) to every index of TABLE. */
int zn__store_index_insert_all(MDB_txn *txn, const zn_store_table_t *table, zn_buf_t pk,
                               const zn_store_record_t *record, zn_fault_t *fault);

/* Begin a transaction, adopting a map size another process grew to when LMDB asks for it
 * (-EBUSY when other read transactions of this process prevent that). A read transaction's
 * caller has already counted itself with zn__store_reader_enter. */
int zn__store_txn_begin(zn_store_t *self, MDB_txn *parent, unsigned flags, MDB_txn **out);

/* Count a read transaction of this process in or out (see reader_lock). */
void zn__store_reader_enter(zn_store_t *self);
void zn__store_reader_leave(zn_store_t *self);

/* Check the format and table versions, create databases, migrate and rebuild indexes
 * (zn_store_meta.c). Called once by zn_store_open. */
int zn__store_meta_setup(zn_store_t *self, zn_fault_t *fault);

/* Read the applied sequence inside TXN into *out (0 when absent). */
int zn__store_meta_applied_seq(zn_store_t *self, MDB_txn *txn, uint64_t *out);

/* Record SEQ as the applied sequence inside TXN. */
int zn__store_meta_set_applied_seq(zn_store_t *self, MDB_txn *txn, uint64_t seq);

/* Check that the meta database in TXN carries a format this build reads; FAULT names PATH. */
int zn__store_meta_check_format(MDB_txn *txn, MDB_dbi meta, const char *path, zn_fault_t *fault);

/* Double the map, up to the configured maximum. Only with no read transaction of this process
 * open, since LMDB remaps; the caller holds the write lock and no write transaction. Returns 0
 * or -ENOSPC with FAULT saying why it cannot grow. */
int zn__store_grow(zn_store_t *self, zn_fault_t *fault);

/* Empty every index of TABLE and fill it again from the table's records, inside TXN. */
int zn__store_rebuild_indexes(MDB_txn *txn, const zn_store_table_t *table, zn_fault_t *fault);

#endif
