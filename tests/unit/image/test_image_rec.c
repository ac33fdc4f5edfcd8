/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for zn_imgrec: the create body, Glance's JSON patch, the JSON an image is shown as,
 * the visibility rules, and the record's round trip through its schema. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "zn_imgrec.h"
#include "zn_mem.h"

#define S_ID "11111111-2222-4333-8444-555555555555"

static void
s_create(const char *text, bool admin, zn_imgrec_t *out, int want)
{
    json_t *body = json_loads(text, 0, NULL);
    assert_non_null(body);
    zn_imgrec_ctx_t ctx = {.project_id = "p1", .admin = admin, .id = S_ID, .now_ms = 1000};
    zn_fault_t fault;
    int rc = zn_imgrec_from_create(body, &ctx, out, &fault);
    json_decref(body);
    assert_int_equal(rc, want);
}

static int
s_patch(zn_imgrec_t *image, const char *text)
{
    zn_fault_t fault;
    return zn_imgrec_patch(image, text, strlen(text), false, &fault);
}

static void
test_image_rec_example(void **state)
{
    (void)state;
    zn_imgrec_t image;
    s_create("{\"name\": \"cirros\", \"disk_format\": \"qcow2\", \"container_format\": \"bare\","
             " \"min_ram\": 64, \"os_distro\": \"cirros\", \"tags\": [\"a\"]}",
             false, &image, 0);
    assert_string_equal(image.id, S_ID);
    assert_string_equal(image.status, "queued");
    assert_string_equal(image.visibility, "shared");
    assert_string_equal(image.owner, "p1");
    assert_int_equal(image.size, -1);
    assert_int_equal(image.prop_count, 1);
    assert_int_equal(s_patch(&image, "[{\"op\": \"replace\", \"path\": \"/name\", \"value\": "
                                     "\"c2\"}, {\"op\": \"add\", \"path\": \"/hw_disk_bus\", "
                                     "\"value\": \"virtio\"}, {\"op\": \"remove\", \"path\": "
                                     "\"/os_distro\"}]"),
                     0);
    json_t *shown = zn_imgrec_to_json(&image);
    assert_string_equal(json_string_value(json_object_get(shown, "name")), "c2");
    assert_string_equal(json_string_value(json_object_get(shown, "hw_disk_bus")), "virtio");
    assert_null(json_object_get(shown, "os_distro"));
    assert_true(json_is_null(json_object_get(shown, "size")));
    assert_string_equal(json_string_value(json_object_get(shown, "file")),
                        "/v2/images/" S_ID "/file");
    assert_string_equal(json_string_value(json_object_get(shown, "created_at")),
                        "1970-01-01T00:00:01Z");
    json_decref(shown);
    /* The record survives its schema. */
    zn_pack_t *pack = zn_pack_new();
    zn_schema_encode(&zn_imgrec_schema, &image, pack);
    zn_imgrec_t copy;
    assert_int_equal(zn_schema_decode(&zn_imgrec_schema, zn_pack_buf(pack), &copy, NULL, NULL), 0);
    assert_string_equal(copy.props[0].name, "hw_disk_bus");
    assert_int_equal(copy.tag_count, 1);
    zn_schema_release(&zn_imgrec_schema, &copy);
    zn_pack_destroy(&pack);
    zn_schema_release(&zn_imgrec_schema, &image);
}

static void
test_image_rec_create_refuses(void **state)
{
    (void)state;
    zn_imgrec_t image;
    s_create("{\"disk_format\": \"floppy\"}", false, &image, -EINVAL);
    s_create("{\"min_disk\": -1}", false, &image, -EINVAL);
    s_create("{\"min_disk\": \"1\"}", false, &image, -EINVAL);
    s_create("{\"prop\": 1}", false, &image, -EINVAL);
    s_create("{\"id\": \"not-a-uuid\"}", false, &image, -EINVAL);
    s_create("{\"status\": \"active\"}", false, &image, ZN_EFORBIDDEN);
    s_create("{\"checksum\": \"x\"}", false, &image, ZN_EFORBIDDEN);
    s_create("{\"visibility\": \"public\"}", false, &image, ZN_EFORBIDDEN);
    s_create("{\"owner\": \"p2\"}", false, &image, ZN_EFORBIDDEN);
    s_create("{\"visibility\": \"everyone\"}", true, &image, -EINVAL);
    s_create("{\"visibility\": \"public\", \"owner\": \"p2\"}", true, &image, 0);
    assert_string_equal(image.owner, "p2");
    zn_schema_release(&zn_imgrec_schema, &image);
}

static void
test_image_rec_patch_refuses(void **state)
{
    (void)state;
    zn_imgrec_t image;
    s_create("{\"name\": \"x\", \"k\": \"v\"}", false, &image, 0);
    assert_int_equal(s_patch(&image, "[{"), -EINVAL);
    assert_int_equal(s_patch(&image, "{}"), -EINVAL);
    assert_int_equal(s_patch(&image, "[1]"), -EINVAL);
    assert_int_equal(s_patch(&image, "[{\"op\": \"move\", \"path\": \"/name\"}]"), -EINVAL);
    assert_int_equal(s_patch(&image, "[{\"op\": \"add\", \"path\": \"name\", \"value\": 1}]"),
                     -EINVAL);
    assert_int_equal(s_patch(&image, "[{\"op\": \"add\", \"path\": \"/a/b\", \"value\": \"1\"}]"),
                     -EINVAL);
    assert_int_equal(s_patch(&image, "[{\"op\": \"replace\", \"path\": \"/name\"}]"), -EINVAL);
    assert_int_equal(
        s_patch(&image, "[{\"op\": \"replace\", \"path\": \"/status\", \"value\": \"active\"}]"),
        ZN_EFORBIDDEN);
    assert_int_equal(s_patch(&image, "[{\"op\": \"remove\", \"path\": \"/name\"}]"), ZN_EFORBIDDEN);
    assert_int_equal(s_patch(&image, "[{\"op\": \"remove\", \"path\": \"/nope\"}]"), ZN_ECONFLICT);
    assert_int_equal(
        s_patch(&image, "[{\"op\": \"replace\", \"path\": \"/nope\", \"value\": \"1\"}]"),
        ZN_ECONFLICT);
    assert_int_equal(s_patch(&image, "[{\"op\": \"replace\", \"path\": \"/visibility\", \"value\": "
                                     "\"public\"}]"),
                     ZN_EFORBIDDEN);
    /* JSON pointer escapes: "/a~1b" names the property "a/b". */
    assert_int_equal(s_patch(&image, "[{\"op\": \"add\", \"path\": \"/a~1b\", \"value\": \"1\"}]"),
                     0);
    assert_string_equal(image.props[image.prop_count - 1].name, "a/b");
    /* Formats are fixed once data is in. */
    zn_str_free(&image.status);
    image.status = zn_strdup("active");
    assert_int_equal(s_patch(&image, "[{\"op\": \"replace\", \"path\": \"/disk_format\", "
                                     "\"value\": \"raw\"}]"),
                     ZN_EFORBIDDEN);
    zn_schema_release(&zn_imgrec_schema, &image);
}

static void
test_image_rec_visibility(void **state)
{
    (void)state;
    zn_imgrec_t image;
    s_create("{\"visibility\": \"private\"}", false, &image, 0);
    assert_true(zn_imgrec_visible(&image, "p1", false));
    assert_false(zn_imgrec_visible(&image, "p2", false));
    assert_false(zn_imgrec_visible(&image, NULL, false));
    assert_true(zn_imgrec_visible(&image, "p2", true));
    assert_false(zn_imgrec_writable(&image, "p2", false));
    const char *seen_by_all[] = {"public", "community"};
    for (size_t i = 0; i < 2; i++) {
        zn_str_free(&image.visibility);
        image.visibility = zn_strdup(seen_by_all[i]);
        assert_true(zn_imgrec_visible(&image, "p2", false));
        assert_false(zn_imgrec_writable(&image, "p2", false));
    }
    zn_str_free(&image.visibility);
    image.visibility = zn_strdup("shared"); /* no members API: the owner's alone */
    assert_false(zn_imgrec_visible(&image, "p2", false));
    zn_schema_release(&zn_imgrec_schema, &image);
}

static void
test_image_rec_tags(void **state)
{
    (void)state;
    zn_imgrec_t image;
    zn_fault_t fault;
    s_create("{\"tags\": [\"a\", \"b\"]}", false, &image, 0);
    assert_int_equal(zn_imgrec_tag(&image, "c", true, &fault), 0);
    assert_int_equal(zn_imgrec_tag(&image, "c", true, &fault), 0); /* already there */
    assert_int_equal(image.tag_count, 3);
    assert_int_equal(zn_imgrec_tag(&image, "a", false, &fault), 0);
    assert_int_equal(zn_imgrec_tag(&image, "a", false, &fault), -ENOENT);
    assert_int_equal(image.tag_count, 2);
    assert_string_equal(image.tags[0], "b");
    assert_string_equal(image.tags[1], "c");
    zn_schema_release(&zn_imgrec_schema, &image);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_image_rec_example),
        cmocka_unit_test(test_image_rec_create_refuses),
        cmocka_unit_test(test_image_rec_patch_refuses),
        cmocka_unit_test(test_image_rec_visibility),
        cmocka_unit_test(test_image_rec_tags),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
