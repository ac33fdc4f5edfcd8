/* SPDX-License-Identifier: Apache-2.0 */
/* zn_ipam.c - addresses, subnet layouts, MACs and the free-address tracker. */
#include "zn_ipam.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "zn_mem.h"

/* 128-bit arithmetic keeps IPv6 ranges as simple as IPv4 ones; it never leaves this file. */
typedef unsigned __int128 s_u128_t;

#define S_SIZE_CAP ((uint64_t)1 << 62) /* addresses tracked per pool, at most */

static s_u128_t
s_value(const zn_ipaddr_t *addr)
{
    s_u128_t v = 0;
    for (size_t i = 0; i < 16; i++) {
        v = (v << 8) | addr->bytes[i];
    }
    return v;
}

static zn_ipaddr_t
s_addr(uint8_t version, s_u128_t v)
{
    zn_ipaddr_t addr = {.version = version};
    for (size_t i = 16; i > 0; i--) {
        addr.bytes[i - 1] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
    return addr;
}

static unsigned
s_width(uint8_t version)
{
    return version == 4 ? 32u : 128u;
}

static s_u128_t
s_host_mask(uint8_t version, unsigned prefix)
{
    unsigned host_bits = s_width(version) - prefix;
    return host_bits >= 128 ? ~(s_u128_t)0 : (((s_u128_t)1 << host_bits) - 1);
}

int
zn_ipaddr_parse(const char *text, zn_ipaddr_t *out)
{
    memset(out, 0, sizeof(*out));
    if (text == NULL) {
        return -EINVAL;
    }
    if (inet_pton(AF_INET, text, &out->bytes[12]) == 1) {
        out->version = 4;
        return 0;
    }
    if (inet_pton(AF_INET6, text, out->bytes) == 1) {
        out->version = 6;
        return 0;
    }
    memset(out, 0, sizeof(*out));
    return -EINVAL;
}

void
zn_ipaddr_format(const zn_ipaddr_t *addr, char out[ZN_IPADDR_TEXT_MAX])
{
    const char *ok = addr->version == 4
                         ? inet_ntop(AF_INET, &addr->bytes[12], out, ZN_IPADDR_TEXT_MAX)
                         : inet_ntop(AF_INET6, addr->bytes, out, ZN_IPADDR_TEXT_MAX);
    if (ok == NULL) {
        out[0] = '\0'; /* cannot happen with a buffer of INET6_ADDRSTRLEN */
    }
}

int
zn_ipaddr_compare(const zn_ipaddr_t *a, const zn_ipaddr_t *b)
{
    if (a->version != b->version) {
        return a->version < b->version ? -1 : 1;
    }
    int c = memcmp(a->bytes, b->bytes, sizeof(a->bytes));
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

static int
s_parse_prefix(const char *text, unsigned width, unsigned *out)
{
    if (*text == '\0' || strlen(text) > 3) {
        return -EINVAL;
    }
    unsigned v = 0;
    for (const char *p = text; *p != '\0'; p++) {
        if (!isdigit((unsigned char)*p)) {
            return -EINVAL;
        }
        v = v * 10 + (unsigned)(*p - '0');
    }
    if (v > width) {
        return -EINVAL;
    }
    *out = v;
    return 0;
}

int
zn_cidr_parse(const char *text, zn_cidr_t *out, zn_fault_t *fault)
{
    memset(out, 0, sizeof(*out));
    const char *slash = text != NULL ? strchr(text, '/') : NULL;
    if (slash == NULL || (size_t)(slash - text) >= ZN_IPADDR_TEXT_MAX) {
        return zn_fault_set(fault, -EINVAL, "'%s' is not a valid CIDR (ADDRESS/PREFIX)",
                            text != NULL ? text : "");
    }
    char addr_text[ZN_IPADDR_TEXT_MAX];
    memcpy(addr_text, text, (size_t)(slash - text));
    addr_text[slash - text] = '\0';
    zn_ipaddr_t addr;
    unsigned prefix = 0;
    if (zn_ipaddr_parse(addr_text, &addr) < 0 ||
        s_parse_prefix(slash + 1, s_width(addr.version), &prefix) < 0) {
        return zn_fault_set(fault, -EINVAL, "'%s' is not a valid CIDR", text);
    }
    s_u128_t v = s_value(&addr);
    s_u128_t host = s_host_mask(addr.version, prefix);
    out->addr = s_addr(addr.version, v & ~host);
    out->prefix = prefix;
    if ((v & host) != 0) {
        char want[ZN_CIDR_TEXT_MAX];
        zn_cidr_format(out, want);
        return zn_fault_set(fault, -EINVAL, "'%s' isn't a recommended CIDR, did you mean '%s'?",
                            text, want);
    }
    return 0;
}

void
zn_cidr_format(const zn_cidr_t *cidr, char out[ZN_CIDR_TEXT_MAX])
{
    char addr[ZN_IPADDR_TEXT_MAX];
    zn_ipaddr_format(&cidr->addr, addr);
    (void)snprintf(out, ZN_CIDR_TEXT_MAX, "%s/%u", addr, cidr->prefix); /* always fits */
}

bool
zn_cidr_contains(const zn_cidr_t *cidr, const zn_ipaddr_t *addr)
{
    if (cidr->addr.version != addr->version) {
        return false;
    }
    s_u128_t host = s_host_mask(addr->version, cidr->prefix);
    return (s_value(addr) & ~host) == s_value(&cidr->addr);
}

bool
zn_cidr_overlaps(const zn_cidr_t *a, const zn_cidr_t *b)
{
    if (a->addr.version != b->addr.version) {
        return false;
    }
    /* Two CIDRs overlap exactly when the shorter prefix contains the other's network. */
    return a->prefix <= b->prefix ? zn_cidr_contains(a, &b->addr) : zn_cidr_contains(b, &a->addr);
}

/* ---- layouts ------------------------------------------------------------------------------- */

/* The first and last addresses a port may hold in CIDR. */
static void
s_host_bounds(const zn_cidr_t *cidr, s_u128_t *first, s_u128_t *last)
{
    s_u128_t net = s_value(&cidr->addr);
    *first = net + 1;
    *last = net | s_host_mask(cidr->addr.version, cidr->prefix);
    if (cidr->addr.version == 4) {
        *last -= 1; /* the broadcast address */
    }
}

bool
zn_ipam_is_host(const zn_cidr_t *cidr, const zn_ipaddr_t *addr)
{
    if (!zn_cidr_contains(cidr, addr)) {
        return false;
    }
    s_u128_t first = 0;
    s_u128_t last = 0;
    s_host_bounds(cidr, &first, &last);
    s_u128_t v = s_value(addr);
    return v >= first && v <= last;
}

static int
s_check_gateway(zn_ipam_layout_t *layout, zn_ipam_gateway_t gateway, zn_fault_t *fault)
{
    s_u128_t first = 0;
    s_u128_t last = 0;
    s_host_bounds(&layout->cidr, &first, &last);
    layout->has_gateway = gateway != ZN_IPAM_GATEWAY_NONE;
    if (gateway == ZN_IPAM_GATEWAY_DEFAULT) {
        layout->gateway = s_addr(layout->cidr.addr.version, first);
        return 0;
    }
    if (gateway == ZN_IPAM_GATEWAY_GIVEN && !zn_ipam_is_host(&layout->cidr, &layout->gateway)) {
        char text[ZN_IPADDR_TEXT_MAX];
        zn_ipaddr_format(&layout->gateway, text);
        return zn_fault_set(fault, -EINVAL, "Gateway IP %s is not a host address of the subnet",
                            text);
    }
    return 0;
}

static int
s_range_order(const void *a, const void *b)
{
    const zn_ipam_range_t *x = a;
    const zn_ipam_range_t *y = b;
    return zn_ipaddr_compare(&x->start, &y->start);
}

static int
s_check_pools(zn_ipam_layout_t *layout, zn_fault_t *fault)
{
    s_u128_t first = 0;
    s_u128_t last = 0;
    s_host_bounds(&layout->cidr, &first, &last);
    for (size_t i = 0; i < layout->pool_count; i++) {
        const zn_ipam_range_t *r = &layout->pools[i];
        if (r->start.version != layout->cidr.addr.version ||
            r->end.version != layout->cidr.addr.version) {
            return zn_fault_set(fault, -EINVAL, "allocation pool of the wrong IP version");
        }
        s_u128_t s = s_value(&r->start);
        s_u128_t e = s_value(&r->end);
        if (s > e) {
            return zn_fault_set(fault, -EINVAL, "allocation pool: start above end");
        }
        if (s < first || e > last) {
            return zn_fault_set(fault, -EINVAL,
                                "allocation pool reaches beyond the subnet's host addresses");
        }
    }
    qsort(layout->pools, layout->pool_count, sizeof(layout->pools[0]), s_range_order);
    for (size_t i = 1; i < layout->pool_count; i++) {
        if (zn_ipaddr_compare(&layout->pools[i].start, &layout->pools[i - 1].end) <= 0) {
            return zn_fault_set(fault, -EINVAL, "allocation pools overlap");
        }
    }
    return 0;
}

static void
s_default_pools(zn_ipam_layout_t *layout)
{
    s_u128_t first = 0;
    s_u128_t last = 0;
    s_host_bounds(&layout->cidr, &first, &last);
    uint8_t version = layout->cidr.addr.version;
    s_u128_t gw = layout->has_gateway ? s_value(&layout->gateway) : 0;
    layout->pool_count = 0;
    if (!layout->has_gateway || gw < first || gw > last) {
        layout->pools[layout->pool_count++] =
            (zn_ipam_range_t){s_addr(version, first), s_addr(version, last)};
        return;
    }
    if (gw > first) {
        layout->pools[layout->pool_count++] =
            (zn_ipam_range_t){s_addr(version, first), s_addr(version, gw - 1)};
    }
    if (gw < last) {
        layout->pools[layout->pool_count++] =
            (zn_ipam_range_t){s_addr(version, gw + 1), s_addr(version, last)};
    }
}

int
zn_ipam_layout_complete(zn_ipam_layout_t *layout, zn_ipam_gateway_t gateway, zn_fault_t *fault)
{
    unsigned width = s_width(layout->cidr.addr.version);
    if (layout->cidr.prefix + 2 > width) {
        return zn_fault_set(fault, -EINVAL, "a /%u subnet holds no host addresses to allocate",
                            layout->cidr.prefix);
    }
    if (layout->pool_count > ZN_IPAM_POOLS_MAX) {
        return zn_fault_set(fault, -EINVAL, "at most %u allocation pools",
                            (unsigned)ZN_IPAM_POOLS_MAX);
    }
    int rc = s_check_gateway(layout, gateway, fault);
    if (rc < 0) {
        return rc;
    }
    if (layout->pool_count == 0) {
        s_default_pools(layout);
        return 0;
    }
    rc = s_check_pools(layout, fault);
    for (size_t i = 0; rc == 0 && layout->has_gateway && i < layout->pool_count; i++) {
        if (zn_ipaddr_compare(&layout->gateway, &layout->pools[i].start) >= 0 &&
            zn_ipaddr_compare(&layout->gateway, &layout->pools[i].end) <= 0) {
            rc = zn_fault_set(fault, ZN_ECONFLICT, "Gateway ip conflicts with allocation pool %zu",
                              i);
        }
    }
    return rc;
}

/* ---- MACs ---------------------------------------------------------------------------------- */

void
zn_mac_random(char out[ZN_MAC_TEXT_MAX])
{
    uint8_t tail[3];
    randombytes_buf(tail, sizeof(tail));
    (void)snprintf(out, ZN_MAC_TEXT_MAX, "fa:16:3e:%02x:%02x:%02x", tail[0], tail[1], tail[2]);
}

/* Is C what position I of "aa:bb:cc:dd:ee:ff" holds: a colon every third, else a hex digit? */
static bool
s_mac_char_ok(size_t i, char c)
{
    return i % 3 == 2 ? c == ':' : isxdigit((unsigned char)c) != 0;
}

int
zn_mac_normalize(const char *text, char out[ZN_MAC_TEXT_MAX])
{
    if (text == NULL || strlen(text) != ZN_MAC_TEXT_MAX - 1) {
        return -EINVAL;
    }
    bool all_zero = true;
    for (size_t i = 0; i < ZN_MAC_TEXT_MAX - 1; i++) {
        if (!s_mac_char_ok(i, text[i])) {
            return -EINVAL;
        }
        out[i] = (char)tolower((unsigned char)text[i]);
        all_zero = all_zero && (text[i] == ':' || text[i] == '0');
    }
    out[ZN_MAC_TEXT_MAX - 1] = '\0';
    unsigned first = (unsigned)strtoul(out, NULL, 16);
    return all_zero || (first & 1u) != 0 ? -EINVAL : 0; /* multicast bit */
}

/* ---- the tracker --------------------------------------------------------------------------- */

typedef struct {
    s_u128_t start;
    uint64_t size;
    uint64_t base; /* offset of START in the tracker's offset space */
} s_pool_t;

#define S_SET_EMPTY 0u
#define S_SET_TOMB  UINT64_MAX

struct zn_ipam {
    uint8_t version;
    s_pool_t *pools;
    size_t pool_count;
    uint64_t total;
    uint64_t used;
    uint64_t cursor; /* next offset to try */
    uint64_t *words; /* bitmap mode: bit set = in use */
    size_t word_count;
    uint64_t *slots; /* set mode: offset + 1, S_SET_EMPTY or S_SET_TOMB */
    size_t slot_cap;
    size_t slot_fill; /* live entries plus tombstones */
};

zn_ipam_t *
zn_ipam_new(const zn_ipam_range_t *pools, size_t count)
{
    zn_ipam_t *self = zn_calloc(1, sizeof(*self));
    self->pools = zn_calloc(count > 0 ? count : 1, sizeof(*self->pools));
    self->version = count > 0 ? pools[0].start.version : 4;
    for (size_t i = 0; i < count; i++) {
        s_u128_t start = s_value(&pools[i].start);
        s_u128_t span = s_value(&pools[i].end) - start;
        uint64_t size = span >= S_SIZE_CAP ? S_SIZE_CAP : (uint64_t)span + 1;
        self->pools[i] = (s_pool_t){start, size, self->total};
        self->total += size;
        self->pool_count++;
    }
    if (self->total <= ZN_IPAM_BITMAP_MAX) {
        self->word_count = (size_t)((self->total + 63) / 64);
        self->words = zn_calloc(self->word_count > 0 ? self->word_count : 1, sizeof(uint64_t));
    } else {
        self->slot_cap = 1024;
        self->slots = zn_calloc(self->slot_cap, sizeof(uint64_t));
    }
    zn_ipam_clear(self);
    return self;
}

void
zn_ipam_destroy(zn_ipam_t **self_p)
{
    zn_ipam_t *self = *self_p;
    if (self == NULL) {
        return;
    }
    zn_free(self->pools);
    zn_free(self->words);
    zn_free(self->slots);
    zn_free(self);
    *self_p = NULL;
}

/* The offset of ADDR, or false when no pool holds it. */
static bool
s_offset(const zn_ipam_t *self, const zn_ipaddr_t *addr, uint64_t *out)
{
    if (addr->version != self->version) {
        return false;
    }
    s_u128_t v = s_value(addr);
    for (size_t i = 0; i < self->pool_count; i++) {
        const s_pool_t *p = &self->pools[i];
        if (v >= p->start && v - p->start < p->size) {
            *out = p->base + (uint64_t)(v - p->start);
            return true;
        }
    }
    return false;
}

static zn_ipaddr_t
s_at(const zn_ipam_t *self, uint64_t offset)
{
    size_t i = 0;
    while (i + 1 < self->pool_count && offset >= self->pools[i + 1].base) {
        i++;
    }
    return s_addr(self->version, self->pools[i].start + (offset - self->pools[i].base));
}

/* ---- set mode: open addressing over offset + 1 ---------------------------------------------- */

static size_t
s_slot_home(const zn_ipam_t *self, uint64_t key)
{
    return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 17) & (self->slot_cap - 1);
}

static size_t
s_slot_find(const zn_ipam_t *self, uint64_t key)
{
    size_t i = s_slot_home(self, key);
    while (self->slots[i] != S_SET_EMPTY && self->slots[i] != key) {
        i = (i + 1) & (self->slot_cap - 1);
    }
    return i;
}

static void s_slot_insert(zn_ipam_t *self, uint64_t key);

static void
s_slots_grow(zn_ipam_t *self)
{
    uint64_t *old = self->slots;
    size_t old_cap = self->slot_cap;
    self->slot_cap = self->used * 4 > old_cap ? old_cap * 2 : old_cap; /* else just compact */
    self->slots = zn_calloc(self->slot_cap, sizeof(uint64_t));
    self->slot_fill = 0;
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i] != S_SET_EMPTY && old[i] != S_SET_TOMB) {
            s_slot_insert(self, old[i]);
        }
    }
    zn_free(old);
}

static void
s_slot_insert(zn_ipam_t *self, uint64_t key)
{
    size_t i = s_slot_home(self, key);
    while (self->slots[i] != S_SET_EMPTY && self->slots[i] != S_SET_TOMB) {
        i = (i + 1) & (self->slot_cap - 1);
    }
    self->slots[i] = key;
    self->slot_fill++;
}

static bool
s_set_has(const zn_ipam_t *self, uint64_t offset)
{
    return self->slots[s_slot_find(self, offset + 1)] == offset + 1;
}

/* ---- marks --------------------------------------------------------------------------------- */

static bool
s_is_set(const zn_ipam_t *self, uint64_t offset)
{
    if (self->words != NULL) {
        return (self->words[offset / 64] >> (offset % 64)) & 1u;
    }
    return s_set_has(self, offset);
}

static void
s_set(zn_ipam_t *self, uint64_t offset)
{
    if (s_is_set(self, offset)) {
        return;
    }
    self->used++;
    if (self->words != NULL) {
        self->words[offset / 64] |= (uint64_t)1 << (offset % 64);
        return;
    }
    if ((self->slot_fill + 1) * 2 > self->slot_cap) {
        s_slots_grow(self);
    }
    s_slot_insert(self, offset + 1);
}

static void
s_unset(zn_ipam_t *self, uint64_t offset)
{
    if (!s_is_set(self, offset)) {
        return;
    }
    self->used--;
    if (self->words != NULL) {
        self->words[offset / 64] &= ~((uint64_t)1 << (offset % 64));
        return;
    }
    self->slots[s_slot_find(self, offset + 1)] = S_SET_TOMB;
}

bool
zn_ipam_mark(zn_ipam_t *self, const zn_ipaddr_t *addr)
{
    uint64_t offset = 0;
    if (!s_offset(self, addr, &offset)) {
        return false;
    }
    s_set(self, offset);
    return true;
}

void
zn_ipam_unmark(zn_ipam_t *self, const zn_ipaddr_t *addr)
{
    uint64_t offset = 0;
    if (s_offset(self, addr, &offset)) {
        s_unset(self, offset);
    }
}

bool
zn_ipam_is_marked(const zn_ipam_t *self, const zn_ipaddr_t *addr)
{
    uint64_t offset = 0;
    return s_offset(self, addr, &offset) && s_is_set(self, offset);
}

void
zn_ipam_clear(zn_ipam_t *self)
{
    self->used = 0;
    if (self->words != NULL) {
        memset(self->words, 0, self->word_count * sizeof(uint64_t));
        /* Bits past the last address stay set so that the word search never offers them. */
        if (self->total % 64 != 0) {
            self->words[self->word_count - 1] = ~(uint64_t)0 << (self->total % 64);
        }
        return;
    }
    memset(self->slots, 0, self->slot_cap * sizeof(uint64_t));
    self->slot_fill = 0;
}

/* The first clear bit at or after FROM, below the end of the bitmap, or UINT64_MAX. */
static uint64_t
s_bitmap_next(const zn_ipam_t *self, uint64_t from)
{
    size_t w = (size_t)(from / 64);
    if (w >= self->word_count) {
        return UINT64_MAX;
    }
    uint64_t bits = self->words[w] | (((uint64_t)1 << (from % 64)) - 1);
    while (bits == ~(uint64_t)0) {
        if (++w >= self->word_count) {
            return UINT64_MAX;
        }
        bits = self->words[w];
    }
    return (uint64_t)w * 64 + (uint64_t)__builtin_ctzll(~bits);
}

static uint64_t
s_find_free(const zn_ipam_t *self)
{
    if (self->words != NULL) {
        uint64_t at = s_bitmap_next(self, self->cursor);
        return at != UINT64_MAX ? at : s_bitmap_next(self, 0);
    }
    /* Set mode is for huge pools: next fit meets a free address within a few probes. */
    for (uint64_t i = 0; i < self->total; i++) {
        uint64_t at = (self->cursor + i) % self->total;
        if (!s_set_has(self, at)) {
            return at;
        }
    }
    return UINT64_MAX;
}

int
zn_ipam_take(zn_ipam_t *self, zn_ipaddr_t *out)
{
    if (self->used >= self->total) {
        return -ENOSPC;
    }
    uint64_t at = s_find_free(self);
    if (at == UINT64_MAX || at >= self->total) {
        return -ENOSPC;
    }
    s_set(self, at);
    self->cursor = at + 1 < self->total ? at + 1 : 0;
    *out = s_at(self, at);
    return 0;
}

void
zn_ipam_scatter(zn_ipam_t *self)
{
    if (self->total > 0) {
        uint64_t r = 0;
        randombytes_buf(&r, sizeof(r));
        self->cursor = r % self->total;
    }
}

uint64_t
zn_ipam_size(const zn_ipam_t *self)
{
    return self->total;
}

uint64_t
zn_ipam_used(const zn_ipam_t *self)
{
    return self->used;
}
