/* SPDX-License-Identifier: Apache-2.0 */
/* zn_store.h - the local state store: typed tables with secondary indexes over one LMDB
 * environment, snapshot reads, and atomic conditional writes applied from batches. */
#ifndef ZN_STORE_H
#define ZN_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zn_batch.h"
#include "zn_buf.h"
#include "zn_common.h"
#include "zn_err.h"

/* The store file format this build writes. A file with a newer major is refused (ZN_EVERSION);
 * a newer minor is still readable by definition of "minor". */
#define ZN_STORE_FORMAT_MAJOR 1u
#define ZN_STORE_FORMAT_MINOR 0u

#define ZN_STORE_INDEX_VALUE_MAX_BYTES 255u    /* one index value; it may not contain a NUL */
#define ZN_STORE_INDEX_VALUES_MAX      16u     /* values one record yields for one index */
#define ZN_STORE_PAGE_MAX              100000u /* largest LIMIT a scan accepts */

/* ---- table descriptors (plain data, usually static const) -------------------------------- */

/* Index values an extractor produces for one record. Owned by the store. */
typedef struct zn_store_keys zn_store_keys_t;

/* Copy VALUE into KEYS. Returns 0, -EINVAL when VALUE contains a NUL, or ZN_ETOOBIG when VALUE
 * is longer than ZN_STORE_INDEX_VALUE_MAX_BYTES or KEYS already holds ZN_STORE_INDEX_VALUES_MAX.
 * Adding the same value twice is harmless. */
ZN_MUST_CHECK int zn_store_keys_add(zn_store_keys_t *keys, zn_buf_t value);

/* Produce 0..n index values for RECORD (the bytes a put stored, at RECORD_VERSION) with
 * zn_store_keys_add. Must be deterministic: it runs on puts, deletes, rebuilds and (later) on
 * every replica. Return 0, or a negative error to refuse the record, which fails its batch with
 * -EINVAL. ARG is the index definition's. */
typedef int (*zn_store_extract_fn)(zn_buf_t record, uint32_t record_version, zn_store_keys_t *keys,
                                   void *arg);

typedef struct zn_store_index_def {
    const char *name; /* [a-z0-9_]{1,32}, unique within its table */
    zn_store_extract_fn extract;
    void *arg;
} zn_store_index_def_t;

typedef struct zn_store_table_def {
    const char *name;        /* [a-z0-9_]{1,32} */
    uint32_t record_version; /* the version this build writes; >= 1 */
    const zn_store_index_def_t *indexes;
    size_t index_count;
} zn_store_table_def_t;

/* Rewrite one record from FROM_VERSION to TO_VERSION: set *new_record to the new bytes, which
 * must stay valid until the next call (point it at OLD_RECORD to keep it, or at scratch memory
 * reached through ARG). Return 0 or a negative error, which fails zn_store_open. */
typedef int (*zn_store_migrate_fn)(zn_buf_t key, zn_buf_t old_record, zn_buf_t *new_record,
                                   void *arg);

typedef struct zn_store_migration {
    const char *table;
    uint32_t from_version;
    uint32_t to_version; /* > from_version */
    zn_store_migrate_fn migrate;
    void *arg;
} zn_store_migration_t;

/* ---- the store ---------------------------------------------------------------------------- */

typedef enum {
    ZN_STORE_READ_WRITE = 0,
    ZN_STORE_READ_ONLY = 1, /* another process on the node that only reads; cannot migrate */
} zn_store_mode_t;

/* Everything zn_store_open needs. The arrays and definitions are borrowed and must outlive the
 * store (they are normally static const data). */
typedef struct zn_store_opts {
    const char *path; /* a directory, created (0750) when missing */
    const zn_store_table_def_t *tables;
    size_t table_count;
    const zn_store_migration_t *migrations;
    size_t migration_count;
    size_t map_initial_bytes; /* 0: 64 MiB; never below the data already in the file */
    size_t map_max_bytes;     /* 0: 64 GiB; growth doubles the map up to this */
    zn_store_mode_t mode;
    /* The caller keeps every batch durable elsewhere before applying it and applies again what
     * a crash undid (a raft log, replayed by applied_seq): commits then skip the sync of LMDB's
     * meta page (MDB_NOMETASYNC), one fsync instead of two. Integrity holds; a system crash may
     * undo the last commit, which the replay restores. Never for a store that is its own log. */
    bool durable_elsewhere;
} zn_store_opts_t;

typedef struct zn_store zn_store_t;
typedef struct zn_store_table zn_store_table_t;
typedef struct zn_store_index zn_store_index_t;

/* Open (creating when missing) the store at OPTS->path. In read-write mode it creates missing
 * tables and indexes, checks the file format, runs the forward migrations that bring each table
 * from its stored record version to the version in its definition, and rebuilds the indexes of a
 * migrated table or of a newly added index, all in one transaction: either everything happened
 * or nothing did. Commits are synchronous (fsync before a write returns). On success *out owns
 * the store. On failure *out is NULL and the return is -EINVAL (bad options or definitions),
 * ZN_EVERSION (the file, or a table, is newer than this build, or a migration is missing),
 * -EBUSY (a restore holds the store), -ENOENT (read-only: a table does not exist yet), a
 * migration's error, or an I/O error; FAULT says which. Any thread. */
ZN_MUST_CHECK int zn_store_open(zn_store_t **out, const zn_store_opts_t *opts, zn_fault_t *fault);

/* Close the store and set *self_p to NULL. Does nothing if *self_p is NULL. Every read
 * transaction must have ended. */
void zn_store_destroy(zn_store_t **self_p);

/* The table or index called NAME, or NULL when the store was opened without it. Borrowed until
 * the store is destroyed. */
const zn_store_table_t *zn_store_table(const zn_store_t *self, const char *name);
const zn_store_index_t *zn_store_index(const zn_store_table_t *table, const char *name);

/* The current size of the memory map in bytes. */
size_t zn_store_map_bytes(const zn_store_t *self);

/* ---- writes ------------------------------------------------------------------------------- */

/* Apply one encoded batch (zn_batch_bytes) atomically in one synchronous write transaction: each
 * operation's condition is checked against the state left by the operations before it, and
 * either all of them take effect or none does. A put stores generation old + 1 (1 on create);
 * secondary indexes follow in the same transaction. The same bytes applied to two stores with
 * the same content give the same result.
 * APPLIED_SEQ, when not 0, is recorded in the same transaction, also when the batch itself
 * fails; a batch whose APPLIED_SEQ is not above the recorded one is skipped and returns
 * ZN_EDUPLICATE (the replicated store uses this to replay log entries idempotently).
 * Returns 0; ZN_ECONFLICT (a generation condition failed; FAULT names the table, key, expected
 * and found generations); -EINVAL (unknown table, refused record, wrong record version) or
 * -EBADMSG / ZN_ETOOBIG (bad bytes); ZN_EDUPLICATE; -ENOSPC (the map is full and could not
 * grow: nothing was written); -EROFS (read-only store); or an I/O error. Only 0 means the
 * batch's operations are durable. Any thread; writers are serialised. */
ZN_MUST_CHECK int zn_store_apply(zn_store_t *self, zn_buf_t batch, uint64_t applied_seq,
                                 zn_fault_t *fault);

/* One batch of a group commit. */
typedef struct zn_store_entry {
    zn_buf_t batch;       /* in: encoded batch, borrowed for the call */
    uint64_t applied_seq; /* in: as for zn_store_apply; 0 for none */
    zn_fault_t *fault;    /* in, optional: words for RC */
    int rc;               /* out: what zn_store_apply would have returned for this batch */
} zn_store_entry_t;

/* Group commit: apply COUNT batches in order in one synchronous write transaction, each in a
 * nested transaction, so that a batch whose conditions fail (or whose bytes are bad) fails
 * alone and later batches see the state without it. Returns 0 when the transaction committed
 * (each batch's own result is in ENTRIES[i].rc), or a negative error (-ENOSPC, -EROFS, -EINVAL
 * for COUNT 0 or above ZN_BATCH_MAX_OPS, an I/O error) when nothing at all was committed; then
 * FAULT says why and the entries' rc are unspecified. */
ZN_MUST_CHECK int zn_store_apply_many(zn_store_t *self, zn_store_entry_t *entries, size_t count,
                                      zn_fault_t *fault);

/* The highest APPLIED_SEQ recorded, 0 when none, into *out. Returns 0 or an I/O error. */
ZN_MUST_CHECK int zn_store_applied_seq(zn_store_t *self, uint64_t *out);

/* ---- reads -------------------------------------------------------------------------------- */

/* A read transaction: a consistent snapshot that writers (in this and other processes) never
 * block and that never blocks them. The environment is opened with MDB_NOTLS, so a read
 * transaction may be used from any thread, one thread at a time. Keep it short: pages it can
 * see cannot be reused, and the map cannot grow while this process has one open. */
typedef struct zn_store_read zn_store_read_t;

/* A record as read. Every zn_buf_t borrows from the map and is valid until the read
 * transaction ends: copy what you keep. */
typedef struct zn_store_record {
    zn_buf_t key;
    zn_buf_t value;
    zn_buf_t index_value; /* index scans only: the index value that matched; else empty */
    uint64_t generation;  /* >= 1 */
    uint32_t record_version;
} zn_store_record_t;

/* Start a read transaction; *out owns it until zn_store_read_end. Returns 0, -EBUSY (another
 * process grew the map while this one has read transactions open; retry after they end), or an
 * LMDB error translated (-EAGAIN when the reader table is full). */
ZN_MUST_CHECK int zn_store_read_begin(zn_store_t *self, zn_store_read_t **out);

/* End the read transaction and set *txn_p to NULL; every record read through it dies with it.
 * Does nothing if *txn_p is NULL. */
void zn_store_read_end(zn_store_read_t **txn_p);

/* Read TABLE/KEY into *out. Returns 0, -ENOENT, or -EBADMSG when the stored record is damaged. */
ZN_MUST_CHECK int zn_store_get(zn_store_read_t *txn, const zn_store_table_t *table, zn_buf_t key,
                               zn_store_record_t *out);

/* Only the generation of TABLE/KEY (for building a conditional batch). Returns 0 or -ENOENT. */
ZN_MUST_CHECK int zn_store_get_generation(zn_store_read_t *txn, const zn_store_table_t *table,
                                          zn_buf_t key, uint64_t *out);

/* Up to LIMIT records of TABLE in key order (bytewise) whose key is after MARKER (an empty
 * MARKER starts at the beginning), into OUT[0..LIMIT). Returns how many (fewer than LIMIT means
 * the end was reached; the next page's marker is the last key returned), -EINVAL when LIMIT is
 * 0 or above ZN_STORE_PAGE_MAX, or -EBADMSG. */
ZN_MUST_CHECK int zn_store_scan(zn_store_read_t *txn, const zn_store_table_t *table,
                                zn_buf_t marker, zn_store_record_t *out, size_t limit);

typedef enum {
    ZN_STORE_MATCH_EXACT = 0,  /* index value equal to VALUE */
    ZN_STORE_MATCH_PREFIX = 1, /* index value starting with VALUE (empty VALUE: all) */
} zn_store_match_t;

/* An index scan: entries are ordered by (index value, primary key). */
typedef struct zn_store_index_query {
    zn_buf_t value;
    zn_store_match_t match;
    zn_buf_t marker_value; /* resume after (marker_value, marker_key): the last record's */
    zn_buf_t marker_key;   /* index_value and key; an empty marker_key starts at the front */
} zn_store_index_query_t;

/* Up to LIMIT records whose INDEX value matches QUERY, after its marker, into OUT[0..LIMIT),
 * each with its index_value set. Returns how many, -EINVAL (LIMIT as for zn_store_scan, or
 * VALUE too long), or -EBADMSG when an index entry has no record (damage). */
ZN_MUST_CHECK int zn_store_index_scan(zn_store_read_t *txn, const zn_store_index_t *index,
                                      const zn_store_index_query_t *query, zn_store_record_t *out,
                                      size_t limit);

/* ---- backup and restore ------------------------------------------------------------------- */

/* Write a compacted, consistent copy of the store to the new directory DEST_DIR (which must not
 * exist) while writers carry on: the copy is made in a temporary directory next to DEST_DIR,
 * synced, then renamed into place, so DEST_DIR is either absent or complete. Returns 0, -EEXIST,
 * or an I/O error, with FAULT saying which. Any thread. */
ZN_MUST_CHECK int zn_store_backup(zn_store_t *self, const char *dest_dir, zn_fault_t *fault);

/* Offline: replace the store in STORE_DIR (created when missing) with the backup in BACKUP_DIR.
 * The backup is opened read-only and its format checked first; the data file is then copied
 * next to the old one, synced and renamed over it, so STORE_DIR holds either the old store or
 * the new one, never a mix. Refused with -EBUSY while any process has STORE_DIR open; -ENOENT
 * or -EBADMSG for a missing or damaged backup; ZN_EVERSION for a backup from a newer major. */
ZN_MUST_CHECK int zn_store_restore(const char *backup_dir, const char *store_dir,
                                   zn_fault_t *fault);

/* Online: replace every table's records (and the applied sequence) with those of the store in
 * SOURCE_DIR (a backup, or a raft snapshot written out), in one write transaction. Readers keep
 * their handle and see either the old content or the new, never a mix; indexes are rebuilt from
 * the new records. The source is opened read-only without touching it; tables it lacks become
 * empty, tables this store was not opened with are ignored. Returns 0; -EBADMSG or -ENOENT
 * for a missing or damaged source; ZN_EVERSION when the source is from a newer format major or
 * holds a table at another record version than this build writes; -ENOSPC when the map cannot
 * grow; -EROFS; or an I/O error. On failure nothing changed. Any thread; writers are serialised. */
ZN_MUST_CHECK int zn_store_replace(zn_store_t *self, const char *source_dir, zn_fault_t *fault);

/* Forget the applied sequence (set it to 0), so that a store restored from a backup can found a
 * new replicated cluster whose raft log starts again at index 1: otherwise its first entries would
 * be taken for replays and skipped. Only for that: never on a member of a running cluster.
 * Returns 0, -EPERM (read-only) or a negative errno with FAULT. */
ZN_MUST_CHECK int zn_store_reset_applied_seq(zn_store_t *self, zn_fault_t *fault);

#endif
