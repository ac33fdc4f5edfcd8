/* SPDX-License-Identifier: Apache-2.0 */
/* zn_vbackend_worker.c - the backend's worker: a czmq actor that runs driver calls one at a
 * time off the agent's loop and hands each finished job back over its pipe. */
#include <string.h>

#include "zn_log.h"
#include "zn_mem.h"
#include "zn_vbackend_int.h"

struct zn_vbackend_job {
    zn_vbackend_job_args_t args; /* id, src_format and data point into the copies below */
    char *id;
    char *src_format;
    void *data;
    zn_vbackend_done_fn *fn; /* NULL once cancelled */
    void *arg;
    zn_fault_t fault;
    void *handle; /* in the backend's list of jobs in flight */
};

void
zn__vbackend_job_free(void **item)
{
    zn_vbackend_job_t *job = *item;
    if (job == NULL) {
        return;
    }
    zn_free(job->id);
    zn_free(job->src_format);
    zn_free(job->data);
    zn_free(job);
    *item = NULL;
}

static int
s_run(zn_vbackend_t *self, const zn_vbackend_job_args_t *a, zn_fault_t *fault)
{
    switch (a->op) {
    case ZN_VBACKEND_CREATE:
        return zn_vbackend_create(self, a->id, a->size_gb, fault);
    case ZN_VBACKEND_REMOVE:
        return zn_vbackend_remove(self, a->id, fault);
    case ZN_VBACKEND_EXTEND:
        return zn_vbackend_extend(self, a->id, a->size_gb, fault);
    case ZN_VBACKEND_IMPORT_WRITE:
        return zn_vbackend_import_write(self, a->id, a->offset, a->data, a->len, fault);
    case ZN_VBACKEND_IMPORT_FINISH:
        return zn_vbackend_import_finish(self, a->id, a->src_format, a->size_gb, fault);
    default:
        return zn_fault_set(fault, -EINVAL, "backend job %d: unknown", (int)a->op);
    }
}

/* The worker thread: jobs in, the same jobs out, until $TERM. It only reads the backend's
 * driver and state, which nothing changes after open. */
void
zn__vbackend_actor(zsock_t *pipe, void *arg)
{
    zn_vbackend_t *self = arg;
    zsock_signal(pipe, 0);
    for (;;) {
        char *command = NULL;
        void *pointer = NULL;
        if (zsock_recv(pipe, "sp", &command, &pointer) < 0) {
            break;
        }
        bool term = command == NULL || strcmp(command, "$TERM") == 0;
        zstr_free(&command);
        if (term) {
            break;
        }
        zn_vbackend_job_t *job = pointer;
        zn_fault_clear(&job->fault);
        if (s_run(self, &job->args, &job->fault) == 0) {
            zn_fault_clear(&job->fault);
        }
        if (zsock_send(pipe, "sp", "DONE", job) < 0) {
            break;
        }
    }
}

/* A finished job came back: run its callback (unless cancelled) and free it. */
int
zn__vbackend_on_done(zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    zn_vbackend_t *self = arg;
    char *command = NULL;
    void *pointer = NULL;
    if (zsock_recv(reader, "sp", &command, &pointer) < 0 || pointer == NULL) {
        zstr_free(&command);
        return 0;
    }
    zstr_free(&command);
    zn_vbackend_job_t *job = pointer;
    zn_vbackend_done_fn *fn = job->fn;
    void *fn_arg = job->arg;
    zn_fault_t fault = job->fault;
    zlistx_delete(zn__vbackend_jobs(self), job->handle); /* frees JOB */
    if (fn != NULL) {
        fn(fn_arg, &fault);
    }
    return 0;
}

zn_vbackend_job_t *
zn__vbackend_job_new(const zn_vbackend_job_args_t *args, zn_vbackend_done_fn *fn, void *arg)
{
    zn_vbackend_job_t *job = zn_calloc(1, sizeof(*job));
    job->args = *args;
    job->id = zn_strdup(args->id != NULL ? args->id : "");
    job->args.id = job->id;
    if (args->src_format != NULL) {
        job->src_format = zn_strdup(args->src_format);
        job->args.src_format = job->src_format;
    }
    if (args->len > 0) {
        job->data = zn_malloc(args->len);
        memcpy(job->data, args->data, args->len);
        job->args.data = job->data;
    }
    job->fn = fn;
    job->arg = arg;
    return job;
}

void
zn__vbackend_job_set_handle(zn_vbackend_job_t *job, void *handle)
{
    job->handle = handle;
}

void
zn__vbackend_job_cancel(zn_vbackend_job_t *job)
{
    job->fn = NULL;
}
