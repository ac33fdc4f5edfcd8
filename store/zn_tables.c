/* SPDX-License-Identifier: Apache-2.0 */
/* zn_tables.c - the cluster's table list, and the field extractor most indexes use. */
#include "zn_tables.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "zn_common.h"
#include "zn_mpread.h"

/* An index on the string field NAME. The cast drops const: the store hands ARG back unchanged. */
#define S_FIELD(name)                                                            \
    {                                                                            \
        (name), zn_tables_field_extract, (void *)(uintptr_t)(const void *)(name) \
    }

static const zn_store_index_def_t s_instance_idx[] = {S_FIELD("project_id"), S_FIELD("host"),
                                                      S_FIELD("name"), S_FIELD("task_state")};
static const zn_store_index_def_t s_flavor_idx[] = {S_FIELD("name")};
static const zn_store_index_def_t s_keypair_idx[] = {S_FIELD("user_id")};
static const zn_store_index_def_t s_claim_idx[] = {S_FIELD("host")};
static const zn_store_index_def_t s_group_idx[] = {S_FIELD("project_id")};
static const zn_store_index_def_t s_image_idx[] = {S_FIELD("owner"), S_FIELD("name")};
static const zn_store_index_def_t s_network_idx[] = {S_FIELD("project_id"), S_FIELD("name")};
static const zn_store_index_def_t s_subnet_idx[] = {S_FIELD("network_id")};
static const zn_store_index_def_t s_port_idx[] = {S_FIELD("network_id"), S_FIELD("device_id"),
                                                  S_FIELD("project_id")};
static const zn_store_index_def_t s_volume_idx[] = {S_FIELD("project_id"), S_FIELD("instance_id")};

static const zn_tables_pair_t s_domain_name = {"domain_id", "name"};
#define S_NAMED(index, field)                                                      \
    {                                                                              \
        (index), zn_tables_field_extract, (void *)(uintptr_t)(const void *)(field) \
    }
static const zn_store_index_def_t s_id_by_name[] = {S_NAMED("by_name", "name")};
static const zn_store_index_def_t s_id_by_domain_name[] = {
    {"by_name", zn_tables_pair_extract, (void *)(uintptr_t)(const void *)&s_domain_name}};
static const zn_store_index_def_t s_id_assignment_idx[] = {S_NAMED("by_user", "user_id"),
                                                           S_NAMED("by_project", "project_id")};

#define S_TABLE(name, idx)                \
    {                                     \
        name, 1, idx, ZN_ARRAY_COUNT(idx) \
    }
#define S_PLAIN(name)    \
    {                    \
        name, 1, NULL, 0 \
    }

static const zn_store_table_def_t s_tables[] = {
    S_PLAIN(ZN_TABLE_SETTINGS),
    S_TABLE(ZN_TABLE_INSTANCES, s_instance_idx),
    S_PLAIN(ZN_TABLE_INSTANCE_EVENTS),
    S_TABLE(ZN_TABLE_FLAVORS, s_flavor_idx),
    S_TABLE(ZN_TABLE_KEYPAIRS, s_keypair_idx),
    S_PLAIN(ZN_TABLE_HOSTS),
    S_PLAIN(ZN_TABLE_HOST_USAGE),
    S_TABLE(ZN_TABLE_CLAIMS, s_claim_idx),
    S_PLAIN(ZN_TABLE_QUOTA_USAGE),
    S_PLAIN(ZN_TABLE_QUOTAS),
    S_TABLE(ZN_TABLE_SERVER_GROUPS, s_group_idx),
    S_TABLE(ZN_TABLE_IMAGES, s_image_idx),
    S_TABLE(ZN_TABLE_NETWORKS, s_network_idx),
    S_TABLE(ZN_TABLE_SUBNETS, s_subnet_idx),
    S_TABLE(ZN_TABLE_PORTS, s_port_idx),
    S_PLAIN(ZN_TABLE_IPS),
    S_PLAIN(ZN_TABLE_MACS),
    S_TABLE(ZN_TABLE_VOLUMES, s_volume_idx),
    S_TABLE(ZN_TABLE_ID_DOMAINS, s_id_by_name),
    S_TABLE(ZN_TABLE_ID_PROJECTS, s_id_by_domain_name),
    S_TABLE(ZN_TABLE_ID_USERS, s_id_by_domain_name),
    S_TABLE(ZN_TABLE_ID_ROLES, s_id_by_name),
    S_TABLE(ZN_TABLE_ID_ASSIGNMENTS, s_id_assignment_idx),
    S_PLAIN(ZN_TABLE_ID_SERVICES),
    S_PLAIN(ZN_TABLE_ID_ENDPOINTS),
    S_PLAIN(ZN_TABLE_ID_REVOCATIONS),
};

const zn_store_table_def_t *
zn_tables(size_t *count)
{
    *count = ZN_ARRAY_COUNT(s_tables);
    return s_tables;
}

/* The string value of top-level FIELD of map RECORD into *out (empty when absent or not a
 * string). Returns 0, or -EINVAL when RECORD is not a well-formed map. */
static int
s_field(zn_buf_t record, const char *field, zn_buf_t *out)
{
    size_t field_len = strlen(field);
    *out = (zn_buf_t){NULL, 0};
    zn_mpread_t reader;
    zn_mpval_t v;
    zn_mpread_init(&reader, record);
    if (zn_mpread_next(&reader, &v, NULL) < 0 || v.type != ZN_MPT_MAP) {
        return -EINVAL;
    }
    for (uint64_t i = 0, n = v.v.count; i < n; i++) {
        zn_mpval_t key;
        zn_mpval_t value;
        if (zn_mpread_next(&reader, &key, NULL) < 0 || zn_mpread_next(&reader, &value, NULL) < 0) {
            return -EINVAL;
        }
        bool match = key.type == ZN_MPT_STR && key.v.bytes.len == field_len &&
                     memcmp(key.v.bytes.ptr, field, field_len) == 0;
        if (match && value.type == ZN_MPT_STR) {
            *out = value.v.bytes;
            return 0;
        }
        if (zn_mpread_skip_contents(&reader, &value, NULL) < 0) {
            return -EINVAL;
        }
    }
    return 0;
}

int
zn_tables_field_extract(zn_buf_t record, uint32_t record_version, zn_store_keys_t *keys, void *arg)
{
    (void)record_version;
    zn_buf_t value;
    int rc = s_field(record, arg, &value);
    if (rc == 0 && value.len > 0) {
        rc = zn_store_keys_add(keys, value);
    }
    return rc;
}

int
zn_tables_pair_extract(zn_buf_t record, uint32_t record_version, zn_store_keys_t *keys, void *arg)
{
    (void)record_version;
    const zn_tables_pair_t *pair = arg;
    zn_buf_t a = {NULL, 0};
    zn_buf_t b = {NULL, 0};
    int rc = s_field(record, pair->a, &a);
    if (rc == 0) {
        rc = s_field(record, pair->b, &b);
    }
    if (rc < 0 || b.len == 0) {
        return rc;
    }
    if (a.len + 1 + b.len > ZN_STORE_INDEX_VALUE_MAX_BYTES) {
        return ZN_ETOOBIG;
    }
    uint8_t joined[ZN_STORE_INDEX_VALUE_MAX_BYTES];
    if (a.len > 0) {
        memcpy(joined, a.ptr, a.len);
    }
    joined[a.len] = '/';
    memcpy(joined + a.len + 1, b.ptr, b.len);
    return zn_store_keys_add(keys, (zn_buf_t){joined, a.len + 1 + b.len});
}
