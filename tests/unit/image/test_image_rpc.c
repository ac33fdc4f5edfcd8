/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for zinc-image's calls for compute agents (image_get, image_read) and its uploads,
 * against a real image agent in-process with a real conductor (the store) and a real identity
 * agent: the answer's fields and checksums, chunked reads that reassemble the image, the
 * token rules, bad requests, and a failed commit that leaves no active image and no file. */
#include <dirent.h>
#include <errno.h>
#include <openssl/evp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "cond_fixture.h"
#include "id_fixture.h"
#include "img_fixture.h"
#include "zn_client.h"
#include "zn_failpoint.h"
#include "zn_mem.h"
#include "zn_schema.h"

#define S_IMAGE_BYTES 300000

typedef struct {
    cond_fixture_t *cond;
    id_fixture_t *id;
    img_fixture_t *img;
    zn_client_t *client;
    char admin[2048];
    char dir[64];
    char *body;
    char *data; /* the image uploaded: printable, so that it travels as a C string */
} s_state_t;

typedef struct {
    char *id;
    char *status;
    int64_t size;
    char *checksum;
    char *os_hash_algo;
    char *os_hash_value;
    char *visibility;
    char *architecture;
} s_image_t;

#define S_IF(name, type, max)                                   \
    {                                                           \
#name, type, 0, offsetof(s_image_t, name), 0, max, NULL \
    }
static const zn_field_t s_image_fields[] = {
    S_IF(id, ZN_FT_STR, 64),           S_IF(status, ZN_FT_STR, 16),
    S_IF(size, ZN_FT_I64, 0),          S_IF(checksum, ZN_FT_STR, 64),
    S_IF(os_hash_algo, ZN_FT_STR, 16), S_IF(os_hash_value, ZN_FT_STR, 256),
    S_IF(visibility, ZN_FT_STR, 16),   S_IF(architecture, ZN_FT_STR, 64),
};
#undef S_IF
static const zn_schema_t s_image_schema = {"image", 1, s_image_fields,
                                           ZN_ARRAY_COUNT(s_image_fields), sizeof(s_image_t)};

typedef struct {
    zn_bytes_t data;
    bool eof;
} s_chunk_t;

static const zn_field_t s_chunk_fields[] = {
    {"data", ZN_FT_BIN, 0, offsetof(s_chunk_t, data), 0, 8u << 20, NULL},
    {"eof", ZN_FT_BOOL, 0, offsetof(s_chunk_t, eof), 0, 0, NULL},
};
static const zn_schema_t s_chunk_schema = {"chunk", 1, s_chunk_fields,
                                           ZN_ARRAY_COUNT(s_chunk_fields), sizeof(s_chunk_t)};

static int
s_setup(void **state)
{
    s_state_t *s = zn_calloc(1, sizeof(*s));
    (void)snprintf(s->dir, sizeof(s->dir), "/tmp/zn-image-XXXXXX");
    assert_non_null(mkdtemp(s->dir));
    s->cond = cond_fixture_start(NULL);
    s->id = id_fixture_start("test");
    char *store = zn_asprintf("image.store_dir=%s", s->dir);
    const char *settings[] = {store, NULL};
    s->img = img_fixture_start(cond_fixture_call(s->cond), cond_fixture_store_dir(s->cond),
                               id_fixture_call_endpoint(s->id), settings);
    zn_str_free(&store);
    const char *endpoint = img_fixture_call(s->img);
    zn_client_opts_t opts = {.name = "image", .endpoints = &endpoint, .endpoint_count = 1};
    assert_int_equal(zn_client_open(&s->client, &opts, NULL), 0);
    assert_int_equal(id_fixture_login(s->id, "admin", "secret", "admin", s->admin, 2048), 201);
    s->body = zn_malloc(262144);
    s->data = zn_malloc(S_IMAGE_BYTES + 1);
    for (size_t i = 0; i < S_IMAGE_BYTES; i++) {
        s->data[i] = (char)('a' + (i * 7 + i / 1000) % 26);
    }
    s->data[S_IMAGE_BYTES] = '\0';
    *state = s;
    return 0;
}

static int
s_teardown(void **state)
{
    s_state_t *s = *state;
    zn_client_destroy(&s->client);
    img_fixture_stop(&s->img);
    id_fixture_stop(&s->id);
    cond_fixture_stop(&s->cond);
    char *rm = zn_asprintf("rm -rf %s", s->dir);
    assert_int_equal(system(rm), 0);
    zn_str_free(&rm);
    zn_free(s->body);
    zn_free(s->data);
    zn_free(s);
    return 0;
}

/* Create an image (BODY) as admin; its id into ID (64 bytes). */
static void
s_create(s_state_t *s, const char *body, char *id)
{
    int status = img_fixture_http(s->img, "POST", "/v2/images", s->admin, body, s->body, 262144);
    assert_int_equal(status, 201);
    json_t *root = json_loads(s->body, 0, NULL);
    assert_non_null(root);
    (void)snprintf(id, 64, "%s", json_string_value(json_object_get(root, "id")));
    json_decref(root);
}

static int
s_upload(s_state_t *s, const char *id)
{
    char path[128];
    (void)snprintf(path, sizeof(path), "/v2/images/%s/file", id);
    return img_fixture_http(s->img, "PUT", path, s->admin, s->data, s->body, 262144);
}

/* Call METHOD with a body of image_id (and offset, length when LENGTH > 0). */
static int
s_call(s_state_t *s, const char *token, const char *method, const char *image_id, int64_t offset,
       int64_t length, const zn_schema_t *reply_schema, void *reply)
{
    zn_pack_t *pack = zn_pack_new();
    zn_pack_map(pack, length > 0 ? 3 : 1);
    zn_pack_str(pack, "image_id");
    zn_pack_str(pack, image_id);
    if (length > 0) {
        zn_pack_str(pack, "offset");
        zn_pack_i64(pack, offset);
        zn_pack_str(pack, "length");
        zn_pack_i64(pack, length);
    }
    zn_ctx_t ctx;
    memset(&ctx, 0, sizeof(ctx));
    (void)snprintf(ctx.req_id, sizeof(ctx.req_id), "req-test");
    if (token != NULL) {
        ctx.token = (zn_buf_t){(const uint8_t *)token, strlen(token)};
    }
    zn_reply_t *answer = NULL;
    zn_fault_t fault;
    int rc = zn_client_call_sync(s->client, method, &ctx, zn_pack_buf(pack), 5000, &answer, &fault);
    zn_pack_destroy(&pack);
    if (rc == 0 && reply_schema != NULL) {
        rc = zn_schema_decode(reply_schema, zn_reply_env(answer)->body, reply, NULL, &fault);
    }
    zn_reply_destroy(&answer);
    return rc;
}

static void
s_digest(const char *name, const char *data, size_t len, char *hex)
{
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned count = 0;
    assert_int_equal(EVP_Digest(data, len, digest, &count, EVP_get_digestbyname(name), NULL), 1);
    for (size_t i = 0; i < count; i++) {
        (void)snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    }
}

static void
test_image_rpc_example(void **state)
{
    s_state_t *s = *state;
    char id[64];
    s_create(s,
             "{\"name\": \"cirros\", \"disk_format\": \"raw\", \"container_format\": "
             "\"bare\", \"architecture\": \"x86_64\"}",
             id);
    assert_int_equal(s_upload(s, id), 204);
    s_image_t image;
    assert_int_equal(s_call(s, s->admin, "image_get", id, 0, 0, &s_image_schema, &image), 0);
    assert_string_equal(image.status, "active");
    assert_int_equal(image.size, S_IMAGE_BYTES);
    assert_string_equal(image.architecture, "x86_64");
    char md5[64] = "";
    char sha512[160] = "";
    s_digest("md5", s->data, S_IMAGE_BYTES, md5);
    s_digest("sha512", s->data, S_IMAGE_BYTES, sha512);
    assert_string_equal(image.checksum, md5);
    assert_string_equal(image.os_hash_algo, "sha512");
    assert_string_equal(image.os_hash_value, sha512);
    zn_schema_release(&s_image_schema, &image);

    /* Compute reads it in chunks and gets the same bytes back. */
    char *copy = zn_malloc(S_IMAGE_BYTES);
    int64_t offset = 0;
    bool eof = false;
    while (!eof) {
        s_chunk_t chunk;
        assert_int_equal(
            s_call(s, s->admin, "image_read", id, offset, 70000, &s_chunk_schema, &chunk), 0);
        assert_true(chunk.data.len <= 70000);
        memcpy(copy + offset, chunk.data.ptr, chunk.data.len);
        offset += (int64_t)chunk.data.len;
        eof = chunk.eof;
        zn_schema_release(&s_chunk_schema, &chunk);
    }
    assert_int_equal(offset, S_IMAGE_BYTES);
    assert_memory_equal(copy, s->data, S_IMAGE_BYTES);
    zn_free(copy);
}

static void
test_image_rpc_refuses(void **state)
{
    s_state_t *s = *state;
    char id[64];
    s_create(s, "{\"name\": \"r\"}", id);
    s_image_t image;
    /* No token in plaintext mode: trusted as a controller (zn_rpcauth, as the broker's
     * ZN_M_CONTROLLER rule), which sees every image; under CURVE a compute key is refused
     * (integration_image_curve). */
    assert_int_equal(s_call(s, NULL, "image_get", id, 0, 0, &s_image_schema, &image), 0);
    zn_schema_release(&s_image_schema, &image);
    assert_int_equal(s_call(s, "zt1bogus", "image_get", id, 0, 0, &s_image_schema, &image),
                     ZN_EAUTH);
    assert_int_equal(s_call(s, s->admin, "image_get", "00000000-0000-4000-8000-000000000000", 0, 0,
                            &s_image_schema, &image),
                     -ENOENT);
    s_chunk_t chunk;
    /* No data yet: a queued image cannot be read. */
    assert_int_equal(s_call(s, s->admin, "image_read", id, 0, 10, &s_chunk_schema, &chunk),
                     ZN_ECONFLICT);
    assert_int_equal(s_upload(s, id), 204);
    assert_int_equal(
        s_call(s, s->admin, "image_read", id, 0, (int64_t)5 * 1024 * 1024, &s_chunk_schema, &chunk),
        -EINVAL);
    assert_int_equal(s_call(s, s->admin, "image_read", id, -1, 10, &s_chunk_schema, &chunk),
                     -EINVAL);
    /* Past the end: nothing, and the end. */
    assert_int_equal(
        s_call(s, s->admin, "image_read", id, S_IMAGE_BYTES + 10, 10, &s_chunk_schema, &chunk), 0);
    assert_int_equal(chunk.data.len, 0);
    assert_true(chunk.eof);
    zn_schema_release(&s_chunk_schema, &chunk);
}

static size_t
s_files(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t count = 0;
    struct dirent *entry = NULL;
    while ((entry = readdir(d)) != NULL) {
        count += entry->d_name[0] != '.' && strcmp(entry->d_name, "tmp") != 0;
    }
    (void)closedir(d);
    return count;
}

static void
test_image_rpc_failed_commit_leaves_nothing(void **state)
{
    s_state_t *s = *state;
    char id[64];
    s_create(s, "{\"name\": \"f\"}", id);
    size_t before = s_files(s->dir);
    zn_failpoint_set("image.commit", -EIO, 1);
    assert_int_equal(s_upload(s, id), 500);
    assert_int_equal(zn_failpoint_fired("image.commit"), 1);
    zn_failpoint_clear_all();
    s_image_t image;
    assert_int_equal(s_call(s, s->admin, "image_get", id, 0, 0, &s_image_schema, &image), 0);
    assert_string_not_equal(image.status, "active");
    zn_schema_release(&s_image_schema, &image);
    assert_int_equal(s_files(s->dir), before);
    char *tmp = zn_asprintf("%s/tmp", s->dir);
    assert_int_equal(s_files(tmp), 0);
    zn_str_free(&tmp);
    /* A failed write is refused the same way, at any point of the stream. */
    s_create(s, "{\"name\": \"w\"}", id);
    zn_failpoint_set("image.write", -ENOSPC, 1);
    assert_int_equal(s_upload(s, id), 500);
    zn_failpoint_clear_all();
    assert_int_equal(s_files(s->dir), before);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_image_rpc_example),
        cmocka_unit_test(test_image_rpc_refuses),
        cmocka_unit_test(test_image_rpc_failed_commit_leaves_nothing),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
