/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_scheduler - zinc-scheduler's parsers of untrusted bytes: the first byte picks one, the
 * rest is its input. Even: a `select_destinations` body (decoded and checked as the handler
 * does); odd: a conductor's `services` answer (compute hosts alive, schedulers and our share). */
#include <stdint.h>
#include <string.h>

#include "zn_common.h"
#include "zn_sched_alive.h"
#include "zn_sched_place.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    zn_buf_t body = {data + 1, size - 1};
    if (data[0] % 2 == 0) {
        zn_fault_t fault = {0};
        int rc = zn_sched_place_check(body, &fault);
        ZN_ASSERT(rc == 0 || (rc < 0 && fault.message[0] != '\0'));
        return 0;
    }
    zn_sched_alive_t alive;
    if (zn_sched_alive_parse(body, "tcp://127.0.0.1:7103", &alive)) {
        ZN_ASSERT(alive.before <= alive.schedulers);
        ZN_ASSERT(alive.hosts != NULL);
        zn_sched_alive_release(&alive);
    }
    return 0;
}
