/* SPDX-License-Identifier: Apache-2.0 */
/* zn_netdb.h - zinc-network's records in the replicated store: reads from this node's replica,
 * writes through the conductors (zn_sclient), and port creation with IP address management.
 *
 * No address is ever handed out twice: a port is written in one batch with a create-only
 * `ip_allocs/SUBNET/ADDRESS` record per fixed IP and a create-only `mac_allocs/MAC` record, so
 * that of two agents offering the same address only one commits. The loser's batch fails with
 * ZN_ECONFLICT as a whole and is retried with the next free address and a new MAC. Which address
 * to offer comes from a zn_ipam tracker per subnet, loaded once from the replica and reloaded
 * when it believes the pool is full (other agents release addresses too) or after losing a race
 * (at most every ZN_NETDB_RELOAD_MIN_MS), so allocation never scans the subnet; an agent that
 * lost a race also moves its cursor to a random place in the pool, so that agents allocating
 * from one subnet at once spread out. Loop thread only. */
#ifndef ZN_NETDB_H
#define ZN_NETDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zn_env.h"
#include "zn_err.h"
#include "zn_metrics.h"
#include "zn_netrec.h"
#include "zn_sclient.h"

#define ZN_NETDB_ATTEMPTS_MAX 32 /* conflicting batches retried before giving up */
#define ZN_NETDB_RELOAD_MIN_MS \
    5 /* a subnet's tracker is reloaded after a race at most this often */

typedef struct zn_netdb zn_netdb_t;

/* A store on SCLIENT (borrowed; must outlive it). WRITE_TIMEOUT_MS 0: the sclient default. */
zn_netdb_t *zn_netdb_new(zn_sclient_t *sclient, int64_t write_timeout_ms);

/* Count into METRICS (borrowed; may be NULL): ports_created, ip_races_lost (batches refused
 * because another agent holds a key), ip_tracker_loads, ip_pool_exhausted, and the histogram
 * port_create_us (request to commit). */
void zn_netdb_set_metrics(zn_netdb_t *self, zn_metrics_t *metrics);

/* Free. Writes in flight are abandoned: their callbacks run later with nobody to hear them, so
 * destroy the sclient first (its pending calls are cancelled and answered) and this second. */
void zn_netdb_destroy(zn_netdb_t **self_p);

/* Stop taking work, before the sclient is destroyed: creations waiting for a full subnet end
 * with ZN_EUNAVAIL now, and every later write (retries included) fails with ZN_EUNAVAIL
 * instead of reaching a store client that is going away. */
void zn_netdb_shutdown(zn_netdb_t *self);

/* Port creations waiting for the store. */
size_t zn_netdb_pending(const zn_netdb_t *self);

/* ---- reads --------------------------------------------------------------------------------- */

typedef enum {
    ZN_NETDB_NETWORK = 0,
    ZN_NETDB_SUBNET,
    ZN_NETDB_PORT,
} zn_netdb_kind_t;

/* Read record ID of KIND into OBJ (a zn_net_network_t, zn_net_subnet_t or zn_net_port_t,
 * released with zn_netdb_release); *generation (optional) gets its generation. Returns 0,
 * -ENOENT ("Network ID could not be found."), ZN_EUNAVAIL (no replica yet), or a decode error,
 * with FAULT. */
ZN_MUST_CHECK int zn_netdb_get(zn_netdb_t *self, zn_netdb_kind_t kind, const char *id, void *obj,
                               uint64_t *generation, zn_fault_t *fault);

/* The schema of KIND, and release of a record read with it. */
const zn_schema_t *zn_netdb_schema(zn_netdb_kind_t kind);
void zn_netdb_release(zn_netdb_kind_t kind, void *obj);

/* Called for each record of a listing (RECORD borrowed for the call); return false to stop. */
typedef bool(zn_netdb_visit_fn)(void *arg, const void *record);

/* Visit the records of KIND whose index INDEX ("project_id", "name", "network_id", "device_id")
 * equals VALUE, or every record when INDEX is NULL, in key order. Returns the count visited or
 * a negative error with FAULT. */
ZN_MUST_CHECK int zn_netdb_list(zn_netdb_t *self, zn_netdb_kind_t kind, const char *index,
                                const char *value, zn_netdb_visit_fn *visit, void *arg,
                                zn_fault_t *fault);

/* The subnets of NETWORK_ID, oldest first, into *out (an array of *count records; release with
 * zn_netdb_subnets_free). Returns 0 or a negative error with FAULT. */
ZN_MUST_CHECK int zn_netdb_subnets(zn_netdb_t *self, const char *network_id, zn_net_subnet_t **out,
                                   size_t *count, zn_fault_t *fault);
void zn_netdb_subnets_free(zn_net_subnet_t **subnets_p, size_t count);

/* ---- writes (asynchronous: DONE runs later on the loop thread, exactly once) --------------- */

/* FAULT->code 0 when committed, else why not (ZN_ECONFLICT, ZN_EUNAVAIL, -ETIMEDOUT...). */
typedef void(zn_netdb_done_fn)(void *arg, const zn_fault_t *fault);

/* Write OBJ (a record of KIND, borrowed for the call) under its id with the condition
 * EXPECT_GEN (ZN_BATCH_GEN_ABSENT to create). Returns 0, or a negative errno when nothing was
 * sent (DONE never runs). */
ZN_MUST_CHECK int zn_netdb_put(zn_netdb_t *self, const zn_ctx_t *ctx, zn_netdb_kind_t kind,
                               const void *obj, uint64_t expect_gen, zn_netdb_done_fn *done,
                               void *arg);

/* Change record ID of KIND: read it, let APPLY change it (return 0, or a negative code with
 * FAULT to refuse), write it conditioned on the generation read, and start again from the read
 * when another writer came first. APPLY_ARG must live until DONE. DONE gets the written record
 * on success (borrowed for the call). Returns 0 (DONE will run) or the read's or APPLY's error
 * with FAULT (DONE never runs). */
typedef int(zn_netdb_apply_fn)(void *apply_arg, void *record, zn_fault_t *fault);
typedef void(zn_netdb_record_fn)(void *arg, const void *record, const zn_fault_t *fault);
ZN_MUST_CHECK int zn_netdb_update(zn_netdb_t *self, const zn_ctx_t *ctx, zn_netdb_kind_t kind,
                                  const char *id, zn_netdb_apply_fn *apply, void *apply_arg,
                                  zn_netdb_record_fn *done, void *arg, zn_fault_t *fault);

/* Delete network ID and its subnets; refused with ZN_ECONFLICT while it has ports. */
ZN_MUST_CHECK int zn_netdb_network_delete(zn_netdb_t *self, const zn_ctx_t *ctx, const char *id,
                                          zn_netdb_done_fn *done, void *arg, zn_fault_t *fault);

/* Delete subnet ID; refused with ZN_ECONFLICT while any address of it is allocated. */
ZN_MUST_CHECK int zn_netdb_subnet_delete(zn_netdb_t *self, const zn_ctx_t *ctx, const char *id,
                                         zn_netdb_done_fn *done, void *arg, zn_fault_t *fault);

/* Delete port ID with its addresses and MAC, which become reusable. */
ZN_MUST_CHECK int zn_netdb_port_delete(zn_netdb_t *self, const zn_ctx_t *ctx, const char *id,
                                       zn_netdb_done_fn *done, void *arg, zn_fault_t *fault);

/* ---- port creation ------------------------------------------------------------------------- */

/* One requested fixed IP: a subnet, an address, or both (NULL for what is not given). */
typedef struct zn_netdb_ip_req {
    const char *subnet_id;
    const char *ip_address;
} zn_netdb_ip_req_t;

typedef struct zn_netdb_port_req {
    const zn_netdb_ip_req_t *ips; /* NULL with ip_count 0: one address from the oldest subnet
                                   * of each IP version; ips_given with 0: no address at all */
    size_t ip_count;
    bool ips_given;
} zn_netdb_port_req_t;

/* Create *port_p (a sink: its id, network_id, project_id and other fields set; mac_address
 * kept when set, else a random fa:16:3e one; fixed_ips filled here) with addresses per REQ
 * (copied). DONE gets the port as committed, or FAULT: -ENOENT (a subnet), -EINVAL (an address
 * outside its subnet, a subnet of another network), -ENOSPC (no free address: Neutron's
 * IpAddressGenerationFailure), -EADDRINUSE (a requested address is taken), -EEXIST with
 * "mac" or "port" in the message (the MAC, or a port with that id, exists), or the store's
 * error. Returns 0 (DONE will run) or a negative error with FAULT (DONE never runs). */
ZN_MUST_CHECK int zn_netdb_port_create(zn_netdb_t *self, const zn_ctx_t *ctx,
                                       zn_net_port_t **port_p, const zn_netdb_port_req_t *req,
                                       zn_netdb_record_fn *done, void *arg, zn_fault_t *fault);

#endif
