/* SPDX-License-Identifier: Apache-2.0 */
/* zn_store_backup.c - online backup to a new directory and offline restore from one. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zn_failpoint.h"
#include "zn_log.h"
#include "zn_mem.h"
#include "zn_store.h"
#include "zn_store_int.h"

#define S_COPY_CHUNK_BYTES ((size_t)256 * 1024)

static int
s_fsync_path(const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    int rc = fsync(fd) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

/* Make a rename inside DIR's parent durable: sync the parent directory. */
static int
s_fsync_parent(const char *path)
{
    char *copy = zn_strdup(path);
    int rc = s_fsync_path(dirname(copy), O_RDONLY | O_DIRECTORY);
    zn_str_free(&copy);
    return rc;
}

/* Copy the environment into TMP_DIR and make the copy durable. */
static int
s_copy_env(zn_store_t *self, const char *tmp_dir, zn_fault_t *fault)
{
    int rc = ZN_FAILPOINT("store.backup");
    if (rc == 0) {
        /* mdb_env_copy2 reads through a read transaction of this process: count it, so the
         * map does not grow under it. */
        zn__store_reader_enter(self);
        rc = zn__store_rc(mdb_env_copy2(self->env, tmp_dir, MDB_CP_COMPACT));
        zn__store_reader_leave(self);
    }
    if (rc < 0) {
        return zn_fault_set(fault, rc, "store %s: copy to %s: %s", self->path, tmp_dir,
                            zn_strerror(rc));
    }
    char *data = zn_asprintf("%s/data.mdb", tmp_dir);
    rc = s_fsync_path(data, O_RDONLY);
    zn_str_free(&data);
    if (rc == 0) {
        rc = s_fsync_path(tmp_dir, O_RDONLY | O_DIRECTORY);
    }
    return rc < 0 ? zn_fault_set(fault, rc, "backup %s: sync: %s", tmp_dir, zn_strerror(rc)) : 0;
}

static void
s_remove_dir(const char *dir)
{
    char *data = zn_asprintf("%s/data.mdb", dir);
    (void)unlink(data); /* best effort: the directory may hold nothing yet */
    (void)rmdir(dir);
    zn_str_free(&data);
}

int
zn_store_backup(zn_store_t *self, const char *dest_dir, zn_fault_t *fault)
{
    struct stat st;
    if (lstat(dest_dir, &st) == 0) {
        return zn_fault_set(fault, -EEXIST, "backup %s: already exists", dest_dir);
    }
    char *tmp_dir = zn_asprintf("%s.tmp.XXXXXX", dest_dir);
    int rc = 0;
    if (mkdtemp(tmp_dir) == NULL) {
        rc = zn_fault_set(fault, -errno, "backup %s: mkdtemp: %s", dest_dir, strerror(errno));
        goto out_free_tmp;
    }
    rc = s_copy_env(self, tmp_dir, fault);
    if (rc == 0 && rename(tmp_dir, dest_dir) < 0) {
        rc = zn_fault_set(fault, -errno, "backup %s: rename: %s", dest_dir, strerror(errno));
    }
    if (rc < 0) {
        s_remove_dir(tmp_dir);
        goto out_free_tmp;
    }
    rc = s_fsync_parent(dest_dir);
    if (rc < 0) {
        zn_fault_set(fault, rc, "backup %s: sync parent: %s", dest_dir, zn_strerror(rc));
    } else {
        zn_log_notice(NULL, "store backup done path=%s dest=%s", self->path, dest_dir);
    }
out_free_tmp:
    zn_str_free(&tmp_dir);
    return rc;
}

/* Open BACKUP_DIR read-only without touching it (no lock file) and check its format. */
static int
s_check_backup(const char *backup_dir, zn_fault_t *fault)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi meta;
    int rc = zn__store_rc(mdb_env_create(&env));
    if (rc == 0) {
        rc = zn__store_rc(mdb_env_set_maxdbs(env, 1));
    }
    if (rc == 0) {
        rc = zn__store_rc(mdb_env_open(env, backup_dir, MDB_RDONLY | MDB_NOLOCK, 0));
    }
    if (rc == 0) {
        rc = zn__store_rc(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn));
    }
    if (rc == 0) {
        rc = zn__store_rc(mdb_dbi_open(txn, ZN__STORE_META_DB, 0, &meta));
        rc = rc == -ENOENT ? -EBADMSG : rc;
    }
    if (rc < 0) {
        zn_fault_set(fault, rc, "backup %s: not a readable zinc store: %s", backup_dir,
                     zn_strerror(rc));
    } else {
        rc = zn__store_meta_check_format(txn, meta, backup_dir, fault);
    }
    mdb_txn_abort(txn); /* NULL is fine */
    mdb_env_close(env);
    return rc;
}

static int
s_write_all(int fd, const uint8_t *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return -errno;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static int
s_copy_fd(int in, int out)
{
    uint8_t *buf = zn_malloc(S_COPY_CHUNK_BYTES);
    int rc = 0;
    for (;;) {
        ssize_t n = read(in, buf, S_COPY_CHUNK_BYTES);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            rc = n < 0 ? -errno : 0;
            break;
        }
        rc = s_write_all(out, buf, (size_t)n);
        if (rc < 0) {
            break;
        }
    }
    zn_free(buf);
    return rc == 0 && fsync(out) < 0 ? -errno : rc;
}

/* Copy SRC to DST (created or truncated) and sync it. */
static int
s_copy_file(const char *src, const char *dst)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        return -errno;
    }
    int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    int rc = out < 0 ? -errno : s_copy_fd(in, out);
    if (out >= 0) {
        close(out);
    }
    close(in);
    return rc;
}

/* With the store locked: copy the backup's data file in beside the live one, then swap. */
static int
s_install(const char *backup_dir, const char *store_dir, zn_fault_t *fault)
{
    char *src = zn_asprintf("%s/data.mdb", backup_dir);
    char *tmp = zn_asprintf("%s/data.mdb.restore", store_dir);
    char *dst = zn_asprintf("%s/data.mdb", store_dir);
    char *lock = zn_asprintf("%s/lock.mdb", store_dir);
    int rc = ZN_FAILPOINT("store.restore");
    if (rc == 0) {
        rc = s_copy_file(src, tmp);
    }
    if (rc == 0 && rename(tmp, dst) < 0) {
        rc = -errno;
    }
    if (rc < 0) {
        (void)unlink(tmp); /* best effort: the old store is untouched */
        zn_fault_set(fault, rc, "restore %s: install: %s", store_dir, zn_strerror(rc));
    } else {
        /* Nobody has the store open, so LMDB's reader table is stale: start it afresh. */
        (void)unlink(lock);
        rc = s_fsync_path(store_dir, O_RDONLY | O_DIRECTORY);
    }
    zn_str_free(&lock);
    zn_str_free(&dst);
    zn_str_free(&tmp);
    zn_str_free(&src);
    return rc;
}

int
zn_store_restore(const char *backup_dir, const char *store_dir, zn_fault_t *fault)
{
    int rc = s_check_backup(backup_dir, fault);
    if (rc < 0) {
        return rc;
    }
    if (mkdir(store_dir, 0750) < 0 && errno != EEXIST) {
        return zn_fault_set(fault, -errno, "restore %s: mkdir: %s", store_dir, strerror(errno));
    }
    char *lock_path = zn_asprintf("%s/zinc.lock", store_dir);
    int lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    zn_str_free(&lock_path);
    if (lock_fd < 0) {
        return zn_fault_set(fault, -errno, "restore %s: open zinc.lock: %s", store_dir,
                            strerror(errno));
    }
    if (flock(lock_fd, LOCK_EX | LOCK_NB) < 0) {
        rc = zn_fault_set(fault, -EBUSY, "restore %s: the store is open; stop its users first",
                          store_dir);
        goto out_close_lock;
    }
    rc = s_install(backup_dir, store_dir, fault);
    if (rc == 0) {
        zn_log_notice(NULL, "store restored path=%s from=%s", store_dir, backup_dir);
    }
out_close_lock:
    close(lock_fd); /* also releases the lock */
    return rc;
}
