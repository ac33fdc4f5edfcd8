/* SPDX-License-Identifier: Apache-2.0 */
/* zn_cellrec.c - the cell's record schemas and the instance state table. */
#include "zn_cellrec.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "zn_common.h"
#include "zn_mem.h"

/* ---- states ------------------------------------------------------------------------------- */

static const char *const s_vm_names[ZN_VM_COUNT] = {"building", "active", "stopped", "error",
                                                    "deleted"};

static const char *const s_task_names[ZN_TASK_COUNT] = {
    NULL,           "scheduling",  "networking", "block_device_mapping", "spawning",
    "powering-off", "powering-on", "rebooting",  "rebooting_hard",       "deleting"};

const char *
zn_vm_state_name(zn_vm_state_t state)
{
    return (unsigned)state < ZN_VM_COUNT ? s_vm_names[state] : "error";
}

const char *
zn_task_state_name(zn_task_state_t state)
{
    return (unsigned)state < ZN_TASK_COUNT ? s_task_names[state] : NULL;
}

int
zn_vm_state_parse(const char *name, zn_vm_state_t *out)
{
    for (int i = 0; name != NULL && i < ZN_VM_COUNT; i++) {
        if (strcmp(name, s_vm_names[i]) == 0) {
            *out = (zn_vm_state_t)i;
            return 0;
        }
    }
    return -EINVAL;
}

int
zn_task_state_parse(const char *name, zn_task_state_t *out)
{
    if (name == NULL || name[0] == '\0') {
        *out = ZN_TASK_NONE;
        return 0;
    }
    for (int i = 1; i < ZN_TASK_COUNT; i++) {
        if (strcmp(name, s_task_names[i]) == 0) {
            *out = (zn_task_state_t)i;
            return 0;
        }
    }
    return -EINVAL;
}

const char *
zn_cellrec_status(zn_vm_state_t vm, zn_task_state_t task)
{
    switch (vm) {
    case ZN_VM_BUILDING:
        return "BUILD";
    case ZN_VM_ACTIVE:
        if (task == ZN_TASK_REBOOTING) {
            return "REBOOT";
        }
        return task == ZN_TASK_REBOOTING_HARD ? "HARD_REBOOT" : "ACTIVE";
    case ZN_VM_STOPPED:
        return "SHUTOFF";
    case ZN_VM_DELETED:
        return "DELETED";
    default:
        return "ERROR";
    }
}

/* Which task may start from which vm_state (an idle instance: task NONE). A task ends by
 * returning to NONE with the vm_state its outcome gives; deleting may start from anything. */
typedef struct {
    zn_task_state_t task;
    uint32_t from_vm; /* bit per zn_vm_state_t */
} s_task_rule_t;

#define S_BIT(vm) (1u << (vm))

static const s_task_rule_t s_task_rules[] = {
    {ZN_TASK_SCHEDULING, S_BIT(ZN_VM_BUILDING)},
    {ZN_TASK_NETWORKING, S_BIT(ZN_VM_BUILDING)},
    {ZN_TASK_BLOCK_DEVICE_MAPPING, S_BIT(ZN_VM_BUILDING)},
    {ZN_TASK_SPAWNING, S_BIT(ZN_VM_BUILDING)},
    {ZN_TASK_POWERING_OFF, S_BIT(ZN_VM_ACTIVE)},
    {ZN_TASK_POWERING_ON, S_BIT(ZN_VM_STOPPED)},
    {ZN_TASK_REBOOTING, S_BIT(ZN_VM_ACTIVE)},
    {ZN_TASK_REBOOTING_HARD, S_BIT(ZN_VM_ACTIVE) | S_BIT(ZN_VM_STOPPED) | S_BIT(ZN_VM_ERROR)},
    {ZN_TASK_DELETING,
     S_BIT(ZN_VM_BUILDING) | S_BIT(ZN_VM_ACTIVE) | S_BIT(ZN_VM_STOPPED) | S_BIT(ZN_VM_ERROR)},
};

/* The vm_states an idle instance may reach when task FROM_TASK ends. */
static uint32_t
s_task_outcomes(zn_task_state_t from_task, zn_vm_state_t from_vm)
{
    switch (from_task) {
    case ZN_TASK_NONE:
        /* The power-sync loop may find a domain stopped or running behind zinc's back. */
        return S_BIT(from_vm) | (from_vm == ZN_VM_ACTIVE ? S_BIT(ZN_VM_STOPPED) : 0) |
               (from_vm == ZN_VM_STOPPED ? S_BIT(ZN_VM_ACTIVE) : 0) | S_BIT(ZN_VM_ERROR);
    case ZN_TASK_DELETING:
        return S_BIT(ZN_VM_DELETED) | S_BIT(ZN_VM_ERROR) | S_BIT(from_vm);
    case ZN_TASK_POWERING_OFF:
        return S_BIT(ZN_VM_STOPPED) | S_BIT(ZN_VM_ACTIVE) | S_BIT(ZN_VM_ERROR);
    case ZN_TASK_POWERING_ON:
    case ZN_TASK_REBOOTING:
    case ZN_TASK_REBOOTING_HARD:
        return S_BIT(ZN_VM_ACTIVE) | S_BIT(ZN_VM_STOPPED) | S_BIT(ZN_VM_ERROR);
    default: /* the build tasks */
        return S_BIT(ZN_VM_ACTIVE) | S_BIT(ZN_VM_ERROR);
    }
}

static bool
s_may_start(zn_task_state_t task, zn_vm_state_t vm)
{
    for (size_t i = 0; i < ZN_ARRAY_COUNT(s_task_rules); i++) {
        if (s_task_rules[i].task == task) {
            return (s_task_rules[i].from_vm & S_BIT(vm)) != 0;
        }
    }
    return false;
}

static bool
s_is_build_task(zn_task_state_t task)
{
    return task >= ZN_TASK_SCHEDULING && task <= ZN_TASK_SPAWNING;
}

int
zn_cellrec_transition(zn_vm_state_t from_vm, zn_task_state_t from_task, zn_vm_state_t to_vm,
                      zn_task_state_t to_task, zn_fault_t *fault)
{
    bool ok;
    if (from_vm == ZN_VM_DELETED) {
        ok = false; /* nothing follows deleted */
    } else if (to_task == ZN_TASK_NONE) {
        ok = (s_task_outcomes(from_task, from_vm) & S_BIT(to_vm)) != 0;
    } else if (to_task == ZN_TASK_DELETING) {
        ok = to_vm == from_vm && s_may_start(to_task, from_vm);
    } else if (s_is_build_task(from_task) && s_is_build_task(to_task)) {
        ok = to_vm == ZN_VM_BUILDING; /* a build moves through its steps, or is rescheduled */
    } else {
        ok = from_task == ZN_TASK_NONE && to_vm == from_vm && s_may_start(to_task, from_vm);
    }
    if (ok) {
        return 0;
    }
    const char *ft = zn_task_state_name(from_task);
    const char *tt = zn_task_state_name(to_task);
    return zn_fault_set(fault, ZN_ECONFLICT,
                        "cannot go from vm_state %s (task %s) to vm_state %s (task %s)",
                        zn_vm_state_name(from_vm), ft != NULL ? ft : "none",
                        zn_vm_state_name(to_vm), tt != NULL ? tt : "none");
}

void
zn_cellrec_event_key(const char *instance_id, int64_t seq, char out[ZN_CELLREC_EVENT_KEY_MAX])
{
    snprintf(out, ZN_CELLREC_EVENT_KEY_MAX, "%.64s/%020" PRId64, instance_id, seq);
}

/* ---- schemas ------------------------------------------------------------------------------ */

#define S_F(type_, name, ftype, flags, max)                      \
    {                                                            \
#name, ftype, flags, offsetof(type_, name), 0, max, NULL \
    }
#define S_LIST(type_, name, ftype, count, max, sub)                              \
    {                                                                            \
#name, ftype, 0, offsetof(type_, name), offsetof(type_, count), max, sub \
    }
#define S_SCHEMA(var, label, type_, fields) \
    const zn_schema_t var = {label, 1, fields, ZN_ARRAY_COUNT(fields), sizeof(type_)}

static const zn_field_t s_flavor_fields[] = {
    S_F(zn_cell_flavor_t, id, ZN_FT_STR, ZN_F_REQUIRED, 255),
    S_F(zn_cell_flavor_t, name, ZN_FT_STR, 0, 255),
    S_F(zn_cell_flavor_t, vcpus, ZN_FT_I64, 0, 0),
    S_F(zn_cell_flavor_t, ram_mb, ZN_FT_I64, 0, 0),
    S_F(zn_cell_flavor_t, disk_gb, ZN_FT_I64, 0, 0),
    S_F(zn_cell_flavor_t, ephemeral_gb, ZN_FT_I64, 0, 0),
    S_F(zn_cell_flavor_t, swap_mb, ZN_FT_I64, 0, 0),
    S_F(zn_cell_flavor_t, rxtx_factor, ZN_FT_F64, 0, 0),
    S_F(zn_cell_flavor_t, is_public, ZN_FT_BOOL, 0, 0),
    S_F(zn_cell_flavor_t, disabled, ZN_FT_BOOL, 0, 0),
    S_F(zn_cell_flavor_t, description, ZN_FT_STR, 0, 65535),
    S_LIST(zn_cell_flavor_t, extra_specs, ZN_FT_STRLIST, extra_spec_count, 256, NULL),
};
S_SCHEMA(zn_cell_flavor_schema, "flavor", zn_cell_flavor_t, s_flavor_fields);

static const zn_field_t s_nic_fields[] = {
    S_F(zn_cell_nic_t, network_id, ZN_FT_STR, 0, 64),
    S_F(zn_cell_nic_t, port_id, ZN_FT_STR, 0, 64),
    S_F(zn_cell_nic_t, fixed_ip, ZN_FT_STR, 0, 64),
    S_F(zn_cell_nic_t, mac, ZN_FT_STR, 0, 32),
};
static S_SCHEMA(s_nic_schema, "nic", zn_cell_nic_t, s_nic_fields);

static const zn_field_t s_bdm_fields[] = {
    S_F(zn_cell_bdm_t, volume_id, ZN_FT_STR, ZN_F_REQUIRED, 64),
    S_F(zn_cell_bdm_t, device, ZN_FT_STR, 0, 64),
    S_F(zn_cell_bdm_t, boot_index, ZN_FT_I64, 0, 0),
    S_F(zn_cell_bdm_t, delete_on_termination, ZN_FT_BOOL, 0, 0),
};
static S_SCHEMA(s_bdm_schema, "bdm", zn_cell_bdm_t, s_bdm_fields);

static const zn_field_t s_fault_fields[] = {
    S_F(zn_cell_fault_t, code, ZN_FT_I64, 0, 0),
    S_F(zn_cell_fault_t, message, ZN_FT_STR, 0, 4096),
    S_F(zn_cell_fault_t, details, ZN_FT_STR, 0, 65535),
    S_F(zn_cell_fault_t, created_ms, ZN_FT_I64, 0, 0),
};
static S_SCHEMA(s_fault_schema, "fault", zn_cell_fault_t, s_fault_fields);

#define S_I(name, ftype, flags, max) S_F(zn_cell_instance_t, name, ftype, flags, max)

static const zn_field_t s_instance_fields[] = {
    S_I(id, ZN_FT_STR, ZN_F_REQUIRED, 64),
    S_I(name, ZN_FT_STR, 0, 255),
    S_I(project_id, ZN_FT_STR, 0, 64),
    S_I(user_id, ZN_FT_STR, 0, 64),
    S_I(request_id, ZN_FT_STR, 0, 64),
    S_I(host, ZN_FT_STR, 0, 255),
    S_I(node, ZN_FT_STR, 0, 255),
    S_I(availability_zone, ZN_FT_STR, 0, 255),
    S_I(vm_state, ZN_FT_STR, ZN_F_REQUIRED, 32),
    S_I(task_state, ZN_FT_STR, 0, 32),
    S_I(power_state, ZN_FT_I64, 0, 0),
    {"flavor", ZN_FT_OBJ, 0, offsetof(zn_cell_instance_t, flavor), 0, 0, &zn_cell_flavor_schema},
    S_I(image_id, ZN_FT_STR, 0, 64),
    S_I(image_arch, ZN_FT_STR, 0, 32),
    S_I(image_hypervisor_type, ZN_FT_STR, 0, 32),
    S_I(key_name, ZN_FT_STR, 0, 255),
    S_I(key_data, ZN_FT_STR, 0, 16384),
    S_I(user_data, ZN_FT_STR, 0, 65535),
    S_LIST(zn_cell_instance_t, metadata, ZN_FT_STRLIST, metadata_count, 128, NULL),
    S_LIST(zn_cell_instance_t, nics, ZN_FT_OBJLIST, nic_count, 32, &s_nic_schema),
    S_I(nics_auto, ZN_FT_BOOL, 0, 0),
    S_LIST(zn_cell_instance_t, bdms, ZN_FT_OBJLIST, bdm_count, 32, &s_bdm_schema),
    S_I(group_id, ZN_FT_STR, 0, 64),
    S_LIST(zn_cell_instance_t, same_host, ZN_FT_STRLIST, same_host_count, 64, NULL),
    S_LIST(zn_cell_instance_t, different_host, ZN_FT_STRLIST, different_host_count, 64, NULL),
    S_LIST(zn_cell_instance_t, tried_hosts, ZN_FT_STRLIST, tried_host_count, 64, NULL),
    S_I(attempt, ZN_FT_I64, 0, 0),
    S_I(created_ms, ZN_FT_I64, 0, 0),
    S_I(updated_ms, ZN_FT_I64, 0, 0),
    S_I(launched_ms, ZN_FT_I64, 0, 0),
    S_I(task_deadline_ms, ZN_FT_I64, 0, 0),
    S_I(task_taken, ZN_FT_BOOL, 0, 0),
    {"fault", ZN_FT_OBJ, 0, offsetof(zn_cell_instance_t, fault), 0, 0, &s_fault_schema},
    S_I(access_ipv4, ZN_FT_STR, 0, 64),
    S_I(token, ZN_FT_STR, 0, 4096),
    S_I(event_seq, ZN_FT_I64, 0, 0),
};
S_SCHEMA(zn_cell_instance_schema, "instance", zn_cell_instance_t, s_instance_fields);

#define S_E(name, ftype, max) S_F(zn_cell_event_t, name, ftype, 0, max)

static const zn_field_t s_event_fields[] = {
    S_E(instance_id, ZN_FT_STR, 64), S_E(action, ZN_FT_STR, 64),     S_E(request_id, ZN_FT_STR, 64),
    S_E(user_id, ZN_FT_STR, 64),     S_E(project_id, ZN_FT_STR, 64), S_E(event, ZN_FT_STR, 128),
    S_E(result, ZN_FT_STR, 32),      S_E(message, ZN_FT_STR, 4096),  S_E(host, ZN_FT_STR, 255),
    S_E(start_ms, ZN_FT_I64, 0),     S_E(finish_ms, ZN_FT_I64, 0),
};
S_SCHEMA(zn_cell_event_schema, "instance_event", zn_cell_event_t, s_event_fields);

#define S_H(name, ftype, flags, max) S_F(zn_cell_host_t, name, ftype, flags, max)

static const zn_field_t s_host_fields[] = {
    S_H(host, ZN_FT_STR, ZN_F_REQUIRED, 255),
    S_H(vcpus, ZN_FT_I64, 0, 0),
    S_H(ram_mb, ZN_FT_I64, 0, 0),
    S_H(disk_gb, ZN_FT_I64, 0, 0),
    S_H(vcpus_reserved, ZN_FT_I64, 0, 0),
    S_H(ram_mb_reserved, ZN_FT_I64, 0, 0),
    S_H(disk_gb_reserved, ZN_FT_I64, 0, 0),
    S_H(cpu_ratio, ZN_FT_F64, 0, 0),
    S_H(ram_ratio, ZN_FT_F64, 0, 0),
    S_H(disk_ratio, ZN_FT_F64, 0, 0),
    S_H(hypervisor_type, ZN_FT_STR, 0, 64),
    S_H(hypervisor_version, ZN_FT_I64, 0, 0),
    S_H(arch, ZN_FT_STR, 0, 32),
    S_H(availability_zone, ZN_FT_STR, 0, 255),
    S_H(call_endpoint, ZN_FT_STR, 0, 255),
    S_H(cast_endpoint, ZN_FT_STR, 0, 255),
    S_H(disabled, ZN_FT_BOOL, 0, 0),
    S_H(disabled_reason, ZN_FT_STR, 0, 255),
    S_H(updated_ms, ZN_FT_I64, 0, 0),
};
S_SCHEMA(zn_cell_host_schema, "host", zn_cell_host_t, s_host_fields);

static const zn_field_t s_usage_fields[] = {
    S_F(zn_cell_usage_t, host, ZN_FT_STR, ZN_F_REQUIRED, 255),
    S_F(zn_cell_usage_t, vcpus_used, ZN_FT_I64, 0, 0),
    S_F(zn_cell_usage_t, ram_mb_used, ZN_FT_I64, 0, 0),
    S_F(zn_cell_usage_t, disk_gb_used, ZN_FT_I64, 0, 0),
    S_F(zn_cell_usage_t, instances, ZN_FT_I64, 0, 0),
};
S_SCHEMA(zn_cell_usage_schema, "host_usage", zn_cell_usage_t, s_usage_fields);

static const zn_field_t s_claim_fields[] = {
    S_F(zn_cell_claim_t, instance_id, ZN_FT_STR, ZN_F_REQUIRED, 64),
    S_F(zn_cell_claim_t, host, ZN_FT_STR, ZN_F_REQUIRED, 255),
    S_F(zn_cell_claim_t, project_id, ZN_FT_STR, 0, 64),
    S_F(zn_cell_claim_t, vcpus, ZN_FT_I64, 0, 0),
    S_F(zn_cell_claim_t, ram_mb, ZN_FT_I64, 0, 0),
    S_F(zn_cell_claim_t, disk_gb, ZN_FT_I64, 0, 0),
    S_F(zn_cell_claim_t, created_ms, ZN_FT_I64, 0, 0),
};
S_SCHEMA(zn_cell_claim_schema, "claim", zn_cell_claim_t, s_claim_fields);

static const zn_field_t s_quota_fields[] = {
    S_F(zn_cell_quota_t, project_id, ZN_FT_STR, ZN_F_REQUIRED, 64),
    S_F(zn_cell_quota_t, instances, ZN_FT_I64, 0, 0),
    S_F(zn_cell_quota_t, cores, ZN_FT_I64, 0, 0),
    S_F(zn_cell_quota_t, ram_mb, ZN_FT_I64, 0, 0),
};
S_SCHEMA(zn_cell_quota_schema, "quota", zn_cell_quota_t, s_quota_fields);

static const zn_field_t s_group_fields[] = {
    S_F(zn_cell_group_t, id, ZN_FT_STR, ZN_F_REQUIRED, 64),
    S_F(zn_cell_group_t, name, ZN_FT_STR, 0, 255),
    S_F(zn_cell_group_t, project_id, ZN_FT_STR, 0, 64),
    S_F(zn_cell_group_t, user_id, ZN_FT_STR, 0, 64),
    S_F(zn_cell_group_t, policy, ZN_FT_STR, 0, 32),
    S_LIST(zn_cell_group_t, members, ZN_FT_STRLIST, member_count, 1024, NULL),
    S_F(zn_cell_group_t, created_ms, ZN_FT_I64, 0, 0),
};
S_SCHEMA(zn_cell_group_schema, "server_group", zn_cell_group_t, s_group_fields);

static const zn_field_t s_keypair_fields[] = {
    S_F(zn_cell_keypair_t, user_id, ZN_FT_STR, ZN_F_REQUIRED, 64),
    S_F(zn_cell_keypair_t, name, ZN_FT_STR, ZN_F_REQUIRED, 255),
    S_F(zn_cell_keypair_t, type, ZN_FT_STR, 0, 16),
    S_F(zn_cell_keypair_t, public_key, ZN_FT_STR, 0, 16384),
    S_F(zn_cell_keypair_t, fingerprint, ZN_FT_STR, 0, 128),
    S_F(zn_cell_keypair_t, created_ms, ZN_FT_I64, 0, 0),
};
S_SCHEMA(zn_cell_keypair_schema, "keypair", zn_cell_keypair_t, s_keypair_fields);

bool
zn_cellrec_drop_bdm(zn_cell_instance_t *inst, const char *volume_id)
{
    size_t kept = 0;
    for (size_t i = 0; i < inst->bdm_count; i++) {
        zn_cell_bdm_t *bdm = &inst->bdms[i];
        if (bdm->volume_id != NULL && strcmp(bdm->volume_id, volume_id) == 0) {
            zn_free(bdm->volume_id);
            zn_free(bdm->device);
        } else {
            inst->bdms[kept++] = *bdm;
        }
    }
    bool found = kept < inst->bdm_count;
    inst->bdm_count = kept;
    return found;
}
