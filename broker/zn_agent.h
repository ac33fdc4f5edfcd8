/* SPDX-License-Identifier: Apache-2.0 */
/* zn_agent.h - what every zinc agent shares: its loop, signals, admin socket, metrics and
 * heartbeats. An agent module builds on this; main() stays a thin shell. */
#ifndef ZN_AGENT_H
#define ZN_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include <czmq.h>

#include "zn_err.h"
#include "zn_keys.h"
#include "zn_metrics.h"
#include "zn_registry.h"
#include "zn_secure.h"
#include "zn_server.h"
#include "zn_trace.h"

struct zn_agent_cfg;

#ifndef ZN_VERSION
#define ZN_VERSION "0.1.0"
#endif

typedef struct zn_agent zn_agent_t;

/* Pack one value (usually a map) that describes the agent's own state, for `status`. */
typedef void(zn_agent_status_fn)(void *arg, zn_pack_t *out);

/* True once the agent has nothing in flight: shutdown then completes before the grace period. */
typedef bool(zn_agent_drained_fn)(void *arg);

typedef struct zn_agent_opts {
    const char *role;
    const char *host;
    const char *admin_endpoint;     /* e.g. tcp://127.0.0.1:7201; "tcp://127.0.0.1:*" in tests */
    const zn_keys_t *keys;          /* NULL: plaintext admin socket */
    const zn_allow_t *admin_allow;  /* with keys: who may administer this agent */
    int64_t shutdown_grace_ms;      /* how long in-flight work may take after SIGTERM */
    const zn_method_t *admin_extra; /* more admin methods, may be NULL; see zn_agent_arg */
    zn_agent_status_fn *status;     /* may be NULL */
    zn_agent_drained_fn *drained;   /* may be NULL: stop at once */
    void *arg;
} zn_agent_opts_t;

/* Create the loop, the metrics, the signal reader and the admin server of OPTS.
 * Call zn_signals_block() first (in main, before any thread). Returns 0 or a negative errno
 * with FAULT (admin socket cannot bind, signalfd). */
ZN_MUST_CHECK int zn_agent_open(zn_agent_t **out, const zn_agent_opts_t *opts, zn_fault_t *fault);

/* Open an agent from the configuration every agent shares (zn_agent_cfg.h): load its keys
 * (keys_dir/key_name.key and the allow-lists, when curve is on), then as zn_agent_open with host,
 * admin endpoint, keys and grace taken from COMMON. OPTS gives the role, status, drained,
 * admin_extra and arg; its other fields are ignored. COMMON is borrowed for the call. */
ZN_MUST_CHECK int zn_agent_open_from(zn_agent_t **out, const struct zn_agent_cfg *common,
                                     const zn_agent_opts_t *opts, zn_fault_t *fault);

void zn_agent_destroy(zn_agent_t **self_p);

/* The key material zn_agent_open_from loaded (plaintext: every key accessor returns NULL), or
 * NULL for an agent opened with zn_agent_open. Borrowed from SELF. */
const zn_secure_t *zn_agent_secure(const zn_agent_t *self);

/* Bind the agent's service server NAME on CALL_ENDPOINT and CAST_ENDPOINT (either may be NULL)
 * with the agent's keys, allow-list and metrics, serving METHODS with ARG on the agent's loop.
 * *out is the caller's, destroyed before the agent. Returns 0 or a negative errno with FAULT. */
ZN_MUST_CHECK int zn_agent_serve(zn_agent_t *self, const char *name, const char *call_endpoint,
                                 const char *cast_endpoint, const zn_method_t *methods, void *arg,
                                 zn_server_t **out, zn_fault_t *fault);

/* The loop every socket and timer of the agent registers with. Borrowed from SELF. */
zloop_t *zn_agent_loop(zn_agent_t *self);

zn_metrics_t *zn_agent_metrics(zn_agent_t *self);

/* The agent's span ring: servers opened with zn_agent_serve fill it, the admin socket's `trace`
 * method reads it; agents add spans of their own steps (zn_trace_add). Borrowed from SELF. */
zn_trace_t *zn_agent_trace(zn_agent_t *self);

/* The ARG of the options. Admin methods (built-in and admin_extra) are called with the agent as
 * their handler argument; an extra method reaches its own state through this. */
void *zn_agent_arg(const zn_agent_t *self);

const char *zn_agent_admin_endpoint(const zn_agent_t *self);

/* Stop when PIPE (an actor pipe) says "$TERM", as well as on signals: lets tests run an agent
 * as a czmq actor. PIPE is borrowed. */
ZN_MUST_CHECK int zn_agent_watch_pipe(zn_agent_t *self, zsock_t *pipe);

/* Cast a heartbeat describing SERVICE (copied) every INTERVAL_MS to every endpoint in ENDPOINT
 * (registries' cast endpoints, comma-separated: each conductor keeps its own registry, so every
 * one hears every beat; their public key is SERVER_PUBLIC when the agent has keys). The first
 * goes at once. Call once. */
ZN_MUST_CHECK int zn_agent_heartbeat(zn_agent_t *self, const char *endpoint,
                                     const char *server_public, const zn_service_t *service,
                                     int64_t interval_ms, zn_fault_t *fault);

/* Announce this agent to every conductor: describe it (role, host, version, SERVER's call and
 * cast endpoints (SERVER may be NULL), the admin endpoint, its public key, pid, start time) and
 * heartbeat that description per COMMON's [peers] section, with the conductors' public key from
 * the agent's key directory. For agents opened with zn_agent_open_from. Call once. */
ZN_MUST_CHECK int zn_agent_announce(zn_agent_t *self, const struct zn_agent_cfg *common,
                                    const zn_server_t *server, zn_fault_t *fault);

/* The description the agent announces, valid after zn_agent_announce. Borrowed from SELF. */
const zn_service_t *zn_agent_service(const zn_agent_t *self);

/* Run the loop until SIGTERM/SIGINT, $TERM on the watched pipe, or zn_agent_stop; then wait for
 * in-flight work (the drained callback) up to the grace period. Returns 0. Loop thread. */
int zn_agent_run(zn_agent_t *self);

/* Ask the loop to stop as if SIGTERM had arrived. Loop thread. */
void zn_agent_stop(zn_agent_t *self);

/* True once a stop was requested: handlers refuse new work with ZN_EUNAVAIL from then on. */
bool zn_agent_is_stopping(const zn_agent_t *self);

#endif
