/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for `zinc-identity bootstrap`: what it creates, that it is idempotent, and that a
 * bootstrap cut short at any step is repaired by the next run. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "zn_failpoint.h"
#include "zn_identity.h"
#include "zn_idstore.h"
#include "zn_mem.h"

typedef struct s_fixture {
    char *dir;
    zn_identity_cfg_t cfg;
} s_fixture_t;

static void
s_set(s_fixture_t *f, char *assignment)
{
    assert_int_equal(zn_cfg_apply_assignment(&f->cfg, zn_identity_options, assignment, NULL), 0);
    zn_str_free(&assignment);
}

static int
s_setup(void **state)
{
    s_fixture_t *f = zn_calloc(1, sizeof(*f));
    f->dir = zn_strdup("/tmp/zn-idboot.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    zn_cfg_defaults(&f->cfg, zn_identity_options);
    s_set(f, zn_asprintf("identity.data_dir=%s/data", f->dir));
    s_set(f, zn_asprintf("identity.token_keys_dir=%s/keys", f->dir));
    s_set(f, zn_strdup("identity.password_hash_cost=test"));
    s_set(f, zn_strdup("bootstrap.password=secret"));
    *state = f;
    return 0;
}

static int
s_teardown(void **state)
{
    s_fixture_t *f = *state;
    zn_failpoint_clear_all();
    zn_cfg_release(&f->cfg, zn_identity_options);
    char *cmd = zn_asprintf("rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    zn_str_free(&cmd);
    zn_str_free(&f->dir);
    zn_free(f);
    return 0;
}

static int
s_count_one(void *arg, const void *obj)
{
    (void)obj;
    (*(int *)arg)++;
    return 0;
}

static int
s_count(s_fixture_t *f, zn_id_kind_t kind)
{
    zn_idstore_t *store = NULL;
    assert_int_equal(zn_idstore_open(&store, &(zn_idstore_opts_t){.path = f->cfg.data_dir}, NULL),
                     0);
    int count = 0;
    assert_int_equal(zn_idstore_each(store, kind, NULL, NULL, s_count_one, &count), 0);
    zn_idstore_destroy(&store);
    return count;
}

static void
s_assert_complete(s_fixture_t *f)
{
    assert_int_equal(s_count(f, ZN_ID_DOMAIN), 1);
    assert_int_equal(s_count(f, ZN_ID_PROJECT), 1);
    assert_int_equal(s_count(f, ZN_ID_USER), 1);
    assert_int_equal(s_count(f, ZN_ID_ROLE), 3);
    assert_int_equal(s_count(f, ZN_ID_ASSIGNMENT), 1);
    assert_int_equal(s_count(f, ZN_ID_SERVICE), 6);
    assert_int_equal(s_count(f, ZN_ID_ENDPOINT), 18);
}

static void
test_bootstrap_example(void **state)
{
    s_fixture_t *f = *state;
    assert_int_equal(zn_identity_bootstrap(&f->cfg), 0);
    s_assert_complete(f);
}

static void
test_bootstrap_is_idempotent(void **state)
{
    s_fixture_t *f = *state;
    assert_int_equal(zn_identity_bootstrap(&f->cfg), 0);
    assert_int_equal(zn_identity_bootstrap(&f->cfg), 0);
    s_assert_complete(f);
}

static void
test_bootstrap_cut_short_is_repaired(void **state)
{
    s_fixture_t *f = *state;
    static const char *const steps[] = {"identity.bootstrap.admin", "identity.bootstrap.catalog"};
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        zn_failpoint_set(steps[i], -EIO, 1);
        assert_int_equal(zn_identity_bootstrap(&f->cfg), -EIO);
        assert_int_equal(zn_failpoint_fired(steps[i]), 1);
    }
    assert_int_equal(zn_identity_bootstrap(&f->cfg), 0);
    s_assert_complete(f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bootstrap_example, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_bootstrap_is_idempotent, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_bootstrap_cut_short_is_repaired, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
