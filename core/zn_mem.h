/* SPDX-License-Identifier: Apache-2.0 */
/* zn_mem.h - allocation that aborts on out-of-memory, in one place (STYLE.md section 4.7). */
#ifndef ZN_MEM_H
#define ZN_MEM_H

#include <stdarg.h>
#include <stddef.h>

#include "zn_common.h"

/* Each of these returns usable memory or logs the size and aborts: callers never check for NULL.
 * A zero size yields a valid, unique pointer that must still be freed. */
void *zn_malloc(size_t size);
void *zn_calloc(size_t count, size_t size);
void *zn_realloc(void *ptr, size_t size);
char *zn_strdup(const char *s);
char *zn_strndup(const char *s, size_t len);

/* A newly allocated formatted string, the caller's, released with zn_str_free. */
char *zn_asprintf(const char *fmt, ...) ZN_PRINTF(1, 2);
char *zn_vasprintf(const char *fmt, va_list ap) ZN_PRINTF(1, 0);

/* Free memory from the functions above; NULL is fine. */
void zn_free(void *ptr);

/* Free *s_p and set it to NULL. Does nothing if *s_p is NULL. */
void zn_str_free(char **s_p);

#endif
