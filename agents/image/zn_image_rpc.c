/* SPDX-License-Identifier: Apache-2.0 */
/* zn_image_rpc.c - image_get and image_read for compute agents (docs/flow.md, steps 19-21).
 * The user's token travels in the call's context and is validated through zn_idclient (cache
 * first); the image must be visible to the token's project. image_read reads at most 4 MiB
 * per call with pread on the loop: a bounded chunk from the page cache, never a whole image. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "zn_image_int.h"
#include "zn_log.h"
#include "zn_mem.h"
#include "zn_rpcauth.h"

#define S_VALIDATE_TIMEOUT_MS 2000

typedef struct {
    char *image_id;
    int64_t offset;
    int64_t length;
} s_req_t;

static const zn_field_t s_req_fields[] = {
    {"image_id", ZN_FT_STR, ZN_F_REQUIRED, offsetof(s_req_t, image_id), 0, 64, NULL},
    {"offset", ZN_FT_I64, 0, offsetof(s_req_t, offset), 0, 0, NULL},
    {"length", ZN_FT_I64, 0, offsetof(s_req_t, length), 0, 0, NULL},
};
static const zn_schema_t s_req_schema = {"image_req", 1, s_req_fields, ZN_ARRAY_COUNT(s_req_fields),
                                         sizeof(s_req_t)};

/* One call from decoding to its answer. */
typedef struct {
    zn_image_t *self;
    zn_call_t *call; /* deferred */
    bool read;       /* image_read, else image_get */
    s_req_t body;
    zn_ctx_t ctx; /* without the token */
    zn_rpcauth_t who;
} s_job_t;

static void
s_job_free(s_job_t **job_p)
{
    s_job_t *job = *job_p;
    zn_call_destroy(&job->call);
    zn_schema_release(&s_req_schema, &job->body);
    zn_free(job);
    *job_p = NULL;
}

static void
s_send(s_job_t *job, int code, zn_buf_t body, const char *message)
{
    if (zn_call_answer(&job->call, code, body, message) < 0) {
        zn_log_info(job->ctx.req_id, "image caller gone before the answer");
    }
    s_job_free(&job);
}

static void
s_kv(zn_pack_t *pack, const char *key, const char *value)
{
    zn_pack_str(pack, key);
    if (value != NULL) {
        zn_pack_str(pack, value);
    } else {
        zn_pack_nil(pack);
    }
}

static void
s_kint(zn_pack_t *pack, const char *key, int64_t value)
{
    zn_pack_str(pack, key);
    zn_pack_i64(pack, value);
}

static const char *
s_prop(const zn_imgrec_t *image, const char *name)
{
    for (size_t i = 0; i < image->prop_count; i++) {
        if (strcmp(image->props[i].name, name) == 0) {
            return image->props[i].value;
        }
    }
    return NULL;
}

static void
s_pack_image(const zn_imgrec_t *image, zn_pack_t *pack)
{
    zn_pack_map(pack, 16);
    s_kv(pack, "id", image->id);
    s_kv(pack, "name", image->name);
    s_kv(pack, "status", image->status);
    s_kint(pack, "size", image->size);
    s_kv(pack, "checksum", image->checksum);
    s_kv(pack, "os_hash_algo", image->os_hash_algo);
    s_kv(pack, "os_hash_value", image->os_hash_value);
    s_kv(pack, "disk_format", image->disk_format);
    s_kv(pack, "container_format", image->container_format);
    s_kint(pack, "min_disk", image->min_disk);
    s_kint(pack, "min_ram", image->min_ram);
    s_kv(pack, "owner", image->owner);
    s_kv(pack, "visibility", image->visibility);
    s_kv(pack, "architecture", s_prop(image, "architecture"));
    s_kv(pack, "hypervisor_type", s_prop(image, "hypervisor_type"));
    s_kv(pack, "hw_machine_type", s_prop(image, "hw_machine_type"));
}

static int
s_read_chunk(s_job_t *job, const zn_imgrec_t *image, zn_pack_t *pack, zn_fault_t *fault)
{
    const s_req_t *req = &job->body;
    if (strcmp(image->status, "active") != 0 || image->location == NULL) {
        return zn_fault_set(fault, ZN_ECONFLICT, "image %s is %s: no data to read", image->id,
                            image->status);
    }
    if (req->offset < 0 || req->length <= 0 || req->length > ZN_IMAGE_READ_MAX_BYTES) {
        return zn_fault_set(fault, -EINVAL, "image_read: offset >= 0 and 0 < length <= %d",
                            ZN_IMAGE_READ_MAX_BYTES);
    }
    int64_t left = image->size > req->offset ? image->size - req->offset : 0;
    size_t len = (size_t)(left < req->length ? left : req->length);
    uint8_t *data = zn_malloc(len > 0 ? len : 1);
    int64_t got = len > 0 ? zn_imgfile_read(job->self->files, image->location,
                                            (uint64_t)req->offset, data, len)
                          : 0;
    if (got < 0) {
        zn_free(data);
        return zn_fault_set(fault, ZN_EINTERNAL, "image %s: cannot read its file: %s", image->id,
                            zn_strerror((int)got));
    }
    zn_pack_map(pack, 2);
    zn_pack_str(pack, "data");
    zn_pack_bin(pack, data, (size_t)got);
    zn_pack_str(pack, "eof");
    zn_pack_bool(pack, req->offset + got >= image->size);
    zn_free(data);
    return 0;
}

static void
s_run(s_job_t *job)
{
    zn_fault_t fault;
    zn_fault_clear(&fault);
    zn_imgrec_t image;
    int rc = zn_imgdb_get(job->self->db, job->body.image_id, &image, NULL, &fault);
    const char *project = job->who.project_id[0] != '\0' ? job->who.project_id : NULL;
    if (rc == 0 && !zn_imgrec_visible(&image, project, job->who.admin)) {
        zn_schema_release(&zn_imgrec_schema, &image);
        rc = zn_fault_set(&fault, -ENOENT, "No image found with ID %s", job->body.image_id);
    }
    if (rc < 0) {
        s_send(job, rc, (zn_buf_t){NULL, 0}, zn_fault_message(&fault));
        return;
    }
    zn_pack_t *pack = zn_pack_new();
    if (job->read) {
        rc = s_read_chunk(job, &image, pack, &fault);
    } else {
        s_pack_image(&image, pack);
    }
    zn_schema_release(&zn_imgrec_schema, &image);
    if (rc < 0) {
        s_send(job, rc, (zn_buf_t){NULL, 0}, zn_fault_message(&fault));
    } else {
        s_send(job, 0, zn_pack_buf(pack), NULL);
    }
    zn_pack_destroy(&pack);
}

static void
s_on_auth(void *arg, const zn_rpcauth_t *who, const zn_fault_t *fault)
{
    s_job_t *job = arg;
    if (who == NULL) {
        s_send(job, fault->code, (zn_buf_t){NULL, 0}, zn_fault_message(fault));
        return;
    }
    job->who = *who;
    s_run(job);
}

/* Decode, then find out who calls (zn_rpcauth: a token, or a controller's key without one). */
static int
s_entry(zn_image_t *self, zn_call_t *call, bool read, zn_fault_t *fault)
{
    if (zn_agent_is_stopping(self->agent)) {
        return zn_fault_set(fault, ZN_EUNAVAIL, "zinc-image is stopping");
    }
    const zn_env_t *env = zn_call_env(call);
    s_job_t *job = zn_calloc(1, sizeof(*job));
    job->self = self;
    job->read = read;
    int rc = zn_schema_decode(&s_req_schema, env->body, &job->body, NULL, fault);
    zn_ctx_copy(&job->ctx, &env->ctx);
    job->ctx.token = (zn_buf_t){NULL, 0};
    if (rc == 0) {
        rc = zn_rpcauth_check(self->idclient, call, S_VALIDATE_TIMEOUT_MS, &job->who, s_on_auth,
                              job, fault);
    }
    if (rc < 0) {
        s_job_free(&job);
        return rc;
    }
    job->call = zn_call_defer(call);
    if (rc == 0) {
        s_run(job);
    }
    return ZN_DEFERRED;
}

static int
s_image_get(void *arg, zn_call_t *call, zn_pack_t *reply, zn_fault_t *fault)
{
    (void)reply;
    return s_entry(arg, call, false, fault);
}

static int
s_image_read(void *arg, zn_call_t *call, zn_pack_t *reply, zn_fault_t *fault)
{
    (void)reply;
    return s_entry(arg, call, true, fault);
}

const zn_method_t zn__image_methods[] = {
    {"image_get", s_image_get, ZN_M_CALL},
    {"image_read", s_image_read, ZN_M_CALL},
    {NULL, NULL, 0},
};
