/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_idjson - identity request bodies: strict JSON parsing (limits, duplicates, depth), the
 * path lookups the auth handlers make, and the error body that may quote what was sent. */
#include <stdint.h>
#include <string.h>

#include "zn_json.h"
#include "zn_mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const s_paths[] = {
    "auth.identity.methods",
    "auth.identity.password.user.name",
    "auth.identity.password.user.id",
    "auth.identity.password.user.password",
    "auth.identity.password.user.domain.id",
    "auth.identity.password.user.domain.name",
    "auth.identity.token.id",
    "auth.scope.project.name",
    "auth.scope.project.domain.name",
    "auth.scope.domain.id",
    "project.name",
    "user.original_password",
    "",
    "..",
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *root = NULL;
    zn_fault_t fault = {0};
    int rc = zn_json_parse((const char *)data, size, &root, &fault);
    ZN_ASSERT((rc == 0 && json_is_object(root)) || (rc < 0 && root == NULL));
    char *body = zn_json_error_body(400, rc < 0 ? fault.message : "ok");
    ZN_ASSERT(strstr(body, "\"code\":400") != NULL);
    zn_str_free(&body);
    for (size_t i = 0; root != NULL && i < sizeof(s_paths) / sizeof(s_paths[0]); i++) {
        const char *text = zn_json_str_at(root, s_paths[i]);
        if (text != NULL) {
            body = zn_json_error_body(401, text); /* may be any bytes: must not crash */
            zn_str_free(&body);
        }
    }
    json_decref(root);
    return 0;
}
