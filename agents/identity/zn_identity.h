/* SPDX-License-Identifier: Apache-2.0 */
/* zn_identity.h - zinc-identity: the Keystone v3 subset over HTTP (steps 1-2 of the flow) and the
 * `validate` call over ZeroMQ for the other agents (steps 4-5, 20, 23, 26). docs/identity.md. */
#ifndef ZN_IDENTITY_H
#define ZN_IDENTITY_H

#include <stdbool.h>
#include <stdint.h>

#include <czmq.h>

#include "zn_agent_cfg.h"
#include "zn_cfg.h"
#include "zn_err.h"

/* The identity store each command and the agent open, from CFG's [identity] and [security]. */
#define ZN_IDENTITY_STORE_OPTS(cfg)                                             \
    {                                                                           \
        .path = (cfg)->data_dir, .conductor_call = (cfg)->store_conductor_call, \
        .replica_dir = (cfg)->store_replica_dir, .curve = (cfg)->common.curve,  \
        .keys_dir = (cfg)->common.keys_dir, .key_name = (cfg)->common.key_name  \
    }

typedef struct zn_identity_cfg {
    zn_agent_cfg_t common;
    char *call_endpoint;
    char *http_endpoint;
    char *url_prefix;
    char *data_dir;
    char *store_conductor_call;
    char *store_replica_dir;
    char *token_keys_dir;
    int64_t token_ttl_s;
    int64_t max_active_keys;
    char *password_hash_cost;
    int64_t http_body_max_bytes;
    int64_t login_max_failures;
    int64_t login_window_s;
    char *region;
    char *catalog_base_url;
    char *identity_url;
    char *compute_url;
    char *image_url;
    char *network_url;
    char *volume_url;
    char *bootstrap_user;
    char *bootstrap_password;
    char *bootstrap_project;
} zn_identity_cfg_t;

extern const zn_cfg_opt_t zn_identity_options[];

typedef struct zn_identity zn_identity_t;

/* Open the store and the token keys, bootstrap when [bootstrap] password is set, bind the HTTP
 * and RPC endpoints and start heartbeats, per CFG (borrowed; must outlive the agent). Returns 0
 * or a negative errno, having logged why. */
ZN_MUST_CHECK int zn_identity_open(zn_identity_t **out, const zn_identity_cfg_t *cfg);

void zn_identity_destroy(zn_identity_t **self_p);

/* Serve until SIGTERM/SIGINT (or $TERM on a watched pipe). Returns 0. Loop thread. */
int zn_identity_run(zn_identity_t *self);

/* Also stop on "$TERM" from PIPE, to run the agent as a czmq actor (tests, benchmarks). */
ZN_MUST_CHECK int zn_identity_watch_pipe(zn_identity_t *self, zsock_t *pipe);

/* The HTTP port and the RPC call endpoint actually bound (wildcards resolved). */
uint16_t zn_identity_http_port(const zn_identity_t *self);
const char *zn_identity_call_endpoint(const zn_identity_t *self);

/* `zinc-identity bootstrap`: create or repair the default domain, the admin, member and reader
 * roles, the bootstrap project and user (resetting its password) with the admin role, and the
 * catalog, idempotently like keystone-manage bootstrap. Returns 0 or a negative errno, logged. */
ZN_MUST_CHECK int zn_identity_bootstrap(const zn_identity_cfg_t *cfg);

/* `zinc-identity rotate-keys`: rotate the token keys in token_keys_dir; running agents pick
 * the new keys up within a second. Returns 0 or a negative errno, logged. */
ZN_MUST_CHECK int zn_identity_rotate_keys(const zn_identity_cfg_t *cfg);

#endif
