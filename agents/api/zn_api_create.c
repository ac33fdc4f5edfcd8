/* SPDX-License-Identifier: Apache-2.0 */
/* zn_api_create.c - POST /servers, steps 3 and 6-13 of the flow: check the body, the flavor and
 * the key pair (store), the image, networks and volumes (their agents, when configured), the
 * quota; write the instances, their first events and the quota usage in one conditional batch;
 * answer 202; then ask the scheduler for each instance's host and cast the build there. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <sodium.h>

#include "zn_api_body.h"
#include "zn_api_int.h"
#include "zn_clock.h"
#include "zn_failpoint.h"
#include "zn_log.h"
#include "zn_mem.h"
#include "zn_mp.h"
#include "zn_str.h"
#include "zn_tables.h"
#include "zn_uuid.h"

#define S_PASS_LEN 12

/* One create request from its body until its 202 (or error). */
typedef struct {
    zn_api_t *api;
    zn_rest_req_t *req;
    zn_ctx_t ctx; /* the caller's, with TOKEN */
    char *token;
    zn_api_server_req_t body;
    zn_cell_flavor_t flavor;
    char *key_data;
    char *image_arch;
    char *image_hypervisor_type;
    size_t nic_next; /* networks checked so far */
    size_t bdm_next; /* volumes checked so far */
    bool image_checked;
    bool group_joined;
    char **id_list; /* pointers into IDS, for the group join */
    int64_t count;
    char (*ids)[ZN_UUID_LEN + 1];
    char admin_pass[ZN_API_NAME_MAX + 1];
} s_create_t;

static void s_next(s_create_t *job);

static void
s_job_free(s_create_t *job)
{
    zn_api_t *api = job->api;
    zn_api_server_req_release(&job->body);
    zn_schema_release(&zn_cell_flavor_schema, &job->flavor);
    zn_free(job->key_data);
    zn_free(job->image_arch);
    zn_free(job->image_hypervisor_type);
    zn_free(job->ids);
    zn_free(job->id_list);
    if (job->token != NULL) {
        sodium_memzero(job->token, strlen(job->token));
        zn_free(job->token);
    }
    sodium_memzero(job->admin_pass, sizeof(job->admin_pass));
    zn_free(job);
    zn__api_release(api);
}

static void
s_fail(s_create_t *job, int code, const char *message)
{
    zn_rest_error(job->req, code, message);
    s_job_free(job);
}

/* ---- peers' answers ----------------------------------------------------------------------- */

typedef struct {
    char *id;
    char *status;
    char *project_id;
    char *owner;
    char *visibility;
    char *architecture;
    char *hypervisor_type;
    bool shared;
    int64_t min_ram;
    int64_t min_disk;
} s_peer_rec_t;

#define S_P(name, type)                                            \
    {                                                              \
#name, type, 0, offsetof(s_peer_rec_t, name), 0, 255, NULL \
    }

/* The fields of image_get, network_get and volume_get answers the api looks at. */
static const zn_field_t s_peer_fields[] = {
    S_P(id, ZN_FT_STR),
    S_P(status, ZN_FT_STR),
    S_P(project_id, ZN_FT_STR),
    S_P(owner, ZN_FT_STR),
    S_P(visibility, ZN_FT_STR),
    S_P(architecture, ZN_FT_STR),
    S_P(hypervisor_type, ZN_FT_STR),
    S_P(shared, ZN_FT_BOOL),
    S_P(min_ram, ZN_FT_I64),
    S_P(min_disk, ZN_FT_I64),
};
static const zn_schema_t s_peer_schema = {"peer_record", 1, s_peer_fields,
                                          ZN_ARRAY_COUNT(s_peer_fields), sizeof(s_peer_rec_t)};

/* Decode a peer's answer, or turn its failure into the 400 Nova gives for a bad reference
 * ("Image X could not be found."). Returns 0, or answers the request, frees JOB and returns
 * a negative code. */
static int
s_peer_answer(s_create_t *job, const char *what, const char *id, const zn_env_t *reply,
              const zn_fault_t *fault, s_peer_rec_t *out)
{
    zn_fault_t bad;
    zn_fault_clear(&bad);
    int rc = fault->code;
    if (rc == 0 && zn_schema_decode(&s_peer_schema, reply->body, out, NULL, &bad) < 0) {
        rc = -EBADMSG;
    }
    if (rc == 0) {
        return 0;
    }
    char *words = NULL;
    if (rc == -ENOENT || rc == ZN_EFORBIDDEN) {
        words = zn_asprintf("%s %s could not be found.", what, id);
        s_fail(job, -EINVAL, words);
    } else {
        words = zn_asprintf("cannot check %s %s: %s", what, id,
                            rc == -EBADMSG ? bad.message : zn_fault_message(fault));
        zn_rest_error_status(job->req, 503, words);
        s_job_free(job);
    }
    zn_free(words);
    return rc;
}

static char *
s_unavailable_words(const char *id, const char *status)
{
    if (status == NULL || strcmp(status, "available") == 0) {
        return NULL;
    }
    return zn_asprintf("Invalid volume: volume %s status must be available, but the current "
                       "status is %s.",
                       id, status);
}

char *
zn__api_volume_unavailable(const char *id, const zn_env_t *reply)
{
    s_peer_rec_t vol;
    if (zn_schema_decode(&s_peer_schema, reply->body, &vol, NULL, NULL) < 0) {
        return NULL; /* the compute agent's volume_attach checks the status again */
    }
    char *words = s_unavailable_words(id, vol.status);
    zn_schema_release(&s_peer_schema, &vol);
    return words;
}

static int
s_call(s_create_t *job, zn_client_t *client, const char *method, const char *key, const char *id,
       zn_reply_fn *fn)
{
    zn_pack_t *body = zn_pack_new();
    zn_pack_map(body, 1);
    zn_pack_str(body, key);
    zn_pack_str(body, id);
    int rc = zn_client_call(client, method, &job->ctx, zn_pack_buf(body),
                            job->api->cfg->call_timeout_ms, fn, job);
    zn_pack_destroy(&body);
    return rc;
}

static void
s_image_answer(void *arg, const zn_env_t *reply, const zn_fault_t *fault)
{
    s_create_t *job = arg;
    s_peer_rec_t image;
    if (s_peer_answer(job, "Image", job->body.image_ref, reply, fault, &image) < 0) {
        return;
    }
    char *words = NULL;
    if (image.status != NULL && strcmp(image.status, "active") != 0) {
        words = zn_asprintf("Image %s is not active.", job->body.image_ref);
    } else if (image.min_ram > job->flavor.ram_mb || image.min_disk > job->flavor.disk_gb) {
        words = zn_asprintf("Flavor's memory or disk is too small for requested image.");
    }
    job->image_arch = image.architecture != NULL ? zn_strdup(image.architecture) : NULL;
    job->image_hypervisor_type =
        image.hypervisor_type != NULL ? zn_strdup(image.hypervisor_type) : NULL;
    zn_schema_release(&s_peer_schema, &image);
    if (words != NULL) {
        s_fail(job, -EINVAL, words);
        zn_free(words);
        return;
    }
    job->image_checked = true;
    s_next(job);
}

static void
s_network_answer(void *arg, const zn_env_t *reply, const zn_fault_t *fault)
{
    s_create_t *job = arg;
    const char *id = job->body.nics[job->nic_next].network_id;
    s_peer_rec_t net;
    if (s_peer_answer(job, "Network", id, reply, fault, &net) < 0) {
        return;
    }
    bool visible = net.shared || zn_rest_is_admin(job->req) || net.project_id == NULL ||
                   strcmp(net.project_id, zn_rest_project_id(job->req)) == 0;
    zn_schema_release(&s_peer_schema, &net);
    if (!visible) {
        char *words = zn_asprintf("Network %s could not be found.", id);
        s_fail(job, -EINVAL, words);
        zn_free(words);
        return;
    }
    job->nic_next++;
    s_next(job);
}

static void
s_volume_answer(void *arg, const zn_env_t *reply, const zn_fault_t *fault)
{
    s_create_t *job = arg;
    const char *id = job->body.bdms[job->bdm_next].volume_id;
    s_peer_rec_t vol;
    if (s_peer_answer(job, "Volume", id, reply, fault, &vol) < 0) {
        return;
    }
    char *words = NULL;
    if (!zn_rest_is_admin(job->req) && vol.project_id != NULL &&
        strcmp(vol.project_id, zn_rest_project_id(job->req)) != 0) {
        words = zn_asprintf("Volume %s could not be found.", id);
    } else {
        words = s_unavailable_words(id, vol.status);
    }
    zn_schema_release(&s_peer_schema, &vol);
    if (words != NULL) {
        s_fail(job, -EINVAL, words);
        zn_free(words);
        return;
    }
    job->bdm_next++;
    s_next(job);
}

/* ---- the write: instances, first events, quota usage -------------------------------------- */

/* How many instances fit the quota (between min and max count), or a quota fault. */
static int
s_fit_quota(s_create_t *job, const zn_cell_quota_t *limits, const zn_cell_quota_t *usage,
            zn_fault_t *fault)
{
    const zn_cell_flavor_t *f = &job->flavor;
    for (int64_t n = job->body.max_count; n >= job->body.min_count; n--) {
        bool fits = (limits->instances < 0 || usage->instances + n <= limits->instances) &&
                    (limits->cores < 0 || usage->cores + n * f->vcpus <= limits->cores) &&
                    (limits->ram_mb < 0 || usage->ram_mb + n * f->ram_mb <= limits->ram_mb);
        if (fits) {
            job->count = n;
            return 0;
        }
    }
    int64_t n = job->body.min_count;
    const char *what = "instances";
    int64_t asked = n;
    int64_t used = usage->instances;
    int64_t limit = limits->instances;
    if (limits->cores >= 0 && usage->cores + n * f->vcpus > limits->cores) {
        what = "cores";
        asked = n * f->vcpus;
        used = usage->cores;
        limit = limits->cores;
    } else if (limits->ram_mb >= 0 && usage->ram_mb + n * f->ram_mb > limits->ram_mb) {
        what = "ram";
        asked = n * f->ram_mb;
        used = usage->ram_mb;
        limit = limits->ram_mb;
    }
    return zn_fault_set(fault, ZN_EQUOTA,
                        "Quota exceeded for %s: Requested %" PRId64 ", but already used %" PRId64
                        " of %" PRId64 " %s",
                        what, asked, used, limit, what);
}

static void
s_fill_instance(s_create_t *job, int64_t index, zn_cell_instance_t *inst)
{
    const zn_api_server_req_t *b = &job->body;
    int64_t now = zn_clock_wall_ms();
    const zn_api_cfg_t *cfg = job->api->cfg;
    inst->id = job->ids[index];
    inst->name = job->count > 1 ? zn_asprintf("%s-%" PRId64, b->name, index + 1) : b->name;
    inst->project_id = job->ctx.project_id;
    inst->user_id = job->ctx.user_id;
    inst->request_id = job->ctx.req_id;
    inst->availability_zone = b->availability_zone;
    inst->vm_state = (char *)(uintptr_t)zn_vm_state_name(ZN_VM_BUILDING);
    inst->task_state = (char *)(uintptr_t)zn_task_state_name(ZN_TASK_SCHEDULING);
    inst->flavor = job->flavor;
    inst->image_id = b->image_ref;
    inst->image_arch = job->image_arch;
    inst->image_hypervisor_type = job->image_hypervisor_type;
    inst->key_name = b->key_name;
    inst->key_data = job->key_data;
    inst->user_data = b->user_data;
    inst->metadata = b->metadata;
    inst->metadata_count = b->metadata_count;
    inst->nics = b->nics;
    inst->nic_count = b->nic_count;
    inst->nics_auto = b->nics_auto;
    inst->bdms = b->bdms;
    inst->bdm_count = b->bdm_count;
    inst->group_id = b->group_id;
    inst->same_host = b->same_host;
    inst->same_host_count = b->same_host_count;
    inst->different_host = b->different_host;
    inst->different_host_count = b->different_host_count;
    inst->attempt = 1;
    inst->created_ms = now;
    inst->updated_ms = now;
    inst->task_deadline_ms = now + cfg->scheduler_timeout_ms + cfg->take_timeout_ms;
    inst->access_ipv4 = b->access_ipv4;
    inst->token = job->token;
}

/* The instances (borrowing JOB's data) and their first events into BATCH. */
static int
s_batch_instances(s_create_t *job, zn_batch_t *batch)
{
    int rc = 0;
    for (int64_t i = 0; i < job->count && rc == 0; i++) {
        zn_cell_instance_t inst;
        memset(&inst, 0, sizeof(inst));
        s_fill_instance(job, i, &inst);
        rc = zn__api_event_start(batch, &inst, &job->ctx, "create", "schedule_and_build_instance");
        if (rc == 0) {
            rc = zn_sclient_put(batch, ZN_TABLE_INSTANCES, inst.id, &zn_cell_instance_schema, &inst,
                                ZN_BATCH_GEN_ABSENT);
        }
        if (inst.name != job->body.name) {
            zn_free(inst.name);
        }
    }
    return rc;
}

/* ---- one quota lane per project: creates group-commit --------------------------------- */

/* The creates of one project waiting for their write. Only one batch per project is in flight
 * from this api at a time, carrying every create that waited meanwhile: they all count against
 * the quota usage read once, so a burst of creates costs one conditional write instead of a
 * storm of conflicting ones. Conflicts then only come from other writers (another api, the
 * conductor giving quota back), and the whole group reads again. */
typedef struct {
    zn_api_t *api;
    zlistx_t *waiting; /* s_create_t * */
    zlistx_t *flight;  /* s_create_t * in the batch being written */
    zlistx_t *settled; /* s_create_t * found committed by an earlier write: to answer */
    int tries;
    bool busy;
} s_lane_t;

#define S_LANE_OPS_MAX 3000 /* of ZN_BATCH_MAX_OPS: room for the quota row */

static void s_lane_run(s_lane_t *lane);

static void
s_lane_free(void **item_p)
{
    s_lane_t *lane = *item_p;
    if (lane == NULL) {
        return;
    }
    zlistx_destroy(&lane->waiting);
    zlistx_destroy(&lane->flight);
    zlistx_destroy(&lane->settled);
    zn_free(lane);
    *item_p = NULL;
}

static s_lane_t *
s_lane(zn_api_t *api, const char *project_id)
{
    if (api->lanes == NULL) {
        api->lanes = zhashx_new();
        zhashx_set_destructor(api->lanes, s_lane_free);
    }
    s_lane_t *lane = zhashx_lookup(api->lanes, project_id);
    if (lane == NULL) {
        lane = zn_calloc(1, sizeof(*lane));
        lane->api = api;
        lane->waiting = zlistx_new();
        lane->flight = zlistx_new();
        lane->settled = zlistx_new();
        (void)zhashx_insert(api->lanes, project_id, lane);
    }
    return lane;
}

/* Take the waiting creates that fit the quota (answering 403 to those that do not) into
 * LANE's flight and BATCH. Returns 0, ZN_EDONE when none is left to write, or an error. */
/* Did an earlier write of JOB commit after all (its outcome was unknown)? */
static bool
s_already_written(s_lane_t *lane, zn_store_read_t *txn, const s_create_t *job)
{
    const zn_store_table_t *table = zn__api_table(lane->api, ZN_TABLE_INSTANCES);
    uint64_t gen = 0;
    return job->count > 0 && table != NULL &&
           zn_store_get_generation(txn, table, zn_batch_str(job->ids[0]), &gen) == 0;
}

static int
s_lane_fill(s_lane_t *lane, zn_store_read_t *txn, const zn_cell_quota_t *limits,
            zn_cell_quota_t *usage, zn_batch_t *batch)
{
    size_t ops = 1;
    s_create_t *job = zlistx_first(lane->waiting);
    while (job != NULL && ops + (size_t)job->body.max_count * 2 <= S_LANE_OPS_MAX) {
        (void)zlistx_detach_cur(lane->waiting);
        zn_fault_t fault;
        zn_fault_clear(&fault);
        if (s_already_written(lane, txn, job)) {
            (void)zlistx_add_end(lane->settled, job);
        } else if (s_fit_quota(job, limits, usage, &fault) < 0) {
            s_fail(job, fault.code, fault.message);
        } else {
            usage->instances += job->count;
            usage->cores += job->count * job->flavor.vcpus;
            usage->ram_mb += job->count * job->flavor.ram_mb;
            int rc = s_batch_instances(job, batch);
            (void)zlistx_add_end(lane->flight, job);
            if (rc < 0) {
                return rc;
            }
            ops += (size_t)job->count * 2;
        }
        job = zlistx_first(lane->waiting);
    }
    return zlistx_size(lane->flight) > 0 ? 0 : ZN_EDONE;
}

static int
s_lane_build(s_lane_t *lane, const char *project_id, zn_batch_t *batch, zn_fault_t *fault)
{
    zn_store_read_t *txn = NULL;
    int rc = zn__api_read_begin(lane->api, &txn, fault);
    if (rc < 0) {
        return rc;
    }
    zn_cell_quota_t limits;
    zn_cell_quota_t usage;
    uint64_t gen = 0;
    rc = zn__api_quota_read(lane->api, txn, project_id, &limits, &usage, &gen, fault);
    if (rc < 0) {
        zn_store_read_end(&txn);
        return rc;
    }
    rc = s_lane_fill(lane, txn, &limits, &usage, batch);
    zn_store_read_end(&txn);
    if (rc == 0) {
        /* The usage is conditioned on its generation: two writers racing for the last
         * instance of a quota cannot both commit, and the loser reads again. */
        rc = zn_sclient_put(batch, ZN_TABLE_QUOTA_USAGE, project_id, &zn_cell_quota_schema, &usage,
                            gen);
    }
    if (rc < 0 && rc != ZN_EDONE) {
        zn_fault_set(fault, rc, "the create does not fit a batch: %s", zn_strerror(rc));
    }
    zn_schema_release(&zn_cell_quota_schema, &limits);
    zn_schema_release(&zn_cell_quota_schema, &usage);
    return rc;
}

static void s_schedule_all(s_create_t *job);

static void
s_lane_fail_flight(s_lane_t *lane, int code, const char *message)
{
    for (s_create_t *job = zlistx_detach(lane->flight, NULL); job != NULL;
         job = zlistx_detach(lane->flight, NULL)) {
        s_fail(job, code, message);
    }
}

/* 202 to JOB's caller; then the scheduling, and JOB is freed. */
static void
s_lane_answer(s_create_t *job)
{
    json_t *server =
        json_pack("{s:s,s:o,s:s,s:[{s:s}],s:s}", "id", job->ids[0], "links",
                  zn__api_links(job->req, "servers", job->ids[0]), "OS-DCF:diskConfig", "MANUAL",
                  "security_groups", "name", "default", "adminPass", job->admin_pass);
    zn_rest_reply(job->req, 202, json_pack("{s:o}", "server", server));
    job->req = NULL; /* answered: what follows is between the agents */
    s_schedule_all(job);
    s_job_free(job);
}

static void
s_lane_answer_settled(s_lane_t *lane)
{
    for (s_create_t *job = zlistx_detach(lane->settled, NULL); job != NULL;
         job = zlistx_detach(lane->settled, NULL)) {
        s_lane_answer(job);
    }
}

static void
s_lane_committed(void *arg, const zn_fault_t *fault)
{
    s_lane_t *lane = arg;
    lane->busy = false;
    zn_fault_t lost;
    int injected = fault->code == 0 ? ZN_FAILPOINT("api.create.ack") : 0;
    if (injected < 0) {
        zn_fault_set(&lost, injected, "injected: the answer to a committed write was lost");
        fault = &lost; /* tests: the write committed, its answer did not arrive */
    }
    /* A refused condition, or an outcome unknown (timeout): count again, in order. A write
     * that did commit is found by s_already_written and answered as such. */
    bool again =
        fault->code == ZN_ECONFLICT || fault->code == -ETIMEDOUT || fault->code == ZN_EUNKNOWN;
    if (again && lane->tries < ZN_API_TRIES) {
        lane->tries++;
        for (s_create_t *job = zlistx_last(lane->flight); job != NULL;
             job = zlistx_last(lane->flight)) {
            (void)zlistx_detach_cur(lane->flight);
            (void)zlistx_add_start(lane->waiting, job);
        }
        s_lane_run(lane);
        return;
    }
    lane->tries = 0;
    if (fault->code < 0) {
        s_lane_fail_flight(lane, fault->code, zn_fault_message(fault));
    }
    for (s_create_t *job = zlistx_detach(lane->flight, NULL); job != NULL;
         job = zlistx_detach(lane->flight, NULL)) {
        s_lane_answer(job);
    }
    s_lane_run(lane);
}

static void
s_lane_run(s_lane_t *lane)
{
    while (!lane->busy && zlistx_size(lane->waiting) > 0) {
        s_create_t *first = zlistx_first(lane->waiting);
        char project_id[ZN_ID_MAX + 1];
        (void)snprintf(project_id, sizeof(project_id), "%s", first->ctx.project_id);
        zn_ctx_t ctx = first->ctx;
        zn_fault_t fault;
        zn_fault_clear(&fault);
        zn_batch_t *batch = zn_batch_new();
        int rc = s_lane_build(lane, project_id, batch, &fault);
        if (rc == 0) {
            rc = zn__api_write(lane->api, &ctx, batch, s_lane_committed, lane);
            if (rc < 0) {
                zn_fault_set(&fault, ZN_EUNAVAIL, "cannot reach the conductor: %s",
                             zn_strerror(rc));
            }
        }
        zn_batch_destroy(&batch);
        if (rc == 0) {
            lane->busy = true;
        } else if (rc != ZN_EDONE) {
            s_lane_fail_flight(lane, fault.code, zn_fault_message(&fault));
        }
        s_lane_answer_settled(lane);
    }
}

static void
s_commit(s_create_t *job)
{
    s_lane_t *lane = s_lane(job->api, job->ctx.project_id);
    (void)zlistx_add_end(lane->waiting, job);
    s_lane_run(lane);
}

void
zn__api_lanes_destroy(zn_api_t *self)
{
    if (self->lanes == NULL) {
        return;
    }
    for (s_lane_t *lane = zhashx_first(self->lanes); lane != NULL;
         lane = zhashx_next(self->lanes)) {
        for (s_create_t *job = zlistx_detach(lane->waiting, NULL); job != NULL;
             job = zlistx_detach(lane->waiting, NULL)) {
            s_fail(job, ZN_EUNAVAIL, "the api is stopping");
        }
        s_lane_fail_flight(lane, ZN_EUNAVAIL, "the api is stopping");
        s_lane_answer_settled(lane);
    }
    zhashx_destroy(&self->lanes);
}

static void
s_group_joined(void *arg, const zn_fault_t *fault)
{
    s_create_t *job = arg;
    if (fault->code < 0) {
        s_fail(job, fault->code, zn_fault_message(fault));
        return;
    }
    s_next(job);
}

/* The next check, or the write once every check passed. */
static void
s_next(s_create_t *job)
{
    zn_api_t *api = job->api;
    int rc = 0;
    while (job->nic_next < job->body.nic_count &&
           job->body.nics[job->nic_next].network_id == NULL) {
        job->nic_next++; /* a port alone: the network agent binds it at build time */
    }
    if (!job->image_checked && job->body.image_ref != NULL && api->image != NULL) {
        rc = s_call(job, api->image, "image_get", "image_id", job->body.image_ref, s_image_answer);
    } else if (job->nic_next < job->body.nic_count && api->network != NULL) {
        rc = s_call(job, api->network, "network_get", "network_id",
                    job->body.nics[job->nic_next].network_id, s_network_answer);
    } else if (job->bdm_next < job->body.bdm_count && api->volume != NULL) {
        rc = s_call(job, api->volume, "volume_get", "volume_id",
                    job->body.bdms[job->bdm_next].volume_id, s_volume_answer);
    } else if (job->body.group_id != NULL && !job->group_joined) {
        /* Members join before they are scheduled: the scheduler sees the group's other
         * members, even those of this very request. */
        job->group_joined = true;
        zn__api_group_join(api, &job->ctx, job->body.group_id, job->id_list,
                           (size_t)job->body.max_count, s_group_joined, job);
        return;
    } else {
        s_commit(job);
        return;
    }
    if (rc < 0) {
        s_fail(job, ZN_EUNAVAIL, "a service the create needs cannot be reached");
    }
}

/* ---- steps 8-13: a host for each instance, and the build cast there ----------------------- */

/* One instance on its way to a host, after the 202. */
typedef struct {
    zn_api_t *api;
    zn_ctx_t ctx;
    char *token;
    char id[ZN_UUID_LEN + 1];
    char host[ZN_API_HOST_MAX + 1];
    char *message; /* the scheduler's refusal */
    int64_t attempt;
} s_place_t;

static void
s_place_free(s_place_t *p)
{
    zn_api_t *api = p->api;
    if (p->token != NULL) {
        sodium_memzero(p->token, strlen(p->token));
        zn_free(p->token);
    }
    zn_free(p->message);
    zn_free(p);
    zn__api_release(api);
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

/* The select_destinations body of docs/flow.md for instance INDEX of JOB. */
static void
s_pack_request(const s_create_t *job, int64_t index, zn_pack_t *body)
{
    const zn_api_server_req_t *b = &job->body;
    zn_pack_map(body, 13);
    zn_pack_str(body, "instance_id");
    zn_pack_str(body, job->ids[index]);
    zn_pack_str(body, "project_id");
    zn_pack_str(body, job->ctx.project_id);
    zn_pack_str(body, "vcpus");
    zn_pack_i64(body, job->flavor.vcpus);
    zn_pack_str(body, "ram_mb");
    zn_pack_i64(body, job->flavor.ram_mb);
    zn_pack_str(body, "disk_gb");
    zn_pack_i64(body, job->flavor.disk_gb);
    zn_pack_str(body, "availability_zone");
    zn_pack_str(body, b->availability_zone);
    zn_pack_str(body, "image_arch");
    zn_pack_str(body, job->image_arch);
    zn_pack_str(body, "image_hypervisor_type");
    zn_pack_str(body, job->image_hypervisor_type);
    s_pack_strv(body, "same_host", b->same_host, b->same_host_count);
    s_pack_strv(body, "different_host", b->different_host, b->different_host_count);
    zn_pack_str(body, "group_id");
    zn_pack_str(body, b->group_id);
    s_pack_strv(body, "ignore_hosts", NULL, 0);
    zn_pack_str(body, "alternates");
    zn_pack_i64(body, 2);
}

static int
s_mutate_place(void *arg, zn_store_read_t *txn, zn_cell_instance_t *inst, zn_batch_t *batch,
               zn_fault_t *fault)
{
    (void)txn;
    (void)batch;
    (void)fault;
    s_place_t *p = arg;
    if (inst->task_state == NULL || strcmp(inst->task_state, "scheduling") != 0 ||
        inst->host != NULL) {
        return ZN_EDONE; /* deleted, or placed by a reschedule, meanwhile */
    }
    zn__api_set_str(&inst->host, p->host);
    zn__api_set_str(&inst->node, p->host);
    inst->task_taken = false;
    inst->task_deadline_ms = zn_clock_wall_ms() + p->api->cfg->take_timeout_ms;
    p->attempt = inst->attempt;
    return 0;
}

/* Steps 12-13: the build goes to the chosen host's compute agent with the user's token. */
static void
s_placed(void *arg, const zn_cell_instance_t *inst, const zn_fault_t *fault)
{
    s_place_t *p = arg;
    if (fault->code == -ENOENT) {
        /* Deleted while the scheduler chose: the claim it made has no owner left. */
        zn__api_release_orphan_claim(p->api, &p->ctx, p->id);
    } else if (fault->code < 0) {
        zn_log_warn(p->ctx.req_id, "instance %s: host %s not recorded: %s", p->id, p->host,
                    zn_fault_message(fault));
    } else if (inst != NULL && inst->host != NULL && strcmp(inst->host, p->host) == 0 &&
               inst->task_state != NULL && strcmp(inst->task_state, "scheduling") == 0) {
        zn_pack_t *body = zn_pack_new();
        zn_pack_map(body, 2);
        zn_pack_str(body, "instance_id");
        zn_pack_str(body, p->id);
        zn_pack_str(body, "attempt");
        zn_pack_i64(body, p->attempt);
        zn_fault_t why;
        if (zn__api_cast(p->api, p->host, "build", &p->ctx, zn_pack_buf(body), &why) < 0) {
            /* The conductor's watchdog reschedules a build nobody took up in time. */
            zn_log_warn(p->ctx.req_id, "instance %s: %s; the conductor reschedules it", p->id,
                        why.message);
        }
        zn_pack_destroy(&body);
    }
    s_place_free(p);
}

static int
s_mutate_novalid(void *arg, zn_store_read_t *txn, zn_cell_instance_t *inst, zn_batch_t *batch,
                 zn_fault_t *fault)
{
    s_place_t *p = arg;
    zn_vm_state_t vm;
    zn_task_state_t task;
    if (zn_vm_state_parse(inst->vm_state, &vm) < 0 ||
        zn_task_state_parse(inst->task_state, &task) < 0 || task != ZN_TASK_SCHEDULING) {
        return ZN_EDONE;
    }
    int rc = zn_cellrec_transition(vm, task, ZN_VM_ERROR, ZN_TASK_NONE, fault);
    if (rc < 0) {
        return rc;
    }
    zn__api_set_str(&inst->vm_state, zn_vm_state_name(ZN_VM_ERROR));
    zn__api_set_str(&inst->task_state, NULL);
    zn__api_set_str(&inst->fault.message, p->message);
    inst->fault.code = 500;
    inst->fault.created_ms = zn_clock_wall_ms();
    inst->task_deadline_ms = 0;
    zn__api_set_str(&inst->token, NULL);
    return zn__api_event_finish(p->api, txn, inst, batch, "Error", p->message);
}

static void
s_novalid_written(void *arg, const zn_cell_instance_t *inst, const zn_fault_t *fault)
{
    (void)inst;
    s_place_t *p = arg;
    if (fault->code < 0) {
        zn_log_warn(p->ctx.req_id, "instance %s: ERROR not recorded: %s", p->id,
                    zn_fault_message(fault));
    }
    s_place_free(p);
}

/* The host in a select_destinations answer into P->host. */
static int
s_answer_host(s_place_t *p, const zn_env_t *reply)
{
    static const zn_field_t fields[] = {
        {"host", ZN_FT_STR, ZN_F_REQUIRED, 0, 0, ZN_API_HOST_MAX, NULL},
    };
    static const zn_schema_t schema = {"destination", 1, fields, 1, sizeof(char *)};
    char *host = NULL;
    if (zn_schema_decode(&schema, reply->body, &host, NULL, NULL) < 0) {
        return -EBADMSG;
    }
    (void)snprintf(p->host, sizeof(p->host), "%s", host);
    zn_free(host);
    return 0;
}

static void
s_scheduled(void *arg, const zn_env_t *reply, const zn_fault_t *fault)
{
    s_place_t *p = arg;
    if (fault->code == 0 && s_answer_host(p, reply) == 0) {
        zn_log_info(p->ctx.req_id, "instance %s: scheduled to %s", p->id, p->host);
        zn__api_inst_update(p->api, &p->ctx, p->id, s_mutate_place, s_placed, p);
        return;
    }
    if (fault->code == ZN_ENOVALIDHOST) {
        const char *words = zn_fault_message(fault);
        p->message = strstr(words, "No valid host") != NULL
                         ? zn_strdup(words)
                         : zn_asprintf("No valid host was found. %s", words);
        zn_log_warn(p->ctx.req_id, "instance %s: %s", p->id, p->message);
        zn__api_inst_update(p->api, &p->ctx, p->id, s_mutate_novalid, s_novalid_written, p);
        return;
    }
    /* Unreachable or no answer (the outcome may be unknown): the conductor's watchdog asks
     * again once the instance's scheduling deadline passed; a claim made meanwhile is found
     * again, as select_destinations is idempotent per instance. */
    zn_log_warn(p->ctx.req_id, "instance %s: scheduler: %s; left to the conductor's watchdog",
                p->id, fault->code < 0 ? zn_fault_message(fault) : "an answer without a host");
    s_place_free(p);
}

static void
s_schedule_all(s_create_t *job)
{
    zn_api_t *api = job->api;
    if (api->scheduler == NULL) {
        zn_log_info(job->ctx.req_id, "no scheduler configured: the conductor schedules");
        return;
    }
    zn_pack_t *body = zn_pack_new();
    for (int64_t i = 0; i < job->count; i++) {
        s_place_t *p = zn_calloc(1, sizeof(*p));
        p->api = api;
        zn_ctx_copy(&p->ctx, &job->ctx);
        p->token = zn_strdup(job->token);
        p->ctx.token = zn_batch_str(p->token);
        (void)snprintf(p->id, sizeof(p->id), "%s", job->ids[i]);
        zn__api_hold(api);
        zn_pack_reset(body);
        s_pack_request(job, i, body);
        if (zn_client_call(api->scheduler, "select_destinations", &p->ctx, zn_pack_buf(body),
                           api->cfg->scheduler_timeout_ms, s_scheduled, p) < 0) {
            zn_log_warn(job->ctx.req_id, "instance %s: cannot call the scheduler", p->id);
            s_place_free(p);
        }
    }
    zn_pack_destroy(&body);
}

/* ---- the request -------------------------------------------------------------------------- */

static void
s_admin_pass(char *out)
{
    static const char alphabet[] = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    for (size_t i = 0; i < S_PASS_LEN; i++) {
        out[i] = alphabet[randombytes_uniform(sizeof(alphabet) - 1)];
    }
    out[S_PASS_LEN] = '\0';
}

typedef struct {
    const char *zone;
    const char *default_zone;
    bool found;
} s_zone_probe_t;

static int
s_zone_of_host(void *arg, const zn_store_record_t *rec)
{
    s_zone_probe_t *probe = arg;
    zn_cell_host_t host;
    if (zn_schema_decode(&zn_cell_host_schema, rec->value, &host, NULL, NULL) == 0) {
        const char *zone =
            host.availability_zone != NULL ? host.availability_zone : probe->default_zone;
        probe->found = probe->found || strcmp(zone, probe->zone) == 0;
        zn_schema_release(&zn_cell_host_schema, &host);
    }
    return 0;
}

/* Nova refuses a zone no host is in (400) rather than failing the build later. */
static int
s_zone_exists(s_create_t *job, zn_store_read_t *txn, zn_fault_t *fault)
{
    s_zone_probe_t probe = {job->body.availability_zone, job->api->cfg->default_zone, false};
    int rc = zn__api_scan(job->api, txn, ZN_TABLE_HOSTS, NULL, NULL, s_zone_of_host, &probe);
    if (rc == 0 && !probe.found) {
        rc = zn_fault_set(fault, -EINVAL, "The requested availability zone is not available");
    }
    return rc;
}

/* The flavor and the key pair the body names, from the store. */
static int
s_local_checks(s_create_t *job, zn_fault_t *fault)
{
    zn_store_read_t *txn = NULL;
    int rc = zn__api_read_begin(job->api, &txn, fault);
    if (rc < 0) {
        return rc;
    }
    rc = zn__api_flavor_get(job->api, txn, job->body.flavor_ref, &job->flavor, fault);
    if (rc == 0 && job->body.availability_zone != NULL) {
        rc = s_zone_exists(job, txn, fault);
    }
    if (rc == -ENOENT) {
        rc = zn_fault_set(fault, -EINVAL, "Flavor %s could not be found.", job->body.flavor_ref);
    } else if (rc == 0 && job->flavor.disabled) {
        rc = zn_fault_set(fault, -EINVAL, "Flavor %s is disabled.", job->body.flavor_ref);
    }
    if (rc == 0 && job->body.key_name != NULL) {
        char key[ZN_API_ID_MAX + ZN_API_NAME_MAX + 2];
        (void)snprintf(key, sizeof(key), "%s/%s", job->ctx.user_id, job->body.key_name);
        zn_cell_keypair_t kp;
        rc = zn__api_get(job->api, txn, ZN_TABLE_KEYPAIRS, key, &zn_cell_keypair_schema, &kp, NULL,
                         fault);
        if (rc == 0) {
            job->key_data = kp.public_key;
            kp.public_key = NULL;
            zn_schema_release(&zn_cell_keypair_schema, &kp);
        } else if (rc == -ENOENT) {
            rc = zn_fault_set(fault, -EINVAL, "Invalid key_name provided.");
        }
    }
    zn_store_read_end(&txn);
    return rc;
}

int
zn__api_server_create(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    zn_api_t *self = arg;
    s_create_t *job = zn_calloc(1, sizeof(*job));
    job->api = self;
    job->req = req;
    zn__api_hold(self);
    int rc = zn_api_server_parse(zn_rest_json(req), &job->body, fault);
    zn__api_ctx(req, &job->ctx);
    job->token = zn_strndup((const char *)job->ctx.token.ptr, job->ctx.token.len);
    job->ctx.token = zn_batch_str(job->token);
    if (rc == 0) {
        rc = s_local_checks(job, fault);
    }
    if (rc < 0) {
        s_job_free(job);
        return rc;
    }
    job->ids = zn_calloc((size_t)job->body.max_count, sizeof(*job->ids));
    job->id_list = zn_calloc((size_t)job->body.max_count, sizeof(char *));
    for (int64_t i = 0; i < job->body.max_count; i++) {
        (void)snprintf(job->ids[i], sizeof(job->ids[i]), "%s", zn_uuid_generate().str);
        job->id_list[i] = job->ids[i];
    }
    if (job->body.admin_pass != NULL) {
        (void)snprintf(job->admin_pass, sizeof(job->admin_pass), "%s", job->body.admin_pass);
    } else {
        s_admin_pass(job->admin_pass);
    }
    zn_log_info(job->ctx.req_id, "create %s: %" PRId64 "..%" PRId64 " of flavor %s image %s",
                job->body.name, job->body.min_count, job->body.max_count, job->flavor.id,
                job->body.image_ref != NULL ? job->body.image_ref : "(volume)");
    s_next(job);
    return ZN_DEFERRED;
}
