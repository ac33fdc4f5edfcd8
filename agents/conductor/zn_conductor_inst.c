/* SPDX-License-Identifier: Apache-2.0 */
/* zn_conductor_inst.c - instance reads and writes on behalf of compute agents, rescheduling and
 * the watchdog. Every change is a read-modify-write of the instance record conditioned on its
 * generation (an "op"): a concurrent writer makes the store refuse it, and the op re-reads and
 * runs again, so no change is ever lost or applied to a stale record. */
#include "zn_conductor_inst.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "zn_batch.h"
#include "zn_caster.h"
#include "zn_cellrec.h"
#include "zn_client.h"
#include "zn_clock.h"
#include "zn_conductor_release.h"
#include "zn_log.h"
#include "zn_mem.h"
#include "zn_mp.h"
#include "zn_mpread.h"
#include "zn_str.h"
#include "zn_tables.h"

#define S_OP_TRIES     16
#define S_SCHEDULER_MS 10000
#define S_WATCH_BATCH  512
#define S_HOST_MAX     255
#define S_ID_MAX       64
#define S_CAST_WAIT_MS 200

typedef struct s_caster {
    char host[S_HOST_MAX + 1];
    char endpoint[S_HOST_MAX + 1];
    zn_caster_t *caster;
    struct s_caster *next;
} s_caster_t;

struct zn_conductor_inst {
    zn_conductor_inst_opts_t opts;
    zn_client_t *scheduler;          /* NULL: rescheduling is off */
    zn_conductor_release_t *release; /* ports and volumes of instance_delete */
    s_caster_t *casters;
    zhash_t *busy;   /* instance ids with an op in flight: the watchdog leaves them alone */
    zhashx_t *lanes; /* project id -> s_lane_t: deletes of one project, one at a time */
    bool stopping;
    int watch_timer;
    size_t pending;
};

/* ---- ops: conditional read-modify-write of one instance ---------------------------------- */

typedef struct s_op s_op_t;

/* Change INST (read at generation GEN in TXN) and add any further writes to BATCH. Return 0 to
 * write INST back (or delete it when op->remove is set), ZN_EDONE to write nothing and succeed,
 * or a negative code with FAULT to fail the op. */
typedef int(s_mutate_fn)(s_op_t *op, zn_store_read_t *txn, zn_cell_instance_t *inst,
                         zn_batch_t *batch, zn_fault_t *fault);

/* After the op: FAULT->code 0 when it committed (or had nothing to do). */
typedef void(s_then_fn)(s_op_t *op, const zn_fault_t *fault);

struct s_op {
    zn_conductor_inst_t *owner;
    char instance_id[S_ID_MAX + 1];
    char req_id[ZN_ID_MAX + 1];
    zn_call_t *call;  /* deferred caller, or NULL */
    zn_pack_t *reply; /* the answer body for CALL */
    s_mutate_fn *mutate;
    s_then_fn *then;
    int tries;
    bool remove;
    /* Request data the mutate functions read (copied from the call). */
    char host[S_HOST_MAX + 1];
    char vm_state[32];
    char task_state[32];
    char step[64];
    char result[16];
    char event[128];
    char *message;
    char drop_volume[S_ID_MAX + 1]; /* instance_update: the bdm of a failed attach */
    int64_t power_state;
    bool ok;
    bool reschedule;
    bool take;
    zn_cell_nic_t *ports; /* build_result: what the build got */
    size_t port_count;
    /* Carried between the steps of a reschedule. */
    char *token;
    zn_cell_instance_t snapshot; /* the instance as last written */
    struct s_lane *lane;         /* the lane it holds or waits in, or NULL */
    struct s_op *lane_next;      /* the next op waiting in that lane */
};

/* Deletes give back a project's quota usage and a host's claimed totals: records every delete
 * of that project changes under a generation condition. Run together, all but one of them
 * would conflict on every round (a storm of 1,000 deletes finished at a few per second), so the
 * deletes of one project go one at a time, each reading what the last one wrote. */
typedef struct s_lane {
    char project_id[S_ID_MAX + 1];
    s_op_t *head; /* waiting, oldest first */
    s_op_t *tail;
    bool busy;     /* an op of this lane is running */
    bool draining; /* s_lane_leave is starting the next ones: do not recurse */
} s_lane_t;

static void s_op_run(s_op_t *op);
static void s_lane_leave(zn_conductor_inst_t *self, s_lane_t *lane);

static s_op_t *
s_op_new(zn_conductor_inst_t *self, const char *instance_id, const zn_ctx_t *ctx)
{
    s_op_t *op = zn_calloc(1, sizeof(*op));
    op->owner = self;
    (void)snprintf(op->instance_id, sizeof(op->instance_id), "%s", instance_id);
    if (ctx != NULL) {
        (void)snprintf(op->req_id, sizeof(op->req_id), "%s", ctx->req_id);
    }
    op->power_state = -1;
    self->pending++;
    zhash_insert(self->busy, op->instance_id, op);
    return op;
}

static void
s_op_free(s_op_t *op)
{
    zn_conductor_inst_t *self = op->owner;
    if (zhash_lookup(self->busy, op->instance_id) == op) {
        zhash_delete(self->busy, op->instance_id);
    }
    zn_call_destroy(&op->call);
    zn_pack_destroy(&op->reply);
    zn_free(op->message);
    zn_free(op->token);
    for (size_t i = 0; i < op->port_count; i++) {
        zn_free(op->ports[i].network_id);
        zn_free(op->ports[i].port_id);
        zn_free(op->ports[i].fixed_ip);
        zn_free(op->ports[i].mac);
    }
    zn_free(op->ports);
    zn_schema_release(&zn_cell_instance_schema, &op->snapshot);
    self->pending--;
    s_lane_t *lane = op->lane;
    zn_free(op);
    if (lane != NULL) {
        s_lane_leave(self, lane);
    }
}

/* Answer the deferred caller, if any and not answered yet. */
static void
s_op_reply(s_op_t *op, const zn_fault_t *fault)
{
    if (op->call != NULL) {
        zn_buf_t body =
            fault->code == 0 && op->reply != NULL ? zn_pack_buf(op->reply) : (zn_buf_t){NULL, 0};
        if (fault->code == 0 && body.len == 0) {
            zn_pack_t *empty = zn_pack_new();
            zn_pack_map(empty, 0);
            if (zn_call_answer(&op->call, 0, zn_pack_buf(empty), NULL) < 0) {
                zn_log_info(op->req_id, "instance %s: the caller is gone", op->instance_id);
            }
            zn_pack_destroy(&empty);
        } else {
            if (zn_call_answer(&op->call, fault->code, body,
                               fault->code < 0 ? zn_fault_message(fault) : NULL) < 0) {
                zn_log_info(op->req_id, "instance %s: the caller is gone", op->instance_id);
            }
        }
    }
}

/* Answer the deferred caller (if any) and free OP. */
static void
s_op_answer(s_op_t *op, const zn_fault_t *fault)
{
    s_op_reply(op, fault);
    s_op_free(op);
}

static void
s_op_finish(s_op_t *op, const zn_fault_t *fault)
{
    if (fault->code < 0) {
        zn_log_info(op->req_id, "instance %s: %s", op->instance_id, zn_fault_message(fault));
    }
    if (op->then != NULL) {
        op->then(op, fault); /* THEN frees OP or chains it on */
    } else {
        s_op_answer(op, fault);
    }
}

static void
s_op_committed(void *arg, const zn_fault_t *fault)
{
    s_op_t *op = arg;
    if (fault->code == ZN_ECONFLICT && op->tries < S_OP_TRIES) {
        s_op_run(op); /* someone wrote first: read again and decide again */
        return;
    }
    s_op_finish(op, fault);
}

static int
s_op_build(s_op_t *op, zn_store_read_t *txn, zn_batch_t *batch, zn_fault_t *fault)
{
    zn_conductor_inst_t *self = op->owner;
    zn_store_t *store = zn_conductor_store_local(self->opts.store);
    const zn_store_table_t *table = zn_store_table(store, ZN_TABLE_INSTANCES);
    zn_store_record_t rec;
    int rc = zn_store_get(txn, table, zn_batch_str(op->instance_id), &rec);
    if (rc == -ENOENT) {
        return zn_fault_set(fault, -ENOENT, "instance %s not found", op->instance_id);
    }
    zn_cell_instance_t inst;
    if (rc == 0) {
        rc = zn_schema_decode(&zn_cell_instance_schema, rec.value, &inst, NULL, fault);
    } else {
        zn_fault_set(fault, rc, "instance %s: %s", op->instance_id, zn_strerror(rc));
    }
    if (rc < 0) {
        return rc;
    }
    rc = op->mutate(op, txn, &inst, batch, fault);
    if (rc == 0) {
        inst.updated_ms = zn_clock_wall_ms();
        if (op->remove) {
            rc = zn_batch_delete(batch, ZN_TABLE_INSTANCES, zn_batch_str(op->instance_id),
                                 rec.generation);
        } else {
            zn_pack_t *pack = zn_pack_new();
            zn_schema_encode(&zn_cell_instance_schema, &inst, pack);
            rc = zn_batch_put(batch, ZN_TABLE_INSTANCES, zn_batch_str(op->instance_id),
                              zn_pack_buf(pack), rec.generation);
            zn_pack_destroy(&pack);
        }
        if (rc < 0) {
            zn_fault_set(fault, rc, "instance %s: the write does not fit a batch", op->instance_id);
        }
    }
    zn_schema_release(&zn_cell_instance_schema, &op->snapshot);
    op->snapshot = inst; /* the state as written, for THEN */
    return rc;
}

static int s_mutate_delete(s_op_t *op, zn_store_read_t *txn, zn_cell_instance_t *inst,
                           zn_batch_t *batch, zn_fault_t *fault);

/* The project of OP's instance into OUT ("" when the record is gone). */
static void
s_op_project(s_op_t *op, char *out, size_t cap)
{
    out[0] = '\0';
    zn_store_read_t *txn = NULL;
    if (zn_store_read_begin(zn_conductor_store_local(op->owner->opts.store), &txn) < 0) {
        return;
    }
    zn_store_t *store = zn_conductor_store_local(op->owner->opts.store);
    zn_store_record_t rec;
    zn_cell_instance_t inst;
    if (zn_store_get(txn, zn_store_table(store, ZN_TABLE_INSTANCES), zn_batch_str(op->instance_id),
                     &rec) == 0 &&
        zn_schema_decode(&zn_cell_instance_schema, rec.value, &inst, NULL, NULL) == 0) {
        (void)snprintf(out, cap, "%s", inst.project_id != NULL ? inst.project_id : "");
        zn_schema_release(&zn_cell_instance_schema, &inst);
    }
    zn_store_read_end(&txn);
}

/* Put delete OP in its project's lane: true when it must wait there (s_lane_leave runs it). */
static bool
s_lane_enter(s_op_t *op)
{
    zn_conductor_inst_t *self = op->owner;
    char project_id[S_ID_MAX + 1];
    s_op_project(op, project_id, sizeof(project_id));
    if (project_id[0] == '\0') {
        return false; /* gone already: the op finds that out without touching any usage */
    }
    s_lane_t *lane = zhashx_lookup(self->lanes, project_id);
    if (lane == NULL) {
        lane = zn_calloc(1, sizeof(*lane));
        (void)snprintf(lane->project_id, sizeof(lane->project_id), "%s", project_id);
        (void)zhashx_insert(self->lanes, lane->project_id, lane); /* absent: looked up */
    }
    op->lane = lane;
    if (!lane->busy) {
        lane->busy = true;
        return false;
    }
    if (lane->tail != NULL) {
        lane->tail->lane_next = op;
    } else {
        lane->head = op;
    }
    lane->tail = op;
    return true;
}

/* The lane's running op ended: start the next ones (each may end at once, hence the loop). */
static void
s_lane_leave(zn_conductor_inst_t *self, s_lane_t *lane)
{
    lane->busy = false;
    if (lane->draining) {
        return;
    }
    lane->draining = true;
    while (!lane->busy && lane->head != NULL && !self->stopping) {
        s_op_t *next = lane->head;
        lane->head = next->lane_next;
        if (lane->head == NULL) {
            lane->tail = NULL;
        }
        next->lane_next = NULL;
        lane->busy = true;
        s_op_run(next);
    }
    lane->draining = false;
    if (!lane->busy && lane->head == NULL) {
        zhashx_delete(self->lanes, lane->project_id); /* frees LANE */
    }
}

static void
s_op_run(s_op_t *op)
{
    if (op->mutate == s_mutate_delete && op->lane == NULL && s_lane_enter(op)) {
        return; /* queued behind another delete of its project */
    }
    op->tries++;
    zn_fault_t fault;
    zn_fault_clear(&fault);
    zn_store_read_t *txn = NULL;
    int rc = zn_store_read_begin(zn_conductor_store_local(op->owner->opts.store), &txn);
    zn_batch_t *batch = zn_batch_new();
    if (rc < 0) {
        zn_fault_set(&fault, rc, "store read: %s", zn_strerror(rc));
    } else {
        rc = s_op_build(op, txn, batch, &fault);
    }
    zn_store_read_end(&txn);
    if (rc == 0) {
        zn_conductor_store_submit(op->owner->opts.store, batch, s_op_committed, op);
    } else {
        if (rc == ZN_EDONE) {
            zn_fault_clear(&fault);
        }
        s_op_finish(op, &fault);
    }
    zn_batch_destroy(&batch);
}

/* ---- helpers the mutations share ---------------------------------------------------------- */

static void
s_set_str(char **field, const char *value)
{
    zn_free(*field);
    *field = value != NULL && value[0] != '\0' ? zn_strdup(value) : NULL;
}

static int
s_get_record(zn_conductor_inst_t *self, zn_store_read_t *txn, const char *table, const char *key,
             const zn_schema_t *schema, void *obj, uint64_t *gen, zn_fault_t *fault)
{
    zn_store_t *store = zn_conductor_store_local(self->opts.store);
    zn_store_record_t rec;
    int rc = zn_store_get(txn, zn_store_table(store, table), zn_batch_str(key), &rec);
    if (rc < 0) {
        return rc == -ENOENT ? rc
                             : zn_fault_set(fault, rc, "%s %s: %s", table, key, zn_strerror(rc));
    }
    *gen = rec.generation;
    return zn_schema_decode(schema, rec.value, obj, NULL, fault);
}

static int
s_put(zn_batch_t *batch, const char *table, const char *key, const zn_schema_t *schema,
      const void *obj, uint64_t gen)
{
    zn_pack_t *pack = zn_pack_new();
    zn_schema_encode(schema, obj, pack);
    int rc = zn_batch_put(batch, table, zn_batch_str(key), zn_pack_buf(pack), gen);
    zn_pack_destroy(&pack);
    return rc;
}

/* Give back what the instance's claim holds on its host: the claim goes, the host's usage
 * shrinks. Nothing to do without a claim. */
static int
s_release_claim(zn_conductor_inst_t *self, zn_store_read_t *txn, const char *instance_id,
                zn_batch_t *batch, zn_fault_t *fault)
{
    zn_cell_claim_t claim;
    uint64_t claim_gen = 0;
    int rc = s_get_record(self, txn, ZN_TABLE_CLAIMS, instance_id, &zn_cell_claim_schema, &claim,
                          &claim_gen, fault);
    if (rc == -ENOENT) {
        return 0;
    }
    if (rc < 0) {
        return rc;
    }
    zn_cell_usage_t usage;
    uint64_t usage_gen = 0;
    rc = s_get_record(self, txn, ZN_TABLE_HOST_USAGE, claim.host, &zn_cell_usage_schema, &usage,
                      &usage_gen, fault);
    if (rc == 0) {
        usage.vcpus_used -= claim.vcpus;
        usage.ram_mb_used -= claim.ram_mb;
        usage.disk_gb_used -= claim.disk_gb;
        usage.instances -= 1;
        rc =
            s_put(batch, ZN_TABLE_HOST_USAGE, claim.host, &zn_cell_usage_schema, &usage, usage_gen);
        zn_schema_release(&zn_cell_usage_schema, &usage);
    } else if (rc == -ENOENT) {
        rc = 0; /* no usage record: nothing to give back */
    }
    if (rc == 0) {
        rc = zn_batch_delete(batch, ZN_TABLE_CLAIMS, zn_batch_str(instance_id), claim_gen);
    }
    zn_schema_release(&zn_cell_claim_schema, &claim);
    return rc;
}

/* Give back the project's quota usage of INST (on delete). */
static int
s_release_quota(zn_conductor_inst_t *self, zn_store_read_t *txn, const zn_cell_instance_t *inst,
                zn_batch_t *batch, zn_fault_t *fault)
{
    if (inst->project_id == NULL) {
        return 0;
    }
    zn_cell_quota_t usage;
    uint64_t gen = 0;
    int rc = s_get_record(self, txn, ZN_TABLE_QUOTA_USAGE, inst->project_id, &zn_cell_quota_schema,
                          &usage, &gen, fault);
    if (rc == -ENOENT) {
        return 0;
    }
    if (rc == 0) {
        usage.instances = usage.instances > 0 ? usage.instances - 1 : 0;
        usage.cores = usage.cores > inst->flavor.vcpus ? usage.cores - inst->flavor.vcpus : 0;
        usage.ram_mb = usage.ram_mb > inst->flavor.ram_mb ? usage.ram_mb - inst->flavor.ram_mb : 0;
        rc = s_put(batch, ZN_TABLE_QUOTA_USAGE, inst->project_id, &zn_cell_quota_schema, &usage,
                   gen);
        zn_schema_release(&zn_cell_quota_schema, &usage);
    }
    return rc;
}

/* Finish INST's current action with RESULT ("Success", "Error") and MESSAGE. */
static int
s_event_finish(s_op_t *op, zn_store_read_t *txn, const zn_cell_instance_t *inst, zn_batch_t *batch,
               const char *result, const char *message)
{
    if (inst->event_seq <= 0) {
        return 0;
    }
    char key[ZN_CELLREC_EVENT_KEY_MAX];
    zn_cellrec_event_key(inst->id, inst->event_seq, key);
    zn_cell_event_t ev;
    uint64_t gen = 0;
    zn_fault_t ignored;
    int rc = s_get_record(op->owner, txn, ZN_TABLE_INSTANCE_EVENTS, key, &zn_cell_event_schema, &ev,
                          &gen, &ignored);
    if (rc < 0) {
        return 0; /* the row is gone or damaged: the instance's state still changes */
    }
    s_set_str(&ev.result, result);
    s_set_str(&ev.message, message);
    if (inst->host != NULL) {
        s_set_str(&ev.host, inst->host);
    }
    ev.finish_ms = zn_clock_wall_ms();
    rc = s_put(batch, ZN_TABLE_INSTANCE_EVENTS, key, &zn_cell_event_schema, &ev, gen);
    zn_schema_release(&zn_cell_event_schema, &ev);
    return rc;
}

static void
s_set_fault(zn_cell_instance_t *inst, int64_t code, const char *message)
{
    s_set_str(&inst->fault.message, message);
    inst->fault.code = code;
    inst->fault.created_ms = zn_clock_wall_ms();
}

static void
s_set_states(zn_cell_instance_t *inst, zn_vm_state_t vm, zn_task_state_t task)
{
    s_set_str(&inst->vm_state, zn_vm_state_name(vm));
    s_set_str(&inst->task_state, zn_task_state_name(task));
}

static int
s_states(const zn_cell_instance_t *inst, zn_vm_state_t *vm, zn_task_state_t *task,
         zn_fault_t *fault)
{
    if (zn_vm_state_parse(inst->vm_state, vm) < 0 ||
        zn_task_state_parse(inst->task_state, task) < 0) {
        return zn_fault_set(fault, -EBADMSG, "instance %s has unknown states %s/%s", inst->id,
                            inst->vm_state, inst->task_state != NULL ? inst->task_state : "none");
    }
    return 0;
}

/* A compute agent may act only on the instances placed on its own host. */
static int
s_check_host(s_op_t *op, const zn_cell_instance_t *inst, zn_fault_t *fault)
{
    if (inst->host == NULL || strcmp(inst->host, op->host) != 0) {
        return zn_fault_set(fault, ZN_ECONFLICT, "instance %s is not assigned to host %s (now: %s)",
                            inst->id, op->host, inst->host != NULL ? inst->host : "none");
    }
    return 0;
}

static int
s_check_peer(zn_call_t *call, const char *host, zn_fault_t *fault)
{
    const char *peer = zn_call_peer(call);
    if (strncmp(peer, "compute-", 8) == 0 && strcmp(peer + 8, host) != 0) {
        return zn_fault_set(fault, ZN_EFORBIDDEN, "key %s may not act for host %s", peer, host);
    }
    return 0;
}

/* ---- casts to compute agents -------------------------------------------------------------- */

static zn_caster_t *
s_caster(zn_conductor_inst_t *self, const char *host, zn_fault_t *fault)
{
    bool up = false;
    const zn_service_t *svc =
        zn_registry_find(self->opts.registry, "compute", host, zn_clock_mono_ms(), &up, NULL);
    if (svc == NULL || svc->cast_endpoint == NULL || !up) {
        zn_fault_set(fault, ZN_EUNAVAIL, "the compute agent of host %s is not alive", host);
        return NULL;
    }
    for (s_caster_t *c = self->casters; c != NULL; c = c->next) {
        if (strcmp(c->host, host) == 0 && strcmp(c->endpoint, svc->cast_endpoint) == 0) {
            return c->caster;
        }
    }
    zn_caster_opts_t copts = {
        .name = host,
        .endpoint = svc->cast_endpoint,
        .keys = zn_secure_keys(self->opts.secure),
        .server_public = svc->public_key,
        .send_timeout_ms = S_CAST_WAIT_MS,
    };
    s_caster_t *c = zn_calloc(1, sizeof(*c));
    if (zn_caster_open(&c->caster, &copts, fault) < 0) {
        zn_free(c);
        return NULL;
    }
    (void)snprintf(c->host, sizeof(c->host), "%s", host);
    (void)snprintf(c->endpoint, sizeof(c->endpoint), "%s", svc->cast_endpoint);
    c->next = self->casters;
    self->casters = c;
    return c->caster;
}

static int
s_cast_build(zn_conductor_inst_t *self, const zn_cell_instance_t *inst, const char *req_id,
             zn_fault_t *fault)
{
    zn_caster_t *caster = s_caster(self, inst->host, fault);
    if (caster == NULL) {
        return fault->code;
    }
    zn_ctx_t ctx;
    memset(&ctx, 0, sizeof(ctx));
    (void)snprintf(ctx.req_id, sizeof(ctx.req_id), "%s", req_id);
    if (inst->token != NULL) {
        ctx.token = zn_batch_str(inst->token);
    }
    zn_pack_t *body = zn_pack_new();
    zn_pack_map(body, 2);
    zn_pack_str(body, "instance_id");
    zn_pack_str(body, inst->id);
    zn_pack_str(body, "attempt");
    zn_pack_i64(body, inst->attempt);
    int rc = zn_caster_cast(caster, "build", &ctx, zn_pack_buf(body), NULL, NULL);
    zn_pack_destroy(&body);
    return rc < 0 ? zn_fault_set(fault, rc, "cannot cast the build to %s: %s", inst->host,
                                 zn_strerror(rc))
                  : 0;
}

/* ---- rescheduling ------------------------------------------------------------------------- */

static void s_reschedule_asked(void *arg, const zn_env_t *reply, const zn_fault_t *fault);

/* Step 1: give the failed host's claim back, remember the host as tried, and either go back to
 * scheduling or, out of attempts, end in ERROR. OP->message says why the build failed. */
static int
s_mutate_unplace(s_op_t *op, zn_store_read_t *txn, zn_cell_instance_t *inst, zn_batch_t *batch,
                 zn_fault_t *fault)
{
    zn_vm_state_t vm;
    zn_task_state_t task;
    int rc = s_states(inst, &vm, &task, fault);
    if (rc < 0) {
        return rc;
    }
    if (vm != ZN_VM_BUILDING || task == ZN_TASK_DELETING) {
        return ZN_EDONE; /* it moved on (deleted, finished) meanwhile */
    }
    if (op->host[0] != '\0' && (inst->host == NULL || strcmp(inst->host, op->host) != 0)) {
        return ZN_EDONE; /* already rescheduled away from the failed host */
    }
    rc = s_release_claim(op->owner, txn, inst->id, batch, fault);
    if (rc < 0) {
        return rc;
    }
    if (inst->host != NULL) {
        inst->tried_hosts =
            zn_realloc(inst->tried_hosts, (inst->tried_host_count + 1) * sizeof(char *));
        inst->tried_hosts[inst->tried_host_count++] = zn_strdup(inst->host);
    }
    s_set_str(&inst->host, NULL);
    inst->task_taken = false;
    const zn_conductor_build_cfg_t *cfg = op->owner->opts.cfg;
    bool out_of_attempts = inst->attempt >= cfg->max_attempts;
    if (out_of_attempts || op->owner->scheduler == NULL) {
        char *words = zn_asprintf("%s (no more hosts to try after %" PRId64 " attempt%s)",
                                  op->message, inst->attempt, inst->attempt == 1 ? "" : "s");
        s_set_states(inst, ZN_VM_ERROR, ZN_TASK_NONE);
        s_set_fault(inst, 500, words);
        s_set_str(&inst->token, NULL);
        rc = s_event_finish(op, txn, inst, batch, "Error", words);
        zn_free(words);
        op->reschedule = false;
        return rc;
    }
    inst->attempt++;
    s_set_states(inst, ZN_VM_BUILDING, ZN_TASK_SCHEDULING);
    inst->task_deadline_ms = zn_clock_wall_ms() + S_SCHEDULER_MS + cfg->take_timeout_ms;
    op->reschedule = true;
    zn_log_notice(op->req_id, "instance %s: rescheduling (attempt %" PRId64 "): %s", inst->id,
                  inst->attempt, op->message);
    return 0;
}

static void
s_pack_strv(zn_pack_t *pack, const char *key, char **strv, size_t count)
{
    zn_pack_str(pack, key);
    zn_pack_array(pack, (uint32_t)count);
    for (size_t i = 0; i < count; i++) {
        zn_pack_str(pack, strv[i]);
    }
}

/* The fault words of a reschedule that found no host. */
static char *
s_reschedule_failure(const zn_fault_t *fault)
{
    if (fault->code != ZN_ENOVALIDHOST) {
        return zn_asprintf("rescheduling failed: %s", fault->code < 0
                                                          ? zn_fault_message(fault)
                                                          : "the scheduler named no host");
    }
    const char *words = zn_fault_message(fault);
    /* The scheduler's words already open with the phrase Nova users search for. */
    return strncmp(words, "No valid host", 13) == 0
               ? zn_strdup(words)
               : zn_asprintf("No valid host was found. %s", words);
}

/* Step 2: ask the scheduler for another host, without the ones tried. */
static void
s_reschedule_ask(s_op_t *op)
{
    const zn_cell_instance_t *inst = &op->snapshot;
    zn_pack_t *body = zn_pack_new();
    zn_pack_map(body, 12);
    zn_pack_str(body, "instance_id");
    zn_pack_str(body, inst->id);
    zn_pack_str(body, "project_id");
    zn_pack_str(body, inst->project_id);
    zn_pack_str(body, "vcpus");
    zn_pack_i64(body, inst->flavor.vcpus);
    zn_pack_str(body, "ram_mb");
    zn_pack_i64(body, inst->flavor.ram_mb);
    zn_pack_str(body, "disk_gb");
    zn_pack_i64(body, inst->flavor.disk_gb);
    zn_pack_str(body, "availability_zone");
    zn_pack_str(body, inst->availability_zone);
    zn_pack_str(body, "image_arch");
    zn_pack_str(body, inst->image_arch);
    zn_pack_str(body, "image_hypervisor_type");
    zn_pack_str(body, inst->image_hypervisor_type);
    s_pack_strv(body, "same_host", inst->same_host, inst->same_host_count);
    s_pack_strv(body, "different_host", inst->different_host, inst->different_host_count);
    zn_pack_str(body, "group_id");
    zn_pack_str(body, inst->group_id);
    s_pack_strv(body, "ignore_hosts", inst->tried_hosts, inst->tried_host_count);
    zn_ctx_t ctx;
    memset(&ctx, 0, sizeof(ctx));
    (void)snprintf(ctx.req_id, sizeof(ctx.req_id), "%s", op->req_id);
    int rc = zn_client_call(op->owner->scheduler, "select_destinations", &ctx, zn_pack_buf(body),
                            S_SCHEDULER_MS, s_reschedule_asked, op);
    zn_pack_destroy(&body);
    if (rc < 0) {
        zn_fault_t fault;
        zn_fault_set(&fault, rc, "cannot call the scheduler: %s", zn_strerror(rc));
        s_reschedule_asked(op, NULL, &fault);
    }
}

static int
s_mutate_place(s_op_t *op, zn_store_read_t *txn, zn_cell_instance_t *inst, zn_batch_t *batch,
               zn_fault_t *fault)
{
    (void)txn;
    (void)batch;
    if (inst->task_state == NULL || strcmp(inst->task_state, "scheduling") != 0 ||
        inst->host != NULL) {
        return ZN_EDONE; /* deleted or placed meanwhile */
    }
    (void)fault;
    s_set_str(&inst->host, op->host);
    s_set_str(&inst->node, op->host);
    inst->task_taken = false;
    inst->task_deadline_ms = zn_clock_wall_ms() + op->owner->opts.cfg->take_timeout_ms;
    return 0;
}

static int
s_mutate_novalid(s_op_t *op, zn_store_read_t *txn, zn_cell_instance_t *inst, zn_batch_t *batch,
                 zn_fault_t *fault)
{
    (void)fault;
    if (inst->task_state == NULL || strcmp(inst->task_state, "scheduling") != 0) {
        return ZN_EDONE;
    }
    s_set_states(inst, ZN_VM_ERROR, ZN_TASK_NONE);
    s_set_fault(inst, 500, op->message);
    s_set_str(&inst->token, NULL);
    return s_event_finish(op, txn, inst, batch, "Error", op->message);
}

static void
s_op_done_log(s_op_t *op, const zn_fault_t *fault)
{
    if (fault->code < 0) {
        zn_log_warn(op->req_id, "instance %s: %s", op->instance_id, zn_fault_message(fault));
    }
    s_op_answer(op, fault);
}

/* Step 3: placed: cast the build there. A cast that cannot go out is left to the watchdog,
 * which reschedules once the take-up deadline passes. */
static void
s_reschedule_placed(s_op_t *op, const zn_fault_t *fault)
{
    if (fault->code == 0 && op->snapshot.host != NULL) {
        zn_fault_t why;
        if (s_cast_build(op->owner, &op->snapshot, op->req_id, &why) < 0) {
            zn_log_warn(op->req_id, "instance %s: %s; the watchdog retries", op->instance_id,
                        why.message);
        }
    }
    s_op_done_log(op, fault);
}

static void
s_reschedule_asked(void *arg, const zn_env_t *reply, const zn_fault_t *fault)
{
    s_op_t *op = arg;
    op->tries = 0;
    op->remove = false;
    if (fault->code == 0) {
        zn_mpread_t r;
        zn_mpval_t v;
        zn_mpread_init(&r, reply->body);
        op->host[0] = '\0';
        /* {host, alternates}: take the host. */
        if (zn_mpread_next(&r, &v, NULL) == 0 && v.type == ZN_MPT_MAP) {
            for (uint32_t i = 0, n = v.v.count; i < n; i++) {
                zn_mpval_t k;
                zn_mpval_t val;
                if (zn_mpread_next(&r, &k, NULL) < 0 || zn_mpread_next(&r, &val, NULL) < 0) {
                    break;
                }
                if (k.type == ZN_MPT_STR && k.v.bytes.len == 4 &&
                    memcmp(k.v.bytes.ptr, "host", 4) == 0 && val.type == ZN_MPT_STR &&
                    val.v.bytes.len <= S_HOST_MAX) {
                    memcpy(op->host, val.v.bytes.ptr, val.v.bytes.len);
                    op->host[val.v.bytes.len] = '\0';
                }
                if (zn_mpread_skip_contents(&r, &val, NULL) < 0) {
                    break;
                }
            }
        }
        if (op->host[0] != '\0') {
            op->mutate = s_mutate_place;
            op->then = s_reschedule_placed;
            s_op_run(op);
            return;
        }
    }
    zn_free(op->message);
    op->message = s_reschedule_failure(fault);
    op->mutate = s_mutate_novalid;
    op->then = NULL;
    s_op_run(op);
}

static void
s_reschedule_unplaced(s_op_t *op, const zn_fault_t *fault)
{
    if (fault->code == 0 && op->reschedule) {
        s_op_reply(op, fault); /* the reporter need not wait for the new placement */
        s_reschedule_ask(op);
        return;
    }
    s_op_answer(op, fault);
}

/* Take OP (whose message says why) down the reschedule path; the caller's answer (if any) goes
 * once the instance left the failed host. */
static void
s_reschedule(s_op_t *op)
{
    op->mutate = s_mutate_unplace;
    op->then = s_reschedule_unplaced;
    s_op_run(op);
}

/* ---- requests ----------------------------------------------------------------------------- */

typedef struct {
    char *port_id;
    char *mac;
    char *ip;
    char *network_id;
} s_port_t;

static const zn_field_t s_port_fields[] = {
    {"port_id", ZN_FT_STR, 0, offsetof(s_port_t, port_id), 0, S_ID_MAX, NULL},
    {"mac", ZN_FT_STR, 0, offsetof(s_port_t, mac), 0, 32, NULL},
    {"ip", ZN_FT_STR, 0, offsetof(s_port_t, ip), 0, 64, NULL},
    {"network_id", ZN_FT_STR, 0, offsetof(s_port_t, network_id), 0, S_ID_MAX, NULL},
};
static const zn_schema_t s_port_schema = {"port", 1, s_port_fields, ZN_ARRAY_COUNT(s_port_fields),
                                          sizeof(s_port_t)};

/* Every compute-facing request body: each method reads the fields it needs. */
typedef struct {
    char *instance_id;
    char *host;
    bool take;
    char *vm_state;
    char *task_state;
    int64_t power_state;
    char *event;
    char *result;
    char *message;
    char *drop_volume;
    bool ok;
    char *step;
    bool reschedule;
    s_port_t *ports;
    size_t port_count;
} s_req_t;

#define S_R(name, type, flags, max)                               \
    {                                                             \
#name, type, flags, offsetof(s_req_t, name), 0, max, NULL \
    }

static const zn_field_t s_req_fields[] = {
    S_R(instance_id, ZN_FT_STR, 0, S_ID_MAX),
    S_R(host, ZN_FT_STR, 0, S_HOST_MAX),
    S_R(take, ZN_FT_BOOL, 0, 0),
    S_R(vm_state, ZN_FT_STR, 0, 31),
    S_R(task_state, ZN_FT_STR, 0, 31),
    S_R(power_state, ZN_FT_I64, 0, 0),
    S_R(event, ZN_FT_STR, 0, 127),
    S_R(result, ZN_FT_STR, 0, 15),
    S_R(message, ZN_FT_STR, 0, 4096),
    S_R(drop_volume, ZN_FT_STR, 0, S_ID_MAX),
    S_R(ok, ZN_FT_BOOL, 0, 0),
    S_R(step, ZN_FT_STR, 0, 63),
    S_R(reschedule, ZN_FT_BOOL, 0, 0),
    {"ports", ZN_FT_OBJLIST, 0, offsetof(s_req_t, ports), offsetof(s_req_t, port_count), 32,
     &s_port_schema},
};
static const zn_schema_t s_req_schema = {"instance_request", 1, s_req_fields,
                                         ZN_ARRAY_COUNT(s_req_fields), sizeof(s_req_t)};

static void
s_copy(char *dst, size_t size, const char *src)
{
    (void)snprintf(dst, size, "%s", src != NULL ? src : "");
}

/* Decode CALL's body into a new op for its instance, deferring CALL; the caller sets the op's
 * mutate and then and runs it. With NEED_HOST the body must name the host, and a compute key
 * must be that host's. */
static int
s_accept(zn_conductor_inst_t *self, zn_call_t *call, bool need_host, s_op_t **out,
         zn_fault_t *fault)
{
    *out = NULL;
    s_req_t req;
    int rc = zn_schema_decode(&s_req_schema, zn_call_env(call)->body, &req, NULL, fault);
    if (rc < 0) {
        return rc;
    }
    if (req.instance_id == NULL || (need_host && req.host == NULL)) {
        rc = zn_fault_set(fault, -EINVAL, "%s: instance_id%s missing", zn_call_env(call)->method,
                          need_host ? " or host" : "");
    } else if (need_host) {
        rc = s_check_peer(call, req.host, fault);
    }
    if (rc == 0) {
        s_op_t *op = s_op_new(self, req.instance_id, &zn_call_env(call)->ctx);
        s_copy(op->host, sizeof(op->host), req.host);
        s_copy(op->vm_state, sizeof(op->vm_state), req.vm_state);
        s_copy(op->task_state, sizeof(op->task_state), req.task_state);
        s_copy(op->step, sizeof(op->step), req.step);
        s_copy(op->result, sizeof(op->result), req.result);
        s_copy(op->event, sizeof(op->event), req.event);
        s_copy(op->drop_volume, sizeof(op->drop_volume), req.drop_volume);
        op->message = req.message != NULL ? zn_strdup(req.message) : NULL;
        op->power_state = req.power_state;
        op->ok = req.ok;
        op->reschedule = req.reschedule;
        op->take = req.take;
        op->ports = zn_calloc(req.port_count + 1, sizeof(*op->ports));
        for (size_t i = 0; i < req.port_count; i++) {
            op->ports[i].port_id =
                req.ports[i].port_id != NULL ? zn_strdup(req.ports[i].port_id) : NULL;
            op->ports[i].mac = req.ports[i].mac != NULL ? zn_strdup(req.ports[i].mac) : NULL;
            op->ports[i].fixed_ip = req.ports[i].ip != NULL ? zn_strdup(req.ports[i].ip) : NULL;
            op->ports[i].network_id =
                req.ports[i].network_id != NULL ? zn_strdup(req.ports[i].network_id) : NULL;
        }
        op->port_count = req.port_count;
        op->call = zn_call_defer(call);
        *out = op;
    }
    zn_schema_release(&s_req_schema, &req);
    return rc;
}

static int
s_start(zn_conductor_inst_t *self, zn_call_t *call, bool need_host, s_mutate_fn *mutate,
        s_then_fn *then, zn_fault_t *fault)
{
    s_op_t *op = NULL;
    int rc = s_accept(self, call, need_host, &op, fault);
    if (rc < 0) {
        return rc;
    }
    op->mutate = mutate;
    op->then = then;
    s_op_run(op);
    return ZN_DEFERRED;
}

/* ---- instance_get -------------------------------------------------------------------------- */

static bool
s_is_build_task(zn_task_state_t task)
{
    return task >= ZN_TASK_SCHEDULING && task <= ZN_TASK_SPAWNING;
}

static int
s_mutate_take(s_op_t *op, zn_store_read_t *txn, zn_cell_instance_t *inst, zn_batch_t *batch,
              zn_fault_t *fault)
{
    (void)txn;
    (void)batch;
    zn_vm_state_t vm;
    zn_task_state_t task;
    int rc = s_states(inst, &vm, &task, fault);
    if (rc == 0) {
        rc = s_check_host(op, inst, fault);
    }
    if (rc < 0) {
        return rc;
    }
    if (vm != ZN_VM_BUILDING || !s_is_build_task(task)) {
        return zn_fault_set(fault, ZN_ECONFLICT, "instance %s is no longer building (%s/%s)",
                            inst->id, inst->vm_state,
                            inst->task_state != NULL ? inst->task_state : "none");
    }
    if (!op->take || inst->task_taken) {
        return ZN_EDONE; /* a plain read, or the same host asking again */
    }
    inst->task_taken = true;
    s_set_states(inst, ZN_VM_BUILDING, ZN_TASK_NETWORKING);
    inst->task_deadline_ms = zn_clock_wall_ms() + op->owner->opts.cfg->build_timeout_ms;
    return 0;
}

static void
s_then_instance(s_op_t *op, const zn_fault_t *fault)
{
    if (fault->code == 0) {
        op->reply = zn_pack_new();
        zn_schema_encode(&zn_cell_instance_schema, &op->snapshot, op->reply);
    }
    s_op_answer(op, fault);
}

int
zn_conductor_inst_instance_get(zn_conductor_inst_t *self, zn_call_t *call, zn_pack_t *reply,
                               zn_fault_t *fault)
{
    (void)reply;
    return s_start(self, call, true, s_mutate_take, s_then_instance, fault);
}

/* ---- instance_update ---------------------------------------------------------------------- */

static int
s_target_states(const s_op_t *op, zn_vm_state_t *vm, zn_task_state_t *task, zn_fault_t *fault)
{
    if (op->vm_state[0] != '\0' && zn_vm_state_parse(op->vm_state, vm) < 0) {
        return zn_fault_set(fault, -EINVAL, "unknown vm_state '%s'", op->vm_state);
    }
    if (strcmp(op->task_state, "none") == 0) {
        *task = ZN_TASK_NONE;
    } else if (op->task_state[0] != '\0' && zn_task_state_parse(op->task_state, task) < 0) {
        return zn_fault_set(fault, -EINVAL, "unknown task_state '%s'", op->task_state);
    }
    return 0;
}

static int
s_mutate_update(s_op_t *op, zn_store_read_t *txn, zn_cell_instance_t *inst, zn_batch_t *batch,
                zn_fault_t *fault)
{
    zn_vm_state_t vm;
    zn_task_state_t task;
    int rc = s_states(inst, &vm, &task, fault);
    if (rc == 0) {
        rc = s_check_host(op, inst, fault);
    }
    zn_vm_state_t to_vm = vm;
    zn_task_state_t to_task = task;
    if (rc == 0) {
        rc = s_target_states(op, &to_vm, &to_task, fault);
    }
    if (rc == 0 && (to_vm != vm || to_task != task)) {
        rc = zn_cellrec_transition(vm, task, to_vm, to_task, fault);
    }
    if (rc < 0) {
        return rc;
    }
    s_set_states(inst, to_vm, to_task);
    if (op->power_state > 0) {
        inst->power_state = op->power_state;
    }
    if (to_task == ZN_TASK_NONE) {
        inst->task_deadline_ms = 0;
    }
    if (to_vm == ZN_VM_ERROR && op->message != NULL) {
        s_set_fault(inst, 500, op->message);
    }
    if (op->drop_volume[0] != '\0') {
        (void)zn_cellrec_drop_bdm(inst, op->drop_volume); /* gone already: nothing to do */
    }
    if (op->result[0] != '\0') {
        rc = s_event_finish(op, txn, inst, batch, op->result, op->message);
    }
    return rc;
}

int
zn_conductor_inst_instance_update(zn_conductor_inst_t *self, zn_call_t *call, zn_pack_t *reply,
                                  zn_fault_t *fault)
{
    (void)reply;
    return s_start(self, call, true, s_mutate_update, NULL, fault);
}

/* ---- build_result -------------------------------------------------------------------------- */

static void
s_take_ports(s_op_t *op, zn_cell_instance_t *inst)
{
    if (op->port_count == 0) {
        return;
    }
    for (size_t i = 0; i < inst->nic_count; i++) {
        zn_free(inst->nics[i].network_id);
        zn_free(inst->nics[i].port_id);
        zn_free(inst->nics[i].fixed_ip);
        zn_free(inst->nics[i].mac);
    }
    zn_free(inst->nics);
    inst->nics = op->ports; /* the instance takes them over */
    inst->nic_count = op->port_count;
    op->ports = NULL;
    op->port_count = 0;
    s_set_str(&inst->access_ipv4, inst->nics[0].fixed_ip);
}

static int
s_mutate_built(s_op_t *op, zn_store_read_t *txn, zn_cell_instance_t *inst, zn_batch_t *batch,
               zn_fault_t *fault)
{
    zn_vm_state_t vm;
    zn_task_state_t task;
    int rc = s_states(inst, &vm, &task, fault);
    if (rc == 0) {
        rc = s_check_host(op, inst, fault);
    }
    if (rc == 0 && (vm != ZN_VM_BUILDING || !s_is_build_task(task))) {
        rc =
            zn_fault_set(fault, ZN_ECONFLICT, "instance %s is no longer building (%s/%s)", inst->id,
                         inst->vm_state, inst->task_state != NULL ? inst->task_state : "none");
    }
    if (rc < 0) {
        return rc;
    }
    s_set_states(inst, ZN_VM_ACTIVE, ZN_TASK_NONE);
    inst->power_state = op->power_state > 0 ? op->power_state : ZN_POWER_RUNNING;
    inst->launched_ms = zn_clock_wall_ms();
    inst->task_deadline_ms = 0;
    s_set_str(&inst->token, NULL);
    s_take_ports(op, inst);
    return s_event_finish(op, txn, inst, batch, "Success", NULL);
}

static int
s_mutate_failed(s_op_t *op, zn_store_read_t *txn, zn_cell_instance_t *inst, zn_batch_t *batch,
                zn_fault_t *fault)
{
    int rc = s_check_host(op, inst, fault);
    if (rc < 0) {
        return rc;
    }
    if (inst->vm_state == NULL || strcmp(inst->vm_state, "building") != 0) {
        return ZN_EDONE;
    }
    rc = s_release_claim(op->owner, txn, inst->id, batch, fault);
    if (rc < 0) {
        return rc;
    }
    s_set_states(inst, ZN_VM_ERROR, ZN_TASK_NONE);
    s_set_fault(inst, 500, op->message);
    inst->task_deadline_ms = 0;
    s_set_str(&inst->token, NULL);
    return s_event_finish(op, txn, inst, batch, "Error", op->message);
}

int
zn_conductor_inst_build_result(zn_conductor_inst_t *self, zn_call_t *call, zn_pack_t *reply,
                               zn_fault_t *fault)
{
    (void)reply;
    s_op_t *op = NULL;
    int rc = s_accept(self, call, true, &op, fault);
    if (rc < 0) {
        return rc;
    }
    if (op->ok) {
        op->mutate = s_mutate_built;
        s_op_run(op);
        return ZN_DEFERRED;
    }
    char *words = zn_asprintf("Build failed at step %s on host %s: %s",
                              op->step[0] != '\0' ? op->step : "unknown", op->host,
                              op->message != NULL ? op->message : "no reason given");
    zn_free(op->message);
    op->message = words;
    zn_log_warn(op->req_id, "instance %s: %s%s", op->instance_id, words,
                op->reschedule ? "; rescheduling" : "");
    if (op->reschedule) {
        s_reschedule(op);
    } else {
        op->mutate = s_mutate_failed;
        s_op_run(op);
    }
    return ZN_DEFERRED;
}

/* ---- deletes ------------------------------------------------------------------------------ */

/* Queue the deletion of every event row of INSTANCE_ID ("ID/..." keys, in order). */
static int
s_delete_events(zn_conductor_inst_t *self, zn_store_read_t *txn, const char *instance_id,
                zn_batch_t *batch)
{
    zn_store_t *store = zn_conductor_store_local(self->opts.store);
    const zn_store_table_t *table = zn_store_table(store, ZN_TABLE_INSTANCE_EVENTS);
    char prefix[S_ID_MAX + 2];
    (void)snprintf(prefix, sizeof(prefix), "%s/", instance_id);
    size_t prefix_len = strlen(prefix);
    zn_store_record_t recs[64];
    zn_buf_t marker = zn_batch_str(prefix);
    for (;;) {
        int n = zn_store_scan(txn, table, marker, recs, ZN_ARRAY_COUNT(recs));
        if (n < 0) {
            return n;
        }
        for (int i = 0; i < n; i++) {
            if (recs[i].key.len < prefix_len || memcmp(recs[i].key.ptr, prefix, prefix_len) != 0) {
                return 0;
            }
            int rc =
                zn_batch_delete(batch, ZN_TABLE_INSTANCE_EVENTS, recs[i].key, ZN_BATCH_GEN_ANY);
            if (rc < 0) {
                return rc;
            }
        }
        if ((size_t)n < ZN_ARRAY_COUNT(recs)) {
            return 0;
        }
        marker = recs[n - 1].key;
    }
}

static int
s_mutate_delete(s_op_t *op, zn_store_read_t *txn, zn_cell_instance_t *inst, zn_batch_t *batch,
                zn_fault_t *fault)
{
    if (op->host[0] != '\0' && inst->host != NULL && strcmp(inst->host, op->host) != 0) {
        return zn_fault_set(fault, ZN_ECONFLICT, "instance %s is on host %s, not %s", inst->id,
                            inst->host, op->host);
    }
    int rc = s_release_claim(op->owner, txn, inst->id, batch, fault);
    if (rc == 0) {
        rc = s_release_quota(op->owner, txn, inst, batch, fault);
    }
    if (rc == 0) {
        rc = s_delete_events(op->owner, txn, inst->id, batch);
    }
    if (rc == 0) {
        op->remove = true;
        zn_log_info(op->req_id, "instance %s deleted (host %s)", inst->id,
                    inst->host != NULL ? inst->host : "none");
    }
    return rc;
}

int
zn_conductor_inst_delete_done(zn_conductor_inst_t *self, zn_call_t *call, zn_pack_t *reply,
                              zn_fault_t *fault)
{
    (void)reply;
    return s_start(self, call, true, s_mutate_delete, NULL, fault);
}

static void
s_released(void *arg, const zn_fault_t *fault)
{
    s_op_t *op = arg;
    if (fault->code < 0) {
        zn_log_warn(op->req_id, "instance %s not deleted: %s", op->instance_id,
                    zn_fault_message(fault));
        s_op_answer(op, fault); /* the record stays: a retried delete tries again */
        return;
    }
    s_op_run(op);
}

/* The volumes INSTANCE_ID's record names, for the release; *count 0 when there are none or
 * the record is gone (the delete then finds that out itself). */
static char **
s_instance_volumes(zn_conductor_inst_t *self, const char *instance_id, size_t *count)
{
    *count = 0;
    zn_store_read_t *txn = NULL;
    if (zn_store_read_begin(zn_conductor_store_local(self->opts.store), &txn) < 0) {
        return NULL;
    }
    zn_cell_instance_t inst;
    uint64_t gen = 0;
    char **volumes = NULL;
    if (s_get_record(self, txn, ZN_TABLE_INSTANCES, instance_id, &zn_cell_instance_schema, &inst,
                     &gen, NULL) == 0) {
        volumes = zn_calloc(inst.bdm_count + 1, sizeof(*volumes));
        for (size_t i = 0; i < inst.bdm_count; i++) {
            if (inst.bdms[i].volume_id != NULL) {
                volumes[(*count)++] = zn_strdup(inst.bdms[i].volume_id);
            }
        }
        zn_schema_release(&zn_cell_instance_schema, &inst);
    }
    zn_store_read_end(&txn);
    return volumes;
}

int
zn_conductor_inst_instance_delete(zn_conductor_inst_t *self, zn_call_t *call, zn_pack_t *reply,
                                  zn_fault_t *fault)
{
    (void)reply;
    s_op_t *op = NULL;
    int rc = s_accept(self, call, false, &op, fault);
    if (rc < 0) {
        return rc;
    }
    op->mutate = s_mutate_delete;
    size_t count = 0;
    char **volumes = s_instance_volumes(self, op->instance_id, &count);
    /* CALL itself (not its deferred copy) still holds the caller's token here. */
    rc = zn_conductor_release_start(self->release, &zn_call_env(call)->ctx, op->instance_id,
                                    volumes, count, s_released, op);
    for (size_t i = 0; i < count; i++) {
        zn_str_free(&volumes[i]);
    }
    zn_free(volumes);
    if (rc < 0) {
        s_op_run(op); /* nothing held elsewhere: delete the record now */
    }
    return ZN_DEFERRED;
}

/* ---- host_instances ----------------------------------------------------------------------- */

static void
s_pack_brief(zn_pack_t *out, const zn_cell_instance_t *inst)
{
    zn_pack_map(out, 4);
    zn_pack_str(out, "instance_id");
    zn_pack_str(out, inst->id);
    zn_pack_str(out, "vm_state");
    zn_pack_str(out, inst->vm_state);
    zn_pack_str(out, "task_state");
    zn_pack_str(out, inst->task_state);
    zn_pack_str(out, "power_state");
    zn_pack_i64(out, inst->power_state);
}

/* Pack the instances the store places on HOST as an array (at most ZN_STORE_PAGE_MAX). */
static int
s_pack_host_instances(zn_conductor_inst_t *self, const char *host, zn_pack_t *out,
                      zn_fault_t *fault)
{
    zn_store_t *store = zn_conductor_store_local(self->opts.store);
    const zn_store_index_t *index =
        zn_store_index(zn_store_table(store, ZN_TABLE_INSTANCES), "host");
    zn_store_read_t *txn = NULL;
    int rc = zn_store_read_begin(store, &txn);
    if (rc < 0) {
        return zn_fault_set(fault, rc, "store read: %s", zn_strerror(rc));
    }
    size_t cap = 4096;
    zn_store_record_t *recs = zn_calloc(cap, sizeof(*recs));
    zn_store_index_query_t q = {.value = zn_batch_str(host), .match = ZN_STORE_MATCH_EXACT};
    int n = zn_store_index_scan(txn, index, &q, recs, cap);
    if (n < 0) {
        rc = zn_fault_set(fault, n, "instances of %s: %s", host, zn_strerror(n));
    } else {
        zn_pack_array(out, (uint32_t)n);
        for (int i = 0; i < n; i++) {
            zn_cell_instance_t inst;
            if (zn_schema_decode(&zn_cell_instance_schema, recs[i].value, &inst, NULL, NULL) < 0) {
                zn_pack_nil(out);
                continue;
            }
            s_pack_brief(out, &inst);
            zn_schema_release(&zn_cell_instance_schema, &inst);
        }
    }
    zn_free(recs);
    zn_store_read_end(&txn);
    return rc;
}

int
zn_conductor_inst_host_instances(zn_conductor_inst_t *self, zn_call_t *call, zn_pack_t *reply,
                                 zn_fault_t *fault)
{
    s_req_t req;
    int rc = zn_schema_decode(&s_req_schema, zn_call_env(call)->body, &req, NULL, fault);
    if (rc < 0) {
        return rc;
    }
    if (req.host == NULL) {
        rc = zn_fault_set(fault, -EINVAL, "host_instances: host missing");
    } else {
        rc = s_check_peer(call, req.host, fault);
    }
    if (rc == 0) {
        zn_pack_map(reply, 1);
        zn_pack_str(reply, "instances");
        rc = s_pack_host_instances(self, req.host, reply, fault);
    }
    zn_schema_release(&s_req_schema, &req);
    return rc;
}

/* ---- resource and power reports ----------------------------------------------------------- */

static void
s_report_written(void *arg, const zn_fault_t *fault)
{
    char *host = arg;
    if (fault->code < 0 && fault->code != ZN_ECONFLICT) {
        zn_log_warn(NULL, "resource report of %s not recorded: %s", host, zn_fault_message(fault));
    }
    zn_free(host);
}

static bool
s_str_eq(const char *a, const char *b)
{
    return (a == NULL || b == NULL) ? a == b : strcmp(a, b) == 0;
}

static bool
s_host_same(const zn_cell_host_t *a, const zn_cell_host_t *b)
{
    return a->vcpus == b->vcpus && a->ram_mb == b->ram_mb && a->disk_gb == b->disk_gb &&
           a->vcpus_reserved == b->vcpus_reserved && a->ram_mb_reserved == b->ram_mb_reserved &&
           a->disk_gb_reserved == b->disk_gb_reserved && a->cpu_ratio == b->cpu_ratio &&
           a->ram_ratio == b->ram_ratio && a->disk_ratio == b->disk_ratio &&
           a->hypervisor_version == b->hypervisor_version &&
           s_str_eq(a->hypervisor_type, b->hypervisor_type) && s_str_eq(a->arch, b->arch) &&
           s_str_eq(a->availability_zone, b->availability_zone) &&
           s_str_eq(a->call_endpoint, b->call_endpoint) &&
           s_str_eq(a->cast_endpoint, b->cast_endpoint);
}

/* Write REPORT to hosts/HOST when it differs from what is stored; the operator's fields
 * (disabled, reason) stay as stored. */
static int
s_record_host(zn_conductor_inst_t *self, zn_cell_host_t *report, zn_fault_t *fault)
{
    zn_store_t *store = zn_conductor_store_local(self->opts.store);
    zn_store_read_t *txn = NULL;
    int rc = zn_store_read_begin(store, &txn);
    if (rc < 0) {
        return zn_fault_set(fault, rc, "store read: %s", zn_strerror(rc));
    }
    zn_cell_host_t old;
    uint64_t gen = ZN_BATCH_GEN_ABSENT;
    rc = s_get_record(self, txn, ZN_TABLE_HOSTS, report->host, &zn_cell_host_schema, &old, &gen,
                      fault);
    zn_store_read_end(&txn);
    if (rc == -ENOENT) {
        gen = ZN_BATCH_GEN_ABSENT;
        rc = 0;
    } else if (rc == 0) {
        bool same = s_host_same(&old, report);
        report->disabled = old.disabled;
        s_set_str(&report->disabled_reason, old.disabled_reason);
        zn_schema_release(&zn_cell_host_schema, &old);
        if (same) {
            return 0;
        }
    }
    if (rc < 0) {
        return rc;
    }
    report->updated_ms = zn_clock_wall_ms();
    zn_batch_t *batch = zn_batch_new();
    rc = s_put(batch, ZN_TABLE_HOSTS, report->host, &zn_cell_host_schema, report, gen);
    if (rc == 0) {
        zn_log_info(NULL, "host %s: %" PRId64 " vCPUs, %" PRId64 " MiB, %" PRId64 " GiB (%s)",
                    report->host, report->vcpus, report->ram_mb, report->disk_gb,
                    gen == ZN_BATCH_GEN_ABSENT ? "new" : "changed");
        zn_conductor_store_submit(self->opts.store, batch, s_report_written,
                                  zn_strdup(report->host));
    }
    zn_batch_destroy(&batch);
    return rc;
}

int
zn_conductor_inst_resource_report(zn_conductor_inst_t *self, zn_call_t *call, zn_pack_t *reply,
                                  zn_fault_t *fault)
{
    (void)reply;
    zn_cell_host_t report;
    int rc = zn_schema_decode(&zn_cell_host_schema, zn_call_env(call)->body, &report, NULL, fault);
    if (rc < 0) {
        return rc;
    }
    rc = s_check_peer(call, report.host, fault);
    if (rc == 0) {
        rc = s_record_host(self, &report, fault);
    }
    zn_schema_release(&zn_cell_host_schema, &report);
    return rc;
}

static int
s_mutate_power(s_op_t *op, zn_store_read_t *txn, zn_cell_instance_t *inst, zn_batch_t *batch,
               zn_fault_t *fault)
{
    (void)txn;
    (void)batch;
    zn_vm_state_t vm;
    zn_task_state_t task;
    int rc = s_states(inst, &vm, &task, fault);
    if (rc == 0) {
        rc = s_check_host(op, inst, fault);
    }
    if (rc < 0 || task != ZN_TASK_NONE || inst->power_state == op->power_state) {
        return rc < 0 ? rc : ZN_EDONE; /* a task in flight owns the states */
    }
    bool off = op->power_state == ZN_POWER_SHUTDOWN || op->power_state == ZN_POWER_CRASHED ||
               op->power_state == ZN_POWER_NOSTATE;
    zn_log_notice(op->req_id,
                  "instance %s on %s: power state %" PRId64 " -> %" PRId64
                  " found by the power sync",
                  inst->id, op->host, inst->power_state, op->power_state);
    inst->power_state = op->power_state;
    if (vm == ZN_VM_ACTIVE && off) {
        s_set_states(inst, ZN_VM_STOPPED, ZN_TASK_NONE);
    } else if (vm == ZN_VM_STOPPED && op->power_state == ZN_POWER_RUNNING) {
        s_set_states(inst, ZN_VM_ACTIVE, ZN_TASK_NONE);
    }
    return 0;
}

typedef struct {
    char *instance_id;
    int64_t power_state;
} s_power_t;

static const zn_field_t s_power_fields[] = {
    {"instance_id", ZN_FT_STR, ZN_F_REQUIRED, offsetof(s_power_t, instance_id), 0, S_ID_MAX, NULL},
    {"power_state", ZN_FT_I64, 0, offsetof(s_power_t, power_state), 0, 0, NULL},
};
static const zn_schema_t s_power_schema = {"power", 1, s_power_fields,
                                           ZN_ARRAY_COUNT(s_power_fields), sizeof(s_power_t)};

typedef struct {
    char *host;
    s_power_t *instances;
    size_t instance_count;
} s_power_report_t;

static const zn_field_t s_power_report_fields[] = {
    {"host", ZN_FT_STR, ZN_F_REQUIRED, offsetof(s_power_report_t, host), 0, S_HOST_MAX, NULL},
    {"instances", ZN_FT_OBJLIST, 0, offsetof(s_power_report_t, instances),
     offsetof(s_power_report_t, instance_count), 100000, &s_power_schema},
};
static const zn_schema_t s_power_report_schema = {"power_report", 1, s_power_report_fields,
                                                  ZN_ARRAY_COUNT(s_power_report_fields),
                                                  sizeof(s_power_report_t)};

int
zn_conductor_inst_power_report(zn_conductor_inst_t *self, zn_call_t *call, zn_pack_t *reply,
                               zn_fault_t *fault)
{
    (void)reply;
    s_power_report_t report;
    int rc =
        zn_schema_decode(&s_power_report_schema, zn_call_env(call)->body, &report, NULL, fault);
    if (rc < 0) {
        return rc;
    }
    rc = s_check_peer(call, report.host, fault);
    for (size_t i = 0; rc == 0 && i < report.instance_count; i++) {
        const s_power_t *p = &report.instances[i];
        if (zhash_lookup(self->busy, p->instance_id) != NULL) {
            continue; /* an op is changing it: the next report looks again */
        }
        s_op_t *op = s_op_new(self, p->instance_id, &zn_call_env(call)->ctx);
        s_copy(op->host, sizeof(op->host), report.host);
        op->power_state = p->power_state;
        op->mutate = s_mutate_power;
        s_op_run(op);
    }
    zn_schema_release(&s_power_report_schema, &report);
    return rc;
}

/* ---- the watchdog ------------------------------------------------------------------------- */

static int
s_mutate_task_timeout(s_op_t *op, zn_store_read_t *txn, zn_cell_instance_t *inst, zn_batch_t *batch,
                      zn_fault_t *fault)
{
    zn_vm_state_t vm;
    zn_task_state_t task;
    int rc = s_states(inst, &vm, &task, fault);
    if (rc < 0) {
        return rc;
    }
    if (task == ZN_TASK_NONE || s_is_build_task(task) || task == ZN_TASK_DELETING ||
        inst->task_deadline_ms > zn_clock_wall_ms()) {
        return ZN_EDONE; /* it finished, or is someone else's case now */
    }
    zn_log_warn(op->req_id, "instance %s: %s", inst->id, op->message);
    s_set_states(inst, vm, ZN_TASK_NONE);
    inst->task_deadline_ms = 0;
    return s_event_finish(op, txn, inst, batch, "Error", op->message);
}

static bool
s_host_down(zn_conductor_inst_t *self, const char *host)
{
    bool up = false;
    const zn_service_t *svc =
        zn_registry_find(self->opts.registry, "compute", host, zn_clock_mono_ms(), &up, NULL);
    /* Unknown is not down: after a conductor restart the registry fills within a heartbeat,
     * and the deadlines cover hosts that never come back. */
    return svc != NULL && !up;
}

/* Decide what an instance with a task needs, if anything, and start it. */
static void
s_watch_one(zn_conductor_inst_t *self, const zn_cell_instance_t *inst, int64_t now)
{
    zn_vm_state_t vm;
    zn_task_state_t task;
    if (s_states(inst, &vm, &task, NULL) < 0 || task == ZN_TASK_NONE) {
        return;
    }
    bool overdue = inst->task_deadline_ms > 0 && inst->task_deadline_ms <= now;
    bool host_down = inst->host != NULL && s_host_down(self, inst->host);
    if (!overdue && !host_down) {
        return;
    }
    const char *host = inst->host != NULL ? inst->host : "none";
    zn_ctx_t ctx;
    memset(&ctx, 0, sizeof(ctx));
    s_copy(ctx.req_id, sizeof(ctx.req_id), inst->request_id);
    s_op_t *op = s_op_new(self, inst->id, &ctx);
    s_copy(op->host, sizeof(op->host), inst->host);
    if (s_is_build_task(task)) {
        if (host_down) {
            op->message = zn_asprintf("the compute agent on %s stopped answering during the "
                                      "build (task %s)",
                                      host, inst->task_state);
        } else if (inst->host == NULL) {
            op->message = zn_strdup("no host was chosen in time (scheduler unreachable?)");
        } else if (!inst->task_taken) {
            op->message = zn_asprintf("the compute agent on %s did not take up the build "
                                      "within %" PRId64 " ms",
                                      host, self->opts.cfg->take_timeout_ms);
        } else {
            op->message =
                zn_asprintf("the build on %s did not finish within %" PRId64 " ms (task %s)", host,
                            self->opts.cfg->build_timeout_ms, inst->task_state);
        }
        zn_log_warn(op->req_id, "instance %s: %s", inst->id, op->message);
        s_reschedule(op);
    } else if (task == ZN_TASK_DELETING) {
        op->host[0] = '\0'; /* the host will never confirm: clean up here */
        zn_log_warn(op->req_id,
                    "instance %s: delete not confirmed by %s (%s); releasing its "
                    "resources here",
                    inst->id, host, host_down ? "host down" : "overdue");
        op->mutate = s_mutate_delete;
        s_op_run(op);
    } else if (overdue || host_down) {
        op->message =
            zn_asprintf("%s did not complete: the compute agent on %s %s", inst->task_state, host,
                        host_down ? "is down" : "did not answer in time");
        op->mutate = s_mutate_task_timeout;
        s_op_run(op);
    }
}

static int
s_watch(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    zn_conductor_inst_t *self = arg;
    if (!zn_conductor_store_is_leader(self->opts.store)) {
        return 0; /* one watchdog per cluster: the leader's */
    }
    zn_store_t *store = zn_conductor_store_local(self->opts.store);
    const zn_store_index_t *index =
        zn_store_index(zn_store_table(store, ZN_TABLE_INSTANCES), "task_state");
    zn_store_read_t *txn = NULL;
    if (zn_store_read_begin(store, &txn) < 0) {
        return 0;
    }
    zn_store_record_t *recs = zn_calloc(S_WATCH_BATCH, sizeof(*recs));
    zn_store_index_query_t q = {.match = ZN_STORE_MATCH_PREFIX};
    int64_t now = zn_clock_wall_ms();
    for (;;) {
        int n = zn_store_index_scan(txn, index, &q, recs, S_WATCH_BATCH);
        for (int i = 0; i < n; i++) {
            char id[S_ID_MAX + 1];
            size_t len = recs[i].key.len < S_ID_MAX ? recs[i].key.len : S_ID_MAX;
            memcpy(id, recs[i].key.ptr, len);
            id[len] = '\0';
            zn_cell_instance_t inst;
            if (zhash_lookup(self->busy, id) != NULL ||
                zn_schema_decode(&zn_cell_instance_schema, recs[i].value, &inst, NULL, NULL) < 0) {
                continue;
            }
            s_watch_one(self, &inst, now);
            zn_schema_release(&zn_cell_instance_schema, &inst);
        }
        if (n < S_WATCH_BATCH) {
            break;
        }
        q.marker_value = recs[n - 1].index_value;
        q.marker_key = recs[n - 1].key;
    }
    zn_free(recs);
    zn_store_read_end(&txn);
    return 0;
}

/* ---- life --------------------------------------------------------------------------------- */

static int
s_open_scheduler(zn_conductor_inst_t *self, zn_fault_t *fault)
{
    const char *endpoints_text = self->opts.cfg->scheduler_call;
    if (endpoints_text == NULL || endpoints_text[0] == '\0') {
        zn_log_notice(NULL, "no [peers] scheduler_call: failed builds are not rescheduled");
        return 0;
    }
    return zn_secure_client_open(self->opts.secure, "scheduler", "scheduler", endpoints_text,
                                 self->opts.metrics, self->opts.loop, &self->scheduler, fault);
}

static void
s_lane_free(void **item)
{
    zn_free(*item);
    *item = NULL;
}

int
zn_conductor_inst_open(zn_conductor_inst_t **out, const zn_conductor_inst_opts_t *opts,
                       zn_fault_t *fault)
{
    *out = NULL;
    zn_conductor_inst_t *self = zn_calloc(1, sizeof(*self));
    self->opts = *opts;
    self->busy = zhash_new();
    self->lanes = zhashx_new();
    zhashx_set_destructor(self->lanes, s_lane_free);
    self->watch_timer = -1;
    int rc = s_open_scheduler(self, fault);
    if (rc == 0) {
        zn_conductor_release_opts_t ropts = {
            .network_call = opts->cfg->network_call,
            .volume_call = opts->cfg->volume_call,
            .secure = opts->secure,
            .loop = opts->loop,
            .metrics = opts->metrics,
        };
        rc = zn_conductor_release_open(&self->release, &ropts, fault);
    }
    if (rc == 0) {
        self->watch_timer =
            zloop_timer(opts->loop, (size_t)opts->cfg->watchdog_interval_ms, 0, s_watch, self);
        if (self->watch_timer < 0) {
            rc = zn_fault_set(fault, -EINVAL, "cannot start the instance watchdog");
        }
    }
    if (rc < 0) {
        zn_conductor_inst_destroy(&self);
        return rc;
    }
    *out = self;
    return 0;
}

/* Answer every delete still waiting in a lane: the conductor is stopping. */
static void
s_lanes_cancel(zn_conductor_inst_t *self)
{
    zn_fault_t fault;
    zn_fault_set(&fault, ZN_EUNAVAIL, "the conductor is stopping");
    for (s_lane_t *lane = zhashx_first(self->lanes); lane != NULL;
         lane = zhashx_next(self->lanes)) {
        while (lane->head != NULL) {
            s_op_t *op = lane->head;
            lane->head = op->lane_next;
            op->lane = NULL; /* it never ran: it holds nothing */
            s_op_answer(op, &fault);
        }
        lane->tail = NULL;
    }
}

void
zn_conductor_inst_destroy(zn_conductor_inst_t **self_p)
{
    zn_conductor_inst_t *self = *self_p;
    if (self == NULL) {
        return;
    }
    if (self->watch_timer >= 0) {
        zloop_timer_end(self->opts.loop, self->watch_timer);
    }
    self->stopping = true; /* a lane must not start its next op from here on */
    s_lanes_cancel(self);
    zn_client_destroy(&self->scheduler); /* pending reschedules run their callbacks: before busy */
    zn_conductor_release_destroy(&self->release); /* likewise for pending deletes */
    while (self->casters != NULL) {
        s_caster_t *c = self->casters;
        self->casters = c->next;
        zn_caster_destroy(&c->caster);
        zn_free(c);
    }
    zhash_destroy(&self->busy);
    zhashx_destroy(&self->lanes);
    zn_free(self);
    *self_p = NULL;
}

size_t
zn_conductor_inst_pending(const zn_conductor_inst_t *self)
{
    return self->pending;
}
