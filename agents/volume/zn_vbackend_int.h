/* SPDX-License-Identifier: Apache-2.0 */
/* zn_vbackend_int.h - inside the backend: the worker actor and its jobs (zn_vbackend_worker.c),
 * shared with the front (zn_vbackend.c). */
#ifndef ZN_VBACKEND_INT_H
#define ZN_VBACKEND_INT_H

#include "zn_vbackend.h"

typedef struct zn_vbackend_job zn_vbackend_job_t;

/* A job with copies of ARGS' strings and data. */
zn_vbackend_job_t *zn__vbackend_job_new(const zn_vbackend_job_args_t *args, zn_vbackend_done_fn *fn,
                                        void *arg);

/* zlistx destructor of jobs. */
void zn__vbackend_job_free(void **item);

void zn__vbackend_job_set_handle(zn_vbackend_job_t *job, void *handle);
void zn__vbackend_job_cancel(zn_vbackend_job_t *job);

/* The worker's thread body (zactor_new with the backend as ARG). */
void zn__vbackend_actor(zsock_t *pipe, void *arg);

/* The loop's reader of finished jobs (ARG: the backend). */
int zn__vbackend_on_done(zloop_t *loop, zsock_t *reader, void *arg);

/* The backend's list of jobs in flight. */
zlistx_t *zn__vbackend_jobs(zn_vbackend_t *self);

#endif
