/* SPDX-License-Identifier: Apache-2.0 */
/* zn_volume_rest.c - the Cinder v3.0 subset on the REST port: version discovery, and volumes
 * under /v3/{project_id}/ (create, list, list detail, show, update, delete, os-extend), whose
 * project must be the token's unless the caller is an admin. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "zn_log.h"
#include "zn_mem.h"
#include "zn_voljson.h"
#include "zn_volume_int.h"

/* ---- versions ---------------------------------------------------------------------------- */

static json_t *
s_version_doc(const zn_rest_req_t *req)
{
    char *href = zn_asprintf("%s/v3/", zn_rest_base_url(req));
    json_t *doc = json_pack("{s:s,s:s,s:s,s:s,s:s,s:[{s:s,s:s}],s:[{s:s,s:s}]}", "id", "v3.0",
                            "status", "CURRENT", "version", "3.0", "min_version", "3.0", "updated",
                            "2016-02-08T12:20:21Z", "links", "rel", "self", "href", href,
                            "media-types", "base", "application/json", "type",
                            "application/vnd.openstack.volume+json;version=3");
    zn_free(href);
    return doc;
}

/* GET / (300, as Cinder's root) and GET /v3/ (200, what openstacksdk discovers). */
static int
s_versions(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    (void)arg;
    (void)fault;
    zn_rest_reply(req, 300, json_pack("{s:[o]}", "versions", s_version_doc(req)));
    return 0;
}

static int
s_version_v3(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    (void)arg;
    (void)fault;
    zn_rest_reply(req, 200, json_pack("{s:[o]}", "versions", s_version_doc(req)));
    return 0;
}

/* ---- shared ------------------------------------------------------------------------------ */

/* The URL's project must be the token's, unless an admin acts. WHO is filled for the volume
 * operations: the token's project, and the admin flag. */
static int
s_who(zn_rest_req_t *req, zn_volops_who_t *who, zn_fault_t *fault)
{
    const char *url_project = zn_rest_capture(req, 0);
    who->project_id = zn_rest_project_id(req);
    who->user_id = zn_rest_user_id(req);
    who->admin = zn_rest_is_admin(req);
    if (!who->admin && (who->project_id == NULL || url_project == NULL ||
                        strcmp(url_project, who->project_id) != 0)) {
        return zn_fault_set(fault, ZN_EFORBIDDEN,
                            "Policy doesn't allow this request for project %.64s",
                            url_project != NULL ? url_project : "");
    }
    return 0;
}

static void
s_error(zn_rest_req_t *req, const zn_fault_t *fault)
{
    if (fault->code == ZN_EQUOTA) {
        zn_rest_error_named(req, 413, "overLimit", zn_fault_message(fault));
        return;
    }
    zn_rest_error(req, fault->code, zn_fault_message(fault));
}

/* Answer an operation's failure; true when it failed. */
static bool
s_failed(zn_rest_req_t *req, const zn_fault_t *fault)
{
    if (fault->code >= 0) {
        return false;
    }
    s_error(req, fault);
    return true;
}

/* The GET view, with the attributes Cinder adds to what is shown (the host for admins). */
static zn_voljson_view_t
s_shown_view(bool admin)
{
    return admin ? ZN_VOLJSON_ADMIN : ZN_VOLJSON_SHOWN;
}

static void
s_reply_volume(zn_rest_req_t *req, unsigned status, const zn_vol_t *vol, zn_voljson_view_t view)
{
    json_t *detail = zn_voljson_detail(vol, zn_rest_base_url(req), view);
    zn_rest_reply(req, status, json_pack("{s:o}", "volume", detail));
}

static void
s_on_created(void *arg, const zn_vol_t *vol, const zn_fault_t *fault)
{
    zn_rest_req_t *req = arg;
    if (!s_failed(req, fault)) {
        s_reply_volume(req, 202, vol, ZN_VOLJSON_BASE);
    }
}

static void
s_on_updated(void *arg, const zn_vol_t *vol, const zn_fault_t *fault)
{
    zn_rest_req_t *req = arg;
    if (!s_failed(req, fault)) {
        s_reply_volume(req, 200, vol, ZN_VOLJSON_BASE);
    }
}

static void
s_on_accepted(void *arg, const zn_vol_t *vol, const zn_fault_t *fault)
{
    (void)vol;
    zn_rest_req_t *req = arg;
    if (!s_failed(req, fault)) {
        zn_rest_reply(req, 202, NULL);
    }
}

/* An operation started (ZN_DEFERRED) or refused at once: RC with FAULT. */
static int
s_started(int rc)
{
    return rc < 0 ? rc : ZN_DEFERRED;
}

/* ---- volumes ----------------------------------------------------------------------------- */

static int
s_create(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    zn_volume_t *self = arg;
    zn_volops_who_t who;
    zn_voljson_create_t body;
    int rc = s_who(req, &who, fault);
    if (rc == 0) {
        rc = zn_voljson_create(zn_rest_json(req), &body, fault);
    }
    if (rc < 0) {
        return rc;
    }
    zn_volops_create_t create = {.name = body.name,
                                 .description = body.description,
                                 .size_gb = body.size_gb,
                                 .image_id = body.image_id};
    zn_ctx_t ctx;
    zn_rest_ctx(req, &ctx);
    return s_started(zn_volops_create(self->ops, &ctx, &who, &create, s_on_created, req, fault));
}

static int
s_show(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    zn_volume_t *self = arg;
    zn_volops_who_t who;
    int rc = s_who(req, &who, fault);
    zn_vol_t vol;
    memset(&vol, 0, sizeof(vol));
    if (rc == 0) {
        rc = zn_volops_get(self->ops, &who, zn_rest_capture(req, 1), &vol, fault);
    }
    if (rc == 0) {
        s_reply_volume(req, 200, &vol, s_shown_view(zn_rest_is_admin(req)));
    }
    zn_schema_release(&zn_vol_schema, &vol);
    return rc;
}

static int
s_update(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    zn_volume_t *self = arg;
    zn_volops_who_t who;
    const char *name = NULL;
    const char *description = NULL;
    int rc = s_who(req, &who, fault);
    if (rc == 0) {
        rc = zn_voljson_update(zn_rest_json(req), &name, &description, fault);
    }
    if (rc < 0) {
        return rc;
    }
    zn_ctx_t ctx;
    zn_rest_ctx(req, &ctx);
    return s_started(zn_volops_update(self->ops, &ctx, &who, zn_rest_capture(req, 1), name,
                                      description, s_on_updated, req, fault));
}

static int
s_delete(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    zn_volume_t *self = arg;
    zn_volops_who_t who;
    int rc = s_who(req, &who, fault);
    if (rc < 0) {
        return rc;
    }
    zn_ctx_t ctx;
    zn_rest_ctx(req, &ctx);
    return s_started(zn_volops_delete(self->ops, &ctx, &who, zn_rest_capture(req, 1), s_on_accepted,
                                      req, fault));
}

static int
s_action(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    zn_volume_t *self = arg;
    zn_volops_who_t who;
    zn_voljson_action_t action;
    int rc = s_who(req, &who, fault);
    if (rc == 0) {
        rc = zn_voljson_action(zn_rest_json(req), &action, fault);
    }
    if (rc < 0) {
        return rc;
    }
    zn_ctx_t ctx;
    zn_rest_ctx(req, &ctx);
    const char *id = zn_rest_capture(req, 1);
    if (action.kind == ZN_VOLJSON_RESET_STATUS) {
        if (!who.admin) {
            return zn_fault_set(fault, ZN_EFORBIDDEN,
                                "Policy doesn't allow volume_extension:volume_admin_actions:"
                                "reset_status to be performed.");
        }
        return s_started(zn_volops_reset(self->ops, &ctx, &who, id, action.status, action.detach,
                                         s_on_accepted, req, fault));
    }
    return s_started(
        zn_volops_extend(self->ops, &ctx, &who, id, action.new_size_gb, s_on_accepted, req, fault));
}

/* ---- limits ------------------------------------------------------------------------------ */

/* GET /limits: the project's quotas and what it uses (openstack limits show --absolute). */
static int
s_limits(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    zn_volume_t *self = arg;
    zn_volops_who_t who;
    int64_t volumes = 0;
    int64_t gigabytes = 0;
    int rc = s_who(req, &who, fault);
    if (rc == 0) {
        rc = zn_volops_usage(self->ops, zn_rest_capture(req, 0), &volumes, &gigabytes, fault);
    }
    if (rc < 0) {
        return rc;
    }
    json_t *absolute =
        json_pack("{s:I,s:I,s:I,s:I,s:i,s:i,s:i,s:i,s:i,s:i}", "maxTotalVolumes",
                  (json_int_t)self->cfg->quota_volumes, "maxTotalVolumeGigabytes",
                  (json_int_t)self->cfg->quota_gigabytes, "totalVolumesUsed", (json_int_t)volumes,
                  "totalGigabytesUsed", (json_int_t)gigabytes, "maxTotalSnapshots", 0,
                  "totalSnapshotsUsed", 0, "maxTotalBackups", 0, "totalBackupsUsed", 0,
                  "maxTotalBackupGigabytes", 0, "totalBackupGigabytesUsed", 0);
    zn_rest_reply(req, 200, json_pack("{s:{s:[],s:o}}", "limits", "rate", "absolute", absolute));
    return 0;
}

/* ---- lists ------------------------------------------------------------------------------- */

static bool
s_truthy(const char *text)
{
    return text != NULL && (strcmp(text, "1") == 0 || strcasecmp(text, "true") == 0 ||
                            strcasecmp(text, "yes") == 0);
}

/* The list query of REQ: limit (capped at max_limit), marker, name, status, all_tenants. */
static int
s_query(zn_volume_t *self, zn_rest_req_t *req, const zn_volops_who_t *who, zn_volops_query_t *out,
        zn_fault_t *fault)
{
    memset(out, 0, sizeof(*out));
    out->limit = (size_t)self->cfg->max_limit;
    const char *limit = zn_rest_query(req, "limit");
    if (limit != NULL) {
        size_t len = strlen(limit);
        if (len == 0 || len > 9 || strspn(limit, "0123456789") != len) {
            return zn_fault_set(fault, -EINVAL,
                                "Invalid input received: limit must be a positive integer");
        }
        unsigned long value = strtoul(limit, NULL, 10);
        out->limit = value >= 1 && value < out->limit ? (size_t)value : out->limit;
    }
    out->marker = zn_rest_query(req, "marker");
    out->name = zn_rest_query(req, "name");
    out->status = zn_rest_query(req, "status");
    bool all = who->admin && s_truthy(zn_rest_query(req, "all_tenants"));
    out->project_id = all ? NULL : who->project_id;
    if (out->project_id == NULL && !all) {
        return zn_fault_set(fault, ZN_EFORBIDDEN, "a project-scoped token is required");
    }
    return 0;
}

static json_t *
s_next_link(zn_rest_req_t *req, const char *what, const zn_volops_query_t *query, const char *last)
{
    char *href = zn_asprintf("%s/v3/%s/%s?limit=%zu&marker=%s", zn_rest_base_url(req),
                             zn_rest_capture(req, 0), what, query->limit, last);
    json_t *links = json_pack("[{s:s,s:s}]", "rel", "next", "href", href);
    zn_free(href);
    return links;
}

static int
s_list_common(zn_volume_t *self, zn_rest_req_t *req, bool detail, zn_fault_t *fault)
{
    zn_volops_who_t who;
    zn_volops_query_t query;
    int rc = s_who(req, &who, fault);
    if (rc == 0) {
        rc = s_query(self, req, &who, &query, fault);
    }
    zn_vol_t *vols = NULL;
    size_t count = 0;
    bool more = false;
    if (rc == 0) {
        rc = zn_volops_list(self->ops, &query, &vols, &count, &more, fault);
    }
    if (rc < 0) {
        return rc;
    }
    const char *base = zn_rest_base_url(req);
    json_t *list = json_array();
    for (size_t i = 0; i < count; i++) {
        json_t *one = detail ? zn_voljson_detail(&vols[i], base, s_shown_view(who.admin))
                             : zn_voljson_summary(&vols[i], base);
        (void)json_array_append_new(list, one);
    }
    json_t *body = json_pack("{s:o}", "volumes", list);
    if (more && count > 0) {
        json_t *links =
            s_next_link(req, detail ? "volumes/detail" : "volumes", &query, vols[count - 1].id);
        (void)json_object_set_new(body, "volumes_links", links);
    }
    zn_volops_list_free(&vols, count);
    zn_rest_reply(req, 200, body);
    return 0;
}

static int
s_list(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    return s_list_common(arg, req, false, fault);
}

static int
s_list_detail(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    return s_list_common(arg, req, true, fault);
}

/* Order matters: ".../volumes/detail" before ".../volumes/ *". */
const zn_rest_route_t zn__volume_routes[] = {
    {"GET", "", s_versions, ZN_REST_NO_TOKEN},
    {"GET", "/v3", s_version_v3, ZN_REST_NO_TOKEN},
    {"GET", "/v3/*/volumes/detail", s_list_detail, 0},
    {"GET", "/v3/*/volumes", s_list, 0},
    {"POST", "/v3/*/volumes", s_create, ZN_REST_JSON},
    {"GET", "/v3/*/volumes/*", s_show, 0},
    {"PUT", "/v3/*/volumes/*", s_update, ZN_REST_JSON},
    {"DELETE", "/v3/*/volumes/*", s_delete, 0},
    {"POST", "/v3/*/volumes/*/action", s_action, ZN_REST_JSON},
    {"GET", "/v3/*/limits", s_limits, 0},
    {NULL, NULL, NULL, 0},
};
