/* SPDX-License-Identifier: Apache-2.0 */
/* zn_image.h - zinc-image: the Glance v2 subset over HTTP (images: create, upload streamed to a
 * filesystem store, download, list, show, JSON-patch update, delete) and image_get and
 * image_read over ZeroMQ for compute agents (steps 19-21 of the flow). Records live in the
 * replicated store's `images` table. docs/image.md. */
#ifndef ZN_IMAGE_H
#define ZN_IMAGE_H

#include <stdbool.h>
#include <stdint.h>

#include <czmq.h>

#include "zn_agent_cfg.h"
#include "zn_cfg.h"
#include "zn_err.h"

typedef struct zn_image_cfg {
    zn_agent_cfg_t common;
    char *call_endpoint;
    char *http_endpoint;
    char *url_prefix;
    int64_t http_body_max_bytes;
    char *store_dir;
    bool fsync;
    int64_t max_image_bytes;
    int64_t project_quota_bytes;
    char *store_replica_dir;
    char *store_conductor_call;
    int64_t write_timeout_ms;
    char *identity_call;
    int64_t token_cache_ttl_ms;
} zn_image_cfg_t;

extern const zn_cfg_opt_t zn_image_options[];

typedef struct zn_image zn_image_t;

/* Open the file store, connect to the store and identity, bind the HTTP and RPC endpoints and
 * start heartbeats, per CFG (borrowed; must outlive the agent). Returns 0 or a negative errno,
 * having logged why. */
ZN_MUST_CHECK int zn_image_open(zn_image_t **out, const zn_image_cfg_t *cfg);

void zn_image_destroy(zn_image_t **self_p);

/* Serve until SIGTERM/SIGINT (or $TERM on a watched pipe). Returns 0. Loop thread. */
int zn_image_run(zn_image_t *self);

/* Also stop on "$TERM" from PIPE, to run the agent as a czmq actor (tests, benchmarks). */
ZN_MUST_CHECK int zn_image_watch_pipe(zn_image_t *self, zsock_t *pipe);

/* The HTTP port and the RPC call endpoint actually bound (wildcards resolved). */
uint16_t zn_image_http_port(const zn_image_t *self);
const char *zn_image_call_endpoint(const zn_image_t *self);

#endif
