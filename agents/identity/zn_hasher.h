/* SPDX-License-Identifier: Apache-2.0 */
/* zn_hasher.h - Argon2id off the loop: a czmq actor that hashes and verifies passwords and
 * reports each result back over its pipe, so that a ~170 ms hash never stalls the agent.
 * Passwords cross the pipe in ZeroMQ frames that are wiped once read. */
#ifndef ZN_HASHER_H
#define ZN_HASHER_H

#include <stdbool.h>
#include <stdint.h>

#include <czmq.h>

#include "zn_err.h"
#include "zn_password.h"

typedef struct zn_hasher zn_hasher_t;

/* A finished job: for a verification MATCH says whether the password matched; for a hash,
 * HASH is the new hash (borrowed for the call) or NULL when hashing failed. Loop thread. */
typedef void(zn_hasher_done_fn)(void *arg, uint64_t job, bool match, const char *hash);

/* Start the worker thread, hashing at COST. A dummy hash at that cost is made at start so that
 * verifications for unknown users take as long as real ones. */
zn_hasher_t *zn_hasher_new(zn_password_cost_t cost);

/* Stop the worker (after its current job) and free. No-op on NULL. */
void zn_hasher_destroy(zn_hasher_t **self_p);

/* Deliver results to FN with ARG on LOOP. Returns 0 or -EINVAL. */
ZN_MUST_CHECK int zn_hasher_attach(zn_hasher_t *self, zloop_t *loop, zn_hasher_done_fn *fn,
                                   void *arg);

/* Queue a verification of PASSWORD (LEN bytes) against HASH (NULL: the dummy; never matches).
 * The answer comes to the done function as JOB. Returns 0 or -EIO. */
ZN_MUST_CHECK int zn_hasher_verify(zn_hasher_t *self, uint64_t job, const char *hash,
                                   const char *password, size_t len);

/* Queue hashing PASSWORD (LEN bytes). Returns 0 or -EIO. */
ZN_MUST_CHECK int zn_hasher_hash(zn_hasher_t *self, uint64_t job, const char *password, size_t len);

/* Jobs queued and not answered yet. */
size_t zn_hasher_pending(const zn_hasher_t *self);

#endif
