/* SPDX-License-Identifier: Apache-2.0 */
/* vol_fixture.h - a real zinc-volume in-process (a czmq actor) with a real conductor and a
 * real identity beside it, temp dirs and free loopback ports, plus a blocking HTTP client that
 * returns the JSON answer (tests and bench/bench_volume). */
#ifndef VOL_FIXTURE_H
#define VOL_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

typedef struct vol_fixture vol_fixture_t;

/* Start conductor, identity (admin/secret on project admin) and volume with SETTINGS
 * ("section.key=value", NULL-terminated, may be NULL) applied to the volume agent after the
 * fixture's own. Aborts on failure. */
vol_fixture_t *vol_fixture_start(const char *const *settings);

void vol_fixture_stop(vol_fixture_t **fix_p);

/* In two steps, to start more agents between them (vol_fixture_image.c): conductor and
 * identity, then the volume agent with SETTINGS. */
vol_fixture_t *vol_fixture_new(void);

/* The same with CURVE on every ZeroMQ link, keys from KEYS_DIR (identity.key, conductor.key,
 * volume.key and the .pub of every client to accept). */
vol_fixture_t *vol_fixture_new_curve(const char *keys_dir);
void vol_fixture_run(vol_fixture_t *fix, const char *const *settings);

const char *vol_fixture_conductor_call(const vol_fixture_t *fix);
const char *vol_fixture_store_dir(const vol_fixture_t *fix);
const char *vol_fixture_identity_call(const vol_fixture_t *fix);

/* Something more the fixture runs: STOP(EXTRA) runs in vol_fixture_stop after the volume
 * agent stopped and before identity and conductor do. */
typedef void(vol_fixture_extra_fn)(void *extra);
void vol_fixture_set_extra(vol_fixture_t *fix, void *extra, vol_fixture_extra_fn *stop);
void *vol_fixture_extra(const vol_fixture_t *fix);

/* With a real zinc-image beside them (img_fixture; vol_fixture_image.c, library
 * zn_volume_image_fixture), the volume agent's [peers] image_call pointing at it. */
vol_fixture_t *vol_fixture_start_image(const char *const *settings);

/* That image agent's REST port. */
uint16_t vol_fixture_image_port(const vol_fixture_t *fix);

/* The volume agent's REST port and call endpoint; identity's REST port. */
uint16_t vol_fixture_port(const vol_fixture_t *fix);
const char *vol_fixture_call(const vol_fixture_t *fix);
uint16_t vol_fixture_identity_port(const vol_fixture_t *fix);

/* The admin's token and project id. Borrowed. */
const char *vol_fixture_admin_token(const vol_fixture_t *fix);
const char *vol_fixture_admin_project(const vol_fixture_t *fix);

/* Create project PROJECT and user USER (password "pw") with the member role there, log in:
 * the token into TOKEN (cap TOKEN_CAP) and the project id into PROJECT_ID (cap 64). */
void vol_fixture_user(vol_fixture_t *fix, const char *project, const char *user, char *token,
                      size_t token_cap, char *project_id);

/* METHOD PATH on 127.0.0.1:PORT with X-Auth-Token TOKEN (may be NULL) and BODY (may be
 * NULL). Returns the status; *json (may be NULL) gets the parsed body or NULL; with SUBJECT,
 * the X-Subject-Token header lands there (cap bytes). */
int vol_fixture_http(uint16_t port, const char *method, const char *path, const char *token,
                     const char *body, json_t **json, char *subject, size_t cap);

/* PUT LEN bytes of DATA as application/octet-stream (an image upload). Returns the status. */
int vol_fixture_upload(uint16_t port, const char *path, const char *token, const void *data,
                       size_t len);

/* The backing file of volume ID (the file driver's) into OUT (cap bytes). */
void vol_fixture_volume_path(const vol_fixture_t *fix, const char *id, char *out, size_t cap);

#endif
