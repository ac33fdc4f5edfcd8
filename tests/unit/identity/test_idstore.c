/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for zn_idstore: identity records over a store in a temp dir. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "zn_idstore.h"
#include "zn_mem.h"

typedef struct s_fixture {
    char *dir;
    zn_idstore_t *store;
} s_fixture_t;

static int
s_setup(void **state)
{
    s_fixture_t *f = zn_calloc(1, sizeof(*f));
    f->dir = zn_strdup("/tmp/zn-idstore.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(zn_idstore_open(&f->store, &(zn_idstore_opts_t){.path = f->dir}, NULL), 0);
    *state = f;
    return 0;
}

static int
s_teardown(void **state)
{
    s_fixture_t *f = *state;
    zn_idstore_destroy(&f->store);
    char *cmd = zn_asprintf("rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    zn_str_free(&cmd);
    zn_str_free(&f->dir);
    zn_free(f);
    return 0;
}

static void
test_idstore_example(void **state)
{
    s_fixture_t *f = *state;
    zn_id_project_t p = {(char[]){"p1"}, (char[]){"demo"}, (char[]){"default"}, NULL, true};
    assert_int_equal(zn_idstore_create(f->store, ZN_ID_PROJECT, &p, NULL), 0);
    zn_id_project_t got;
    assert_int_equal(zn_idstore_get(f->store, ZN_ID_PROJECT, "p1", &got), 0);
    assert_string_equal(got.name, "demo");
    zn_idstore_release(ZN_ID_PROJECT, &got);
    assert_int_equal(zn_idstore_find(f->store, ZN_ID_PROJECT, "default", "demo", &got), 0);
    assert_string_equal(got.id, "p1");
    zn_idstore_release(ZN_ID_PROJECT, &got);
    assert_int_equal(zn_idstore_find(f->store, ZN_ID_PROJECT, "other", "demo", &got), -ENOENT);
}

static void
test_idstore_names_are_unique_per_domain(void **state)
{
    s_fixture_t *f = *state;
    zn_id_project_t p = {(char[]){"p1"}, (char[]){"demo"}, (char[]){"default"}, NULL, true};
    zn_id_project_t same = {(char[]){"p2"}, (char[]){"demo"}, (char[]){"default"}, NULL, true};
    zn_id_project_t elsewhere = {(char[]){"p3"}, (char[]){"demo"}, (char[]){"d2"}, NULL, true};
    zn_fault_t fault;
    assert_int_equal(zn_idstore_create(f->store, ZN_ID_PROJECT, &p, NULL), 0);
    assert_int_equal(zn_idstore_create(f->store, ZN_ID_PROJECT, &same, &fault), -EEXIST);
    assert_int_equal(zn_idstore_create(f->store, ZN_ID_PROJECT, &p, &fault), -EEXIST);
    assert_int_equal(zn_idstore_create(f->store, ZN_ID_PROJECT, &elsewhere, NULL), 0);
}

static void
test_idstore_update_and_delete(void **state)
{
    s_fixture_t *f = *state;
    zn_id_user_t u = {.id = (char[]){"u1"},
                      .name = (char[]){"alice"},
                      .domain_id = (char[]){"default"},
                      .enabled = true};
    assert_int_equal(zn_idstore_create(f->store, ZN_ID_USER, &u, NULL), 0);
    u.name = (char[]){"alicia"};
    u.enabled = false;
    assert_int_equal(zn_idstore_update(f->store, ZN_ID_USER, &u, NULL), 0);
    zn_id_user_t got;
    assert_int_equal(zn_idstore_find(f->store, ZN_ID_USER, "default", "alicia", &got), 0);
    assert_false(got.enabled);
    zn_idstore_release(ZN_ID_USER, &got);
    assert_int_equal(zn_idstore_find(f->store, ZN_ID_USER, "default", "alice", &got), -ENOENT);
    assert_int_equal(zn_idstore_delete(f->store, ZN_ID_USER, "u1", NULL), 0);
    assert_int_equal(zn_idstore_get(f->store, ZN_ID_USER, "u1", &got), -ENOENT);
    assert_int_equal(zn_idstore_delete(f->store, ZN_ID_USER, "u1", NULL), -ENOENT);
    u.id = (char[]){"missing"};
    assert_int_equal(zn_idstore_update(f->store, ZN_ID_USER, &u, NULL), -ENOENT);
}

static int
s_count(void *arg, const void *obj)
{
    (void)obj;
    (*(int *)arg)++;
    return 0;
}

static void
test_idstore_assignments(void **state)
{
    s_fixture_t *f = *state;
    char pa[] = "pa";
    char pb[] = "pb";
    char u1[] = "u1";
    for (int i = 0; i < 300; i++) {
        char role[16];
        snprintf(role, sizeof(role), "r%03d", i);
        char *id = zn_idstore_assignment_id(i % 2 ? "pa" : "pb", "u1", role);
        zn_id_assignment_t a = {id, i % 2 ? pa : pb, u1, role};
        assert_int_equal(zn_idstore_create(f->store, ZN_ID_ASSIGNMENT, &a, NULL), 0);
        zn_str_free(&id);
    }
    assert_true(zn_idstore_has_role(f->store, "pa", "u1", "r001"));
    assert_false(zn_idstore_has_role(f->store, "pb", "u1", "r001"));
    int count = 0;
    assert_int_equal(zn_idstore_each(f->store, ZN_ID_ASSIGNMENT, NULL, "pa", s_count, &count), 0);
    assert_int_equal(count, 150);
    count = 0;
    assert_int_equal(zn_idstore_each(f->store, ZN_ID_ASSIGNMENT, "u1", NULL, s_count, &count), 0);
    assert_int_equal(count, 300);
    count = 0;
    assert_int_equal(zn_idstore_each(f->store, ZN_ID_ASSIGNMENT, "u2", NULL, s_count, &count), 0);
    assert_int_equal(count, 0);
    char id[33];
    zn_idstore_new_id(id);
    assert_int_equal(strlen(id), 32);
    assert_null(strchr(id, '-'));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_idstore_example, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_idstore_names_are_unique_per_domain, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_idstore_update_and_delete, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_idstore_assignments, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
