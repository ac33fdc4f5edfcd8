/* SPDX-License-Identifier: Apache-2.0 */
/* zn_tables.h - the cluster's tables: the one list every process that opens the shared store
 * passes to zn_store_open, so that the writer (the conductor) and every local reader agree on
 * names, versions and indexes. A new table or index is one row in zn_tables.c.
 *
 * Records are zn_schema maps (keyed by field name), so most indexes are "the string field F of
 * the record": zn_tables_field_extract with F as its argument. The record schemas live with
 * the agent that owns the table (docs/flow.md lists who writes what). */
#ifndef ZN_TABLES_H
#define ZN_TABLES_H

#include <stddef.h>

#include "zn_store.h"

/* Cluster-wide settings an operator changes at run time: key = setting name, value = bytes. */
#define ZN_TABLE_SETTINGS "settings"

/* The compute cell (api, scheduler, conductor): agents/cell/zn_cellrec.h has the schemas. */
#define ZN_TABLE_INSTANCES       "instances"       /* id -> instance; idx project, host, name */
#define ZN_TABLE_INSTANCE_EVENTS "instance_events" /* "ID/SEQ(20 digits)" -> action event */
#define ZN_TABLE_FLAVORS         "flavors"         /* id -> flavor; idx name */
#define ZN_TABLE_KEYPAIRS        "keypairs"        /* "USER_ID/NAME" -> keypair; idx user */
#define ZN_TABLE_HOSTS           "hosts"           /* host -> resources as last reported */
#define ZN_TABLE_HOST_USAGE      "host_usage"      /* host -> claimed totals (CAS by schedulers) */
#define ZN_TABLE_CLAIMS          "claims"          /* instance id -> claim; idx host */
#define ZN_TABLE_QUOTA_USAGE     "quota_usage"     /* project -> instances/cores/ram in use (CAS) */
#define ZN_TABLE_QUOTAS          "quotas"          /* project -> limits (absent: defaults) */
#define ZN_TABLE_SERVER_GROUPS   "server_groups"   /* id -> group (policy, members); idx project */

/* Images (agents/image). */
#define ZN_TABLE_IMAGES "images" /* id -> image; idx owner, name */

/* Networks (agents/network). */
#define ZN_TABLE_NETWORKS "networks"   /* id -> network; idx project, name */
#define ZN_TABLE_SUBNETS  "subnets"    /* id -> subnet; idx network */
#define ZN_TABLE_PORTS    "ports"      /* id -> port; idx network, device, project */
#define ZN_TABLE_IPS      "ip_allocs"  /* "SUBNET_ID/ADDRESS" -> port id (create-only: unique) */
#define ZN_TABLE_MACS     "mac_allocs" /* "aa:bb:.." -> port id (create-only: unique) */

/* Volumes (agents/volume). */
#define ZN_TABLE_VOLUMES "volumes" /* id -> volume; idx project, instance */

/* Identity (agents/identity/zn_idstore.c has the schemas). Names are unique per index value:
 * "DOMAIN_ID/NAME" for projects and users, the name alone for domains and roles. */
#define ZN_TABLE_ID_DOMAINS     "id_domains"
#define ZN_TABLE_ID_PROJECTS    "id_projects"
#define ZN_TABLE_ID_USERS       "id_users"
#define ZN_TABLE_ID_ROLES       "id_roles"
#define ZN_TABLE_ID_ASSIGNMENTS "id_assignments" /* idx by_user, by_project */
#define ZN_TABLE_ID_SERVICES    "id_services"
#define ZN_TABLE_ID_ENDPOINTS   "id_endpoints"
#define ZN_TABLE_ID_REVOCATIONS "id_revocations"

/* The table definitions, valid for the life of the process. */
const zn_store_table_def_t *zn_tables(size_t *count);

/* An index extractor for zn_store_index_def_t: ARG is a field name (const char *); adds the
 * record's top-level string field of that name when present and not empty. A record that is
 * not a map is refused (-EINVAL). */
int zn_tables_field_extract(zn_buf_t record, uint32_t record_version, zn_store_keys_t *keys,
                            void *arg);

/* The fields a zn_tables_pair_extract index joins: "A/B" (A may be missing: "/B"). */
typedef struct zn_tables_pair {
    const char *a;
    const char *b;
} zn_tables_pair_t;

/* An index extractor whose ARG is a const zn_tables_pair_t *: adds "A/B" from the record's
 * top-level string fields when B is present. */
int zn_tables_pair_extract(zn_buf_t record, uint32_t record_version, zn_store_keys_t *keys,
                           void *arg);

#endif
