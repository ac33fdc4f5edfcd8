/* SPDX-License-Identifier: Apache-2.0 */
/* zn_compute.c - the compute agent's loop: casts and calls in, jobs out to the workers, and the
 * periodic resource reports, power sync and cache eviction. */
#include "zn_compute.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zn_agent.h"
#include "zn_caster.h"
#include "zn_cellrec.h"
#include "zn_clock.h"
#include "zn_compute_int.h"
#include "zn_fs.h"
#include "zn_log.h"
#include "zn_mem.h"
#include "zn_schema.h"
#include "zn_secure.h"
#include "zn_server.h"
#include "zn_str.h"
#include "zn_uuid.h"

#define S_WORKERS_MAX     256
#define S_FULL_SYNC_EVERY 10  /* every Nth power report lists every instance */
#define S_REPORT_RETRY_MS 500 /* until the first resource report went out */
#define S_EVENT_SYNC_MS   200 /* lifecycle events: at most one listing this often */
#define S_REAP_MS         50

const zn_cfg_opt_t zn_compute_options[] = {
    ZN_AGENT_CFG_ROWS(zn_compute_cfg_t, "compute", ZN_PORT_COMPUTE_ADMIN),
    ZN_CFG_STR_ROW(zn_compute_cfg_t, "rpc", "call_endpoint", call_endpoint,
                   "tcp://127.0.0.1:" ZN_PORT_COMPUTE_CALL, "where controllers call this node"),
    ZN_CFG_STR_ROW(zn_compute_cfg_t, "rpc", "cast_endpoint", cast_endpoint,
                   "tcp://127.0.0.1:" ZN_PORT_COMPUTE_CAST,
                   "where build, delete and power requests are cast to this node"),
    ZN_CFG_STR_ROW(zn_compute_cfg_t, "compute", "libvirt_uri", libvirt_uri, "test:///default",
                   "libvirt connection: qemu:///system on a real node"),
    ZN_CFG_STR_ROW(
        zn_compute_cfg_t, "compute", "domain_type", domain_type, "auto",
        "kvm, qemu (software emulation) or test; auto: test for test:// URIs, else qemu"),
    ZN_CFG_STR_ROW(zn_compute_cfg_t, "compute", "machine", machine, "",
                   "QEMU machine type (pc, q35); empty: libvirt's default"),
    ZN_CFG_STR_ROW(zn_compute_cfg_t, "compute", "state_dir", state_dir, "/var/lib/zinc/compute",
                   "instance disks and console logs (instances/), the image cache (images/)"),
    ZN_CFG_STR_ROW(zn_compute_cfg_t, "compute", "disk_mode", disk_mode, "auto",
                   "qcow2 (overlay on the cached image, with qemu-img), link (the cached image "
                   "itself, for the test driver) or auto"),
    ZN_CFG_STR_ROW(zn_compute_cfg_t, "compute", "qemu_img", qemu_img, "qemu-img",
                   "the qemu-img program"),
    ZN_CFG_STR_ROW(zn_compute_cfg_t, "compute", "local_images_dir", local_images_dir, "",
                   "without an image agent: boot images from files named by image id here"),
    /* 32: a build holds its worker across five round trips to other agents and mostly waits,
     * so 8 workers capped a host at ~350 builds/s on two cores where 32 reach ~490/s. */
    ZN_CFG_INT_ROW(zn_compute_cfg_t, "compute", "build_workers", build_workers, "32", 1,
                   S_WORKERS_MAX, "builds and other instance jobs run in parallel, at most this"),
    ZN_CFG_INT_ROW(zn_compute_cfg_t, "compute", "call_timeout_ms", call_timeout_ms, "30000", 100,
                   600000, "how long a call to the conductor, image, network or volume may take"),
    ZN_CFG_INT_ROW(zn_compute_cfg_t, "compute", "stop_timeout_ms", stop_timeout_ms, "60000", 0,
                   3600000, "how long a guest may take to shut down before it is powered off"),
    ZN_CFG_INT_ROW(zn_compute_cfg_t, "compute", "power_sync_interval_ms", power_sync_interval_ms,
                   "2000", 50, 3600000, "how often libvirt's power states are compared"),
    ZN_CFG_INT_ROW(zn_compute_cfg_t, "compute", "resource_interval_ms", resource_interval_ms,
                   "10000", 50, 3600000, "how often the node's resources are reported"),
    ZN_CFG_INT_ROW(zn_compute_cfg_t, "compute", "image_cache_max_mb", cache_max_mb, "20480", 0,
                   INT64_C(1) << 40, "unused cached images beyond this are evicted; 0: no limit"),
    ZN_CFG_INT_ROW(zn_compute_cfg_t, "compute", "image_cache_max_age_s", cache_max_age_s, "86400",
                   0, INT64_C(1) << 32,
                   "unused cached images older than this are "
                   "evicted; 0: no limit"),
    ZN_CFG_INT_ROW(zn_compute_cfg_t, "compute", "image_cache_evict_interval_ms",
                   cache_evict_interval_ms, "600000", 100, 86400000,
                   "how often the image cache is trimmed"),
    ZN_CFG_INT_ROW(zn_compute_cfg_t, "compute", "console_max_bytes", console_max_bytes, "1048576",
                   1024, 16777216 - 65536, "the most of a console log one console_log returns"),
    ZN_CFG_INT_ROW(zn_compute_cfg_t, "compute", "progress_after_ms", progress_after_ms, "1000", 0,
                   3600000,
                   "a build that took longer than this to reach its disk step reports "
                   "task_state spawning (one more store write; 0: always)"),
    ZN_CFG_INT_ROW(zn_compute_cfg_t, "resources", "vcpus", vcpus, "0", 0, 1 << 20,
                   "vCPUs to offer; 0: what libvirt reports"),
    ZN_CFG_INT_ROW(zn_compute_cfg_t, "resources", "ram_mb", ram_mb, "0", 0, INT64_C(1) << 40,
                   "RAM to offer in MiB; 0: what libvirt reports"),
    ZN_CFG_INT_ROW(zn_compute_cfg_t, "resources", "disk_gb", disk_gb, "0", 0, INT64_C(1) << 30,
                   "local disk to offer in GiB; 0: the size of state_dir's file system"),
    ZN_CFG_INT_ROW(zn_compute_cfg_t, "resources", "reserved_vcpus", reserved_vcpus, "0", 0, 1 << 20,
                   "vCPUs kept for the host"),
    ZN_CFG_INT_ROW(zn_compute_cfg_t, "resources", "reserved_ram_mb", reserved_ram_mb, "512", 0,
                   INT64_C(1) << 40, "RAM kept for the host, MiB"),
    ZN_CFG_INT_ROW(zn_compute_cfg_t, "resources", "reserved_disk_gb", reserved_disk_gb, "0", 0,
                   INT64_C(1) << 30, "disk kept for the host, GiB"),
    ZN_CFG_STR_ROW(zn_compute_cfg_t, "resources", "cpu_allocation_ratio", cpu_ratio, "4.0",
                   "virtual CPUs per physical one the scheduler may place"),
    ZN_CFG_STR_ROW(zn_compute_cfg_t, "resources", "ram_allocation_ratio", ram_ratio, "1.0",
                   "RAM overcommit the scheduler may place"),
    ZN_CFG_STR_ROW(zn_compute_cfg_t, "resources", "disk_allocation_ratio", disk_ratio, "1.0",
                   "disk overcommit the scheduler may place"),
    ZN_CFG_STR_ROW(zn_compute_cfg_t, "resources", "availability_zone", availability_zone, "nova",
                   "the availability zone this node is in"),
    ZN_CFG_STR_ROW(zn_compute_cfg_t, "peers", "image_call", image_call, "",
                   "the image agents' call endpoints; empty: images come from local_images_dir"),
    ZN_CFG_STR_ROW(zn_compute_cfg_t, "peers", "network_call", network_call, "",
                   "the network agents' call endpoints; empty: instances get no NICs"),
    ZN_CFG_STR_ROW(zn_compute_cfg_t, "peers", "volume_call", volume_call, "",
                   "the volume agents' call endpoints; empty: volumes are not attached"),
    ZN_CFG_END,
};

typedef struct s_worker {
    struct zn_compute *owner;
    zactor_t *actor;
    zn_job_t *job; /* in flight, NULL when idle */
} s_worker_t;

/* An instance the power sync watches, and the state last reported for it. */
typedef struct {
    int reported;
    int64_t since_us; /* when the agent last set it: a listing older than that says nothing */
} s_known_t;

struct zn_compute {
    const zn_compute_cfg_t *cfg;
    const zn_secure_t *secure; /* the agent's, borrowed */
    zn_agent_t *agent;
    zn_server_t *server;
    zn_virt_t *virt;
    zn_imgcache_t *cache;
    zn_cworker_env_t env;
    char keys[ZN_PEER_COUNT][ZN_KEY_Z85_LEN + 1];
    s_worker_t workers[S_WORKERS_MAX];
    size_t worker_count;
    zn_job_t *queue_head;
    zn_job_t *queue_tail;
    size_t queued;
    zhash_t *busy;         /* instance id -> its job in flight */
    zhash_t *known;        /* instance id -> s_known_t */
    zn_caster_t **casters; /* every conductor's cast endpoint */
    size_t caster_count;
    zn_virt_node_t node;
    double ratios[3];
    bool reconciled;
    bool reconcile_queued;
    bool sync_queued;
    bool evict_queued;
    bool resources_sent;
    unsigned sync_rounds;
    bool event_timer_armed;
    int report_timer;
    pthread_t reaper;
    bool reaping;
    bool reaper_stop; /* atomic: tells the reaper thread to end */
};

/* ---- the queue ----------------------------------------------------------------------------- */

static bool
s_is_instance_job(const zn_job_t *job)
{
    return job->kind <= ZN_JOB_DETACH;
}

static bool
s_may_run(zn_compute_t *self, const zn_job_t *job)
{
    if (!self->reconciled && job->kind != ZN_JOB_RECONCILE && job->kind != ZN_JOB_CONSOLE) {
        return false; /* nothing touches libvirt before it agrees with the store */
    }
    return !s_is_instance_job(job) || zhash_lookup(self->busy, job->instance_id) == NULL;
}

/* Take the first job that may run now off the queue, or NULL. */
static zn_job_t *
s_next_job(zn_compute_t *self)
{
    zn_job_t *prev = NULL;
    for (zn_job_t *job = self->queue_head; job != NULL; prev = job, job = job->next) {
        if (!s_may_run(self, job)) {
            continue;
        }
        if (prev == NULL) {
            self->queue_head = job->next;
        } else {
            prev->next = job->next;
        }
        if (self->queue_tail == job) {
            self->queue_tail = prev;
        }
        job->next = NULL;
        self->queued--;
        return job;
    }
    return NULL;
}

static void
s_dispatch(zn_compute_t *self)
{
    for (size_t i = 0; i < self->worker_count && self->queued > 0; i++) {
        s_worker_t *worker = &self->workers[i];
        if (worker->job != NULL) {
            continue;
        }
        zn_job_t *job = s_next_job(self);
        if (job == NULL) {
            return;
        }
        zn_metrics_observe_us(zn_agent_metrics(self->agent), "job_wait_us",
                              zn_clock_mono_us() - job->queued_us);
        if (s_is_instance_job(job)) {
            zhash_insert(self->busy, job->instance_id, job);
        }
        worker->job = job;
        if (zsock_send(zactor_sock(worker->actor), "sp", "JOB", job) < 0) {
            zn_log_error(job->req_id, "cannot hand a job to a worker");
            worker->job = NULL;
            zhash_delete(self->busy, job->instance_id);
            zn__job_destroy(&job);
        }
    }
}

static void
s_enqueue(zn_compute_t *self, zn_job_t *job)
{
    if (self->queue_tail == NULL) {
        self->queue_head = job;
    } else {
        self->queue_tail->next = job;
    }
    self->queue_tail = job;
    self->queued++;
    s_dispatch(self);
}

/* ---- reports to the conductor -------------------------------------------------------------- */

/* Cast METHOD with BODY to the first conductor that takes it. */
static int
s_cast(zn_compute_t *self, const char *method, zn_pack_t *body)
{
    int rc = ZN_EUNAVAIL;
    for (size_t i = 0; i < self->caster_count && rc < 0; i++) {
        rc = zn_caster_cast(self->casters[i], method, NULL, zn_pack_buf(body), NULL, NULL);
    }
    return rc;
}

static int64_t
s_local_disk_gb(const zn_compute_t *self)
{
    struct statvfs st;
    if (statvfs(self->cfg->state_dir, &st) < 0) {
        return 0;
    }
    return (int64_t)((uint64_t)st.f_blocks * st.f_frsize / (1024ULL * 1024 * 1024));
}

static void
s_pack_int(zn_pack_t *p, const char *key, int64_t value)
{
    zn_pack_str(p, key);
    zn_pack_i64(p, value);
}

static void
s_pack_resources(zn_compute_t *self, zn_pack_t *p)
{
    const zn_compute_cfg_t *cfg = self->cfg;
    zn_pack_map(p, 16);
    zn_pack_str(p, "host");
    zn_pack_str(p, cfg->common.host);
    s_pack_int(p, "vcpus", cfg->vcpus > 0 ? cfg->vcpus : self->node.vcpus);
    s_pack_int(p, "ram_mb", cfg->ram_mb > 0 ? cfg->ram_mb : self->node.ram_mb);
    s_pack_int(p, "disk_gb", cfg->disk_gb > 0 ? cfg->disk_gb : s_local_disk_gb(self));
    s_pack_int(p, "vcpus_reserved", cfg->reserved_vcpus);
    s_pack_int(p, "ram_mb_reserved", cfg->reserved_ram_mb);
    s_pack_int(p, "disk_gb_reserved", cfg->reserved_disk_gb);
    const char *ratio_names[] = {"cpu_ratio", "ram_ratio", "disk_ratio"};
    for (int i = 0; i < 3; i++) {
        zn_pack_str(p, ratio_names[i]);
        zn_pack_f64(p, self->ratios[i]);
    }
    zn_pack_str(p, "hypervisor_type");
    zn_pack_str(p, self->node.hypervisor_type);
    s_pack_int(p, "hypervisor_version", self->node.hypervisor_version);
    zn_pack_str(p, "arch");
    zn_pack_str(p, self->node.arch);
    zn_pack_str(p, "availability_zone");
    zn_pack_str(p, cfg->availability_zone);
    zn_pack_str(p, "call_endpoint");
    zn_pack_str(p, zn_server_call_endpoint(self->server));
    zn_pack_str(p, "cast_endpoint");
    zn_pack_str(p, zn_server_cast_endpoint(self->server));
}

/* The conductor writes hosts/HOST only when the report differs from what it holds, so repeating
 * it is cheap, and it heals a report lost while a conductor restarted. */
static int
s_report_resources(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    zn_compute_t *self = arg;
    zn_pack_t *p = zn_pack_new();
    s_pack_resources(self, p);
    int rc = s_cast(self, "resource_report", p);
    zn_pack_destroy(&p);
    if (rc == 0 && !self->resources_sent) {
        self->resources_sent = true;
        zloop_timer_end(zn_agent_loop(self->agent), self->report_timer);
        self->report_timer =
            zloop_timer(zn_agent_loop(self->agent), (size_t)self->cfg->resource_interval_ms, 0,
                        s_report_resources, self);
    }
    return 0;
}

/* ---- finished jobs ------------------------------------------------------------------------- */

static void
s_track(zn_compute_t *self, const char *id, int reported)
{
    s_known_t *known = zhash_lookup(self->known, id);
    if (known == NULL) {
        known = zn_calloc(1, sizeof(*known));
        zhash_insert(self->known, id, known);
        zhash_freefn(self->known, id, zn_free);
    }
    known->reported = reported;
    known->since_us = zn_clock_mono_us();
}

static void
s_build_done(zn_compute_t *self, zn_job_t *job)
{
    zn_metrics_t *metrics = zn_agent_metrics(self->agent);
    int64_t total = 0;
    for (int step = 0; step < ZN_STEP_COUNT; step++) {
        if (job->step_us[step] > 0) {
            zn_metrics_observe_us(metrics, zn__compute_step_metric((zn_build_step_t)step),
                                  job->step_us[step]);
            total += job->step_us[step];
        }
    }
    zn_metrics_observe_us(metrics, "build_us", total);
    if (job->built) {
        zn_metrics_count(metrics, "builds_ok", 1);
        s_track(self, job->instance_id, ZN_POWER_RUNNING);
    } else {
        zn_metrics_count(metrics, "builds_failed", 1);
    }
}

static void
s_console_done(zn_compute_t *self, zn_job_t *job)
{
    (void)self;
    zn_pack_t *p = zn_pack_new();
    if (job->rc == 0) {
        zn_pack_map(p, 1);
        zn_pack_str(p, "output");
        zn_pack_str(p, job->output);
    }
    int rc = zn_call_answer(&job->call, job->rc, zn_pack_buf(p), zn_fault_message(&job->fault));
    if (rc < 0) {
        zn_log_info(job->req_id, "console_log: the caller is gone");
    }
    zn_pack_destroy(&p);
}

static void s_sync_done(zn_compute_t *self, zn_job_t *job);

static void
s_reconcile_done(zn_compute_t *self, zn_job_t *job)
{
    self->reconcile_queued = false;
    if (job->rc < 0) {
        zn_log_warn(NULL, "reconciliation with the store failed (retrying): %s",
                    zn_fault_message(&job->fault));
        return;
    }
    for (size_t i = 0; i < job->inst_count; i++) {
        s_track(self, job->insts[i].id, job->insts[i].power_state);
    }
    self->reconciled = true;
}

static void
s_job_done(zn_compute_t *self, zn_job_t *job)
{
    zn_metrics_t *metrics = zn_agent_metrics(self->agent);
    switch (job->kind) {
    case ZN_JOB_BUILD:
        s_build_done(self, job);
        break;
    case ZN_JOB_DELETE:
        zn_metrics_count(metrics, job->rc == 0 ? "deletes_ok" : "deletes_failed", 1);
        if (job->gone) {
            zhash_delete(self->known, job->instance_id);
        }
        break;
    case ZN_JOB_START:
    case ZN_JOB_STOP:
    case ZN_JOB_REBOOT:
        zn_metrics_count(metrics, job->rc == 0 ? "actions_ok" : "actions_failed", 1);
        s_track(self, job->instance_id, job->power_state);
        break;
    case ZN_JOB_ATTACH:
    case ZN_JOB_DETACH:
        zn_metrics_count(metrics, job->rc == 0 ? "volume_actions_ok" : "volume_actions_failed", 1);
        break;
    case ZN_JOB_CONSOLE:
        s_console_done(self, job);
        break;
    case ZN_JOB_SYNC:
        s_sync_done(self, job);
        break;
    case ZN_JOB_EVICT:
        self->evict_queued = false;
        if (job->rc > 0) {
            zn_log_info(NULL, "image cache: %d unused image(s) evicted", job->rc);
        }
        break;
    case ZN_JOB_RECONCILE:
        s_reconcile_done(self, job);
        break;
    default:
        break;
    }
}

static int
s_on_worker(zloop_t *loop, zsock_t *pipe, void *arg)
{
    (void)loop;
    s_worker_t *worker = arg;
    zn_compute_t *self = worker->owner;
    char *command = NULL;
    void *ptr = NULL;
    if (zsock_recv(pipe, "sp", &command, &ptr) < 0) {
        return 0;
    }
    zstr_free(&command);
    zn_job_t *job = ptr;
    if (job == NULL || job != worker->job) {
        return 0;
    }
    worker->job = NULL;
    if (s_is_instance_job(job)) {
        zhash_delete(self->busy, job->instance_id);
    }
    s_job_done(self, job);
    zn__job_destroy(&job);
    s_dispatch(self);
    return 0;
}

/* ---- power sync ---------------------------------------------------------------------------- */

static int
s_power_of(const zn_job_t *job, const char *id)
{
    for (size_t i = 0; i < job->dom_count; i++) {
        if (strcasecmp(job->doms[i].uuid, id) == 0) {
            return job->doms[i].power_state;
        }
    }
    return ZN_POWER_NOSTATE; /* vanished behind zinc's back */
}

/* Pack the instances whose power state changed (every one on a full round) into P; returns how
 * many. */
static uint32_t
s_pack_changes(zn_compute_t *self, const zn_job_t *job, bool full, zn_pack_t *p)
{
    uint32_t count = 0;
    for (s_known_t *k = zhash_first(self->known); k != NULL; k = zhash_next(self->known)) {
        const char *id = zhash_cursor(self->known);
        int power = s_power_of(job, id);
        if (zhash_lookup(self->busy, id) != NULL || k->since_us >= job->listed_us ||
            (!full && power == k->reported)) {
            continue;
        }
        zn_pack_map(p, 2);
        zn_pack_str(p, "instance_id");
        zn_pack_str(p, id);
        zn_pack_str(p, "power_state");
        zn_pack_i64(p, power);
        if (power != k->reported) {
            zn_log_notice(NULL, "instance %s: power state %d -> %d (libvirt)", id, k->reported,
                          power);
        }
        k->reported = power;
        count++;
    }
    return count;
}

static void
s_sync_done(zn_compute_t *self, zn_job_t *job)
{
    self->sync_queued = false;
    if (job->rc < 0) {
        zn_log_warn(NULL, "power sync: %s", zn_fault_message(&job->fault));
        return;
    }
    bool full = ++self->sync_rounds % S_FULL_SYNC_EVERY == 0;
    zn_pack_t *items = zn_pack_new();
    uint32_t count = s_pack_changes(self, job, full, items);
    if (count > 0) {
        zn_pack_t *p = zn_pack_new();
        zn_pack_map(p, 2);
        zn_pack_str(p, "host");
        zn_pack_str(p, self->cfg->common.host);
        zn_pack_str(p, "instances");
        zn_pack_array(p, count);
        zn_pack_raw(p, zn_pack_buf(items));
        if (s_cast(self, "power_report", p) < 0) {
            self->sync_rounds = S_FULL_SYNC_EVERY - 1; /* say everything again next time */
        }
        zn_pack_destroy(&p);
    }
    zn_pack_destroy(&items);
}

static void
s_queue_background(zn_compute_t *self, zn_job_kind_t kind, bool *queued)
{
    if (*queued) {
        return;
    }
    *queued = true;
    zn_job_t *job = zn__job_new(kind, NULL, NULL);
    zn_uuid_request_id(job->req_id);
    s_enqueue(self, job);
}

static int
s_on_sync_timer(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    zn_compute_t *self = arg;
    if (!self->reconciled) {
        s_queue_background(self, ZN_JOB_RECONCILE, &self->reconcile_queued);
    } else {
        s_queue_background(self, ZN_JOB_SYNC, &self->sync_queued);
    }
    return 0;
}

static int
s_on_evict_timer(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    zn_compute_t *self = arg;
    s_queue_background(self, ZN_JOB_EVICT, &self->evict_queued);
    return 0;
}

static int
s_on_event_timer(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    zn_compute_t *self = arg;
    self->event_timer_armed = false;
    s_queue_background(self, ZN_JOB_SYNC, &self->sync_queued);
    return 0;
}

/* A lifecycle event: look at the domains soon rather than at the next tick. Events come by the
 * thousand while builds stream (each build and delete makes some), so they are gathered: at
 * most one listing per S_EVENT_SYNC_MS, however many events arrived meanwhile. */
static int
s_on_virt_event(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)item;
    zn_compute_t *self = arg;
    zn_virt_event_drain(self->virt);
    if (self->reconciled && !self->event_timer_armed &&
        zloop_timer(loop, S_EVENT_SYNC_MS, 1, s_on_event_timer, self) >= 0) {
        self->event_timer_armed = true;
    }
    return 0;
}

/* As a child subreaper (embedded QEMU), QEMU processes that libvirt daemonized become ours when
 * they exit: reap those, and only those, so that a destroy (and libvirt's capability probes,
 * which wait for their QEMU to vanish) completes at once, and no other waitpid (libvirt's for
 * the QEMU it started, qemu-img, libvirt's helpers) loses its child. Returns whether one was
 * reaped. */
static bool
s_reap_one(void)
{
    siginfo_t info;
    memset(&info, 0, sizeof(info));
    if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) < 0 || info.si_pid == 0) {
        return false;
    }
    char path[64];
    char comm[32] = "";
    (void)snprintf(path, sizeof(path), "/proc/%d/comm", (int)info.si_pid);
    FILE *f = fopen(path, "r");
    if (f != NULL) {
        if (fgets(comm, sizeof(comm), f) == NULL) {
            comm[0] = '\0';
        }
        (void)fclose(f);
    }
    /* QEMU daemonizes (fork, setsid, fork): libvirt waits for the process it started itself,
     * which is still in our session; the two that left it are the orphans to reap here. */
    bool adopted = getsid(info.si_pid) != getsid(0);
    return adopted && strncmp(comm, "qemu-system", 11) == 0 &&
           waitpid(info.si_pid, NULL, WNOHANG) > 0;
}

/* The reaper runs on a thread of its own: probes happen while the agent opens, before its loop
 * runs. */
static void *
s_reaper(void *arg)
{
    zn_compute_t *self = arg;
    while (!__atomic_load_n(&self->reaper_stop, __ATOMIC_ACQUIRE)) {
        while (s_reap_one()) {
        }
        usleep(S_REAP_MS * 1000);
    }
    return NULL;
}

/* ---- requests ------------------------------------------------------------------------------ */

typedef struct {
    char *instance_id;
    int64_t attempt;
    bool hard;
    int64_t length;
    char *volume_id;
    char *device;
} s_req_t;

static const zn_field_t s_req_fields[] = {
    {"instance_id", ZN_FT_STR, ZN_F_REQUIRED, offsetof(s_req_t, instance_id), 0, 64, NULL},
    {"attempt", ZN_FT_I64, 0, offsetof(s_req_t, attempt), 0, 0, NULL},
    {"hard", ZN_FT_BOOL, 0, offsetof(s_req_t, hard), 0, 0, NULL},
    {"length", ZN_FT_I64, 0, offsetof(s_req_t, length), 0, 0, NULL},
    {"volume_id", ZN_FT_STR, 0, offsetof(s_req_t, volume_id), 0, 63, NULL},
    {"device", ZN_FT_STR, 0, offsetof(s_req_t, device), 0, 31, NULL},
};
static const zn_schema_t s_req_schema = {"compute_request", 1, s_req_fields,
                                         ZN_ARRAY_COUNT(s_req_fields), sizeof(s_req_t)};

/* Decode CALL's body into a new job of KIND; the instance id must be a UUID (it names files
 * and the domain). */
static int
s_job_from(zn_compute_t *self, zn_call_t *call, zn_job_kind_t kind, zn_job_t **out,
           zn_fault_t *fault)
{
    *out = NULL;
    if (zn_agent_is_stopping(self->agent)) {
        return zn_fault_set(fault, ZN_EUNAVAIL, "the compute agent is stopping");
    }
    const zn_env_t *env = zn_call_env(call);
    s_req_t req;
    int rc = zn_schema_decode(&s_req_schema, env->body, &req, NULL, fault);
    if (rc < 0) {
        return rc;
    }
    if (!zn_uuid_is_valid(req.instance_id)) {
        rc = zn_fault_set(fault, -EINVAL, "%s: instance_id is not a UUID", env->method);
    } else {
        zn_job_t *job = zn__job_new(kind, req.instance_id, &env->ctx);
        job->hard = req.hard;
        job->length = req.length;
        (void)snprintf(job->volume_id, sizeof(job->volume_id), "%s",
                       req.volume_id != NULL ? req.volume_id : "");
        (void)snprintf(job->device, sizeof(job->device), "%s",
                       req.device != NULL ? req.device : "");
        *out = job;
    }
    zn_schema_release(&s_req_schema, &req);
    return rc;
}

static int
s_take(void *arg, zn_call_t *call, zn_job_kind_t kind, zn_fault_t *fault)
{
    zn_compute_t *self = arg;
    zn_job_t *job = NULL;
    int rc = s_job_from(self, call, kind, &job, fault);
    if (rc < 0) {
        zn_log_warn(zn_call_env(call)->ctx.req_id, "%s refused: %s", zn_call_env(call)->method,
                    zn_fault_message(fault));
        return rc;
    }
    zn_log_info(job->req_id, "%s instance %s", zn_call_env(call)->method, job->instance_id);
    s_enqueue(self, job);
    return 0;
}

#define S_CAST(name, kind)                                                           \
    static int name(void *arg, zn_call_t *call, zn_pack_t *reply, zn_fault_t *fault) \
    {                                                                                \
        (void)reply;                                                                 \
        return s_take(arg, call, kind, fault);                                       \
    }
S_CAST(s_build, ZN_JOB_BUILD)
S_CAST(s_delete, ZN_JOB_DELETE)
S_CAST(s_start, ZN_JOB_START)
S_CAST(s_stop, ZN_JOB_STOP)
S_CAST(s_reboot, ZN_JOB_REBOOT)
S_CAST(s_attach_volume, ZN_JOB_ATTACH)
S_CAST(s_detach_volume, ZN_JOB_DETACH)
#undef S_CAST

static int
s_console_log(void *arg, zn_call_t *call, zn_pack_t *reply, zn_fault_t *fault)
{
    (void)reply;
    zn_compute_t *self = arg;
    zn_job_t *job = NULL;
    int rc = s_job_from(self, call, ZN_JOB_CONSOLE, &job, fault);
    if (rc < 0) {
        return rc;
    }
    job->call = zn_call_defer(call);
    s_enqueue(self, job);
    return ZN_DEFERRED;
}

/* Host facts, for operators. */
static int
s_describe(void *arg, zn_call_t *call, zn_pack_t *reply, zn_fault_t *fault)
{
    (void)call;
    (void)fault;
    s_pack_resources(arg, reply);
    return 0;
}

static const zn_method_t s_methods[] = {
    {"build", s_build, ZN_M_CAST},
    {"delete", s_delete, ZN_M_CAST},
    {"start", s_start, ZN_M_CAST},
    {"stop", s_stop, ZN_M_CAST},
    {"reboot", s_reboot, ZN_M_CAST},
    {"attach_volume", s_attach_volume, ZN_M_CAST},
    {"detach_volume", s_detach_volume, ZN_M_CAST},
    {"console_log", s_console_log, ZN_M_CALL},
    {"describe", s_describe, ZN_M_CALL},
    {NULL, NULL, 0},
};

/* ---- start-up ------------------------------------------------------------------------------ */

static void
s_status(void *arg, zn_pack_t *out)
{
    zn_compute_t *self = arg;
    size_t running = 0;
    for (size_t i = 0; i < self->worker_count; i++) {
        running += self->workers[i].job != NULL;
    }
    zn_pack_map(out, 5);
    s_pack_int(out, "jobs_queued", (int64_t)self->queued);
    s_pack_int(out, "jobs_running", (int64_t)running);
    s_pack_int(out, "instances", (int64_t)zhash_size(self->known));
    zn_pack_str(out, "reconciled");
    zn_pack_bool(out, self->reconciled);
    zn_pack_str(out, "libvirt_uri");
    zn_pack_str(out, self->cfg->libvirt_uri);
}

static bool
s_drained(void *arg)
{
    zn_compute_t *self = arg;
    for (size_t i = 0; i < self->worker_count; i++) {
        if (self->workers[i].job != NULL) {
            return false;
        }
    }
    return true;
}

static int
s_open_agent(zn_compute_t *self, zn_fault_t *fault)
{
    zn_agent_opts_t opts = {
        .role = "compute",
        .status = s_status,
        .drained = s_drained,
        .arg = self,
    };
    int rc = zn_agent_open_from(&self->agent, &self->cfg->common, &opts, fault);
    if (rc == 0) {
        self->secure = zn_agent_secure(self->agent);
    }
    return rc;
}

static int
s_parse_ratios(zn_compute_t *self, zn_fault_t *fault)
{
    const char *texts[] = {self->cfg->cpu_ratio, self->cfg->ram_ratio, self->cfg->disk_ratio};
    for (int i = 0; i < 3; i++) {
        char *end = NULL;
        double v = strtod(texts[i], &end);
        if (end == texts[i] || *end != '\0' || !(v > 0.0) || v > 1000.0) {
            return zn_fault_set(fault, ZN_ECONFIG,
                                "[resources] allocation ratio '%s' is not a "
                                "number in (0, 1000]",
                                texts[i]);
        }
        self->ratios[i] = v;
    }
    return 0;
}

static int
s_resolve_modes(zn_compute_t *self, zn_fault_t *fault)
{
    const zn_compute_cfg_t *cfg = self->cfg;
    bool test = zn_virt_uri_is_test(cfg->libvirt_uri);
    const char *type = cfg->domain_type;
    if (strcmp(type, "auto") == 0) {
        type = test ? "test" : "qemu";
    } else if (strcmp(type, "kvm") != 0 && strcmp(type, "qemu") != 0 && strcmp(type, "test") != 0) {
        return zn_fault_set(fault, ZN_ECONFIG,
                            "[compute] domain_type '%s': kvm, qemu, test or "
                            "auto",
                            type);
    }
    self->env.domain_type = type;
    if (strcmp(cfg->disk_mode, "auto") == 0) {
        self->env.disk_qcow2 = !test;
    } else if (strcmp(cfg->disk_mode, "qcow2") == 0 || strcmp(cfg->disk_mode, "link") == 0) {
        self->env.disk_qcow2 = strcmp(cfg->disk_mode, "qcow2") == 0;
    } else {
        return zn_fault_set(fault, ZN_ECONFIG, "[compute] disk_mode '%s': qcow2, link or auto",
                            cfg->disk_mode);
    }
    return s_parse_ratios(self, fault);
}

static int
s_open_libvirt(zn_compute_t *self, zn_fault_t *fault)
{
    const zn_compute_cfg_t *cfg = self->cfg;
    /* Embedded QEMU runs its guests as our descendants: be their reaper, so that a destroyed
     * guest is gone at once rather than when PID 1 next reaps orphans. */
    if (strstr(cfg->libvirt_uri, "embed") != NULL) {
        if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0 ||
            pthread_create(&self->reaper, NULL, s_reaper, self) != 0) {
            return zn_fault_set(fault, -EINVAL, "cannot become a child subreaper");
        }
        self->reaping = true;
    }
    int rc = zn_virt_open(&self->virt, cfg->libvirt_uri, true, fault);
    if (rc == 0) {
        rc = zn_virt_node_info(self->virt, &self->node, fault);
    }
    if (rc == 0 && zn_virt_event_fd(self->virt) >= 0) {
        zmq_pollitem_t item = {NULL, zn_virt_event_fd(self->virt), ZMQ_POLLIN, 0};
        if (zloop_poller(zn_agent_loop(self->agent), &item, s_on_virt_event, self) < 0) {
            rc = zn_fault_set(fault, -EINVAL, "cannot watch libvirt events");
        }
    }
    return rc;
}

static int
s_open_storage(zn_compute_t *self, zn_fault_t *fault)
{
    const zn_compute_cfg_t *cfg = self->cfg;
    self->env.instances_dir = zn_asprintf("%s/instances", cfg->state_dir);
    int rc = zn_fs_mkdir_p(self->env.instances_dir, 0750);
    if (rc < 0) {
        return zn_fault_set(fault, rc, "cannot create %s: %s", self->env.instances_dir,
                            zn_strerror(rc));
    }
    char *images = zn_asprintf("%s/images", cfg->state_dir);
    rc = zn_imgcache_open(&self->cache, images, cfg->cache_max_mb * 1024 * 1024,
                          cfg->cache_max_age_s * 1000, fault);
    zn_str_free(&images);
    return rc;
}

static int
s_open_peer_keys(zn_compute_t *self, zn_fault_t *fault)
{
    const char *names[ZN_PEER_COUNT] = {"conductor", "image", "network", "volume"};
    const char *endpoints[ZN_PEER_COUNT] = {"-", self->cfg->image_call, self->cfg->network_call,
                                            self->cfg->volume_call};
    const char **publics[ZN_PEER_COUNT] = {&self->env.conductor_public, &self->env.image_public,
                                           &self->env.network_public, &self->env.volume_public};
    for (int i = 0; i < ZN_PEER_COUNT; i++) {
        if (endpoints[i][0] == '\0') {
            zn_log_notice(NULL,
                          "no %s agent configured ([peers] %s_call): that build step is "
                          "skipped",
                          names[i], names[i]);
            continue;
        }
        int rc = zn_secure_peer_public(self->secure, names[i], self->keys[i], fault);
        if (rc < 0) {
            return rc;
        }
        *publics[i] = zn_secure_public_or_null(self->secure, self->keys[i]);
    }
    self->env.cfg = self->cfg;
    self->env.virt = self->virt;
    self->env.cache = self->cache;
    self->env.keys = zn_secure_keys(self->secure);
    return 0;
}

static int
s_open_workers(zn_compute_t *self, zn_fault_t *fault)
{
    zloop_t *loop = zn_agent_loop(self->agent);
    for (int64_t i = 0; i < self->cfg->build_workers; i++) {
        s_worker_t *worker = &self->workers[self->worker_count];
        worker->owner = self;
        worker->actor = zn__cworker_new(&self->env);
        self->worker_count++;
        if (zloop_reader(loop, zactor_sock(worker->actor), s_on_worker, worker) < 0) {
            return zn_fault_set(fault, -EINVAL, "cannot watch a worker");
        }
    }
    return 0;
}

static int
s_open_casters(zn_compute_t *self, zn_fault_t *fault)
{
    char **endpoints = zn_str_split(self->cfg->common.conductor_cast, ',', &self->caster_count);
    self->casters = zn_calloc(self->caster_count + 1, sizeof(zn_caster_t *));
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < self->caster_count; i++) {
        zn_caster_opts_t opts = {
            .name = "conductor",
            .endpoint = endpoints[i],
            .keys = zn_secure_keys(self->secure),
            .server_public = self->env.conductor_public,
        };
        rc = zn_caster_open(&self->casters[i], &opts, fault);
    }
    zn_strv_free(&endpoints);
    return rc;
}

static int
s_open_timers(zn_compute_t *self, zn_fault_t *fault)
{
    zloop_t *loop = zn_agent_loop(self->agent);
    const zn_compute_cfg_t *cfg = self->cfg;
    self->report_timer = zloop_timer(loop, S_REPORT_RETRY_MS, 0, s_report_resources, self);
    int a = zloop_timer(loop, (size_t)cfg->power_sync_interval_ms, 0, s_on_sync_timer, self);
    int b = zloop_timer(loop, (size_t)cfg->cache_evict_interval_ms, 0, s_on_evict_timer, self);
    if (self->report_timer < 0 || a < 0 || b < 0) {
        return zn_fault_set(fault, -EINVAL, "cannot start the timers");
    }
    (void)s_report_resources(loop, self->report_timer, self);
    s_queue_background(self, ZN_JOB_RECONCILE, &self->reconcile_queued);
    return 0;
}

typedef int(s_open_fn)(zn_compute_t *self, zn_fault_t *fault);

static int
s_open_server(zn_compute_t *self, zn_fault_t *fault)
{
    int rc = zn_agent_serve(self->agent, "compute", self->cfg->call_endpoint,
                            self->cfg->cast_endpoint, s_methods, self, &self->server, fault);
    if (rc == 0) {
        rc = zn_agent_announce(self->agent, &self->cfg->common, self->server, fault);
    }
    return rc;
}

int
zn_compute_open(zn_compute_t **out, const zn_compute_cfg_t *cfg)
{
    *out = NULL;
    zn_compute_t *self = zn_calloc(1, sizeof(*self));
    self->cfg = cfg;
    self->busy = zhash_new();
    self->known = zhash_new();
    zn_fault_t fault;
    zn_fault_clear(&fault);
    s_open_fn *const steps[] = {s_open_agent,   s_resolve_modes,  s_open_libvirt,
                                s_open_storage, s_open_peer_keys, s_open_workers,
                                s_open_casters, s_open_server,    s_open_timers};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < ZN_ARRAY_COUNT(steps); i++) {
        rc = steps[i](self, &fault);
    }
    if (rc < 0) {
        zn_log_error(NULL, "cannot start: %s", zn_fault_message(&fault));
        zn_compute_destroy(&self);
        return rc;
    }
    zn_log_notice(NULL, "compute on %s (%s %s, %" PRId64 " vCPUs, %" PRId64 " MiB), %zu workers",
                  cfg->libvirt_uri, self->node.hypervisor_type, self->env.domain_type,
                  self->node.vcpus, self->node.ram_mb, self->worker_count);
    *out = self;
    return 0;
}

void
zn_compute_destroy(zn_compute_t **self_p)
{
    zn_compute_t *self = *self_p;
    if (self == NULL) {
        return;
    }
    for (size_t i = 0; i < self->worker_count; i++) {
        zactor_destroy(&self->workers[i].actor); /* waits for the job in flight */
        zn__job_destroy(&self->workers[i].job);  /* never reported back */
    }
    while (self->queue_head != NULL) {
        zn_job_t *job = self->queue_head;
        self->queue_head = job->next;
        zn__job_destroy(&job);
    }
    for (size_t i = 0; i < self->caster_count; i++) {
        zn_caster_destroy(&self->casters[i]);
    }
    zn_free(self->casters);
    zn_server_destroy(&self->server);
    zn_agent_destroy(&self->agent);
    zn_imgcache_destroy(&self->cache);
    zn_virt_destroy(&self->virt);
    if (self->reaping) {
        __atomic_store_n(&self->reaper_stop, true, __ATOMIC_RELEASE);
        (void)pthread_join(self->reaper, NULL);
    }
    zhash_destroy(&self->busy);
    zhash_destroy(&self->known);
    zn_str_free(&self->env.instances_dir);
    zn_free(self);
    *self_p = NULL;
}

int
zn_compute_watch_pipe(zn_compute_t *self, zsock_t *pipe)
{
    return zn_agent_watch_pipe(self->agent, pipe);
}

const char *
zn_compute_call_endpoint(const zn_compute_t *self)
{
    return zn_server_call_endpoint(self->server);
}

const char *
zn_compute_cast_endpoint(const zn_compute_t *self)
{
    return zn_server_cast_endpoint(self->server);
}

const char *
zn_compute_admin_endpoint(const zn_compute_t *self)
{
    return zn_agent_admin_endpoint(self->agent);
}

int
zn_compute_run(zn_compute_t *self)
{
    return zn_agent_run(self->agent);
}
