/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_api_create - the server-create body (POST /servers): strict JSON parsing as zn_rest does
 * it, then Nova's 2.1 schema checks and the conversion into a zn_api_server_req_t, whose
 * invariants are asserted on every accepted body. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "zn_api_body.h"
#include "zn_json.h"
#include "zn_mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
s_check_scalars(const zn_api_server_req_t *req)
{
    ZN_ASSERT(req->name != NULL && req->name[0] != '\0' && strlen(req->name) <= ZN_API_NAME_MAX);
    ZN_ASSERT(req->flavor_ref != NULL);
    ZN_ASSERT(req->image_ref != NULL || req->bdm_count > 0);
    ZN_ASSERT(req->min_count >= 1 && req->min_count <= req->max_count &&
              req->max_count <= ZN_API_COUNT_MAX);
}

static void
s_check_lists(const zn_api_server_req_t *req)
{
    ZN_ASSERT(req->metadata_count <= ZN_API_METADATA_MAX);
    ZN_ASSERT(req->nic_count <= ZN_API_NICS_MAX && req->bdm_count <= ZN_API_BDMS_MAX);
    ZN_ASSERT(!(req->nics_auto && req->nics_none));
    bool ok = true;
    for (size_t i = 0; i < req->nic_count; i++) {
        ok = ok && (req->nics[i].network_id != NULL || req->nics[i].port_id != NULL);
    }
    for (size_t i = 0; i < req->metadata_count; i++) {
        ok = ok && strchr(req->metadata[i], '=') != NULL;
    }
    for (size_t i = 0; i < req->bdm_count; i++) {
        ok = ok && req->bdms[i].volume_id != NULL;
    }
    ZN_ASSERT(ok);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *root = NULL;
    zn_fault_t fault = {0};
    if (zn_json_parse((const char *)data, size, &root, &fault) < 0) {
        return 0;
    }
    zn_api_server_req_t req;
    int rc = zn_api_server_parse(root, &req, &fault);
    if (rc == 0) {
        s_check_scalars(&req);
        s_check_lists(&req);
        zn_api_server_req_release(&req);
    } else {
        ZN_ASSERT(rc == -EINVAL && fault.message[0] != '\0');
        ZN_ASSERT(req.name == NULL && req.nics == NULL && req.metadata == NULL);
    }
    json_decref(root);
    return 0;
}
