/* SPDX-License-Identifier: Apache-2.0 */
/* zn_conductor_release.c - ports and volumes of a deleted instance, given back in sequence. */
#include "zn_conductor_release.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "zn_client.h"
#include "zn_log.h"
#include "zn_mem.h"
#include "zn_str.h"

#define S_TIMEOUT_MS 10000

struct zn_conductor_release {
    zn_conductor_release_opts_t opts;
    zn_client_t *network; /* NULL: no network agent configured */
    zn_client_t *volume;  /* NULL: no volume agent configured */
};

/* One release in progress. */
typedef struct {
    zn_conductor_release_t *owner;
    zn_ctx_t ctx;   /* request id, and TOKEN when the caller had one */
    uint8_t *token; /* owned copy (secret: wiped before it is freed) */
    char *instance_id;
    char **volumes;
    size_t volume_count;
    size_t next; /* the next volume to detach */
    zn_conductor_release_fn *fn;
    void *arg;
} s_job_t;

static void
s_job_end(s_job_t *job, const zn_fault_t *fault)
{
    job->fn(job->arg, fault);
    for (size_t i = 0; i < job->volume_count; i++) {
        zn_str_free(&job->volumes[i]);
    }
    zn_free(job->volumes);
    if (job->token != NULL) {
        sodium_memzero(job->token, job->ctx.token.len);
        zn_free(job->token);
    }
    zn_str_free(&job->instance_id);
    zn_free(job);
}

static void s_detach_next(s_job_t *job);

static void
s_detached(void *arg, const zn_env_t *reply, const zn_fault_t *fault)
{
    (void)reply;
    s_job_t *job = arg;
    /* A volume already detached (or gone) is what we want: only other failures stop us. */
    if (fault->code < 0 && fault->code != -ENOENT) {
        zn_fault_t words;
        zn_fault_set(&words, fault->code, "volume %s not detached from %s: %s",
                     job->volumes[job->next], job->instance_id, zn_fault_message(fault));
        s_job_end(job, &words);
        return;
    }
    job->next++;
    s_detach_next(job);
}

static void
s_detach_next(s_job_t *job)
{
    zn_fault_t fault;
    zn_fault_clear(&fault);
    if (job->next >= job->volume_count || job->owner->volume == NULL) {
        s_job_end(job, &fault);
        return;
    }
    zn_pack_t *body = zn_pack_new();
    zn_pack_map(body, 2);
    zn_pack_str(body, "volume_id");
    zn_pack_str(body, job->volumes[job->next]);
    zn_pack_str(body, "instance_id");
    zn_pack_str(body, job->instance_id);
    int rc = zn_client_call(job->owner->volume, "volume_detach", &job->ctx, zn_pack_buf(body),
                            job->owner->opts.timeout_ms, s_detached, job);
    zn_pack_destroy(&body);
    if (rc < 0) {
        zn_fault_set(&fault, rc, "cannot call the volume agent: %s", zn_strerror(rc));
        s_detached(job, NULL, &fault);
    }
}

static void
s_ports_released(void *arg, const zn_env_t *reply, const zn_fault_t *fault)
{
    (void)reply;
    s_job_t *job = arg;
    if (fault->code < 0) {
        zn_fault_t words;
        zn_fault_set(&words, fault->code, "ports of %s not released: %s", job->instance_id,
                     zn_fault_message(fault));
        s_job_end(job, &words);
        return;
    }
    s_detach_next(job);
}

static void
s_release_ports(s_job_t *job)
{
    if (job->owner->network == NULL) {
        s_detach_next(job);
        return;
    }
    zn_pack_t *body = zn_pack_new();
    zn_pack_map(body, 1);
    zn_pack_str(body, "device_id");
    zn_pack_str(body, job->instance_id);
    int rc = zn_client_call(job->owner->network, "port_release", &job->ctx, zn_pack_buf(body),
                            job->owner->opts.timeout_ms, s_ports_released, job);
    zn_pack_destroy(&body);
    if (rc < 0) {
        zn_fault_t fault;
        zn_fault_set(&fault, rc, "cannot call the network agent: %s", zn_strerror(rc));
        s_ports_released(job, NULL, &fault);
    }
}

int
zn_conductor_release_start(zn_conductor_release_t *self, const zn_ctx_t *ctx,
                           const char *instance_id, char *const *volumes, size_t volume_count,
                           zn_conductor_release_fn *fn, void *arg)
{
    if (self->network == NULL && (self->volume == NULL || volume_count == 0)) {
        return -ENOENT; /* nothing to give back: the caller goes on at once */
    }
    s_job_t *job = zn_calloc(1, sizeof(*job));
    job->owner = self;
    (void)snprintf(job->ctx.req_id, sizeof(job->ctx.req_id), "%s", ctx->req_id);
    if (ctx->token.len > 0) {
        job->token = zn_malloc(ctx->token.len);
        memcpy(job->token, ctx->token.ptr, ctx->token.len);
        job->ctx.token = (zn_buf_t){job->token, ctx->token.len};
    }
    job->instance_id = zn_strdup(instance_id);
    job->volumes = zn_calloc(volume_count + 1, sizeof(*job->volumes));
    for (size_t i = 0; i < volume_count; i++) {
        job->volumes[i] = zn_strdup(volumes[i]);
    }
    job->volume_count = volume_count;
    job->fn = fn;
    job->arg = arg;
    s_release_ports(job);
    return 0;
}

static int
s_open_client(zn_conductor_release_t *self, const char *name, const char *endpoints_text,
              zn_client_t **out, zn_fault_t *fault)
{
    if (endpoints_text == NULL || endpoints_text[0] == '\0') {
        zn_log_notice(NULL, "no [peers] %s_call: deletes without a host free no %s", name,
                      strcmp(name, "network") == 0 ? "ports" : "volumes");
        return 0;
    }
    return zn_secure_client_open(self->opts.secure, name, name, endpoints_text, self->opts.metrics,
                                 self->opts.loop, out, fault);
}

int
zn_conductor_release_open(zn_conductor_release_t **out, const zn_conductor_release_opts_t *opts,
                          zn_fault_t *fault)
{
    *out = NULL;
    zn_conductor_release_t *self = zn_calloc(1, sizeof(*self));
    self->opts = *opts;
    if (self->opts.timeout_ms <= 0) {
        self->opts.timeout_ms = S_TIMEOUT_MS;
    }
    int rc = s_open_client(self, "network", opts->network_call, &self->network, fault);
    if (rc == 0) {
        rc = s_open_client(self, "volume", opts->volume_call, &self->volume, fault);
    }
    if (rc < 0) {
        zn_conductor_release_destroy(&self);
        return rc;
    }
    *out = self;
    return 0;
}

void
zn_conductor_release_destroy(zn_conductor_release_t **self_p)
{
    zn_conductor_release_t *self = *self_p;
    if (self == NULL) {
        return;
    }
    zn_client_destroy(&self->network);
    zn_client_destroy(&self->volume);
    zn_free(self);
    *self_p = NULL;
}
