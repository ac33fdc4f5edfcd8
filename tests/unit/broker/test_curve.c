/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for CURVE on zinc links: keys on disk, allow-lists, accepted and refused clients. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <czmq.h>

#include "echo_service.h"
#include "zn_caster.h"
#include "zn_client.h"
#include "zn_keys.h"
#include "zn_mem.h"
#include "zn_secure.h"
#include "zn_zap.h"

static int
s_call_as(echo_service_t *svc, const zn_keys_t *keys, const char *server_public, zn_fault_t *fault)
{
    const char *endpoints[] = {echo_service_call_endpoint(svc)};
    zn_client_opts_t opts = {"echo", endpoints, 1, keys, server_public, 0, NULL};
    zn_client_t *client = NULL;
    int rc = zn_client_open(&client, &opts, fault);
    if (rc < 0) {
        return rc;
    }
    zn_buf_t none = {NULL, 0};
    zn_reply_t *reply = NULL;
    rc = zn_client_call_sync(client, "count", NULL, none, 500, &reply, fault);
    zn_reply_destroy(&reply);
    zn_client_destroy(&client);
    return rc;
}

static void
test_curve_example(void **state)
{
    (void)state;
    zn_keys_t *server = zn_keys_generate();
    zn_keys_t *client = zn_keys_generate();
    zn_allow_t *allow = zn_allow_new();
    assert_int_equal(zn_allow_add_z85(allow, zn_keys_public(client)), 0);
    echo_service_t *svc = echo_service_start(server, allow);
    zn_fault_t fault;
    assert_int_equal(s_call_as(svc, client, zn_keys_public(server), &fault), 0);
    assert_int_equal(echo_service_count(svc), 1);
    echo_service_stop(&svc);
    zn_allow_destroy(&allow);
    zn_keys_destroy(&client);
    zn_keys_destroy(&server);
}

static void
test_curve_refuses_strangers_and_plaintext(void **state)
{
    (void)state;
    zn_keys_t *server = zn_keys_generate();
    zn_keys_t *client = zn_keys_generate();
    zn_keys_t *stranger = zn_keys_generate();
    zn_allow_t *allow = zn_allow_new();
    assert_int_equal(zn_allow_add_z85(allow, zn_keys_public(client)), 0);
    echo_service_t *svc = echo_service_start(server, allow);
    zn_fault_t fault;
    unsigned long refused = zn_zap_refused();

    /* A key not on the list: ZAP refuses the handshake, the call never reaches the server. */
    assert_int_equal(s_call_as(svc, stranger, zn_keys_public(server), &fault), ZN_EUNAVAIL);
    assert_true(zn_zap_refused() > refused);
    /* Plaintext against a CURVE server: the handshake fails on the mechanism. */
    assert_int_equal(s_call_as(svc, NULL, NULL, &fault), ZN_EUNAVAIL);
    /* The right client key but the wrong idea of the server's key. */
    assert_int_equal(s_call_as(svc, client, zn_keys_public(stranger), &fault), ZN_EUNAVAIL);
    assert_int_equal(echo_service_count(svc), 0);
    /* The allowed client still gets through afterwards. */
    assert_int_equal(s_call_as(svc, client, zn_keys_public(server), &fault), 0);
    assert_int_equal(echo_service_count(svc), 1);

    /* Casts are refused the same way: with nobody accepting, the cast cannot even be queued. */
    zn_caster_opts_t copts = {"echo", echo_service_cast_endpoint(svc), stranger,
                              zn_keys_public(server), 300};
    zn_caster_t *caster = NULL;
    assert_int_equal(zn_caster_open(&caster, &copts, &fault), 0);
    zn_buf_t none = {NULL, 0};
    assert_int_equal(zn_caster_cast(caster, "count", NULL, none, NULL, NULL), -EAGAIN);
    zn_caster_destroy(&caster);

    echo_service_stop(&svc);
    zn_allow_destroy(&allow);
    zn_keys_destroy(&stranger);
    zn_keys_destroy(&client);
    zn_keys_destroy(&server);
}

/* Call METHOD as KEYS; on success *name gets the string answer (caller frees). */
static int
s_call_method(echo_service_t *svc, const zn_keys_t *keys, const char *server_public,
              const char *method, char **name, zn_fault_t *fault)
{
    const char *endpoints[] = {echo_service_call_endpoint(svc)};
    zn_client_opts_t opts = {"echo", endpoints, 1, keys, server_public, 0, NULL};
    zn_client_t *client = NULL;
    int rc = zn_client_open(&client, &opts, fault);
    zn_buf_t none = {NULL, 0};
    zn_reply_t *reply = NULL;
    if (rc == 0) {
        rc = zn_client_call_sync(client, method, NULL, none, 2000, &reply, fault);
    }
    if (rc == 0) {
        assert_int_equal(zn_mp_to_json(zn_reply_env(reply)->body, name, fault), 0);
    }
    zn_reply_destroy(&reply);
    zn_client_destroy(&client);
    return rc;
}

static void
test_curve_servers_know_who_calls(void **state)
{
    (void)state;
    zn_keys_t *server = zn_keys_generate();
    zn_keys_t *api = zn_keys_generate();
    zn_keys_t *hypervisor = zn_keys_generate();
    zn_allow_t *allow = zn_allow_new();
    assert_int_equal(zn_allow_add_named(allow, zn_keys_public(api), "api"), 0);
    assert_int_equal(zn_allow_add_named(allow, zn_keys_public(hypervisor), "compute-node1"), 0);
    echo_service_t *svc = echo_service_start(server, allow);
    zn_fault_t fault;
    char *name = NULL;
    assert_int_equal(s_call_method(svc, api, zn_keys_public(server), "whois", &name, &fault), 0);
    assert_string_equal(name, "\"api\"");
    zn_str_free(&name);
    /* A hypervisor's key is authenticated, but not allowed a controller-only method. */
    assert_int_equal(s_call_method(svc, hypervisor, zn_keys_public(server), "whois", &name, &fault),
                     ZN_EFORBIDDEN);
    assert_non_null(strstr(fault.message, "only controller keys"));
    assert_int_equal(s_call_as(svc, hypervisor, zn_keys_public(server), &fault), 0);
    assert_true(zn_secure_name_is_controller("admin"));
    assert_false(zn_secure_name_is_controller("compute-x"));
    assert_false(zn_secure_name_is_controller(""));
    echo_service_stop(&svc);
    zn_allow_destroy(&allow);
    zn_keys_destroy(&hypervisor);
    zn_keys_destroy(&api);
    zn_keys_destroy(&server);
}

static void
test_curve_bad_server_key_refused_at_open(void **state)
{
    (void)state;
    zn_keys_t *client = zn_keys_generate();
    const char *endpoints[] = {"tcp://127.0.0.1:1"};
    zn_client_opts_t opts = {"echo", endpoints, 1, client, "not-a-key", 0, NULL};
    zn_client_t *c = NULL;
    zn_fault_t fault;
    assert_int_equal(zn_client_open(&c, &opts, &fault), -EINVAL);
    assert_null(c);
    zn_keys_destroy(&client);
}

static void
test_keys_files(void **state)
{
    (void)state;
    char dir[] = "/tmp/zn_keys_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *path = zn_asprintf("%s/api.key", dir);
    zn_keys_t *keys = zn_keys_generate();
    zn_fault_t fault;
    assert_int_equal(zn_keys_save(keys, path, &fault), 0);
    zn_keys_t *loaded = NULL;
    assert_int_equal(zn_keys_load(&loaded, path, &fault), 0);
    assert_string_equal(zn_keys_public(loaded), zn_keys_public(keys));
    assert_string_equal(zn_keys_secret(loaded), zn_keys_secret(keys));

    zn_allow_t *allow = zn_allow_new();
    assert_int_equal(zn_allow_load_dir(allow, dir, &fault), 1); /* only api.key.pub */
    assert_int_equal(zn_allow_count(allow), 1);

    /* A public key that does not match the secret is refused. */
    zn_keys_t *other = zn_keys_generate();
    FILE *f = fopen(path, "w");
    fprintf(f, "public = %s\nsecret = %s\n", zn_keys_public(other), zn_keys_secret(keys));
    fclose(f);
    zn_keys_t *bad = NULL;
    assert_int_equal(zn_keys_load(&bad, path, &fault), -EINVAL);
    assert_non_null(strstr(fault.message, "does not match"));
    f = fopen(path, "w");
    fprintf(f, "public = short\n");
    fclose(f);
    assert_int_equal(zn_keys_load(&bad, path, &fault), -EINVAL);
    assert_int_equal(zn_keys_load(&bad, "/nonexistent/x.key", &fault), -ENOENT);
    assert_int_equal(zn_allow_add_z85(allow, "not-z85"), -EINVAL);

    char *pub = zn_asprintf("%s.pub", path);
    unlink(pub);
    unlink(path);
    rmdir(dir);
    zn_str_free(&pub);
    zn_str_free(&path);
    zn_allow_destroy(&allow);
    zn_keys_destroy(&other);
    zn_keys_destroy(&loaded);
    zn_keys_destroy(&keys);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_curve_example),
        cmocka_unit_test(test_curve_refuses_strangers_and_plaintext),
        cmocka_unit_test(test_curve_servers_know_who_calls),
        cmocka_unit_test(test_curve_bad_server_key_refused_at_open),
        cmocka_unit_test(test_keys_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
