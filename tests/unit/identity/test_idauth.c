/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for zn_idauth: issue, full validation (revocation, disabled records, removed roles)
 * and pruning of lapsed revocation events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "zn_clock.h"
#include "zn_idauth.h"
#include "zn_mem.h"

typedef struct s_fixture {
    char *dir;
    zn_idstore_t *store;
    zn_tokenkeys_t *keys;
    zn_idauth_t *auth;
    zn_id_user_t user;
} s_fixture_t;

static void
s_create(zn_idstore_t *store, zn_id_kind_t kind, const void *obj)
{
    assert_int_equal(zn_idstore_create(store, kind, obj, NULL), 0);
}

static int
s_setup(void **state)
{
    s_fixture_t *f = zn_calloc(1, sizeof(*f));
    f->dir = zn_strdup("/tmp/zn-idauth.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char *data = zn_asprintf("%s/data", f->dir);
    char *keys = zn_asprintf("%s/keys", f->dir);
    assert_int_equal(zn_idstore_open(&f->store, &(zn_idstore_opts_t){.path = data}, NULL), 0);
    assert_int_equal(zn_tokenkeys_open(&f->keys, keys, NULL), 0);
    assert_int_equal(zn_idauth_open(&f->auth, f->store, f->keys, 3600000, NULL), 0);
    zn_str_free(&data);
    zn_str_free(&keys);
    zn_id_project_t p = {(char[]){"p1"}, (char[]){"demo"}, (char[]){"default"}, NULL, true};
    zn_id_role_t r = {(char[]){"r1"}, (char[]){"member"}};
    zn_id_assignment_t a = {(char[]){"p1/u1/r1"}, (char[]){"p1"}, (char[]){"u1"}, (char[]){"r1"}};
    s_create(f->store, ZN_ID_PROJECT, &p);
    s_create(f->store, ZN_ID_ROLE, &r);
    s_create(f->store, ZN_ID_ASSIGNMENT, &a);
    f->user = (zn_id_user_t){.id = zn_strdup("u1"),
                             .name = zn_strdup("alice"),
                             .domain_id = zn_strdup("default"),
                             .enabled = true};
    s_create(f->store, ZN_ID_USER, &f->user);
    *state = f;
    return 0;
}

static int
s_teardown(void **state)
{
    s_fixture_t *f = *state;
    zn_idstore_release(ZN_ID_USER, &f->user);
    zn_idauth_destroy(&f->auth);
    zn_tokenkeys_destroy(&f->keys);
    zn_idstore_destroy(&f->store);
    char *cmd = zn_asprintf("rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    zn_str_free(&cmd);
    zn_str_free(&f->dir);
    zn_free(f);
    return 0;
}

static char *
s_issue(s_fixture_t *f)
{
    zn_idauth_scope_t scope = {"p1", NULL};
    char *token = NULL;
    zn_idauth_result_t result;
    assert_int_equal(
        zn_idauth_issue(f->auth, &f->user, &scope, "password", NULL, &token, &result, NULL), 0);
    assert_int_equal(result.role_count, 1);
    assert_string_equal(result.roles[0].name, "member");
    zn_idauth_result_release(&result);
    return token;
}

static int
s_validate(s_fixture_t *f, const char *token)
{
    zn_idauth_result_t result;
    zn_fault_t fault;
    int rc = zn_idauth_validate(f->auth, token, zn_clock_wall_ms(), &result, &fault);
    zn_idauth_result_release(&result);
    return rc;
}

static void
test_idauth_example(void **state)
{
    s_fixture_t *f = *state;
    char *token = s_issue(f);
    zn_idauth_result_t result;
    assert_int_equal(zn_idauth_validate(f->auth, token, zn_clock_wall_ms(), &result, NULL), 0);
    assert_string_equal(result.user.name, "alice");
    assert_string_equal(result.project.name, "demo");
    zn_idauth_result_release(&result);
    zn_str_free(&token);
}

static void
test_idauth_revocations(void **state)
{
    s_fixture_t *f = *state;
    char *one = s_issue(f);
    char *two = s_issue(f);
    zn_token_claims_t claims;
    assert_int_equal(zn_token_open(one, f->keys, zn_clock_wall_ms(), &claims), 0);
    uint64_t generation = zn_idauth_revocation_generation(f->auth);
    assert_int_equal(zn_idauth_revoke(f->auth, claims.audit_id, NULL, NULL, NULL), 0);
    zn_schema_release(&zn_token_claims_schema, &claims);
    assert_true(zn_idauth_revocation_generation(f->auth) > generation);
    assert_int_equal(s_validate(f, one), ZN_EAUTH);
    assert_int_equal(s_validate(f, two), 0);
    assert_int_equal(zn_idauth_revoke(f->auth, NULL, NULL, "p1", NULL), 0);
    assert_int_equal(s_validate(f, two), ZN_EAUTH);
    /* Events lapse with the tokens they cover. */
    assert_int_equal(zn_idauth_prune(f->auth, zn_clock_wall_ms(), NULL), 0);
    assert_int_equal(zn_idauth_prune(f->auth, zn_clock_wall_ms() + 7200000, NULL), 2);
    zn_str_free(&one);
    zn_str_free(&two);
}

static void
test_idauth_rights_are_rechecked(void **state)
{
    s_fixture_t *f = *state;
    char *token = s_issue(f);
    assert_int_equal(zn_idstore_delete(f->store, ZN_ID_ASSIGNMENT, "p1/u1/r1", NULL), 0);
    assert_int_equal(s_validate(f, token), ZN_EAUTH); /* no role left on the project */
    zn_str_free(&token);
    f->user.enabled = false;
    assert_int_equal(zn_idstore_update(f->store, ZN_ID_USER, &f->user, NULL), 0);
    zn_idauth_scope_t none = {NULL, NULL};
    char *unscoped = NULL;
    zn_idauth_result_t result;
    assert_int_equal(
        zn_idauth_issue(f->auth, &f->user, &none, "password", NULL, &unscoped, &result, NULL),
        ZN_EAUTH);
    assert_null(unscoped);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_idauth_example, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_idauth_revocations, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_idauth_rights_are_rechecked, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
