/* SPDX-License-Identifier: Apache-2.0 */
/* zn_sched_int.h - the scheduler folder's shared internals: one host's state and the weight
 * order (a treap whose subtrees know what they could fit). Only agents/scheduler includes it. */
#ifndef ZN_SCHED_INT_H
#define ZN_SCHED_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct zn__sched_host zn__sched_host_t;

struct zn__sched_host {
    char *name;
    char *az; /* "nova" when the host names none, as Nova does */
    char *arch;
    char *hv_type;
    uint64_t az_bit; /* one bit each, from a hash: a subtree's OR says what it may hold */
    uint64_t arch_bit;
    uint64_t hv_bit;
    double cap_vcpus; /* (total - reserved) * allocation ratio */
    double cap_ram_mb;
    double cap_disk_gb;
    int64_t used_vcpus; /* including our claim in flight, if any */
    int64_t used_ram_mb;
    int64_t used_disk_gb;
    int64_t instances;
    uint64_t host_gen;
    uint64_t usage_gen;
    bool disabled;
    bool alive;
    bool open;          /* claims are being gathered into one batch for this host (not sent yet) */
    bool busy;          /* that batch is in flight: the host is passed over until it settles */
    int64_t pend_vcpus; /* what the open or in-flight batch adds (given back if it fails) */
    int64_t pend_ram_mb;
    int64_t pend_disk_gb;
    int64_t pend_instances;
    bool in_tree; /* enabled and alive: a candidate */
    bool ours;    /* in this scheduler's share (zn_sched_policy_t partition) */
    size_t slot;  /* index in the dense array */
    uint64_t seq; /* tie-break among equal weights: random, so that two schedulers with the
                     same view walk equal hosts in different orders and rarely collide */
    /* The treap: key (score descending, seq ascending), heap on prio. */
    zn__sched_host_t *left;
    zn__sched_host_t *right;
    uint32_t prio;
    double score;
    double max_free_vcpus; /* the subtree's maxima and unions */
    double max_free_ram_mb;
    double max_free_disk_gb;
    uint64_t any_az;
    uint64_t any_arch;
    uint64_t any_hv;
};

static inline double
zn__sched_free_vcpus(const zn__sched_host_t *h)
{
    return h->cap_vcpus - (double)h->used_vcpus;
}

static inline double
zn__sched_free_ram_mb(const zn__sched_host_t *h)
{
    return h->cap_ram_mb - (double)h->used_ram_mb;
}

static inline double
zn__sched_free_disk_gb(const zn__sched_host_t *h)
{
    return h->cap_disk_gb - (double)h->used_disk_gb;
}

/* Insert NODE (score, seq and prio set, not in a tree) into the treap at *root. */
void zn__sched_tree_insert(zn__sched_host_t **root, zn__sched_host_t *node);

/* Remove NODE (which is in the treap at *root, with the key it was inserted with). */
void zn__sched_tree_remove(zn__sched_host_t **root, zn__sched_host_t *node);

/* What a walk looks for: a subtree is skipped when it cannot hold a host with this much free
 * and (when non-zero) one of these bits. */
typedef struct zn__sched_need {
    double vcpus;
    double ram_mb;
    double disk_gb;
    uint64_t az_bit;
    uint64_t arch_bit;
    uint64_t hv_bit;
} zn__sched_need_t;

/* Called on each host that may fit, best first; return true to stop the walk. */
typedef bool(zn__sched_walk_fn)(void *arg, zn__sched_host_t *host);

/* Walk the treap at ROOT in weight order, skipping subtrees that cannot meet NEED. Returns true
 * when FN stopped it. */
bool zn__sched_tree_walk(zn__sched_host_t *root, const zn__sched_need_t *need,
                         zn__sched_walk_fn *fn, void *arg);

/* A string's bit for the subtree unions: FNV-1a of its lower-case bytes, mod 64; 0 for NULL. */
uint64_t zn__sched_bit(const char *s);

/* FNV-1a of S's lower-case bytes. */
uint64_t zn__sched_hash(const char *s);

#endif
