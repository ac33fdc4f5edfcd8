/* SPDX-License-Identifier: Apache-2.0 */
/* zn_sched_hosts.h - the scheduler's in-memory host states and the placement decision (steps
 * 8-10): filters, weighers and the random choice among the best, with no store underneath, so
 * that the decision can be unit-tested and benchmarked alone.
 *
 * Hosts that can take work (enabled and alive) are kept ordered by weight in a balanced tree
 * whose every subtree also knows the most free vCPUs, RAM and disk below it and which
 * availability zones, architectures and hypervisor types it holds. A decision walks the tree
 * from the best host, skips whole subtrees that cannot fit the request, applies every filter to
 * the hosts it reaches and stops once it has the best host_subset_size (plus alternates) that
 * pass: it never looks at every host. Only a failure scans them all, to say which filter
 * eliminated how many. Loop thread only (no locking). */
#ifndef ZN_SCHED_HOSTS_H
#define ZN_SCHED_HOSTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zn_cellrec.h"
#include "zn_err.h"

/* How hosts are weighed. A weigher's value is the host's free amount of one resource divided by
 * the largest capacity of that resource among known hosts; the weight is the sum of the values
 * times their multipliers, with the sign flipped to pack. */
typedef struct zn_sched_policy {
    double ram_multiplier; /* >= 0; 0 turns the weigher off */
    double cpu_multiplier;
    double disk_multiplier;
    bool pack;               /* false: spread (most free first); true: fill hosts up first */
    size_t host_subset_size; /* choose at random among the best N that pass (>= 1) */
    uint64_t seed;           /* of the random choice; 0: from the clock */
    /* Several schedulers racing for the same best hosts conflict; each may prefer its own share
     * instead: hosts whose name hashes to PARTITION_INDEX (mod PARTITION_COUNT) come before all
     * others, which are used only when none of its share fits. 0 or 1: no preference. */
    size_t partition_index;
    size_t partition_count;
} zn_sched_policy_t;

typedef enum {
    ZN_SCHED_GROUP_NONE = 0,
    ZN_SCHED_GROUP_AFFINITY,           /* only the hosts of the group's members */
    ZN_SCHED_GROUP_ANTI_AFFINITY,      /* never a host of the group's members */
    ZN_SCHED_GROUP_SOFT_AFFINITY,      /* prefer them; any host when none fits */
    ZN_SCHED_GROUP_SOFT_ANTI_AFFINITY, /* avoid them; any host when nothing else fits */
} zn_sched_group_policy_t;

/* "affinity", ... -> the policy; NULL or unknown -> -EINVAL. */
ZN_MUST_CHECK int zn_sched_group_policy_parse(const char *name, zn_sched_group_policy_t *out);

/* One placement request. Strings are borrowed for the call. Host lists are host names (the
 * caller resolves instance ids to the hosts their claims are on). */
typedef struct zn_sched_request {
    int64_t vcpus;
    int64_t ram_mb;
    int64_t disk_gb;
    const char *availability_zone;     /* NULL: any */
    const char *image_arch;            /* NULL: any */
    const char *image_hypervisor_type; /* NULL: any */
    const char *const *same_host;      /* non-empty: only these hosts */
    size_t same_host_count;
    const char *const *different_host; /* never these hosts */
    size_t different_host_count;
    zn_sched_group_policy_t group_policy;
    const char *const *group_hosts; /* the hosts of the group's other members */
    size_t group_host_count;
    const char *const *ignore_hosts; /* hosts a build already failed on */
    size_t ignore_host_count;
    size_t alternates; /* how many alternates to return besides the host */
} zn_sched_request_t;

#define ZN_SCHED_ALTERNATES_MAX 8
#define ZN_SCHED_PICK_MAX       (1 + ZN_SCHED_ALTERNATES_MAX)

/* A decision: hosts[0] is the host, the rest its alternates (best first). The names are
 * borrowed until the host is removed. */
typedef struct zn_sched_pick {
    size_t count;
    const char *hosts[ZN_SCHED_PICK_MAX];
} zn_sched_pick_t;

/* What a claim writes to host_usage/HOST, and the generation it is conditioned on
 * (ZN_BATCH_GEN_ABSENT, 0, when the host has no usage record yet). */
typedef struct zn_sched_claim {
    int64_t vcpus_used;
    int64_t ram_mb_used;
    int64_t disk_gb_used;
    int64_t instances;
    uint64_t expect_gen;
} zn_sched_claim_t;

typedef struct zn_sched_hosts zn_sched_hosts_t;

/* An empty set of hosts weighed by POLICY (copied). Cannot fail. */
zn_sched_hosts_t *zn_sched_hosts_new(const zn_sched_policy_t *policy);

void zn_sched_hosts_destroy(zn_sched_hosts_t **self_p);

/* ---- what the store says ----------------------------------------------------------------- */

/* Add or replace the host HOST->host (copied) as its record at store generation GEN says.
 * A new host starts alive with no usage. Returns 0 or -EINVAL (no name). */
ZN_MUST_CHECK int zn_sched_hosts_update(zn_sched_hosts_t *self, const zn_cell_host_t *host,
                                        uint64_t gen);

/* Forget HOST (its record was deleted). Unknown hosts are ignored. */
void zn_sched_hosts_remove(zn_sched_hosts_t *self, const char *host);

/* The host's usage record (NULL: none) at generation GEN, from a periodic refresh: taken only
 * when GEN is newer than the one known and no batch of ours is gathering or in flight there (a
 * lagging replica must not undo what our own claims taught us). Returns true when it was taken;
 * false also for an unknown host. */
bool zn_sched_hosts_set_usage(zn_sched_hosts_t *self, const char *host,
                              const zn_cell_usage_t *usage, uint64_t gen);

/* As zn_sched_hosts_set_usage, but taken whatever GEN is (after a claim conflicted, the store
 * is right and our view was wrong), unless a claim is in flight. */
bool zn_sched_hosts_reset_usage(zn_sched_hosts_t *self, const char *host,
                                const zn_cell_usage_t *usage, uint64_t gen);

/* Whether the compute service of HOST is alive (from the conductor's registry). */
void zn_sched_hosts_set_alive(zn_sched_hosts_t *self, const char *host, bool alive);

/* Mark every host alive or dead at once (liveness checks off, or the registry lost). */
void zn_sched_hosts_set_all_alive(zn_sched_hosts_t *self, bool alive);

/* The store generations known for HOST's record and usage (0: none). Returns false for an
 * unknown host. */
bool zn_sched_hosts_gens(const zn_sched_hosts_t *self, const char *host, uint64_t *host_gen,
                         uint64_t *usage_gen);

/* Call FN with every known host name (for a refresh to notice deleted records). */
typedef void(zn_sched_hosts_visit_fn)(void *arg, const char *host);
void zn_sched_hosts_visit(const zn_sched_hosts_t *self, zn_sched_hosts_visit_fn *fn, void *arg);

size_t zn_sched_hosts_count(const zn_sched_hosts_t *self);

/* Change this scheduler's share (as zn_sched_policy_t's partition; COUNT 0 or 1: none) when
 * schedulers come and go. Reorders every host when it changed: O(n log n). */
void zn_sched_hosts_set_partition(zn_sched_hosts_t *self, size_t index, size_t count);

/* This scheduler's share: *index of *count (1: none). */
void zn_sched_hosts_partition(const zn_sched_hosts_t *self, size_t *index, size_t *count);

/* ---- decisions --------------------------------------------------------------------------- */

/* Choose a host for REQ (at random among the best host_subset_size that pass every filter) and
 * up to REQ->alternates alternates into *out. Hosts with a claim of ours in flight are passed
 * over. Returns 0; -EAGAIN when only such busy hosts would do (ask again once one settles);
 * -EINVAL for a request with negative amounts; or ZN_ENOVALIDHOST with FAULT saying which
 * filter eliminated how many hosts ("RamFilter eliminated 3 of 4 hosts; ComputeFilter
 * eliminated 1"). */
ZN_MUST_CHECK int zn_sched_hosts_select(zn_sched_hosts_t *self, const zn_sched_request_t *req,
                                        zn_sched_pick_t *out, zn_fault_t *fault);

/* Count REQ's resources on HOST in memory and add them to the batch of claims gathered for it:
 * *out gets the usage record that batch writes (the host's totals with every claim gathered so
 * far) and the generation to condition it on. Several requests may gather on one host until
 * zn_sched_hosts_seal: their claims then go in one store batch, so a host takes many claims
 * per commit. Returns 0, -ENOENT (unknown host) or -EBUSY (a batch is in flight there: only
 * one at a time per host, because a second one's totals would rest on the first's unconfirmed
 * ones, and would be wrong if the first failed and another writer moved the generation by
 * one). */
ZN_MUST_CHECK int zn_sched_hosts_reserve(zn_sched_hosts_t *self, const char *host,
                                         const zn_sched_request_t *req, zn_sched_claim_t *out);

/* The gathered batch of HOST is sent: the host is passed over (busy) until it settles.
 * Returns 0, -ENOENT, or -EINVAL when nothing was gathered there. */
ZN_MUST_CHECK int zn_sched_hosts_seal(zn_sched_hosts_t *self, const char *host);

/* HOST's batch (sealed, or gathered and never sent) ended: committed (COMMITTED true: the usage
 * is now at expect_gen + 1) or not (everything it reserved is taken back; the caller should
 * re-read the host's usage and zn_sched_hosts_reset_usage it, since a failed claim means our
 * view was stale). Unknown or idle hosts are ignored. */
void zn_sched_hosts_settle(zn_sched_hosts_t *self, const char *host, bool committed);

#endif
