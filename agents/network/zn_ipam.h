/* SPDX-License-Identifier: Apache-2.0 */
/* zn_ipam.h - IP address management without the store: addresses and CIDRs (IPv4 and IPv6),
 * a subnet's gateway and allocation pools with Neutron's defaults and checks, MAC addresses,
 * and the free-address tracker a network agent keeps per subnet.
 *
 * The tracker only suggests: uniqueness is the store's job (each address is a create-only
 * `ip_allocs/SUBNET/ADDR` record written in the port's batch). The tracker makes the suggestion
 * cheap: pools up to ZN_IPAM_BITMAP_MAX addresses use a bitmap searched a 64-bit word at a time
 * from a next-fit cursor, larger ones (IPv6) a hash set of the addresses in use, so finding a
 * free address never walks the whole subnet. Not thread-safe: one per loop thread. */
#ifndef ZN_IPAM_H
#define ZN_IPAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zn_common.h"
#include "zn_err.h"

#define ZN_IPADDR_TEXT_MAX 46       /* INET6_ADDRSTRLEN */
#define ZN_CIDR_TEXT_MAX   50       /* address, '/', prefix */
#define ZN_MAC_TEXT_MAX    18       /* "fa:16:3e:01:02:03" and the NUL */
#define ZN_IPAM_POOLS_MAX  16       /* allocation pools per subnet */
#define ZN_IPAM_BITMAP_MAX 4194304u /* pools up to this many addresses are tracked by a bitmap */

/* An address: VERSION 4 or 6; BYTES in network order, an IPv4 address in the last 4. */
typedef struct zn_ipaddr {
    uint8_t version;
    uint8_t bytes[16];
} zn_ipaddr_t;

typedef struct zn_cidr {
    zn_ipaddr_t addr; /* the network address (no host bits) */
    unsigned prefix;  /* 0..32 or 0..128 */
} zn_cidr_t;

/* An inclusive range of addresses of one version. */
typedef struct zn_ipam_range {
    zn_ipaddr_t start;
    zn_ipaddr_t end;
} zn_ipam_range_t;

/* Parse TEXT (dotted quad or any IPv6 form) into *out. Returns 0 or -EINVAL. */
ZN_MUST_CHECK int zn_ipaddr_parse(const char *text, zn_ipaddr_t *out);

/* The canonical text of ADDR (inet_ntop's) into OUT. */
void zn_ipaddr_format(const zn_ipaddr_t *addr, char out[ZN_IPADDR_TEXT_MAX]);

/* -1, 0 or 1 as A is below, equal to or above B (an IPv4 address sorts below any IPv6 one). */
int zn_ipaddr_compare(const zn_ipaddr_t *a, const zn_ipaddr_t *b);

/* Parse "ADDR/PREFIX" into *out. A CIDR with host bits set is refused with the network address
 * it probably meant, as Neutron does. Returns 0 or -EINVAL with FAULT. */
ZN_MUST_CHECK int zn_cidr_parse(const char *text, zn_cidr_t *out, zn_fault_t *fault);

/* The canonical "ADDR/PREFIX" of CIDR into OUT. */
void zn_cidr_format(const zn_cidr_t *cidr, char out[ZN_CIDR_TEXT_MAX]);

bool zn_cidr_contains(const zn_cidr_t *cidr, const zn_ipaddr_t *addr);
bool zn_cidr_overlaps(const zn_cidr_t *a, const zn_cidr_t *b);

/* ---- a subnet's layout -------------------------------------------------------------------- */

typedef enum {
    ZN_IPAM_GATEWAY_DEFAULT = 0, /* the first host address */
    ZN_IPAM_GATEWAY_NONE,        /* gateway_ip: null */
    ZN_IPAM_GATEWAY_GIVEN,       /* LAYOUT->gateway as given */
} zn_ipam_gateway_t;

typedef struct zn_ipam_layout {
    zn_cidr_t cidr;
    bool has_gateway;
    zn_ipaddr_t gateway;
    zn_ipam_range_t pools[ZN_IPAM_POOLS_MAX];
    size_t pool_count; /* 0 on input: the default pool */
} zn_ipam_layout_t;

/* Complete and check LAYOUT, whose cidr is set (and gateway, pools when given): the default
 * gateway is the first host; the default pool every host address but the gateway (IPv4 also
 * leaves out the network and broadcast addresses; a default pool is split around a gateway
 * inside it). Refused with -EINVAL and FAULT: a prefix too long to hold hosts (IPv4 /31, /32,
 * IPv6 /127, /128), a gateway outside the CIDR or on its network or broadcast address, a pool
 * of the wrong version, outside the CIDR, reversed, or overlapping another; with ZN_ECONFLICT a
 * given pool holding the gateway (Neutron's GatewayConflictWithAllocationPools). */
ZN_MUST_CHECK int zn_ipam_layout_complete(zn_ipam_layout_t *layout, zn_ipam_gateway_t gateway,
                                          zn_fault_t *fault);

/* True when ADDR may be a port's fixed IP on a subnet of CIDR: inside it and, for IPv4, not its
 * network or broadcast address. */
bool zn_ipam_is_host(const zn_cidr_t *cidr, const zn_ipaddr_t *addr);

/* ---- MAC addresses ------------------------------------------------------------------------ */

/* A random "fa:16:3e:xx:xx:xx" (OpenStack's prefix) into OUT. */
void zn_mac_random(char out[ZN_MAC_TEXT_MAX]);

/* Check TEXT as a unicast MAC "xx:xx:xx:xx:xx:xx" (either case) and write it lower-case into
 * OUT. Returns 0 or -EINVAL. */
ZN_MUST_CHECK int zn_mac_normalize(const char *text, char out[ZN_MAC_TEXT_MAX]);

/* ---- the free-address tracker ------------------------------------------------------------- */

typedef struct zn_ipam zn_ipam_t;

/* A tracker over POOLS (COUNT of them, checked by zn_ipam_layout_complete: one version, no
 * overlap), all free. Cannot fail. */
zn_ipam_t *zn_ipam_new(const zn_ipam_range_t *pools, size_t count);

void zn_ipam_destroy(zn_ipam_t **self_p);

/* Mark ADDR in use. Returns true when it lies in a pool (addresses outside are not tracked). */
bool zn_ipam_mark(zn_ipam_t *self, const zn_ipaddr_t *addr);

/* Mark ADDR free again. */
void zn_ipam_unmark(zn_ipam_t *self, const zn_ipaddr_t *addr);

bool zn_ipam_is_marked(const zn_ipam_t *self, const zn_ipaddr_t *addr);

/* Forget every mark (before reloading what the store holds). */
void zn_ipam_clear(zn_ipam_t *self);

/* The next free address after the previous one taken (next fit, wrapping around), marked in use
 * into *out. Returns 0 or -ENOSPC when every pool address is marked. */
ZN_MUST_CHECK int zn_ipam_take(zn_ipam_t *self, zn_ipaddr_t *out);

/* Move the next-fit cursor to a random address. An agent that lost a race for an address
 * calls it, so that agents allocating from one subnet at once spread over the pool instead of
 * walking it in step; without contention allocation stays lowest-first. */
void zn_ipam_scatter(zn_ipam_t *self);

/* Addresses in the pools (saturating at UINT64_MAX) and addresses marked. */
uint64_t zn_ipam_size(const zn_ipam_t *self);
uint64_t zn_ipam_used(const zn_ipam_t *self);

#endif
