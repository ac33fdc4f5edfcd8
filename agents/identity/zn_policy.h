/* SPDX-License-Identifier: Apache-2.0 */
/* zn_policy.h - who may do what in the identity API: one table of actions and rules
 * (docs/identity.md prints it). Identity writes are admin-only; a member or reader sees only
 * its own project and its own user; reader never writes; every rule but ZN_RULE_OWN_USER and
 * ZN_RULE_TOKEN needs a project-scoped token. */
#ifndef ZN_POLICY_H
#define ZN_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "zn_err.h"

enum {
    ZN_ROLE_ADMIN = 1u << 0,
    ZN_ROLE_MEMBER = 1u << 1,
    ZN_ROLE_READER = 1u << 2,
};

typedef enum {
    ZN_RULE_ADMIN,       /* admin role on a project-scoped token */
    ZN_RULE_SCOPED,      /* any role on a project-scoped token (handlers filter to own data) */
    ZN_RULE_OWN_PROJECT, /* admin, or any role on the target project itself */
    ZN_RULE_OWN_USER,    /* admin, or the target user itself, any scope */
    ZN_RULE_TOKEN,       /* any valid token, even unscoped */
} zn_rule_t;

/* The caller, from its validated token. Strings borrowed. */
typedef struct zn_policy_creds {
    const char *user_id;
    const char *project_id; /* NULL or empty: not project-scoped */
    uint32_t roles;         /* ZN_ROLE_* bits */
} zn_policy_creds_t;

/* What the action touches. Strings borrowed, NULL when not relevant. */
typedef struct zn_policy_target {
    const char *project_id;
    const char *user_id;
} zn_policy_target_t;

/* May CREDS do ACTION ("identity:create_project") on TARGET (may be NULL)? Returns 0, or
 * ZN_EFORBIDDEN with FAULT saying which rule failed (also for an action not in the table). */
ZN_MUST_CHECK int zn_policy_check(const char *action, const zn_policy_creds_t *creds,
                                  const zn_policy_target_t *target, zn_fault_t *fault);

/* True when CREDS carry the admin role on a project-scoped token. */
bool zn_policy_is_admin(const zn_policy_creds_t *creds);

/* The role bit of a role NAME ("admin", "member", "reader"), 0 for other roles. */
uint32_t zn_policy_role_bit(const char *name);

/* Walk the table (for docs and tests): the Nth action and its rule; false past the end. */
bool zn_policy_entry(size_t index, const char **action, zn_rule_t *rule);

/* The rule's name ("admin", "own_project", ...). Static. */
const char *zn_policy_rule_name(zn_rule_t rule);

#endif
