/* SPDX-License-Identifier: Apache-2.0 */
/* zn_common.h - attributes and tiny macros every zinc module uses. */
#ifndef ZN_COMMON_H
#define ZN_COMMON_H

#include <stddef.h>

/* Mark every function that returns an error code: ignoring it is a compile error under -Werror. */
#define ZN_MUST_CHECK __attribute__((warn_unused_result))

/* printf-style argument checking for FMT at position F with arguments from position A. */
#define ZN_PRINTF(f, a) __attribute__((format(printf, f, a)))

#define ZN_ARRAY_COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Stays on in release builds: a broken invariant is our bug and must stop the agent loudly. */
#define ZN_ASSERT(cond)                                \
    do {                                               \
        if (__builtin_expect(!(cond), 0)) {            \
            zn_assert_fail(#cond, __FILE__, __LINE__); \
        }                                              \
    } while (0)

/* Log FILE:LINE and the failed condition, then abort. Only ZN_ASSERT calls this. */
__attribute__((noreturn)) void zn_assert_fail(const char *cond, const char *file, int line);

#endif
