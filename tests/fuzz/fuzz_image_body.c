/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_image_body - zinc-image's untrusted request bodies: the same bytes as a create body
 * (as an admin and as a member) and as a Glance JSON patch applied to the image it made (or to
 * a fixed one), and as a tag added and removed; every image produced is rendered as Glance JSON and
 * round-tripped through its store schema. */
#include <stdint.h>
#include <string.h>

#include "zn_imgrec.h"
#include "zn_json.h"
#include "zn_mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
s_check(const zn_imgrec_t *image)
{
    char *text = zn_json_dump_steal(zn_imgrec_to_json(image));
    zn_str_free(&text);
    zn_pack_t *pack = zn_pack_new();
    zn_schema_encode(&zn_imgrec_schema, image, pack);
    zn_imgrec_t copy;
    int rc = zn_schema_decode(&zn_imgrec_schema, zn_pack_buf(pack), &copy, NULL, NULL);
    ZN_ASSERT(rc == 0); /* what the parsers accept, the store must take */
    zn_schema_release(&zn_imgrec_schema, &copy);
    zn_pack_destroy(&pack);
}

static void
s_patch(zn_imgrec_t *image, const uint8_t *data, size_t size, bool admin)
{
    zn_fault_t fault;
    if (zn_imgrec_patch(image, (const char *)data, size, admin, &fault) == 0) {
        s_check(image);
    }
    /* The same bytes as a tag (PUT/DELETE .../tags/TAG), up to the first NUL. */
    char *tag = zn_strndup((const char *)data, size < 300 ? size : 300);
    if (zn_imgrec_tag(image, tag, true, &fault) == 0) {
        s_check(image);
        int rc = zn_imgrec_tag(image, tag, false, &fault);
        ZN_ASSERT(rc == 0); /* a tag just added can be removed */
    }
    zn_str_free(&tag);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    zn_fault_t fault;
    json_t *body = NULL;
    for (int admin = 0; admin < 2; admin++) {
        zn_imgrec_ctx_t ctx = {.project_id = "p1",
                               .admin = admin == 1,
                               .id = "11111111-2222-4333-8444-555555555555",
                               .now_ms = 1000};
        zn_imgrec_t image;
        if (zn_json_parse((const char *)data, size, &body, &fault) == 0) {
            if (zn_imgrec_from_create(body, &ctx, &image, &fault) == 0) {
                s_check(&image);
                s_patch(&image, data, size, admin == 1);
                zn_schema_release(&zn_imgrec_schema, &image);
            }
            json_decref(body);
            body = NULL;
        }
        json_t *base =
            json_pack("{s:s,s:s,s:s}", "name", "base", "os_distro", "cirros", "disk_format", "raw");
        if (zn_imgrec_from_create(base, &ctx, &image, &fault) == 0) {
            s_patch(&image, data, size, admin == 1);
            zn_schema_release(&zn_imgrec_schema, &image);
        }
        json_decref(base);
    }
    return 0;
}
