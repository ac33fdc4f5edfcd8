/* SPDX-License-Identifier: Apache-2.0 */
/* zn_compute_ops.c - the compute agent's other jobs, on a worker thread: delete, start, stop,
 * reboot, the console log, the power-state listing and the reconciliation after a restart. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zn_cellrec.h"
#include "zn_clock.h"
#include "zn_compute_int.h"
#include "zn_log.h"
#include "zn_mem.h"
#include "zn_schema.h"
#include "zn_uuid.h"

/* ---- delete -------------------------------------------------------------------------------- */

static int
s_report(zn_cworker_t *w, const zn_job_t *job, const char *method, zn_fault_t *fault)
{
    zn_pack_t *p = zn_pack_new();
    zn_pack_map(p, 2);
    zn_pack_str(p, "instance_id");
    zn_pack_str(p, job->instance_id);
    zn_pack_str(p, "host");
    zn_pack_str(p, zn__cworker_env(w)->cfg->common.host);
    zn_reply_t *reply = NULL;
    int rc = zn__cworker_call(w, ZN_PEER_CONDUCTOR, job, method, p, &reply, fault);
    zn_reply_destroy(&reply);
    zn_pack_destroy(&p);
    return rc;
}

/* Remove everything INSTANCE has on this host: domain, ports, volumes, files. */
static int
s_clean(zn_cworker_t *w, const zn_job_t *job, zn_fault_t *fault)
{
    int rc = zn_virt_remove(zn__cworker_env(w)->virt, job->instance_id, fault);
    if (rc < 0) {
        return rc; /* keep the rest: the domain may still use them */
    }
    (void)zn__cworker_release(w, job); /* best effort, logged there; both calls are idempotent */
    zn__cworker_remove_dir(w, job->instance_id);
    return 0;
}

void
zn__cworker_delete(zn_cworker_t *w, zn_job_t *job)
{
    job->rc = s_clean(w, job, &job->fault);
    if (job->rc < 0) {
        zn_log_warn(job->req_id, "instance %s: delete: %s", job->instance_id,
                    zn_fault_message(&job->fault));
        return;
    }
    job->gone = true;
    job->rc = s_report(w, job, "delete_done", &job->fault);
    if (job->rc == -ENOENT) {
        job->rc = 0; /* already gone from the store */
    }
    if (job->rc < 0) {
        zn_log_warn(job->req_id, "instance %s: delete_done: %s", job->instance_id,
                    zn_fault_message(&job->fault));
    }
}

/* ---- start, stop, reboot ------------------------------------------------------------------- */

void
zn__cworker_power(zn_cworker_t *w, zn_job_t *job)
{
    const zn_cworker_env_t *env = zn__cworker_env(w);
    zn_fault_t fault;
    zn_fault_clear(&fault);
    if (job->kind == ZN_JOB_START) {
        job->rc = zn_virt_start(env->virt, job->instance_id, &fault);
    } else if (job->kind == ZN_JOB_STOP) {
        job->rc = zn_virt_stop(env->virt, job->instance_id, env->cfg->stop_timeout_ms, &fault);
    } else {
        job->rc = zn_virt_reboot(env->virt, job->instance_id, job->hard, env->cfg->stop_timeout_ms,
                                 &fault);
    }
    job->fault = fault;
    /* Whatever happened, the record follows what libvirt now says. */
    int power = ZN_POWER_NOSTATE;
    zn_fault_t ignored;
    if (zn_virt_power(env->virt, job->instance_id, &power, &ignored) < 0) {
        power = ZN_POWER_NOSTATE;
    }
    job->power_state = power;
    const char *vm = power == ZN_POWER_RUNNING ? "active" : "stopped";
    const char *result = job->rc == 0 ? "Success" : "Error";
    const char *message = job->rc == 0 ? NULL : zn_fault_message(&job->fault);
    if (job->rc < 0) {
        zn_log_warn(job->req_id, "instance %s: %s", job->instance_id, message);
    }
    zn_fault_t report;
    if (zn__cworker_update(w, job, vm, "none", power, result, message, &report) < 0) {
        zn_log_warn(job->req_id, "instance %s: instance_update: %s", job->instance_id,
                    zn_fault_message(&report));
    }
}

/* ---- console ------------------------------------------------------------------------------- */

/* Keep the last LINES lines of TEXT (all when LINES <= 0), and only characters a JSON string
 * and a terminal take safely. */
static char *
s_tail_lines(char *text, size_t len, int64_t lines)
{
    size_t start = len;
    int64_t seen = 0;
    while (lines > 0 && start > 0) {
        /* A trailing newline ends the last line; it does not start a new one. */
        if (text[start - 1] == '\n' && start != len && ++seen == lines) {
            break;
        }
        start--;
    }
    if (lines <= 0) {
        start = 0;
    }
    char *out = zn_strndup(text + start, len - start);
    for (char *p = out; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if ((c < 0x20 && c != '\n' && c != '\t') || c >= 0x7f) {
            *p = '?';
        }
    }
    return out;
}

void
zn__cworker_console(zn_cworker_t *w, zn_job_t *job)
{
    char *path = zn__cworker_path(w, job->instance_id, "console.log");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    zn_str_free(&path);
    if (fd < 0) {
        job->rc = zn_fault_set(&job->fault, -ENOENT, "instance %s has no console log here",
                               job->instance_id);
        return;
    }
    int64_t max = zn__cworker_env(w)->cfg->console_max_bytes;
    struct stat st;
    off_t from = 0;
    if (fstat(fd, &st) == 0 && st.st_size > max) {
        from = st.st_size - max;
    }
    char *text = zn_malloc((size_t)max + 1);
    ssize_t n = pread(fd, text, (size_t)max, from);
    close(fd);
    if (n < 0) {
        job->rc = zn_fault_set(&job->fault, -EIO, "cannot read the console log");
    } else {
        text[n] = '\0';
        job->output = s_tail_lines(text, strlen(text), job->length);
        job->rc = 0;
    }
    zn_free(text);
}

/* ---- power sync ---------------------------------------------------------------------------- */

void
zn__cworker_sync(zn_cworker_t *w, zn_job_t *job)
{
    job->listed_us = zn_clock_mono_us();
    job->rc = zn_virt_list(zn__cworker_env(w)->virt, &job->doms, &job->dom_count, &job->fault);
}

/* ---- reconciliation ------------------------------------------------------------------------ */

typedef struct {
    char *instance_id;
    char *vm_state;
    char *task_state;
    int64_t power_state;
} s_brief_t;

static const zn_field_t s_brief_fields[] = {
    {"instance_id", ZN_FT_STR, ZN_F_REQUIRED, offsetof(s_brief_t, instance_id), 0, 255, NULL},
    {"vm_state", ZN_FT_STR, 0, offsetof(s_brief_t, vm_state), 0, 31, NULL},
    {"task_state", ZN_FT_STR, 0, offsetof(s_brief_t, task_state), 0, 31, NULL},
    {"power_state", ZN_FT_I64, 0, offsetof(s_brief_t, power_state), 0, 0, NULL},
};
static const zn_schema_t s_brief_schema = {"instance_brief", 1, s_brief_fields,
                                           ZN_ARRAY_COUNT(s_brief_fields), sizeof(s_brief_t)};

typedef struct {
    s_brief_t *instances;
    size_t instance_count;
} s_briefs_t;

static const zn_field_t s_briefs_fields[] = {
    {"instances", ZN_FT_OBJLIST, 0, offsetof(s_briefs_t, instances),
     offsetof(s_briefs_t, instance_count), 100000, &s_brief_schema},
};
static const zn_schema_t s_briefs_schema = {"host_instances", 1, s_briefs_fields,
                                            ZN_ARRAY_COUNT(s_briefs_fields), sizeof(s_briefs_t)};

static int
s_host_instances(zn_cworker_t *w, const zn_job_t *job, s_briefs_t *out, zn_fault_t *fault)
{
    zn_pack_t *p = zn_pack_new();
    zn_pack_map(p, 1);
    zn_pack_str(p, "host");
    zn_pack_str(p, zn__cworker_env(w)->cfg->common.host);
    zn_reply_t *reply = NULL;
    int rc = zn__cworker_call(w, ZN_PEER_CONDUCTOR, job, "host_instances", p, &reply, fault);
    if (rc == 0) {
        rc = zn_schema_decode(&s_briefs_schema, zn_reply_env(reply)->body, out, NULL, fault);
    }
    zn_reply_destroy(&reply);
    zn_pack_destroy(&p);
    return rc;
}

static bool
s_listed(const s_briefs_t *briefs, const char *id)
{
    for (size_t i = 0; i < briefs->instance_count; i++) {
        if (strcasecmp(briefs->instances[i].instance_id, id) == 0) {
            return true;
        }
    }
    return false;
}

/* A build this agent had taken up when it stopped: undo it and let the conductor reschedule. */
static void
s_abandon_build(zn_cworker_t *w, zn_job_t *sub)
{
    zn_fault_t fault;
    if (s_clean(w, sub, &fault) < 0) {
        zn_log_warn(sub->req_id, "instance %s: undo interrupted build: %s", sub->instance_id,
                    zn_fault_message(&fault));
        return;
    }
    zn_pack_t *p = zn_pack_new();
    zn_pack_map(p, 7);
    zn_pack_str(p, "instance_id");
    zn_pack_str(p, sub->instance_id);
    zn_pack_str(p, "host");
    zn_pack_str(p, zn__cworker_env(w)->cfg->common.host);
    zn_pack_str(p, "ok");
    zn_pack_bool(p, false);
    zn_pack_str(p, "reschedule");
    zn_pack_bool(p, true);
    zn_pack_str(p, "power_state");
    zn_pack_i64(p, ZN_POWER_NOSTATE);
    zn_pack_str(p, "step");
    zn_pack_str(p, "restart");
    zn_pack_str(p, "message");
    zn_pack_str(p, "the compute agent restarted during the build");
    zn_reply_t *reply = NULL;
    if (zn__cworker_call(w, ZN_PEER_CONDUCTOR, sub, "build_result", p, &reply, &fault) < 0) {
        zn_log_warn(sub->req_id, "instance %s: build_result: %s", sub->instance_id,
                    zn_fault_message(&fault));
    }
    zn_reply_destroy(&reply);
    zn_pack_destroy(&p);
}

static bool
s_is_taken_build(const s_brief_t *b)
{
    return b->vm_state != NULL && strcmp(b->vm_state, "building") == 0 && b->task_state != NULL &&
           strcmp(b->task_state, "scheduling") != 0;
}

/* Settle one instance the store places here; returns whether the power sync should track it. */
static bool
s_settle(zn_cworker_t *w, const zn_job_t *job, const s_brief_t *b)
{
    zn_job_t *sub = zn__job_new(ZN_JOB_DELETE, b->instance_id, NULL);
    (void)snprintf(sub->req_id, sizeof(sub->req_id), "%s", job->req_id);
    bool track = false;
    if (!zn_uuid_is_valid(b->instance_id)) {
        zn_log_warn(job->req_id, "instance id '%s' is not a UUID: ignored", b->instance_id);
    } else if (b->task_state != NULL && strcmp(b->task_state, "deleting") == 0) {
        zn_log_notice(job->req_id, "instance %s: finishing its delete", b->instance_id);
        zn__cworker_delete(w, sub);
    } else if (s_is_taken_build(b)) {
        zn_log_notice(job->req_id, "instance %s: build interrupted by a restart: undone",
                      b->instance_id);
        s_abandon_build(w, sub);
    } else {
        track = strcmp(b->vm_state != NULL ? b->vm_state : "", "building") != 0;
    }
    zn__job_destroy(&sub);
    return track;
}

/* Remove domains and instance directories of instances the store does not place here. */
static void
s_remove_orphans(zn_cworker_t *w, const zn_job_t *job, const s_briefs_t *briefs)
{
    zn_virt_dom_t *doms = NULL;
    size_t count = 0;
    zn_fault_t fault;
    if (zn_virt_list(zn__cworker_env(w)->virt, &doms, &count, &fault) < 0) {
        zn_log_warn(job->req_id, "reconcile: %s", zn_fault_message(&fault));
    }
    for (size_t i = 0; i < count; i++) {
        if (!s_listed(briefs, doms[i].uuid)) {
            zn_log_notice(job->req_id, "orphan domain %s (unknown to the store): removed",
                          doms[i].uuid);
            zn_job_t *sub = zn__job_new(ZN_JOB_DELETE, doms[i].uuid, NULL);
            (void)s_clean(w, sub, &fault);
            zn__job_destroy(&sub);
        }
    }
    zn_free(doms);
    DIR *dir = opendir(zn__cworker_env(w)->instances_dir);
    struct dirent *ent;
    while (dir != NULL && (ent = readdir(dir)) != NULL) {
        if (zn_uuid_is_valid(ent->d_name) && !s_listed(briefs, ent->d_name)) {
            zn__cworker_remove_dir(w, ent->d_name);
        }
    }
    if (dir != NULL) {
        closedir(dir);
    }
}

void
zn__cworker_reconcile(zn_cworker_t *w, zn_job_t *job)
{
    s_briefs_t briefs;
    job->rc = s_host_instances(w, job, &briefs, &job->fault);
    if (job->rc < 0) {
        return;
    }
    s_remove_orphans(w, job, &briefs);
    job->insts = zn_calloc(briefs.instance_count + 1, sizeof(*job->insts));
    for (size_t i = 0; i < briefs.instance_count; i++) {
        const s_brief_t *b = &briefs.instances[i];
        if (s_settle(w, job, b)) {
            zn_job_inst_t *t = &job->insts[job->inst_count++];
            (void)snprintf(t->id, sizeof(t->id), "%s", b->instance_id);
            t->power_state = (int)b->power_state;
        }
    }
    zn_log_notice(job->req_id, "reconciled with the store: %zu instance(s) here, %zu tracked",
                  briefs.instance_count, job->inst_count);
    zn_schema_release(&s_briefs_schema, &briefs);
}
