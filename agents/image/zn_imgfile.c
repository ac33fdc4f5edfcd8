/* SPDX-License-Identifier: Apache-2.0 */
/* zn_imgfile.c - the filesystem store: temporary file, streaming digests, rename on success. */
#include "zn_imgfile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <czmq.h>

#include "zn_failpoint.h"
#include "zn_fs.h"
#include "zn_imghash.h"
#include "zn_log.h"
#include "zn_mem.h"
#include "zn_uuid.h"

#define S_WRITEBACK_BYTES ((uint64_t)8 << 20)

struct zn_imgfile {
    char *dir;
    char *tmp_dir;
    bool fsync;
    zn_imghash_t *hash;  /* md5 and sha512 of what uploads wrote, behind them */
    zactor_t *committer; /* sync and rename of finished uploads */
    zloop_t *loop;
    zhashx_t *commits; /* sequence number -> upload being committed */
    uint64_t next_seq;
};

struct zn_imgfile_upload {
    zn_imgfile_t *store;
    char *id;
    char *tmp_path;
    int fd;
    uint64_t size;
    uint64_t flushed; /* bytes whose write-back was started */
    uint64_t max_bytes;
    int failed; /* the first error; every later write repeats it */
    bool committed;
    zn_imgfile_commit_fn *fn; /* while committing */
    void *arg;
    zn_imghash_job_t *digests;
};

/* Image ids and locations become file names: only a UUID, optionally followed by ".XXXXXX"
 * of letters and digits (what mkostemp makes), may reach the file system. */
static int
s_check_id(const char *name)
{
    if (name == NULL || strlen(name) < ZN_UUID_LEN) {
        return -ENOENT;
    }
    char id[ZN_UUID_LEN + 1];
    memcpy(id, name, ZN_UUID_LEN);
    id[ZN_UUID_LEN] = '\0';
    if (!zn_uuid_is_valid(id)) {
        return -ENOENT;
    }
    const char *rest = name + ZN_UUID_LEN;
    if (rest[0] == '\0') {
        return 0;
    }
    if (rest[0] != '.' || strlen(rest) != 7) {
        return -ENOENT;
    }
    for (const char *p = rest + 1; *p != '\0'; p++) {
        bool ok = (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z');
        if (!ok) {
            return -ENOENT;
        }
    }
    return 0;
}

static const char *
s_location(const zn_imgfile_upload_t *self)
{
    const char *slash = strrchr(self->tmp_path, '/');
    return slash != NULL ? slash + 1 : self->tmp_path;
}

static void
s_clear_tmp(const char *tmp_dir)
{
    DIR *dir = opendir(tmp_dir);
    if (dir == NULL) {
        return;
    }
    struct dirent *entry = NULL;
    while ((entry = readdir(dir)) != NULL) {
        if (entry->d_name[0] != '.') {
            (void)unlinkat(dirfd(dir), entry->d_name, 0); /* best effort: a crash's leftovers */
        }
    }
    (void)closedir(dir);
}

/* The committer: sync (when asked) and rename one finished upload, answer its sequence number
 * and result. It works on a descriptor and two paths, never on the loop's objects. */
static void
s_committer(zsock_t *pipe, void *arg)
{
    (void)arg;
    zsock_signal(pipe, 0);
    for (;;) {
        char *command = NULL;
        uint64_t seq = 0;
        int fd = -1;
        int sync = 0;
        char *from = NULL;
        char *to = NULL;
        if (zsock_recv(pipe, "s8iiss", &command, &seq, &fd, &sync, &from, &to) < 0) {
            break;
        }
        bool commit = command != NULL && strcmp(command, "COMMIT") == 0;
        int rc = commit ? ZN_FAILPOINT("image.commit") : 0;
        if (commit && rc == 0 && sync && fdatasync(fd) < 0) {
            rc = -errno;
        }
        if (commit && rc == 0 && rename(from, to) < 0) {
            rc = -errno;
        }
        zstr_free(&command);
        zstr_free(&from);
        zstr_free(&to);
        if (!commit) {
            break; /* $TERM */
        }
        (void)zsock_send(pipe, "s8i", "DONE", seq, rc);
    }
}

int
zn_imgfile_open(zn_imgfile_t **out, const char *dir, bool fsync, zn_fault_t *fault)
{
    *out = NULL;
    zn_imgfile_t *self = zn_calloc(1, sizeof(*self));
    self->dir = zn_strdup(dir);
    self->tmp_dir = zn_asprintf("%s/tmp", dir);
    self->fsync = fsync;
    int rc = zn_fs_mkdir_p(self->tmp_dir, 0750);
    if (rc < 0) {
        zn_fault_set(fault, rc, "image store %s: %s", self->tmp_dir, zn_strerror(rc));
        zn_imgfile_destroy(&self);
        return rc;
    }
    s_clear_tmp(self->tmp_dir);
    self->hash = zn_imghash_new();
    self->committer = zactor_new(s_committer, NULL);
    self->commits = zhashx_new();
    *out = self;
    return 0;
}

void
zn_imgfile_destroy(zn_imgfile_t **self_p)
{
    zn_imgfile_t *self = *self_p;
    if (self == NULL) {
        return;
    }
    if (self->loop != NULL) {
        zloop_reader_end(self->loop, zactor_sock(self->committer));
    }
    zactor_destroy(&self->committer); /* waits for a commit in progress */
    zn_imgfile_upload_t *up = NULL;
    while (self->commits != NULL && (up = zhashx_first(self->commits)) != NULL) {
        zhashx_delete(self->commits, zhashx_cursor(self->commits));
        char *path = zn_asprintf("%s/%s", self->dir, s_location(up));
        (void)unlink(path); /* renamed or not, nobody will point at it */
        zn_free(path);
        zn_imgfile_upload_destroy(&up);
    }
    zhashx_destroy(&self->commits);
    zn_imghash_destroy(&self->hash); /* after the uploads: they wait for their spans */
    zn_free(self->dir);
    zn_free(self->tmp_dir);
    zn_free(self);
    *self_p = NULL;
}

int
zn_imgfile_open_read(zn_imgfile_t *self, const char *location)
{
    if (s_check_id(location) < 0) {
        return -ENOENT;
    }
    char *path = zn_asprintf("%s/%s", self->dir, location);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int err = errno;
    zn_free(path);
    return fd >= 0 ? fd : -err;
}

int64_t
zn_imgfile_read(zn_imgfile_t *self, const char *location, uint64_t offset, uint8_t *buf, size_t len)
{
    int fd = zn_imgfile_open_read(self, location);
    if (fd < 0) {
        return fd;
    }
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, buf + done, len - done, (off_t)(offset + done));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            int err = n < 0 ? -errno : 0;
            (void)close(fd);
            return err < 0 ? err : (int64_t)done;
        }
        done += (size_t)n;
    }
    (void)close(fd);
    return (int64_t)done;
}

int
zn_imgfile_remove(zn_imgfile_t *self, const char *location)
{
    if (s_check_id(location) < 0) {
        return 0;
    }
    char *path = zn_asprintf("%s/%s", self->dir, location);
    int rc = unlink(path) == 0 || errno == ENOENT ? 0 : -errno;
    zn_free(path);
    return rc;
}

/* ---- uploads ------------------------------------------------------------------------------ */

int
zn_imgfile_upload_open(zn_imgfile_t *self, const char *id, uint64_t max_bytes,
                       zn_imgfile_upload_t **out, zn_fault_t *fault)
{
    *out = NULL;
    if (s_check_id(id) < 0) {
        return zn_fault_set(fault, -ENOENT, "No image found with ID %s", id != NULL ? id : "");
    }
    zn_imgfile_upload_t *up = zn_calloc(1, sizeof(*up));
    up->store = self;
    up->id = zn_strdup(id);
    up->max_bytes = max_bytes;
    up->tmp_path = zn_asprintf("%s/%s.XXXXXX", self->tmp_dir, id);
    up->fd = mkostemp(up->tmp_path, O_CLOEXEC);
    if (up->fd < 0) {
        int err = -errno;
        zn_str_free(&up->tmp_path);
        zn_imgfile_upload_destroy(&up);
        return zn_fault_set(fault, err, "image store: cannot create a file: %s", zn_strerror(err));
    }
    up->digests = zn_imghash_job_new(self->hash, up->fd);
    *out = up;
    return 0;
}

static int
s_write_all(int fd, const uint8_t *data, size_t len)
{
    int rc = ZN_FAILPOINT("image.write");
    while (rc == 0 && len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return -errno;
        }
        data += n;
        len -= (size_t)n;
    }
    return rc;
}

/* Start writing back what the upload wrote so far every S_WRITEBACK_BYTES, without waiting: the
 * disk works while the rest streams in, and the sync at commit finds little left to do. */
static void
s_start_writeback(zn_imgfile_upload_t *self)
{
    if (!self->store->fsync || self->size - self->flushed < S_WRITEBACK_BYTES) {
        return;
    }
    /* Best effort: a failure here only means the final sync does all the work. */
    (void)sync_file_range(self->fd, (off64_t)self->flushed, (off64_t)(self->size - self->flushed),
                          SYNC_FILE_RANGE_WRITE);
    self->flushed = self->size;
}

int
zn_imgfile_upload_write(zn_imgfile_upload_t *self, const void *data, size_t len)
{
    if (self->failed != 0) {
        return self->failed;
    }
    if (len > self->max_bytes - self->size) {
        self->failed = ZN_ETOOBIG;
        return self->failed;
    }
    int rc = s_write_all(self->fd, data, len);
    if (rc < 0) {
        self->failed = rc;
        return rc;
    }
    self->size += len;
    zn_imghash_job_feed(self->store->hash, self->digests, self->size, false);
    s_start_writeback(self);
    return 0;
}

uint64_t
zn_imgfile_upload_size(const zn_imgfile_upload_t *self)
{
    return self->size;
}

static int
s_on_committed(zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    zn_imgfile_t *self = arg;
    char *command = NULL;
    uint64_t seq = 0;
    int rc = 0;
    if (zsock_recv(reader, "s8i", &command, &seq, &rc) < 0) {
        return 0;
    }
    zstr_free(&command);
    char key[24];
    (void)snprintf(key, sizeof(key), "%" PRIu64, seq);
    zn_imgfile_upload_t *up = zhashx_lookup(self->commits, key);
    if (up == NULL) {
        return 0;
    }
    zhashx_delete(self->commits, key);
    char md5[ZN_IMGHASH_MD5_HEX + 1] = "";
    char sha512[ZN_IMGHASH_SHA512_HEX + 1] = "";
    if (rc == 0) {
        /* The sync took long enough for the hashers to finish, most of the time. */
        rc = zn_imghash_job_finish(self->hash, up->digests, md5, sha512);
        up->committed = true;
    }
    if (rc < 0 && up->committed) {
        up->committed = false; /* renamed, but unreadable for its digests: remove it */
        if (zn_imgfile_remove(self, s_location(up)) < 0) {
            zn_log_warn(NULL, "image file %s left behind", s_location(up));
        }
    }
    up->fn(up->arg, rc, s_location(up), md5, sha512);
    zn_imgfile_upload_destroy(&up);
    return 0;
}

int
zn_imgfile_attach(zn_imgfile_t *self, zloop_t *loop)
{
    if (self->loop != NULL ||
        zloop_reader(loop, zactor_sock(self->committer), s_on_committed, self) != 0) {
        return -EINVAL;
    }
    self->loop = loop;
    return 0;
}

int
zn_imgfile_upload_commit(zn_imgfile_t *self, zn_imgfile_upload_t **up_p, zn_imgfile_commit_fn *fn,
                         void *arg)
{
    zn_imgfile_upload_t *up = *up_p;
    *up_p = NULL;
    ZN_ASSERT(!up->committed && up->fd >= 0 && self->loop != NULL);
    int rc = up->failed;
    if (rc == 0) {
        zn_imghash_job_feed(self->hash, up->digests, up->size, true); /* the last span */
    }
    uint64_t seq = ++self->next_seq;
    char *to = zn_asprintf("%s/%s", self->dir, s_location(up));
    if (rc == 0 && zsock_send(self->committer, "s8iiss", "COMMIT", seq, up->fd, self->fsync ? 1 : 0,
                              up->tmp_path, to) < 0) {
        rc = -EIO;
    }
    zn_free(to);
    if (rc < 0) {
        zn_imgfile_upload_destroy(&up);
        return rc;
    }
    up->fn = fn;
    up->arg = arg;
    char key[24];
    (void)snprintf(key, sizeof(key), "%" PRIu64, seq);
    (void)zhashx_insert(self->commits, key, up); /* sequence numbers are unique */
    return 0;
}

size_t
zn_imgfile_commits(const zn_imgfile_t *self)
{
    return zhashx_size(self->commits);
}

void
zn_imgfile_upload_destroy(zn_imgfile_upload_t **self_p)
{
    zn_imgfile_upload_t *self = *self_p;
    if (self == NULL) {
        return;
    }
    zn_imghash_job_destroy(self->store->hash, &self->digests); /* before its file closes */
    if (self->fd >= 0) {
        (void)close(self->fd);
    }
    if (!self->committed && self->tmp_path != NULL) {
        (void)unlink(self->tmp_path); /* best effort: the next start clears tmp/ too */
    }
    zn_free(self->id);
    zn_free(self->tmp_path);
    zn_free(self);
    *self_p = NULL;
}
