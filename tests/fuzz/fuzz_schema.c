/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_schema - zn_schema_decode of a nested schema, and zn_mp_to_json, on arbitrary bytes. */
#include <stdint.h>
#include <string.h>

#include "fuzz_schemas.h"
#include "zn_mem.h"
#include "zn_mp.h"
#include "zn_schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Decoded, encoded, decoded and encoded again: both encodings must be the same bytes, and a
 * deep copy must encode the same too. */
static void
s_round_trip(const fuzz_instance_t *vm)
{
    zn_pack_t *first = zn_pack_new();
    zn_schema_encode(&fuzz_instance_schema, vm, first);
    fuzz_instance_t again;
    zn_fault_t fault = {0};
    int rc = zn_schema_decode(&fuzz_instance_schema, zn_pack_buf(first), &again, NULL, &fault);
    ZN_ASSERT(rc == 0);
    fuzz_instance_t copy;
    zn_schema_copy(&fuzz_instance_schema, &copy, &again);
    zn_schema_release(&fuzz_instance_schema, &again);
    zn_pack_t *second = zn_pack_new();
    zn_schema_encode(&fuzz_instance_schema, &copy, second);
    zn_schema_release(&fuzz_instance_schema, &copy);
    ZN_ASSERT(zn_pack_buf(first).len == zn_pack_buf(second).len);
    ZN_ASSERT(memcmp(zn_pack_buf(first).ptr, zn_pack_buf(second).ptr, zn_pack_buf(first).len) == 0);
    zn_pack_destroy(&second);
    zn_pack_destroy(&first);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    zn_buf_t bytes = {data, size};
    fuzz_instance_t vm;
    uint32_t version = 0;
    zn_fault_t fault = {0};
    if (zn_schema_decode(&fuzz_instance_schema, bytes, &vm, &version, &fault) == 0) {
        s_round_trip(&vm);
        zn_schema_release(&fuzz_instance_schema, &vm);
    }
    char *json = NULL;
    if (zn_mp_to_json(bytes, &json, NULL) == 0) {
        ZN_ASSERT(json != NULL && json[0] != '\0');
    }
    zn_str_free(&json);
    return 0;
}
