/* SPDX-License-Identifier: Apache-2.0 */
/* zn_api_body.h - the server-create body (POST /servers) checked against Nova's 2.1 schema and
 * turned into plain data, without touching the store or any peer: the one parser of the api's
 * largest untrusted input, fuzzed on its own (tests/fuzz/fuzz_api_create.c). */
#ifndef ZN_API_BODY_H
#define ZN_API_BODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "zn_cellrec.h"
#include "zn_err.h"

#define ZN_API_METADATA_MAX  128 /* Nova's maxServerMeta */
#define ZN_API_NAME_MAX      255
#define ZN_API_USER_DATA_MAX 65535 /* base64 bytes */
#define ZN_API_NICS_MAX      32
#define ZN_API_BDMS_MAX      32
#define ZN_API_COUNT_MAX     100 /* instances one request may ask for */

/* What POST /servers asked for. Strings owned; release with zn_api_server_req_release. */
typedef struct zn_api_server_req {
    char *name;
    char *image_ref;  /* NULL or "" when booting from a volume */
    char *flavor_ref; /* flavorRef as text (Nova takes an id string or number) */
    char *key_name;
    char *user_data;
    char *availability_zone;
    char *admin_pass;
    char *access_ipv4;
    char **metadata; /* "key=value" */
    size_t metadata_count;
    zn_cell_nic_t *nics; /* network_id / port_id / fixed_ip as given */
    size_t nic_count;
    bool nics_auto;      /* "auto", or no networks key at all (2.1: the project's networks) */
    bool nics_none;      /* "none" */
    zn_cell_bdm_t *bdms; /* volumes to attach (source and destination "volume") */
    size_t bdm_count;
    int64_t min_count;
    int64_t max_count;
    char *group_id; /* os:scheduler_hints.group */
    char **same_host;
    size_t same_host_count;
    char **different_host;
    size_t different_host_count;
} zn_api_server_req_t;

/* Check BODY (the whole request object, {"server": {...}, "os:scheduler_hints"?: {...}}) and
 * fill OUT (zeroed first). Returns 0, or -EINVAL with FAULT worded as Nova words its 400s
 * ("Invalid input for field/attribute name. ..."); OUT then holds nothing. */
ZN_MUST_CHECK int zn_api_server_parse(const json_t *body, zn_api_server_req_t *out,
                                      zn_fault_t *fault);

/* Free everything REQ owns and zero it. Safe twice. */
void zn_api_server_req_release(zn_api_server_req_t *req);

/* VALUE as an integer: a JSON integer, or a string of decimal digits (Nova accepts both).
 * Returns 0 or -EINVAL. */
ZN_MUST_CHECK int zn_api_json_int(const json_t *value, int64_t *out);

/* VALUE as a boolean: true/false, or the strings Nova's parser knows ("true", "1", "yes", ...).
 * Returns 0 or -EINVAL. */
ZN_MUST_CHECK int zn_api_json_bool(const json_t *value, bool *out);

#endif
