/* SPDX-License-Identifier: Apache-2.0 */
/* img_fixture.h - a real zinc-image as an in-process actor on free loopback ports, using a
 * conductor's store (cond_fixture) and an identity agent (id_fixture), for tests and
 * bench/bench_image. */
#ifndef IMG_FIXTURE_H
#define IMG_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

typedef struct img_fixture img_fixture_t;

/* Start an image agent whose store writes go to CONDUCTOR_CALL, reading the replica in
 * REPLICA_DIR, validating tokens with the identity agent at IDENTITY_CALL; SETTINGS
 * ("section.key=value", NULL-terminated, may be NULL) apply last. Aborts on failure. */
img_fixture_t *img_fixture_start(const char *conductor_call, const char *replica_dir,
                                 const char *identity_call, const char *const *settings);

void img_fixture_stop(img_fixture_t **fix_p);

uint16_t img_fixture_http_port(const img_fixture_t *fix);
const char *img_fixture_call(const img_fixture_t *fix);

/* METHOD PATH with TOKEN and BODY (may be NULL) to the agent's REST API; the response body
 * (after the headers) into OUT (cap bytes). Returns the HTTP status. */
int img_fixture_http(const img_fixture_t *fix, const char *method, const char *path,
                     const char *token, const char *body, char *out, size_t cap);

#endif
