/* SPDX-License-Identifier: Apache-2.0 */
/* zn_cellrec.h - the compute cell's records (instances, their events, flavors, hosts, usage,
 * claims, quotas) as zn_schema structs shared by api, scheduler and conductor, and the one table
 * of instance state transitions. docs/flow.md says who writes which. */
#ifndef ZN_CELLREC_H
#define ZN_CELLREC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zn_err.h"
#include "zn_schema.h"

/* ---- states (Nova's names, as the API shows them lower-case) ------------------------------ */

typedef enum {
    ZN_VM_BUILDING = 0,
    ZN_VM_ACTIVE,
    ZN_VM_STOPPED,
    ZN_VM_ERROR,
    ZN_VM_DELETED,
    ZN_VM_COUNT,
} zn_vm_state_t;

typedef enum {
    ZN_TASK_NONE = 0,
    ZN_TASK_SCHEDULING,
    ZN_TASK_NETWORKING,
    ZN_TASK_BLOCK_DEVICE_MAPPING,
    ZN_TASK_SPAWNING,
    ZN_TASK_POWERING_OFF,
    ZN_TASK_POWERING_ON,
    ZN_TASK_REBOOTING,
    ZN_TASK_REBOOTING_HARD,
    ZN_TASK_DELETING,
    ZN_TASK_COUNT,
} zn_task_state_t;

/* libvirt-like power states as Nova numbers them. */
enum {
    ZN_POWER_NOSTATE = 0,
    ZN_POWER_RUNNING = 1,
    ZN_POWER_PAUSED = 3,
    ZN_POWER_SHUTDOWN = 4,
    ZN_POWER_CRASHED = 6,
    ZN_POWER_SUSPENDED = 7,
};

/* "building", "active", ...; NULL for ZN_TASK_NONE. */
const char *zn_vm_state_name(zn_vm_state_t state);
const char *zn_task_state_name(zn_task_state_t state);

/* Parse a stored name; unknown or NULL -> -EINVAL (task: NULL or "" is ZN_TASK_NONE). */
ZN_MUST_CHECK int zn_vm_state_parse(const char *name, zn_vm_state_t *out);
ZN_MUST_CHECK int zn_task_state_parse(const char *name, zn_task_state_t *out);

/* The API's status for a pair: BUILD, ACTIVE, SHUTOFF, ERROR, DELETED, REBOOT, HARD_REBOOT. */
const char *zn_cellrec_status(zn_vm_state_t vm, zn_task_state_t task);

/* May an instance in (FROM_VM, FROM_TASK) move to (TO_VM, TO_TASK)? The one table every writer
 * of instance states consults. Returns 0 or ZN_ECONFLICT with FAULT naming both states (for
 * example "cannot stop: instance is building"). */
ZN_MUST_CHECK int zn_cellrec_transition(zn_vm_state_t from_vm, zn_task_state_t from_task,
                                        zn_vm_state_t to_vm, zn_task_state_t to_task,
                                        zn_fault_t *fault);

/* ---- records ------------------------------------------------------------------------------ */

/* A flavor (table flavors, key id). */
typedef struct zn_cell_flavor {
    char *id;
    char *name;
    int64_t vcpus;
    int64_t ram_mb;
    int64_t disk_gb;
    int64_t ephemeral_gb;
    int64_t swap_mb;
    double rxtx_factor;
    bool is_public;
    bool disabled;
    char *description;
    char **extra_specs; /* "key=value" pairs */
    size_t extra_spec_count;
} zn_cell_flavor_t;

extern const zn_schema_t zn_cell_flavor_schema;

/* A requested network of an instance, and what the build got. */
typedef struct zn_cell_nic {
    char *network_id; /* NULL with port_id, or for "auto" */
    char *port_id;    /* a user-given port, or the one the build created */
    char *fixed_ip;   /* requested, then the one allocated */
    char *mac;
} zn_cell_nic_t;

/* A requested volume (block_device_mapping_v2 with destination_type volume). */
typedef struct zn_cell_bdm {
    char *volume_id;
    char *device;       /* "/dev/vdb"; NULL: the next free */
    int64_t boot_index; /* -1: not bootable */
    bool delete_on_termination;
} zn_cell_bdm_t;

/* A fault shown on ERROR. */
typedef struct zn_cell_fault {
    int64_t code; /* HTTP-like: 500 for build failures, 400s for user errors */
    char *message;
    char *details;
    int64_t created_ms;
} zn_cell_fault_t;

/* An instance (table instances, key id). */
typedef struct zn_cell_instance {
    char *id;
    char *name;
    char *project_id;
    char *user_id;
    char *request_id; /* the create request, for `zincctl trace` */
    char *host;       /* NULL until scheduled */
    char *node;
    char *availability_zone;
    char *vm_state;   /* zn_vm_state_name */
    char *task_state; /* zn_task_state_name, NULL when idle (the index skips idle ones) */
    int64_t power_state;
    zn_cell_flavor_t flavor; /* copied at create time, as Nova does */
    char *image_id;
    char *image_arch;            /* from the image's properties, for the scheduler */
    char *image_hypervisor_type; /* likewise */
    char *key_name;
    char *key_data;  /* the public key, copied at create time */
    char *user_data; /* base64 as given */
    char **metadata; /* "key=value" pairs */
    size_t metadata_count;
    zn_cell_nic_t *nics;
    size_t nic_count;
    bool nics_auto; /* networks "auto" */
    zn_cell_bdm_t *bdms;
    size_t bdm_count;
    char *group_id;   /* server group, for (anti-)affinity */
    char **same_host; /* scheduler hints */
    size_t same_host_count;
    char **different_host;
    size_t different_host_count;
    char **tried_hosts; /* hosts a build failed on, for rescheduling */
    size_t tried_host_count;
    int64_t attempt;
    int64_t created_ms;
    int64_t updated_ms;
    int64_t launched_ms;
    int64_t task_deadline_ms; /* wall clock: the watchdog acts after this */
    bool task_taken;          /* the host took up the current task */
    zn_cell_fault_t fault;    /* fault.message NULL when none */
    char *access_ipv4;
    char *token;       /* the user's token while a build runs (docs/flow.md), else NULL */
    int64_t event_seq; /* events written so far (instance_events keys ID/SEQ) */
} zn_cell_instance_t;

/* Remove INST's block device mapping of VOLUME_ID. Returns whether it had one. */
bool zn_cellrec_drop_bdm(zn_cell_instance_t *inst, const char *volume_id);

extern const zn_schema_t zn_cell_instance_schema;

/* One action event (table instance_events, key zn_cellrec_event_key). Nova shows actions
 * (create, stop, ...) each with events; zinc keeps one row per action with its events' words. */
typedef struct zn_cell_event {
    char *instance_id;
    char *action; /* create, delete, start, stop, reboot, attach_volume, ... */
    char *request_id;
    char *user_id;
    char *project_id;
    char *event;  /* the step: compute_build_and_run_instance, ... */
    char *result; /* Success, Error, or NULL while running */
    char *message;
    char *host;
    int64_t start_ms;
    int64_t finish_ms;
} zn_cell_event_t;

extern const zn_schema_t zn_cell_event_schema;

/* A compute host's resources, as its agent last reported them (table hosts, key host). */
typedef struct zn_cell_host {
    char *host;
    int64_t vcpus;
    int64_t ram_mb;
    int64_t disk_gb;
    int64_t vcpus_reserved;
    int64_t ram_mb_reserved;
    int64_t disk_gb_reserved;
    double cpu_ratio;
    double ram_ratio;
    double disk_ratio;
    char *hypervisor_type; /* "QEMU", "test" */
    int64_t hypervisor_version;
    char *arch; /* "x86_64" */
    char *availability_zone;
    char *call_endpoint;
    char *cast_endpoint;
    bool disabled; /* set by an operator (`zincctl host disable`, os-services) */
    char *disabled_reason;
    int64_t updated_ms;
} zn_cell_host_t;

extern const zn_schema_t zn_cell_host_schema;

/* What has been claimed on a host (table host_usage, key host; CAS on its generation). */
typedef struct zn_cell_usage {
    char *host;
    int64_t vcpus_used;
    int64_t ram_mb_used;
    int64_t disk_gb_used;
    int64_t instances;
} zn_cell_usage_t;

extern const zn_schema_t zn_cell_usage_schema;

/* One instance's claim (table claims, key instance id; index host). */
typedef struct zn_cell_claim {
    char *instance_id;
    char *host;
    char *project_id;
    int64_t vcpus;
    int64_t ram_mb;
    int64_t disk_gb;
    int64_t created_ms;
} zn_cell_claim_t;

extern const zn_schema_t zn_cell_claim_schema;

/* A server group (table server_groups, key id; index project_id), Nova's os-server-groups. The
 * api writes it and adds each instance created in the group to MEMBERS before asking the
 * scheduler; the scheduler reads it for (anti-)affinity. */
typedef struct zn_cell_group {
    char *id;
    char *name;
    char *project_id;
    char *user_id;
    char *policy;   /* "affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity" */
    char **members; /* instance ids */
    size_t member_count;
    int64_t created_ms;
} zn_cell_group_t;

extern const zn_schema_t zn_cell_group_schema;

/* A key pair (table keypairs, key "USER_ID/NAME"; index user_id): Nova's os-keypairs. The api
 * writes it; the public key is copied into an instance at create time. */
typedef struct zn_cell_keypair {
    char *user_id;
    char *name;
    char *type; /* "ssh" or "x509" */
    char *public_key;
    char *fingerprint;
    int64_t created_ms;
} zn_cell_keypair_t;

extern const zn_schema_t zn_cell_keypair_schema;

/* A project's usage (table quota_usage) and limits (table quotas; -1 unlimited). */
typedef struct zn_cell_quota {
    char *project_id;
    int64_t instances;
    int64_t cores;
    int64_t ram_mb;
} zn_cell_quota_t;

extern const zn_schema_t zn_cell_quota_schema;

/* Defaults when a project has no quotas row (Nova's). */
#define ZN_CELL_QUOTA_INSTANCES 10
#define ZN_CELL_QUOTA_CORES     20
#define ZN_CELL_QUOTA_RAM_MB    51200

/* The instance_events key of event SEQ of INSTANCE_ID: "ID/" then SEQ as 20 digits, so that a
 * scan from "ID/" lists an instance's events in order. OUT holds ZN_CELLREC_EVENT_KEY_MAX. */
#define ZN_CELLREC_EVENT_KEY_MAX 96
void zn_cellrec_event_key(const char *instance_id, int64_t seq, char out[ZN_CELLREC_EVENT_KEY_MAX]);

#endif
