/* SPDX-License-Identifier: Apache-2.0 */
/* zn_volops.h - what the volume agent does to volumes, whoever asks (REST or ZeroMQ): create
 * (empty or from an image), update, extend, delete, attach and detach, each a short chain of
 * generation-conditioned writes through the conductor (zn_sclient) around the backend's work,
 * so that two agents or two requests never both win a race: a write that lost is re-read and
 * decided again. Quotas (volumes and gigabytes per project) are a usage record updated in the
 * same batch as the volume it pays for. Reads (get, list) come from the local replica.
 *
 * Every asynchronous operation returns 0 and then calls its FN exactly once, never inside the
 * call; or it returns -EINVAL with FAULT at once for bad arguments, and FN never runs.
 * Error codes FN sees: -ENOENT (no such volume, or another project's), -EINVAL (not in a
 * status that allows it, bad size), ZN_EQUOTA (over quota), ZN_ECONFLICT (attached to another
 * instance, or the record kept changing), ZN_EUNAVAIL / -ETIMEDOUT (store or image agent
 * unreachable), or a backend error. Loop thread. */
#ifndef ZN_VOLOPS_H
#define ZN_VOLOPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <czmq.h>

#include "zn_client.h"
#include "zn_env.h"
#include "zn_err.h"
#include "zn_sclient.h"
#include "zn_vbackend.h"
#include "zn_volrec.h"

#define ZN_VOLOPS_IMAGE_CHUNK_BYTES ((uint64_t)4 << 20)

typedef struct zn_volops zn_volops_t;

typedef struct zn_volops_opts {
    zn_sclient_t *sc;        /* borrowed: reads and writes */
    zn_vbackend_t *backend;  /* borrowed */
    zn_client_t *image;      /* borrowed, may be NULL: volumes from images are refused */
    zloop_t *loop;           /* borrowed: to answer later, never inside a call */
    const char *host;        /* this volume node's name (copied) */
    int64_t quota_volumes;   /* per project; negative: unlimited */
    int64_t quota_gigabytes; /* per project; negative: unlimited */
    int64_t max_size_gb;     /* largest volume */
    int64_t call_timeout_ms; /* each store write and image call; 0: 5000 */
} zn_volops_opts_t;

/* Who acts: a non-admin sees and changes only its own project's volumes. Borrowed. */
typedef struct zn_volops_who {
    const char *project_id;
    const char *user_id;
    bool admin;
} zn_volops_who_t;

/* The answer of an operation: VOL (borrowed for the call) is the record as last written,
 * or as last read when FAULT->code < 0 (zeroed when there was none). */
typedef void(zn_volops_fn)(void *arg, const zn_vol_t *vol, const zn_fault_t *fault);

zn_volops_t *zn_volops_new(const zn_volops_opts_t *opts);

/* Stop: no FN runs any more and no new step starts. Operations waiting on the store or the
 * image agent end when those clients are destroyed (their callbacks then see -ECANCELED), so
 * the order at shutdown is: zn_volops_shutdown, destroy the clients, zn_volops_destroy. */
void zn_volops_shutdown(zn_volops_t *self);

/* Free what is left. No-op on NULL. */
void zn_volops_destroy(zn_volops_t **self_p);

/* Operations in flight (including the background part of creates). */
size_t zn_volops_pending(const zn_volops_t *self);

/* ---- operations: CTX (borrowed for the call) gives the request id and the user's token,
 * which is copied when an image must be read with it. ---------------------------------- */

typedef struct zn_volops_create {
    const char *name;        /* may be NULL */
    const char *description; /* may be NULL */
    int64_t size_gb;
    const char *image_id; /* may be NULL */
} zn_volops_create_t;

/* Create a volume: FN gets it once committed in status "creating" (quota taken); it becomes
 * "available" (or "error") in the background. With an image, the image is checked first
 * (image_get: visible, active, fits) and copied after the answer (image_read). */
ZN_MUST_CHECK int zn_volops_create(zn_volops_t *self, const zn_ctx_t *ctx,
                                   const zn_volops_who_t *who, const zn_volops_create_t *req,
                                   zn_volops_fn *fn, void *arg, zn_fault_t *fault);

/* Set the name and/or the description (a NULL pointer leaves it; "" clears it). */
ZN_MUST_CHECK int zn_volops_update(zn_volops_t *self, const zn_ctx_t *ctx,
                                   const zn_volops_who_t *who, const char *id, const char *name,
                                   const char *description, zn_volops_fn *fn, void *arg,
                                   zn_fault_t *fault);

/* Grow an available volume to NEW_SIZE_GB (quota checked); FN runs once it is available again. */
ZN_MUST_CHECK int zn_volops_extend(zn_volops_t *self, const zn_ctx_t *ctx,
                                   const zn_volops_who_t *who, const char *id, int64_t new_size_gb,
                                   zn_volops_fn *fn, void *arg, zn_fault_t *fault);

/* Delete a volume that is available or in an error state (-EINVAL while attached); FN runs
 * once the record is gone and the quota given back. */
ZN_MUST_CHECK int zn_volops_delete(zn_volops_t *self, const zn_ctx_t *ctx,
                                   const zn_volops_who_t *who, const char *id, zn_volops_fn *fn,
                                   void *arg, zn_fault_t *fault);

/* An admin's repair (Cinder's os-reset_status): set the status to STATUS (a status name, or
 * NULL to keep it) and, with DETACH, forget the attachment; no other check. For volumes an
 * agent left attaching, detaching or extending. */
ZN_MUST_CHECK int zn_volops_reset(zn_volops_t *self, const zn_ctx_t *ctx,
                                  const zn_volops_who_t *who, const char *id, const char *status,
                                  bool detach, zn_volops_fn *fn, void *arg, zn_fault_t *fault);

/* Attach to INSTANCE_ID on HOST as DEVICE (may be NULL): available -> attaching -> in-use.
 * Idempotent for the same instance; ZN_ECONFLICT for another. */
ZN_MUST_CHECK int zn_volops_attach(zn_volops_t *self, const zn_ctx_t *ctx,
                                   const zn_volops_who_t *who, const char *id,
                                   const char *instance_id, const char *host, const char *device,
                                   zn_volops_fn *fn, void *arg, zn_fault_t *fault);

/* Detach from INSTANCE_ID: in-use -> detaching -> available. A volume not attached to that
 * instance is left alone and FN sees success (idempotent). */
ZN_MUST_CHECK int zn_volops_detach(zn_volops_t *self, const zn_ctx_t *ctx,
                                   const zn_volops_who_t *who, const char *id,
                                   const char *instance_id, zn_volops_fn *fn, void *arg,
                                   zn_fault_t *fault);

/* After a restart: finish what this node's agent left half done. Volumes of this host still
 * "creating" get their backing file (an interrupted image copy ends in "error"); volumes still
 * "deleting" are removed and their quota given back. Only records last changed before
 * BEFORE_MS (wall clock: when this agent started) count, so requests in flight are left to
 * themselves. Returns how many were taken up, or ZN_EUNAVAIL with FAULT while the replica
 * cannot be read yet (call again later). */
ZN_MUST_CHECK int zn_volops_recover(zn_volops_t *self, int64_t before_ms, zn_fault_t *fault);

/* ---- reads (synchronous, from the local replica) -------------------------------------- */

/* Read volume ID into OUT (release with zn_schema_release(&zn_vol_schema, out)). Returns 0,
 * -ENOENT ("Volume ID could not be found.", also for another project's), ZN_EUNAVAIL. */
ZN_MUST_CHECK int zn_volops_get(zn_volops_t *self, const zn_volops_who_t *who, const char *id,
                                zn_vol_t *out, zn_fault_t *fault);

typedef struct zn_volops_query {
    const char *project_id; /* NULL: every project (admin all_tenants) */
    const char *name;       /* exact match, may be NULL */
    const char *status;     /* exact match, may be NULL */
    const char *marker;     /* the last id of the previous page, may be NULL */
    size_t limit;           /* 1..ZN_VOLOPS_LIST_MAX */
} zn_volops_query_t;

#define ZN_VOLOPS_LIST_MAX 1000u

/* The volumes matching QUERY in id order, after its marker: *out (count *count, free with
 * zn_volops_list_free) and *more (a next page exists). Returns 0, -ENOENT (unknown marker),
 * -EINVAL (limit), ZN_EUNAVAIL. */
ZN_MUST_CHECK int zn_volops_list(zn_volops_t *self, const zn_volops_query_t *query, zn_vol_t **out,
                                 size_t *count, bool *more, zn_fault_t *fault);

void zn_volops_list_free(zn_vol_t **vols_p, size_t count);

/* The connection info of VOL (what volume_attach answers). Returns the backend's result. */
ZN_MUST_CHECK int zn_volops_connection(zn_volops_t *self, const zn_vol_t *vol,
                                       zn_vbackend_conn_t *out, zn_fault_t *fault);

/* The usage record of PROJECT_ID (zeros when none) into OUT. Returns 0 or ZN_EUNAVAIL. */
ZN_MUST_CHECK int zn_volops_usage(zn_volops_t *self, const char *project_id, int64_t *volumes,
                                  int64_t *gigabytes, zn_fault_t *fault);

#endif
