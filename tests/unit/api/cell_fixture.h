/* SPDX-License-Identifier: Apache-2.0 */
/* cell_fixture.h - the whole compute cell in-process around api_fixture: a real scheduler and
 * real compute agents on libvirt's test driver, so that a server goes from POST to ACTIVE. */
#ifndef CELL_FIXTURE_H
#define CELL_FIXTURE_H

#include "api_fixture.h"

typedef struct cell_fixture cell_fixture_t;

/* Conductor (rescheduling through the scheduler), identity, scheduler, HOSTS compute agents
 * named node1.. with VCPUS and RAM_MB each, and the api. Waits until every host reported. */
cell_fixture_t *cell_fixture_start(int hosts, int vcpus, int ram_mb);

void cell_fixture_stop(cell_fixture_t **cell_p);

api_fixture_t *cell_fixture_api(cell_fixture_t *cell);

#endif
