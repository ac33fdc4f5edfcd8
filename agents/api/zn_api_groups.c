/* SPDX-License-Identifier: Apache-2.0 */
/* zn_api_groups.c - server groups (table server_groups): the policy the scheduler applies to
 * their members (affinity, anti-affinity and their soft forms), and the join of new instances
 * before they are scheduled. */
#include <errno.h>
#include <string.h>

#include "zn_api_int.h"
#include "zn_clock.h"
#include "zn_log.h"
#include "zn_mem.h"
#include "zn_str.h"
#include "zn_tables.h"
#include "zn_uuid.h"

#define S_MEMBERS_MAX 1000

static const char *const s_policies[] = {"affinity", "anti-affinity", "soft-affinity",
                                         "soft-anti-affinity"};

static json_t *
s_view(const zn_cell_group_t *g)
{
    json_t *members = json_array();
    for (size_t i = 0; i < g->member_count; i++) {
        (void)json_array_append_new(members, json_string(g->members[i]));
    }
    return json_pack("{s:s,s:s?,s:[s?],s:o,s:{}}", "id", g->id, "name", g->name, "policies",
                     g->policy, "members", members, "metadata");
}

typedef struct {
    zn_rest_req_t *req;
    json_t *list;
} s_list_t;

static int
s_collect(void *arg, const zn_store_record_t *rec)
{
    s_list_t *list = arg;
    zn_cell_group_t g;
    if (zn_schema_decode(&zn_cell_group_schema, rec->value, &g, NULL, NULL) == 0) {
        if (zn_rest_may_read(list->req, g.project_id)) {
            (void)json_array_append_new(list->list, s_view(&g));
        }
        zn_schema_release(&zn_cell_group_schema, &g);
    }
    return 0;
}

int
zn__api_group_list(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    zn_api_t *self = arg;
    const char *all = zn_rest_query(req, "all_projects");
    bool everyone = zn_rest_is_admin(req) && all != NULL && strcmp(all, "0") != 0;
    s_list_t list = {req, json_array()};
    zn_store_read_t *txn = NULL;
    int rc = zn__api_read_begin(self, &txn, fault);
    if (rc == 0) {
        rc = zn__api_scan(self, txn, ZN_TABLE_SERVER_GROUPS, everyone ? NULL : "project_id",
                          everyone ? NULL : zn_rest_project_id(req), s_collect, &list);
        zn_store_read_end(&txn);
    }
    if (rc == 0) {
        zn_rest_reply(req, 200, json_pack("{s:O}", "server_groups", list.list));
    }
    json_decref(list.list);
    return rc;
}

/* The group ID visible to REQ's caller into G, with its generation. */
static int
s_read(zn_api_t *self, zn_rest_req_t *req, const char *id, zn_cell_group_t *g, uint64_t *gen,
       zn_fault_t *fault)
{
    zn_store_read_t *txn = NULL;
    int rc = zn__api_read_begin(self, &txn, fault);
    if (rc < 0) {
        return rc;
    }
    rc = zn__api_get(self, txn, ZN_TABLE_SERVER_GROUPS, id, &zn_cell_group_schema, g, gen, fault);
    zn_store_read_end(&txn);
    if (rc == 0 && !zn_rest_may_read(req, g->project_id)) {
        zn_schema_release(&zn_cell_group_schema, g);
        rc = -ENOENT;
    }
    if (rc == -ENOENT) {
        return zn_fault_set(fault, -ENOENT, "Instance group %s could not be found.", id);
    }
    return rc;
}

int
zn__api_group_show(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    zn_cell_group_t g;
    int rc = s_read(arg, req, zn_rest_capture(req, 0), &g, NULL, fault);
    if (rc == 0) {
        zn_rest_reply(req, 200, json_pack("{s:o}", "server_group", s_view(&g)));
        zn_schema_release(&zn_cell_group_schema, &g);
    }
    return rc;
}

int
zn__api_group_delete(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    zn_cell_group_t g;
    uint64_t gen = 0;
    int rc = s_read(arg, req, zn_rest_capture(req, 0), &g, &gen, fault);
    if (rc < 0) {
        return rc;
    }
    zn_batch_t *batch = zn_batch_new();
    rc = zn_batch_delete(batch, ZN_TABLE_SERVER_GROUPS, zn_batch_str(g.id), gen);
    if (rc == 0) {
        rc = zn__api_write_reply(arg, req, batch, 204, NULL, "the group changed meanwhile", fault);
    }
    zn_batch_destroy(&batch);
    zn_schema_release(&zn_cell_group_schema, &g);
    return rc;
}

int
zn__api_group_create(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    json_t *body = json_object_get(zn_rest_json(req), "server_group");
    const char *name = json_string_value(json_object_get(body, "name"));
    json_t *policies = json_object_get(body, "policies");
    const char *policy = json_string_value(json_array_get(policies, 0));
    bool known = false;
    for (size_t i = 0; policy != NULL && i < ZN_ARRAY_COUNT(s_policies); i++) {
        known = known || strcmp(policy, s_policies[i]) == 0;
    }
    if (name == NULL || name[0] == '\0' || strlen(name) > 255 || json_array_size(policies) != 1 ||
        !known) {
        return zn_fault_set(fault, -EINVAL,
                            "Invalid input for field/attribute server_group. A name of 1 to 255 "
                            "characters and exactly one of the policies affinity, "
                            "anti-affinity, soft-affinity, soft-anti-affinity are required.");
    }
    zn_uuid_t id = zn_uuid_generate();
    zn_cell_group_t g = {
        .id = id.str,
        .name = (char *)(uintptr_t)name, /* only read by the encoder */
        .project_id = (char *)(uintptr_t)zn_rest_project_id(req),
        .user_id = (char *)(uintptr_t)zn_rest_user_id(req),
        .policy = (char *)(uintptr_t)policy,
        .created_ms = zn_clock_wall_ms(),
    };
    zn_batch_t *batch = zn_batch_new();
    int rc = zn_sclient_put(batch, ZN_TABLE_SERVER_GROUPS, g.id, &zn_cell_group_schema, &g,
                            ZN_BATCH_GEN_ABSENT);
    if (rc == 0) {
        rc = zn__api_write_reply(arg, req, batch, 200,
                                 json_pack("{s:o}", "server_group", s_view(&g)), "conflict", fault);
    }
    zn_batch_destroy(&batch);
    return rc;
}

/* ---- joining a group before scheduling ---------------------------------------------------- */

typedef struct {
    zn_api_t *api;
    zn_ctx_t ctx;
    char group_id[ZN_API_ID_MAX + 1];
    char **ids;
    size_t count;
    int tries;
    bool leave;     /* take the ids out rather than in */
    char *leave_id; /* the one id a leave owns */
    zn__api_joined_fn *done;
    void *arg;
} s_join_t;

static void s_join_run(s_join_t *j);

static void
s_join_end(s_join_t *j, const zn_fault_t *fault)
{
    zn_api_t *api = j->api;
    j->done(j->arg, fault);
    zn_free(j->leave_id);
    zn_free(j);
    zn__api_release(api);
}

static void
s_join_written(void *arg, const zn_fault_t *fault)
{
    s_join_t *j = arg;
    if (fault->code == ZN_ECONFLICT && j->tries < ZN_API_TRIES) {
        s_join_run(j); /* another create joined meanwhile: read the members again */
        return;
    }
    s_join_end(j, fault);
}

static void
s_members_remove(zn_cell_group_t *g, char **ids, size_t count)
{
    size_t kept = 0;
    for (size_t i = 0; i < g->member_count; i++) {
        bool gone = false;
        for (size_t k = 0; k < count && !gone; k++) {
            gone = strcmp(g->members[i], ids[k]) == 0;
        }
        if (gone) {
            zn_free(g->members[i]);
        } else {
            g->members[kept++] = g->members[i];
        }
    }
    g->member_count = kept;
}

static int
s_join_batch(s_join_t *j, zn_batch_t *batch, zn_fault_t *fault)
{
    zn_store_read_t *txn = NULL;
    int rc = zn__api_read_begin(j->api, &txn, fault);
    if (rc < 0) {
        return rc;
    }
    zn_cell_group_t g;
    uint64_t gen = 0;
    rc = zn__api_get(j->api, txn, ZN_TABLE_SERVER_GROUPS, j->group_id, &zn_cell_group_schema, &g,
                     &gen, fault);
    zn_store_read_end(&txn);
    bool foreign =
        rc == 0 && (g.project_id == NULL || strcmp(g.project_id, j->ctx.project_id) != 0);
    if (foreign && !j->leave) { /* an admin's delete may empty another's group */
        zn_schema_release(&zn_cell_group_schema, &g);
        rc = -ENOENT;
    }
    if (rc < 0) {
        return rc == -ENOENT
                   ? zn_fault_set(fault, -EINVAL, "Invalid server group %s: not found", j->group_id)
                   : rc;
    }
    if (j->leave) {
        s_members_remove(&g, j->ids, j->count);
    } else if (g.member_count + j->count > S_MEMBERS_MAX) {
        zn_schema_release(&zn_cell_group_schema, &g);
        return zn_fault_set(fault, ZN_EQUOTA, "Quota exceeded, too many servers in group");
    } else {
        g.members = zn_realloc(g.members, (g.member_count + j->count + 1) * sizeof(char *));
        for (size_t i = 0; i < j->count; i++) {
            g.members[g.member_count++] = zn_strdup(j->ids[i]);
        }
    }
    rc = zn_sclient_put(batch, ZN_TABLE_SERVER_GROUPS, g.id, &zn_cell_group_schema, &g, gen);
    zn_schema_release(&zn_cell_group_schema, &g);
    return rc;
}

static void
s_join_run(s_join_t *j)
{
    j->tries++;
    zn_fault_t fault;
    zn_fault_clear(&fault);
    zn_batch_t *batch = zn_batch_new();
    int rc = s_join_batch(j, batch, &fault);
    if (rc == 0) {
        rc = zn__api_write(j->api, &j->ctx, batch, s_join_written, j);
        if (rc < 0) {
            zn_fault_set(&fault, ZN_EUNAVAIL, "cannot reach the conductor: %s", zn_strerror(rc));
        }
    }
    zn_batch_destroy(&batch);
    if (rc < 0) {
        s_join_end(j, &fault);
    }
}

static void
s_left(void *arg, const zn_fault_t *fault)
{
    char *words = arg;
    if (fault->code < 0) {
        zn_log_info(NULL, "%s: %s", words, zn_fault_message(fault));
    }
    zn_free(words);
}

void
zn__api_group_leave(zn_api_t *self, const zn_ctx_t *ctx, const char *group_id,
                    const char *instance_id)
{
    s_join_t *j = zn_calloc(1, sizeof(*j));
    j->api = self;
    zn_ctx_copy(&j->ctx, ctx);
    j->ctx.token = (zn_buf_t){NULL, 0};
    (void)snprintf(j->group_id, sizeof(j->group_id), "%s", group_id);
    char *words = zn_asprintf("instance %s not taken out of group %s", instance_id, group_id);
    j->leave_id = zn_strdup(instance_id);
    j->ids = &j->leave_id;
    j->count = 1;
    j->leave = true;
    j->done = s_left;
    j->arg = words;
    zn__api_hold(self);
    s_join_run(j);
}

void
zn__api_group_join(zn_api_t *self, const zn_ctx_t *ctx, const char *group_id, char **ids,
                   size_t count, zn__api_joined_fn *done, void *arg)
{
    s_join_t *j = zn_calloc(1, sizeof(*j));
    j->api = self;
    zn_ctx_copy(&j->ctx, ctx);
    j->ctx.token = (zn_buf_t){NULL, 0};
    (void)snprintf(j->group_id, sizeof(j->group_id), "%s", group_id);
    j->ids = ids;
    j->count = count;
    j->done = done;
    j->arg = arg;
    zn__api_hold(self);
    s_join_run(j);
}
