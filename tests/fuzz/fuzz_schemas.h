/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_schemas.h - the nested test schema that fuzz_schema decodes and fuzz_corpus_gen seeds. */
#ifndef ZN_FUZZ_SCHEMAS_H
#define ZN_FUZZ_SCHEMAS_H

#include <stddef.h>

#include "zn_schema.h"

typedef struct {
    char *name;
    uint64_t disk_gb;
    double ratio;
} fuzz_flavor_t;

typedef struct {
    char *mac;
    int64_t mtu;
    char **ips;
    size_t ip_count;
} fuzz_nic_t;

typedef struct {
    char *name;
    int64_t vcpus;
    uint64_t memory_mb;
    bool active;
    zn_bytes_t user_data;
    char **tags;
    size_t tag_count;
    fuzz_flavor_t flavor;
    fuzz_nic_t *nics;
    size_t nic_count;
} fuzz_instance_t;

static const zn_field_t fuzz_flavor_fields[] = {
    {"name", ZN_FT_STR, ZN_F_REQUIRED, offsetof(fuzz_flavor_t, name), 0, 64, NULL},
    {"disk_gb", ZN_FT_U64, 0, offsetof(fuzz_flavor_t, disk_gb), 0, 0, NULL},
    {"ratio", ZN_FT_F64, 0, offsetof(fuzz_flavor_t, ratio), 0, 0, NULL},
};

static const zn_schema_t fuzz_flavor_schema = {"flavor", 1, fuzz_flavor_fields, 3,
                                               sizeof(fuzz_flavor_t)};

static const zn_field_t fuzz_nic_fields[] = {
    {"mac", ZN_FT_STR, ZN_F_REQUIRED, offsetof(fuzz_nic_t, mac), 0, 17, NULL},
    {"mtu", ZN_FT_I64, 0, offsetof(fuzz_nic_t, mtu), 0, 0, NULL},
    {"ips", ZN_FT_STRLIST, 0, offsetof(fuzz_nic_t, ips), offsetof(fuzz_nic_t, ip_count), 8, NULL},
};

static const zn_schema_t fuzz_nic_schema = {"nic", 1, fuzz_nic_fields, 3, sizeof(fuzz_nic_t)};

static const zn_field_t fuzz_instance_fields[] = {
    {"name", ZN_FT_STR, ZN_F_REQUIRED, offsetof(fuzz_instance_t, name), 0, 255, NULL},
    {"vcpus", ZN_FT_I64, 0, offsetof(fuzz_instance_t, vcpus), 0, 0, NULL},
    {"memory_mb", ZN_FT_U64, 0, offsetof(fuzz_instance_t, memory_mb), 0, 0, NULL},
    {"active", ZN_FT_BOOL, 0, offsetof(fuzz_instance_t, active), 0, 0, NULL},
    {"user_data", ZN_FT_BIN, 0, offsetof(fuzz_instance_t, user_data), 0, 0, NULL},
    {"tags", ZN_FT_STRLIST, 0, offsetof(fuzz_instance_t, tags),
     offsetof(fuzz_instance_t, tag_count), 16, NULL},
    {"flavor", ZN_FT_OBJ, ZN_F_REQUIRED, offsetof(fuzz_instance_t, flavor), 0, 0,
     &fuzz_flavor_schema},
    {"nics", ZN_FT_OBJLIST, 0, offsetof(fuzz_instance_t, nics),
     offsetof(fuzz_instance_t, nic_count), 8, &fuzz_nic_schema},
};

static const zn_schema_t fuzz_instance_schema = {"instance", 2, fuzz_instance_fields, 8,
                                                 sizeof(fuzz_instance_t)};

#endif
