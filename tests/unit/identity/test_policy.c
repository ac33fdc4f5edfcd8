/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for zn_policy: the identity policy table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "zn_policy.h"

static const zn_policy_creds_t s_admin = {"u-admin", "p-admin", ZN_ROLE_ADMIN};
static const zn_policy_creds_t s_member = {"u-alice", "p-a", ZN_ROLE_MEMBER};
static const zn_policy_creds_t s_reader = {"u-carol", "p-a", ZN_ROLE_READER};
static const zn_policy_creds_t s_unscoped = {"u-admin", NULL, ZN_ROLE_ADMIN};

static void
test_policy_example(void **state)
{
    (void)state;
    zn_policy_target_t project_a = {"p-a", NULL};
    assert_int_equal(zn_policy_check("identity:get_project", &s_member, &project_a, NULL), 0);
    assert_int_equal(zn_policy_check("identity:create_project", &s_admin, NULL, NULL), 0);
    assert_int_equal(zn_policy_check("identity:create_project", &s_member, NULL, NULL),
                     ZN_EFORBIDDEN);
}

static void
test_policy_member_sees_only_its_project(void **state)
{
    (void)state;
    zn_policy_target_t project_b = {"p-b", NULL};
    assert_int_equal(zn_policy_check("identity:get_project", &s_member, &project_b, NULL),
                     ZN_EFORBIDDEN);
    assert_int_equal(zn_policy_check("identity:get_project", &s_admin, &project_b, NULL), 0);
}

static void
test_policy_reader_is_read_only(void **state)
{
    (void)state;
    const char *action = NULL;
    zn_rule_t rule;
    for (size_t i = 0; zn_policy_entry(i, &action, &rule); i++) {
        bool write = strstr(action, "create_") || strstr(action, "update_") ||
                     strstr(action, "delete_") || strstr(action, "revoke_grant");
        if (write) {
            zn_policy_target_t own = {"p-a", "u-carol"};
            assert_int_equal(zn_policy_check(action, &s_reader, &own, NULL), ZN_EFORBIDDEN);
        }
    }
}

static void
test_policy_unscoped_token_gets_no_project_api(void **state)
{
    (void)state;
    zn_fault_t fault;
    assert_int_equal(zn_policy_check("identity:list_projects", &s_unscoped, NULL, &fault),
                     ZN_EFORBIDDEN);
    assert_non_null(strstr(fault.message, "list_projects"));
    zn_policy_target_t self = {NULL, "u-admin"};
    assert_int_equal(zn_policy_check("identity:validate_token", &s_unscoped, &self, NULL), 0);
}

static void
test_policy_unknown_action_is_refused(void **state)
{
    (void)state;
    assert_int_equal(zn_policy_check("identity:frobnicate", &s_admin, NULL, NULL), ZN_EFORBIDDEN);
    assert_int_equal(zn_policy_role_bit("admin"), ZN_ROLE_ADMIN);
    assert_int_equal(zn_policy_role_bit("other"), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_policy_example),
        cmocka_unit_test(test_policy_member_sees_only_its_project),
        cmocka_unit_test(test_policy_reader_is_read_only),
        cmocka_unit_test(test_policy_unscoped_token_gets_no_project_api),
        cmocka_unit_test(test_policy_unknown_action_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
