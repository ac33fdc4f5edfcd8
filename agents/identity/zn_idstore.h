/* SPDX-License-Identifier: Apache-2.0 */
/* zn_idstore.h - the identity tables: domains, projects, users, roles, role assignments,
 * services, endpoints and revocation events, as zn_schema records over zn_store.
 * This is the only identity module that knows where records live (zn_idstore_opts_t). */
#ifndef ZN_IDSTORE_H
#define ZN_IDSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zn_err.h"
#include "zn_schema.h"

#define ZN_ID_NAME_MAX 180 /* names: "DOMAIN/NAME" must fit an index value (255 bytes) */
#define ZN_ID_ID_MAX   64  /* ids: 32 hex digits here, "default" for the default domain */

typedef enum {
    ZN_ID_DOMAIN = 0,
    ZN_ID_PROJECT,
    ZN_ID_USER,
    ZN_ID_ROLE,
    ZN_ID_ASSIGNMENT,
    ZN_ID_SERVICE,
    ZN_ID_ENDPOINT,
    ZN_ID_REVOCATION,
    ZN_ID_KIND_COUNT,
} zn_id_kind_t;

/* Every record starts with its id, so that generic code can read it as `*(char **)obj`. All
 * strings are owned: zn_idstore_release. */
typedef struct zn_id_domain {
    char *id;
    char *name;
    char *description;
    bool enabled;
} zn_id_domain_t;

typedef struct zn_id_project {
    char *id;
    char *name;
    char *domain_id;
    char *description;
    bool enabled;
} zn_id_project_t;

typedef struct zn_id_user {
    char *id;
    char *name;
    char *domain_id;
    char *default_project_id;
    char *email;
    char *description;
    char *password_hash; /* Argon2id string; never logged, never rendered */
    bool enabled;
    int64_t password_changed_ms;
} zn_id_user_t;

typedef struct zn_id_role {
    char *id;
    char *name;
} zn_id_role_t;

/* A role of a user on a project; id is "PROJECT/USER/ROLE" (zn_idstore_assignment_id). */
typedef struct zn_id_assignment {
    char *id;
    char *project_id;
    char *user_id;
    char *role_id;
} zn_id_assignment_t;

typedef struct zn_id_service {
    char *id;
    char *type;
    char *name;
    char *description;
    bool enabled;
} zn_id_service_t;

typedef struct zn_id_endpoint {
    char *id;
    char *service_id;
    char *interface; /* public, internal, admin */
    char *region;
    char *url; /* may hold $(project_id)s */
    bool enabled;
} zn_id_endpoint_t;

/* Tokens matching an event are refused: by audit id (one token and its re-scoped children), or
 * every token of a user or project issued at or before ISSUED_BEFORE_MS. */
typedef struct zn_id_revocation {
    char *id;
    char *audit_id;
    char *user_id;
    char *project_id;
    int64_t issued_before_ms;
    int64_t expires_at_ms; /* the event can be forgotten after this: no token it matches lives */
} zn_id_revocation_t;

typedef struct zn_idstore zn_idstore_t;

/* Where identity keeps its records: the cluster's replicated store (reads from this node's
 * replica, writes through the conductors) or, for a single node without a conductor, an LMDB
 * store of its own. */
typedef struct zn_idstore_opts {
    const char *path;           /* local mode: the store's directory (created) */
    const char *conductor_call; /* replicated mode when not NULL/empty: the conductors */
    const char *replica_dir; /* replicated mode: this node's replica (conductor data_dir/store) */
    bool curve;              /* replicated mode: CURVE to the conductors, with... */
    const char *keys_dir;    /* ...this key directory and */
    const char *key_name;    /* ...this key (a controller key) */
} zn_idstore_opts_t;

/* Open the identity store per OPTS (strings borrowed for the call). Returns 0 or a negative
 * errno with FAULT. */
ZN_MUST_CHECK int zn_idstore_open(zn_idstore_t **out, const zn_idstore_opts_t *opts,
                                  zn_fault_t *fault);

void zn_idstore_destroy(zn_idstore_t **self_p);

/* The schema of KIND's record struct (its size is the struct's). */
const zn_schema_t *zn_idstore_schema(zn_id_kind_t kind);

/* A zeroed record of KIND, the caller's: zn_idstore_record_free. */
void *zn_idstore_record_new(zn_id_kind_t kind);
void zn_idstore_record_free(zn_id_kind_t kind, void **obj_p);

/* Free what OBJ (a KIND record) owns and zero it. */
void zn_idstore_release(zn_id_kind_t kind, void *obj);

/* Read record ID of KIND into OBJ (zeroed first). Returns 0, -ENOENT, or -EIO/-EBADMSG. */
ZN_MUST_CHECK int zn_idstore_get(zn_idstore_t *self, zn_id_kind_t kind, const char *id, void *obj);

/* Find by name: projects and users within DOMAIN_ID, domains, roles and services by name
 * alone (DOMAIN_ID ignored). Returns 0 or -ENOENT like zn_idstore_get. */
ZN_MUST_CHECK int zn_idstore_find(zn_idstore_t *self, zn_id_kind_t kind, const char *domain_id,
                                  const char *name, void *obj);

/* Called for each record of a listing; OBJ is borrowed for the call. Return 0 to go on, or
 * anything else to stop the listing with that value. */
typedef int(zn_idstore_each_fn)(void *arg, const void *obj);

/* Call FN for each record of KIND, in id order. For ZN_ID_ASSIGNMENT, USER_ID and PROJECT_ID
 * (either may be NULL) narrow the listing through an index. Returns 0, FN's stop value, or a
 * negative errno. */
ZN_MUST_CHECK int zn_idstore_each(zn_idstore_t *self, zn_id_kind_t kind, const char *user_id,
                                  const char *project_id, zn_idstore_each_fn *fn, void *arg);

/* Create OBJ: -EEXIST (with FAULT) when its id, or its name within its domain, is taken. */
ZN_MUST_CHECK int zn_idstore_create(zn_idstore_t *self, zn_id_kind_t kind, const void *obj,
                                    zn_fault_t *fault);

/* Replace the record with OBJ's id: -ENOENT when missing, -EEXIST when a rename collides. */
ZN_MUST_CHECK int zn_idstore_update(zn_idstore_t *self, zn_id_kind_t kind, const void *obj,
                                    zn_fault_t *fault);

/* Delete record ID of KIND. Returns 0 or -ENOENT. */
ZN_MUST_CHECK int zn_idstore_delete(zn_idstore_t *self, zn_id_kind_t kind, const char *id,
                                    zn_fault_t *fault);

/* True when USER_ID holds ROLE_ID on PROJECT_ID. A read error counts as false. */
bool zn_idstore_has_role(zn_idstore_t *self, const char *project_id, const char *user_id,
                         const char *role_id);

/* Field access by offset (from a schema's field table) for code that is generic over kinds.
 * Strings are borrowed from OBJ; the setter frees the old string and takes OWNED. */
const char *zn_idstore_str(const void *obj, size_t offset);
void zn_idstore_set_str(void *obj, size_t offset, char *owned);
bool zn_idstore_bool(const void *obj, size_t offset);
void zn_idstore_set_bool(void *obj, size_t offset, bool value);

/* A fresh id: 32 lowercase hex digits, into OUT. */
void zn_idstore_new_id(char out[33]);

/* The assignment id "PROJECT/USER/ROLE", the caller's (zn_str_free). */
char *zn_idstore_assignment_id(const char *project_id, const char *user_id, const char *role_id);

#endif
