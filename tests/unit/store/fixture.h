/* SPDX-License-Identifier: Apache-2.0 */
/* fixture.h - shared helpers for the store tests: temp dirs and an "instances" table whose
 * records are text like "project=p1;host=h1;state=ACTIVE;tags=a,b". */
#ifndef ZN_TEST_STORE_FIXTURE_H
#define ZN_TEST_STORE_FIXTURE_H

#include <stdint.h>

#include "zn_store.h"

/* A new directory under /tmp (the caller's, removed with fixture_rmdir). Aborts on failure. */
char *fixture_tmpdir(void);

/* Remove DIR and everything in it, free the string and set *dir_p to NULL. */
void fixture_rmdir(char **dir_p);

/* The "instances" table: indexes by_project, by_host, by_state and by_tag (one value per tag).
 * RECORD_VERSION is 1. */
extern const zn_store_table_def_t fixture_instances;

/* Open the store at DIR with the instances table; asserts success. */
zn_store_t *fixture_open(const char *dir);

/* Apply one put of VALUE at instances/KEY with EXPECT_GEN; returns zn_store_apply's result. */
int fixture_put(zn_store_t *store, const char *key, const char *value, uint64_t expect_gen);

/* Check that every record's index entries exist and every index entry has its record, for
 * all indexes of the instances table; returns the number of records, or -1 on a mismatch. */
long fixture_check_consistent(zn_store_t *store);

#endif
