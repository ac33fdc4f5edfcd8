/* SPDX-License-Identifier: Apache-2.0 */
/* zn_vbackend_file.c - the file driver: one sparse file per volume in a directory, raw or
 * qcow2, with qemu-img for qcow2 and for converting images. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zn_fs.h"
#include "zn_mem.h"
#include "zn_vbackend.h"

extern char **environ;

typedef struct {
    char *dir;
    char *format;
    char *qemu_img;
} s_file_t;

static int
s_open(void **state, const zn_vbackend_opts_t *opts, zn_fault_t *fault)
{
    if (opts->dir == NULL || opts->dir[0] == '\0') {
        return zn_fault_set(fault, -EINVAL, "the file backend needs a volume directory");
    }
    int rc = zn_fs_mkdir_p(opts->dir, 0750);
    if (rc < 0) {
        return zn_fault_set(fault, rc, "volume directory %s: %s", opts->dir, strerror(-rc));
    }
    s_file_t *self = zn_calloc(1, sizeof(*self));
    self->dir = zn_strdup(opts->dir);
    self->format = zn_strdup(opts->format);
    self->qemu_img = zn_strdup(opts->qemu_img != NULL ? opts->qemu_img : "qemu-img");
    *state = self;
    return 0;
}

static void
s_close(void *state)
{
    s_file_t *self = state;
    zn_free(self->dir);
    zn_free(self->format);
    zn_free(self->qemu_img);
    zn_free(self);
}

static void
s_path(const s_file_t *self, const char *id, const char *suffix, char out[ZN_VBACKEND_PATH_MAX])
{
    (void)snprintf(out, ZN_VBACKEND_PATH_MAX, "%s/%s%s", self->dir, id, suffix);
}

/* Run qemu-img with ARGV (argv[0] is replaced by the configured program) and wait for it. */
static int
s_qemu_img(const s_file_t *self, const char **argv, zn_fault_t *fault)
{
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    (void)posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    (void)posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    (void)posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    argv[0] = self->qemu_img;
    pid_t pid = 0;
    /* posix_spawn never writes to argv; its prototype predates const. */
    int rc = posix_spawnp(&pid, self->qemu_img, &actions, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
        return zn_fault_set(fault, -rc, "cannot run %s: %s", self->qemu_img, strerror(rc));
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            return zn_fault_set(fault, -errno, "waiting for %s: %s", self->qemu_img,
                                strerror(errno));
        }
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        return zn_fault_set(fault, -EIO, "%s %s failed (status %d)", self->qemu_img, argv[1],
                            status);
    }
    return 0;
}

static int
s_truncate(const char *path, int64_t size_gb, int flags, zn_fault_t *fault)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC | flags, 0600);
    if (fd < 0) {
        return zn_fault_set(fault, -errno, "volume file %s: %s", path, strerror(errno));
    }
    int rc = 0;
    if (ftruncate(fd, (off_t)(size_gb * ZN_VBACKEND_GB)) < 0) {
        rc = zn_fault_set(fault, -errno, "volume file %s: %s", path, strerror(errno));
    }
    (void)close(fd);
    return rc;
}

static int
s_create(void *state, const char *id, int64_t size_gb, zn_fault_t *fault)
{
    s_file_t *self = state;
    char path[ZN_VBACKEND_PATH_MAX];
    s_path(self, id, "", path);
    if (strcmp(self->format, "raw") == 0) {
        return s_truncate(path, size_gb, O_CREAT | O_EXCL, fault);
    }
    struct stat st;
    if (stat(path, &st) == 0) {
        return zn_fault_set(fault, -EEXIST, "volume file %s exists", path);
    }
    char size[32];
    (void)snprintf(size, sizeof(size), "%" PRId64 "G", size_gb);
    const char *argv[] = {NULL, "create", "-q", "-f", "qcow2", path, size, NULL};
    return s_qemu_img(self, argv, fault);
}

static int
s_unlink(const char *path, zn_fault_t *fault)
{
    if (unlink(path) < 0 && errno != ENOENT) {
        return zn_fault_set(fault, -errno, "volume file %s: %s", path, strerror(errno));
    }
    return 0;
}

static int
s_remove(void *state, const char *id, zn_fault_t *fault)
{
    s_file_t *self = state;
    char path[ZN_VBACKEND_PATH_MAX];
    s_path(self, id, ".part", path);
    int rc = s_unlink(path, fault);
    if (rc == 0) {
        s_path(self, id, "", path);
        rc = s_unlink(path, fault);
    }
    return rc;
}

/* Grow PATH (of FORMAT) to SIZE_GB. */
static int
s_grow(const s_file_t *self, const char *path, const char *format, int64_t size_gb,
       zn_fault_t *fault)
{
    if (strcmp(format, "raw") == 0) {
        struct stat st;
        if (stat(path, &st) < 0) {
            return zn_fault_set(fault, -errno, "volume file %s: %s", path, strerror(errno));
        }
        if (st.st_size > size_gb * ZN_VBACKEND_GB) {
            return zn_fault_set(fault, -EINVAL, "volume file %s is larger than %" PRId64 " GiB",
                                path, size_gb);
        }
        return s_truncate(path, size_gb, 0, fault);
    }
    char size[32];
    (void)snprintf(size, sizeof(size), "%" PRId64 "G", size_gb);
    const char *argv[] = {NULL, "resize", "-q", "-f", "qcow2", path, size, NULL};
    return s_qemu_img(self, argv, fault);
}

static int
s_extend(void *state, const char *id, int64_t size_gb, zn_fault_t *fault)
{
    s_file_t *self = state;
    char path[ZN_VBACKEND_PATH_MAX];
    s_path(self, id, "", path);
    return s_grow(self, path, self->format, size_gb, fault);
}

static int
s_connection(void *state, const char *id, zn_vbackend_conn_t *out, zn_fault_t *fault)
{
    (void)fault;
    s_file_t *self = state;
    (void)snprintf(out->driver, sizeof(out->driver), "file");
    s_path(self, id, "", out->path);
    (void)snprintf(out->format, sizeof(out->format), "%s", self->format);
    return 0;
}

static int
s_import_write(void *state, const char *id, uint64_t offset, const void *data, size_t len,
               zn_fault_t *fault)
{
    s_file_t *self = state;
    char path[ZN_VBACKEND_PATH_MAX];
    s_path(self, id, ".part", path);
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        return zn_fault_set(fault, -errno, "staging file %s: %s", path, strerror(errno));
    }
    int rc = 0;
    size_t done = 0;
    while (rc == 0 && done < len) {
        ssize_t n = pwrite(fd, (const char *)data + done, len - done, (off_t)(offset + done));
        if (n < 0 && errno != EINTR) {
            rc = zn_fault_set(fault, -errno, "staging file %s: %s", path, strerror(errno));
        }
        done += n > 0 ? (size_t)n : 0;
    }
    (void)close(fd);
    return rc;
}

/* qemu-img's name for an image's disk_format; NULL when zinc does not convert it. */
static const char *
s_qemu_format(const char *disk_format)
{
    static const char *const known[][2] = {
        {"raw", "raw"}, {"qcow2", "qcow2"}, {"vmdk", "vmdk"}, {"vdi", "vdi"}, {"vhd", "vpc"}};
    for (size_t i = 0; disk_format != NULL && i < sizeof(known) / sizeof(known[0]); i++) {
        if (strcmp(disk_format, known[i][0]) == 0) {
            return known[i][1];
        }
    }
    return NULL;
}

static int
s_import_finish(void *state, const char *id, const char *src_format, int64_t size_gb,
                zn_fault_t *fault)
{
    s_file_t *self = state;
    const char *from = s_qemu_format(src_format);
    if (from == NULL) {
        return zn_fault_set(fault, -EINVAL, "image disk_format %s: cannot make a volume of it",
                            src_format != NULL ? src_format : "(none)");
    }
    char part[ZN_VBACKEND_PATH_MAX];
    char path[ZN_VBACKEND_PATH_MAX];
    s_path(self, id, ".part", part);
    s_path(self, id, "", path);
    int rc = 0;
    if (strcmp(from, self->format) == 0 && strcmp(from, "raw") == 0) {
        /* Raw into raw needs no copy: the staged file becomes the volume. */
        if (rename(part, path) < 0) {
            rc = zn_fault_set(fault, -errno, "volume file %s: %s", path, strerror(errno));
        }
    } else {
        const char *argv[] = {NULL, "convert",    "-q", "-f", from,
                              "-O", self->format, part, path, NULL};
        rc = s_qemu_img(self, argv, fault);
        (void)unlink(part);
    }
    if (rc == 0) {
        rc = s_grow(self, path, self->format, size_gb, fault);
    }
    return rc;
}

const zn_vbackend_driver_t zn_vbackend_file_driver = {
    .name = "file",
    .open = s_open,
    .close = s_close,
    .create = s_create,
    .remove = s_remove,
    .extend = s_extend,
    .connection = s_connection,
    .import_write = s_import_write,
    .import_finish = s_import_finish,
};
