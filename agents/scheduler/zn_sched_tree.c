/* SPDX-License-Identifier: Apache-2.0 */
/* zn_sched_tree.c - the weight order of candidate hosts: a treap (expected depth O(log n)) whose
 * nodes carry their subtree's largest free amounts and the union of its attribute bits, so that
 * a walk from the best host skips what cannot fit. */
#include <ctype.h>
#include <stddef.h>

#include "zn_sched_int.h"

static double
s_max(double a, double b)
{
    return a > b ? a : b;
}

/* Recompute NODE's subtree summary from itself and its children. */
static void
s_pull(zn__sched_host_t *node)
{
    node->max_free_vcpus = zn__sched_free_vcpus(node);
    node->max_free_ram_mb = zn__sched_free_ram_mb(node);
    node->max_free_disk_gb = zn__sched_free_disk_gb(node);
    node->any_az = node->az_bit;
    node->any_arch = node->arch_bit;
    node->any_hv = node->hv_bit;
    const zn__sched_host_t *kids[2] = {node->left, node->right};
    for (int i = 0; i < 2; i++) {
        const zn__sched_host_t *k = kids[i];
        if (k == NULL) {
            continue;
        }
        node->max_free_vcpus = s_max(node->max_free_vcpus, k->max_free_vcpus);
        node->max_free_ram_mb = s_max(node->max_free_ram_mb, k->max_free_ram_mb);
        node->max_free_disk_gb = s_max(node->max_free_disk_gb, k->max_free_disk_gb);
        node->any_az |= k->any_az;
        node->any_arch |= k->any_arch;
        node->any_hv |= k->any_hv;
    }
}

/* True when A comes before B: higher score first, then the lower tie-break. */
static bool
s_before(const zn__sched_host_t *a, const zn__sched_host_t *b)
{
    if (a->score != b->score) {
        return a->score > b->score;
    }
    return a->seq < b->seq;
}

static zn__sched_host_t *
s_rotate_right(zn__sched_host_t *node)
{
    zn__sched_host_t *top = node->left;
    node->left = top->right;
    top->right = node;
    s_pull(node);
    s_pull(top);
    return top;
}

static zn__sched_host_t *
s_rotate_left(zn__sched_host_t *node)
{
    zn__sched_host_t *top = node->right;
    node->right = top->left;
    top->left = node;
    s_pull(node);
    s_pull(top);
    return top;
}

static zn__sched_host_t *
s_insert(zn__sched_host_t *root, zn__sched_host_t *node)
{
    if (root == NULL) {
        s_pull(node);
        return node;
    }
    if (s_before(node, root)) {
        root->left = s_insert(root->left, node);
        if (root->left->prio > root->prio) {
            return s_rotate_right(root);
        }
    } else {
        root->right = s_insert(root->right, node);
        if (root->right->prio > root->prio) {
            return s_rotate_left(root);
        }
    }
    s_pull(root);
    return root;
}

void
zn__sched_tree_insert(zn__sched_host_t **root, zn__sched_host_t *node)
{
    node->left = NULL;
    node->right = NULL;
    *root = s_insert(*root, node);
}

/* Join two treaps where every key of A comes before every key of B. */
static zn__sched_host_t *
s_merge(zn__sched_host_t *a, zn__sched_host_t *b)
{
    if (a == NULL) {
        return b;
    }
    if (b == NULL) {
        return a;
    }
    if (a->prio > b->prio) {
        a->right = s_merge(a->right, b);
        s_pull(a);
        return a;
    }
    b->left = s_merge(a, b->left);
    s_pull(b);
    return b;
}

static zn__sched_host_t *
s_remove(zn__sched_host_t *root, zn__sched_host_t *node)
{
    if (root == NULL) {
        return NULL;
    }
    if (root == node) {
        zn__sched_host_t *joined = s_merge(node->left, node->right);
        node->left = NULL;
        node->right = NULL;
        return joined;
    }
    if (s_before(node, root)) {
        root->left = s_remove(root->left, node);
    } else {
        root->right = s_remove(root->right, node);
    }
    s_pull(root);
    return root;
}

void
zn__sched_tree_remove(zn__sched_host_t **root, zn__sched_host_t *node)
{
    *root = s_remove(*root, node);
}

static bool
s_may_fit(const zn__sched_host_t *t, const zn__sched_need_t *need)
{
    return t->max_free_vcpus >= need->vcpus && t->max_free_ram_mb >= need->ram_mb &&
           t->max_free_disk_gb >= need->disk_gb &&
           (need->az_bit == 0 || (t->any_az & need->az_bit) != 0) &&
           (need->arch_bit == 0 || (t->any_arch & need->arch_bit) != 0) &&
           (need->hv_bit == 0 || (t->any_hv & need->hv_bit) != 0);
}

bool
zn__sched_tree_walk(zn__sched_host_t *root, const zn__sched_need_t *need, zn__sched_walk_fn *fn,
                    void *arg)
{
    if (root == NULL || !s_may_fit(root, need)) {
        return false;
    }
    if (zn__sched_tree_walk(root->left, need, fn, arg)) {
        return true;
    }
    if (fn(arg, root)) {
        return true;
    }
    return zn__sched_tree_walk(root->right, need, fn, arg);
}

uint64_t
zn__sched_hash(const char *s)
{
    uint64_t hash = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        hash ^= (uint64_t)tolower(*p);
        hash *= 1099511628211ull;
    }
    return hash;
}

uint64_t
zn__sched_bit(const char *s)
{
    return s != NULL ? 1ull << (zn__sched_hash(s) % 64) : 0;
}
