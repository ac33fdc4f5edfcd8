/* SPDX-License-Identifier: Apache-2.0 */
/* zn_image_rest.c - the Glance v2 subset: version discovery, images (create, list, show, patch,
 * delete) and their data (upload streamed into the file store, download streamed from it). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zn_batch.h"
#include "zn_clock.h"
#include "zn_image_int.h"
#include "zn_json.h"
#include "zn_log.h"
#include "zn_mem.h"
#include "zn_uuid.h"

#define S_LIMIT_DEFAULT    25
#define S_LIMIT_MAX        1000
#define S_EARLY_TIMEOUT_MS 2000

static bool
s_admin(const zn_rest_req_t *req)
{
    return zn_rest_is_admin(req);
}

static void
s_ctx(const zn_rest_req_t *req, zn_ctx_t *ctx)
{
    zn_rest_ctx(req, ctx);
    ctx->token = (zn_buf_t){NULL, 0}; /* store writes need no token */
}

/* Read image ID as the caller may see it: -ENOENT for a missing one and for one the caller may
 * not see (ids must not leak). */
static int
s_read_visible(zn_image_t *self, zn_rest_req_t *req, const char *id, zn_imgrec_t *out,
               uint64_t *gen, zn_fault_t *fault)
{
    int rc = zn_imgdb_get(self->db, id, out, gen, fault);
    if (rc == 0 && !zn_imgrec_visible(out, zn_rest_project_id(req), s_admin(req))) {
        zn_schema_release(&zn_imgrec_schema, out);
        rc = zn_fault_set(fault, -ENOENT, "No image found with ID %s", id);
    }
    return rc;
}

/* ---- version discovery ----------------------------------------------------------------------- */

static int
s_versions(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    (void)arg;
    (void)fault;
    char *href = zn_asprintf("%s/v2/", zn_rest_base_url(req));
    json_t *versions = json_array();
    static const char *const ids[] = {"v2.16", "v2.15", "v2.9", "v2.7", "v2.6", "v2.5",
                                      "v2.4",  "v2.3",  "v2.2", "v2.1", "v2.0"};
    for (size_t i = 0; i < ZN_ARRAY_COUNT(ids); i++) {
        (void)json_array_append_new(versions, json_pack("{s:s,s:s,s:[{s:s,s:s}]}", "id", ids[i],
                                                        "status", i == 0 ? "CURRENT" : "SUPPORTED",
                                                        "links", "rel", "self", "href", href));
    }
    zn_str_free(&href);
    zn_rest_reply(req, 300, json_pack("{s:o}", "versions", versions));
    return 0;
}

/* ---- writes that answer the request when the store has them --------------------------------- */

typedef struct s_wjob {
    zn_image_t *self;
    zn_rest_req_t *req;
    zn_imgrec_t rec;
    unsigned status; /* on success: 201 create, 200 patch, 204 delete or tag */
    bool deleted;    /* a delete: the file goes once the record has */
} s_wjob_t;

static void
s_wjob_free(s_wjob_t **job_p)
{
    s_wjob_t *job = *job_p;
    zn_schema_release(&zn_imgrec_schema, &job->rec);
    zn_free(job);
    *job_p = NULL;
}

static void
s_on_written(void *arg, const zn_fault_t *fault)
{
    s_wjob_t *job = arg;
    zn_image_t *self = job->self;
    self->writes--;
    if (fault->code == ZN_ECONFLICT) {
        zn_rest_error(job->req, ZN_ECONFLICT, "the image changed meanwhile: try again");
    } else if (fault->code != 0) {
        zn_rest_error(job->req, fault->code == -ECANCELED ? ZN_EUNAVAIL : fault->code,
                      zn_fault_message(fault));
    } else if (job->status == 204) {
        if (job->deleted && job->rec.location != NULL &&
            zn_imgfile_remove(self->files, job->rec.location) < 0) {
            zn_log_warn(zn_rest_request_id(job->req), "image %s: cannot remove file %s",
                        job->rec.id, job->rec.location);
        }
        zn_rest_reply(job->req, 204, NULL);
    } else {
        zn_rest_reply(job->req, job->status, zn_imgrec_to_json(&job->rec));
    }
    s_wjob_free(&job);
}

/* Write JOB->rec (delete it with DELETE) when its generation is GEN; answers later. */
static int
s_write(s_wjob_t *job, uint64_t gen, bool delete, zn_fault_t *fault)
{
    zn_ctx_t ctx;
    s_ctx(job->req, &ctx);
    int rc = delete ? zn_imgdb_delete(job->self->db, &ctx, job->rec.id, gen, s_on_written, job)
                    : zn_imgdb_put(job->self->db, &ctx, &job->rec, gen, s_on_written, job);
    if (rc < 0) {
        s_wjob_free(&job);
        return zn_fault_set(fault, ZN_EUNAVAIL, "the store cannot take writes now: %s",
                            zn_strerror(rc));
    }
    job->self->writes++;
    return ZN_DEFERRED;
}

static s_wjob_t *
s_wjob_new(zn_image_t *self, zn_rest_req_t *req, unsigned status)
{
    s_wjob_t *job = zn_calloc(1, sizeof(*job));
    job->self = self;
    job->req = req;
    job->status = status;
    return job;
}

/* ---- create, show, patch, delete ------------------------------------------------------------ */

static int
s_create(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    zn_image_t *self = arg;
    zn_uuid_t id = zn_uuid_generate();
    zn_imgrec_ctx_t ctx = {.project_id = zn_rest_project_id(req),
                           .admin = s_admin(req),
                           .id = id.str,
                           .now_ms = zn_clock_wall_ms()};
    s_wjob_t *job = s_wjob_new(self, req, 201);
    int rc = zn_imgrec_from_create(zn_rest_json(req), &ctx, &job->rec, fault);
    if (rc < 0) {
        zn_free(job);
        return rc;
    }
    return s_write(job, ZN_BATCH_GEN_ABSENT, false, fault);
}

static int
s_show(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    zn_image_t *self = arg;
    zn_imgrec_t rec;
    int rc = s_read_visible(self, req, zn_rest_capture(req, 0), &rec, NULL, fault);
    if (rc < 0) {
        return rc;
    }
    zn_rest_reply(req, 200, zn_imgrec_to_json(&rec));
    zn_schema_release(&zn_imgrec_schema, &rec);
    return 0;
}

/* Read image ID for a change: 404 when invisible, 403 when visible but not the caller's. */
static int
s_read_writable(zn_image_t *self, zn_rest_req_t *req, const char *id, zn_imgrec_t *out,
                uint64_t *gen, zn_fault_t *fault)
{
    int rc = s_read_visible(self, req, id, out, gen, fault);
    if (rc == 0 && !zn_imgrec_writable(out, zn_rest_project_id(req), s_admin(req))) {
        zn_schema_release(&zn_imgrec_schema, out);
        rc = zn_fault_set(fault, ZN_EFORBIDDEN, "You are not permitted to modify image %s.", id);
    }
    return rc;
}

static int
s_patch(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    zn_image_t *self = arg;
    const char *type = zn_http_header(zn_rest_http(req), "Content-Type");
    if (type == NULL || strncmp(type, ZN_IMGREC_PATCH_MEDIA, strlen(ZN_IMGREC_PATCH_MEDIA)) != 0) {
        zn_rest_error_status(req, 415, "Unsupported Content-Type: use " ZN_IMGREC_PATCH_MEDIA);
        return 0;
    }
    s_wjob_t *job = s_wjob_new(self, req, 200);
    uint64_t gen = 0;
    int rc = s_read_writable(self, req, zn_rest_capture(req, 0), &job->rec, &gen, fault);
    size_t len = 0;
    const char *body = zn_http_body(zn_rest_http(req), &len);
    rc = rc == 0 ? zn_imgrec_patch(&job->rec, body, len, s_admin(req), fault) : rc;
    if (rc < 0) {
        s_wjob_free(&job);
        return rc;
    }
    job->rec.updated_ms = zn_clock_wall_ms();
    return s_write(job, gen, false, fault);
}

static int
s_delete(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    zn_image_t *self = arg;
    s_wjob_t *job = s_wjob_new(self, req, 204);
    uint64_t gen = 0;
    int rc = s_read_writable(self, req, zn_rest_capture(req, 0), &job->rec, &gen, fault);
    if (rc == 0 && job->rec.protected_) {
        rc = zn_fault_set(fault, ZN_EFORBIDDEN, "Image %s is protected and cannot be deleted.",
                          job->rec.id);
    }
    if (rc < 0) {
        s_wjob_free(&job);
        return rc;
    }
    job->deleted = true;
    return s_write(job, gen, true, fault);
}

/* PUT and DELETE /v2/images/ID/tags/TAG (`openstack image unset --tag` uses the latter). */
static int
s_tag(zn_image_t *self, zn_rest_req_t *req, bool add, zn_fault_t *fault)
{
    const char *tag = zn_rest_capture(req, 1);
    if (strlen(tag) > ZN_IMGREC_NAME_MAX) {
        return zn_fault_set(fault, -EINVAL, "a tag is at most %u characters", ZN_IMGREC_NAME_MAX);
    }
    s_wjob_t *job = s_wjob_new(self, req, 204);
    uint64_t gen = 0;
    int rc = s_read_writable(self, req, zn_rest_capture(req, 0), &job->rec, &gen, fault);
    rc = rc == 0 ? zn_imgrec_tag(&job->rec, tag, add, fault) : rc;
    if (rc < 0) {
        s_wjob_free(&job);
        return rc;
    }
    job->rec.updated_ms = zn_clock_wall_ms();
    return s_write(job, gen, false, fault);
}

static int
s_tag_add(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    return s_tag(arg, req, true, fault);
}

static int
s_tag_remove(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    return s_tag(arg, req, false, fault);
}

/* ---- list ------------------------------------------------------------------------------------ */

typedef struct s_list {
    zn_rest_req_t *req;
    const char *project_id;
    bool admin;
    const char *filters[7]; /* by s_filter_keys */
    json_t *images;
    size_t limit;
    bool more; /* one past the page was found */
    char last[ZN_UUID_LEN + 1];
} s_list_t;

static const char *const s_filter_keys[] = {
    "name", "status", "visibility", "owner", "disk_format", "container_format", "protected"};

static const char *
s_field(const zn_imgrec_t *image, size_t index)
{
    const char *values[] = {image->name,
                            image->status,
                            image->visibility,
                            image->owner,
                            image->disk_format,
                            image->container_format,
                            image->protected_ ? "true" : "false"};
    return values[index];
}

static bool
s_listed(const s_list_t *list, const zn_imgrec_t *image)
{
    if (!zn_imgrec_visible(image, list->project_id, list->admin)) {
        return false;
    }
    const char *visibility = list->filters[2];
    bool own = list->project_id != NULL && image->owner != NULL &&
               strcmp(image->owner, list->project_id) == 0;
    /* Glance lists others' community images only when asked for them by name. */
    if (visibility == NULL && !own && !list->admin && strcmp(image->visibility, "community") == 0) {
        return false;
    }
    for (size_t i = 0; i < ZN_ARRAY_COUNT(s_filter_keys); i++) {
        const char *want = list->filters[i];
        if (want == NULL || (i == 2 && strcmp(want, "all") == 0)) {
            continue;
        }
        const char *have = s_field(image, i);
        if (have == NULL || strcmp(have, want) != 0) {
            return false;
        }
    }
    return true;
}

static bool
s_list_visit(void *arg, const zn_imgrec_t *image)
{
    s_list_t *list = arg;
    if (!s_listed(list, image)) {
        return true;
    }
    if (json_array_size(list->images) == list->limit) {
        list->more = true;
        return false;
    }
    (void)json_array_append_new(list->images, zn_imgrec_to_json(image));
    (void)snprintf(list->last, sizeof(list->last), "%s", image->id);
    return true;
}

static int
s_list_limit(zn_rest_req_t *req, size_t *limit, zn_fault_t *fault)
{
    const char *text = zn_rest_query(req, "limit");
    *limit = S_LIMIT_DEFAULT;
    if (text == NULL) {
        return 0;
    }
    char *end = NULL;
    long value = strtol(text, &end, 10);
    if (*text == '\0' || *end != '\0' || value < 0) {
        return zn_fault_set(fault, -EINVAL, "limit param must be a non-negative integer");
    }
    *limit = value > S_LIMIT_MAX ? S_LIMIT_MAX : (size_t)value;
    return 0;
}

static json_t *
s_list_body(s_list_t *list)
{
    json_t *body = json_pack("{s:o,s:s,s:s}", "images", list->images, "first", "/v2/images",
                             "schema", "/v2/schemas/images");
    if (list->more) {
        char *next = zn_asprintf("/v2/images?marker=%s&limit=%zu", list->last, list->limit);
        (void)json_object_set_new(body, "next", json_string(next));
        zn_str_free(&next);
    }
    return body;
}

static int
s_list(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    zn_image_t *self = arg;
    s_list_t list = {.req = req, .project_id = zn_rest_project_id(req), .admin = s_admin(req)};
    int rc = s_list_limit(req, &list.limit, fault);
    if (rc < 0) {
        return rc;
    }
    for (size_t i = 0; i < ZN_ARRAY_COUNT(s_filter_keys); i++) {
        list.filters[i] = zn_rest_query(req, s_filter_keys[i]);
    }
    const char *marker = zn_rest_query(req, "marker");
    if (marker != NULL) {
        zn_imgrec_t rec;
        rc = s_read_visible(self, req, marker, &rec, NULL, fault);
        if (rc < 0) {
            return zn_fault_set(fault, -EINVAL, "marker %s could not be found.", marker);
        }
        zn_schema_release(&zn_imgrec_schema, &rec);
    }
    list.images = json_array();
    rc = zn_imgdb_list(self->db, marker, s_list_visit, &list, fault);
    if (rc < 0) {
        json_decref(list.images);
        return rc;
    }
    zn_rest_reply(req, 200, s_list_body(&list));
    return 0;
}

/* ---- data: download -------------------------------------------------------------------------- */

static int
s_download(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    zn_image_t *self = arg;
    zn_imgrec_t rec;
    int rc = s_read_visible(self, req, zn_rest_capture(req, 0), &rec, NULL, fault);
    if (rc < 0) {
        return rc;
    }
    if (strcmp(rec.status, "active") != 0 || rec.location == NULL) {
        zn_schema_release(&zn_imgrec_schema, &rec);
        zn_rest_reply(req, 204, NULL); /* Glance: no data yet */
        return 0;
    }
    int fd = zn_imgfile_open_read(self->files, rec.location);
    if (fd < 0) {
        rc = zn_fault_set(fault, ZN_EINTERNAL, "image %s: its file %s cannot be read: %s", rec.id,
                          rec.location, zn_strerror(fd));
    } else {
        zn_rest_add_header(req, "Content-MD5", rec.checksum != NULL ? rec.checksum : "");
        zn_rest_reply_fd(req, 200, "application/octet-stream", fd, 0, (uint64_t)rec.size);
    }
    zn_schema_release(&zn_imgrec_schema, &rec);
    return rc;
}

/* ---- data: upload ---------------------------------------------------------------------------- */

/* One upload from its headers until the image is active (or the upload failed). */
typedef struct s_upload {
    zn_image_t *self;
    char key[ZN_REQ_ID_LEN + 1]; /* the request id: the uploads table's key */
    zn_imgrec_t rec;
    uint64_t gen; /* of REC in the store */
    zn_imgfile_upload_t *file;
    bool quota_bound;     /* the quota, not max_image_bytes, limits this upload */
    zn_rest_req_t *req;   /* once the body is in and the token validated */
    bool saving_inflight; /* the "saving" write is out */
    bool saving;          /* the store says saving (our write) */
    bool gone;            /* the client went away while a write was out */
    int saving_rc;        /* the "saving" write failed: the upload fails with this */
    uint64_t size;        /* the bytes uploaded, once the body is in */
    uint64_t reserved;    /* the most this upload may add to its project's usage */
} s_upload_t;

static void
s_upload_free(s_upload_t **up_p)
{
    s_upload_t *up = *up_p;
    zhashx_delete(up->self->uploads, up->key);
    zn_imgfile_upload_destroy(&up->file);
    zn_schema_release(&zn_imgrec_schema, &up->rec);
    zn_free(up);
    *up_p = NULL;
}

void
zn__image_uploads_clear(zn_image_t *self)
{
    s_upload_t *up = NULL;
    while ((up = zhashx_first(self->uploads)) != NULL) {
        s_upload_free(&up);
    }
}

static void
s_on_killed(void *arg, const zn_fault_t *fault)
{
    s_upload_t *up = arg;
    up->self->writes--;
    if (fault->code != 0) {
        zn_log_warn(up->key, "image %s: cannot mark the failed upload killed: %s", up->rec.id,
                    zn_fault_message(fault));
    }
    s_upload_free(&up);
}

/* The upload failed after the store said saving: the image becomes killed (Glance's status for
 * an image whose data never arrived whole). Frees UP, now or once written. */
static void
s_kill(s_upload_t *up)
{
    zn_imgfile_upload_destroy(&up->file); /* no partial file outlives the failure */
    if (!up->saving || up->self->closing) {
        s_upload_free(&up);
        return;
    }
    zn_str_free(&up->rec.status);
    up->rec.status = zn_strdup("killed");
    up->rec.updated_ms = zn_clock_wall_ms();
    zn_ctx_t ctx;
    memset(&ctx, 0, sizeof(ctx));
    (void)snprintf(ctx.req_id, sizeof(ctx.req_id), "%s", up->key);
    if (zn_imgdb_put(up->self->db, &ctx, &up->rec, up->gen, s_on_killed, up) < 0) {
        zn_log_warn(up->key, "image %s: cannot mark the failed upload killed", up->rec.id);
        s_upload_free(&up);
        return;
    }
    up->self->writes++;
}

/* Give up on UP: now, or once the "saving" write in flight has landed (s_on_saving). */
static void
s_drop(s_upload_t *up)
{
    if (up->saving_inflight) {
        up->gone = true;
        zn_imgfile_upload_destroy(&up->file);
        return;
    }
    s_kill(up);
}

static void
s_upload_error(s_upload_t *up, int code, const char *message)
{
    if (up->req != NULL) {
        zn_rest_error(up->req, code, message);
        up->req = NULL;
    }
    s_kill(up);
}

static void
s_on_active(void *arg, const zn_fault_t *fault)
{
    s_upload_t *up = arg;
    up->self->writes--;
    if (fault->code != 0) {
        if (zn_imgfile_remove(up->self->files, up->rec.location) < 0) { /* nobody points at it */
            zn_log_warn(NULL, "image file %s left behind", up->rec.location);
        }
        zn_rest_error(up->req, fault->code == -ECANCELED ? ZN_EUNAVAIL : fault->code,
                      fault->code == ZN_ECONFLICT ? "the image changed during the upload"
                                                  : zn_fault_message(fault));
        s_upload_free(&up);
        return;
    }
    zn_log_info(up->key, "image %s active size=%" PRId64 " checksum=%s", up->rec.id, up->rec.size,
                up->rec.checksum);
    zn_rest_reply(up->req, 204, NULL);
    s_upload_free(&up);
}

static int
s_failed_code(const s_upload_t *up, int code, char *message, size_t cap)
{
    if (code == ZN_ETOOBIG) {
        (void)snprintf(message, cap, "%s",
                       up->quota_bound ? "Denying attempt to upload image because it exceeds the "
                                         "quota"
                                       : "Image exceeds the storage limit");
        return ZN_ETOOBIG;
    }
    (void)snprintf(message, cap, "the upload failed: %s", zn_strerror(code));
    return code;
}

/* The file is in place (or the upload failed): record the image active with its checksums. */
static void
s_on_committed(void *arg, int rc, const char *location, const char *md5, const char *sha512)
{
    s_upload_t *up = arg;
    if (rc < 0) {
        char message[ZN_FAULT_MESSAGE_MAX];
        rc = s_failed_code(up, rc, message, sizeof(message));
        s_upload_error(up, rc, message);
        return;
    }
    zn_imgrec_t *rec = &up->rec;
    zn_str_free(&rec->status);
    rec->status = zn_strdup("active");
    rec->size = (int64_t)up->size;
    rec->checksum = zn_strdup(md5);
    rec->os_hash_algo = zn_strdup("sha512");
    rec->os_hash_value = zn_strdup(sha512);
    rec->location = zn_strdup(location);
    rec->updated_ms = zn_clock_wall_ms();
    zn_ctx_t ctx;
    s_ctx(up->req, &ctx);
    if (zn_imgdb_put(up->self->db, &ctx, rec, up->gen, s_on_active, up) < 0) {
        if (zn_imgfile_remove(up->self->files, rec->location) < 0) {
            zn_log_warn(NULL, "image file %s left behind", rec->location);
        }
        zn_rest_error(up->req, ZN_EUNAVAIL, "the store cannot take writes now");
        s_upload_free(&up);
        return;
    }
    up->self->writes++;
}

/* The body is in and the caller validated; the "saving" write (if any) has landed. */
static void
s_finish(s_upload_t *up)
{
    if (up->saving_rc != 0) {
        s_upload_error(up, up->saving_rc, "the image changed before the upload began");
        return;
    }
    up->size = zn_imgfile_upload_size(up->file);
    int rc = zn_imgfile_upload_commit(up->self->files, &up->file, s_on_committed, up);
    if (rc < 0) {
        s_on_committed(up, rc, NULL, NULL, NULL);
    }
}

static void
s_on_saving(void *arg, const zn_fault_t *fault)
{
    s_upload_t *up = arg;
    up->self->writes--;
    up->saving_inflight = false;
    if (fault->code == 0) {
        up->saving = true;
        up->gen++;
    } else {
        up->saving_rc = fault->code == ZN_ECONFLICT ? ZN_ECONFLICT : ZN_EUNAVAIL;
    }
    if (up->gone) {
        s_kill(up);
    } else if (up->req != NULL) {
        s_finish(up);
    }
}

static int
s_sink_write(void *arg, const char *data, size_t len)
{
    s_upload_t *up = arg;
    return zn_imgfile_upload_write(up->file, data, len);
}

static void
s_sink_abort(void *arg)
{
    s_upload_t *up = arg;
    zn_log_info(up->key,
                "image %s: the upload ended before it was taken up (client gone, or refused)",
                up->rec.id);
    s_drop(up);
}

/* What the uploads of OWNER in flight on this agent may still add to its usage: counted with
 * the store's figure, so that uploads starting together cannot pass the quota between them. */
static uint64_t
s_reserved(zn_image_t *self, const char *owner)
{
    uint64_t total = 0;
    for (s_upload_t *other = zhashx_first(self->uploads); other != NULL;
         other = zhashx_next(self->uploads)) {
        if (other->rec.owner != NULL && strcmp(other->rec.owner, owner) == 0) {
            total += other->reserved;
        }
    }
    return total;
}

/* How many bytes this upload may write: max_image_bytes, or what is left of the quota. */
static int
s_upload_room(zn_image_t *self, s_upload_t *up, int64_t declared, uint64_t *room, zn_fault_t *fault)
{
    const zn_image_cfg_t *cfg = self->cfg;
    *room = (uint64_t)cfg->max_image_bytes;
    if (cfg->project_quota_bytes > 0 && up->rec.owner != NULL) {
        uint64_t used = 0;
        int rc = zn_imgdb_usage(self->db, up->rec.owner, &used, fault);
        if (rc < 0) {
            return rc;
        }
        used += s_reserved(self, up->rec.owner);
        uint64_t left = used >= (uint64_t)cfg->project_quota_bytes
                            ? 0
                            : (uint64_t)cfg->project_quota_bytes - used;
        if (left < *room) {
            *room = left;
            up->quota_bound = true;
        }
    }
    if (declared >= 0 && (uint64_t)declared > *room) {
        return zn_fault_set(fault, ZN_ETOOBIG, "%s",
                            up->quota_bound ? "Denying attempt to upload image because it "
                                              "exceeds the quota"
                                            : "Image exceeds the storage limit");
    }
    /* A declared length is all this upload can take; a chunked one may take all the room. */
    up->reserved = declared >= 0 ? (uint64_t)declared : *room;
    return 0;
}

/* Write "saving" for UP (the caller is known to be allowed). */
static void
s_write_saving(zn_image_t *self, s_upload_t *up)
{
    zn_str_free(&up->rec.status);
    up->rec.status = zn_strdup("saving");
    up->rec.updated_ms = zn_clock_wall_ms();
    zn_ctx_t ctx;
    memset(&ctx, 0, sizeof(ctx));
    (void)snprintf(ctx.req_id, sizeof(ctx.req_id), "%s", up->key);
    if (zn_imgdb_put(self->db, &ctx, &up->rec, up->gen, s_on_saving, up) == 0) {
        up->saving_inflight = true;
        self->writes++;
    }
}

/* A validation started from an upload's headers; keyed by request id, because the upload may
 * be over (and freed) before identity answers. */
typedef struct s_early {
    zn_image_t *self;
    char key[ZN_REQ_ID_LEN + 1];
} s_early_t;

static void
s_on_early_auth(void *arg, const zn_idclient_auth_t *auth, const zn_fault_t *fault)
{
    (void)fault;
    s_early_t *early = arg;
    s_upload_t *up = zhashx_lookup(early->self->uploads, early->key);
    bool admin = false;
    for (size_t i = 0; auth != NULL && i < auth->role_count; i++) {
        admin = admin || strcmp(auth->roles[i], "admin") == 0;
    }
    /* Only while the body still streams: once it is in, the upload goes on to active. */
    if (up != NULL && auth != NULL && up->req == NULL && !up->gone && !up->saving_inflight &&
        zn_imgrec_writable(&up->rec, auth->project_id, admin)) {
        s_write_saving(early->self, up);
    }
    zn_free(early);
}

/* Say "saving" in the store as the upload starts: at once when the caller's token is in the
 * identity cache, else once identity has validated it (a refused token changes nothing: the
 * request is refused when its body is in). */
static void
s_mark_saving(zn_image_t *self, zn_rest_req_t *req, s_upload_t *up)
{
    if (zn_rest_auth(req) != NULL) {
        s_write_saving(self, up);
        return;
    }
    const char *token = zn_http_header(zn_rest_http(req), "X-Auth-Token");
    if (token == NULL || token[0] == '\0') {
        return;
    }
    s_early_t *early = zn_calloc(1, sizeof(*early));
    early->self = self;
    (void)snprintf(early->key, sizeof(early->key), "%s", up->key);
    zn_ctx_t ctx;
    memset(&ctx, 0, sizeof(ctx));
    (void)snprintf(ctx.req_id, sizeof(ctx.req_id), "%s", up->key);
    zn_buf_t buf = {(const uint8_t *)token, strlen(token)};
    if (zn_idclient_validate(self->idclient, &ctx, buf, S_EARLY_TIMEOUT_MS, s_on_early_auth,
                             early) < 0) {
        zn_free(early);
    }
}

static int
s_upload_check(zn_image_t *self, zn_rest_req_t *req, s_upload_t *up, zn_fault_t *fault)
{
    const char *id = zn_rest_capture(req, 0);
    int rc = zn_imgdb_get(self->db, id, &up->rec, &up->gen, fault);
    const zn_idclient_auth_t *auth = zn_rest_auth(req);
    if (rc == 0 && auth != NULL) {
        if (!zn_imgrec_visible(&up->rec, zn_rest_project_id(req), s_admin(req))) {
            rc = zn_fault_set(fault, -ENOENT, "No image found with ID %s", id);
        } else if (!zn_imgrec_writable(&up->rec, zn_rest_project_id(req), s_admin(req))) {
            rc = zn_fault_set(fault, ZN_EFORBIDDEN,
                              "You are not permitted to upload data "
                              "to image %s.",
                              id);
        }
    }
    if (rc == 0 && strcmp(up->rec.status, "queued") != 0) {
        rc = zn_fault_set(fault, ZN_ECONFLICT,
                          "Image status transition from %s to saving is not allowed",
                          up->rec.status);
    }
    return rc;
}

int
zn__image_open_stream(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    zn_image_t *self = arg;
    s_upload_t *up = zn_calloc(1, sizeof(*up));
    up->self = self;
    (void)snprintf(up->key, sizeof(up->key), "%s", zn_rest_request_id(req));
    uint64_t room = 0;
    zn_http_req_t *http = zn_rest_http(req);
    int rc = s_upload_check(self, req, up, fault);
    rc = rc == 0 ? s_upload_room(self, up, zn_http_content_length(http), &room, fault) : rc;
    rc = rc == 0 ? zn_imgfile_upload_open(self->files, up->rec.id, room, &up->file, fault) : rc;
    if (rc < 0) {
        zn_schema_release(&zn_imgrec_schema, &up->rec);
        zn_free(up);
        return rc;
    }
    (void)zhashx_insert(self->uploads, up->key, up); /* request ids are unique */
    zn_http_sink_t sink = {s_sink_write, s_sink_abort, up};
    zn_http_stream_body(http, &sink);
    s_mark_saving(self, req, up);
    return 0;
}

static int
s_upload(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    zn_image_t *self = arg;
    s_upload_t *up = zhashx_lookup(self->uploads, zn_rest_request_id(req));
    if (up == NULL) {
        return zn_fault_set(fault, ZN_EINTERNAL, "the upload of this request was lost");
    }
    int rc = 0;
    if (!zn_imgrec_visible(&up->rec, zn_rest_project_id(req), s_admin(req))) {
        rc = zn_fault_set(fault, -ENOENT, "No image found with ID %s", up->rec.id);
    } else if (!zn_imgrec_writable(&up->rec, zn_rest_project_id(req), s_admin(req))) {
        rc = zn_fault_set(fault, ZN_EFORBIDDEN,
                          "You are not permitted to upload data to image "
                          "%s.",
                          up->rec.id);
    }
    if (rc < 0) {
        s_drop(up); /* "saving" was only written for a caller known to be allowed */
        return rc;
    }
    up->req = req;
    if (!up->saving_inflight) {
        s_finish(up);
    }
    return ZN_DEFERRED;
}

/* ---- the table ------------------------------------------------------------------------------- */

const zn_rest_route_t zn__image_routes[] = {
    {.method = "GET", .pattern = "", .fn = s_versions, .flags = ZN_REST_NO_TOKEN},
    {.method = "GET", .pattern = "/versions", .fn = s_versions, .flags = ZN_REST_NO_TOKEN},
    {.method = "GET", .pattern = "/v2/images", .fn = s_list, .flags = 0},
    {.method = "POST", .pattern = "/v2/images", .fn = s_create, .flags = ZN_REST_JSON},
    {.method = "GET", .pattern = "/v2/images/*", .fn = s_show, .flags = 0},
    {.method = "PATCH", .pattern = "/v2/images/*", .fn = s_patch, .flags = 0},
    {.method = "DELETE", .pattern = "/v2/images/*", .fn = s_delete, .flags = 0},
    {.method = "PUT", .pattern = "/v2/images/*/file", .fn = s_upload, .flags = ZN_REST_STREAM},
    {.method = "GET", .pattern = "/v2/images/*/file", .fn = s_download, .flags = 0},
    {.method = "PUT", .pattern = "/v2/images/*/tags/*", .fn = s_tag_add, .flags = 0},
    {.method = "DELETE", .pattern = "/v2/images/*/tags/*", .fn = s_tag_remove, .flags = 0},
    {.method = NULL},
};
