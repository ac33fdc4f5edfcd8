/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for zn_idclient against a real identity agent in-process: validation over ZeroMQ, the
 * cache, and revocation reaching a client through the revocation generation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "id_fixture.h"
#include "zn_clock.h"
#include "zn_idclient.h"
#include "zn_keys.h"
#include "zn_mem.h"
#include "zn_sig.h"

typedef struct s_state {
    id_fixture_t *fix;
    zn_idclient_t *client;
    char admin[2048];
} s_state_t;

static int
s_setup(void **state)
{
    s_state_t *s = zn_calloc(1, sizeof(*s));
    s->fix = id_fixture_start("test");
    const char *endpoint = id_fixture_call_endpoint(s->fix);
    zn_idclient_opts_t opts = {.endpoints = &endpoint, .endpoint_count = 1};
    assert_int_equal(zn_idclient_open(&s->client, &opts, NULL), 0);
    assert_int_equal(id_fixture_login(s->fix, "admin", "secret", "admin", s->admin, 2048), 201);
    *state = s;
    return 0;
}

static int
s_teardown(void **state)
{
    s_state_t *s = *state;
    zn_idclient_destroy(&s->client);
    id_fixture_stop(&s->fix);
    zn_free(s);
    return 0;
}

static zn_buf_t
s_buf(const char *text)
{
    zn_buf_t buf = {(const uint8_t *)text, strlen(text)};
    return buf;
}

static void
test_idclient_example(void **state)
{
    s_state_t *s = *state;
    assert_null(zn_idclient_lookup(s->client, s_buf(s->admin)));
    zn_idclient_auth_t auth;
    zn_fault_t fault;
    assert_int_equal(zn_idclient_validate_sync(s->client, s_buf(s->admin), 2000, &auth, &fault), 0);
    assert_string_equal(auth.user_name, "admin");
    assert_non_null(auth.project_id);
    assert_int_equal(auth.role_count, 1);
    assert_string_equal(auth.roles[0], "admin");
    zn_schema_release(&zn_idclient_auth_schema, &auth);
    /* Now it is cached: memory speed, no call. */
    const zn_idclient_auth_t *cached = zn_idclient_lookup(s->client, s_buf(s->admin));
    assert_non_null(cached);
    assert_string_equal(cached->user_name, "admin");
    assert_int_equal(zn_idclient_cached(s->client), 1);
}

static void
test_idclient_refuses_bad_tokens(void **state)
{
    s_state_t *s = *state;
    zn_idclient_auth_t auth;
    zn_fault_t fault;
    assert_int_equal(zn_idclient_validate_sync(s->client, s_buf("garbage"), 2000, &auth, &fault),
                     ZN_EAUTH);
    char tampered[2048];
    memcpy(tampered, s->admin, sizeof(tampered));
    tampered[40] = tampered[40] == 'A' ? 'B' : 'A';
    assert_int_equal(zn_idclient_validate_sync(s->client, s_buf(tampered), 2000, &auth, &fault),
                     ZN_EAUTH);
    assert_null(zn_idclient_lookup(s->client, s_buf(tampered)));
}

static void
test_idclient_revocation_reaches_the_cache(void **state)
{
    s_state_t *s = *state;
    char other[2048];
    assert_int_equal(id_fixture_login(s->fix, "admin", "secret", "admin", other, 2048), 201);
    zn_idclient_auth_t auth;
    zn_fault_t fault;
    assert_int_equal(zn_idclient_validate_sync(s->client, s_buf(other), 2000, &auth, &fault), 0);
    zn_schema_release(&zn_idclient_auth_schema, &auth);
    assert_non_null(zn_idclient_lookup(s->client, s_buf(other)));

    assert_int_equal(
        id_fixture_http(s->fix, "DELETE", "/v3/auth/tokens", s->admin, other, NULL, NULL, 0), 204);
    /* Any answer now carries the new generation: the client drops what it cached. */
    assert_int_equal(zn_idclient_validate_sync(s->client, s_buf(s->admin), 2000, &auth, &fault), 0);
    zn_schema_release(&zn_idclient_auth_schema, &auth);
    assert_null(zn_idclient_lookup(s->client, s_buf(other)));
    assert_int_equal(zn_idclient_validate_sync(s->client, s_buf(other), 2000, &auth, &fault),
                     ZN_EAUTH);
}

/* Without any other call, a cached answer lapses after cache_ttl_ms: the bound on how long a
 * revoked token can still pass a client. */
static void
test_idclient_cache_lapses(void **state)
{
    s_state_t *s = *state;
    const char *endpoint = id_fixture_call_endpoint(s->fix);
    zn_idclient_opts_t opts = {.endpoints = &endpoint, .endpoint_count = 1, .cache_ttl_ms = 100};
    zn_idclient_t *client = NULL;
    zn_idclient_auth_t auth;
    zn_fault_t fault;
    assert_int_equal(zn_idclient_open(&client, &opts, NULL), 0);
    assert_int_equal(zn_idclient_validate_sync(client, s_buf(s->admin), 2000, &auth, &fault), 0);
    zn_schema_release(&zn_idclient_auth_schema, &auth);
    assert_non_null(zn_idclient_lookup(client, s_buf(s->admin)));
    int64_t deadline = zn_clock_mono_ms() + 2000;
    while (zn_idclient_lookup(client, s_buf(s->admin)) != NULL && zn_clock_mono_ms() < deadline) {
        zclock_sleep(10); /* waiting for time itself to pass, not for another thread */
    }
    assert_null(zn_idclient_lookup(client, s_buf(s->admin)));
    assert_int_equal(zn_idclient_cached(client), 0);
    zn_idclient_destroy(&client);
}

static void
s_save_key(const char *dir, const char *name, zn_keys_t **keep)
{
    zn_keys_t *keys = zn_keys_generate();
    char *path = zn_asprintf("%s/%s.key", dir, name);
    assert_int_equal(zn_keys_save(keys, path, NULL), 0);
    zn_str_free(&path);
    if (keep != NULL) {
        *keep = keys;
    } else {
        zn_keys_destroy(&keys);
    }
}

/* With CURVE, a client whose key the identity node accepts validates; a stranger gets nothing. */
static void
test_idclient_curve(void **state)
{
    (void)state;
    char dir[] = "/tmp/zn-idclient-keys.XXXXXX";
    assert_non_null(mkdtemp(dir));
    zn_keys_t *identity_keys = NULL;
    zn_keys_t *api_keys = NULL;
    s_save_key(dir, "identity", &identity_keys);
    s_save_key(dir, "conductor", NULL);
    s_save_key(dir, "api", &api_keys);
    id_fixture_t *fix = id_fixture_start_curve("test", dir);
    char token[2048];
    assert_int_equal(id_fixture_login(fix, "admin", "secret", "admin", token, sizeof(token)), 201);
    const char *endpoint = id_fixture_call_endpoint(fix);
    zn_idclient_opts_t opts = {.endpoints = &endpoint,
                               .endpoint_count = 1,
                               .keys = api_keys,
                               .server_public = zn_keys_public(identity_keys)};
    zn_idclient_t *client = NULL;
    zn_idclient_auth_t auth;
    zn_fault_t fault;
    assert_int_equal(zn_idclient_open(&client, &opts, NULL), 0);
    assert_int_equal(zn_idclient_validate_sync(client, s_buf(token), 3000, &auth, &fault), 0);
    assert_string_equal(auth.user_name, "admin");
    zn_schema_release(&zn_idclient_auth_schema, &auth);
    zn_idclient_destroy(&client);

    zn_keys_t *stranger = zn_keys_generate();
    opts.keys = stranger;
    assert_int_equal(zn_idclient_open(&client, &opts, NULL), 0);
    assert_true(zn_idclient_validate_sync(client, s_buf(token), 500, &auth, &fault) < 0);
    zn_idclient_destroy(&client);
    zn_keys_destroy(&stranger);
    id_fixture_stop(&fix);
    zn_keys_destroy(&identity_keys);
    zn_keys_destroy(&api_keys);
    char *cmd = zn_asprintf("rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    zn_str_free(&cmd);
}

int
main(void)
{
    zn_signals_block(); /* the agent runs on a thread: its signals come through its loop */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_idclient_example, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_idclient_refuses_bad_tokens, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_idclient_revocation_reaches_the_cache, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_idclient_cache_lapses, s_setup, s_teardown),
        cmocka_unit_test(test_idclient_curve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
