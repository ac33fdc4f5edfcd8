/* SPDX-License-Identifier: Apache-2.0 */
/* echo_service.h - a real zinc RPC server in an actor, for broker tests. */
#ifndef ECHO_SERVICE_H
#define ECHO_SERVICE_H

#include <czmq.h>

#include "zn_keys.h"

typedef struct echo_service echo_service_t;

/* Start a server on tcp://127.0.0.1:* (calls and casts) in its own thread with its own loop.
 * KEYS and ALLOW (may be NULL) make it a CURVE server. Methods: echo (returns the body), fail
 * (-ENOENT "no such thing"), slow (answers after 200 ms, deferred), count (call or cast: adds one
 * and returns the total), whoami (returns [req_id, user_id, project_id]), whois (controller keys
 * only: returns the caller's key name). */
echo_service_t *echo_service_start(const zn_keys_t *keys, const zn_allow_t *allow);

void echo_service_stop(echo_service_t **self_p);

const char *echo_service_call_endpoint(echo_service_t *self);
const char *echo_service_cast_endpoint(echo_service_t *self);

/* How many times count ran, asked of the service's own thread. */
int echo_service_count(echo_service_t *self);

#endif
