/* SPDX-License-Identifier: Apache-2.0 */
/* zn_str.c - string helpers. */
#include "zn_str.h"

#include <ctype.h>
#include <string.h>

#include "zn_mem.h"

char **
zn_str_split(const char *text, char sep, size_t *count)
{
    size_t cap = 1;
    for (const char *p = text; *p != '\0'; p++) {
        cap += *p == sep;
    }
    char **out = zn_calloc(cap + 1, sizeof(*out));
    size_t n = 0;
    const char *start = text;
    for (;;) {
        const char *end = strchr(start, sep);
        const char *stop = end != NULL ? end : start + strlen(start);
        while (start < stop && isspace((unsigned char)*start)) {
            start++;
        }
        const char *last = stop;
        while (last > start && isspace((unsigned char)last[-1])) {
            last--;
        }
        if (last > start) {
            out[n++] = zn_strndup(start, (size_t)(last - start));
        }
        if (end == NULL) {
            break;
        }
        start = end + 1;
    }
    if (count != NULL) {
        *count = n;
    }
    return out;
}

void
zn_strv_free(char ***strv_p)
{
    char **strv = *strv_p;
    if (strv == NULL) {
        return;
    }
    for (char **s = strv; *s != NULL; s++) {
        zn_free(*s);
    }
    zn_free(strv);
    *strv_p = NULL;
}
