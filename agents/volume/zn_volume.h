/* SPDX-License-Identifier: Apache-2.0 */
/* zn_volume.h - zinc-volume: the block storage service (Cinder v3.0 subset) on its REST port,
 * and volume_get / volume_attach / volume_detach for compute agents on its call socket
 * (docs/flow.md, steps 25-27). Volumes live in the replicated store's `volumes` table; their
 * bytes live in the configured backend (zn_vbackend.h). */
#ifndef ZN_VOLUME_H
#define ZN_VOLUME_H

#include <stdint.h>

#include <czmq.h>

#include "zn_agent_cfg.h"
#include "zn_cfg.h"
#include "zn_err.h"

typedef struct zn_volume_cfg {
    zn_agent_cfg_t common;
    char *call_endpoint;
    char *http_endpoint;
    char *url_prefix;
    char *store_dir;
    int64_t http_body_max_bytes;
    int64_t max_limit;
    int64_t max_size_gb;
    char *backend;
    char *volume_dir;
    char *format;
    char *qemu_img;
    int64_t quota_volumes;
    int64_t quota_gigabytes;
    char *identity_call;
    char *image_call;
    int64_t call_timeout_ms;
} zn_volume_cfg_t;

extern const zn_cfg_opt_t zn_volume_options[];

typedef struct zn_volume zn_volume_t;

/* Open the backend, the store client, the identity and image clients, the REST port and the
 * call socket per CFG (borrowed; must outlive the agent). Returns 0 or a negative errno, having
 * logged why. */
ZN_MUST_CHECK int zn_volume_open(zn_volume_t **out, const zn_volume_cfg_t *cfg);

void zn_volume_destroy(zn_volume_t **self_p);

/* Serve until SIGTERM/SIGINT (or $TERM on a watched pipe). Returns 0. */
int zn_volume_run(zn_volume_t *self);

/* Stop when PIPE says "$TERM" (tests run the agent as a czmq actor). */
ZN_MUST_CHECK int zn_volume_watch_pipe(zn_volume_t *self, zsock_t *pipe);

/* The REST port and the call endpoint actually bound. */
uint16_t zn_volume_http_port(const zn_volume_t *self);
const char *zn_volume_call_endpoint(const zn_volume_t *self);

#endif
