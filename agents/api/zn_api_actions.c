/* SPDX-License-Identifier: Apache-2.0 */
/* zn_api_actions.c - what happens to a server after its build: start, stop and reboot (a task
 * recorded, then cast to the host's compute agent), the console log (a call to it), instance
 * actions and their events, and volume attachments. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <sodium.h>

#include "zn_api_body.h"
#include "zn_api_int.h"
#include "zn_clock.h"
#include "zn_log.h"
#include "zn_mem.h"
#include "zn_mp.h"
#include "zn_str.h"
#include "zn_tables.h"
#include "zn_uuid.h"

/* ---- a lifecycle action cast to the host -------------------------------------------------- */

typedef struct {
    const char *name;   /* the body key: "os-stop" */
    const char *action; /* instance action and cast method: "stop" */
    const char *event;  /* the event's step */
    zn_task_state_t task;
} s_action_def_t;

static const s_action_def_t s_actions[] = {
    {"os-start", "start", "compute_start_instance", ZN_TASK_POWERING_ON},
    {"os-stop", "stop", "compute_stop_instance", ZN_TASK_POWERING_OFF},
    {"reboot", "reboot", "compute_reboot_instance", ZN_TASK_REBOOTING},
};

/* One action (or volume attachment change) on its way: record, then cast. */
typedef struct {
    zn_api_t *api;
    zn_rest_req_t *req;
    zn_ctx_t ctx;
    char *token;
    char id[ZN_API_ID_MAX + 1];
    const s_action_def_t *def;
    bool hard;
    char host[ZN_API_HOST_MAX + 1];
    char volume_id[ZN_API_ID_MAX + 1];
    char device[ZN_API_ID_MAX + 1];
    bool attach;
    char *why; /* the failed cast's words, for the revert */
} s_job_t;

static s_job_t *
s_job_new(zn_api_t *api, zn_rest_req_t *req)
{
    s_job_t *job = zn_calloc(1, sizeof(*job));
    job->api = api;
    job->req = req;
    zn__api_ctx(req, &job->ctx);
    job->token = zn_strndup((const char *)job->ctx.token.ptr, job->ctx.token.len);
    job->ctx.token = zn_batch_str(job->token);
    (void)snprintf(job->id, sizeof(job->id), "%s", zn_rest_capture(req, 0));
    zn__api_hold(api);
    return job;
}

static void
s_job_free(s_job_t *job)
{
    zn_api_t *api = job->api;
    sodium_memzero(job->token, strlen(job->token));
    zn_free(job->token);
    zn_free(job->why);
    zn_free(job);
    zn__api_release(api);
}

static int
s_mutate_action(void *arg, zn_store_read_t *txn, zn_cell_instance_t *inst, zn_batch_t *batch,
                zn_fault_t *fault)
{
    (void)txn;
    s_job_t *job = arg;
    zn_vm_state_t vm;
    zn_task_state_t task;
    if (zn_vm_state_parse(inst->vm_state, &vm) < 0 ||
        zn_task_state_parse(inst->task_state, &task) < 0) {
        return zn_fault_set(fault, -EBADMSG, "instance %s has unknown states", inst->id);
    }
    zn_task_state_t to = job->hard ? ZN_TASK_REBOOTING_HARD : job->def->task;
    if (inst->host == NULL || zn_cellrec_transition(vm, task, vm, to, NULL) < 0) {
        return zn_fault_set(fault, ZN_ECONFLICT,
                            "Cannot '%s' instance %s while it is in vm_state %s%s%s",
                            job->def->action, inst->id, inst->vm_state,
                            task != ZN_TASK_NONE ? " and task_state " : "",
                            task != ZN_TASK_NONE ? inst->task_state : "");
    }
    (void)snprintf(job->host, sizeof(job->host), "%s", inst->host);
    zn__api_set_str(&inst->task_state, zn_task_state_name(to));
    inst->task_deadline_ms = zn_clock_wall_ms() + job->api->cfg->action_timeout_ms;
    return zn__api_event_start(batch, inst, &job->ctx, job->def->action, job->def->event);
}

/* The cast could not go out: the task ends at once, with the reason in its event. */
static int
s_mutate_revert(void *arg, zn_store_read_t *txn, zn_cell_instance_t *inst, zn_batch_t *batch,
                zn_fault_t *fault)
{
    (void)fault;
    s_job_t *job = arg;
    zn_vm_state_t vm;
    zn_task_state_t task;
    zn_task_state_t to = job->hard ? ZN_TASK_REBOOTING_HARD : job->def->task;
    if (zn_vm_state_parse(inst->vm_state, &vm) < 0 ||
        zn_task_state_parse(inst->task_state, &task) < 0 || task != to ||
        zn_cellrec_transition(vm, task, vm, ZN_TASK_NONE, NULL) < 0) {
        return ZN_EDONE; /* the compute agent answered after all */
    }
    zn__api_set_str(&inst->task_state, NULL);
    inst->task_deadline_ms = 0;
    return zn__api_event_finish(job->api, txn, inst, batch, "Error", job->why);
}

static void
s_reverted(void *arg, const zn_cell_instance_t *inst, const zn_fault_t *fault)
{
    (void)inst;
    s_job_t *job = arg;
    if (fault->code < 0) {
        zn_log_warn(job->ctx.req_id, "instance %s: %s not reverted: %s", job->id, job->def->action,
                    zn_fault_message(fault));
    }
    s_job_free(job);
}

static void
s_action_recorded(void *arg, const zn_cell_instance_t *inst, const zn_fault_t *fault)
{
    (void)inst;
    s_job_t *job = arg;
    if (fault->code < 0) {
        zn_rest_error(job->req, fault->code, zn_fault_message(fault));
        s_job_free(job);
        return;
    }
    zn_rest_reply(job->req, 202, NULL);
    job->req = NULL;
    zn_pack_t *body = zn_pack_new();
    zn_pack_map(body, job->def->task == ZN_TASK_REBOOTING ? 2 : 1);
    zn_pack_str(body, "instance_id");
    zn_pack_str(body, job->id);
    if (job->def->task == ZN_TASK_REBOOTING) {
        zn_pack_str(body, "hard");
        zn_pack_bool(body, job->hard);
    }
    zn_fault_t why;
    int rc =
        zn__api_cast(job->api, job->host, job->def->action, &job->ctx, zn_pack_buf(body), &why);
    zn_pack_destroy(&body);
    if (rc == 0) {
        s_job_free(job);
        return;
    }
    zn_log_warn(job->ctx.req_id, "instance %s: %s", job->id, why.message);
    job->why = zn_strdup(why.message);
    zn__api_inst_update(job->api, &job->ctx, job->id, s_mutate_revert, s_reverted, job);
}

static int
s_lifecycle(zn_api_t *self, zn_rest_req_t *req, const s_action_def_t *def, const json_t *arg,
            zn_fault_t *fault)
{
    bool hard = false;
    if (def->task == ZN_TASK_REBOOTING) {
        const char *type = json_string_value(json_object_get(arg, "type"));
        if (type == NULL || (strcasecmp(type, "SOFT") != 0 && strcasecmp(type, "HARD") != 0)) {
            return zn_fault_set(fault, -EINVAL,
                                "Invalid input for field/attribute reboot. "
                                "'type' must be SOFT or HARD.");
        }
        hard = strcasecmp(type, "HARD") == 0;
    }
    s_job_t *job = s_job_new(self, req);
    job->def = def;
    job->hard = hard;
    zn__api_inst_update(self, &job->ctx, job->id, s_mutate_action, s_action_recorded, job);
    return ZN_DEFERRED;
}

/* ---- the console log ---------------------------------------------------------------------- */

static void
s_console_answer(void *arg, const zn_env_t *reply, const zn_fault_t *fault)
{
    zn_rest_req_t *req = arg;
    static const zn_field_t fields[] = {
        {"output", ZN_FT_STR, 0, 0, 0, 16u << 20, NULL},
    };
    static const zn_schema_t schema = {"console_log", 1, fields, 1, sizeof(char *)};
    char *output = NULL;
    zn_fault_t bad;
    if (fault->code == -ENOENT) {
        /* No serial log on that host (yet): Nova answers an empty console. */
        zn_rest_reply(req, 200, json_pack("{s:s}", "output", ""));
    } else if (fault->code < 0) {
        zn__api_peer_error(req, "compute", fault);
    } else if (zn_schema_decode(&schema, reply->body, &output, NULL, &bad) < 0) {
        zn__api_peer_error(req, "compute", &bad);
    } else {
        zn_rest_reply(req, 200, json_pack("{s:s}", "output", output != NULL ? output : ""));
    }
    zn_free(output);
}

static int
s_console(zn_api_t *self, zn_rest_req_t *req, const json_t *arg, zn_fault_t *fault)
{
    int64_t length = -1;
    json_t *len = json_object_get(arg, "length");
    if (len != NULL && !json_is_null(len) && (zn_api_json_int(len, &length) < 0 || length < 0)) {
        if (!json_is_integer(len) || json_integer_value(len) != -1) {
            return zn_fault_set(fault, -EINVAL, "Invalid input for field/attribute length.");
        }
    }
    zn_cell_instance_t inst;
    int rc = zn__api_instance_get(self, req, zn_rest_capture(req, 0), &inst, fault);
    if (rc < 0) {
        return rc;
    }
    if (inst.host == NULL || inst.vm_state == NULL || strcmp(inst.vm_state, "building") == 0) {
        rc = zn_fault_set(fault, ZN_ECONFLICT, "Instance %s is not ready: it has no host yet",
                          inst.id);
    }
    zn_pack_t *body = zn_pack_new();
    zn_pack_map(body, length >= 0 ? 2 : 1);
    zn_pack_str(body, "instance_id");
    zn_pack_str(body, inst.id);
    if (length >= 0) {
        zn_pack_str(body, "length");
        zn_pack_i64(body, length);
    }
    zn_ctx_t ctx;
    zn__api_ctx(req, &ctx);
    if (rc == 0) {
        rc = zn__api_compute_call(self, inst.host, "console_log", &ctx, zn_pack_buf(body),
                                  s_console_answer, req, fault);
    }
    zn_pack_destroy(&body);
    zn_schema_release(&zn_cell_instance_schema, &inst);
    if (rc < 0 && rc != ZN_ECONFLICT) {
        rc = zn_fault_set(fault, ZN_EUNAVAIL, "%s", zn_fault_message(fault));
    }
    return rc < 0 ? rc : ZN_DEFERRED;
}

int
zn__api_server_action(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    zn_api_t *self = arg;
    json_t *body = zn_rest_json(req);
    if (json_object_size(body) != 1) {
        return zn_fault_set(fault, -EINVAL, "Malformed request body: one action expected");
    }
    const char *key = json_object_iter_key(json_object_iter(body));
    json_t *value = json_object_get(body, key);
    zn_cell_instance_t inst;
    int rc = zn__api_instance_get(self, req, zn_rest_capture(req, 0), &inst, fault);
    if (rc < 0) {
        return rc;
    }
    zn_schema_release(&zn_cell_instance_schema, &inst);
    if (strcmp(key, "os-getConsoleOutput") == 0) {
        return s_console(self, req, value, fault);
    }
    for (size_t i = 0; i < ZN_ARRAY_COUNT(s_actions); i++) {
        if (strcmp(key, s_actions[i].name) == 0) {
            return s_lifecycle(self, req, &s_actions[i], value, fault);
        }
    }
    return zn_fault_set(fault, -EINVAL, "There is no such action: %s", key);
}

/* ---- instance actions --------------------------------------------------------------------- */

typedef struct {
    json_t *list;
    const char *request_id; /* show: only this one */
    bool with_events;
} s_events_t;

static json_t *
s_iso_json(int64_t ms)
{
    char text[32];
    zn__api_iso(ms, text);
    return ms > 0 ? json_string(text) : json_null();
}

static int
s_collect_event(void *arg, const zn_store_record_t *rec)
{
    s_events_t *out = arg;
    zn_cell_event_t ev;
    if (zn_schema_decode(&zn_cell_event_schema, rec->value, &ev, NULL, NULL) < 0) {
        return 0;
    }
    if (out->request_id == NULL ||
        (ev.request_id != NULL && strcmp(ev.request_id, out->request_id) == 0)) {
        bool failed = ev.result != NULL && strcmp(ev.result, "Error") == 0;
        json_t *action = json_pack(
            "{s:s?,s:s?,s:s?,s:s?,s:s?,s:o,s:o}", "action", ev.action, "instance_uuid",
            ev.instance_id, "request_id", ev.request_id, "user_id", ev.user_id, "project_id",
            ev.project_id, "start_time", s_iso_json(ev.start_ms), "message",
            failed ? json_string(ev.message != NULL ? ev.message : "Error") : json_null());
        if (out->with_events) {
            (void)json_object_set_new(action, "events",
                                      json_pack("[{s:s?,s:o,s:o,s:s?,s:n}]", "event", ev.event,
                                                "start_time", s_iso_json(ev.start_ms),
                                                "finish_time", s_iso_json(ev.finish_ms), "result",
                                                ev.result, "traceback"));
        }
        (void)json_array_insert_new(out->list, 0, action); /* newest first */
    }
    zn_schema_release(&zn_cell_event_schema, &ev);
    return 0;
}

static int
s_events(zn_api_t *self, zn_rest_req_t *req, s_events_t *out, zn_fault_t *fault)
{
    zn_cell_instance_t inst;
    const char *id = zn_rest_capture(req, 0);
    int rc = zn__api_instance_get(self, req, id, &inst, fault);
    if (rc < 0) {
        return rc;
    }
    zn_schema_release(&zn_cell_instance_schema, &inst);
    char prefix[ZN_API_ID_MAX + 2];
    (void)snprintf(prefix, sizeof(prefix), "%s/", id);
    zn_store_read_t *txn = NULL;
    rc = zn__api_read_begin(self, &txn, fault);
    if (rc == 0) {
        rc = zn__api_scan_prefix(self, txn, ZN_TABLE_INSTANCE_EVENTS, prefix, s_collect_event, out);
        zn_store_read_end(&txn);
    }
    return rc;
}

int
zn__api_action_list(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    s_events_t out = {json_array(), NULL, false};
    int rc = s_events(arg, req, &out, fault);
    if (rc == 0) {
        zn_rest_reply(req, 200, json_pack("{s:O}", "instanceActions", out.list));
    }
    json_decref(out.list);
    return rc;
}

int
zn__api_action_show(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    s_events_t out = {json_array(), zn_rest_capture(req, 1), true};
    int rc = s_events(arg, req, &out, fault);
    if (rc == 0 && json_array_size(out.list) == 0) {
        rc = zn_fault_set(fault, -ENOENT, "Action for request_id %s on instance %s not found",
                          zn_rest_capture(req, 1), zn_rest_capture(req, 0));
    }
    if (rc == 0) {
        /* One request made one action; its events merged oldest first. */
        json_t *first = json_array_get(out.list, json_array_size(out.list) - 1);
        json_t *events = json_object_get(first, "events");
        for (size_t i = json_array_size(out.list) - 1; i-- > 0;) {
            json_t *more = json_object_get(json_array_get(out.list, i), "events");
            (void)json_array_extend(events, more);
        }
        zn_rest_reply(req, 200, json_pack("{s:O}", "instanceAction", first));
    }
    json_decref(out.list);
    return rc;
}

/* ---- volume attachments ------------------------------------------------------------------- */

static json_t *
s_attachment_view(const char *server_id, const zn_cell_bdm_t *bdm)
{
    return json_pack("{s:s,s:s,s:s,s:s?}", "id", bdm->volume_id, "serverId", server_id, "volumeId",
                     bdm->volume_id, "device", bdm->device);
}

int
zn__api_attachment_list(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    zn_cell_instance_t inst;
    int rc = zn__api_instance_get(arg, req, zn_rest_capture(req, 0), &inst, fault);
    if (rc < 0) {
        return rc;
    }
    json_t *list = json_array();
    for (size_t i = 0; i < inst.bdm_count; i++) {
        (void)json_array_append_new(list, s_attachment_view(inst.id, &inst.bdms[i]));
    }
    zn_rest_reply(req, 200, json_pack("{s:o}", "volumeAttachments", list));
    zn_schema_release(&zn_cell_instance_schema, &inst);
    return 0;
}

int
zn__api_attachment_show(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    zn_cell_instance_t inst;
    int rc = zn__api_instance_get(arg, req, zn_rest_capture(req, 0), &inst, fault);
    if (rc < 0) {
        return rc;
    }
    const char *volume_id = zn_rest_capture(req, 1);
    rc = zn_fault_set(fault, -ENOENT, "Instance %s is not attached to volume %s.", inst.id,
                      volume_id);
    for (size_t i = 0; i < inst.bdm_count; i++) {
        if (strcmp(inst.bdms[i].volume_id, volume_id) == 0) {
            zn_rest_reply(
                req, 200,
                json_pack("{s:o}", "volumeAttachment", s_attachment_view(inst.id, &inst.bdms[i])));
            rc = 0;
            break;
        }
    }
    zn_schema_release(&zn_cell_instance_schema, &inst);
    return rc;
}

/* The next free virtio device after the root disk (vda). */
static void
s_next_device(const zn_cell_instance_t *inst, char *out, size_t cap)
{
    for (int letter = 'b'; letter <= 'z'; letter++) {
        (void)snprintf(out, cap, "/dev/vd%c", (char)letter);
        bool used = false;
        for (size_t i = 0; i < inst->bdm_count && !used; i++) {
            used = inst->bdms[i].device != NULL && strcmp(inst->bdms[i].device, out) == 0;
        }
        if (!used) {
            return;
        }
    }
}

static int
s_mutate_attach(void *arg, zn_store_read_t *txn, zn_cell_instance_t *inst, zn_batch_t *batch,
                zn_fault_t *fault)
{
    (void)txn;
    s_job_t *job = arg;
    bool ready = inst->host != NULL && inst->task_state == NULL && inst->vm_state != NULL &&
                 (strcmp(inst->vm_state, "active") == 0 || strcmp(inst->vm_state, "stopped") == 0);
    if (!ready) {
        return zn_fault_set(fault, ZN_ECONFLICT,
                            "Cannot 'attach_volume' instance %s while it is in vm_state %s",
                            inst->id, inst->vm_state);
    }
    for (size_t i = 0; i < inst->bdm_count; i++) {
        if (strcmp(inst->bdms[i].volume_id, job->volume_id) == 0) {
            return zn_fault_set(fault, -EINVAL, "Invalid volume: volume %s already attached",
                                job->volume_id);
        }
    }
    if (job->device[0] == '\0') {
        s_next_device(inst, job->device, sizeof(job->device));
    }
    inst->bdms = zn_realloc(inst->bdms, (inst->bdm_count + 1) * sizeof(*inst->bdms));
    zn_cell_bdm_t *bdm = &inst->bdms[inst->bdm_count++];
    memset(bdm, 0, sizeof(*bdm));
    bdm->volume_id = zn_strdup(job->volume_id);
    bdm->device = zn_strdup(job->device);
    bdm->boot_index = -1;
    (void)snprintf(job->host, sizeof(job->host), "%s", inst->host);
    return zn__api_event_start(batch, inst, &job->ctx, "attach_volume", "compute_attach_volume");
}

static int
s_mutate_detach(void *arg, zn_store_read_t *txn, zn_cell_instance_t *inst, zn_batch_t *batch,
                zn_fault_t *fault)
{
    (void)txn;
    s_job_t *job = arg;
    if (!zn_cellrec_drop_bdm(inst, job->volume_id)) {
        return zn_fault_set(fault, -ENOENT, "Instance %s is not attached to volume %s.", inst->id,
                            job->volume_id);
    }
    (void)snprintf(job->host, sizeof(job->host), "%s", inst->host != NULL ? inst->host : "");
    return zn__api_event_start(batch, inst, &job->ctx, "detach_volume", "compute_detach_volume");
}

static void
s_attachment_recorded(void *arg, const zn_cell_instance_t *inst, const zn_fault_t *fault)
{
    (void)inst;
    s_job_t *job = arg;
    if (fault->code < 0) {
        zn_rest_error(job->req, fault->code, zn_fault_message(fault));
        s_job_free(job);
        return;
    }
    if (job->attach) {
        zn_cell_bdm_t bdm = {.volume_id = job->volume_id, .device = job->device};
        zn_rest_reply(job->req, 200,
                      json_pack("{s:o}", "volumeAttachment", s_attachment_view(job->id, &bdm)));
    } else {
        zn_rest_reply(job->req, 202, NULL);
    }
    if (job->host[0] != '\0') {
        zn_pack_t *body = zn_pack_new();
        zn_pack_map(body, 3);
        zn_pack_str(body, "instance_id");
        zn_pack_str(body, job->id);
        zn_pack_str(body, "volume_id");
        zn_pack_str(body, job->volume_id);
        zn_pack_str(body, "device");
        zn_pack_str(body, job->device[0] != '\0' ? job->device : NULL);
        zn_fault_t why;
        if (zn__api_cast(job->api, job->host, job->attach ? "attach_volume" : "detach_volume",
                         &job->ctx, zn_pack_buf(body), &why) < 0) {
            zn_log_warn(job->ctx.req_id, "instance %s: %s", job->id, why.message);
        }
        zn_pack_destroy(&body);
    }
    s_job_free(job);
}

/* volume_get answered: the volume exists, is the caller's and is available; record the
 * attachment. */
static void
s_volume_checked(void *arg, const zn_env_t *reply, const zn_fault_t *fault)
{
    s_job_t *job = arg;
    if (fault->code < 0) {
        if (fault->code == -ENOENT || fault->code == ZN_EFORBIDDEN) {
            char *words = zn_asprintf("Volume %s could not be found.", job->volume_id);
            zn_rest_error(job->req, -ENOENT, words);
            zn_free(words);
        } else {
            zn__api_peer_error(job->req, "volume", fault);
        }
        s_job_free(job);
        return;
    }
    char *words = job->attach ? zn__api_volume_unavailable(job->volume_id, reply) : NULL;
    if (words != NULL) {
        zn_rest_error(job->req, -EINVAL, words);
        zn_free(words);
        s_job_free(job);
        return;
    }
    zn__api_inst_update(job->api, &job->ctx, job->id, s_mutate_attach, s_attachment_recorded, job);
}

int
zn__api_attachment_create(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    zn_api_t *self = arg;
    json_t *body = json_object_get(zn_rest_json(req), "volumeAttachment");
    const char *volume_id = json_string_value(json_object_get(body, "volumeId"));
    const char *device = json_string_value(json_object_get(body, "device"));
    if (volume_id == NULL || !zn_uuid_is_valid(volume_id) ||
        (device != NULL && (strlen(device) > 32 || strncmp(device, "/dev/", 5) != 0))) {
        return zn_fault_set(fault, -EINVAL, "Invalid input for field/attribute volumeAttachment.");
    }
    zn_cell_instance_t inst;
    int rc = zn__api_instance_get(self, req, zn_rest_capture(req, 0), &inst, fault);
    if (rc < 0) {
        return rc;
    }
    zn_schema_release(&zn_cell_instance_schema, &inst);
    s_job_t *job = s_job_new(self, req);
    job->attach = true;
    (void)snprintf(job->volume_id, sizeof(job->volume_id), "%s", volume_id);
    (void)snprintf(job->device, sizeof(job->device), "%s", device != NULL ? device : "");
    if (self->volume == NULL) {
        zn__api_inst_update(self, &job->ctx, job->id, s_mutate_attach, s_attachment_recorded, job);
        return ZN_DEFERRED;
    }
    zn_pack_t *call = zn_pack_new();
    zn_pack_map(call, 1);
    zn_pack_str(call, "volume_id");
    zn_pack_str(call, volume_id);
    rc = zn_client_call(self->volume, "volume_get", &job->ctx, zn_pack_buf(call),
                        self->cfg->call_timeout_ms, s_volume_checked, job);
    zn_pack_destroy(&call);
    if (rc < 0) {
        s_job_free(job);
        return zn_fault_set(fault, ZN_EUNAVAIL, "the volume service cannot be reached");
    }
    return ZN_DEFERRED;
}

int
zn__api_attachment_delete(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    zn_api_t *self = arg;
    zn_cell_instance_t inst;
    int rc = zn__api_instance_get(self, req, zn_rest_capture(req, 0), &inst, fault);
    if (rc < 0) {
        return rc;
    }
    zn_schema_release(&zn_cell_instance_schema, &inst);
    s_job_t *job = s_job_new(self, req);
    (void)snprintf(job->volume_id, sizeof(job->volume_id), "%s", zn_rest_capture(req, 1));
    zn__api_inst_update(self, &job->ctx, job->id, s_mutate_detach, s_attachment_recorded, job);
    return ZN_DEFERRED;
}
