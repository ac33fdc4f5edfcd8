/* SPDX-License-Identifier: Apache-2.0 */
/* zn_imghash.c - md5 and sha512 of uploads on two hasher threads, reading the written file. */
#include "zn_imghash.h"

#include <errno.h>
#include <openssl/evp.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <czmq.h>
#include <sodium.h>

#include "zn_mem.h"

#define S_HASHERS 2 /* [0] md5, [1] sha512 */

struct zn_imghash {
    zactor_t *hashers[S_HASHERS];
    /* Spans handed to each hasher and answers taken back: the hashers answer in order, so a
     * job's spans are done once done[i] reaches its last[i]. */
    uint64_t sent[S_HASHERS];
    uint64_t done[S_HASHERS];
};

struct zn_imghash_job {
    int fd;
    uint64_t queued; /* bytes handed over so far */
    uint64_t last[S_HASHERS];
    EVP_MD_CTX *ctx[S_HASHERS];
    int err[S_HASHERS]; /* written by the hasher before it answers, read after */
};

/* Digest LEN bytes of FD at OFFSET through a read-only mapping: the bytes are in the page
 * cache, just written, and a mapping reads them without copying them once more. */
static int
s_digest_range(EVP_MD_CTX *ctx, int fd, uint64_t offset, uint64_t len)
{
    long page = sysconf(_SC_PAGESIZE);
    uint64_t start = offset - offset % (uint64_t)page;
    size_t map_len = (size_t)(offset - start + len);
    void *map = mmap(NULL, map_len, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, (off_t)start);
    if (map == MAP_FAILED) {
        return -errno;
    }
    int rc =
        EVP_DigestUpdate(ctx, (const uint8_t *)map + (offset - start), (size_t)len) == 1 ? 0 : -EIO;
    (void)munmap(map, map_len);
    return rc;
}

static void
s_hasher(zsock_t *pipe, void *arg)
{
    (void)arg;
    zsock_signal(pipe, 0);
    for (;;) {
        char *command = NULL;
        void *ctx = NULL;
        int *err = NULL;
        int fd = -1;
        uint64_t offset = 0;
        uint64_t len = 0;
        if (zsock_recv(pipe, "sppi88", &command, &ctx, &err, &fd, &offset, &len) < 0) {
            break;
        }
        bool hash = command != NULL && strcmp(command, "HASH") == 0;
        zstr_free(&command);
        if (!hash) {
            break; /* $TERM */
        }
        if (*err == 0) {
            *err = s_digest_range(ctx, fd, offset, len);
        }
        zsock_signal(pipe, 0);
    }
}

zn_imghash_t *
zn_imghash_new(void)
{
    zn_imghash_t *self = zn_calloc(1, sizeof(*self));
    for (size_t i = 0; i < S_HASHERS; i++) {
        self->hashers[i] = zactor_new(s_hasher, NULL);
        ZN_ASSERT(self->hashers[i] != NULL); /* only fails on out-of-memory */
    }
    return self;
}

void
zn_imghash_destroy(zn_imghash_t **self_p)
{
    zn_imghash_t *self = *self_p;
    if (self == NULL) {
        return;
    }
    for (size_t i = 0; i < S_HASHERS; i++) {
        zactor_destroy(&self->hashers[i]);
    }
    zn_free(self);
    *self_p = NULL;
}

zn_imghash_job_t *
zn_imghash_job_new(zn_imghash_t *self, int fd)
{
    zn_imghash_job_t *job = zn_calloc(1, sizeof(*job));
    job->fd = fd;
    const EVP_MD *mds[S_HASHERS] = {EVP_md5(), EVP_sha512()};
    for (size_t i = 0; i < S_HASHERS; i++) {
        job->ctx[i] = EVP_MD_CTX_new();
        ZN_ASSERT(job->ctx[i] != NULL); /* only fails on out-of-memory */
        (void)EVP_DigestInit_ex(job->ctx[i], mds[i], NULL);
        job->last[i] = self->done[i]; /* nothing in flight yet */
    }
    return job;
}

/* Take one answer from hasher I, waiting for it. A signal only interrupts the wait: the hasher
 * may still be reading the job's file, which must outlive it, so wait again. */
static void
s_take(zn_imghash_t *self, size_t i)
{
    while (zsock_wait(self->hashers[i]) < 0 && errno == EINTR) {
        continue;
    }
    self->done[i]++;
}

/* Take every answer already there, without waiting. */
static void
s_take_ready(zn_imghash_t *self, size_t i)
{
    while (self->done[i] < self->sent[i] &&
           (zsock_events(self->hashers[i]) & ZMQ_POLLIN) == ZMQ_POLLIN) {
        s_take(self, i);
    }
}

static void
s_hand_over(zn_imghash_t *self, zn_imghash_job_t *job, uint64_t offset, uint64_t len)
{
    for (size_t i = 0; i < S_HASHERS; i++) {
        s_take_ready(self, i);
        while (self->sent[i] - self->done[i] >= ZN_IMGHASH_LAG_SPANS) {
            s_take(self, i);
        }
        if (zsock_send(self->hashers[i], "sppi88", "HASH", job->ctx[i], &job->err[i], job->fd,
                       offset, len) == 0) {
            job->last[i] = ++self->sent[i];
        } else if (job->err[i] == 0) {
            job->err[i] = s_digest_range(job->ctx[i], job->fd, offset, len); /* no hasher */
        }
    }
}

void
zn_imghash_job_feed(zn_imghash_t *self, zn_imghash_job_t *job, uint64_t written, bool final)
{
    while (written - job->queued >= ZN_IMGHASH_SPAN_BYTES || (final && written > job->queued)) {
        uint64_t len = written - job->queued;
        len = len > ZN_IMGHASH_SPAN_BYTES ? ZN_IMGHASH_SPAN_BYTES : len;
        s_hand_over(self, job, job->queued, len);
        job->queued += len;
    }
}

static void
s_wait(zn_imghash_t *self, const zn_imghash_job_t *job)
{
    for (size_t i = 0; i < S_HASHERS; i++) {
        while (self->done[i] < job->last[i]) {
            s_take(self, i);
        }
    }
}

/* The digest in hex into OUT, which holds 2 * its size + 1 bytes. */
static void
s_hex(EVP_MD_CTX *ctx, char *out)
{
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    if (EVP_DigestFinal_ex(ctx, digest, &len) != 1) {
        len = 0;
    }
    (void)sodium_bin2hex(out, (size_t)2 * len + 1, digest, len);
}

int
zn_imghash_job_finish(zn_imghash_t *self, zn_imghash_job_t *job, char *md5, char *sha512)
{
    s_wait(self, job);
    md5[0] = '\0';
    sha512[0] = '\0';
    int rc = job->err[0] != 0 ? job->err[0] : job->err[1];
    if (rc == 0) {
        s_hex(job->ctx[0], md5);
        s_hex(job->ctx[1], sha512);
    }
    return rc;
}

void
zn_imghash_job_destroy(zn_imghash_t *self, zn_imghash_job_t **job_p)
{
    zn_imghash_job_t *job = *job_p;
    if (job == NULL) {
        return;
    }
    s_wait(self, job);
    for (size_t i = 0; i < S_HASHERS; i++) {
        EVP_MD_CTX_free(job->ctx[i]);
    }
    zn_free(job);
    *job_p = NULL;
}
