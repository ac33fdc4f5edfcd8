/* SPDX-License-Identifier: Apache-2.0 */
/* zn_volops.c - the step driver, and create, update, extend and delete. */
#include "zn_volops.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <sodium.h>

#include "zn_clock.h"
#include "zn_log.h"
#include "zn_mem.h"
#include "zn_tables.h"
#include "zn_uuid.h"
#include "zn_volops_int.h"

#define S_ATTEMPTS_MAX    8
#define S_TIMEOUT_DEFAULT 5000

zn_volops_t *
zn_volops_new(const zn_volops_opts_t *opts)
{
    zn_volops_t *self = zn_calloc(1, sizeof(*self));
    self->sc = opts->sc;
    self->backend = opts->backend;
    self->image = opts->image;
    self->loop = opts->loop;
    self->host = zn_strdup(opts->host != NULL ? opts->host : "localhost");
    self->quota_volumes = opts->quota_volumes;
    self->quota_gigabytes = opts->quota_gigabytes;
    self->max_size_gb = opts->max_size_gb;
    self->call_timeout_ms = opts->call_timeout_ms > 0 ? opts->call_timeout_ms : S_TIMEOUT_DEFAULT;
    self->batch = zn_batch_new();
    self->usage_queues = zn__volops_queues_new();
    return self;
}

void
zn_volops_shutdown(zn_volops_t *self)
{
    self->closing = true;
    zn_vbackend_cancel(self->backend); /* its jobs' operations are freed below or later */
    zn_volop_t *op = self->ops;
    while (op != NULL) {
        zn_volop_t *next = op->next;
        op->fn = NULL;
        if (op->timer_id >= 0) {
            /* Waiting for its first turn: nothing else refers to it. */
            zloop_timer_end(self->loop, op->timer_id);
            zn__volop_free(op);
        }
        op = next;
    }
}

void
zn_volops_destroy(zn_volops_t **self_p)
{
    zn_volops_t *self = *self_p;
    if (self == NULL) {
        return;
    }
    zn_volops_shutdown(self);
    while (self->ops != NULL) {
        zn__volop_free(self->ops);
    }
    zn_batch_destroy(&self->batch);
    zhashx_destroy(&self->usage_queues);
    zn_free(self->host);
    zn_free(self);
    *self_p = NULL;
}

size_t
zn_volops_pending(const zn_volops_t *self)
{
    return self->pending;
}

/* ---- operations and the step driver ------------------------------------------------------- */

static zn_buf_t
s_buf(const char *text)
{
    return (zn_buf_t){(const uint8_t *)text, strlen(text)};
}

static char *
s_dup(const char *text)
{
    return text != NULL ? zn_strdup(text) : NULL;
}

zn_volop_t *
zn__volop_new(zn_volops_t *self, const zn_ctx_t *ctx, const zn_volops_who_t *who,
              const char *volume_id, zn_volops_fn *fn, void *arg)
{
    zn_volop_t *op = zn_calloc(1, sizeof(*op));
    op->self = self;
    op->timer_id = -1;
    if (ctx != NULL) {
        (void)snprintf(op->req_id, sizeof(op->req_id), "%s", ctx->req_id);
        if (ctx->token.len > 0 && ctx->token.len <= ZN_TOKEN_MAX) {
            op->token = zn_malloc(ctx->token.len);
            memcpy(op->token, ctx->token.ptr, ctx->token.len);
            op->token_len = ctx->token.len;
        }
    }
    op->project_id = s_dup(who->project_id);
    op->user_id = s_dup(who->user_id);
    op->admin = who->admin;
    op->volume_id = s_dup(volume_id);
    op->fn = fn;
    op->arg = arg;
    op->next = self->ops;
    if (self->ops != NULL) {
        self->ops->prev = op;
    }
    self->ops = op;
    self->pending++;
    return op;
}

void
zn__volop_free(zn_volop_t *op)
{
    zn_volops_t *self = op->self;
    if (op->prev != NULL) {
        op->prev->next = op->next;
    } else {
        self->ops = op->next;
    }
    if (op->next != NULL) {
        op->next->prev = op->prev;
    }
    self->pending--;
    if (op->token != NULL) {
        sodium_memzero(op->token, op->token_len);
    }
    char **strings[] = {&op->token,  &op->project_id,  &op->user_id,      &op->volume_id,
                        &op->name,   &op->description, &op->instance_id,  &op->host,
                        &op->device, &op->image_id,    &op->image_format, &op->reset_status};
    for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
        zn_str_free(strings[i]);
    }
    zn_schema_release(&zn_vol_schema, &op->vol);
    zn_free(op->group);
    zn_free(op);
}

void
zn__volop_ctx(const zn_volop_t *op, zn_ctx_t *out)
{
    memset(out, 0, sizeof(*out));
    (void)snprintf(out->req_id, sizeof(out->req_id), "%s", op->req_id);
    (void)snprintf(out->project_id, sizeof(out->project_id), "%s",
                   op->project_id != NULL ? op->project_id : "");
    (void)snprintf(out->user_id, sizeof(out->user_id), "%s",
                   op->user_id != NULL ? op->user_id : "");
    out->token = (zn_buf_t){(const uint8_t *)op->token, op->token_len};
}

void
zn__volop_answer(zn_volop_t *op, const zn_fault_t *fault)
{
    zn_volops_fn *fn = op->fn;
    op->fn = NULL;
    if (fn != NULL) {
        fn(op->arg, &op->vol, fault);
    }
}

void
zn__volop_then_answer(zn_volop_t *op, const zn_fault_t *fault)
{
    zn__volop_answer(op, fault);
    zn__volop_free(op);
}

void
zn__volop_then_failure(zn_volop_t *op, const zn_fault_t *fault)
{
    if (fault->code < 0) {
        zn_log_warn(op->req_id, "volume %s: recording %s failed: %s", op->volume_id,
                    zn_vol_status_name(op->target), zn_fault_message(fault));
    }
    zn__volop_answer(op, &op->failure);
    zn__volop_free(op);
}

void
zn__volop_then_free(zn_volop_t *op, const zn_fault_t *fault)
{
    if (fault->code < 0) {
        zn_log_warn(op->req_id, "volume %s: %s", op->volume_id, zn_fault_message(fault));
    }
    zn__volop_answer(op, fault);
    zn__volop_free(op);
}

static void
s_on_backend(void *arg, const zn_fault_t *fault)
{
    zn_volop_t *op = arg;
    zn_volop_then_fn *then = op->after_backend;
    op->after_backend = NULL;
    then(op, fault);
}

void
zn__volop_backend(zn_volop_t *op, zn_vbackend_job_args_t *args, zn_volop_then_fn *then)
{
    args->id = op->volume_id;
    op->after_backend = then;
    if (zn_vbackend_submit(op->self->backend, args, s_on_backend, op) < 0) {
        zn_fault_t fault;
        (void)zn_fault_set(&fault, ZN_EINTERNAL, "the volume backend's worker is not running");
        op->after_backend = NULL;
        then(op, &fault);
    }
}

static void s_step(zn_volop_t *op);

static void
s_on_written(void *arg, const zn_fault_t *fault)
{
    zn_volop_t *op = arg;
    if (op->self->closing) {
        zn__volop_free(op);
        return;
    }
    bool retry =
        fault->code == ZN_ECONFLICT || fault->code == -ETIMEDOUT || fault->code == ZN_EUNKNOWN;
    if (retry && ++op->attempts < S_ATTEMPTS_MAX) {
        s_step(op);
        return;
    }
    zn__volop_usage_release(op);
    op->then(op, fault);
}

/* Build the step's batch from a fresh read: 0 to write it, 1 when done, or an error. */
static int
s_build(zn_volop_t *op, zn_fault_t *fault)
{
    zn_volops_t *self = op->self;
    zn_store_read_t *txn = NULL;
    int rc = zn_sclient_read_begin(self->sc, &txn, fault);
    if (rc < 0) {
        return rc;
    }
    zn_batch_reset(self->batch);
    rc = op->build(op, txn, self->batch, fault);
    zn_store_read_end(&txn);
    return rc;
}

static void
s_step(zn_volop_t *op)
{
    zn_fault_t fault;
    zn_fault_clear(&fault);
    int rc = s_build(op, &fault);
    if (rc == 0) {
        zn_ctx_t ctx;
        zn__volop_ctx(op, &ctx);
        rc = zn_sclient_write(op->self->sc, &ctx, op->self->batch, op->self->call_timeout_ms,
                              s_on_written, op);
        if (rc == 0) {
            return;
        }
        (void)zn_fault_set(&fault, rc, "cannot send to the store: %s", zn_strerror(rc));
    }
    if (rc == 1) {
        zn_fault_clear(&fault);
    }
    zn__volop_usage_release(op);
    op->then(op, &fault);
}

void
zn__volop_run(zn_volop_t *op, zn_volop_build_fn *build, zn_volop_then_fn *then)
{
    op->build = build;
    op->then = then;
    op->attempts = 0;
    if (op->self->closing) {
        zn__volop_free(op);
        return;
    }
    s_step(op);
}

static int
s_on_turn(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    zn_volop_t *op = arg;
    op->timer_id = -1;
    zn__volop_run(op, op->build, op->then);
    return 0;
}

void
zn__volop_start(zn_volop_t *op, zn_volop_build_fn *build, zn_volop_then_fn *then)
{
    op->build = build;
    op->then = then;
    op->timer_id = zloop_timer(op->self->loop, 0, 1, s_on_turn, op);
}

static int
s_on_fail_turn(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    zn_volop_t *op = arg;
    op->timer_id = -1;
    zn__volop_then_answer(op, &op->failure);
    return 0;
}

void
zn__volop_fail_later(zn_volop_t *op, const zn_fault_t *fault)
{
    op->failure = *fault;
    op->timer_id = zloop_timer(op->self->loop, 0, 1, s_on_fail_turn, op);
}

/* ---- shared steps ------------------------------------------------------------------------- */

static const zn_store_table_t *
s_table(zn_volops_t *self, zn_fault_t *fault)
{
    const zn_store_table_t *table = zn_sclient_table(self->sc, ZN_TABLE_VOLUMES);
    if (table == NULL) {
        (void)zn_fault_set(fault, ZN_EUNAVAIL, "the volumes table cannot be read");
    }
    return table;
}

/* Read ID into OUT for WHO: another project's volume is "not found" so that ids do not leak. */
static int
s_read_for(zn_volops_t *self, zn_store_read_t *txn, const zn_volops_who_t *who, const char *id,
           zn_vol_t *out, uint64_t *gen, zn_fault_t *fault)
{
    zn_schema_release(&zn_vol_schema, out);
    const zn_store_table_t *table = s_table(self, fault);
    if (table == NULL) {
        return ZN_EUNAVAIL;
    }
    int rc = -ENOENT;
    if (id != NULL && !zn_volrec_is_usage_key(id, strlen(id))) {
        rc = zn_sclient_get(txn, table, id, &zn_vol_schema, out, gen, NULL);
    }
    if (rc == 0 && !who->admin &&
        (out->project_id == NULL || who->project_id == NULL ||
         strcmp(out->project_id, who->project_id) != 0)) {
        zn_schema_release(&zn_vol_schema, out);
        rc = -ENOENT;
    }
    if (rc == -ENOENT) {
        return zn_fault_set(fault, -ENOENT, "Volume %.64s could not be found.",
                            id != NULL ? id : "");
    }
    return rc < 0 ? zn_fault_set(fault, rc, "volume %.64s: unreadable record", id) : 0;
}

int
zn__volop_read(zn_volop_t *op, zn_store_read_t *txn, zn_fault_t *fault)
{
    zn_volops_who_t who = {op->project_id, op->user_id, op->admin};
    return s_read_for(op->self, txn, &who, op->volume_id, &op->vol, &op->vol_gen, fault);
}

int
zn__volop_put(zn_volop_t *op, zn_batch_t *batch, zn_fault_t *fault)
{
    int rc =
        zn_sclient_put(batch, ZN_TABLE_VOLUMES, op->vol.id, &zn_vol_schema, &op->vol, op->vol_gen);
    return rc < 0 ? zn_fault_set(fault, rc, "volume %s: cannot encode", op->vol.id) : 0;
}

static void
s_clear_attachment(zn_vol_t *vol)
{
    zn_vol_set_str(&vol->instance_id, NULL);
    zn_vol_set_str(&vol->attach_host, NULL);
    zn_vol_set_str(&vol->device, NULL);
    zn_vol_set_str(&vol->attachment_id, NULL);
    vol->attached_ms = 0;
}

int
zn__volop_set_status(zn_volop_t *op, zn_store_read_t *txn, zn_batch_t *batch, zn_fault_t *fault)
{
    int rc = zn__volop_read(op, txn, fault);
    if (rc < 0) {
        return rc;
    }
    zn_vol_status_t now = zn_vol_status(&op->vol);
    if (now == op->target) {
        return 1;
    }
    if (op->instance_id != NULL &&
        (op->vol.instance_id == NULL || strcmp(op->vol.instance_id, op->instance_id) != 0)) {
        return zn_fault_set(fault, ZN_ECONFLICT, "volume %s is no longer %s for instance %s",
                            op->volume_id, zn_vol_status_name(op->expect), op->instance_id);
    }
    if (now != op->expect || !zn_vol_can_move(now, op->target)) {
        return zn_fault_set(fault, ZN_ECONFLICT, "volume %s is %s, not %s", op->volume_id,
                            zn_vol_status_name(now), zn_vol_status_name(op->expect));
    }
    int64_t now_ms = zn_clock_wall_ms();
    if (op->target == ZN_VOL_IN_USE) {
        op->vol.attached_ms = now_ms;
    } else if (op->target == ZN_VOL_AVAILABLE && op->expect == ZN_VOL_EXTENDING) {
        op->vol.size_gb = op->size_gb;
    } else if (op->target == ZN_VOL_AVAILABLE && op->expect != ZN_VOL_CREATING) {
        s_clear_attachment(&op->vol);
    }
    if (op->target == ZN_VOL_ERROR || op->target == ZN_VOL_ERROR_DELETING ||
        op->target == ZN_VOL_ERROR_EXTENDING) {
        zn_vol_set_str(&op->vol.error, zn_fault_message(&op->failure));
    }
    zn_vol_set_status(&op->vol, op->target, now_ms);
    return zn__volop_put(op, batch, fault);
}

int
zn__volop_quota_check(const zn_volops_t *self, const zn_vol_usage_t *usage, int64_t volumes,
                      int64_t gigabytes, zn_fault_t *fault)
{
    if (volumes > 0 && self->quota_volumes >= 0 && usage->volumes + volumes > self->quota_volumes) {
        return zn_fault_set(fault, ZN_EQUOTA,
                            "VolumeLimitExceeded: Maximum number of volumes allowed (%" PRId64
                            ") exceeded for quota 'volumes'.",
                            self->quota_volumes);
    }
    if (gigabytes > 0 && self->quota_gigabytes >= 0 &&
        usage->gigabytes + gigabytes > self->quota_gigabytes) {
        return zn_fault_set(fault, ZN_EQUOTA,
                            "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot "
                            "exceeds allowed gigabytes quota. Requested %" PRId64
                            "G, quota is %" PRId64 "G and %" PRId64 "G has been consumed.",
                            gigabytes, self->quota_gigabytes, usage->gigabytes);
    }
    return 0;
}

int
zn__volop_usage_read(zn_volops_t *self, zn_store_read_t *txn, const char *project_id,
                     zn_vol_usage_t *out, uint64_t *gen, zn_fault_t *fault)
{
    const zn_store_table_t *table = s_table(self, fault);
    if (table == NULL) {
        return ZN_EUNAVAIL;
    }
    char key[ZN_VOLREC_USAGE_KEY_MAX];
    zn_volrec_usage_key(project_id, key);
    *gen = ZN_BATCH_GEN_ABSENT;
    int rc = zn_sclient_get(txn, table, key, &zn_vol_usage_schema, out, gen, fault);
    if (rc == -ENOENT) {
        memset(out, 0, sizeof(*out));
        *gen = ZN_BATCH_GEN_ABSENT;
        return 0;
    }
    return rc;
}

int
zn__volop_usage_put(zn_batch_t *batch, const char *project_id, zn_vol_usage_t *usage, uint64_t gen,
                    zn_fault_t *fault)
{
    /* A usage that would go below zero was counted before this agent kept usage: clamp. */
    usage->volumes = usage->volumes > 0 ? usage->volumes : 0;
    usage->gigabytes = usage->gigabytes > 0 ? usage->gigabytes : 0;
    zn_vol_set_str(&usage->project, project_id);
    char key[ZN_VOLREC_USAGE_KEY_MAX];
    zn_volrec_usage_key(project_id, key);
    int rc = zn_sclient_put(batch, ZN_TABLE_VOLUMES, key, &zn_vol_usage_schema, usage, gen);
    return rc < 0 ? zn_fault_set(fault, rc, "usage of %s: cannot encode", project_id) : 0;
}

const char *
zn__volop_project(const zn_volop_t *op)
{
    const char *project = op->vol.project_id != NULL ? op->vol.project_id : op->project_id;
    return project != NULL ? project : "";
}

int
zn__volop_usage_add(zn_volop_t *op, zn_store_read_t *txn, zn_batch_t *batch, int64_t volumes,
                    int64_t gigabytes, zn_fault_t *fault)
{
    const char *project = zn__volop_project(op);
    zn_vol_usage_t usage;
    memset(&usage, 0, sizeof(usage));
    uint64_t gen = ZN_BATCH_GEN_ABSENT;
    int rc = zn__volop_usage_read(op->self, txn, project, &usage, &gen, fault);
    if (rc == 0) {
        rc = zn__volop_quota_check(op->self, &usage, volumes, gigabytes, fault);
    }
    if (rc == 0) {
        usage.volumes += volumes;
        usage.gigabytes += gigabytes;
        rc = zn__volop_usage_put(batch, project, &usage, gen, fault);
    }
    zn_schema_release(&zn_vol_usage_schema, &usage);
    return rc;
}

static int
s_check_size(const zn_volops_t *self, int64_t size_gb, zn_fault_t *fault)
{
    if (size_gb < 1 || size_gb > self->max_size_gb) {
        return zn_fault_set(fault, -EINVAL,
                            "Invalid input received: volume size %" PRId64
                            " must be an integer between 1 and %" PRId64 " (GiB).",
                            size_gb, self->max_size_gb);
    }
    return 0;
}

/* ---- create ------------------------------------------------------------------------------- */

/* Add MEMBER's volume to BATCH when it fits the quota beside what *usage already holds
 * (updated); otherwise MEMBER's failure says why and it waits for its answer. */
static int
s_add_new(zn_volop_t *member, zn_vol_usage_t *usage, zn_batch_t *batch, zn_fault_t *fault)
{
    zn_fault_clear(&member->failure);
    if (zn__volop_quota_check(member->self, usage, 1, member->vol.size_gb, &member->failure) < 0) {
        return 0;
    }
    usage->volumes += 1;
    usage->gigabytes += member->vol.size_gb;
    member->vol_gen = ZN_BATCH_GEN_ABSENT;
    return zn__volop_put(member, batch, fault);
}

/* The creates OP leads (itself first, then those queued behind it) in one batch: the usage
 * record once, and each volume that fits the quota. */
static int
s_build_create(zn_volop_t *op, zn_store_read_t *txn, zn_batch_t *batch, zn_fault_t *fault)
{
    const zn_store_table_t *table = s_table(op->self, fault);
    if (table == NULL) {
        return ZN_EUNAVAIL;
    }
    uint64_t gen = 0;
    if (zn_store_get_generation(txn, table, s_buf(op->vol.id), &gen) == 0) {
        return 1; /* an earlier attempt whose answer was lost did commit, the group with it */
    }
    zn_vol_usage_t usage;
    memset(&usage, 0, sizeof(usage));
    int rc = zn__volop_usage_read(op->self, txn, zn__volop_project(op), &usage, &gen, fault);
    int64_t before = usage.volumes;
    for (size_t i = 0; rc == 0 && i <= op->group_count; i++) {
        rc = s_add_new(i == 0 ? op : op->group[i - 1], &usage, batch, fault);
    }
    if (rc == 0 && usage.volumes == before) {
        rc = 1; /* none fits: each answers its own quota failure */
    }
    if (rc == 0) {
        rc = zn__volop_usage_put(batch, zn__volop_project(op), &usage, gen, fault);
    }
    zn_schema_release(&zn_vol_usage_schema, &usage);
    return rc;
}

void
zn__volop_create_done(zn_volop_t *op, const zn_fault_t *fault)
{
    op->expect = ZN_VOL_CREATING;
    op->target = fault->code < 0 ? ZN_VOL_ERROR : ZN_VOL_AVAILABLE;
    op->failure = *fault;
    if (fault->code < 0) {
        zn_log_warn(op->req_id, "volume %s: create failed: %s", op->volume_id,
                    zn_fault_message(fault));
    }
    zn__volop_run(op, zn__volop_set_status, zn__volop_then_free);
}

/* After the create committed (or failed): answer, and start the image copy of a volume made
 * from an image. Returns true when OP's backing file is still to be made. */
static bool
s_after_commit(zn_volop_t *op, const zn_fault_t *fault)
{
    if (fault->code < 0 || op->failure.code < 0) {
        zn__volop_then_answer(op, fault->code < 0 ? fault : &op->failure);
        return false;
    }
    zn__volop_answer(op, fault);
    if (op->image_id != NULL) {
        zn__volop_image_copy(op);
        return false;
    }
    return true;
}

/* Each member's status (available, or error) in one batch. */
static int
s_build_group_status(zn_volop_t *op, zn_store_read_t *txn, zn_batch_t *batch, zn_fault_t *fault)
{
    size_t added = 0;
    for (size_t i = 0; i <= op->group_count; i++) {
        zn_volop_t *member = i == 0 ? op : op->group[i - 1];
        zn_fault_t why;
        zn_fault_clear(&why);
        int rc = zn__volop_set_status(member, txn, batch, &why);
        if (rc == -ENOENT || rc == ZN_ECONFLICT) {
            zn_log_warn(member->req_id, "volume %s: %s", member->volume_id, zn_fault_message(&why));
        } else if (rc < 0) {
            return zn_fault_set(fault, rc, "%s", zn_fault_message(&why));
        }
        added += rc == 0;
    }
    return added > 0 ? 0 : 1;
}

static void
s_then_group_done(zn_volop_t *op, const zn_fault_t *fault)
{
    zn_volop_t **members = op->group;
    size_t count = op->group_count;
    op->group = NULL;
    op->group_count = 0;
    zn__volop_then_free(op, fault);
    for (size_t i = 0; i < count; i++) {
        zn__volop_free(members[i]);
    }
    zn_free(members);
}

/* One backing file of a group is made (or failed); the last one records every status. */
static void
s_on_file(zn_volop_t *member, const zn_fault_t *fault)
{
    if (fault->code < 0) {
        zn_log_warn(member->req_id, "volume %s: create failed: %s", member->volume_id,
                    zn_fault_message(fault));
    }
    member->expect = ZN_VOL_CREATING;
    member->target = fault->code < 0 ? ZN_VOL_ERROR : ZN_VOL_AVAILABLE;
    member->failure = *fault;
    zn_volop_t *leader = member->leader;
    if (--leader->files_pending == 0) {
        zn__volop_run(leader, s_build_group_status, s_then_group_done);
    }
}

/* The group's batch committed (or failed): answer every member, have the backing files made
 * on the backend's worker, and record their statuses in one more batch. */
static void
s_then_group(zn_volop_t *op, const zn_fault_t *fault)
{
    size_t count = op->group_count + 1;
    zn_volop_t **all = zn_calloc(count, sizeof(*all)); // NOLINT(bugprone-sizeof-expression)
    all[0] = op;
    for (size_t i = 1; i < count; i++) {
        all[i] = op->group[i - 1];
    }
    zn_free(op->group);
    op->group = NULL;
    op->group_count = 0;
    zn_volop_t *leader = NULL;
    for (size_t i = 0; i < count; i++) {
        if (!s_after_commit(all[i], fault)) {
            all[i] = NULL;
            continue;
        }
        if (leader == NULL) {
            leader = all[i];
            leader->group = zn_calloc(count, sizeof(*all)); // NOLINT(bugprone-sizeof-expression)
        } else {
            leader->group[leader->group_count++] = all[i];
        }
        all[i]->leader = leader;
        leader->files_pending++;
    }
    for (size_t i = 0; i < count; i++) {
        if (all[i] != NULL) {
            zn_vbackend_job_args_t args = {.op = ZN_VBACKEND_CREATE,
                                           .size_gb = all[i]->vol.size_gb};
            zn__volop_backend(all[i], &args, s_on_file);
        }
    }
    zn_free(all);
}

static void
s_fill_new(zn_volop_t *op, const zn_volops_create_t *req, const char *id)
{
    zn_volops_t *self = op->self;
    zn_vol_t *vol = &op->vol;
    int64_t now_ms = zn_clock_wall_ms();
    vol->id = zn_strdup(id);
    vol->project_id = s_dup(op->project_id);
    vol->user_id = s_dup(op->user_id);
    vol->name = s_dup(req->name);
    vol->description = s_dup(req->description);
    vol->size_gb = req->size_gb;
    vol->volume_host = zn_strdup(self->host);
    vol->backend = zn_strdup(zn_vbackend_name(self->backend));
    vol->format = zn_strdup(zn_vbackend_format(self->backend));
    vol->image_id = s_dup(req->image_id);
    vol->bootable = req->image_id != NULL;
    vol->created_ms = now_ms;
    zn_vol_set_status(vol, ZN_VOL_CREATING, now_ms);
}

int
zn_volops_create(zn_volops_t *self, const zn_ctx_t *ctx, const zn_volops_who_t *who,
                 const zn_volops_create_t *req, zn_volops_fn *fn, void *arg, zn_fault_t *fault)
{
    int rc = s_check_size(self, req->size_gb, fault);
    if (rc == 0 && who->project_id == NULL) {
        rc = zn_fault_set(fault, -EINVAL, "a volume belongs to a project: no project given");
    }
    if (rc == 0 && req->image_id != NULL && self->image == NULL) {
        rc = zn_fault_set(fault, -EINVAL,
                          "Invalid input received: this volume service cannot read images");
    }
    if (rc < 0) {
        return rc;
    }
    zn_uuid_t id = zn_uuid_generate();
    zn_volop_t *op = zn__volop_new(self, ctx, who, id.str, fn, arg);
    s_fill_new(op, req, id.str);
    op->image_id = s_dup(req->image_id);
    op->build = s_build_create;
    op->then = s_then_group;
    op->groups = true;
    if (op->image_id != NULL) {
        zn__volop_image_check(op); /* then s_build_create */
        return 0;
    }
    zn__volop_start_usage(op, s_build_create, s_then_group);
    return 0;
}

/* ---- update ------------------------------------------------------------------------------- */

static int
s_build_update(zn_volop_t *op, zn_store_read_t *txn, zn_batch_t *batch, zn_fault_t *fault)
{
    int rc = zn__volop_read(op, txn, fault);
    if (rc < 0) {
        return rc;
    }
    if (op->set_name) {
        zn_vol_set_str(&op->vol.name, op->name);
    }
    if (op->set_description) {
        zn_vol_set_str(&op->vol.description, op->description);
    }
    op->vol.updated_ms = zn_clock_wall_ms();
    return zn__volop_put(op, batch, fault);
}

int
zn_volops_update(zn_volops_t *self, const zn_ctx_t *ctx, const zn_volops_who_t *who, const char *id,
                 const char *name, const char *description, zn_volops_fn *fn, void *arg,
                 zn_fault_t *fault)
{
    (void)fault;
    zn_volop_t *op = zn__volop_new(self, ctx, who, id, fn, arg);
    op->set_name = name != NULL;
    op->name = s_dup(name);
    op->set_description = description != NULL;
    op->description = s_dup(description);
    zn__volop_start(op, s_build_update, zn__volop_then_answer);
    return 0;
}

/* ---- reset (admin) ----------------------------------------------------------------------- */

static int
s_build_reset(zn_volop_t *op, zn_store_read_t *txn, zn_batch_t *batch, zn_fault_t *fault)
{
    int rc = zn__volop_read(op, txn, fault);
    if (rc < 0) {
        return rc;
    }
    if (op->reset_status != NULL) {
        zn_vol_set_str(&op->vol.status, op->reset_status);
    }
    if (op->reset_detach) {
        s_clear_attachment(&op->vol);
    }
    op->vol.updated_ms = zn_clock_wall_ms();
    return zn__volop_put(op, batch, fault);
}

int
zn_volops_reset(zn_volops_t *self, const zn_ctx_t *ctx, const zn_volops_who_t *who, const char *id,
                const char *status, bool detach, zn_volops_fn *fn, void *arg, zn_fault_t *fault)
{
    zn_vol_status_t parsed;
    if (!who->admin) {
        return zn_fault_set(fault, ZN_EFORBIDDEN, "only an admin may reset a volume's status");
    }
    if (status != NULL && zn_vol_status_parse(status, &parsed) < 0) {
        return zn_fault_set(fault, -EINVAL, "status %.32s: unknown", status);
    }
    zn_volop_t *op = zn__volop_new(self, ctx, who, id, fn, arg);
    op->reset_status = s_dup(status);
    op->reset_detach = detach;
    zn__volop_start(op, s_build_reset, zn__volop_then_answer);
    return 0;
}

/* ---- extend ------------------------------------------------------------------------------- */

static int
s_build_extend(zn_volop_t *op, zn_store_read_t *txn, zn_batch_t *batch, zn_fault_t *fault)
{
    int rc = zn__volop_read(op, txn, fault);
    if (rc < 0) {
        return rc;
    }
    zn_vol_status_t status = zn_vol_status(&op->vol);
    if (status == ZN_VOL_EXTENDING && op->attempts > 0) {
        return 1; /* our own write, whose answer was lost */
    }
    if (status != ZN_VOL_AVAILABLE) {
        return zn_fault_set(fault, -EINVAL,
                            "Invalid volume: Volume %s status must be available to extend, but "
                            "current status is: %s.",
                            op->volume_id, zn_vol_status_name(status));
    }
    if (op->size_gb <= op->vol.size_gb) {
        return zn_fault_set(fault, -EINVAL,
                            "Invalid input received: New size for extend must be greater than "
                            "current size. (current: %" PRId64 ", extended: %" PRId64 ").",
                            op->vol.size_gb, op->size_gb);
    }
    op->delta_gb = op->size_gb - op->vol.size_gb;
    rc = zn__volop_usage_add(op, txn, batch, 0, op->delta_gb, fault);
    if (rc == 0) {
        zn_vol_set_status(&op->vol, ZN_VOL_EXTENDING, zn_clock_wall_ms());
        rc = zn__volop_put(op, batch, fault);
    }
    return rc;
}

/* A failed extend gives the gigabytes back in the same batch as its error status. */
static int
s_build_extend_failed(zn_volop_t *op, zn_store_read_t *txn, zn_batch_t *batch, zn_fault_t *fault)
{
    int rc = zn__volop_set_status(op, txn, batch, fault);
    if (rc == 0) {
        rc = zn__volop_usage_add(op, txn, batch, 0, -op->delta_gb, fault);
    }
    return rc;
}

static void
s_on_extended(zn_volop_t *op, const zn_fault_t *fault)
{
    op->expect = ZN_VOL_EXTENDING;
    if (fault->code < 0) {
        op->failure = *fault;
        op->target = ZN_VOL_ERROR_EXTENDING;
        zn__volop_run_usage(op, s_build_extend_failed, zn__volop_then_failure);
        return;
    }
    op->target = ZN_VOL_AVAILABLE;
    zn__volop_run(op, zn__volop_set_status, zn__volop_then_answer);
}

static void
s_then_extending(zn_volop_t *op, const zn_fault_t *fault)
{
    if (fault->code < 0) {
        zn__volop_then_answer(op, fault);
        return;
    }
    zn_vbackend_job_args_t args = {.op = ZN_VBACKEND_EXTEND, .size_gb = op->size_gb};
    zn__volop_backend(op, &args, s_on_extended);
}

int
zn_volops_extend(zn_volops_t *self, const zn_ctx_t *ctx, const zn_volops_who_t *who, const char *id,
                 int64_t new_size_gb, zn_volops_fn *fn, void *arg, zn_fault_t *fault)
{
    int rc = s_check_size(self, new_size_gb, fault);
    if (rc < 0) {
        return rc;
    }
    zn_volop_t *op = zn__volop_new(self, ctx, who, id, fn, arg);
    op->size_gb = new_size_gb;
    zn__volop_start_usage(op, s_build_extend, s_then_extending);
    return 0;
}

/* ---- delete ------------------------------------------------------------------------------- */

static int
s_build_delete_mark(zn_volop_t *op, zn_store_read_t *txn, zn_batch_t *batch, zn_fault_t *fault)
{
    int rc = zn__volop_read(op, txn, fault);
    if (rc < 0) {
        return rc;
    }
    zn_vol_status_t status = zn_vol_status(&op->vol);
    if (status == ZN_VOL_DELETING) {
        return 1; /* a delete that stopped half way (or ours, retried) goes on */
    }
    if (!zn_vol_can_move(status, ZN_VOL_DELETING) || op->vol.instance_id != NULL) {
        return zn_fault_set(fault, -EINVAL,
                            "Invalid volume: Volume status must be available or error or "
                            "error_restoring or error_extending or error_managing and must not "
                            "be migrating, attached, belong to a group, have snapshots or be "
                            "disassociated from snapshots after volume transfer. (volume %s is "
                            "%s)",
                            op->volume_id, zn_vol_status_name(status));
    }
    zn_vol_set_status(&op->vol, ZN_VOL_DELETING, zn_clock_wall_ms());
    return zn__volop_put(op, batch, fault);
}

/* One delete of a group: its record goes into BATCH and its size into the totals. */
static void
s_add_delete(zn_volop_t *member, zn_store_read_t *txn, zn_batch_t *batch, int64_t *volumes,
             int64_t *gigabytes)
{
    zn_fault_clear(&member->failure);
    int rc = zn__volop_read(member, txn, &member->failure);
    if (rc == -ENOENT) {
        zn_fault_clear(&member->failure); /* gone: an earlier attempt committed */
        return;
    }
    if (rc == 0) {
        rc = zn_batch_delete(batch, ZN_TABLE_VOLUMES, s_buf(member->vol.id), member->vol_gen);
    }
    if (rc < 0) {
        if (member->failure.code == 0) {
            (void)zn_fault_set(&member->failure, rc, "volume %s: cannot build the delete",
                               member->volume_id);
        }
        return;
    }
    *volumes -= 1;
    *gigabytes -= member->vol.size_gb;
}

/* The last step of the deletes OP leads: every record gone and the usage given back, in one
 * batch. */
static int
s_build_delete_final(zn_volop_t *op, zn_store_read_t *txn, zn_batch_t *batch, zn_fault_t *fault)
{
    char *project = zn_strdup(zn__volop_project(op)); /* reads below replace op->vol */
    int64_t volumes = 0;
    int64_t gigabytes = 0;
    for (size_t i = 0; i <= op->group_count; i++) {
        s_add_delete(i == 0 ? op : op->group[i - 1], txn, batch, &volumes, &gigabytes);
    }
    int rc = volumes == 0 ? 1 : 0;
    if (rc == 0) {
        zn_vol_usage_t usage;
        memset(&usage, 0, sizeof(usage));
        uint64_t gen = ZN_BATCH_GEN_ABSENT;
        rc = zn__volop_usage_read(op->self, txn, project, &usage, &gen, fault);
        if (rc == 0) {
            usage.volumes += volumes;
            usage.gigabytes += gigabytes;
            rc = zn__volop_usage_put(batch, project, &usage, gen, fault);
        }
        zn_schema_release(&zn_vol_usage_schema, &usage);
    }
    zn_free(project);
    return rc;
}

/* The deletes' batch committed (or failed): answer each. */
static void
s_then_deleted(zn_volop_t *op, const zn_fault_t *fault)
{
    zn_volop_t **members = op->group;
    size_t count = op->group_count;
    op->group = NULL;
    op->group_count = 0;
    zn__volop_then_answer(op, fault->code < 0 || op->failure.code == 0 ? fault : &op->failure);
    for (size_t i = 0; i < count; i++) {
        zn_volop_t *m = members[i];
        zn__volop_then_answer(m, fault->code < 0 || m->failure.code == 0 ? fault : &m->failure);
    }
    zn_free(members);
}

static void
s_on_removed(zn_volop_t *op, const zn_fault_t *fault)
{
    if (fault->code < 0) {
        op->failure = *fault;
        op->expect = ZN_VOL_DELETING;
        op->target = ZN_VOL_ERROR_DELETING;
        zn__volop_run(op, zn__volop_set_status, zn__volop_then_failure);
        return;
    }
    op->groups = true;
    zn__volop_run_usage(op, s_build_delete_final, s_then_deleted);
}

static void
s_then_delete_marked(zn_volop_t *op, const zn_fault_t *fault)
{
    if (fault->code < 0) {
        zn__volop_then_answer(op, fault);
        return;
    }
    zn_vbackend_job_args_t args = {.op = ZN_VBACKEND_REMOVE};
    zn__volop_backend(op, &args, s_on_removed);
}

int
zn_volops_delete(zn_volops_t *self, const zn_ctx_t *ctx, const zn_volops_who_t *who, const char *id,
                 zn_volops_fn *fn, void *arg, zn_fault_t *fault)
{
    (void)fault;
    zn_volop_t *op = zn__volop_new(self, ctx, who, id, fn, arg);
    zn__volop_start(op, s_build_delete_mark, s_then_delete_marked);
    return 0;
}

/* ---- recovery ----------------------------------------------------------------------------- */

static void
s_on_recreated(zn_volop_t *op, const zn_fault_t *fault)
{
    zn_fault_t why = *fault;
    if (why.code == -EEXIST) {
        zn_fault_clear(&why); /* made before the agent stopped */
    }
    zn__volop_create_done(op, &why);
}

/* Take up VOL (stuck in creating or deleting on this host) as a new operation. */
static void
s_recover_one(zn_volops_t *self, const zn_vol_t *vol, uint64_t gen)
{
    zn_volops_who_t who = {NULL, NULL, true};
    zn_volop_t *op = zn__volop_new(self, NULL, &who, vol->id, NULL, NULL);
    zn_schema_copy(&zn_vol_schema, &op->vol, vol);
    op->vol_gen = gen;
    zn_fault_t fault;
    zn_fault_clear(&fault);
    if (zn_vol_status(vol) == ZN_VOL_DELETING) {
        s_then_delete_marked(op, &fault);
        return;
    }
    if (vol->image_id != NULL) {
        (void)zn_fault_set(&fault, -EIO, "the copy of image %s was interrupted", vol->image_id);
        zn__volop_create_done(op, &fault);
        return;
    }
    zn_vbackend_job_args_t args = {.op = ZN_VBACKEND_CREATE, .size_gb = vol->size_gb};
    zn__volop_backend(op, &args, s_on_recreated);
}

/* Left half done on this host before BEFORE_MS (later ones belong to requests in flight). */
static bool
s_is_stuck(const zn_volops_t *self, const zn_vol_t *vol, int64_t before_ms)
{
    zn_vol_status_t status = zn_vol_status(vol);
    return (status == ZN_VOL_CREATING || status == ZN_VOL_DELETING) && vol->volume_host != NULL &&
           strcmp(vol->volume_host, self->host) == 0 && vol->updated_ms < before_ms;
}

/* A volume found stuck, with its generation for the conditioned write that takes it up. */
typedef struct {
    zn_vol_t vol;
    uint64_t gen;
} s_stuck_t;

static void
s_stuck_free(s_stuck_t *stuck)
{
    zn_schema_release(&zn_vol_schema, &stuck->vol);
    zn_free(stuck);
}

/* The volumes stuck on this host, copied into OUT (s_stuck_t). */
static int
s_collect_stuck(zn_volops_t *self, zn_store_read_t *txn, const zn_store_table_t *table,
                int64_t before_ms, zlistx_t *out)
{
    enum {
        S_PAGE = 128
    };

    zn_store_record_t recs[S_PAGE];
    char last[ZN_STORE_KEY_MAX_BYTES + 1] = "";
    for (;;) {
        zn_buf_t marker = {(const uint8_t *)last, strlen(last)};
        int n = zn_store_scan(txn, table, marker, recs, S_PAGE);
        for (int i = 0; i < n; i++) {
            s_stuck_t *one = zn_calloc(1, sizeof(*one));
            one->gen = recs[i].generation;
            if (zn_volrec_is_usage_key((const char *)recs[i].key.ptr, recs[i].key.len) ||
                zn_schema_decode(&zn_vol_schema, recs[i].value, &one->vol, NULL, NULL) < 0 ||
                !s_is_stuck(self, &one->vol, before_ms)) {
                s_stuck_free(one);
                continue;
            }
            (void)zlistx_add_end(out, one);
        }
        if (n < S_PAGE) {
            return n < 0 ? n : 0;
        }
        (void)snprintf(last, sizeof(last), "%.*s", (int)recs[n - 1].key.len,
                       (const char *)recs[n - 1].key.ptr);
    }
}

int
zn_volops_recover(zn_volops_t *self, int64_t before_ms, zn_fault_t *fault)
{
    zn_store_read_t *txn = NULL;
    int rc = zn_sclient_read_begin(self->sc, &txn, fault);
    const zn_store_table_t *table = rc == 0 ? s_table(self, fault) : NULL;
    zlistx_t *stuck = zlistx_new();
    if (table != NULL) {
        rc = s_collect_stuck(self, txn, table, before_ms, stuck);
    } else if (rc == 0) {
        rc = ZN_EUNAVAIL;
    }
    zn_store_read_end(&txn); /* before any step reads and writes on its own */
    int taken = 0;
    for (s_stuck_t *one = zlistx_first(stuck); one != NULL; one = zlistx_next(stuck)) {
        if (rc == 0) {
            s_recover_one(self, &one->vol, one->gen);
            taken++;
        }
        s_stuck_free(one);
    }
    zlistx_destroy(&stuck);
    if (rc < 0) {
        return zn_fault_set(fault, rc, "volumes cannot be scanned: %s", zn_strerror(rc));
    }
    return taken;
}

/* ---- reads -------------------------------------------------------------------------------- */

int
zn_volops_get(zn_volops_t *self, const zn_volops_who_t *who, const char *id, zn_vol_t *out,
              zn_fault_t *fault)
{
    memset(out, 0, sizeof(*out));
    zn_store_read_t *txn = NULL;
    int rc = zn_sclient_read_begin(self->sc, &txn, fault);
    if (rc == 0) {
        rc = s_read_for(self, txn, who, id, out, NULL, fault);
    }
    zn_store_read_end(&txn);
    return rc;
}

int
zn_volops_usage(zn_volops_t *self, const char *project_id, int64_t *volumes, int64_t *gigabytes,
                zn_fault_t *fault)
{
    zn_store_read_t *txn = NULL;
    int rc = zn_sclient_read_begin(self->sc, &txn, fault);
    zn_vol_usage_t usage;
    memset(&usage, 0, sizeof(usage));
    memset(&usage, 0, sizeof(usage));
    uint64_t gen = 0;
    if (rc == 0) {
        rc = zn__volop_usage_read(self, txn, project_id, &usage, &gen, fault);
    }
    zn_store_read_end(&txn);
    *volumes = usage.volumes;
    *gigabytes = usage.gigabytes;
    zn_schema_release(&zn_vol_usage_schema, &usage);
    return rc;
}

int
zn_volops_connection(zn_volops_t *self, const zn_vol_t *vol, zn_vbackend_conn_t *out,
                     zn_fault_t *fault)
{
    int rc = zn_vbackend_connection(self->backend, vol->id, out, fault);
    if (rc == 0 && vol->format != NULL) {
        /* The record knows the format it was made with, even if the default changed since. */
        (void)snprintf(out->format, sizeof(out->format), "%s", vol->format);
    }
    return rc;
}
