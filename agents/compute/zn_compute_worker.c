/* SPDX-License-Identifier: Apache-2.0 */
/* zn_compute_worker.c - the compute agent's worker threads: each owns its clients to the
 * conductor, image, network and volume agents and runs one job at a time. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "zn_clock.h"
#include "zn_compute_int.h"
#include "zn_log.h"
#include "zn_mem.h"
#include "zn_str.h"

struct zn_cworker {
    const zn_cworker_env_t *env;
    zn_client_t *clients[ZN_PEER_COUNT]; /* NULL: not configured */
    zn_pack_t *pack;
};

static const char *const s_step_names[] = {
#define ZN_STEP_NAME(id, name, metric) name,
    ZN_BUILD_STEPS(ZN_STEP_NAME)
#undef ZN_STEP_NAME
};

static const char *const s_step_metrics[] = {
#define ZN_STEP_METRIC(id, name, metric) metric,
    ZN_BUILD_STEPS(ZN_STEP_METRIC)
#undef ZN_STEP_METRIC
};

const char *
zn__compute_step_name(zn_build_step_t step)
{
    return s_step_names[step];
}

const char *
zn__compute_step_metric(zn_build_step_t step)
{
    return s_step_metrics[step];
}

zn_job_t *
zn__job_new(zn_job_kind_t kind, const char *instance_id, const zn_ctx_t *ctx)
{
    zn_job_t *job = zn_calloc(1, sizeof(*job));
    job->kind = kind;
    job->power_state = -1;
    (void)snprintf(job->instance_id, sizeof(job->instance_id), "%s",
                   instance_id != NULL ? instance_id : "");
    if (ctx != NULL) {
        (void)snprintf(job->req_id, sizeof(job->req_id), "%s", ctx->req_id);
        if (ctx->token.len > 0) {
            job->token = zn_strndup((const char *)ctx->token.ptr, ctx->token.len);
        }
    }
    job->queued_us = zn_clock_mono_us();
    return job;
}

void
zn__job_destroy(zn_job_t **job_p)
{
    zn_job_t *job = *job_p;
    if (job == NULL) {
        return;
    }
    if (job->token != NULL) {
        sodium_memzero(job->token, strlen(job->token));
        zn_free(job->token);
    }
    zn_call_destroy(&job->call);
    zn_free(job->output);
    zn_free(job->doms);
    zn_free(job->insts);
    zn_free(job);
    *job_p = NULL;
}

const zn_cworker_env_t *
zn__cworker_env(const zn_cworker_t *w)
{
    return w->env;
}

bool
zn__cworker_has(const zn_cworker_t *w, zn_peer_t peer)
{
    return w->clients[peer] != NULL;
}

static const char *const s_peer_names[] = {"conductor", "image", "network", "volume"};

int
zn__cworker_call(zn_cworker_t *w, zn_peer_t peer, const zn_job_t *job, const char *method,
                 zn_pack_t *body, zn_reply_t **reply, zn_fault_t *fault)
{
    *reply = NULL;
    if (w->clients[peer] == NULL) {
        return zn_fault_set(fault, ZN_EUNAVAIL, "no %s agent configured", s_peer_names[peer]);
    }
    zn_ctx_t ctx;
    memset(&ctx, 0, sizeof(ctx));
    (void)snprintf(ctx.req_id, sizeof(ctx.req_id), "%s", job->req_id);
    if (job->token != NULL) {
        ctx.token = (zn_buf_t){(const uint8_t *)job->token, strlen(job->token)};
    }
    zn_fault_clear(fault);
    int rc = zn_client_call_sync(w->clients[peer], method, &ctx, zn_pack_buf(body),
                                 w->env->cfg->call_timeout_ms, reply, fault);
    zn_pack_reset(body);
    return rc;
}

char *
zn__cworker_path(const zn_cworker_t *w, const char *instance_id, const char *leaf)
{
    if (leaf == NULL) {
        return zn_asprintf("%s/%s", w->env->instances_dir, instance_id);
    }
    return zn_asprintf("%s/%s/%s", w->env->instances_dir, instance_id, leaf);
}

void
zn__cworker_remove_dir(const zn_cworker_t *w, const char *instance_id)
{
    char *path = zn__cworker_path(w, instance_id, NULL);
    DIR *dir = opendir(path);
    if (dir != NULL) {
        struct dirent *ent;
        while ((ent = readdir(dir)) != NULL) {
            if (strcmp(ent->d_name, ".") != 0 && strcmp(ent->d_name, "..") != 0) {
                (void)unlinkat(dirfd(dir), ent->d_name, 0);
            }
        }
        closedir(dir);
    }
    (void)rmdir(path);
    zn_str_free(&path);
}

int
zn__cworker_note_volume(zn_cworker_t *w, const char *instance_id, const char *volume_id,
                        zn_fault_t *fault)
{
    char *path = zn__cworker_path(w, instance_id, "volumes");
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    zn_str_free(&path);
    if (fd < 0) {
        return zn_fault_set(fault, -EIO, "cannot record volume %s: %s", volume_id, strerror(errno));
    }
    char *line = zn_asprintf("%s\n", volume_id);
    ssize_t n = write(fd, line, strlen(line));
    int rc = n == (ssize_t)strlen(line) ? 0 : zn_fault_set(fault, -EIO, "cannot record volume");
    zn_str_free(&line);
    close(fd);
    return rc;
}

static char *
s_disk_path(zn_cworker_t *w, const char *instance_id, const char *volume_id)
{
    char *leaf = zn_asprintf("vol-%s.xml", volume_id);
    char *path = zn__cworker_path(w, instance_id, leaf);
    zn_str_free(&leaf);
    return path;
}

void
zn__cworker_save_disk(zn_cworker_t *w, const char *instance_id, const char *volume_id,
                      const char *xml)
{
    char *path = s_disk_path(w, instance_id, volume_id);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0 || write(fd, xml, strlen(xml)) != (ssize_t)strlen(xml)) {
        zn_log_warn(NULL, "instance %s: cannot keep the disk of volume %s", instance_id, volume_id);
    }
    if (fd >= 0) {
        close(fd);
    }
    zn_str_free(&path);
}

char *
zn__cworker_load_disk(zn_cworker_t *w, const char *instance_id, const char *volume_id)
{
    char *path = s_disk_path(w, instance_id, volume_id);
    char text[4096];
    ssize_t n = -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        n = read(fd, text, sizeof(text) - 1);
        close(fd);
    }
    zn_str_free(&path);
    return n > 0 ? zn_strndup(text, (size_t)n) : NULL;
}

/* The volume ids listed (one a line) in the instance's "volumes" file, as a NULL-terminated
 * array (zn_strv_free), or NULL. */
static char **
s_read_volumes(zn_cworker_t *w, const char *instance_id)
{
    char *path = zn__cworker_path(w, instance_id, "volumes");
    char text[8192];
    ssize_t n = -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        n = read(fd, text, sizeof(text) - 1);
        close(fd);
    }
    zn_str_free(&path);
    if (n <= 0) {
        return NULL;
    }
    text[n] = '\0';
    return zn_str_split(text, '\n', NULL);
}

void
zn__cworker_forget_volume(zn_cworker_t *w, const char *instance_id, const char *volume_id)
{
    char **volumes = s_read_volumes(w, instance_id);
    char *path = zn__cworker_path(w, instance_id, "volumes");
    char *tmp = zn_asprintf("%s.new", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    bool ok = fd >= 0;
    for (size_t i = 0; ok && volumes != NULL && volumes[i] != NULL; i++) {
        if (strcmp(volumes[i], volume_id) != 0) {
            char *line = zn_asprintf("%s\n", volumes[i]);
            ok = write(fd, line, strlen(line)) == (ssize_t)strlen(line);
            zn_str_free(&line);
        }
    }
    if (fd >= 0) {
        close(fd);
    }
    if (!ok || rename(tmp, path) < 0) {
        (void)unlink(tmp);
    }
    char *disk = s_disk_path(w, instance_id, volume_id);
    (void)unlink(disk);
    zn_str_free(&disk);
    zn_str_free(&tmp);
    zn_str_free(&path);
    zn_strv_free(&volumes);
}

static int
s_release_volumes(zn_cworker_t *w, const zn_job_t *job)
{
    char **volumes = s_read_volumes(w, job->instance_id);
    int first = 0;
    for (size_t i = 0; volumes != NULL && volumes[i] != NULL; i++) {
        zn_pack_map(w->pack, 2);
        zn_pack_str(w->pack, "volume_id");
        zn_pack_str(w->pack, volumes[i]);
        zn_pack_str(w->pack, "instance_id");
        zn_pack_str(w->pack, job->instance_id);
        zn_reply_t *reply = NULL;
        zn_fault_t fault;
        int rc = zn__cworker_call(w, ZN_PEER_VOLUME, job, "volume_detach", w->pack, &reply, &fault);
        zn_reply_destroy(&reply);
        if (rc < 0 && rc != -ENOENT) {
            zn_log_warn(job->req_id, "instance %s: volume_detach %s: %s", job->instance_id,
                        volumes[i], zn_fault_message(&fault));
            first = first < 0 ? first : rc;
        }
    }
    zn_strv_free(&volumes);
    return first;
}

int
zn__cworker_release(zn_cworker_t *w, const zn_job_t *job)
{
    int first = 0;
    if (zn__cworker_has(w, ZN_PEER_NETWORK)) {
        zn_pack_map(w->pack, 1);
        zn_pack_str(w->pack, "device_id");
        zn_pack_str(w->pack, job->instance_id);
        zn_reply_t *reply = NULL;
        zn_fault_t fault;
        first = zn__cworker_call(w, ZN_PEER_NETWORK, job, "port_release", w->pack, &reply, &fault);
        zn_reply_destroy(&reply);
        if (first < 0) {
            zn_log_warn(job->req_id, "instance %s: port_release: %s", job->instance_id,
                        zn_fault_message(&fault));
        }
    }
    if (zn__cworker_has(w, ZN_PEER_VOLUME)) {
        int rc = s_release_volumes(w, job);
        first = first < 0 ? first : rc;
    }
    return first;
}

static void
s_kv(zn_pack_t *p, const char *key, const char *value)
{
    zn_pack_str(p, key);
    zn_pack_str(p, value);
}

int
zn__cworker_update(zn_cworker_t *w, const zn_job_t *job, const char *vm_state,
                   const char *task_state, int power_state, const char *result, const char *message,
                   zn_fault_t *fault)
{
    /* A failed attach gives back the block device mapping the api recorded for it, in the
     * same write that ends the action, as Nova deletes the BDM when an attach fails. */
    bool drop = job->kind == ZN_JOB_ATTACH && result != NULL && strcmp(result, "Error") == 0;
    uint32_t count = 2 + (vm_state != NULL) + (task_state != NULL) + (power_state >= 0) +
                     (result != NULL) + (message != NULL) + drop;
    zn_pack_t *p = w->pack;
    zn_pack_map(p, count);
    s_kv(p, "instance_id", job->instance_id);
    s_kv(p, "host", w->env->cfg->common.host);
    if (vm_state != NULL) {
        s_kv(p, "vm_state", vm_state);
    }
    if (task_state != NULL) {
        s_kv(p, "task_state", task_state);
    }
    if (power_state >= 0) {
        zn_pack_str(p, "power_state");
        zn_pack_i64(p, power_state);
    }
    if (result != NULL) {
        s_kv(p, "result", result);
    }
    if (message != NULL) {
        s_kv(p, "message", message);
    }
    if (drop) {
        s_kv(p, "drop_volume", job->volume_id);
    }
    zn_reply_t *reply = NULL;
    int rc = zn__cworker_call(w, ZN_PEER_CONDUCTOR, job, "instance_update", p, &reply, fault);
    zn_reply_destroy(&reply);
    return rc;
}

/* ---- the thread ---------------------------------------------------------------------------- */

static int
s_open_client(zn_cworker_t *w, zn_peer_t peer, const char *endpoints, const char *server_public)
{
    if (endpoints == NULL || endpoints[0] == '\0') {
        return 0;
    }
    size_t count = 0;
    char **list = zn_str_split(endpoints, ',', &count);
    zn_client_opts_t opts = {
        .name = s_peer_names[peer],
        .endpoints = (const char *const *)list,
        .endpoint_count = count,
        .keys = w->env->keys,
        .server_public = server_public,
    };
    zn_fault_t fault;
    int rc = zn_client_open(&w->clients[peer], &opts, &fault);
    zn_strv_free(&list);
    if (rc < 0) {
        zn_log_error(NULL, "worker: %s client: %s", s_peer_names[peer], zn_fault_message(&fault));
    }
    return rc;
}

static void
s_run(zn_cworker_t *w, zn_job_t *job)
{
    zn_fault_clear(&job->fault);
    switch (job->kind) {
    case ZN_JOB_BUILD:
        zn__cworker_build(w, job);
        break;
    case ZN_JOB_DELETE:
        zn__cworker_delete(w, job);
        break;
    case ZN_JOB_START:
    case ZN_JOB_STOP:
    case ZN_JOB_REBOOT:
        zn__cworker_power(w, job);
        break;
    case ZN_JOB_ATTACH:
        zn__cworker_attach(w, job);
        break;
    case ZN_JOB_DETACH:
        zn__cworker_detach(w, job);
        break;
    case ZN_JOB_CONSOLE:
        zn__cworker_console(w, job);
        break;
    case ZN_JOB_SYNC:
        zn__cworker_sync(w, job);
        break;
    case ZN_JOB_EVICT:
        job->rc = zn_imgcache_evict(w->env->cache, zn_clock_wall_ms());
        break;
    case ZN_JOB_RECONCILE:
        zn__cworker_reconcile(w, job);
        break;
    default:
        job->rc = -EINVAL;
    }
}

static void
s_actor(zsock_t *pipe, void *arg)
{
    zn_cworker_t w = {.env = arg, .pack = zn_pack_new()};
    const zn_compute_cfg_t *cfg = w.env->cfg;
    int rc =
        s_open_client(&w, ZN_PEER_CONDUCTOR, cfg->common.conductor_call, w.env->conductor_public);
    rc = rc < 0 ? rc : s_open_client(&w, ZN_PEER_IMAGE, cfg->image_call, w.env->image_public);
    rc = rc < 0 ? rc : s_open_client(&w, ZN_PEER_NETWORK, cfg->network_call, w.env->network_public);
    rc = rc < 0 ? rc : s_open_client(&w, ZN_PEER_VOLUME, cfg->volume_call, w.env->volume_public);
    zsock_signal(pipe, rc < 0 ? 1 : 0);
    while (rc == 0) {
        char *command = NULL;
        void *ptr = NULL;
        if (zsock_recv(pipe, "sp", &command, &ptr) < 0) {
            break;
        }
        bool term = command == NULL || strcmp(command, "$TERM") == 0;
        zstr_free(&command);
        if (term) {
            break;
        }
        zn_job_t *job = ptr;
        s_run(&w, job);
        if (zsock_send(pipe, "sp", "DONE", job) < 0) {
            zn__job_destroy(&job);
        }
    }
    for (int i = 0; i < ZN_PEER_COUNT; i++) {
        zn_client_destroy(&w.clients[i]);
    }
    zn_pack_destroy(&w.pack);
}

zactor_t *
zn__cworker_new(zn_cworker_env_t *env)
{
    return zactor_new(s_actor, env);
}
