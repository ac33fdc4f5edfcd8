/* SPDX-License-Identifier: Apache-2.0 */
/* zn_tokenkeys.c - numbered key files: read, write atomically, rotate. */
#include "zn_tokenkeys.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "zn_fs.h"
#include "zn_mem.h"

#define S_B64_LEN sodium_base64_ENCODED_LEN(ZN_TOKENKEY_BYTES, sodium_base64_VARIANT_URLSAFE)

struct zn_tokenkeys {
    char *dir;
    struct timespec mtime;
    uint8_t (*keys)[ZN_TOKENKEY_BYTES]; /* sodium_malloc, try order */
    size_t count;
    int primary;
};

/* The key numbers present in DIR, ascending, into NUMBERS[ZN_TOKENKEYS_MAX]. Returns how many
 * or a negative errno. */
static int
s_list(const char *dir, int *numbers)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        return -errno;
    }
    int count = 0;
    struct dirent *entry = NULL;
    while ((entry = readdir(d)) != NULL && count < ZN_TOKENKEYS_MAX) {
        const char *name = entry->d_name;
        char *end = NULL;
        long number = strtol(name, &end, 10);
        if (name[0] >= '0' && name[0] <= '9' && *end == '\0' && number < 1000000000) {
            numbers[count++] = (int)number;
        }
    }
    closedir(d);
    for (int i = 1; i < count; i++) { /* insertion sort: a handful of files */
        int v = numbers[i];
        int j = i - 1;
        while (j >= 0 && numbers[j] > v) {
            numbers[j + 1] = numbers[j];
            j--;
        }
        numbers[j + 1] = v;
    }
    return count;
}

static int
s_write_key(const char *dir, int number, zn_fault_t *fault)
{
    uint8_t key[ZN_TOKENKEY_BYTES];
    char text[S_B64_LEN];
    randombytes_buf(key, sizeof(key));
    sodium_bin2base64(text, sizeof(text), key, sizeof(key), sodium_base64_VARIANT_URLSAFE);
    sodium_memzero(key, sizeof(key));
    char *tmp = zn_asprintf("%s/.%d.tmp", dir, number);
    char *path = zn_asprintf("%s/%d", dir, number);
    int rc = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    size_t len = strlen(text);
    if (fd < 0 || write(fd, text, len) != (ssize_t)len || fsync(fd) != 0) {
        rc = zn_fault_set(fault, -errno, "token key %s: cannot write: %s", tmp, strerror(errno));
    }
    if (fd >= 0) {
        close(fd);
    }
    if (rc == 0 && rename(tmp, path) != 0) {
        rc = zn_fault_set(fault, -errno, "token key %s: cannot rename: %s", path, strerror(errno));
    }
    sodium_memzero(text, sizeof(text));
    zn_str_free(&tmp);
    zn_str_free(&path);
    return rc;
}

int
zn_tokenkeys_setup(const char *keys_dir, zn_fault_t *fault)
{
    if (sodium_init() < 0) {
        return zn_fault_set(fault, -EIO, "libsodium cannot initialise");
    }
    int made = zn_fs_mkdir_p(keys_dir, 0700);
    if (made < 0) {
        return zn_fault_set(fault, made, "token keys %s: %s", keys_dir, zn_strerror(made));
    }
    int numbers[ZN_TOKENKEYS_MAX];
    int count = s_list(keys_dir, numbers);
    if (count < 0) {
        return zn_fault_set(fault, count, "token keys %s: %s", keys_dir, strerror(-count));
    }
    if (count > 0) {
        return 0;
    }
    int rc = s_write_key(keys_dir, 0, fault);
    return rc < 0 ? rc : zn_tokenkeys_rotate(keys_dir, ZN_TOKENKEYS_MIN_KEEP, fault);
}

int
zn_tokenkeys_rotate(const char *keys_dir, int max_active, zn_fault_t *fault)
{
    int numbers[ZN_TOKENKEYS_MAX];
    int count = s_list(keys_dir, numbers);
    if (count <= 0 || numbers[0] != 0) {
        return zn_fault_set(fault, -ENOENT, "token keys %s: no staged key 0 (run setup)", keys_dir);
    }
    char *from = zn_asprintf("%s/0", keys_dir);
    char *to = zn_asprintf("%s/%d", keys_dir, numbers[count - 1] + 1);
    int rc = rename(from, to) == 0 ? 0 : -errno;
    zn_str_free(&from);
    zn_str_free(&to);
    if (rc < 0) {
        return zn_fault_set(fault, rc, "token keys %s: cannot promote 0: %s", keys_dir,
                            strerror(-rc));
    }
    rc = s_write_key(keys_dir, 0, fault);
    int keep = max_active < ZN_TOKENKEYS_MIN_KEEP ? ZN_TOKENKEYS_MIN_KEEP : max_active;
    /* After the promotion the files are 0, numbers[1..count-1] and the new primary. */
    for (int i = 1; rc == 0 && count + 1 - i >= keep && i < count; i++) {
        char *old = zn_asprintf("%s/%d", keys_dir, numbers[i]);
        if (unlink(old) != 0) {
            rc = zn_fault_set(fault, -errno, "token key %s: %s", old, strerror(errno));
        }
        zn_str_free(&old);
    }
    return rc;
}

static int
s_read_key(const char *dir, int number, uint8_t *key, zn_fault_t *fault)
{
    char *path = zn_asprintf("%s/%d", dir, number);
    char text[S_B64_LEN + 8];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t len = fd >= 0 ? read(fd, text, sizeof(text) - 1) : -1;
    if (fd >= 0) {
        close(fd);
    }
    size_t bin_len = 0;
    int rc = 0;
    if (len <= 0 ||
        sodium_base642bin(key, ZN_TOKENKEY_BYTES, text, (size_t)len, " \n", &bin_len, NULL,
                          sodium_base64_VARIANT_URLSAFE) != 0 ||
        bin_len != ZN_TOKENKEY_BYTES) {
        rc = zn_fault_set(fault, -EBADMSG, "token key %s: unreadable or not a 256-bit key", path);
    }
    sodium_memzero(text, sizeof(text));
    zn_str_free(&path);
    return rc;
}

/* Load every key of SELF->dir into fresh secure memory, replacing the old keys on success. */
static int
s_load(zn_tokenkeys_t *self, zn_fault_t *fault)
{
    struct stat st;
    int numbers[ZN_TOKENKEYS_MAX];
    int count = stat(self->dir, &st) == 0 ? s_list(self->dir, numbers) : -errno;
    if (count <= 1 || numbers[0] != 0) {
        return zn_fault_set(fault, count < 0 ? count : -ENOENT,
                            "token keys %s: need a staged key 0 and a primary", self->dir);
    }
    uint8_t(*keys)[ZN_TOKENKEY_BYTES] = sodium_malloc((size_t)count * ZN_TOKENKEY_BYTES);
    ZN_ASSERT(keys != NULL); /* out of memory aborts, as zn_malloc does */
    int rc = 0;
    /* Try order: primary (highest) first, newer secondaries next, staged 0 last. */
    for (int i = 0; rc == 0 && i < count; i++) {
        int number = i == count - 1 ? 0 : numbers[count - 1 - i];
        rc = s_read_key(self->dir, number, keys[i], fault);
    }
    if (rc < 0) {
        sodium_free(keys);
        return rc;
    }
    sodium_free(self->keys);
    self->keys = keys;
    self->count = (size_t)count;
    self->primary = numbers[count - 1];
    self->mtime = st.st_mtim;
    return 0;
}

int
zn_tokenkeys_open(zn_tokenkeys_t **out, const char *keys_dir, zn_fault_t *fault)
{
    *out = NULL;
    int rc = zn_tokenkeys_setup(keys_dir, fault);
    if (rc < 0) {
        return rc;
    }
    zn_tokenkeys_t *self = zn_calloc(1, sizeof(*self));
    self->dir = zn_strdup(keys_dir);
    rc = s_load(self, fault);
    if (rc < 0) {
        zn_tokenkeys_destroy(&self);
        return rc;
    }
    *out = self;
    return 0;
}

void
zn_tokenkeys_destroy(zn_tokenkeys_t **self_p)
{
    zn_tokenkeys_t *self = *self_p;
    if (self == NULL) {
        return;
    }
    sodium_free(self->keys); /* wipes before freeing */
    zn_free(self->dir);
    zn_free(self);
    *self_p = NULL;
}

int
zn_tokenkeys_refresh(zn_tokenkeys_t *self, zn_fault_t *fault)
{
    struct stat st;
    if (stat(self->dir, &st) != 0) {
        return zn_fault_set(fault, -errno, "token keys %s: %s", self->dir, strerror(errno));
    }
    if (st.st_mtim.tv_sec == self->mtime.tv_sec && st.st_mtim.tv_nsec == self->mtime.tv_nsec) {
        return 0;
    }
    int rc = s_load(self, fault);
    return rc < 0 ? rc : 1;
}

size_t
zn_tokenkeys_count(const zn_tokenkeys_t *self)
{
    return self->count;
}

const uint8_t *
zn_tokenkeys_key(const zn_tokenkeys_t *self, size_t index)
{
    ZN_ASSERT(index < self->count);
    return self->keys[index];
}

int
zn_tokenkeys_primary_number(const zn_tokenkeys_t *self)
{
    return self->primary;
}
