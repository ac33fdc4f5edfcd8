/* SPDX-License-Identifier: Apache-2.0 */
/* comp_fixture.h - a real conductor and a real zinc-compute (both in-process actors, libvirt's
 * test driver unless told otherwise) for tests and benchmarks, with helpers to seed instances
 * the way the api writes them, cast requests to the compute agent, and read the store. */
#ifndef COMP_FIXTURE_H
#define COMP_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "cond_fixture.h"
#include "zn_cellrec.h"
#include "zn_client.h"

typedef struct comp_fixture comp_fixture_t;

/* Start a conductor (COND_SETTINGS over cond_fixture's defaults) and a compute agent for host
 * HOST (SETTINGS, "section.key=value", over the fixture's: test:///default, a temporary
 * state_dir, free ports, quick power sync). Waits until the agent reconciled. Aborts on
 * failure. */
comp_fixture_t *comp_fixture_start(const char *host, const char *const *settings,
                                   const char *const *cond_settings);

/* The same beside a conductor someone else runs (CONDUCTOR_CALL, CONDUCTOR_CAST, its replica in
 * STORE_DIR): the fixture then starts only the compute agent. */
comp_fixture_t *comp_fixture_start_on(const char *host, const char *const *settings,
                                      const char *conductor_call, const char *conductor_cast,
                                      const char *store_dir);

/* Stop the compute agent only (a crash as far as the store is concerned), and start it again
 * with the same configuration and state directory. */
void comp_fixture_stop_compute(comp_fixture_t *fix);
void comp_fixture_start_compute(comp_fixture_t *fix);

void comp_fixture_stop(comp_fixture_t **fix_p);

const char *comp_fixture_host(const comp_fixture_t *fix);
const char *comp_fixture_state_dir(const comp_fixture_t *fix);

/* A client to the compute agent's call socket (console_log) and its admin socket. */
zn_client_t *comp_fixture_compute_client(comp_fixture_t *fix);
zn_client_t *comp_fixture_admin_client(comp_fixture_t *fix);

/* What an instance is seeded with. */
typedef struct comp_seed {
    const char *image_id;
    const char *name;
    const char *project_id; /* default "p1" */
    int64_t vcpus;
    int64_t ram_mb;
    const char *task_state; /* default "scheduling" */
    bool task_taken;
    const char *const *networks; /* NULL-terminated network ids; NULL: none */
    const char *const *volumes;  /* NULL-terminated volume ids; NULL: none */
    bool nics_auto;              /* networks "auto" (with no NETWORKS) */
} comp_seed_t;

/* Write a new building instance ID on the fixture's host (with its claim, usage, quota and
 * create event) as the api and scheduler would. SEED may be NULL. */
void comp_fixture_seed(comp_fixture_t *fix, const char *id, const comp_seed_t *seed);

/* Write COUNT such instances in one batch (benchmarks), booting IMAGE_ID (may be NULL). IDS
 * holds COUNT ids. */
void comp_fixture_seed_many(comp_fixture_t *fix, char (*ids)[40], int count, const char *image_id);

/* Cast METHOD {instance_id: ID, hard: HARD} to the compute agent with TOKEN in the context
 * (may be NULL). Returns the caster's code. */
int comp_fixture_cast(comp_fixture_t *fix, const char *method, const char *id, bool hard,
                      const char *token);

/* Cast METHOD (attach_volume, detach_volume) {instance_id: ID, volume_id, device (may be NULL)}
 * with TOKEN. Returns the caster's code. */
int comp_fixture_cast_volume(comp_fixture_t *fix, const char *method, const char *id,
                             const char *volume_id, const char *device, const char *token);

/* Read instance ID from the store into *out (release with zn_schema_release). 0 or -ENOENT. */
int comp_fixture_instance(comp_fixture_t *fix, const char *id, zn_cell_instance_t *out);

/* Record a block device mapping of VOLUME_ID at DEVICE on instance ID, as the api does before it
 * casts attach_volume. */
void comp_fixture_add_bdm(comp_fixture_t *fix, const char *id, const char *volume_id,
                          const char *device);

/* Read the hosts record of the fixture's host (release with zn_schema_release). 0 or -ENOENT. */
int comp_fixture_host_record(comp_fixture_t *fix, zn_cell_host_t *out);

/* Wait up to TIMEOUT_MS until instance ID's vm_state is VM_STATE (NULL: the record is gone) and
 * its task_state is clear. Returns true when it is. */
bool comp_fixture_wait(comp_fixture_t *fix, const char *id, const char *vm_state,
                       int64_t timeout_ms);

/* A fresh lower-case UUID into OUT (37 bytes). */
void comp_fixture_uuid(char *out);

#endif
