/* SPDX-License-Identifier: Apache-2.0 */
/* zn_json.c - jansson helpers with zinc's limits and ownership rules. */
#include "zn_json.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zn_mem.h"

static const struct {
    unsigned status;
    const char *title;
} s_titles[] = {
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {409, "Conflict"},
    {413, "Request Entity Too Large"},
    {415, "Unsupported Media Type"},
    {429, "Too Many Requests"},
    {500, "Internal Server Error"},
    {503, "Service Unavailable"},
};

static bool
s_depth_ok(const json_t *value, int depth)
{
    if (depth > ZN_JSON_DEPTH_MAX) {
        return false;
    }
    const char *key = NULL;
    json_t *item = NULL;
    size_t index = 0;
    if (json_is_object(value)) {
        json_object_foreach((json_t *)(uintptr_t)value, key, item)
        {
            if (!s_depth_ok(item, depth + 1)) {
                return false;
            }
        }
    } else if (json_is_array(value)) {
        json_array_foreach(value, index, item)
        {
            if (!s_depth_ok(item, depth + 1)) {
                return false;
            }
        }
    }
    return true;
}

int
zn_json_parse(const char *text, size_t len, json_t **out, zn_fault_t *fault)
{
    *out = NULL;
    json_error_t error;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &error);
    if (root == NULL) {
        return zn_fault_set(fault, -EINVAL, "malformed JSON at line %d column %d: %s", error.line,
                            error.column, error.text);
    }
    if (!json_is_object(root)) {
        json_decref(root);
        return zn_fault_set(fault, -EINVAL, "the request body must be a JSON object");
    }
    if (!s_depth_ok(root, 0)) {
        json_decref(root);
        return zn_fault_set(fault, -EINVAL, "JSON nested deeper than %d", ZN_JSON_DEPTH_MAX);
    }
    *out = root;
    return 0;
}

json_t *
zn_json_at(const json_t *root, const char *dotted_path)
{
    const json_t *node = root;
    const char *step = dotted_path;
    while (node != NULL && step != NULL) {
        const char *dot = strchr(step, '.');
        size_t len = dot != NULL ? (size_t)(dot - step) : strlen(step);
        if (!json_is_object(node)) {
            return NULL;
        }
        node = json_object_getn(node, step, len);
        step = dot != NULL ? dot + 1 : NULL;
    }
    return (json_t *)(uintptr_t)node; /* jansson's accessors take non-const values */
}

const char *
zn_json_str_at(const json_t *root, const char *dotted_path)
{
    return json_string_value(zn_json_at(root, dotted_path));
}

char *
zn_json_dump_steal(json_t *value)
{
    char *text = json_dumps(value, JSON_COMPACT);
    json_decref(value);
    ZN_ASSERT(text != NULL); /* only fails on out-of-memory */
    char *copy = zn_strdup(text);
    free(text); /* jansson's allocation */
    return copy;
}

const char *
zn_json_title(unsigned status)
{
    for (size_t i = 0; i < ZN_ARRAY_COUNT(s_titles); i++) {
        if (s_titles[i].status == status) {
            return s_titles[i].title;
        }
    }
    return "Error";
}

char *
zn_json_error_body(unsigned status, const char *message)
{
    json_t *inner = json_object();
    json_t *text = json_string(message);
    if (text == NULL) {
        /* MESSAGE may quote client input that is not UTF-8: never echo it then. */
        text = json_string("invalid request");
    }
    (void)json_object_set_new(inner, "code", json_integer((json_int_t)status));
    (void)json_object_set_new(inner, "title", json_string(zn_json_title(status)));
    (void)json_object_set_new(inner, "message", text);
    json_t *error = json_object();
    (void)json_object_set_new(error, "error", inner);
    return zn_json_dump_steal(error);
}
