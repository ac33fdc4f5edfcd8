/* SPDX-License-Identifier: Apache-2.0 */
/* test_volume_curve.c - zinc-volume with CURVE on every ZeroMQ link (conductor, identity,
 * volume): a compute key attaches only for its own host, a stranger's key gets no answer, and
 * the store writes and token checks work encrypted. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <czmq.h>

#include "vol_fixture.h"
#include "zn_client.h"
#include "zn_clock.h"
#include "zn_keys.h"
#include "zn_mem.h"
#include "zn_mp.h"

static zn_keys_t *
s_save_key(const char *dir, const char *name)
{
    zn_keys_t *keys = zn_keys_generate();
    char *path = zn_asprintf("%s/%s.key", dir, name);
    assert_int_equal(zn_keys_save(keys, path, NULL), 0);
    zn_free(path);
    return keys;
}

/* volume_attach of VOLUME_ID for HOST, calling with KEYS. */
static int
s_attach(const char *endpoint, const zn_keys_t *keys, const char *server_public, const char *token,
         const char *volume_id, const char *host, int64_t timeout_ms)
{
    zn_client_opts_t copts = {.name = "volume",
                              .endpoints = &endpoint,
                              .endpoint_count = 1,
                              .keys = keys,
                              .server_public = server_public};
    zn_client_t *client = NULL;
    zn_fault_t fault;
    assert_int_equal(zn_client_open(&client, &copts, &fault), 0);
    zn_pack_t *pack = zn_pack_new();
    zn_pack_map(pack, 3);
    const char *kv[] = {"volume_id", volume_id, "instance_id", "vm-1", "host", host};
    for (size_t i = 0; i < 6; i++) {
        zn_pack_str(pack, kv[i]);
    }
    zn_ctx_t ctx;
    memset(&ctx, 0, sizeof(ctx));
    ctx.token = (zn_buf_t){(const uint8_t *)token, strlen(token)};
    zn_reply_t *reply = NULL;
    int rc = zn_client_call_sync(client, "volume_attach", &ctx, zn_pack_buf(pack), timeout_ms,
                                 &reply, &fault);
    zn_reply_destroy(&reply);
    zn_pack_destroy(&pack);
    zn_client_destroy(&client);
    return rc;
}

/* As s_attach, again while the volume is still being created (-EINVAL), for up to 10 s. */
static int
s_attach_ready(const char *endpoint, const zn_keys_t *keys, const char *server_public,
               const char *token, const char *volume_id, const char *host)
{
    int64_t deadline = zn_clock_mono_ms() + 10000;
    for (;;) {
        int rc = s_attach(endpoint, keys, server_public, token, volume_id, host, 3000);
        if (rc != -EINVAL || zn_clock_mono_ms() > deadline) {
            return rc;
        }
        zclock_sleep(10); /* polling, as a compute agent retrying would */
    }
}

static void
test_volume_curve_hosts(void **state)
{
    (void)state;
    char dir[] = "/tmp/zn-volume-keys.XXXXXX";
    assert_non_null(mkdtemp(dir));
    const char *names[] = {"identity", "conductor", "volume", "compute-node1"};
    zn_keys_t *keys[4];
    for (size_t i = 0; i < 4; i++) {
        keys[i] = s_save_key(dir, names[i]);
    }
    vol_fixture_t *fix = vol_fixture_new_curve(dir);
    vol_fixture_run(fix, NULL);
    const char *token = vol_fixture_admin_token(fix);
    char *path = zn_asprintf("/volume/v3/%s/volumes", vol_fixture_admin_project(fix));
    json_t *json = NULL;
    assert_int_equal(vol_fixture_http(vol_fixture_port(fix), "POST", path, token,
                                      "{\"volume\": {\"size\": 1}}", &json, NULL, 0),
                     202); /* the store write went to the conductor over CURVE */
    char id[64];
    (void)snprintf(id, sizeof(id), "%s",
                   json_string_value(json_object_get(json_object_get(json, "volume"), "id")));
    json_decref(json);
    const char *endpoint = vol_fixture_call(fix);
    const char *server = zn_keys_public(keys[2]);
    assert_int_equal(s_attach_ready(endpoint, keys[3], server, token, id, "node2"),
                     ZN_EFORBIDDEN); /* compute-node1 may not attach for node2 */
    assert_int_equal(s_attach_ready(endpoint, keys[3], server, token, id, "node1"), 0);
    /* Without a token: refused for a compute key, taken from a controller's (the conductor's). */
    assert_int_equal(s_attach(endpoint, keys[3], server, "", id, "node1", 3000), ZN_EAUTH);
    assert_int_equal(s_attach(endpoint, keys[1], server, "", id, "node1", 3000), 0);
    zn_keys_t *stranger = zn_keys_generate();
    int rc = s_attach(endpoint, stranger, server, token, id, "node1", 500);
    assert_true(rc == -ETIMEDOUT || rc == ZN_EUNAVAIL);
    zn_keys_destroy(&stranger);
    zn_free(path);
    vol_fixture_stop(&fix);
    for (size_t i = 0; i < 4; i++) {
        zn_keys_destroy(&keys[i]);
    }
    char *cmd = zn_asprintf("rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    zn_free(cmd);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_volume_curve_hosts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
