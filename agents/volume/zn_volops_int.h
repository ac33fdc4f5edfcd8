/* SPDX-License-Identifier: Apache-2.0 */
/* zn_volops_int.h - inside zn_volops: one operation in flight and the step driver that its
 * parts (zn_volops.c, zn_volops_attach.c, zn_volops_image.c) share. */
#ifndef ZN_VOLOPS_INT_H
#define ZN_VOLOPS_INT_H

#include "zn_volops.h"

typedef struct zn_volop zn_volop_t;

/* Read what the step needs in TXN and add its writes to BATCH. Returns 0 (write BATCH), 1
 * (nothing to write: the step is already done) or a negative code with FAULT. */
typedef int(zn_volop_build_fn)(zn_volop_t *op, zn_store_read_t *txn, zn_batch_t *batch,
                               zn_fault_t *fault);

/* What follows a step: FAULT->code 0 when it committed (or had nothing to write). */
typedef void(zn_volop_then_fn)(zn_volop_t *op, const zn_fault_t *fault);

struct zn_volops {
    zn_sclient_t *sc;
    zn_vbackend_t *backend;
    zn_client_t *image;
    zloop_t *loop;
    char *host;
    int64_t quota_volumes;
    int64_t quota_gigabytes;
    int64_t max_size_gb;
    int64_t call_timeout_ms;
    zn_batch_t *batch;
    zhashx_t *usage_queues; /* project -> steps waiting for its usage record (s_queue_t) */
    zn_volop_t *ops;        /* every operation in flight, a doubly linked list */
    size_t pending;
    bool closing;
};

struct zn_volop {
    zn_volops_t *self;
    zn_volop_t *prev;
    zn_volop_t *next;
    char req_id[ZN_ID_MAX + 1];
    char *token; /* the user's, for image calls; sodium-free plain copy, wiped on free */
    size_t token_len;
    char *project_id;
    char *user_id;
    bool admin;
    char *volume_id;
    zn_vol_t vol; /* as last read or written */
    uint64_t vol_gen;
    /* What the operation asks for. */
    char *name;
    char *description;
    bool set_name;
    bool set_description;
    int64_t size_gb; /* create: the size; extend: the new size */
    int64_t delta_gb;
    char *instance_id;
    char *host;
    char *device;
    bool already;       /* the first step found the work done (idempotent attach/detach) */
    char *reset_status; /* an admin's reset: the status to set, or NULL */
    bool reset_detach;  /* ...and whether to forget the attachment */
    /* Image import. */
    char *image_id;
    char *image_format;
    uint64_t offset;
    bool image_eof;
    /* A later step's target status (zn_volop_set_status) and the failure behind it. */
    zn_vol_status_t expect;
    zn_vol_status_t target;
    zn_fault_t failure;
    /* The step driver. */
    bool holds_usage;   /* this step is the one writing its project's usage record */
    bool groups;        /* may share one batch with the steps of its kind queued behind it */
    zn_volop_t **group; /* those creates, while this one leads them */
    size_t group_count;
    zn_volop_t *leader;   /* the create whose group this one's status goes with */
    size_t files_pending; /* the leader: backing files still being made */
    zn_volop_then_fn *after_backend;
    int attempts;
    zn_volop_build_fn *build;
    zn_volop_then_fn *then;
    int timer_id;
    zn_volops_fn *fn;
    void *arg;
};

/* A new operation for CTX and WHO (copied), answering FN with ARG; counted as pending. */
zn_volop_t *zn__volop_new(zn_volops_t *self, const zn_ctx_t *ctx, const zn_volops_who_t *who,
                          const char *volume_id, zn_volops_fn *fn, void *arg);

/* Free OP (its FN must have run or been dropped). */
void zn__volop_free(zn_volop_t *op);

/* Run BUILD, write its batch and go on with THEN, on the next loop turn (never inside the
 * caller). A write that lost a race (ZN_ECONFLICT) or whose outcome is unknown is built again
 * from a fresh read, a few times. */
void zn__volop_start(zn_volop_t *op, zn_volop_build_fn *build, zn_volop_then_fn *then);

/* As zn__volop_start and zn__volop_run, for a step that writes the usage record of OP's
 * project: it runs once no other step of this agent is writing that record, so the agent's own
 * steps never lose generation races to each other (another agent's writes still can: then the
 * step is built again). Steps of one kind (creates; the last steps of deletes) waiting for the
 * same project go as one batch. */
void zn__volop_start_usage(zn_volop_t *op, zn_volop_build_fn *build, zn_volop_then_fn *then);
void zn__volop_run_usage(zn_volop_t *op, zn_volop_build_fn *build, zn_volop_then_fn *then);

/* The project queues' table (its destructor frees a queue). */
zhashx_t *zn__volops_queues_new(void);

/* The step of OP that held its project's usage record ended: let the next one go. */
void zn__volop_usage_release(zn_volop_t *op);

/* The project whose usage OP's steps change. Borrowed from OP. */
const char *zn__volop_project(const zn_volop_t *op);

/* Usage of PROJECT_ID as read in TXN (zeros and ZN_BATCH_GEN_ABSENT when none). */
int zn__volop_usage_read(zn_volops_t *self, zn_store_read_t *txn, const char *project_id,
                         zn_vol_usage_t *out, uint64_t *gen, zn_fault_t *fault);

/* ZN_EQUOTA with Cinder's words when adding VOLUMES and GIGABYTES to USAGE goes over. */
int zn__volop_quota_check(const zn_volops_t *self, const zn_vol_usage_t *usage, int64_t volumes,
                          int64_t gigabytes, zn_fault_t *fault);

/* Put USAGE (of PROJECT_ID) conditioned on GEN into BATCH. */
int zn__volop_usage_put(zn_batch_t *batch, const char *project_id, zn_vol_usage_t *usage,
                        uint64_t gen, zn_fault_t *fault);

/* Run ARGS (its id: OP's volume) on the backend's worker, then THEN(OP, its result) on the
 * loop. When the job cannot be queued THEN runs at once with the error. */
void zn__volop_backend(zn_volop_t *op, zn_vbackend_job_args_t *args, zn_volop_then_fn *then);

/* Answer FAULT and free OP on the next loop turn. */
void zn__volop_fail_later(zn_volop_t *op, const zn_fault_t *fault);

/* The same, at once (from a callback). */
void zn__volop_run(zn_volop_t *op, zn_volop_build_fn *build, zn_volop_then_fn *then);

/* Call OP's FN with FAULT (once) and keep OP. */
void zn__volop_answer(zn_volop_t *op, const zn_fault_t *fault);

/* THEN functions: answer and free; answer with op->failure when set, and free; free only
 * (background steps after the answer, logging a failure). */
void zn__volop_then_answer(zn_volop_t *op, const zn_fault_t *fault);
void zn__volop_then_failure(zn_volop_t *op, const zn_fault_t *fault);
void zn__volop_then_free(zn_volop_t *op, const zn_fault_t *fault);

/* Read op->volume_id into op->vol and op->vol_gen, with the caller's access checked. */
int zn__volop_read(zn_volop_t *op, zn_store_read_t *txn, zn_fault_t *fault);

/* Put op->vol conditioned on op->vol_gen into BATCH. */
int zn__volop_put(zn_volop_t *op, zn_batch_t *batch, zn_fault_t *fault);

/* A BUILD that moves the volume from op->expect to op->target (already there: done), with
 * the side effects of the target: in-use stamps attached_ms, available from attaching or
 * detaching clears the attachment, available from extending takes op->size_gb, an error
 * status records op->failure's message. */
int zn__volop_set_status(zn_volop_t *op, zn_store_read_t *txn, zn_batch_t *batch,
                         zn_fault_t *fault);

/* Change the usage of op->project_id by VOLUMES and GIGABYTES in BATCH, checking the quota
 * when either grows. Returns 0, ZN_EQUOTA with Cinder's words, or a read error. */
int zn__volop_usage_add(zn_volop_t *op, zn_store_read_t *txn, zn_batch_t *batch, int64_t volumes,
                        int64_t gigabytes, zn_fault_t *fault);

/* The context of OP's calls (request id, who, token borrowed from OP). */
void zn__volop_ctx(const zn_volop_t *op, zn_ctx_t *out);

/* Image import (zn_volops_image.c): check the image, then create; and the copy afterwards. */
void zn__volop_image_check(zn_volop_t *op);
void zn__volop_image_copy(zn_volop_t *op);

/* Finish a create in the background: OP's volume becomes available, or error with FAULT. */
void zn__volop_create_done(zn_volop_t *op, const zn_fault_t *fault);

#endif
