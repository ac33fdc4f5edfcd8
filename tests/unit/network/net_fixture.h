/* SPDX-License-Identifier: Apache-2.0 */
/* net_fixture.h - a real zinc-network as an in-process actor on free loopback ports, using a
 * conductor's store (cond_fixture) and an identity agent (id_fixture), for tests and
 * bench/bench_network. */
#ifndef NET_FIXTURE_H
#define NET_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

typedef struct net_fixture net_fixture_t;

/* Start a network agent whose store writes go to CONDUCTOR_CALL, reading the replica in
 * REPLICA_DIR, validating tokens with the identity agent at IDENTITY_CALL; SETTINGS
 * ("section.key=value", NULL-terminated, may be NULL) apply last. Aborts on failure. */
net_fixture_t *net_fixture_start(const char *conductor_call, const char *replica_dir,
                                 const char *identity_call, const char *const *settings);

void net_fixture_stop(net_fixture_t **fix_p);

uint16_t net_fixture_http_port(const net_fixture_t *fix);
const char *net_fixture_call(const net_fixture_t *fix);

/* METHOD PATH with TOKEN and BODY (may be NULL) to the agent's REST API; the response body
 * (after the headers) into OUT (cap bytes). Returns the HTTP status. */
int net_fixture_http(const net_fixture_t *fix, const char *method, const char *path,
                     const char *token, const char *body, char *out, size_t cap);

#endif
