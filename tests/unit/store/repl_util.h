/* SPDX-License-Identifier: Apache-2.0 */
/* repl_util.h - helpers for the replication tests: free loopback ports, table digests, batches. */
#ifndef ZN_TEST_REPL_UTIL_H
#define ZN_TEST_REPL_UTIL_H

#include <stdint.h>

#include "zn_batch.h"
#include "zn_store.h"

/* A TCP port on 127.0.0.1 that the kernel just handed out (bound to port 0, then released). */
uint16_t repl_free_port(void);

/* The whole "instances" table: record count and a digest over every key, generation and value
 * in key order. Two stores hold the same table exactly when both agree. */
typedef struct repl_digest {
    uint64_t count;
    uint64_t hash;
} repl_digest_t;

repl_digest_t repl_digest(zn_store_t *store);

/* Reset BATCH to one create of instances/k<I> (the key must be absent). */
void repl_create_batch(zn_batch_t *batch, int i);

/* True when instances/k<I> exists in STORE. */
int repl_has_key(zn_store_t *store, int i);

#endif
