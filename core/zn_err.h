/* SPDX-License-Identifier: Apache-2.0 */
/* zn_err.h - zinc's error codes, zn_strerror, and faults that carry words with the number. */
#ifndef ZN_ERR_H
#define ZN_ERR_H

#include <stdbool.h>

#include "zn_common.h"

/* zinc's own codes live in a range of their own, -20001 and down, clear of errno and of LMDB
 * (whose codes sit around -30800). One row each: name, value, message. */
#define ZN_ERR_TABLE(X)                                                                     \
    X(ZN_EUSAGE, -20001, "bad command line")                                                \
    X(ZN_ECONFIG, -20002, "bad configuration")                                              \
    X(ZN_EDONE, -20003, "nothing more to do")                                               \
    X(ZN_EVERSION, -20004, "protocol or schema version not supported")                      \
    X(ZN_ECONFLICT, -20005, "generation conflict: the record changed underneath")           \
    X(ZN_ENOQUORUM, -20006, "no quorum: this store node cannot commit")                     \
    X(ZN_EUNAVAIL, -20007, "service unavailable")                                           \
    X(ZN_ENOVALIDHOST, -20008, "no valid host found")                                       \
    X(ZN_EQUOTA, -20009, "quota exceeded")                                                  \
    X(ZN_EAUTH, -20010, "authentication failed")                                            \
    X(ZN_EFORBIDDEN, -20011, "forbidden by policy")                                         \
    X(ZN_ETOOBIG, -20012, "input exceeds a size limit")                                     \
    X(ZN_EMETHOD, -20013, "unknown method")                                                 \
    X(ZN_EINTERNAL, -20014, "internal error")                                               \
    X(ZN_EUNKNOWN, -20015, "outcome unknown: the request may or may not have been applied") \
    X(ZN_EDUPLICATE, -20016, "duplicate message: already handled")

enum {
#define ZN_ERR_ENUM(name, value, text) name = (value),
    ZN_ERR_TABLE(ZN_ERR_ENUM)
#undef ZN_ERR_ENUM
};

/* Words for RC: a negative errno, a zinc code, or 0. Never NULL; the string is static. */
const char *zn_strerror(int rc);

/* The symbolic name of RC ("ENOENT", "ZN_ECONFLICT"), or "E?" when unknown. Static string. */
const char *zn_errname(int rc);

/* Map a symbolic name back to its code; 0 when unknown. Used by failpoints and tests. */
int zn_errcode(const char *name);

#define ZN_FAULT_MESSAGE_MAX 512

/* The words that go with an error code, for an HTTP error body, an RPC error reply or an
 * instance fault. Owned by the caller, usually on its stack. */
typedef struct zn_fault {
    int code;
    char message[ZN_FAULT_MESSAGE_MAX];
} zn_fault_t;

/* Fill FAULT (which may be NULL) with CODE and a formatted message; return CODE, so that one
 * line both records and returns: `return zn_fault_set(fault, -EINVAL, "flavor %s: unknown", id);`.
 * A message longer than the buffer is cut with "..." at the end. */
int zn_fault_set(zn_fault_t *fault, int code, const char *fmt, ...) ZN_PRINTF(3, 4);

/* Reset FAULT to code 0 and an empty message. */
void zn_fault_clear(zn_fault_t *fault);

/* FAULT's message, or zn_strerror(code) when no message was set. Borrowed from FAULT. */
const char *zn_fault_message(const zn_fault_t *fault);

#endif
