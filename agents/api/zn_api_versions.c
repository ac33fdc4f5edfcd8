/* SPDX-License-Identifier: Apache-2.0 */
/* zn_api_versions.c - version discovery: the list at the root (v2.0 first, as Tempest checks)
 * and each version's document, which tells the SDK the microversion range. */
#include "zn_api_int.h"
#include "zn_mem.h"
#include "zn_str.h"

#define S_UPDATED "2013-07-23T11:33:21Z"

/* One version entry: ID ("v2.1"), its path ("v2.1"), status and microversion range. */
static json_t *
s_version(zn_rest_req_t *req, const char *id, const char *path, const char *status, const char *max,
          const char *min)
{
    char *href = zn_asprintf("%s/%s/", zn_rest_base_url(req), path);
    json_t *v = json_pack("{s:s,s:s,s:s,s:s,s:s,s:[{s:s,s:s}],s:[{s:s,s:s}]}", "id", id, "status",
                          status, "version", max, "min_version", min, "updated", S_UPDATED, "links",
                          "rel", "self", "href", href, "media-types", "base", "application/json",
                          "type", "application/vnd.openstack.compute+json;version=2");
    zn_str_free(&href);
    return v;
}

int
zn__api_versions(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    (void)arg;
    (void)fault;
    json_t *list = json_array();
    (void)json_array_append_new(list, s_version(req, "v2.0", "v2", "SUPPORTED", "", ""));
    (void)json_array_append_new(
        list, s_version(req, "v2.1", "v2.1", "CURRENT", ZN_API_VERSION_MAX, ZN_API_VERSION_MIN));
    zn_rest_reply(req, 200, json_pack("{s:o}", "versions", list));
    return 0;
}

int
zn__api_version_v20(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    (void)arg;
    (void)fault;
    json_t *v = s_version(req, "v2.0", "v2", "SUPPORTED", "", "");
    zn_rest_reply(req, 200, json_pack("{s:o}", "version", v));
    return 0;
}

int
zn__api_version_v21(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    (void)arg;
    (void)fault;
    json_t *v = s_version(req, "v2.1", "v2.1", "CURRENT", ZN_API_VERSION_MAX, ZN_API_VERSION_MIN);
    zn_rest_reply(req, 200, json_pack("{s:o}", "version", v));
    return 0;
}
