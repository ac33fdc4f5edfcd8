/* SPDX-License-Identifier: Apache-2.0 */
/* api_fixture.h - zinc-api in-process with a real conductor (and its store) and a real,
 * bootstrapped identity, three callers (admin; alice, member of "demo"; bob, member of
 * "other"), and a blocking HTTP client that parses the JSON answers. Tests only: aborts on
 * failure. */
#ifndef API_FIXTURE_H
#define API_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

typedef struct api_fixture api_fixture_t;

typedef enum {
    API_ADMIN = 0, /* admin on project admin */
    API_ALICE,     /* member on project demo */
    API_BOB,       /* member on project other */
    API_CALLERS,
} api_caller_t;

/* Start conductor, identity and api; SETTINGS ("section.key=value", NULL-terminated, may be
 * NULL) go over the api's test defaults. */
api_fixture_t *api_fixture_start(const char *const *settings);

/* Run after the conductor and identity started, before the api does: starts more agents and
 * adds api settings with api_fixture_set. */
typedef void(api_fixture_hook_fn)(api_fixture_t *fix, void *arg);

/* As api_fixture_start, with COND_SETTINGS over the conductor's test defaults and HOOK. */
api_fixture_t *api_fixture_start_with(const char *const *settings, const char *const *cond_settings,
                                      api_fixture_hook_fn *hook, void *arg);

/* One more api setting ("section.key=value"), from a hook. */
void api_fixture_set(api_fixture_t *fix, const char *assignment);

void api_fixture_stop(api_fixture_t **fix_p);

uint16_t api_fixture_port(const api_fixture_t *fix);

/* The conductor's call and cast endpoints and its store directory (for agents a test adds). */
const char *api_fixture_conductor_call(const api_fixture_t *fix);
const char *api_fixture_conductor_cast(const api_fixture_t *fix);
const char *api_fixture_store_dir(const api_fixture_t *fix);
const char *api_fixture_identity_call(const api_fixture_t *fix);

const char *api_fixture_token(const api_fixture_t *fix, api_caller_t who);
const char *api_fixture_project(const api_fixture_t *fix, api_caller_t who);

/* Send METHOD PATH (below /v2.1 unless it starts with '!': then PATH+1 as is) as WHO (-1: no
 * token) with BODY (may be NULL) and EXTRA header lines ("Name: value\r\n...", may be NULL).
 * Returns the status; *out (may be NULL) gets the parsed JSON body (NULL when none), and
 * HEADERS (may be NULL, cap bytes) the raw header block. */
int api_fixture_http(const api_fixture_t *fix, const char *method, const char *path, int who,
                     const char *body, const char *extra, json_t **out, char *headers, size_t cap);

/* Send COUNT requests at once on COUNT connections (all written before any answer is read);
 * STATUSES gets each one's status. For races. */
void api_fixture_http_burst(const api_fixture_t *fix, const char *method, const char *path, int who,
                            const char *body, size_t count, int *statuses);

/* Poll GET PATH as WHO until its status is WANT_STATUS and, when FIELD is not NULL, the
 * string at "server"."FIELD" equals WANT (up to TIMEOUT_MS). Returns true when it did. */
bool api_fixture_wait_server(const api_fixture_t *fix, const char *path, int who, int want_status,
                             const char *field, const char *want, int timeout_ms);

#endif
