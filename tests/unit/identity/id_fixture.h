/* SPDX-License-Identifier: Apache-2.0 */
/* id_fixture.h - a bootstrapped zinc-identity running in-process as a czmq actor in a temp
 * dir, and a minimal HTTP/1.1 client to drive it (tests and bench/bench_identity). */
#ifndef ID_FIXTURE_H
#define ID_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

typedef struct id_fixture id_fixture_t;

/* Start identity with the admin user "admin"/"secret" on project "admin" and password hashing
 * at COST ("test", "interactive"). Aborts on failure (tests only). */
id_fixture_t *id_fixture_start(const char *cost);

/* As id_fixture_start, with CURVE on every ZeroMQ socket, keys from KEYS_DIR (which must hold
 * identity.key and conductor.key.pub). */
id_fixture_t *id_fixture_start_curve(const char *cost, const char *keys_dir);

/* Stop the agent and remove the temp dir. */
void id_fixture_stop(id_fixture_t **self_p);

/* The agent's `validate` endpoint. */
const char *id_fixture_call_endpoint(const id_fixture_t *self);

/* Send METHOD PATH with X-Auth-Token TOKEN and X-Subject-Token SUBJECT_IN (either may be NULL)
 * and BODY (may be NULL); return the HTTP status. With SUBJECT (cap bytes) non-NULL, the
 * answer's X-Subject-Token lands there. */
int id_fixture_http(const id_fixture_t *self, const char *method, const char *path,
                    const char *token, const char *subject_in, const char *body, char *subject,
                    size_t cap);

/* The agent's HTTP port. */
uint16_t id_fixture_http_port(const id_fixture_t *self);

/* Send METHOD PATH with X-Auth-Token TOKEN (may be NULL) and the JSON BODY (may be NULL) to
 * 127.0.0.1:PORT (any agent's REST port); return the HTTP status. The whole response, headers
 * included, lands in OUT (cap bytes; may be NULL). For tests of the other REST agents too. */
int id_fixture_http_at(uint16_t port, const char *method, const char *path, const char *token,
                       const char *body, char *out, size_t cap);

/* Password-login USER to PROJECT; the token into OUT (cap bytes). Returns the HTTP status. */
int id_fixture_login(const id_fixture_t *self, const char *user, const char *password,
                     const char *project, char *out, size_t cap);

#endif
