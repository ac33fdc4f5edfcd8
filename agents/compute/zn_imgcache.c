/* SPDX-License-Identifier: Apache-2.0 */
/* zn_imgcache.c - the content-addressed image cache. */
#include "zn_imgcache.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zn_fs.h"
#include "zn_mem.h"

#define S_TMP_PREFIX     "tmp."
#define S_TMP_MAX_AGE_MS (3600LL * 1000)
#define S_EVICT_MAX      4096

struct zn_imgcache {
    char *dir;
    int64_t max_bytes;
    int64_t max_age_ms;
};

struct zn_imgcache_sink {
    int fd;
    int64_t offset;
    int64_t limit; /* -1: none */
    EVP_MD_CTX *md5;
    EVP_MD_CTX *sha512;
};

int
zn_imgcache_sink_write(zn_imgcache_sink_t *sink, const void *ptr, size_t len)
{
    if (sink->limit >= 0 && sink->offset + (int64_t)len > sink->limit) {
        return ZN_ETOOBIG;
    }
    const uint8_t *p = ptr;
    size_t left = len;
    while (left > 0) {
        ssize_t n = write(sink->fd, p, left);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -EIO;
        }
        p += n;
        left -= (size_t)n;
    }
    (void)EVP_DigestUpdate(sink->md5, ptr, len);
    (void)EVP_DigestUpdate(sink->sha512, ptr, len);
    sink->offset += (int64_t)len;
    return 0;
}

int64_t
zn_imgcache_sink_offset(const zn_imgcache_sink_t *sink)
{
    return sink->offset;
}

int
zn_imgcache_open(zn_imgcache_t **out, const char *dir, int64_t max_bytes, int64_t max_age_ms,
                 zn_fault_t *fault)
{
    *out = NULL;
    int rc = zn_fs_mkdir_p(dir, 0750);
    if (rc < 0) {
        return zn_fault_set(fault, rc, "image cache %s: %s", dir, zn_strerror(rc));
    }
    zn_imgcache_t *self = zn_calloc(1, sizeof(*self));
    self->dir = zn_strdup(dir);
    self->max_bytes = max_bytes;
    self->max_age_ms = max_age_ms;
    *out = self;
    return 0;
}

void
zn_imgcache_destroy(zn_imgcache_t **self_p)
{
    zn_imgcache_t *self = *self_p;
    if (self == NULL) {
        return;
    }
    zn_free(self->dir);
    zn_free(self);
    *self_p = NULL;
}

static bool
s_is_hex(const char *text, size_t len)
{
    if (text == NULL || strlen(text) != len) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (!isxdigit((unsigned char)text[i])) {
            return false;
        }
    }
    return true;
}

/* The entry's name: the sha512 when known (collisions are out of reach), else the md5. Lower
 * case, so one image has one name whatever case its metadata uses. */
static int
s_key(const zn_imgcache_want_t *want, char *key, size_t cap, zn_fault_t *fault)
{
    bool sha = s_is_hex(want->sha512, ZN_IMGCACHE_SHA512_HEX);
    bool md5 = s_is_hex(want->md5, ZN_IMGCACHE_MD5_HEX);
    if ((want->sha512 != NULL && !sha) || (want->md5 != NULL && !md5) || (!sha && !md5)) {
        return zn_fault_set(fault, -EINVAL, "image %s has no usable checksum", want->image_id);
    }
    (void)snprintf(key, cap, "%s", sha ? want->sha512 : want->md5);
    for (char *p = key; *p != '\0'; p++) {
        *p = (char)tolower((unsigned char)*p);
    }
    return 0;
}

static void
s_hex(const unsigned char *digest, unsigned len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[digest[i] >> 4];
        out[2 * i + 1] = digits[digest[i] & 15];
    }
    out[(size_t)2 * len] = '\0';
}

static int
s_verify(const zn_imgcache_want_t *want, zn_imgcache_sink_t *sink, zn_fault_t *fault)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    char md5[2 * EVP_MAX_MD_SIZE + 1];
    char sha[2 * EVP_MAX_MD_SIZE + 1];
    (void)EVP_DigestFinal_ex(sink->md5, digest, &len);
    s_hex(digest, len, md5);
    (void)EVP_DigestFinal_ex(sink->sha512, digest, &len);
    s_hex(digest, len, sha);
    if (want->md5 != NULL && strcasecmp(want->md5, md5) != 0) {
        return zn_fault_set(fault, -EBADMSG, "image %s: checksum mismatch (md5 %s, expected %s)",
                            want->image_id, md5, want->md5);
    }
    if (want->sha512 != NULL && strcasecmp(want->sha512, sha) != 0) {
        return zn_fault_set(fault, -EBADMSG,
                            "image %s: checksum mismatch (sha512 %.16s..., "
                            "expected %.16s...)",
                            want->image_id, sha, want->sha512);
    }
    if (want->size >= 0 && sink->offset != want->size) {
        return zn_fault_set(fault, -EBADMSG, "image %s: size %lld, expected %lld", want->image_id,
                            (long long)sink->offset, (long long)want->size);
    }
    return 0;
}

/* Download into a temporary file next to the entry, verify, then rename into place: the entry
 * name only ever holds verified bytes. */
static int
s_download(const zn_imgcache_t *self, const zn_imgcache_want_t *want, const char *path,
           zn_imgcache_fetch_fn *fetch, void *arg, zn_fault_t *fault)
{
    char *tmp = zn_asprintf("%s/" S_TMP_PREFIX "XXXXXX", self->dir);
    zn_imgcache_sink_t sink = {.fd = mkostemp(tmp, O_CLOEXEC), .limit = want->size};
    if (sink.fd < 0) {
        int rc =
            zn_fault_set(fault, -EIO, "image cache: cannot create %s: %s", tmp, strerror(errno));
        zn_str_free(&tmp);
        return rc;
    }
    sink.md5 = EVP_MD_CTX_new();
    sink.sha512 = EVP_MD_CTX_new();
    (void)EVP_DigestInit_ex(sink.md5, EVP_md5(), NULL);
    (void)EVP_DigestInit_ex(sink.sha512, EVP_sha512(), NULL);
    int rc = fetch(arg, &sink, fault);
    if (rc == 0) {
        rc = s_verify(want, &sink, fault);
    }
    if (rc == 0 && (fsync(sink.fd) < 0 || rename(tmp, path) < 0)) {
        rc = zn_fault_set(fault, -EIO, "image cache: cannot store %s: %s", path, strerror(errno));
    }
    close(sink.fd);
    if (rc < 0) {
        (void)unlink(tmp);
    }
    EVP_MD_CTX_free(sink.md5);
    EVP_MD_CTX_free(sink.sha512);
    zn_str_free(&tmp);
    return rc;
}

static int
s_link(const char *entry, const char *link_path, zn_fault_t *fault)
{
    (void)unlink(link_path);
    if (link(entry, link_path) < 0) {
        return zn_fault_set(fault, -EIO, "image cache: cannot link %s: %s", link_path,
                            strerror(errno));
    }
    return 0;
}

int
zn_imgcache_get(zn_imgcache_t *self, const zn_imgcache_want_t *want, zn_imgcache_fetch_fn *fetch,
                void *arg, const char *link_path, bool *fetched, zn_fault_t *fault)
{
    if (fetched != NULL) {
        *fetched = false;
    }
    char key[ZN_IMGCACHE_SHA512_HEX + 1];
    int rc = s_key(want, key, sizeof(key), fault);
    if (rc < 0) {
        return rc;
    }
    char *entry = zn_asprintf("%s/%s", self->dir, key);
    char *lock_path = zn_asprintf("%s/%s.lock", self->dir, key);
    int lock = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    /* Whoever holds the lock downloads; the others wait, then find the entry in place. */
    if (lock < 0 || flock(lock, LOCK_EX) < 0) {
        rc = zn_fault_set(fault, -EIO, "image cache: cannot lock %s: %s", lock_path,
                          strerror(errno));
    } else if (access(entry, R_OK) == 0) {
        (void)utimensat(AT_FDCWD, entry, NULL, 0); /* recently used: evicted last */
    } else {
        rc = s_download(self, want, entry, fetch, arg, fault);
        if (rc == 0 && fetched != NULL) {
            *fetched = true;
        }
    }
    if (rc == 0) {
        rc = s_link(entry, link_path, fault);
    }
    if (lock >= 0) {
        close(lock); /* releases the flock */
    }
    zn_str_free(&lock_path);
    zn_str_free(&entry);
    return rc;
}

typedef struct {
    char *name;
    int64_t mtime_ms;
    int64_t bytes;
    bool in_use;
} s_entry_t;

static int
s_by_age(const void *a, const void *b)
{
    const s_entry_t *x = a;
    const s_entry_t *y = b;
    return (x->mtime_ms > y->mtime_ms) - (x->mtime_ms < y->mtime_ms);
}

/* Read the cache's entries (and drop stale temporary files) into a new array. */
static size_t
s_scan(const zn_imgcache_t *self, int64_t now_wall_ms, s_entry_t **out)
{
    *out = zn_calloc(S_EVICT_MAX, sizeof(**out));
    size_t count = 0;
    DIR *dir = opendir(self->dir);
    if (dir == NULL) {
        return 0;
    }
    struct dirent *ent;
    while ((ent = readdir(dir)) != NULL && count < S_EVICT_MAX) {
        struct stat st;
        if (fstatat(dirfd(dir), ent->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode)) {
            continue;
        }
        int64_t mtime_ms = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
        if (strncmp(ent->d_name, S_TMP_PREFIX, strlen(S_TMP_PREFIX)) == 0) {
            if (now_wall_ms - mtime_ms > S_TMP_MAX_AGE_MS) {
                (void)unlinkat(dirfd(dir), ent->d_name, 0);
            }
            continue;
        }
        if (strchr(ent->d_name, '.') != NULL) {
            continue; /* lock files */
        }
        (*out)[count++] =
            (s_entry_t){zn_strdup(ent->d_name), mtime_ms, (int64_t)st.st_size, st.st_nlink > 1};
    }
    closedir(dir);
    return count;
}

/* Remove entry NAME unless a build holds its lock right now (it is about to link it). */
static bool
s_remove(const zn_imgcache_t *self, const char *name)
{
    char *path = zn_asprintf("%s/%s", self->dir, name);
    char *lock_path = zn_asprintf("%s.lock", path);
    int lock = open(lock_path, O_RDWR | O_CLOEXEC);
    bool removed = false;
    if (lock < 0 || flock(lock, LOCK_EX | LOCK_NB) == 0) {
        struct stat st;
        /* Looked at again under the lock: a build may have linked it since the scan. */
        if (stat(path, &st) == 0 && st.st_nlink == 1) {
            removed = unlink(path) == 0;
        }
    }
    if (lock >= 0) {
        close(lock);
    }
    zn_str_free(&lock_path);
    zn_str_free(&path);
    return removed;
}

int
zn_imgcache_evict(zn_imgcache_t *self, int64_t now_wall_ms)
{
    s_entry_t *entries = NULL;
    size_t count = s_scan(self, now_wall_ms, &entries);
    qsort(entries, count, sizeof(*entries), s_by_age);
    int64_t total = 0;
    for (size_t i = 0; i < count; i++) {
        total += entries[i].bytes;
    }
    int removed = 0;
    for (size_t i = 0; i < count; i++) {
        s_entry_t *e = &entries[i];
        bool too_old = self->max_age_ms > 0 && now_wall_ms - e->mtime_ms > self->max_age_ms;
        bool too_big = self->max_bytes > 0 && total > self->max_bytes;
        if (!e->in_use && (too_old || too_big) && s_remove(self, e->name)) {
            total -= e->bytes;
            removed++;
        }
        zn_free(e->name);
    }
    zn_free(entries);
    return removed;
}

int64_t
zn_imgcache_size_bytes(const zn_imgcache_t *self)
{
    s_entry_t *entries = NULL;
    size_t count = s_scan(self, 0, &entries);
    int64_t total = 0;
    for (size_t i = 0; i < count; i++) {
        total += entries[i].bytes;
        zn_free(entries[i].name);
    }
    zn_free(entries);
    return total;
}

const char *
zn_imgcache_dir(const zn_imgcache_t *self)
{
    return self->dir;
}
