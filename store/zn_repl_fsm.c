/* SPDX-License-Identifier: Apache-2.0 */
/* zn_repl_fsm.c - LMDB as libraft's state machine: entry format, idempotent apply, snapshots. */
#include "zn_repl_fsm.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zn_le_int.h"
#include "zn_log.h"
#include "zn_mem.h"

/* Entry: "ZNR" 0x01 | u32 count | count x (u32 len | batch bytes) | 0..7 zero bytes. libraft
 * 0.15 sends several entries in one message back to back but decodes them at 8-byte-aligned
 * offsets, so every payload is padded to a multiple of 8 bytes. */
#define S_ENTRY_HEADER_BYTES 8u
/* Snapshot: "ZNS" 0x01 | u32 reserved = 0 | u64 applied_seq of the copy | data.mdb bytes. */
#define S_SNAP_HEADER_BYTES 16u

static const uint8_t s_entry_magic[4] = {'Z', 'N', 'R', 1};
static const uint8_t s_snap_magic[4] = {'Z', 'N', 'S', 1};

struct zn_repl_fsm {
    struct raft_fsm fsm; /* fsm.data points back at SELF */
    struct raft *raft;
    zn_store_t *store;
    char *snapshot_dir; /* SCRATCH/snapshot: a copy being taken */
    char *restore_dir;  /* SCRATCH/restore: a snapshot being installed */
    zn_store_entry_t *entries;
    zn_repl_batch_result_t *results;
    size_t cap;
    zn_repl_apply_result_t last;
    zn_repl_fsm_stats_t stats;
};

static int
s_remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Remove DIR and what it holds; a missing DIR is fine. */
static void
s_remove_tree(const char *dir)
{
    (void)nftw(dir, s_remove_one, 8, FTW_DEPTH | FTW_PHYS); /* best effort: leftovers only */
}

static void
s_reserve(zn_repl_fsm_t *self, size_t count)
{
    if (count <= self->cap) {
        return;
    }
    zn_free(self->entries);
    zn_free(self->results);
    self->entries = zn_calloc(count, sizeof(*self->entries));
    self->results = zn_calloc(count, sizeof(*self->results));
    self->cap = count;
}

/* Split the entry payload into ENTRIES[0..*count). -EBADMSG on any inconsistency. */
static int
s_decode(zn_repl_fsm_t *self, const struct raft_buffer *buf, size_t *count)
{
    const uint8_t *p = buf->base;
    size_t left = buf->len;
    if (left < S_ENTRY_HEADER_BYTES || memcmp(p, s_entry_magic, 4) != 0) {
        return -EBADMSG;
    }
    uint32_t n = zn__le_get_u32(p + 4);
    if (n == 0 || n > ZN_REPL_ENTRY_MAX_BATCHES) {
        return -EBADMSG;
    }
    p += S_ENTRY_HEADER_BYTES;
    left -= S_ENTRY_HEADER_BYTES;
    s_reserve(self, n);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t len = left >= 4 ? zn__le_get_u32(p) : UINT32_MAX;
        if (len > left - 4) {
            return -EBADMSG;
        }
        self->entries[i] = (zn_store_entry_t){.batch = {p + 4, len}};
        p += 4 + (size_t)len;
        left -= 4 + (size_t)len;
    }
    *count = n;
    for (size_t i = 0; i < left; i++) {
        if (left >= 8 || p[i] != 0) {
            return -EBADMSG;
        }
    }
    return 0;
}

/* A committed entry that cannot be applied (disk full, I/O error) would leave this node behind
 * the log for good, and libraft 0.15 would go on with the next entry under the wrong index. Stop
 * instead: the supervisor restarts the agent and the entry is replayed from the raft log. */
__attribute__((noreturn)) static void
s_fatal(const zn_repl_fsm_t *self, uint64_t index, const zn_fault_t *fault)
{
    zn_log_error(NULL, "repl cannot apply committed entry index=%llu store_error=%s: %s",
                 (unsigned long long)index, zn_errname(fault->code), zn_fault_message(fault));
    (void)self;
    abort();
}

static int
s_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
    zn_repl_fsm_t *self = fsm->data;
    uint64_t index = (uint64_t)self->raft->last_applied + 1u;
    size_t count = 0;
    self->stats.entries++;
    self->last = (zn_repl_apply_result_t){.entry_rc = s_decode(self, buf, &count)};
    *result = &self->last;
    if (self->last.entry_rc < 0) {
        zn_log_warn(NULL, "repl malformed entry index=%llu len=%zu", (unsigned long long)index,
                    buf->len);
        return 0; /* every node decodes the same bytes the same way: nothing changes anywhere */
    }
    for (size_t i = 0; i < count; i++) {
        self->entries[i].applied_seq = (index << ZN_REPL_SEQ_SHIFT) | i;
        self->entries[i].fault = &self->results[i].fault;
    }
    zn_fault_t fault;
    zn_fault_clear(&fault);
    if (zn_store_apply_many(self->store, self->entries, count, &fault) < 0) {
        s_fatal(self, index, &fault);
    }
    for (size_t i = 0; i < count; i++) {
        self->results[i].rc = self->entries[i].rc;
    }
    self->last.count = count;
    self->last.batches = self->results;
    return 0;
}

static int
s_read_file(const char *path, size_t header, struct raft_buffer *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        int rc = -errno;
        if (fd >= 0) {
            close(fd);
        }
        return rc;
    }
    size_t size = (size_t)st.st_size;
    uint8_t *data = raft_malloc(header + size);
    ZN_ASSERT(data != NULL);
    size_t done = 0;
    while (done < size) {
        ssize_t n = read(fd, data + header + done, size - done);
        if (n <= 0 && !(n < 0 && errno == EINTR)) {
            close(fd);
            raft_free(data);
            return n < 0 ? -errno : -EIO;
        }
        done += n > 0 ? (size_t)n : 0;
    }
    close(fd);
    *out = (struct raft_buffer){data, header + size};
    return 0;
}

/* Runs on the loop thread between two applies, so the copy's applied_seq is the live one. */
static int
s_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
    zn_repl_fsm_t *self = fsm->data;
    zn_fault_t fault;
    uint64_t seq = 0;
    s_remove_tree(self->snapshot_dir);
    int rc = zn_store_applied_seq(self->store, &seq);
    if (rc == 0) {
        rc = zn_store_backup(self->store, self->snapshot_dir, &fault);
    }
    struct raft_buffer data = {NULL, 0};
    if (rc == 0) {
        char *path = zn_asprintf("%s/data.mdb", self->snapshot_dir);
        rc = s_read_file(path, S_SNAP_HEADER_BYTES, &data);
        zn_str_free(&path);
    }
    s_remove_tree(self->snapshot_dir);
    if (rc < 0) {
        zn_log_warn(NULL, "repl snapshot failed: %s", zn_strerror(rc));
        return RAFT_IOERR;
    }
    uint8_t *header = data.base;
    memcpy(header, s_snap_magic, 4);
    zn__le_put_u32(header + 4, 0);
    zn__le_put_u64(header + 8, seq);
    *bufs = raft_malloc(sizeof(**bufs));
    ZN_ASSERT(*bufs != NULL);
    (*bufs)[0] = data;
    *n_bufs = 1;
    self->stats.snapshots++;
    return 0;
}

static int
s_write_file(const char *path, const uint8_t *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) {
        return -errno;
    }
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            int rc = -errno;
            close(fd);
            return rc;
        }
        data += n;
        len -= (size_t)n;
    }
    return close(fd) < 0 ? -errno : 0;
}

/* Write the snapshot's data file out and swap it into the live store in one transaction. */
static int
s_install(zn_repl_fsm_t *self, const uint8_t *data, size_t len)
{
    s_remove_tree(self->restore_dir);
    if (mkdir(self->restore_dir, 0750) < 0) {
        return -errno;
    }
    char *path = zn_asprintf("%s/data.mdb", self->restore_dir);
    int rc = s_write_file(path, data, len);
    zn_str_free(&path);
    zn_fault_t fault;
    if (rc == 0) {
        rc = zn_store_replace(self->store, self->restore_dir, &fault);
        if (rc < 0) {
            zn_log_error(NULL, "repl snapshot install failed: %s", zn_fault_message(&fault));
        }
    }
    s_remove_tree(self->restore_dir);
    return rc;
}

/* libraft restores the last snapshot at every start, then replays the entries after it. When
 * the store already holds that snapshot's state (or later committed state) it is kept: the
 * replayed entries are skipped by their applied_seq. */
static int
s_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
    zn_repl_fsm_t *self = fsm->data;
    const uint8_t *p = buf->base;
    if (buf->len < S_SNAP_HEADER_BYTES || memcmp(p, s_snap_magic, 4) != 0) {
        return RAFT_MALFORMED;
    }
    uint64_t snap_seq = zn__le_get_u64(p + 8);
    uint64_t local_seq = 0;
    int rc = zn_store_applied_seq(self->store, &local_seq);
    if (rc == 0 && local_seq >= snap_seq) {
        self->stats.skipped_restores++;
    } else if (rc == 0) {
        rc = s_install(self, p + S_SNAP_HEADER_BYTES, buf->len - S_SNAP_HEADER_BYTES);
        self->stats.installs += rc == 0 ? 1u : 0u;
    }
    if (rc < 0) {
        return RAFT_IOERR;
    }
    zn_log_notice(NULL, "repl snapshot restored seq=%llu local_seq=%llu installed=%s",
                  (unsigned long long)snap_seq, (unsigned long long)local_seq,
                  local_seq >= snap_seq ? "no" : "yes");
    raft_free(buf->base); /* on success the buffer is ours */
    return 0;
}

int
zn_repl_fsm_open(zn_repl_fsm_t **out, zn_store_t *store, const char *scratch_dir, zn_fault_t *fault)
{
    *out = NULL;
    if (mkdir(scratch_dir, 0750) < 0 && errno != EEXIST) {
        return zn_fault_set(fault, -errno, "repl scratch dir %s: %s", scratch_dir, strerror(errno));
    }
    zn_repl_fsm_t *self = zn_calloc(1, sizeof(*self));
    self->store = store;
    self->snapshot_dir = zn_asprintf("%s/snapshot", scratch_dir);
    self->restore_dir = zn_asprintf("%s/restore", scratch_dir);
    self->fsm = (struct raft_fsm){
        .version = 1, .data = self, .apply = s_apply, .snapshot = s_snapshot, .restore = s_restore};
    *out = self;
    return 0;
}

void
zn_repl_fsm_destroy(zn_repl_fsm_t **self_p)
{
    zn_repl_fsm_t *self = *self_p;
    if (self == NULL) {
        return;
    }
    zn_free(self->entries);
    zn_free(self->results);
    zn_str_free(&self->snapshot_dir);
    zn_str_free(&self->restore_dir);
    zn_free(self);
    *self_p = NULL;
}

struct raft_fsm *
zn_repl_fsm_raft(zn_repl_fsm_t *self)
{
    return &self->fsm;
}

void
zn_repl_fsm_bind(zn_repl_fsm_t *self, struct raft *raft)
{
    self->raft = raft;
}

zn_repl_fsm_stats_t
zn_repl_fsm_stats(const zn_repl_fsm_t *self)
{
    return self->stats;
}

int
zn_repl_entry_encode(const zn_buf_t *batches, size_t count, struct raft_buffer *out)
{
    if (count == 0 || count > ZN_REPL_ENTRY_MAX_BATCHES) {
        return -EINVAL;
    }
    size_t len = S_ENTRY_HEADER_BYTES;
    for (size_t i = 0; i < count; i++) {
        len += 4 + batches[i].len;
        if (batches[i].len > ZN_BATCH_MAX_BYTES || len > ZN_REPL_ENTRY_MAX_BYTES) {
            return ZN_ETOOBIG;
        }
    }
    size_t padded = (len + 7u) & ~(size_t)7u;
    uint8_t *p = raft_calloc(1, padded);
    ZN_ASSERT(p != NULL);
    *out = (struct raft_buffer){p, padded};
    memcpy(p, s_entry_magic, 4);
    zn__le_put_u32(p + 4, (uint32_t)count);
    p += S_ENTRY_HEADER_BYTES;
    for (size_t i = 0; i < count; i++) {
        zn__le_put_u32(p, (uint32_t)batches[i].len);
        if (batches[i].len > 0) {
            memcpy(p + 4, batches[i].ptr, batches[i].len);
        }
        p += 4 + batches[i].len;
    }
    return 0;
}
