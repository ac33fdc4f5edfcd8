/* SPDX-License-Identifier: Apache-2.0 */
/* zn_policy.c - the identity policy table and its evaluation. */
#include "zn_policy.h"

#include <string.h>

typedef struct s_entry {
    const char *action;
    zn_rule_t rule;
} s_entry_t;

/* The whole identity policy. Keep it sorted by resource; docs/identity.md mirrors it. */
static const s_entry_t s_table[] = {
    {"identity:validate_token", ZN_RULE_OWN_USER},
    {"identity:revoke_token", ZN_RULE_OWN_USER},
    {"identity:get_auth_catalog", ZN_RULE_TOKEN},
    {"identity:get_auth_projects", ZN_RULE_TOKEN},
    {"identity:list_domains", ZN_RULE_ADMIN},
    {"identity:get_domain", ZN_RULE_SCOPED},
    {"identity:create_domain", ZN_RULE_ADMIN},
    {"identity:update_domain", ZN_RULE_ADMIN},
    {"identity:delete_domain", ZN_RULE_ADMIN},
    {"identity:list_projects", ZN_RULE_SCOPED},
    {"identity:get_project", ZN_RULE_OWN_PROJECT},
    {"identity:create_project", ZN_RULE_ADMIN},
    {"identity:update_project", ZN_RULE_ADMIN},
    {"identity:delete_project", ZN_RULE_ADMIN},
    {"identity:list_users", ZN_RULE_ADMIN},
    {"identity:get_user", ZN_RULE_OWN_USER},
    {"identity:create_user", ZN_RULE_ADMIN},
    {"identity:update_user", ZN_RULE_ADMIN},
    {"identity:delete_user", ZN_RULE_ADMIN},
    {"identity:change_password", ZN_RULE_OWN_USER},
    {"identity:list_user_projects", ZN_RULE_OWN_USER},
    {"identity:list_roles", ZN_RULE_SCOPED},
    {"identity:get_role", ZN_RULE_SCOPED},
    {"identity:create_role", ZN_RULE_ADMIN},
    {"identity:update_role", ZN_RULE_ADMIN},
    {"identity:delete_role", ZN_RULE_ADMIN},
    {"identity:list_role_assignments", ZN_RULE_ADMIN},
    {"identity:check_grant", ZN_RULE_OWN_PROJECT},
    {"identity:list_grants", ZN_RULE_OWN_PROJECT},
    {"identity:create_grant", ZN_RULE_ADMIN},
    {"identity:revoke_grant", ZN_RULE_ADMIN},
    {"identity:list_services", ZN_RULE_SCOPED},
    {"identity:get_service", ZN_RULE_SCOPED},
    {"identity:create_service", ZN_RULE_ADMIN},
    {"identity:update_service", ZN_RULE_ADMIN},
    {"identity:delete_service", ZN_RULE_ADMIN},
    {"identity:list_endpoints", ZN_RULE_SCOPED},
    {"identity:get_endpoint", ZN_RULE_SCOPED},
    {"identity:create_endpoint", ZN_RULE_ADMIN},
    {"identity:update_endpoint", ZN_RULE_ADMIN},
    {"identity:delete_endpoint", ZN_RULE_ADMIN},
};

static const char *const s_rule_names[] = {
    [ZN_RULE_ADMIN] = "admin",
    [ZN_RULE_SCOPED] = "scoped",
    [ZN_RULE_OWN_PROJECT] = "own_project",
    [ZN_RULE_OWN_USER] = "own_user",
    [ZN_RULE_TOKEN] = "token",
};

static bool
s_scoped(const zn_policy_creds_t *creds)
{
    return creds->project_id != NULL && creds->project_id[0] != '\0';
}

static bool
s_same(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

bool
zn_policy_is_admin(const zn_policy_creds_t *creds)
{
    return s_scoped(creds) && (creds->roles & ZN_ROLE_ADMIN) != 0;
}

static bool
s_allows(zn_rule_t rule, const zn_policy_creds_t *creds, const zn_policy_target_t *target)
{
    static const zn_policy_target_t none = {NULL, NULL};
    const zn_policy_target_t *t = target != NULL ? target : &none;
    switch (rule) {
    case ZN_RULE_ADMIN:
        return zn_policy_is_admin(creds);
    case ZN_RULE_SCOPED:
        return s_scoped(creds) && creds->roles != 0;
    case ZN_RULE_OWN_PROJECT:
        return zn_policy_is_admin(creds) ||
               (s_scoped(creds) && creds->roles != 0 && s_same(creds->project_id, t->project_id));
    case ZN_RULE_OWN_USER:
        return zn_policy_is_admin(creds) || s_same(creds->user_id, t->user_id);
    case ZN_RULE_TOKEN:
        return creds->user_id != NULL;
    }
    return false;
}

int
zn_policy_check(const char *action, const zn_policy_creds_t *creds,
                const zn_policy_target_t *target, zn_fault_t *fault)
{
    for (size_t i = 0; i < ZN_ARRAY_COUNT(s_table); i++) {
        if (strcmp(s_table[i].action, action) != 0) {
            continue;
        }
        if (s_allows(s_table[i].rule, creds, target)) {
            return 0;
        }
        return zn_fault_set(fault, ZN_EFORBIDDEN,
                            "You are not authorized to perform the requested action: %s "
                            "(rule %s)",
                            action, s_rule_names[s_table[i].rule]);
    }
    return zn_fault_set(fault, ZN_EFORBIDDEN, "no policy for %s", action);
}

uint32_t
zn_policy_role_bit(const char *name)
{
    if (strcmp(name, "admin") == 0) {
        return ZN_ROLE_ADMIN;
    }
    if (strcmp(name, "member") == 0) {
        return ZN_ROLE_MEMBER;
    }
    return strcmp(name, "reader") == 0 ? ZN_ROLE_READER : 0;
}

bool
zn_policy_entry(size_t index, const char **action, zn_rule_t *rule)
{
    if (index >= ZN_ARRAY_COUNT(s_table)) {
        return false;
    }
    *action = s_table[index].action;
    *rule = s_table[index].rule;
    return true;
}

const char *
zn_policy_rule_name(zn_rule_t rule)
{
    return s_rule_names[rule];
}
