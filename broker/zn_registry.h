/* SPDX-License-Identifier: Apache-2.0 */
/* zn_registry.h - which agents exist and which are alive, from their heartbeats. */
#ifndef ZN_REGISTRY_H
#define ZN_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>

#include "zn_schema.h"

/* What an agent says about itself in every heartbeat. */
typedef struct zn_service {
    char *role;           /* identity, api, scheduler, conductor, compute, image, network, volume */
    char *host;           /* the node's name; with role, the key */
    char *version;        /* the agent's build version */
    char *call_endpoint;  /* where it serves calls, or NULL */
    char *cast_endpoint;  /* where it takes casts, or NULL */
    char *admin_endpoint; /* its admin socket */
    char *public_key;     /* its CURVE public key (Z85), or NULL in plaintext mode */
    int64_t pid;
    int64_t started_at_ms; /* wall clock */
    bool disabled;         /* set by the operator, carried back so the agent can show it */
} zn_service_t;

extern const zn_schema_t zn_service_schema;

typedef struct zn_registry zn_registry_t;

/* Called when a service goes up (UP true: first heartbeat, or back after being down) or down. */
typedef void(zn_registry_watch_fn)(void *arg, const zn_service_t *service, bool up);

/* A registry that declares a service down DEAD_AFTER_MS after its last heartbeat. */
zn_registry_t *zn_registry_new(int64_t dead_after_ms);

void zn_registry_destroy(zn_registry_t **self_p);

/* Be told of transitions. FN runs on the thread that calls beat or sweep. */
void zn_registry_set_watch(zn_registry_t *self, zn_registry_watch_fn *fn, void *arg);

/* Record a heartbeat of SERVICE (copied) at NOW_MS (monotonic). */
void zn_registry_beat(zn_registry_t *self, const zn_service_t *service, int64_t now_ms);

/* Mark down every service silent for longer than the limit. Returns how many went down now. */
int zn_registry_sweep(zn_registry_t *self, int64_t now_ms);

/* The entry for ROLE on HOST, borrowed until the next beat or sweep; NULL if never seen.
 * *up (optional) tells whether it is alive and *age_ms (optional) since when it was last heard. */
const zn_service_t *zn_registry_find(const zn_registry_t *self, const char *role, const char *host,
                                     int64_t now_ms, bool *up, int64_t *age_ms);

/* Decode a heartbeat BODY (a packed zn_service_t, untrusted) and record it at NOW_MS.
 * Returns 0 or -EBADMSG/ZN_ETOOBIG with FAULT. */
ZN_MUST_CHECK int zn_registry_beat_packed(zn_registry_t *self, zn_buf_t body, int64_t now_ms,
                                          zn_fault_t *fault);

/* Pack every service as an array of maps: the service's fields plus "up" and "age_ms". */
void zn_registry_pack(const zn_registry_t *self, int64_t now_ms, zn_pack_t *out);

typedef void(zn_registry_visit_fn)(void *arg, const zn_service_t *service, bool up, int64_t age_ms);

/* Call FN for every known service, sorted by role then host. */
void zn_registry_visit(const zn_registry_t *self, int64_t now_ms, zn_registry_visit_fn *fn,
                       void *arg);

#endif
