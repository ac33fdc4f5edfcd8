/* SPDX-License-Identifier: Apache-2.0 */
/* zn_compute.h - zinc-compute: the agent on each hypervisor node (docs/compute.md). It reports
 * the node's resources to the conductor, takes build, delete, start, stop and reboot casts
 * (docs/flow.md steps 12-13), builds domains on libvirt with the image, network and volume
 * agents (steps 14-28), keeps the recorded power states true and reconciles libvirt with the
 * store after a restart. Everything that may block runs on worker threads; the agent's loop
 * thread only routes messages. */
#ifndef ZN_COMPUTE_H
#define ZN_COMPUTE_H

#include <stdint.h>

#include <czmq.h>

#include "zn_agent_cfg.h"
#include "zn_cfg.h"
#include "zn_err.h"

#define ZN_PORT_COMPUTE_CALL  "7105"
#define ZN_PORT_COMPUTE_ADMIN "7205"
#define ZN_PORT_COMPUTE_CAST  "7305"

typedef struct zn_compute_cfg {
    zn_agent_cfg_t common;
    char *call_endpoint;
    char *cast_endpoint;
    /* [compute] */
    char *libvirt_uri;
    char *domain_type; /* auto, kvm, qemu, test */
    char *machine;     /* "" for libvirt's default */
    char *state_dir;   /* instances/ and images/ */
    char *disk_mode;   /* auto, qcow2, link */
    char *qemu_img;
    char *local_images_dir;
    int64_t build_workers;
    int64_t call_timeout_ms;
    int64_t stop_timeout_ms;
    int64_t power_sync_interval_ms;
    int64_t resource_interval_ms;
    int64_t cache_max_mb;
    int64_t cache_max_age_s;
    int64_t cache_evict_interval_ms;
    int64_t console_max_bytes;
    int64_t progress_after_ms;
    /* [resources] */
    int64_t vcpus;
    int64_t ram_mb;
    int64_t disk_gb;
    int64_t reserved_vcpus;
    int64_t reserved_ram_mb;
    int64_t reserved_disk_gb;
    char *cpu_ratio;
    char *ram_ratio;
    char *disk_ratio;
    char *availability_zone;
    /* [peers] */
    char *image_call;
    char *network_call;
    char *volume_call;
} zn_compute_cfg_t;

extern const zn_cfg_opt_t zn_compute_options[];

typedef struct zn_compute zn_compute_t;

/* Open libvirt, bind per CFG (borrowed; must outlive the agent), start the workers, the
 * heartbeats, the resource reports, the power sync and the restart reconciliation. Returns 0 or
 * a negative errno, having logged why. */
ZN_MUST_CHECK int zn_compute_open(zn_compute_t **out, const zn_compute_cfg_t *cfg);

/* Stop the workers (jobs in flight finish first) and free. */
void zn_compute_destroy(zn_compute_t **self_p);

/* Stop when PIPE says "$TERM" (tests run the agent as a czmq actor). */
ZN_MUST_CHECK int zn_compute_watch_pipe(zn_compute_t *self, zsock_t *pipe);

/* The endpoints actually bound. Borrowed from SELF. */
const char *zn_compute_call_endpoint(const zn_compute_t *self);
const char *zn_compute_cast_endpoint(const zn_compute_t *self);
const char *zn_compute_admin_endpoint(const zn_compute_t *self);

/* Serve until SIGTERM/SIGINT. Returns 0. */
int zn_compute_run(zn_compute_t *self);

#endif
