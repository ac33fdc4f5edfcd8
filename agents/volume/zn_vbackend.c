/* SPDX-License-Identifier: Apache-2.0 */
/* zn_vbackend.c - the driver table, argument checks and failpoints in front of the drivers. */
#include "zn_vbackend.h"

#include <errno.h>
#include <string.h>

#include "zn_common.h"
#include "zn_failpoint.h"
#include "zn_mem.h"
#include "zn_uuid.h"
#include "zn_vbackend_int.h"

struct zn_vbackend {
    const zn_vbackend_driver_t *driver;
    void *state;
    char *format;
    zloop_t *loop;    /* with the worker */
    zactor_t *worker; /* NULL until attached */
    zlistx_t *jobs;   /* in flight (zn_vbackend_job_t), freed with the backend */
};

/* Every driver zinc knows: a new backend is one more row. */
static const zn_vbackend_driver_t *const s_drivers[] = {&zn_vbackend_file_driver};

int
zn_vbackend_open(zn_vbackend_t **out, const zn_vbackend_opts_t *opts, zn_fault_t *fault)
{
    *out = NULL;
    const zn_vbackend_driver_t *driver = NULL;
    for (size_t i = 0; i < ZN_ARRAY_COUNT(s_drivers); i++) {
        if (opts->driver != NULL && strcmp(opts->driver, s_drivers[i]->name) == 0) {
            driver = s_drivers[i];
        }
    }
    if (driver == NULL) {
        return zn_fault_set(fault, -EINVAL, "volume backend %s: unknown (known: file)",
                            opts->driver != NULL ? opts->driver : "(none)");
    }
    if (opts->format == NULL ||
        (strcmp(opts->format, "raw") != 0 && strcmp(opts->format, "qcow2") != 0)) {
        return zn_fault_set(fault, -EINVAL, "volume format %s: must be raw or qcow2",
                            opts->format != NULL ? opts->format : "(none)");
    }
    zn_vbackend_t *self = zn_calloc(1, sizeof(*self));
    self->driver = driver;
    self->format = zn_strdup(opts->format);
    self->jobs = zlistx_new();
    zlistx_set_destructor(self->jobs, zn__vbackend_job_free);
    int rc = driver->open(&self->state, opts, fault);
    if (rc < 0) {
        zlistx_destroy(&self->jobs);
        zn_free(self->format);
        zn_free(self);
        return rc;
    }
    *out = self;
    return 0;
}

void
zn_vbackend_destroy(zn_vbackend_t **self_p)
{
    zn_vbackend_t *self = *self_p;
    if (self == NULL) {
        return;
    }
    if (self->worker != NULL) {
        zloop_reader_end(self->loop, zactor_sock(self->worker));
        zactor_destroy(&self->worker); /* waits for the job running, if any */
    }
    zlistx_destroy(&self->jobs); /* jobs never answered: the worker is gone */
    self->driver->close(self->state);
    zn_free(self->format);
    zn_free(self);
    *self_p = NULL;
}

const char *
zn_vbackend_name(const zn_vbackend_t *self)
{
    return self->driver->name;
}

const char *
zn_vbackend_format(const zn_vbackend_t *self)
{
    return self->format;
}

/* Volume ids become file names and device paths: only a canonical UUID may get that far. */
static int
s_check(const char *id, const char *failpoint, zn_fault_t *fault)
{
    if (id == NULL || !zn_uuid_is_valid(id)) {
        return zn_fault_set(fault, -EINVAL, "volume id %.64s: not a UUID", id != NULL ? id : "");
    }
    int rc = failpoint != NULL ? ZN_FAILPOINT(failpoint) : 0;
    (void)failpoint;
    if (rc < 0) {
        return zn_fault_set(fault, rc, "%s: injected failure", failpoint);
    }
    return 0;
}

int
zn_vbackend_create(zn_vbackend_t *self, const char *id, int64_t size_gb, zn_fault_t *fault)
{
    int rc = s_check(id, "volume.backend_create", fault);
    if (rc == 0 && size_gb <= 0) {
        rc = zn_fault_set(fault, -EINVAL, "volume size %lld: must be positive", (long long)size_gb);
    }
    return rc < 0 ? rc : self->driver->create(self->state, id, size_gb, fault);
}

int
zn_vbackend_remove(zn_vbackend_t *self, const char *id, zn_fault_t *fault)
{
    int rc = s_check(id, "volume.backend_remove", fault);
    return rc < 0 ? rc : self->driver->remove(self->state, id, fault);
}

int
zn_vbackend_extend(zn_vbackend_t *self, const char *id, int64_t size_gb, zn_fault_t *fault)
{
    int rc = s_check(id, "volume.backend_extend", fault);
    if (rc == 0 && size_gb <= 0) {
        rc = zn_fault_set(fault, -EINVAL, "volume size %lld: must be positive", (long long)size_gb);
    }
    return rc < 0 ? rc : self->driver->extend(self->state, id, size_gb, fault);
}

int
zn_vbackend_connection(zn_vbackend_t *self, const char *id, zn_vbackend_conn_t *out,
                       zn_fault_t *fault)
{
    memset(out, 0, sizeof(*out));
    int rc = s_check(id, NULL, fault);
    return rc < 0 ? rc : self->driver->connection(self->state, id, out, fault);
}

int
zn_vbackend_import_write(zn_vbackend_t *self, const char *id, uint64_t offset, const void *data,
                         size_t len, zn_fault_t *fault)
{
    int rc = s_check(id, "volume.backend_import", fault);
    return rc < 0 ? rc : self->driver->import_write(self->state, id, offset, data, len, fault);
}

int
zn_vbackend_import_finish(zn_vbackend_t *self, const char *id, const char *src_format,
                          int64_t size_gb, zn_fault_t *fault)
{
    int rc = s_check(id, NULL, fault);
    return rc < 0 ? rc : self->driver->import_finish(self->state, id, src_format, size_gb, fault);
}

/* ---- the worker --------------------------------------------------------------------------- */

int
zn_vbackend_attach(zn_vbackend_t *self, zloop_t *loop)
{
    if (self->worker != NULL) {
        return -EINVAL;
    }
    self->worker = zactor_new(zn__vbackend_actor, self);
    self->loop = loop;
    if (zloop_reader(loop, zactor_sock(self->worker), zn__vbackend_on_done, self) < 0) {
        zactor_destroy(&self->worker);
        return -EINVAL;
    }
    return 0;
}

int
zn_vbackend_submit(zn_vbackend_t *self, const zn_vbackend_job_args_t *args, zn_vbackend_done_fn *fn,
                   void *arg)
{
    if (self->worker == NULL) {
        return -EINVAL;
    }
    zn_vbackend_job_t *job = zn__vbackend_job_new(args, fn, arg);
    /* The pipe is inproc to our own thread: a send only fails when the actor is gone. */
    void *handle = zlistx_add_end(self->jobs, job);
    zn__vbackend_job_set_handle(job, handle);
    if (zsock_send(zactor_sock(self->worker), "sp", "JOB", job) < 0) {
        zlistx_delete(self->jobs, handle);
        return -EINVAL;
    }
    return 0;
}

size_t
zn_vbackend_pending(const zn_vbackend_t *self)
{
    return zlistx_size(self->jobs);
}

void
zn_vbackend_cancel(zn_vbackend_t *self)
{
    for (zn_vbackend_job_t *job = zlistx_first(self->jobs); job != NULL;
         job = zlistx_next(self->jobs)) {
        zn__vbackend_job_cancel(job);
    }
}

zlistx_t *
zn__vbackend_jobs(zn_vbackend_t *self)
{
    return self->jobs;
}
