/* SPDX-License-Identifier: Apache-2.0 */
/* test_volume_agent.c - zinc-volume in-process with a real conductor and identity: every REST
 * endpoint and its errors (malformed JSON, unknown ids, wrong project, over quota, in-use
 * delete, bad sizes) with Cinder-style bodies, and the ZeroMQ methods compute agents use
 * (tokens checked, attach/detach state machine, two instances racing for one volume). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "vol_fixture.h"
#include "zn_client.h"
#include "zn_clock.h"
#include "zn_mem.h"
#include "zn_mp.h"

typedef struct {
    vol_fixture_t *fix;
    uint16_t port;
    const char *admin;
    const char *admin_project;
    char user_token[2048];
    char user_project[64];
    char other_token[2048];
    char other_project[64];
    zn_client_t *client;
} s_env_t;

static const char *const s_settings[] = {"quota.volumes=4", "quota.gigabytes=10",
                                         "volume.max_size_gb=5", NULL};

static int
s_setup(void **state)
{
    s_env_t *env = zn_calloc(1, sizeof(*env));
    env->fix = vol_fixture_start(s_settings);
    env->port = vol_fixture_port(env->fix);
    env->admin = vol_fixture_admin_token(env->fix);
    env->admin_project = vol_fixture_admin_project(env->fix);
    vol_fixture_user(env->fix, "demo", "alice", env->user_token, sizeof(env->user_token),
                     env->user_project);
    vol_fixture_user(env->fix, "other", "bob", env->other_token, sizeof(env->other_token),
                     env->other_project);
    const char *endpoint = vol_fixture_call(env->fix);
    zn_client_opts_t copts = {.name = "volume", .endpoints = &endpoint, .endpoint_count = 1};
    zn_fault_t fault;
    assert_int_equal(zn_client_open(&env->client, &copts, &fault), 0);
    *state = env;
    return 0;
}

static int
s_teardown(void **state)
{
    s_env_t *env = *state;
    zn_client_destroy(&env->client);
    vol_fixture_stop(&env->fix);
    zn_free(env);
    return 0;
}

/* METHOD /volume/v3/PROJECT/SUFFIX as TOKEN. */
static int
s_http(s_env_t *env, const char *method, const char *project, const char *suffix, const char *token,
       const char *body, json_t **json)
{
    char *path = zn_asprintf("/volume/v3/%s/%s", project, suffix);
    int status = vol_fixture_http(env->port, method, path, token, body, json, NULL, 0);
    zn_free(path);
    return status;
}

static const char *
s_str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

/* Create SIZE GiB as the demo user; the new id into OUT (cap 64). Returns the status. */
static int
s_create(s_env_t *env, int size, const char *name, char *out)
{
    char *body = zn_asprintf("{\"volume\": {\"size\": %d, \"name\": \"%s\", \"description\": "
                             "null, \"volume_type\": null, \"imageRef\": null, \"metadata\": {}}}",
                             size, name);
    json_t *json = NULL;
    int status = s_http(env, "POST", env->user_project, "volumes", env->user_token, body, &json);
    zn_free(body);
    if (out != NULL) {
        const char *id = s_str(json_object_get(json, "volume"), "id");
        (void)snprintf(out, 64, "%s", id != NULL ? id : "");
    }
    json_decref(json);
    return status;
}

/* Wait until the volume shows STATUS (creates finish in the background). */
static void
s_await(s_env_t *env, const char *id, const char *status)
{
    int64_t deadline = zn_clock_mono_ms() + 10000;
    for (;;) {
        json_t *json = NULL;
        char *suffix = zn_asprintf("volumes/%s", id);
        int code = s_http(env, "GET", env->user_project, suffix, env->user_token, NULL, &json);
        zn_free(suffix);
        const char *now = s_str(json_object_get(json, "volume"), "status");
        bool there = code == 200 && now != NULL && strcmp(now, status) == 0;
        json_decref(json);
        if (there) {
            return;
        }
        assert_true(zn_clock_mono_ms() < deadline);
        zclock_sleep(5); /* polling the REST API, as the CLI's --wait does */
    }
}

static int
s_delete(s_env_t *env, const char *id)
{
    char *suffix = zn_asprintf("volumes/%s", id);
    int status = s_http(env, "DELETE", env->user_project, suffix, env->user_token, NULL, NULL);
    zn_free(suffix);
    return status;
}

/* The error body's fault name and message: {"NAME": {"code": N, "message": "..."}}. */
static void
s_assert_fault(json_t *json, const char *name, int code, const char *words)
{
    json_t *fault = json_object_get(json, name);
    assert_non_null(fault);
    assert_int_equal(json_integer_value(json_object_get(fault, "code")), code);
    const char *message = s_str(fault, "message");
    assert_non_null(message);
    if (words != NULL) {
        assert_non_null(strstr(message, words));
    }
}

static void
test_volume_agent_example(void **state)
{
    s_env_t *env = *state;
    char id[64];
    assert_int_equal(s_create(env, 1, "vol1", id), 202);
    s_await(env, id, "available");
    json_t *json = NULL;
    char *suffix = zn_asprintf("volumes/%s", id);
    assert_int_equal(s_http(env, "GET", env->user_project, suffix, env->user_token, NULL, &json),
                     200);
    json_t *vol = json_object_get(json, "volume");
    assert_string_equal(s_str(vol, "name"), "vol1");
    assert_int_equal(json_integer_value(json_object_get(vol, "size")), 1);
    assert_string_equal(s_str(vol, "bootable"), "false");
    assert_string_equal(s_str(vol, "os-vol-tenant-attr:tenant_id"), env->user_project);
    assert_int_equal(json_array_size(json_object_get(vol, "attachments")), 0);
    json_decref(json);
    assert_int_equal(s_http(env, "PUT", env->user_project, suffix, env->user_token,
                            "{\"volume\": {\"name\": \"renamed\"}}", &json),
                     200);
    assert_string_equal(s_str(json_object_get(json, "volume"), "name"), "renamed");
    /* As Cinder: the attributes added to what GET shows are not in an update's answer. */
    assert_null(json_object_get(json_object_get(json, "volume"), "os-vol-tenant-attr:tenant_id"));
    json_decref(json);
    assert_int_equal(s_http(env, "GET", env->user_project, "volumes/detail?name=renamed",
                            env->user_token, NULL, &json),
                     200);
    assert_int_equal(json_array_size(json_object_get(json, "volumes")), 1);
    json_decref(json);
    assert_int_equal(s_http(env, "GET", env->user_project, "volumes", env->user_token, NULL, &json),
                     200);
    json_t *first = json_array_get(json_object_get(json, "volumes"), 0);
    assert_string_equal(s_str(first, "id"), id);
    assert_null(json_object_get(first, "status")); /* the summary view */
    json_decref(json);
    assert_int_equal(s_http(env, "POST", env->user_project, "volumes/X/action", env->user_token,
                            "{\"os-extend\": {\"new_size\": 2}}", NULL),
                     404);
    char *action = zn_asprintf("volumes/%s/action", id);
    assert_int_equal(s_http(env, "POST", env->user_project, action, env->user_token,
                            "{\"os-extend\": {\"new_size\": 2}}", NULL),
                     202);
    assert_int_equal(s_http(env, "GET", env->user_project, suffix, env->user_token, NULL, &json),
                     200);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(json, "volume"), "size")),
                     2);
    json_decref(json);
    assert_int_equal(s_delete(env, id), 202);
    assert_int_equal(s_http(env, "GET", env->user_project, suffix, env->user_token, NULL, &json),
                     404);
    s_assert_fault(json, "itemNotFound", 404, "could not be found");
    json_decref(json);
    zn_free(suffix);
    zn_free(action);
}

static void
test_volume_agent_versions(void **state)
{
    s_env_t *env = *state;
    json_t *json = NULL;
    assert_int_equal(vol_fixture_http(env->port, "GET", "/volume/v3/", NULL, NULL, &json, NULL, 0),
                     200);
    json_t *v = json_array_get(json_object_get(json, "versions"), 0);
    assert_string_equal(s_str(v, "id"), "v3.0");
    assert_string_equal(s_str(v, "min_version"), "3.0");
    const char *href = s_str(json_array_get(json_object_get(v, "links"), 0), "href");
    assert_non_null(strstr(href, "/volume/v3/"));
    json_decref(json);
    assert_int_equal(vol_fixture_http(env->port, "GET", "/volume", NULL, NULL, &json, NULL, 0),
                     300);
    json_decref(json);
    assert_int_equal(vol_fixture_http(env->port, "GET", "/", NULL, NULL, NULL, NULL, 0), 300);
}

static void
test_volume_agent_bad_input(void **state)
{
    s_env_t *env = *state;
    const char *p = env->user_project;
    const char *t = env->user_token;
    json_t *json = NULL;
    assert_int_equal(s_http(env, "POST", p, "volumes", t, "{\"volume\": {\"size\": ", &json), 400);
    s_assert_fault(json, "badRequest", 400, NULL);
    json_decref(json);
    assert_int_equal(s_http(env, "POST", p, "volumes", t, "{\"size\": 1}", &json), 400);
    s_assert_fault(json, "badRequest", 400, "'volume'");
    json_decref(json);
    const char *bad[] = {"\"abc\"", "0", "-1", "6", "1.5", "true", "null", "\"99999999999\""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *body = zn_asprintf("{\"volume\": {\"size\": %s}}", bad[i]);
        assert_int_equal(s_http(env, "POST", p, "volumes", t, body, &json), 400);
        s_assert_fault(json, "badRequest", 400, "size");
        json_decref(json);
        zn_free(body);
    }
    assert_int_equal(s_http(env, "POST", p, "volumes", t,
                            "{\"volume\": {\"size\": 1, \"snapshot_id\": \"x\"}}", NULL),
                     400);
    assert_int_equal(
        s_http(env, "POST", p, "volumes", t, "{\"volume\": {\"size\": 1, \"name\": 7}}", NULL),
        400);
    assert_int_equal(s_http(env, "GET", p, "volumes/no-such-volume", t, NULL, &json), 404);
    s_assert_fault(json, "itemNotFound", 404, "no-such-volume");
    json_decref(json);
    assert_int_equal(s_http(env, "DELETE", p, "volumes/no-such-volume", t, NULL, NULL), 404);
    assert_int_equal(
        s_http(env, "PUT", p, "volumes/no-such-volume", t, "{\"volume\": {\"name\": \"x\"}}", NULL),
        404);
    assert_int_equal(s_http(env, "GET", p, "volumes?marker=no-such-volume", t, NULL, &json), 404);
    json_decref(json);
    assert_int_equal(s_http(env, "GET", p, "volumes?limit=x", t, NULL, NULL), 400);
    /* Tokens: none, and a project in the URL that is not the token's. */
    assert_int_equal(s_http(env, "GET", p, "volumes", NULL, NULL, NULL), 401);
    assert_int_equal(s_http(env, "GET", p, "volumes", "garbage-token", NULL, NULL), 401);
    assert_int_equal(s_http(env, "GET", env->other_project, "volumes", t, NULL, &json), 403);
    s_assert_fault(json, "forbidden", 403, NULL);
    json_decref(json);
    assert_int_equal(
        s_http(env, "POST", env->other_project, "volumes", t, "{\"volume\": {\"size\": 1}}", NULL),
        403);
    char id[64];
    assert_int_equal(s_create(env, 1, "v", id), 202);
    s_await(env, id, "available");
    char *action = zn_asprintf("volumes/%s/action", id);
    assert_int_equal(s_http(env, "POST", p, action, t, "{\"os-frobnicate\": {}}", &json), 400);
    s_assert_fault(json, "badRequest", 400, "no such action");
    json_decref(json);
    assert_int_equal(s_http(env, "POST", p, action, t, "{\"os-extend\": {\"new_size\": 1}}", &json),
                     400);
    s_assert_fault(json, "badRequest", 400, "greater than current size");
    json_decref(json);
    char *suffix = zn_asprintf("volumes/%s", id);
    assert_int_equal(s_http(env, "PUT", p, suffix, t, "{\"volume\": {}}", NULL), 400);
    assert_int_equal(s_delete(env, id), 202);
    zn_free(action);
    zn_free(suffix);
}

static void
test_volume_agent_quota(void **state)
{
    s_env_t *env = *state;
    char ids[4][64];
    assert_int_equal(s_create(env, 5, "a", ids[0]), 202);
    assert_int_equal(s_create(env, 5, "b", ids[1]), 202);
    json_t *json = NULL;
    assert_int_equal(s_http(env, "POST", env->user_project, "volumes", env->user_token,
                            "{\"volume\": {\"size\": 1}}", &json),
                     413);
    s_assert_fault(json, "overLimit", 413, "gigabytes");
    json_decref(json);
    /* Another project is not affected. */
    assert_int_equal(s_http(env, "POST", env->other_project, "volumes", env->other_token,
                            "{\"volume\": {\"size\": 5}}", &json),
                     202);
    const char *other_id = s_str(json_object_get(json, "volume"), "id");
    char *other_suffix = zn_asprintf("volumes/%s", other_id);
    json_decref(json);
    for (int i = 0; i < 2; i++) {
        s_await(env, ids[i], "available");
        assert_int_equal(s_delete(env, ids[i]), 202);
    }
    assert_int_equal(s_create(env, 1, "c", ids[2]), 202);
    s_await(env, ids[2], "available");
    assert_int_equal(s_http(env, "GET", env->user_project, "limits", env->user_token, NULL, &json),
                     200);
    json_t *absolute = json_object_get(json_object_get(json, "limits"), "absolute");
    assert_int_equal(json_integer_value(json_object_get(absolute, "maxTotalVolumes")), 4);
    assert_int_equal(json_integer_value(json_object_get(absolute, "maxTotalVolumeGigabytes")), 10);
    assert_int_equal(json_integer_value(json_object_get(absolute, "totalVolumesUsed")), 1);
    assert_int_equal(json_integer_value(json_object_get(absolute, "totalGigabytesUsed")), 1);
    json_decref(json);
    assert_int_equal(s_delete(env, ids[2]), 202);
    /* The other project's volume: invisible to demo, visible to the admin with all_tenants. */
    assert_int_equal(
        s_http(env, "GET", env->user_project, other_suffix, env->user_token, NULL, NULL), 404);
    assert_int_equal(
        s_http(env, "DELETE", env->user_project, other_suffix, env->user_token, NULL, NULL), 404);
    assert_int_equal(s_http(env, "GET", env->admin_project, "volumes/detail?all_tenants=1",
                            env->admin, NULL, &json),
                     200);
    assert_int_equal(json_array_size(json_object_get(json, "volumes")), 1);
    json_t *vol = json_array_get(json_object_get(json, "volumes"), 0);
    assert_non_null(json_object_get(vol, "os-vol-host-attr:host"));
    json_decref(json);
    assert_int_equal(s_http(env, "GET", env->user_project, "volumes/detail?all_tenants=1",
                            env->user_token, NULL, &json),
                     200);
    assert_int_equal(json_array_size(json_object_get(json, "volumes")), 0);
    json_decref(json);
    assert_int_equal(s_http(env, "GET", env->admin_project, other_suffix, env->admin, NULL, NULL),
                     200);
    zn_free(other_suffix);
}

static void
test_volume_agent_pages(void **state)
{
    s_env_t *env = *state;
    char ids[3][64];
    for (int i = 0; i < 3; i++) {
        assert_int_equal(s_create(env, 1, "paged", ids[i]), 202);
    }
    json_t *json = NULL;
    assert_int_equal(s_http(env, "GET", env->user_project, "volumes/detail?limit=2",
                            env->user_token, NULL, &json),
                     200);
    assert_int_equal(json_array_size(json_object_get(json, "volumes")), 2);
    const char *next = s_str(json_array_get(json_object_get(json, "volumes_links"), 0), "href");
    assert_non_null(next);
    const char *path = strstr(next, "/volume/v3/");
    assert_non_null(path);
    json_t *page = NULL;
    assert_int_equal(
        vol_fixture_http(env->port, "GET", path, env->user_token, NULL, &page, NULL, 0), 200);
    assert_int_equal(json_array_size(json_object_get(page, "volumes")), 1);
    assert_null(json_object_get(page, "volumes_links"));
    json_decref(page);
    json_decref(json);
    for (int i = 0; i < 3; i++) {
        s_await(env, ids[i], "available");
        assert_int_equal(s_delete(env, ids[i]), 202);
    }
}

static int s_call(s_env_t *env, const char *method, const char *token, const char *const *kv,
                  size_t pairs, zn_reply_t **out, zn_fault_t *fault);

/* An admin repairs a volume a compute agent left attached (Cinder's os-reset_status): a
 * member may not; a bad status is 400; then the volume can be deleted. */
static void
test_volume_agent_reset(void **state)
{
    s_env_t *env = *state;
    char id[64];
    assert_int_equal(s_create(env, 1, "stuck", id), 202);
    s_await(env, id, "available");
    zn_reply_t *reply = NULL;
    zn_fault_t fault;
    const char *attach[] = {"volume_id", id, "instance_id", "gone-vm", "host", "cmp9"};
    assert_int_equal(s_call(env, "volume_attach", env->user_token, attach, 3, &reply, &fault), 0);
    zn_reply_destroy(&reply);
    assert_int_equal(s_delete(env, id), 400);
    char *action = zn_asprintf("volumes/%s/action", id);
    const char *reset = "{\"os-reset_status\": {\"status\": \"available\", "
                        "\"attach_status\": \"detached\"}}";
    json_t *json = NULL;
    assert_int_equal(s_http(env, "POST", env->user_project, action, env->user_token, reset, &json),
                     403);
    json_decref(json);
    assert_int_equal(s_http(env, "POST", env->admin_project, action, env->admin,
                            "{\"os-reset_status\": {\"status\": \"bogus\"}}", NULL),
                     400);
    assert_int_equal(s_http(env, "POST", env->admin_project, action, env->admin, reset, NULL), 202);
    char *suffix = zn_asprintf("volumes/%s", id);
    assert_int_equal(s_http(env, "GET", env->user_project, suffix, env->user_token, NULL, &json),
                     200);
    json_t *vol = json_object_get(json, "volume");
    assert_string_equal(s_str(vol, "status"), "available");
    assert_int_equal(json_array_size(json_object_get(vol, "attachments")), 0);
    json_decref(json);
    assert_int_equal(s_delete(env, id), 202);
    zn_free(action);
    zn_free(suffix);
}

/* ---- the ZeroMQ methods -------------------------------------------------------------------- */

/* Call METHOD with TOKEN (may be NULL) and a body of KEY/VALUE pairs; the reply into *out. */
static int
s_call(s_env_t *env, const char *method, const char *token, const char *const *kv, size_t pairs,
       zn_reply_t **out, zn_fault_t *fault)
{
    zn_pack_t *pack = zn_pack_new();
    zn_pack_map(pack, (uint32_t)pairs);
    for (size_t i = 0; i < pairs * 2; i++) {
        zn_pack_str(pack, kv[i]);
    }
    zn_ctx_t ctx;
    memset(&ctx, 0, sizeof(ctx));
    (void)snprintf(ctx.req_id, sizeof(ctx.req_id), "req-test");
    if (token != NULL) {
        ctx.token = (zn_buf_t){(const uint8_t *)token, strlen(token)};
    }
    int rc = zn_client_call_sync(env->client, method, &ctx, zn_pack_buf(pack), 5000, out, fault);
    zn_pack_destroy(&pack);
    return rc;
}

/* The string KEY of the reply's map, copied into OUT. */
static void
s_reply_str(const zn_reply_t *reply, const char *key, char *out, size_t cap)
{
    char *json_text = NULL;
    assert_int_equal(zn_mp_to_json(zn_reply_env(reply)->body, &json_text, NULL), 0);
    json_t *json = json_loads(json_text, 0, NULL);
    const char *value = s_str(json, key);
    (void)snprintf(out, cap, "%s", value != NULL ? value : "");
    json_decref(json);
    zn_free(json_text);
}

static void
test_volume_agent_rpc(void **state)
{
    s_env_t *env = *state;
    char id[64];
    assert_int_equal(s_create(env, 1, "boot", id), 202);
    s_await(env, id, "available");
    zn_reply_t *reply = NULL;
    zn_fault_t fault;
    const char *get[] = {"volume_id", id};
    assert_int_equal(s_call(env, "volume_get", env->user_token, get, 1, &reply, &fault), 0);
    char text[256];
    s_reply_str(reply, "status", text, sizeof(text));
    assert_string_equal(text, "available");
    zn_reply_destroy(&reply);
    assert_int_equal(s_call(env, "volume_get", env->other_token, get, 1, &reply, &fault), -ENOENT);
    /* No token: in plaintext mode every caller is trusted as a controller, as the broker's
     * ZN_M_CONTROLLER rule (test_volume_curve shows a compute key refused). */
    assert_int_equal(s_call(env, "volume_get", NULL, get, 1, &reply, &fault), 0);
    zn_reply_destroy(&reply);
    assert_int_equal(s_call(env, "volume_get", "forged", get, 1, &reply, &fault), ZN_EAUTH);

    const char *attach[] = {"volume_id", id,     "instance_id", "inst-a",
                            "host",      "cmp1", "device",      "/dev/vdb"};
    assert_int_equal(s_call(env, "volume_attach", env->user_token, attach, 4, &reply, &fault), 0);
    s_reply_str(reply, "driver", text, sizeof(text));
    assert_string_equal(text, "file");
    s_reply_str(reply, "format", text, sizeof(text));
    assert_string_equal(text, "raw");
    s_reply_str(reply, "device", text, sizeof(text));
    assert_string_equal(text, "/dev/vdb");
    s_reply_str(reply, "path", text, sizeof(text));
    struct stat st;
    assert_int_equal(stat(text, &st), 0);
    zn_reply_destroy(&reply);
    assert_int_equal(s_call(env, "volume_attach", env->user_token, attach, 4, &reply, &fault), 0);
    zn_reply_destroy(&reply);
    assert_int_equal(s_call(env, "volume_attach", env->other_token, attach, 4, &reply, &fault),
                     -ENOENT);
    const char *attach_b[] = {"volume_id", id, "instance_id", "inst-b", "host", "cmp1"};
    assert_int_equal(s_call(env, "volume_attach", env->user_token, attach_b, 3, &reply, &fault),
                     ZN_ECONFLICT);
    const char *no_host[] = {"volume_id", id, "instance_id", "inst-a"};
    assert_int_equal(s_call(env, "volume_attach", env->user_token, no_host, 2, &reply, &fault),
                     -EINVAL);

    /* The REST view of the attachment, as Cinder shows it. */
    json_t *json = NULL;
    char *suffix = zn_asprintf("volumes/%s", id);
    assert_int_equal(s_http(env, "GET", env->user_project, suffix, env->user_token, NULL, &json),
                     200);
    json_t *vol = json_object_get(json, "volume");
    assert_string_equal(s_str(vol, "status"), "in-use");
    json_t *a = json_array_get(json_object_get(vol, "attachments"), 0);
    assert_string_equal(s_str(a, "server_id"), "inst-a");
    assert_string_equal(s_str(a, "volume_id"), id);
    assert_string_equal(s_str(a, "id"), id);
    assert_string_equal(s_str(a, "device"), "/dev/vdb");
    assert_string_equal(s_str(a, "host_name"), "cmp1");
    assert_non_null(s_str(a, "attachment_id"));
    json_decref(json);
    assert_int_equal(s_delete(env, id), 400); /* in-use */

    const char *detach[] = {"volume_id", id, "instance_id", "inst-a"};
    assert_int_equal(s_call(env, "volume_detach", env->user_token, detach, 2, &reply, &fault), 0);
    zn_reply_destroy(&reply);
    assert_int_equal(s_call(env, "volume_detach", env->user_token, detach, 2, &reply, &fault), 0);
    zn_reply_destroy(&reply);
    assert_int_equal(s_http(env, "GET", env->user_project, suffix, env->user_token, NULL, &json),
                     200);
    assert_string_equal(s_str(json_object_get(json, "volume"), "status"), "available");
    json_decref(json);
    assert_int_equal(s_delete(env, id), 202);
    const char *unknown[] = {"volume_id", "no-such"};
    assert_int_equal(s_call(env, "volume_get", env->user_token, unknown, 1, &reply, &fault),
                     -ENOENT);
    zn_free(suffix);
}

/* Two compute agents attach one volume for two instances at the same moment. */
typedef struct {
    int done;
    int codes[2];
} s_race_t;

static void
s_on_race(void *arg, const zn_env_t *reply, const zn_fault_t *fault)
{
    (void)reply;
    int *slot = arg;
    *slot = fault->code == 0 ? 1 : fault->code;
}

static int
s_race_check(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    s_race_t *race = arg;
    return race->codes[0] != 0 && race->codes[1] != 0 ? -1 : 0;
}

static void
test_volume_agent_attach_race(void **state)
{
    s_env_t *env = *state;
    char id[64];
    assert_int_equal(s_create(env, 1, "shared", id), 202);
    s_await(env, id, "available");
    zloop_t *loop = zloop_new();
    zn_client_t *client = NULL;
    const char *endpoint = vol_fixture_call(env->fix);
    zn_client_opts_t copts = {.name = "volume", .endpoints = &endpoint, .endpoint_count = 1};
    zn_fault_t fault;
    assert_int_equal(zn_client_open(&client, &copts, &fault), 0);
    assert_int_equal(zn_client_attach(client, loop), 0);
    s_race_t race = {0};
    zn_ctx_t ctx;
    memset(&ctx, 0, sizeof(ctx));
    ctx.token = (zn_buf_t){(const uint8_t *)env->user_token, strlen(env->user_token)};
    const char *instances[] = {"inst-a", "inst-b"};
    for (int i = 0; i < 2; i++) {
        zn_pack_t *pack = zn_pack_new();
        zn_pack_map(pack, 3);
        zn_pack_str(pack, "volume_id");
        zn_pack_str(pack, id);
        zn_pack_str(pack, "instance_id");
        zn_pack_str(pack, instances[i]);
        zn_pack_str(pack, "host");
        zn_pack_str(pack, "cmp1");
        assert_int_equal(zn_client_call(client, "volume_attach", &ctx, zn_pack_buf(pack), 5000,
                                        s_on_race, &race.codes[i]),
                         0);
        zn_pack_destroy(&pack);
    }
    int timer = zloop_timer(loop, 1, 0, s_race_check, &race);
    (void)zloop_start(loop);
    zloop_timer_end(loop, timer);
    assert_true((race.codes[0] == 1) != (race.codes[1] == 1));
    assert_true(race.codes[0] == ZN_ECONFLICT || race.codes[1] == ZN_ECONFLICT);
    zn_client_destroy(&client);
    zloop_destroy(&loop);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_volume_agent_example),
        cmocka_unit_test(test_volume_agent_versions),
        cmocka_unit_test(test_volume_agent_bad_input),
        cmocka_unit_test(test_volume_agent_quota),
        cmocka_unit_test(test_volume_agent_pages),
        cmocka_unit_test(test_volume_agent_rpc),
        cmocka_unit_test(test_volume_agent_reset),
        cmocka_unit_test(test_volume_agent_attach_race),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
