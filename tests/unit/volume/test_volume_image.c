/* SPDX-License-Identifier: Apache-2.0 */
/* test_volume_image.c - volumes made from images with a real zinc-image beside zinc-volume:
 * the image's bytes end up at the front of the volume's file, the volume is bootable and names
 * its image; unknown, invisible, not-yet-uploaded and too-large images are refused with 400
 * before any quota is taken. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <czmq.h>

#include "vol_fixture.h"
#include "zn_clock.h"
#include "zn_failpoint.h"
#include "zn_mem.h"

typedef struct {
    vol_fixture_t *fix;
    uint16_t port;
    uint16_t image_port;
    const char *admin;
    const char *project;
    char user_token[2048];
    char user_project[64];
} s_env_t;

static int
s_setup(void **state)
{
    s_env_t *env = zn_calloc(1, sizeof(*env));
    env->fix = vol_fixture_start_image(NULL);
    env->port = vol_fixture_port(env->fix);
    env->image_port = vol_fixture_image_port(env->fix);
    env->admin = vol_fixture_admin_token(env->fix);
    env->project = vol_fixture_admin_project(env->fix);
    vol_fixture_user(env->fix, "demo", "alice", env->user_token, sizeof(env->user_token),
                     env->user_project);
    *state = env;
    return 0;
}

static int
s_teardown(void **state)
{
    s_env_t *env = *state;
    vol_fixture_stop(&env->fix);
    zn_free(env);
    return 0;
}

/* Register an image (BODY) as the admin; upload DATA unless NULL; its id into ID. */
static void
s_image(s_env_t *env, const char *body, const char *data, char *id)
{
    json_t *json = NULL;
    assert_int_equal(
        vol_fixture_http(env->image_port, "POST", "/v2/images", env->admin, body, &json, NULL, 0),
        201);
    (void)snprintf(id, 64, "%s", json_string_value(json_object_get(json, "id")));
    json_decref(json);
    if (data != NULL) {
        char *path = zn_asprintf("/v2/images/%s/file", id);
        assert_int_equal(vol_fixture_upload(env->image_port, path, env->admin, data, strlen(data)),
                         204);
        zn_free(path);
    }
}

/* Create a volume of SIZE from IMAGE_ID as TOKEN in PROJECT; returns the status, the volume
 * into *json (may be NULL). */
static int
s_create(s_env_t *env, const char *token, const char *project, int size, const char *image_id,
         json_t **json)
{
    char *body = zn_asprintf("{\"volume\": {\"size\": %d, \"imageRef\": \"%s\"}}", size, image_id);
    char *path = zn_asprintf("/volume/v3/%s/volumes", project);
    int status = vol_fixture_http(env->port, "POST", path, token, body, json, NULL, 0);
    zn_free(body);
    zn_free(path);
    return status;
}

static json_t *
s_await(s_env_t *env, const char *id, const char *status)
{
    int64_t deadline = zn_clock_mono_ms() + 10000;
    char *path = zn_asprintf("/volume/v3/%s/volumes/%s", env->project, id);
    for (;;) {
        json_t *json = NULL;
        int code = vol_fixture_http(env->port, "GET", path, env->admin, NULL, &json, NULL, 0);
        json_t *vol = json_object_get(json, "volume");
        const char *now = json_string_value(json_object_get(vol, "status"));
        if (code == 200 && now != NULL && strcmp(now, status) == 0) {
            zn_free(path);
            return json;
        }
        json_decref(json);
        assert_true(zn_clock_mono_ms() < deadline);
        zclock_sleep(5); /* polling the REST API, as the CLI's --wait does */
    }
}

static void
test_volume_image_example(void **state)
{
    s_env_t *env = *state;
    const char data[] = "a tiny raw disk image: its bytes open the volume";
    char image_id[64];
    s_image(env,
            "{\"name\": \"tiny\", \"disk_format\": \"raw\", \"container_format\": \"bare\", "
            "\"visibility\": \"public\"}",
            data, image_id);
    json_t *json = NULL;
    assert_int_equal(s_create(env, env->admin, env->project, 1, image_id, &json), 202);
    char id[64];
    (void)snprintf(id, sizeof(id), "%s",
                   json_string_value(json_object_get(json_object_get(json, "volume"), "id")));
    json_decref(json);
    json = s_await(env, id, "available");
    json_t *vol = json_object_get(json, "volume");
    assert_string_equal(json_string_value(json_object_get(vol, "bootable")), "true");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(vol, "volume_image_metadata"), "image_id")),
                        image_id);
    json_decref(json);
    char path[1024];
    vol_fixture_volume_path(env->fix, id, path, sizeof(path));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 1 << 30);
    FILE *file = fopen(path, "rb");
    assert_non_null(file);
    char head[sizeof(data)];
    assert_int_equal(fread(head, 1, strlen(data), file), strlen(data));
    (void)fclose(file);
    assert_memory_equal(head, data, strlen(data));
    /* A member of another project may use a public image. */
    assert_int_equal(s_create(env, env->user_token, env->user_project, 1, image_id, NULL), 202);
}

static void
test_volume_image_refused(void **state)
{
    s_env_t *env = *state;
    json_t *json = NULL;
    assert_int_equal(
        s_create(env, env->admin, env->project, 1, "00000000-0000-4000-8000-000000000000", &json),
        400);
    const char *message =
        json_string_value(json_object_get(json_object_get(json, "badRequest"), "message"));
    assert_non_null(strstr(message, "Invalid image identifier"));
    json_decref(json);
    char queued[64];
    s_image(env, "{\"name\": \"empty\", \"disk_format\": \"raw\", \"container_format\": \"bare\"}",
            NULL, queued);
    assert_int_equal(s_create(env, env->admin, env->project, 1, queued, &json), 400);
    message = json_string_value(json_object_get(json_object_get(json, "badRequest"), "message"));
    assert_non_null(strstr(message, "not active"));
    json_decref(json);
    char big[64];
    s_image(env,
            "{\"name\": \"big\", \"disk_format\": \"raw\", \"container_format\": \"bare\", "
            "\"min_disk\": 3, \"visibility\": \"public\"}",
            "x", big);
    assert_int_equal(s_create(env, env->admin, env->project, 2, big, &json), 400);
    message = json_string_value(json_object_get(json_object_get(json, "badRequest"), "message"));
    assert_non_null(strstr(message, "minDisk"));
    json_decref(json);
    char private_id[64];
    s_image(env,
            "{\"name\": \"mine\", \"disk_format\": \"raw\", \"container_format\": \"bare\", "
            "\"visibility\": \"private\"}",
            "y", private_id);
    assert_int_equal(s_create(env, env->user_token, env->user_project, 1, private_id, NULL), 400);
    /* None of these took quota: the demo project holds only what test 1 made. */
    char *list = zn_asprintf("/volume/v3/%s/volumes", env->user_project);
    assert_int_equal(
        vol_fixture_http(env->port, "GET", list, env->user_token, NULL, &json, NULL, 0), 200);
    assert_int_equal(json_array_size(json_object_get(json, "volumes")), 1);
    json_decref(json);
    zn_free(list);
}

/* A copy that fails half way ends in "error" with nothing left on disk, and the volume can
 * be deleted (its quota given back). */
static void
test_volume_image_copy_fails(void **state)
{
    s_env_t *env = *state;
#ifndef ZN_ENABLE_FAILPOINTS
    (void)env;
    skip(); /* failpoints are compiled out of release builds */
#endif
    char image_id[64];
    s_image(env, "{\"name\": \"flaky\", \"disk_format\": \"raw\", \"container_format\": \"bare\"}",
            "some bytes", image_id);
    zn_failpoint_set("volume.backend_import", -EIO, 1);
    json_t *json = NULL;
    assert_int_equal(s_create(env, env->admin, env->project, 1, image_id, &json), 202);
    char id[64];
    (void)snprintf(id, sizeof(id), "%s",
                   json_string_value(json_object_get(json_object_get(json, "volume"), "id")));
    json_decref(json);
    json = s_await(env, id, "error");
    json_decref(json);
    char path[1024];
    vol_fixture_volume_path(env->fix, id, path, sizeof(path));
    struct stat st;
    assert_int_not_equal(stat(path, &st), 0);
    char *part = zn_asprintf("%s.part", path);
    assert_int_not_equal(stat(part, &st), 0);
    zn_free(part);
    char *suffix = zn_asprintf("/volume/v3/%s/volumes/%s", env->project, id);
    assert_int_equal(vol_fixture_http(env->port, "DELETE", suffix, env->admin, NULL, NULL, NULL, 0),
                     202);
    zn_free(suffix);
    zn_failpoint_clear_all();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_volume_image_example),
        cmocka_unit_test(test_volume_image_refused),
        cmocka_unit_test(test_volume_image_copy_fails),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
