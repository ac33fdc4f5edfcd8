/* SPDX-License-Identifier: Apache-2.0 */
/* zn_tables.h - the cluster's tables: the one list every process that opens the shared store
 * passes to zn_store_open, so that the writer (the conductor) and every local reader agree on
 * names, versions and indexes. A new table or index is one row here. */
#ifndef ZN_TABLES_H
#define ZN_TABLES_H

#include <stddef.h>

#include "zn_store.h"

/* Cluster-wide settings an operator changes at run time (for example a host disabled for
 * scheduling): key = setting name, value = opaque bytes. */
#define ZN_TABLE_SETTINGS "settings"

/* The table definitions, valid for the life of the process. */
const zn_store_table_def_t *zn_tables(size_t *count);

#endif
