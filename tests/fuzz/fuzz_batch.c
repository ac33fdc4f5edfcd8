/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_batch - zn_batch_decode on arbitrary bytes: store batches arrive as raft log entries from
 * other controllers, so they are untrusted input. Whatever decodes must encode to the same bytes.
 */
#include <stdint.h>
#include <string.h>

#include "zn_batch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    zn_batch_t *batch = NULL;
    zn_fault_t fault = {0};
    if (zn_batch_decode(&batch, (zn_buf_t){data, size}, &fault) == 0) {
        zn_buf_t again = zn_batch_bytes(batch);
        ZN_ASSERT(again.len == size && memcmp(again.ptr, data, size) == 0);
        zn_batch_destroy(&batch);
    }
    return 0;
}
