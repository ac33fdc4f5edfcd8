/* SPDX-License-Identifier: Apache-2.0 */
/* zn_tables.c - the cluster's table list. */
#include "zn_tables.h"

static const zn_store_table_def_t s_tables[] = {
    {ZN_TABLE_SETTINGS, 1, NULL, 0},
};

const zn_store_table_def_t *
zn_tables(size_t *count)
{
    *count = sizeof(s_tables) / sizeof(s_tables[0]);
    return s_tables;
}
