/* SPDX-License-Identifier: Apache-2.0 */
/* zn_dedup.c - recently seen ids: entries in a ring in arrival order (the oldest is evicted
 * first), found through an open-addressing index of 8-byte slots.
 *
 * Every message passes through here, so the layout is about cache misses: a slot holds a 32-bit
 * fingerprint of the id and the entry's ring position, eight slots to a cache line, probed
 * linearly. A new id costs one slot line and a sequential ring write; evicting the oldest costs
 * one more slot line. Deletion shifts the following cluster back, so there are no tombstones. */
#include "zn_dedup.h"

#include <string.h>

#include "zn_mem.h"

#define S_EMPTY UINT32_MAX

typedef struct {
    uint32_t fingerprint;
    uint32_t position; /* ring index, S_EMPTY for a free slot */
} s_slot_t;

typedef struct {
    zn_msgid_t id;
    int64_t seen_ms;
    uint8_t *reply; /* calls only: the answer sent, for a retry */
    uint32_t reply_len;
    bool used; /* false for a hole left by zn_dedup_forget */
    bool answered;
} s_entry_t;

struct zn_dedup {
    s_entry_t *ring;
    uint32_t ring_mask;
    uint32_t head; /* the oldest entry */
    uint32_t count;
    s_slot_t *slots;
    uint32_t slot_mask; /* twice the ring: probes stay short */
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
    self->ring_mask = cap - 1;
    self->slots = zn_malloc(2 * (size_t)cap * sizeof(*self->slots));
    memset(self->slots, 0xff, 2 * (size_t)cap * sizeof(*self->slots));
    self->slot_mask = 2 * cap - 1;
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
    for (uint32_t i = 0; i <= self->ring_mask; i++) {
        zn_free(self->ring[i].reply);
    }
    zn_free(self->ring);
    zn_free(self->slots);
    zn_free(self);
    *self_p = NULL;
}

/* 64 well-mixed bits of an id. The first half of an id is constant per sender: mix both. */
static uint64_t
s_hash(const zn_msgid_t *id)
{
    uint64_t a;
    uint64_t b;
    memcpy(&a, id->bytes, sizeof(a));
    memcpy(&b, id->bytes + 8, sizeof(b));
    return (a ^ (b * 0x9E3779B97F4A7C15ULL)) * 0xC2B2AE3D27D4EB4FULL;
}

/* The fingerprint kept in a slot is the hash's high half, and the home slot is taken from its
 * low bits: deleting can then find every slot's home without touching the ring. */
static uint32_t
s_fingerprint(uint64_t hash)
{
    return (uint32_t)(hash >> 32);
}

static uint32_t
s_home(const zn_dedup_t *self, uint32_t fingerprint)
{
    return fingerprint & self->slot_mask;
}

/* The slot holding ID, or the free slot where it would go (*found false). */
static uint32_t
s_probe(const zn_dedup_t *self, const zn_msgid_t *id, uint64_t hash, bool *found)
{
    uint32_t fingerprint = s_fingerprint(hash);
    for (uint32_t i = s_home(self, fingerprint);; i = (i + 1) & self->slot_mask) {
        const s_slot_t *slot = &self->slots[i];
        if (slot->position == S_EMPTY) {
            *found = false;
            return i;
        }
        if (slot->fingerprint == fingerprint &&
            memcmp(self->ring[slot->position].id.bytes, id->bytes, sizeof(id->bytes)) == 0) {
            *found = true;
            return i;
        }
    }
}

/* Free slot I and shift the rest of its cluster back so that every probe still finds its id. */
static void
s_slot_delete(zn_dedup_t *self, uint32_t i)
{
    uint32_t hole = i;
    for (uint32_t j = (i + 1) & self->slot_mask; self->slots[j].position != S_EMPTY;
         j = (j + 1) & self->slot_mask) {
        uint32_t home = s_home(self, self->slots[j].fingerprint);
        /* J may move into HOLE only if its home is not between HOLE (exclusive) and J. */
        bool home_after_hole = ((j - home) & self->slot_mask) < ((j - hole) & self->slot_mask);
        if (!home_after_hole) {
            self->slots[hole] = self->slots[j];
            hole = j;
        }
    }
    self->slots[hole].position = S_EMPTY;
}

static void
s_entry_clear(s_entry_t *e)
{
    zn_free(e->reply);
    memset(e, 0, sizeof(*e));
}

/* Drop the oldest ring position: an entry (with its slot), or a hole. */
static void
s_pop_oldest(zn_dedup_t *self)
{
    s_entry_t *e = &self->ring[self->head];
    if (e->used) {
        bool found = false;
        uint32_t slot = s_probe(self, &e->id, s_hash(&e->id), &found);
        ZN_ASSERT(found);
        s_slot_delete(self, slot);
        s_entry_clear(e);
    }
    self->head = (self->head + 1) & self->ring_mask;
    self->count--;
}

static void
s_expire(zn_dedup_t *self, int64_t now_ms)
{
    while (self->count > 0) {
        const s_entry_t *e = &self->ring[self->head];
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
    uint64_t hash = s_hash(id);
    bool found = false;
    uint32_t slot = s_probe(self, id, hash, &found);
    if (found) {
        const s_entry_t *e = &self->ring[self->slots[slot].position];
        if (!e->answered) {
            return ZN_DEDUP_IN_PROGRESS;
        }
        reply->ptr = e->reply;
        reply->len = e->reply_len;
        return ZN_DEDUP_ANSWERED;
    }
    if (self->count == self->ring_mask + 1) {
        s_pop_oldest(self);
        /* Deleting may have shifted the cluster our free slot was found in: probe again. */
        slot = s_probe(self, id, hash, &found);
    }
    uint32_t position = (self->head + self->count) & self->ring_mask;
    s_entry_t *e = &self->ring[position];
    e->id = *id;
    e->seen_ms = now_ms;
    e->used = true;
    self->slots[slot] = (s_slot_t){s_fingerprint(hash), position};
    self->count++;
    return ZN_DEDUP_NEW;
}

void
zn_dedup_answer(zn_dedup_t *self, const zn_msgid_t *id, zn_buf_t reply)
{
    bool found = false;
    uint32_t slot = s_probe(self, id, s_hash(id), &found);
    if (!found || reply.len > UINT32_MAX) {
        return;
    }
    s_entry_t *e = &self->ring[self->slots[slot].position];
    zn_free(e->reply);
    e->reply = zn_malloc(reply.len);
    if (reply.len > 0) {
        memcpy(e->reply, reply.ptr, reply.len);
    }
    e->reply_len = (uint32_t)reply.len;
    e->answered = true;
}

void
zn_dedup_forget(zn_dedup_t *self, const zn_msgid_t *id)
{
    bool found = false;
    uint32_t slot = s_probe(self, id, s_hash(id), &found);
    if (found) {
        /* The ring position stays a hole until it becomes the oldest. */
        s_entry_clear(&self->ring[self->slots[slot].position]);
        s_slot_delete(self, slot);
    }
}

size_t
zn_dedup_count(const zn_dedup_t *self)
{
    return self->count;
}
