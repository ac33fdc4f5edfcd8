/* SPDX-License-Identifier: Apache-2.0 */
/* zn_mem.c - allocation that aborts on out-of-memory. */
#include "zn_mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((noreturn)) static void
s_out_of_memory(size_t size)
{
    /* No allocation here: the log module might need memory we do not have. */
    fprintf(stderr, "E zinc out of memory size=%zu, aborting\n", size);
    abort();
}

void *
zn_malloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (p == NULL) {
        s_out_of_memory(size);
    }
    return p;
}

void *
zn_calloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (p == NULL) {
        s_out_of_memory(count * size);
    }
    return p;
}

void *
zn_realloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size ? size : 1);
    if (p == NULL) {
        s_out_of_memory(size);
    }
    return p;
}

char *
zn_strdup(const char *s)
{
    return zn_strndup(s, strlen(s));
}

char *
zn_strndup(const char *s, size_t len)
{
    size_t n = strnlen(s, len);
    char *p = zn_malloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *
zn_vasprintf(const char *fmt, va_list ap)
{
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    ZN_ASSERT(n >= 0);
    char *p = zn_malloc((size_t)n + 1);
    (void)vsnprintf(p, (size_t)n + 1, fmt, ap);
    return p;
}

char *
zn_asprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = zn_vasprintf(fmt, ap);
    va_end(ap);
    return p;
}

void
zn_free(void *ptr)
{
    free(ptr);
}

void
zn_str_free(char **s_p)
{
    if (s_p != NULL && *s_p != NULL) {
        free(*s_p);
        *s_p = NULL;
    }
}
