/* SPDX-License-Identifier: Apache-2.0 */
/* zn_ctl_table.h - how zincctl shows answers to people: aligned tables and key = value lines. */
#ifndef ZN_CTL_TABLE_H
#define ZN_CTL_TABLE_H

#include <stddef.h>
#include <stdio.h>

#include "zn_buf.h"
#include "zn_common.h"
#include "zn_err.h"

#define ZN_CTL_TABLE_MAX_COLUMNS 8

/* Rows of text cells, printed with aligned columns under a header. */
typedef struct zn_ctl_table zn_ctl_table_t;

/* A table with COUNT columns named by HEADERS (borrowed; must outlive the table). */
zn_ctl_table_t *zn_ctl_table_new(const char *const *headers, size_t count);

void zn_ctl_table_destroy(zn_ctl_table_t **self_p);

/* Append a row; CELLS has one string per column (copied; NULL shows as "-"). */
void zn_ctl_table_add(zn_ctl_table_t *self, const char *const *cells);

void zn_ctl_table_print(const zn_ctl_table_t *self, FILE *out);

/* Print one MessagePack value as "path = value" lines, nested keys joined with dots.
 * Returns 0 or -EBADMSG with FAULT when BYTES are malformed. */
ZN_MUST_CHECK int zn_ctl_print_flat(zn_buf_t bytes, FILE *out, zn_fault_t *fault);

#endif
