/* SPDX-License-Identifier: Apache-2.0 */
/* zn_sched_hosts.c - host states in memory, the filters and weighers, and the decision. */
#include "zn_sched_hosts.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <czmq.h>

#include "zn_clock.h"
#include "zn_mem.h"
#include "zn_sched_int.h"

#define S_DEFAULT_AZ "nova"

struct zn_sched_hosts {
    zn_sched_policy_t policy;
    zhashx_t *by_name;        /* name -> zn__sched_host_t (owned through HOSTS) */
    zn__sched_host_t **hosts; /* dense, for scans; host->slot is its index */
    size_t count;
    size_t cap;
    zn__sched_host_t *root; /* the candidates, best first */
    double scale_vcpus;     /* the largest capacities seen: the weighers' units */
    double scale_ram_mb;
    double scale_disk_gb;
    double share_bonus; /* above any weight: our share's hosts come first */
    uint64_t rng;
    zn__sched_host_t **found; /* scratch for a decision: the best that pass */
    size_t found_cap;
};

static const char *const s_group_names[] = {NULL, "affinity", "anti-affinity", "soft-affinity",
                                            "soft-anti-affinity"};

int
zn_sched_group_policy_parse(const char *name, zn_sched_group_policy_t *out)
{
    for (size_t i = 1; name != NULL && i < sizeof(s_group_names) / sizeof(s_group_names[0]); i++) {
        if (strcmp(name, s_group_names[i]) == 0) {
            *out = (zn_sched_group_policy_t)i;
            return 0;
        }
    }
    return -EINVAL;
}

/* xorshift64*: the random choice needs speed and spread, not secrecy. */
static uint64_t
s_random(zn_sched_hosts_t *self)
{
    uint64_t x = self->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    self->rng = x;
    return x * 2685821657736338717ull;
}

zn_sched_hosts_t *
zn_sched_hosts_new(const zn_sched_policy_t *policy)
{
    zn_sched_hosts_t *self = zn_calloc(1, sizeof(*self));
    self->policy = *policy;
    if (self->policy.host_subset_size < 1) {
        self->policy.host_subset_size = 1;
    }
    self->by_name = zhashx_new();
    self->scale_vcpus = 1;
    self->scale_ram_mb = 1;
    self->scale_disk_gb = 1;
    self->rng = policy->seed != 0 ? policy->seed
                                  : (uint64_t)zn_clock_mono_us() ^ ((uint64_t)getpid() << 32);
    if (self->rng == 0) {
        self->rng = 88172645463325252ull;
    }
    const zn_sched_policy_t *p = &self->policy;
    self->share_bonus =
        4 * (p->ram_multiplier + p->cpu_multiplier + p->disk_multiplier) + 1; /* weights: +-sum */
    self->found_cap = self->policy.host_subset_size + ZN_SCHED_PICK_MAX;
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers. */
    self->found = zn_calloc(self->found_cap, sizeof(*self->found));
    return self;
}

static void
s_host_free(zn__sched_host_t *h)
{
    zn_free(h->name);
    zn_free(h->az);
    zn_free(h->arch);
    zn_free(h->hv_type);
    zn_free(h);
}

void
zn_sched_hosts_destroy(zn_sched_hosts_t **self_p)
{
    zn_sched_hosts_t *self = *self_p;
    if (self == NULL) {
        return;
    }
    for (size_t i = 0; i < self->count; i++) {
        s_host_free(self->hosts[i]);
    }
    zhashx_destroy(&self->by_name);
    zn_free(self->hosts);
    zn_free(self->found);
    zn_free(self);
    *self_p = NULL;
}

/* ---- the order ---------------------------------------------------------------------------- */

static double
s_score(const zn_sched_hosts_t *self, const zn__sched_host_t *h)
{
    const zn_sched_policy_t *p = &self->policy;
    double score = p->ram_multiplier * zn__sched_free_ram_mb(h) / self->scale_ram_mb +
                   p->cpu_multiplier * zn__sched_free_vcpus(h) / self->scale_vcpus +
                   p->disk_multiplier * zn__sched_free_disk_gb(h) / self->scale_disk_gb;
    score = p->pack ? -score : score;
    return h->ours ? score + self->share_bonus : score;
}

/* Take H out of the order before anything its key or summary depends on changes. */
static void
s_unplace(zn_sched_hosts_t *self, zn__sched_host_t *h)
{
    if (h->in_tree) {
        zn__sched_tree_remove(&self->root, h);
        h->in_tree = false;
    }
}

/* Put H back with its new weight, when it is a candidate at all. */
static void
s_place(zn_sched_hosts_t *self, zn__sched_host_t *h)
{
    if (h->disabled || !h->alive) {
        return;
    }
    h->score = s_score(self, h);
    zn__sched_tree_insert(&self->root, h);
    h->in_tree = true;
}

/* A bigger host changes the weighers' units, hence every weight: rebuild the order (rare:
 * only when a larger kind of host joins). Returns true when it did (H included). */
static bool
s_rescale(zn_sched_hosts_t *self, const zn__sched_host_t *h)
{
    bool grew = h->cap_vcpus > self->scale_vcpus || h->cap_ram_mb > self->scale_ram_mb ||
                h->cap_disk_gb > self->scale_disk_gb;
    if (!grew) {
        return false;
    }
    for (size_t i = 0; i < self->count; i++) {
        s_unplace(self, self->hosts[i]);
    }
    self->scale_vcpus = h->cap_vcpus > self->scale_vcpus ? h->cap_vcpus : self->scale_vcpus;
    self->scale_ram_mb = h->cap_ram_mb > self->scale_ram_mb ? h->cap_ram_mb : self->scale_ram_mb;
    self->scale_disk_gb =
        h->cap_disk_gb > self->scale_disk_gb ? h->cap_disk_gb : self->scale_disk_gb;
    for (size_t i = 0; i < self->count; i++) {
        s_place(self, self->hosts[i]);
    }
    return true;
}

/* ---- what the store says ------------------------------------------------------------------ */

static zn__sched_host_t *
s_find(const zn_sched_hosts_t *self, const char *name)
{
    return name != NULL ? zhashx_lookup(self->by_name, name) : NULL;
}

static bool
s_is_ours(const zn_sched_hosts_t *self, const char *name)
{
    size_t count = self->policy.partition_count;
    return count <= 1 || zn__sched_hash(name) % count == self->policy.partition_index;
}

static zn__sched_host_t *
s_add(zn_sched_hosts_t *self, const char *name)
{
    if (self->count == self->cap) {
        self->cap = self->cap == 0 ? 64 : self->cap * 2;
        /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers. */
        self->hosts = zn_realloc(self->hosts, self->cap * sizeof(*self->hosts));
    }
    zn__sched_host_t *h = zn_calloc(1, sizeof(*h));
    h->name = zn_strdup(name);
    h->alive = true;
    h->seq = s_random(self);
    h->ours = s_is_ours(self, name);
    h->prio = (uint32_t)(s_random(self) >> 32);
    h->slot = self->count;
    self->hosts[self->count++] = h;
    zhashx_insert(self->by_name, name, h);
    return h;
}

static void
s_set_str(char **field, const char *value)
{
    zn_free(*field);
    *field = value != NULL ? zn_strdup(value) : NULL;
}

static double
s_capacity(int64_t total, int64_t reserved, double ratio)
{
    double cap = (double)(total - reserved) * (ratio > 0 ? ratio : 1.0);
    return cap > 0 ? cap : 0;
}

int
zn_sched_hosts_update(zn_sched_hosts_t *self, const zn_cell_host_t *host, uint64_t gen)
{
    if (host->host == NULL || host->host[0] == '\0') {
        return -EINVAL;
    }
    zn__sched_host_t *h = s_find(self, host->host);
    if (h == NULL) {
        h = s_add(self, host->host);
    }
    s_unplace(self, h);
    h->cap_vcpus = s_capacity(host->vcpus, host->vcpus_reserved, host->cpu_ratio);
    h->cap_ram_mb = s_capacity(host->ram_mb, host->ram_mb_reserved, host->ram_ratio);
    h->cap_disk_gb = s_capacity(host->disk_gb, host->disk_gb_reserved, host->disk_ratio);
    const char *az = host->availability_zone != NULL && host->availability_zone[0] != '\0'
                         ? host->availability_zone
                         : S_DEFAULT_AZ;
    s_set_str(&h->az, az);
    s_set_str(&h->arch, host->arch);
    s_set_str(&h->hv_type, host->hypervisor_type);
    h->az_bit = zn__sched_bit(h->az);
    h->arch_bit = zn__sched_bit(h->arch);
    h->hv_bit = zn__sched_bit(h->hv_type);
    h->disabled = host->disabled;
    h->host_gen = gen;
    if (!s_rescale(self, h)) {
        s_place(self, h);
    }
    return 0;
}

void
zn_sched_hosts_remove(zn_sched_hosts_t *self, const char *host)
{
    zn__sched_host_t *h = s_find(self, host);
    if (h == NULL) {
        return;
    }
    s_unplace(self, h);
    zhashx_delete(self->by_name, host);
    zn__sched_host_t *last = self->hosts[--self->count];
    self->hosts[h->slot] = last;
    last->slot = h->slot;
    s_host_free(h);
}

static void
s_take_usage(zn_sched_hosts_t *self, zn__sched_host_t *h, const zn_cell_usage_t *usage,
             uint64_t gen)
{
    s_unplace(self, h);
    h->used_vcpus = usage != NULL ? usage->vcpus_used : 0;
    h->used_ram_mb = usage != NULL ? usage->ram_mb_used : 0;
    h->used_disk_gb = usage != NULL ? usage->disk_gb_used : 0;
    h->instances = usage != NULL ? usage->instances : 0;
    h->usage_gen = gen;
    s_place(self, h);
}

bool
zn_sched_hosts_set_usage(zn_sched_hosts_t *self, const char *host, const zn_cell_usage_t *usage,
                         uint64_t gen)
{
    zn__sched_host_t *h = s_find(self, host);
    if (h == NULL || h->busy || h->open || gen <= h->usage_gen) {
        return false;
    }
    s_take_usage(self, h, usage, gen);
    return true;
}

bool
zn_sched_hosts_reset_usage(zn_sched_hosts_t *self, const char *host, const zn_cell_usage_t *usage,
                           uint64_t gen)
{
    zn__sched_host_t *h = s_find(self, host);
    if (h == NULL || h->busy || h->open) {
        return false;
    }
    s_take_usage(self, h, usage, gen);
    return true;
}

static void
s_set_alive(zn_sched_hosts_t *self, zn__sched_host_t *h, bool alive)
{
    if (h->alive == alive) {
        return;
    }
    s_unplace(self, h);
    h->alive = alive;
    s_place(self, h);
}

void
zn_sched_hosts_set_alive(zn_sched_hosts_t *self, const char *host, bool alive)
{
    zn__sched_host_t *h = s_find(self, host);
    if (h != NULL) {
        s_set_alive(self, h, alive);
    }
}

void
zn_sched_hosts_set_all_alive(zn_sched_hosts_t *self, bool alive)
{
    for (size_t i = 0; i < self->count; i++) {
        s_set_alive(self, self->hosts[i], alive);
    }
}

bool
zn_sched_hosts_gens(const zn_sched_hosts_t *self, const char *host, uint64_t *host_gen,
                    uint64_t *usage_gen)
{
    const zn__sched_host_t *h = s_find(self, host);
    if (h == NULL) {
        return false;
    }
    *host_gen = h->host_gen;
    *usage_gen = h->usage_gen;
    return true;
}

void
zn_sched_hosts_visit(const zn_sched_hosts_t *self, zn_sched_hosts_visit_fn *fn, void *arg)
{
    for (size_t i = 0; i < self->count; i++) {
        fn(arg, self->hosts[i]->name);
    }
}

size_t
zn_sched_hosts_count(const zn_sched_hosts_t *self)
{
    return self->count;
}

void
zn_sched_hosts_set_partition(zn_sched_hosts_t *self, size_t index, size_t count)
{
    count = count < 1 ? 1 : count;
    index = index < count ? index : 0;
    if (self->policy.partition_count == count && self->policy.partition_index == index) {
        return;
    }
    self->policy.partition_index = index;
    self->policy.partition_count = count;
    for (size_t i = 0; i < self->count; i++) {
        zn__sched_host_t *h = self->hosts[i];
        s_unplace(self, h);
        h->ours = s_is_ours(self, h->name);
        s_place(self, h);
    }
}

void
zn_sched_hosts_partition(const zn_sched_hosts_t *self, size_t *index, size_t *count)
{
    *count = self->policy.partition_count < 1 ? 1 : self->policy.partition_count;
    *index = *count > 1 ? self->policy.partition_index : 0;
}

/* ---- filters ------------------------------------------------------------------------------ */

/* One decision's request, as the filters see it. */
typedef struct {
    const zn_sched_request_t *req;
    zn_sched_group_policy_t group; /* soft policies are tried as hard ones first */
    zn__sched_need_t need;
    zn_sched_hosts_t *owner;
    size_t want;  /* stop once this many idle hosts passed */
    size_t found; /* in owner->found */
    size_t busy;  /* hosts that passed but have a claim of ours in flight */
} s_ask_t;

typedef bool(s_filter_fn)(const s_ask_t *ask, const zn__sched_host_t *h);

static bool
s_listed(const char *name, const char *const *list, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (list[i] != NULL && strcmp(list[i], name) == 0) {
            return true;
        }
    }
    return false;
}

static bool
s_retry_filter(const s_ask_t *ask, const zn__sched_host_t *h)
{
    return !s_listed(h->name, ask->req->ignore_hosts, ask->req->ignore_host_count);
}

static bool
s_compute_filter(const s_ask_t *ask, const zn__sched_host_t *h)
{
    (void)ask;
    return !h->disabled && h->alive;
}

static bool
s_az_filter(const s_ask_t *ask, const zn__sched_host_t *h)
{
    const char *az = ask->req->availability_zone;
    return az == NULL || az[0] == '\0' || strcmp(az, h->az) == 0;
}

static bool
s_same_word(const char *wanted, const char *have)
{
    return wanted == NULL || wanted[0] == '\0' || (have != NULL && strcasecmp(wanted, have) == 0);
}

static bool
s_image_filter(const s_ask_t *ask, const zn__sched_host_t *h)
{
    return s_same_word(ask->req->image_arch, h->arch) &&
           s_same_word(ask->req->image_hypervisor_type, h->hv_type);
}

static bool
s_same_host_filter(const s_ask_t *ask, const zn__sched_host_t *h)
{
    return ask->req->same_host_count == 0 ||
           s_listed(h->name, ask->req->same_host, ask->req->same_host_count);
}

static bool
s_different_host_filter(const s_ask_t *ask, const zn__sched_host_t *h)
{
    return !s_listed(h->name, ask->req->different_host, ask->req->different_host_count);
}

static bool
s_affinity_filter(const s_ask_t *ask, const zn__sched_host_t *h)
{
    return ask->group != ZN_SCHED_GROUP_AFFINITY || ask->req->group_host_count == 0 ||
           s_listed(h->name, ask->req->group_hosts, ask->req->group_host_count);
}

static bool
s_anti_affinity_filter(const s_ask_t *ask, const zn__sched_host_t *h)
{
    return ask->group != ZN_SCHED_GROUP_ANTI_AFFINITY ||
           !s_listed(h->name, ask->req->group_hosts, ask->req->group_host_count);
}

static bool
s_ram_filter(const s_ask_t *ask, const zn__sched_host_t *h)
{
    return zn__sched_free_ram_mb(h) >= (double)ask->req->ram_mb;
}

static bool
s_core_filter(const s_ask_t *ask, const zn__sched_host_t *h)
{
    return zn__sched_free_vcpus(h) >= (double)ask->req->vcpus;
}

static bool
s_disk_filter(const s_ask_t *ask, const zn__sched_host_t *h)
{
    return zn__sched_free_disk_gb(h) >= (double)ask->req->disk_gb;
}

/* The filters in the order they are applied, and blamed: a host eliminated by several counts
 * against the first. Nova's names, so that operators recognise them. */
static const struct {
    const char *name;
    s_filter_fn *pass;
} s_filters[] = {
    {"RetryFilter", s_retry_filter},
    {"ComputeFilter", s_compute_filter},
    {"AvailabilityZoneFilter", s_az_filter},
    {"ImagePropertiesFilter", s_image_filter},
    {"SameHostFilter", s_same_host_filter},
    {"DifferentHostFilter", s_different_host_filter},
    {"ServerGroupAffinityFilter", s_affinity_filter},
    {"ServerGroupAntiAffinityFilter", s_anti_affinity_filter},
    {"RamFilter", s_ram_filter},
    {"CoreFilter", s_core_filter},
    {"DiskFilter", s_disk_filter},
};

#define S_FILTER_COUNT (sizeof(s_filters) / sizeof(s_filters[0]))

/* The index of the first filter H fails, or S_FILTER_COUNT when it passes them all. */
static size_t
s_first_failed(const s_ask_t *ask, const zn__sched_host_t *h)
{
    for (size_t i = 0; i < S_FILTER_COUNT; i++) {
        if (!s_filters[i].pass(ask, h)) {
            return i;
        }
    }
    return S_FILTER_COUNT;
}

/* ---- decisions ---------------------------------------------------------------------------- */

/* Keep H when it passes: idle ones are collected (best first), busy ones only counted. */
static bool
s_visit(void *arg, zn__sched_host_t *h)
{
    s_ask_t *ask = arg;
    if (s_first_failed(ask, h) != S_FILTER_COUNT) {
        return false;
    }
    if (h->busy) {
        ask->busy++;
        return false;
    }
    ask->owner->found[ask->found++] = h;
    return ask->found >= ask->want;
}

/* Keep H among the best ASK->want found so far, in weight order (list mode: the names come in
 * no particular order). */
static void
s_keep_best(s_ask_t *ask, zn__sched_host_t *h)
{
    zn__sched_host_t **found = ask->owner->found;
    size_t at = ask->found;
    while (at > 0 && (found[at - 1]->score < h->score ||
                      (found[at - 1]->score == h->score && found[at - 1]->seq > h->seq))) {
        at--;
    }
    if (at >= ask->want) {
        return;
    }
    size_t keep = ask->found < ask->want ? ask->found : ask->want - 1;
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers. */
    memmove(&found[at + 1], &found[at], (keep - at) * sizeof(*found));
    found[at] = h;
    ask->found = keep + 1;
}

/* When the request names the only hosts it may use (same_host, or affinity to a group already
 * placed), look at those directly instead of walking the order. */
static void
s_visit_list(s_ask_t *ask, const char *const *names, size_t count)
{
    zn_sched_hosts_t *self = ask->owner;
    for (size_t i = 0; i < count; i++) {
        zn__sched_host_t *h = s_find(self, names[i]);
        bool seen = h == NULL || !h->in_tree;
        for (size_t j = 0; j < i && !seen; j++) {
            seen = names[j] != NULL && strcmp(names[j], names[i]) == 0;
        }
        if (seen || s_first_failed(ask, h) != S_FILTER_COUNT) {
            continue;
        }
        if (h->busy) {
            ask->busy++;
        } else {
            s_keep_best(ask, h);
        }
    }
}

static void
s_collect(s_ask_t *ask)
{
    const zn_sched_request_t *req = ask->req;
    if (req->same_host_count > 0) {
        s_visit_list(ask, req->same_host, req->same_host_count);
    } else if (ask->group == ZN_SCHED_GROUP_AFFINITY && req->group_host_count > 0) {
        s_visit_list(ask, req->group_hosts, req->group_host_count);
    } else {
        (void)zn__sched_tree_walk(ask->owner->root, &ask->need, s_visit, ask);
    }
}

static void
s_ask_init(s_ask_t *ask, zn_sched_hosts_t *self, const zn_sched_request_t *req,
           zn_sched_group_policy_t group)
{
    memset(ask, 0, sizeof(*ask));
    ask->req = req;
    ask->group = group;
    ask->owner = self;
    size_t alternates =
        req->alternates < ZN_SCHED_ALTERNATES_MAX ? req->alternates : ZN_SCHED_ALTERNATES_MAX;
    size_t subset = self->policy.host_subset_size;
    ask->want = subset > alternates + 1 ? subset : alternates + 1;
    ask->need.vcpus = (double)req->vcpus;
    ask->need.ram_mb = (double)req->ram_mb;
    ask->need.disk_gb = (double)req->disk_gb;
    const char *az = req->availability_zone;
    ask->need.az_bit = az != NULL && az[0] != '\0' ? zn__sched_bit(az) : 0;
    ask->need.arch_bit = zn__sched_bit(req->image_arch);
    ask->need.hv_bit = zn__sched_bit(req->image_hypervisor_type);
}

/* Random among the best host_subset_size, then the others best first as alternates. */
static void
s_choose(s_ask_t *ask, zn_sched_pick_t *out)
{
    zn_sched_hosts_t *self = ask->owner;
    size_t subset = self->policy.host_subset_size;
    size_t pool = ask->found < subset ? ask->found : subset;
    size_t chosen = (size_t)(s_random(self) % pool);
    size_t alternates = ask->req->alternates < ZN_SCHED_ALTERNATES_MAX ? ask->req->alternates
                                                                       : ZN_SCHED_ALTERNATES_MAX;
    out->count = 0;
    out->hosts[out->count++] = self->found[chosen]->name;
    for (size_t i = 0; i < ask->found && out->count < alternates + 1; i++) {
        if (i != chosen) {
            out->hosts[out->count++] = self->found[i]->name;
        }
    }
}

typedef struct {
    size_t index;
    size_t count;
} s_blame_t;

static int
s_by_count(const void *a, const void *b)
{
    const s_blame_t *x = a;
    const s_blame_t *y = b;
    if (x->count != y->count) {
        return x->count > y->count ? -1 : 1;
    }
    return x->index < y->index ? -1 : 1;
}

/* The failure's words: every host against the filters, each blamed on the first it fails. */
static int
s_explain(const s_ask_t *ask, zn_fault_t *fault)
{
    const zn_sched_hosts_t *self = ask->owner;
    if (self->count == 0) {
        return zn_fault_set(fault, ZN_ENOVALIDHOST,
                            "No valid host was found. There are no compute hosts");
    }
    s_blame_t blame[S_FILTER_COUNT + 1];
    for (size_t i = 0; i <= S_FILTER_COUNT; i++) {
        blame[i] = (s_blame_t){i, 0};
    }
    for (size_t i = 0; i < self->count; i++) {
        blame[s_first_failed(ask, self->hosts[i])].count++;
    }
    qsort(blame, S_FILTER_COUNT, sizeof(blame[0]), s_by_count);
    char words[ZN_FAULT_MESSAGE_MAX] = "No valid host was found.";
    size_t len = strlen(words);
    for (size_t i = 0; i < S_FILTER_COUNT && blame[i].count > 0 && len < sizeof(words); i++) {
        int n = i == 0
                    ? snprintf(words + len, sizeof(words) - len, " %s eliminated %zu of %zu hosts",
                               s_filters[blame[i].index].name, blame[i].count, self->count)
                    : snprintf(words + len, sizeof(words) - len, "; %s eliminated %zu",
                               s_filters[blame[i].index].name, blame[i].count);
        len += n > 0 ? (size_t)n : 0;
    }
    return zn_fault_set(fault, ZN_ENOVALIDHOST, "%s", words);
}

static int
s_select_as(zn_sched_hosts_t *self, const zn_sched_request_t *req, zn_sched_group_policy_t group,
            zn_sched_pick_t *out, zn_fault_t *fault)
{
    s_ask_t ask;
    s_ask_init(&ask, self, req, group);
    s_collect(&ask);
    if (ask.found > 0) {
        s_choose(&ask, out);
        return 0;
    }
    if (ask.busy > 0) {
        return zn_fault_set(fault, -EAGAIN, "only hosts with a claim in flight fit");
    }
    return s_explain(&ask, fault);
}

int
zn_sched_hosts_select(zn_sched_hosts_t *self, const zn_sched_request_t *req, zn_sched_pick_t *out,
                      zn_fault_t *fault)
{
    out->count = 0;
    if (req->vcpus < 0 || req->ram_mb < 0 || req->disk_gb < 0) {
        return zn_fault_set(fault, -EINVAL, "negative vcpus, ram_mb or disk_gb");
    }
    zn_sched_group_policy_t group = req->group_policy;
    bool soft = group == ZN_SCHED_GROUP_SOFT_AFFINITY || group == ZN_SCHED_GROUP_SOFT_ANTI_AFFINITY;
    if (soft) {
        /* A soft policy is a preference: honour it when some host allows, else ignore it. */
        group = group == ZN_SCHED_GROUP_SOFT_AFFINITY ? ZN_SCHED_GROUP_AFFINITY
                                                      : ZN_SCHED_GROUP_ANTI_AFFINITY;
        int rc = s_select_as(self, req, group, out, fault);
        if (rc != ZN_ENOVALIDHOST) {
            return rc;
        }
        group = ZN_SCHED_GROUP_NONE;
    }
    return s_select_as(self, req, group, out, fault);
}

/* Add SIGN times REQ to H's usage and to what its current batch adds. */
static void
s_add_usage(zn__sched_host_t *h, const zn_sched_request_t *req, int64_t sign)
{
    h->used_vcpus += sign * req->vcpus;
    h->used_ram_mb += sign * req->ram_mb;
    h->used_disk_gb += sign * req->disk_gb;
    h->instances += sign;
    h->pend_vcpus += sign * req->vcpus;
    h->pend_ram_mb += sign * req->ram_mb;
    h->pend_disk_gb += sign * req->disk_gb;
    h->pend_instances += sign;
}

int
zn_sched_hosts_reserve(zn_sched_hosts_t *self, const char *host, const zn_sched_request_t *req,
                       zn_sched_claim_t *out)
{
    zn__sched_host_t *h = s_find(self, host);
    if (h == NULL) {
        return -ENOENT;
    }
    if (h->busy) {
        return -EBUSY;
    }
    s_unplace(self, h);
    h->open = true;
    s_add_usage(h, req, 1);
    s_place(self, h);
    *out = (zn_sched_claim_t){
        .vcpus_used = h->used_vcpus,
        .ram_mb_used = h->used_ram_mb,
        .disk_gb_used = h->used_disk_gb,
        .instances = h->instances,
        .expect_gen = h->usage_gen,
    };
    return 0;
}

int
zn_sched_hosts_seal(zn_sched_hosts_t *self, const char *host)
{
    zn__sched_host_t *h = s_find(self, host);
    if (h == NULL) {
        return -ENOENT;
    }
    if (!h->open) {
        return -EINVAL;
    }
    h->open = false;
    h->busy = true;
    return 0;
}

void
zn_sched_hosts_settle(zn_sched_hosts_t *self, const char *host, bool committed)
{
    zn__sched_host_t *h = s_find(self, host);
    if (h == NULL || (!h->busy && !h->open)) {
        return;
    }
    h->busy = false;
    h->open = false;
    if (committed) {
        h->usage_gen++; /* the store's put made generation expect_gen + 1 */
    } else {
        s_unplace(self, h);
        h->used_vcpus -= h->pend_vcpus;
        h->used_ram_mb -= h->pend_ram_mb;
        h->used_disk_gb -= h->pend_disk_gb;
        h->instances -= h->pend_instances;
        s_place(self, h);
    }
    h->pend_vcpus = 0;
    h->pend_ram_mb = 0;
    h->pend_disk_gb = 0;
    h->pend_instances = 0;
}
