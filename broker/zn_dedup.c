/* SPDX-License-Identifier: Apache-2.0 */
/* zn_dedup.c - a ring of entries in insertion order, indexed by a chained hash on the id. */
#include "zn_dedup.h"

#include <string.h>

#include "zn_mem.h"

#define S_NONE UINT32_MAX

typedef struct {
    zn_msgid_t id;
    int64_t seen_ms;
    uint32_t next; /* next entry in the same hash chain */
    bool used;
    bool answered;
    uint8_t *reply;
    size_t reply_len;
} s_entry_t;

struct zn_dedup {
    s_entry_t *ring;
    uint32_t *buckets;
    uint32_t mask;
    uint32_t head; /* the oldest entry */
    uint32_t count;
    int64_t window_ms;
};

zn_dedup_t *
zn_dedup_new(size_t capacity, int64_t window_ms)
{
    uint32_t cap = 16;
    while (cap < capacity && cap < (1u << 24)) {
        cap <<= 1;
    }
    zn_dedup_t *self = zn_calloc(1, sizeof(*self));
    self->ring = zn_calloc(cap, sizeof(*self->ring));
    self->buckets = zn_malloc(cap * sizeof(*self->buckets));
    memset(self->buckets, 0xff, cap * sizeof(*self->buckets));
    self->mask = cap - 1;
    self->window_ms = window_ms;
    return self;
}

void
zn_dedup_destroy(zn_dedup_t **self_p)
{
    zn_dedup_t *self = *self_p;
    if (self == NULL) {
        return;
    }
    for (uint32_t i = 0; i <= self->mask; i++) {
        zn_free(self->ring[i].reply);
    }
    zn_free(self->ring);
    zn_free(self->buckets);
    zn_free(self);
    *self_p = NULL;
}

static uint32_t
s_hash(const zn_dedup_t *self, const zn_msgid_t *id)
{
    /* The first half of an id is constant per sender: mix both halves. */
    uint64_t a;
    uint64_t b;
    memcpy(&a, id->bytes, sizeof(a));
    memcpy(&b, id->bytes + 8, sizeof(b));
    return (uint32_t)(((a ^ b) * 0x9E3779B97F4A7C15ULL) >> 32) & self->mask;
}

static uint32_t
s_find(const zn_dedup_t *self, const zn_msgid_t *id)
{
    for (uint32_t i = self->buckets[s_hash(self, id)]; i != S_NONE; i = self->ring[i].next) {
        if (memcmp(self->ring[i].id.bytes, id->bytes, sizeof(id->bytes)) == 0) {
            return i;
        }
    }
    return S_NONE;
}

static void
s_unlink(zn_dedup_t *self, uint32_t index)
{
    s_entry_t *e = &self->ring[index];
    uint32_t *link = &self->buckets[s_hash(self, &e->id)];
    while (*link != index) {
        link = &self->ring[*link].next;
    }
    *link = e->next;
    zn_free(e->reply);
    memset(e, 0, sizeof(*e));
}

/* Drop the oldest slot: an entry, or a hole that zn_dedup_forget left. */
static void
s_pop_oldest(zn_dedup_t *self)
{
    if (self->ring[self->head].used) {
        s_unlink(self, self->head);
    }
    self->head = (self->head + 1) & self->mask;
    self->count--;
}

/* Drop entries older than the window; also skips holes left by zn_dedup_forget. */
static void
s_expire(zn_dedup_t *self, int64_t now_ms)
{
    while (self->count > 0) {
        s_entry_t *e = &self->ring[self->head];
        if (e->used && now_ms - e->seen_ms < self->window_ms) {
            return;
        }
        s_pop_oldest(self);
    }
}

zn_dedup_state_t
zn_dedup_check(zn_dedup_t *self, const zn_msgid_t *id, int64_t now_ms, zn_buf_t *reply)
{
    s_expire(self, now_ms);
    uint32_t found = s_find(self, id);
    if (found != S_NONE) {
        s_entry_t *e = &self->ring[found];
        if (!e->answered) {
            return ZN_DEDUP_IN_PROGRESS;
        }
        reply->ptr = e->reply;
        reply->len = e->reply_len;
        return ZN_DEDUP_ANSWERED;
    }
    if (self->count == self->mask + 1) {
        s_pop_oldest(self);
    }
    uint32_t index = (self->head + self->count) & self->mask;
    s_entry_t *e = &self->ring[index];
    e->id = *id;
    e->seen_ms = now_ms;
    e->used = true;
    uint32_t *bucket = &self->buckets[s_hash(self, id)];
    e->next = *bucket;
    *bucket = index;
    self->count++;
    return ZN_DEDUP_NEW;
}

void
zn_dedup_answer(zn_dedup_t *self, const zn_msgid_t *id, zn_buf_t reply)
{
    uint32_t found = s_find(self, id);
    if (found == S_NONE) {
        return;
    }
    s_entry_t *e = &self->ring[found];
    zn_free(e->reply);
    e->reply = zn_malloc(reply.len);
    if (reply.len > 0) {
        memcpy(e->reply, reply.ptr, reply.len);
    }
    e->reply_len = reply.len;
    e->answered = true;
}

void
zn_dedup_forget(zn_dedup_t *self, const zn_msgid_t *id)
{
    uint32_t found = s_find(self, id);
    if (found != S_NONE) {
        /* The slot stays a hole in the ring until it becomes the oldest. */
        s_unlink(self, found);
    }
}

size_t
zn_dedup_count(const zn_dedup_t *self)
{
    return self->count;
}
