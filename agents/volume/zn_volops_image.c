/* SPDX-License-Identifier: Apache-2.0 */
/* zn_volops_image.c - volumes made from an image: image_get checks the image before any quota
 * is taken (visible to the user's token, active, fits the volume), and after the create is
 * answered the bytes come over image_read in chunks into the backend's staging area. */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <string.h>

#include "zn_log.h"
#include "zn_mem.h"
#include "zn_volops_int.h"

/* What the volume agent reads of image_get's answer (docs/flow.md, steps 19-21). */
typedef struct {
    char *id;
    char *status;
    int64_t size;
    char *disk_format;
    int64_t min_disk;
} s_image_t;

#define S_F(name, ftype, max)                                    \
    {                                                            \
#name, ftype, 0, offsetof(s_image_t, name), 0, max, NULL \
    }
static const zn_field_t s_image_fields[] = {
    S_F(id, ZN_FT_STR, 64),          S_F(status, ZN_FT_STR, 32),  S_F(size, ZN_FT_I64, 0),
    S_F(disk_format, ZN_FT_STR, 32), S_F(min_disk, ZN_FT_I64, 0),
};
static const zn_schema_t s_image_schema = {"image", 1, s_image_fields,
                                           sizeof(s_image_fields) / sizeof(s_image_fields[0]),
                                           sizeof(s_image_t)};

typedef struct {
    zn_bytes_t data;
    bool eof;
} s_chunk_t;

static const zn_field_t s_chunk_fields[] = {
    {"data", ZN_FT_BIN, 0, offsetof(s_chunk_t, data), 0, (uint32_t)ZN_VOLOPS_IMAGE_CHUNK_BYTES,
     NULL},
    {"eof", ZN_FT_BOOL, 0, offsetof(s_chunk_t, eof), 0, 0, NULL},
};
static const zn_schema_t s_chunk_schema = {"image_chunk", 1, s_chunk_fields, 2, sizeof(s_chunk_t)};

/* Why the image cannot become this volume, or 0. */
static int
s_image_fits(const zn_volop_t *op, const s_image_t *image, zn_fault_t *fault)
{
    if (image->status == NULL || strcmp(image->status, "active") != 0) {
        return zn_fault_set(fault, -EINVAL, "Invalid input received: Image %s is not active.",
                            op->image_id);
    }
    int64_t size_bytes = op->vol.size_gb * ZN_VBACKEND_GB;
    if (image->size > size_bytes) {
        return zn_fault_set(fault, -EINVAL,
                            "Invalid input received: Size of specified image %" PRId64
                            " bytes is larger than volume size %" PRId64 " GB.",
                            image->size, op->vol.size_gb);
    }
    if (image->min_disk > op->vol.size_gb) {
        return zn_fault_set(fault, -EINVAL,
                            "Invalid input received: Volume size %" PRId64
                            "GB cannot be smaller than the image minDisk size %" PRId64 "GB.",
                            op->vol.size_gb, image->min_disk);
    }
    return 0;
}

static void
s_on_image(void *arg, const zn_env_t *reply, const zn_fault_t *fault)
{
    zn_volop_t *op = arg;
    if (op->self->closing) {
        zn__volop_free(op);
        return;
    }
    zn_fault_t why = *fault;
    s_image_t image;
    memset(&image, 0, sizeof(image));
    int rc = fault->code;
    if (rc == -ENOENT || rc == ZN_EAUTH || rc == ZN_EFORBIDDEN) {
        rc = zn_fault_set(&why, -EINVAL,
                          "Invalid input received: Invalid image identifier or unable to access "
                          "requested image (%s).",
                          op->image_id);
    }
    if (rc == 0) {
        rc = zn_schema_decode(&s_image_schema, reply->body, &image, NULL, &why);
    }
    if (rc == 0) {
        rc = s_image_fits(op, &image, &why);
    }
    if (rc == 0) {
        op->image_format = zn_strdup(image.disk_format != NULL ? image.disk_format : "raw");
    }
    zn_schema_release(&s_image_schema, &image);
    if (rc < 0) {
        zn__volop_then_answer(op, &why);
        return;
    }
    zn__volop_run_usage(op, op->build, op->then); /* the create itself */
}

void
zn__volop_image_check(zn_volop_t *op)
{
    zn_pack_t *body = zn_pack_new();
    zn_pack_map(body, 1);
    zn_pack_str(body, "image_id");
    zn_pack_str(body, op->image_id);
    zn_ctx_t ctx;
    zn__volop_ctx(op, &ctx);
    int rc = zn_client_call(op->self->image, "image_get", &ctx, zn_pack_buf(body),
                            op->self->call_timeout_ms, s_on_image, op);
    zn_pack_destroy(&body);
    if (rc < 0) {
        zn_fault_t fault;
        (void)zn_fault_set(&fault, ZN_EUNAVAIL, "the image service cannot be called: %s",
                           zn_strerror(rc));
        zn__volop_fail_later(op, &fault);
    }
}

static void s_read_next(zn_volop_t *op);

/* A failed copy leaves no partial file behind; the error status (op->failure) tells the
 * owner what happened. */
static void
s_on_cleaned(zn_volop_t *op, const zn_fault_t *fault)
{
    if (fault->code < 0) {
        zn_log_warn(op->req_id, "volume %s: %s", op->volume_id, zn_fault_message(fault));
    }
    zn__volop_create_done(op, &op->failure);
}

static void
s_fail_copy(zn_volop_t *op, const zn_fault_t *fault)
{
    op->failure = *fault;
    zn_vbackend_job_args_t args = {.op = ZN_VBACKEND_REMOVE};
    zn__volop_backend(op, &args, s_on_cleaned);
}

static void
s_on_imported(zn_volop_t *op, const zn_fault_t *fault)
{
    if (fault->code < 0) {
        s_fail_copy(op, fault);
        return;
    }
    zn__volop_create_done(op, fault);
}

/* A chunk is on disk: read the next, or turn the staged image into the volume. */
static void
s_on_stored(zn_volop_t *op, const zn_fault_t *fault)
{
    if (fault->code < 0) {
        s_fail_copy(op, fault);
        return;
    }
    if (!op->image_eof) {
        s_read_next(op);
        return;
    }
    zn_vbackend_job_args_t args = {.op = ZN_VBACKEND_IMPORT_FINISH,
                                   .size_gb = op->vol.size_gb,
                                   .src_format = op->image_format};
    zn__volop_backend(op, &args, s_on_imported);
}

/* Hand one chunk to the backend's worker (it copies the bytes). */
static int
s_take_chunk(zn_volop_t *op, const zn_env_t *reply, zn_fault_t *fault)
{
    s_chunk_t chunk;
    int rc = zn_schema_decode(&s_chunk_schema, reply->body, &chunk, NULL, fault);
    if (rc < 0) {
        return rc;
    }
    uint64_t limit = (uint64_t)op->vol.size_gb * (uint64_t)ZN_VBACKEND_GB;
    if (op->offset + chunk.data.len > limit) {
        rc = zn_fault_set(fault, -EFBIG, "image %s is larger than the volume", op->image_id);
    } else {
        op->image_eof = chunk.eof || chunk.data.len == 0;
        zn_vbackend_job_args_t args = {.op = ZN_VBACKEND_IMPORT_WRITE,
                                       .offset = op->offset,
                                       .data = chunk.data.ptr,
                                       .len = chunk.data.len};
        op->offset += chunk.data.len;
        zn__volop_backend(op, &args, s_on_stored);
    }
    zn_schema_release(&s_chunk_schema, &chunk);
    return rc;
}

static void
s_on_chunk(void *arg, const zn_env_t *reply, const zn_fault_t *fault)
{
    zn_volop_t *op = arg;
    if (op->self->closing) {
        zn__volop_free(op);
        return;
    }
    zn_fault_t why = *fault;
    int rc = fault->code < 0 ? fault->code : s_take_chunk(op, reply, &why);
    if (rc < 0) {
        s_fail_copy(op, &why);
    }
}

static void
s_read_next(zn_volop_t *op)
{
    zn_pack_t *body = zn_pack_new();
    zn_pack_map(body, 3);
    zn_pack_str(body, "image_id");
    zn_pack_str(body, op->image_id);
    zn_pack_str(body, "offset");
    zn_pack_u64(body, op->offset);
    zn_pack_str(body, "length");
    zn_pack_u64(body, ZN_VOLOPS_IMAGE_CHUNK_BYTES);
    zn_ctx_t ctx;
    zn__volop_ctx(op, &ctx);
    int rc = zn_client_call(op->self->image, "image_read", &ctx, zn_pack_buf(body),
                            op->self->call_timeout_ms, s_on_chunk, op);
    zn_pack_destroy(&body);
    if (rc < 0) {
        zn_fault_t fault;
        (void)zn_fault_set(&fault, ZN_EUNAVAIL, "the image service cannot be called: %s",
                           zn_strerror(rc));
        zn__volop_create_done(op, &fault);
    }
}

void
zn__volop_image_copy(zn_volop_t *op)
{
    zn_log_info(op->req_id, "volume %s: copying image %s", op->volume_id, op->image_id);
    op->offset = 0;
    s_read_next(op);
}
