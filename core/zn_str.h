/* SPDX-License-Identifier: Apache-2.0 */
/* zn_str.h - small string helpers the C library lacks. */
#ifndef ZN_STR_H
#define ZN_STR_H

#include <stddef.h>

/* Split TEXT at SEP into a NULL-terminated array of trimmed, non-empty strings; *count (optional)
 * gets their number. The array and strings are the caller's: zn_strv_free. */
char **zn_str_split(const char *text, char sep, size_t *count);

/* Free an array from zn_str_split and set *strv_p to NULL. */
void zn_strv_free(char ***strv_p);

#endif
