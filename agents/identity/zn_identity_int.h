/* SPDX-License-Identifier: Apache-2.0 */
/* zn_identity_int.h - what the identity agent's files share: the agent struct, one HTTP
 * request's context, the route table row, and the helpers handlers answer with. */
#ifndef ZN_IDENTITY_INT_H
#define ZN_IDENTITY_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <czmq.h>
#include <jansson.h>

#include "zn_agent.h"
#include "zn_hasher.h"
#include "zn_http.h"
#include "zn_idauth.h"
#include "zn_identity.h"
#include "zn_idstore.h"
#include "zn_password.h"
#include "zn_policy.h"
#include "zn_ratelimit.h"
#include "zn_secure.h"
#include "zn_server.h"
#include "zn_tokenkeys.h"

#define ZN_IDENTITY_CAPTURES 3

struct zn_identity {
    const zn_identity_cfg_t *cfg;
    zn_password_cost_t cost;
    const zn_secure_t *secure; /* the agent's, borrowed */
    zn_agent_t *agent;
    zn_server_t *server;
    zn_http_t *http;
    zn_idstore_t *store;
    zn_tokenkeys_t *keys;
    zn_idauth_t *auth;
    zn_hasher_t *hasher;
    zn_ratelimit_t *limit_user;
    zn_ratelimit_t *limit_peer;
    zhashx_t *jobs; /* job id text -> zn_idjob_t, requests waiting for the hasher */
    uint64_t next_job;
    int keys_timer;
    uint64_t ticks; /* of the key refresh timer */
};

/* One HTTP request being handled. */
typedef struct zn_idreq {
    zn_identity_t *self;
    zn_http_req_t *http;
    const char *path; /* below the URL prefix: "/v3/..." */
    char *captures[ZN_IDENTITY_CAPTURES];
    json_t *body;
    char *base_url; /* "http://HOST/identity", for links */
    bool has_caller;
    zn_idauth_result_t caller;
    zn_policy_creds_t creds;
} zn_idreq_t;

/* A request waiting for the Argon2id worker; FN finishes it. Owns BODY and ARG_TEXT. */
typedef struct zn_idjob zn_idjob_t;
typedef void(zn_idjob_fn)(zn_identity_t *self, zn_idjob_t *job, bool match, const char *hash);

struct zn_idjob {
    zn_http_req_t *http;
    char *base_url;
    json_t *body;
    zn_idjob_fn *fn;
    void *record;         /* a record the job will store, or NULL */
    zn_id_kind_t kind;    /* of RECORD */
    char *limit_user_key; /* rate-limit keys of a login */
    char *peer;
};

/* A handler answers through zn__identity_reply / zn__identity_error and returns 0, or returns a
 * negative code with FAULT for the dispatcher to turn into a Keystone error body, or
 * ZN_DEFERRED after queueing a hasher job. */
typedef int(zn_idroute_fn)(zn_idreq_t *req, zn_fault_t *fault);

enum {
    ZN_R_TOKEN = 1u << 0, /* needs a valid X-Auth-Token */
    ZN_R_BODY = 1u << 1,  /* needs a JSON object body */
};

typedef struct zn_idroute {
    const char *method;
    const char *pattern; /* "/v3/projects/ * /users" with '*' capturing one segment (no spaces) */
    zn_idroute_fn *fn;
    uint32_t flags;
    const char *action;  /* checked by the dispatcher when set; NULL: the handler checks */
    int project_capture; /* which capture is the target project for the policy, -1: none */
    int user_capture;    /* which capture is the target user, -1: none */
} zn_idroute_t;

extern const zn_idroute_t zn__identity_auth_routes[];
extern const zn_idroute_t zn__identity_admin_routes[];

/* Send VALUE (stolen; may be NULL for an empty body) with STATUS. */
void zn__identity_reply(zn_http_req_t *http, unsigned status, json_t *value);

/* Send the Keystone error body for CODE (a negative errno or zinc code) and MESSAGE. */
void zn__identity_error(zn_http_req_t *http, int code, const char *message);

/* HTTP status for an error CODE. */
unsigned zn__identity_status(int code);

/* Queue JOB (taking it) on the hasher: a verification of PASSWORD against HASH when VERIFY,
 * else a hash of PASSWORD. Defers JOB's HTTP request. Returns ZN_DEFERRED or -EIO. */
int zn__identity_queue(zn_identity_t *self, zn_idjob_t *job, bool verify, const char *hash,
                       const char *password);

/* Free a job. */
void zn__identity_job_free(zn_idjob_t **job_p);

/* The token body ({"token": ...}) of RESULT, with the catalog when project-scoped. */
json_t *zn__identity_token_json(zn_identity_t *self, const zn_idauth_result_t *result);

/* The catalog array for PROJECT_ID (may be NULL: endpoints without $(project_id)s only). */
json_t *zn__identity_catalog_json(zn_identity_t *self, const char *project_id);

/* A record of KIND as its Keystone JSON object, links included. */
json_t *zn__identity_record_json(zn_id_kind_t kind, const void *obj, const char *base_url);

/* Fill record OBJ of KIND from the JSON object IN (string and bool fields of its schema;
 * "id" and "password_hash" are never taken from a client). Returns 0 or -EINVAL with FAULT. */
ZN_MUST_CHECK int zn__identity_record_from_json(zn_id_kind_t kind, const json_t *in, void *obj,
                                                zn_fault_t *fault);

/* Finish a user create or password change once the hash is made. */
void zn__identity_user_hashed(zn_identity_t *self, zn_idjob_t *job, bool match, const char *hash);

#endif
