/* SPDX-License-Identifier: Apache-2.0 */
/* zn_json.h - JSON for the REST agents (jansson): strict parsing of request bodies with limits,
 * path lookups, owned dumps, and the OpenStack error body. */
#ifndef ZN_JSON_H
#define ZN_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "zn_err.h"

#define ZN_JSON_DEPTH_MAX 32 /* nesting accepted in a request body */

/* Parse LEN bytes of TEXT as one JSON object (duplicate keys and nesting beyond
 * ZN_JSON_DEPTH_MAX refused). On 0 *out owns a new reference (json_decref). Returns -EINVAL with
 * FAULT saying where the text is wrong. */
ZN_MUST_CHECK int zn_json_parse(const char *text, size_t len, json_t **out, zn_fault_t *fault);

/* The value at DOTTED_PATH ("auth.identity.methods") below ROOT, or NULL when a step is
 * missing or not an object. Borrowed from ROOT. */
json_t *zn_json_at(const json_t *root, const char *dotted_path);

/* The string at DOTTED_PATH, or NULL when missing or not a string. Borrowed from ROOT. */
const char *zn_json_str_at(const json_t *root, const char *dotted_path);

/* VALUE as compact JSON text, the caller's (zn_str_free). Steals the reference to VALUE. */
char *zn_json_dump_steal(json_t *value);

/* The standard reason phrase of STATUS ("Not Found"), "Error" when unknown. Static. */
const char *zn_json_title(unsigned status);

/* The OpenStack error body that keystoneclient, novaclient and the SDK all parse:
 * {"error": {"code": STATUS, "title": "...", "message": MESSAGE}}. The caller's (zn_str_free). */
char *zn_json_error_body(unsigned status, const char *message);

#endif
