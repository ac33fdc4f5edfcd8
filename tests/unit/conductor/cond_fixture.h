/* SPDX-License-Identifier: Apache-2.0 */
/* cond_fixture.h - a real zinc-conductor (store node included) as an in-process actor, on free
 * loopback ports and a temporary data directory, for tests and benchmarks. */
#ifndef COND_FIXTURE_H
#define COND_FIXTURE_H

typedef struct cond_fixture cond_fixture_t;

/* Start a conductor with SETTINGS ("section.key=value" lines, may be NULL) applied over the
 * test defaults, and wait until its store has a leader. Aborts on failure. */
cond_fixture_t *cond_fixture_start(const char *const *settings);

void cond_fixture_stop(cond_fixture_t **fix_p);

const char *cond_fixture_call(const cond_fixture_t *fix);
const char *cond_fixture_cast(const cond_fixture_t *fix);

/* The store replica directory (what zn_sclient's data_dir names). */
const char *cond_fixture_store_dir(const cond_fixture_t *fix);

#endif
