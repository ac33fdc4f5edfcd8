/* SPDX-License-Identifier: Apache-2.0 */
/* zn_conductor_release.h - what a deleted instance held on other services, given back by the
 * conductor when no compute agent can do it (instance_delete: the instance never had a host, or
 * its host is down): its ports (the network agent's port_release by device) and its volumes (the
 * volume agent's volume_detach). Controller calls without a user token, which both agents accept
 * from controller keys. Loop thread. */
#ifndef ZN_CONDUCTOR_RELEASE_H
#define ZN_CONDUCTOR_RELEASE_H

#include <stddef.h>

#include <czmq.h>

#include "zn_env.h"
#include "zn_err.h"
#include "zn_metrics.h"
#include "zn_secure.h"

typedef struct zn_conductor_release zn_conductor_release_t;

typedef struct zn_conductor_release_opts {
    const char *network_call;  /* the network agents' call endpoints; empty: no ports to free */
    const char *volume_call;   /* the volume agents' call endpoints; empty: no volumes */
    int64_t timeout_ms;        /* per call */
    const zn_secure_t *secure; /* borrowed: our keys and the peers' public keys */
    zloop_t *loop;
    zn_metrics_t *metrics; /* borrowed, may be NULL */
} zn_conductor_release_opts_t;

/* Connect per OPTS. Returns 0 or a negative errno with FAULT (a peer's public key missing). */
ZN_MUST_CHECK int zn_conductor_release_open(zn_conductor_release_t **out,
                                            const zn_conductor_release_opts_t *opts,
                                            zn_fault_t *fault);

/* Close; releases still running end with -ECANCELED first. No-op on NULL. */
void zn_conductor_release_destroy(zn_conductor_release_t **self_p);

/* Called once when a release ends: FAULT->code 0 when everything was given back (or there was
 * nothing to give), else the first failure. */
typedef void(zn_conductor_release_fn)(void *arg, const zn_fault_t *fault);

/* Give back the ports of device INSTANCE_ID, then detach each of VOLUMES (copied) from it, for
 * the request CTX (its request id, and the user's token when it has one: with CURVE off, the
 * network and volume agents accept no call without one; copied). FN runs later, never inside
 * this call. Returns 0; -ENOENT when no configured
 * service has anything to give back (the caller goes on at once); FN never runs on an error. */
ZN_MUST_CHECK int zn_conductor_release_start(zn_conductor_release_t *self, const zn_ctx_t *ctx,
                                             const char *instance_id, char *const *volumes,
                                             size_t volume_count, zn_conductor_release_fn *fn,
                                             void *arg);

#endif
