/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_volume_body - zinc-volume's request bodies: strict JSON parsing, then the Cinder body
 * readers (create, update, os-extend) and the detail view built from what they accepted; the
 * same bytes are also decoded as a volume record (MessagePack from the store). */
#include <stdint.h>
#include <string.h>

#include "zn_json.h"
#include "zn_mem.h"
#include "zn_voljson.h"
#include "zn_volrec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Render a volume made of what the create body said, as the REST answer would. */
static void
s_render(const zn_voljson_create_t *create)
{
    zn_vol_t vol;
    memset(&vol, 0, sizeof(vol));
    vol.id = zn_strdup("00000000-0000-4000-8000-000000000000");
    vol.project_id = zn_strdup("p");
    vol.name = create->name != NULL ? zn_strdup(create->name) : NULL;
    vol.description = create->description != NULL ? zn_strdup(create->description) : NULL;
    vol.image_id = create->image_id != NULL ? zn_strdup(create->image_id) : NULL;
    vol.instance_id = create->name != NULL ? zn_strdup(create->name) : NULL;
    vol.size_gb = create->size_gb;
    vol.created_ms = create->size_gb;
    json_t *view = zn_voljson_detail(&vol, "http://h/volume", ZN_VOLJSON_ADMIN);
    ZN_ASSERT(view != NULL);
    char *text = zn_json_dump_steal(view);
    zn_str_free(&text);
    zn_schema_release(&zn_vol_schema, &vol);
}

static void
s_bodies(const json_t *root)
{
    zn_fault_t fault = {0};
    zn_voljson_create_t create;
    if (zn_voljson_create(root, &create, &fault) == 0) {
        s_render(&create);
    } else {
        ZN_ASSERT(fault.code < 0 && fault.message[0] != '\0');
    }
    const char *name = NULL;
    const char *description = NULL;
    if (zn_voljson_update(root, &name, &description, &fault) == 0) {
        ZN_ASSERT(name != NULL || description != NULL);
    }
    zn_voljson_action_t action;
    if (zn_voljson_action(root, &action, &fault) == 0 && action.kind == ZN_VOLJSON_RESET_STATUS) {
        zn_vol_status_t status;
        ZN_ASSERT(action.status == NULL || zn_vol_status_parse(action.status, &status) == 0);
        ZN_ASSERT(action.status != NULL || action.detach ||
                  json_object_get(json_object_get(root, "os-reset_status"), "attach_status"));
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *root = NULL;
    zn_fault_t fault = {0};
    int rc = zn_json_parse((const char *)data, size, &root, &fault);
    ZN_ASSERT((rc == 0 && json_is_object(root)) || (rc < 0 && root == NULL));
    if (root != NULL) {
        s_bodies(root);
    }
    json_decref(root);
    zn_vol_t vol;
    if (zn_schema_decode(&zn_vol_schema, (zn_buf_t){data, size}, &vol, NULL, &fault) == 0) {
        zn_schema_release(&zn_vol_schema, &vol);
    }
    return 0;
}
