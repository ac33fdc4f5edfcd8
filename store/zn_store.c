/* SPDX-License-Identifier: Apache-2.0 */
/* zn_store.c - the store's lifetime: options, the LMDB environment, the open lock and the map. */
#include "zn_store.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zn_failpoint.h"
#include "zn_log.h"
#include "zn_mem.h"
#include "zn_store_int.h"

#define S_MAP_INITIAL_DEFAULT ((size_t)64 << 20)
#define S_MAP_MAX_DEFAULT     ((size_t)64 << 30)

static int
s_check_table_def(const zn_store_table_def_t *def, zn_fault_t *fault)
{
    if (def->name == NULL || !zn_batch_name_is_valid(zn_batch_str(def->name))) {
        return zn_fault_set(fault, -EINVAL, "store: bad table name (want [a-z0-9_]{1,32})");
    }
    if (def->record_version == 0 || (def->index_count > 0 && def->indexes == NULL)) {
        return zn_fault_set(fault, -EINVAL, "table %s: record_version 0 or no index array",
                            def->name);
    }
    for (size_t i = 0; i < def->index_count; i++) {
        const zn_store_index_def_t *index = &def->indexes[i];
        if (index->name == NULL || !zn_batch_name_is_valid(zn_batch_str(index->name)) ||
            index->extract == NULL) {
            return zn_fault_set(fault, -EINVAL,
                                "table %s: index %zu has a bad name or no extractor", def->name, i);
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(def->indexes[j].name, index->name) == 0) {
                return zn_fault_set(fault, -EINVAL, "table %s: index %s defined twice", def->name,
                                    index->name);
            }
        }
    }
    return 0;
}

static int
s_check_opts(const zn_store_opts_t *opts, zn_fault_t *fault)
{
    if (opts->path == NULL || opts->path[0] == '\0' || (opts->table_count > 0 && !opts->tables)) {
        return zn_fault_set(fault, -EINVAL, "store: no path or no table array");
    }
    for (size_t i = 0; i < opts->table_count; i++) {
        int rc = s_check_table_def(&opts->tables[i], fault);
        if (rc < 0) {
            return rc;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(opts->tables[j].name, opts->tables[i].name) == 0) {
                return zn_fault_set(fault, -EINVAL, "store: table %s defined twice",
                                    opts->tables[i].name);
            }
        }
    }
    for (size_t i = 0; i < opts->migration_count; i++) {
        const zn_store_migration_t *m = &opts->migrations[i];
        if (m->table == NULL || m->migrate == NULL || m->to_version <= m->from_version) {
            return zn_fault_set(fault, -EINVAL, "store: migration %zu is malformed", i);
        }
    }
    if (opts->map_max_bytes != 0 && opts->map_initial_bytes > opts->map_max_bytes) {
        return zn_fault_set(fault, -EINVAL, "store: map_initial_bytes above map_max_bytes");
    }
    return 0;
}

static zn_store_t *
s_new(const zn_store_opts_t *opts)
{
    zn_store_t *self = zn_calloc(1, sizeof(*self));
    self->path = zn_strdup(opts->path);
    self->lock_fd = -1;
    self->mode = opts->mode;
    self->durable_elsewhere = opts->durable_elsewhere;
    self->migrations = opts->migrations;
    self->migration_count = opts->migration_count;
    self->map_bytes = opts->map_initial_bytes ? opts->map_initial_bytes : S_MAP_INITIAL_DEFAULT;
    self->map_max_bytes = opts->map_max_bytes ? opts->map_max_bytes : S_MAP_MAX_DEFAULT;
    self->table_count = opts->table_count;
    self->tables = zn_calloc(opts->table_count + 1, sizeof(*self->tables));
    for (size_t i = 0; i < opts->table_count; i++) {
        zn_store_table_t *table = &self->tables[i];
        table->def = &opts->tables[i];
        table->indexes = zn_calloc(table->def->index_count + 1, sizeof(*table->indexes));
        for (size_t j = 0; j < table->def->index_count; j++) {
            table->indexes[j].def = &table->def->indexes[j];
            table->indexes[j].table = table;
        }
    }
    pthread_mutex_init(&self->write_lock, NULL);
    pthread_mutex_init(&self->reader_lock, NULL);
    return self;
}

/* Hold zinc.lock shared for as long as the store is open, so that zn_store_restore (which
 * takes it exclusively) can tell that nobody has the store open. */
static int
s_lock_dir(zn_store_t *self, zn_fault_t *fault)
{
    if (self->mode == ZN_STORE_READ_WRITE && mkdir(self->path, 0750) < 0 && errno != EEXIST) {
        return zn_fault_set(fault, -errno, "store %s: mkdir: %s", self->path, strerror(errno));
    }
    char *lock_path = zn_asprintf("%s/zinc.lock", self->path);
    self->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    int err = errno;
    zn_str_free(&lock_path);
    if (self->lock_fd < 0) {
        return zn_fault_set(fault, -err, "store %s: open zinc.lock: %s", self->path, strerror(err));
    }
    if (flock(self->lock_fd, LOCK_SH | LOCK_NB) < 0) {
        err = errno;
        return zn_fault_set(fault, err == EWOULDBLOCK ? -EBUSY : -err,
                            "store %s: locked by a restore in progress", self->path);
    }
    return 0;
}

static unsigned
s_db_count(const zn_store_t *self)
{
    size_t count = 1;
    for (size_t i = 0; i < self->table_count; i++) {
        count += 1 + self->tables[i].def->index_count;
    }
    return (unsigned)count;
}

static int
s_open_env(zn_store_t *self, zn_fault_t *fault)
{
    int rc = mdb_env_create(&self->env);
    if (rc == 0) {
        rc = mdb_env_set_maxdbs(self->env, s_db_count(self));
    }
    if (rc == 0) {
        rc = mdb_env_set_mapsize(self->env, self->map_bytes);
    }
    if (rc == 0) {
        /* MDB_NOTLS: read transactions are not tied to the thread that began them. Sync
         * flags are LMDB's default (a commit returns after its data and meta page are
         * synced) unless the caller's log makes the meta page's sync redundant. */
        unsigned flags = MDB_NOTLS | (self->mode == ZN_STORE_READ_ONLY ? MDB_RDONLY : 0u) |
                         (self->durable_elsewhere ? MDB_NOMETASYNC : 0u);
        rc = mdb_env_open(self->env, self->path, flags, 0640);
    }
    if (rc != 0) {
        return zn_fault_set(fault, zn__store_rc(rc), "store %s: open: %s", self->path,
                            mdb_strerror(rc));
    }
    /* LMDB takes the configured size even when the file was grown past it: adopt the size
     * recorded in the file (size 0), then never go below the configured one. */
    MDB_envinfo info;
    if (mdb_env_set_mapsize(self->env, 0) == 0 && mdb_env_info(self->env, &info) == 0 &&
        info.me_mapsize < self->map_bytes) {
        (void)mdb_env_set_mapsize(self->env, self->map_bytes); /* kept at the adopted size */
    }
    (void)mdb_env_info(self->env, &info); /* cannot fail on an open environment */
    self->map_bytes = info.me_mapsize;
    if (self->map_max_bytes < self->map_bytes) {
        self->map_max_bytes = self->map_bytes;
    }
    return 0;
}

int
zn_store_open(zn_store_t **out, const zn_store_opts_t *opts, zn_fault_t *fault)
{
    *out = NULL;
    int rc = s_check_opts(opts, fault);
    if (rc < 0) {
        return rc;
    }
    zn_store_t *self = s_new(opts);
    rc = s_lock_dir(self, fault);
    if (rc == 0) {
        rc = s_open_env(self, fault);
    }
    if (rc == 0) {
        rc = ZN_FAILPOINT("store.open");
        if (rc < 0) {
            zn_fault_set(fault, rc, "store %s: failpoint store.open", self->path);
        }
    }
    if (rc == 0) {
        rc = zn__store_meta_setup(self, fault);
    }
    if (rc < 0) {
        zn_store_destroy(&self);
        return rc;
    }
    zn_log_debug(NULL, "store opened path=%s map_bytes=%zu tables=%zu", self->path, self->map_bytes,
                 self->table_count);
    *out = self;
    return 0;
}

void
zn_store_destroy(zn_store_t **self_p)
{
    if (*self_p == NULL) {
        return;
    }
    zn_store_t *self = *self_p;
    ZN_ASSERT(self->readers == 0);
    if (self->env != NULL) {
        mdb_env_close(self->env);
    }
    if (self->lock_fd >= 0) {
        close(self->lock_fd);
    }
    for (size_t i = 0; i < self->table_count; i++) {
        zn_free(self->tables[i].indexes);
    }
    zn_free(self->tables);
    pthread_mutex_destroy(&self->write_lock);
    pthread_mutex_destroy(&self->reader_lock);
    zn_str_free(&self->path);
    zn_free(self);
    *self_p = NULL;
}

const zn_store_table_t *
zn_store_table(const zn_store_t *self, const char *name)
{
    return zn__store_table_find(self, zn_batch_str(name));
}

const zn_store_index_t *
zn_store_index(const zn_store_table_t *table, const char *name)
{
    for (size_t i = 0; i < table->def->index_count; i++) {
        if (strcmp(table->indexes[i].def->name, name) == 0) {
            return &table->indexes[i];
        }
    }
    return NULL;
}

size_t
zn_store_map_bytes(const zn_store_t *self)
{
    return self->map_bytes;
}

const zn_store_table_t *
zn__store_table_find(const zn_store_t *self, zn_buf_t name)
{
    for (size_t i = 0; i < self->table_count; i++) {
        const char *candidate = self->tables[i].def->name;
        if (strlen(candidate) == name.len && memcmp(candidate, name.ptr, name.len) == 0) {
            return &self->tables[i];
        }
    }
    return NULL;
}

int
zn__store_rc(int mdb_rc)
{
    switch (mdb_rc) {
    case 0:
        return 0;
    case MDB_NOTFOUND:
        return -ENOENT;
    case MDB_MAP_FULL:
        return -ENOSPC;
    case MDB_KEYEXIST:
        return -EEXIST;
    case MDB_VERSION_MISMATCH:
        return ZN_EVERSION;
    case MDB_INVALID:
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
        return -EBADMSG;
    case MDB_READERS_FULL:
        return -EAGAIN;
    default:
        return mdb_rc > 0 ? -mdb_rc : ZN_EINTERNAL;
    }
}

/* Take the map size another process grew the file to. Only safe with no read transaction of
 * this process open but the caller's own OWN_READERS (see reader_lock); the caller holds no
 * write transaction. */
static int
s_adopt_map_size(zn_store_t *self, size_t own_readers)
{
    int rc = -EBUSY;
    pthread_mutex_lock(&self->reader_lock);
    if (self->readers == own_readers) {
        rc = zn__store_rc(mdb_env_set_mapsize(self->env, 0));
        MDB_envinfo info;
        (void)mdb_env_info(self->env, &info);
        self->map_bytes = info.me_mapsize;
    }
    pthread_mutex_unlock(&self->reader_lock);
    return rc;
}

int
zn__store_txn_begin(zn_store_t *self, MDB_txn *parent, unsigned flags, MDB_txn **out)
{
    int rc = mdb_txn_begin(self->env, parent, flags, out);
    if (rc == MDB_MAP_RESIZED) {
        rc = s_adopt_map_size(self, (flags & MDB_RDONLY) ? 1u : 0u);
        if (rc < 0) {
            return rc;
        }
        rc = mdb_txn_begin(self->env, parent, flags, out);
    }
    return zn__store_rc(rc);
}

void
zn__store_reader_enter(zn_store_t *self)
{
    pthread_mutex_lock(&self->reader_lock);
    self->readers++;
    pthread_mutex_unlock(&self->reader_lock);
}

void
zn__store_reader_leave(zn_store_t *self)
{
    pthread_mutex_lock(&self->reader_lock);
    ZN_ASSERT(self->readers > 0);
    self->readers--;
    pthread_mutex_unlock(&self->reader_lock);
}
