/* SPDX-License-Identifier: Apache-2.0 */
/* zn_compute_int.h - inside the compute agent: the jobs its loop hands to worker threads, and
 * the workers that run them. A job belongs to the loop until it is sent to a worker, to the
 * worker until it comes back; nobody else touches it in between. */
#ifndef ZN_COMPUTE_INT_H
#define ZN_COMPUTE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <czmq.h>

#include "zn_client.h"
#include "zn_compute.h"
#include "zn_env.h"
#include "zn_imgcache.h"
#include "zn_keys.h"
#include "zn_server.h"
#include "zn_virt.h"

typedef enum {
    ZN_JOB_BUILD,
    ZN_JOB_DELETE,
    ZN_JOB_START,
    ZN_JOB_STOP,
    ZN_JOB_REBOOT,
    ZN_JOB_ATTACH, /* attach_volume */
    ZN_JOB_DETACH, /* detach_volume; the kinds up to here are an instance's, one at a time */
    ZN_JOB_CONSOLE,
    ZN_JOB_SYNC,      /* list zinc's domains and their power states */
    ZN_JOB_EVICT,     /* image cache eviction */
    ZN_JOB_RECONCILE, /* after a (re)start: libvirt against the store */
    ZN_JOB_KIND_COUNT,
} zn_job_kind_t;

/* The steps of a build, in order: each one is timed, and the failed one is named in
 * build_result. */
#define ZN_BUILD_STEPS(X)                             \
    X(ZN_STEP_TAKE, "take", "build_take_us")          \
    X(ZN_STEP_IMAGE, "image", "build_image_us")       \
    X(ZN_STEP_NETWORK, "network", "build_network_us") \
    X(ZN_STEP_VOLUME, "volume", "build_volume_us")    \
    X(ZN_STEP_DISK, "disk", "build_disk_us")          \
    X(ZN_STEP_DEFINE, "define", "build_define_us")    \
    X(ZN_STEP_START, "start", "build_start_us") X(ZN_STEP_REPORT, "report", "build_report_us")

typedef enum {
#define ZN_STEP_ENUM(id, name, metric) id,
    ZN_BUILD_STEPS(ZN_STEP_ENUM)
#undef ZN_STEP_ENUM
    ZN_STEP_COUNT,
} zn_build_step_t;

const char *zn__compute_step_name(zn_build_step_t step);
const char *zn__compute_step_metric(zn_build_step_t step);

/* An instance the store places on this host, as host_instances lists it. */
typedef struct zn_job_inst {
    char id[ZN_VIRT_UUID_LEN + 1];
    int power_state;
} zn_job_inst_t;

typedef struct zn_job {
    zn_job_kind_t kind;
    char instance_id[ZN_VIRT_UUID_LEN + 1];
    char volume_id[64]; /* attach, detach */
    char device[32];    /* attach: "/dev/vdX" or "" */
    char req_id[ZN_ID_MAX + 1];
    char *token;     /* the user's, from the cast's context; wiped when freed */
    bool hard;       /* reboot */
    int64_t length;  /* console lines, 0: all */
    zn_call_t *call; /* console: the deferred call, loop-only */
    int64_t queued_us;
    struct zn_job *next; /* loop-only: the queue */
    /* Filled by the worker. */
    int rc;
    zn_fault_t fault;
    char *output;    /* console */
    bool built;      /* build: the domain runs and the conductor knows */
    bool gone;       /* delete: no longer this host's */
    int power_state; /* lifecycle: the state afterwards */
    int64_t step_us[ZN_STEP_COUNT];
    zn_virt_dom_t *doms; /* sync: zinc's domains */
    int64_t listed_us;   /* sync: when libvirt was asked */
    size_t dom_count;
    zn_job_inst_t *insts; /* reconcile: this host's instances, as the store knows them */
    size_t inst_count;
} zn_job_t;

zn_job_t *zn__job_new(zn_job_kind_t kind, const char *instance_id, const zn_ctx_t *ctx);
void zn__job_destroy(zn_job_t **job_p);

/* What every worker shares, all of it read-only or thread-safe. */
typedef struct zn_cworker_env {
    const zn_compute_cfg_t *cfg;
    zn_virt_t *virt;       /* thread-safe */
    zn_imgcache_t *cache;  /* stateless */
    const zn_keys_t *keys; /* NULL: plaintext */
    const char *conductor_public;
    const char *image_public;
    const char *network_public;
    const char *volume_public;
    const char *domain_type; /* resolved: kvm, qemu, test */
    bool disk_qcow2;         /* qcow2 overlays with qemu-img; else hard links (test driver) */
    char *instances_dir;
} zn_cworker_env_t;

/* A worker thread: receives job pointers on its pipe ("JOB", p), runs each, and sends it back
 * ("DONE", p). ENV must outlive it. */
zactor_t *zn__cworker_new(zn_cworker_env_t *env);

/* Per-thread state of a worker: its own clients (ZeroMQ sockets are not shared). */
typedef struct zn_cworker zn_cworker_t;

/* The jobs, run on a worker thread (zn_compute_build.c and zn_compute_ops.c). */
void zn__cworker_build(zn_cworker_t *w, zn_job_t *job);
void zn__cworker_delete(zn_cworker_t *w, zn_job_t *job);
void zn__cworker_power(zn_cworker_t *w, zn_job_t *job);
void zn__cworker_attach(zn_cworker_t *w, zn_job_t *job);
void zn__cworker_detach(zn_cworker_t *w, zn_job_t *job);
void zn__cworker_console(zn_cworker_t *w, zn_job_t *job);
void zn__cworker_sync(zn_cworker_t *w, zn_job_t *job);
void zn__cworker_reconcile(zn_cworker_t *w, zn_job_t *job);

/* Worker services for the jobs. */
const zn_cworker_env_t *zn__cworker_env(const zn_cworker_t *w);

typedef enum {
    ZN_PEER_CONDUCTOR,
    ZN_PEER_IMAGE,
    ZN_PEER_NETWORK,
    ZN_PEER_VOLUME,
    ZN_PEER_COUNT,
} zn_peer_t;

/* True when PEER is configured ([peers] *_call not empty; the conductor always is). */
bool zn__cworker_has(const zn_cworker_t *w, zn_peer_t peer);

/* Call METHOD on PEER with JOB's request id and token and BODY; on 0 *reply is the caller's.
 * Returns the remote code or a local one, with FAULT. */
ZN_MUST_CHECK int zn__cworker_call(zn_cworker_t *w, zn_peer_t peer, const zn_job_t *job,
                                   const char *method, zn_pack_t *body, zn_reply_t **reply,
                                   zn_fault_t *fault);

/* The instance's directory, console log and volume list paths (the caller's, zn_str_free). */
char *zn__cworker_path(const zn_cworker_t *w, const char *instance_id, const char *leaf);

/* Remove the instance's directory and everything in it. */
void zn__cworker_remove_dir(const zn_cworker_t *w, const char *instance_id);

/* Note VOLUME_ID in the instance's "volumes" list (before asking for the attachment, so that an
 * undo or a later delete detaches it even when the answer never came). Returns 0 or -EIO. */
ZN_MUST_CHECK int zn__cworker_note_volume(zn_cworker_t *w, const char *instance_id,
                                          const char *volume_id, zn_fault_t *fault);

/* Keep XML, the <disk> element volume VOLUME_ID was plugged in with, for its detach. */
void zn__cworker_save_disk(zn_cworker_t *w, const char *instance_id, const char *volume_id,
                           const char *xml);

/* That element (the caller's, zn_str_free), or NULL. */
char *zn__cworker_load_disk(zn_cworker_t *w, const char *instance_id, const char *volume_id);

/* Drop VOLUME_ID from the instance's list and its saved element. */
void zn__cworker_forget_volume(zn_cworker_t *w, const char *instance_id, const char *volume_id);

/* Release what the instance holds outside libvirt: its ports (port_release by device) and the
 * volumes listed in its directory. Best effort: failures are logged; returns the first one. */
int zn__cworker_release(zn_cworker_t *w, const zn_job_t *job);

/* Report to the conductor (instance_update with the fields given; NULL/-1 leave one out). */
ZN_MUST_CHECK int zn__cworker_update(zn_cworker_t *w, const zn_job_t *job, const char *vm_state,
                                     const char *task_state, int power_state, const char *result,
                                     const char *message, zn_fault_t *fault);

#endif
