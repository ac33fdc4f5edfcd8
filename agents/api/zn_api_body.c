/* SPDX-License-Identifier: Apache-2.0 */
/* zn_api_body.c - the server-create body against Nova's 2.1 schema. */
#include "zn_api_body.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "zn_mem.h"
#include "zn_schema.h"
#include "zn_uuid.h"

/* The keys Nova's 2.1 schema allows in "server" (additionalProperties false). */
static const char *const s_server_keys[] = {
    "name",
    "imageRef",
    "flavorRef",
    "adminPass",
    "metadata",
    "networks",
    "OS-DCF:diskConfig",
    "accessIPv4",
    "accessIPv6",
    "personality",
    "key_name",
    "user_data",
    "availability_zone",
    "block_device_mapping",
    "block_device_mapping_v2",
    "min_count",
    "max_count",
    "return_reservation_id",
    "security_groups",
    "config_drive",
};

static int
s_bad(zn_fault_t *fault, const char *field, const char *why)
{
    return zn_fault_set(fault, -EINVAL, "Invalid input for field/attribute %s. %s", field, why);
}

int
zn_api_json_int(const json_t *value, int64_t *out)
{
    if (json_is_integer(value)) {
        *out = (int64_t)json_integer_value(value);
        return 0;
    }
    const char *text = json_string_value(value);
    if (text == NULL || text[0] == '\0' || strlen(text) > 18) {
        return -EINVAL;
    }
    int64_t v = 0;
    for (const char *p = text; *p != '\0'; p++) {
        if (!isdigit((unsigned char)*p)) {
            return -EINVAL;
        }
        v = v * 10 + (*p - '0');
    }
    *out = v;
    return 0;
}

int
zn_api_json_bool(const json_t *value, bool *out)
{
    if (json_is_boolean(value)) {
        *out = json_is_true(value);
        return 0;
    }
    static const char *const yes[] = {"true", "1", "yes", "on", "y", "t"};
    static const char *const no[] = {"false", "0", "no", "off", "n", "f"};
    const char *text = json_string_value(value);
    for (size_t i = 0; text != NULL && i < ZN_ARRAY_COUNT(yes); i++) {
        if (strcasecmp(text, yes[i]) == 0 || strcasecmp(text, no[i]) == 0) {
            *out = strcasecmp(text, yes[i]) == 0;
            return 0;
        }
    }
    return -EINVAL;
}

/* A string of 1..MAX bytes with no control characters, or -EINVAL. */
static int
s_text(const json_t *value, size_t max, const char **out)
{
    const char *text = json_string_value(value);
    size_t len = text != NULL ? json_string_length(value) : 0;
    if (text == NULL || len == 0 || len > max || strlen(text) != len) {
        return -EINVAL;
    }
    for (const char *p = text; *p != '\0'; p++) {
        if (iscntrl((unsigned char)*p)) {
            return -EINVAL;
        }
    }
    *out = text;
    return 0;
}

static int
s_name(const json_t *server, zn_api_server_req_t *out, zn_fault_t *fault)
{
    const char *name = NULL;
    json_t *value = json_object_get(server, "name");
    if (value == NULL) {
        return s_bad(fault, "name", "'name' is a required property");
    }
    if (s_text(value, ZN_API_NAME_MAX, &name) < 0 || isspace((unsigned char)name[0]) ||
        isspace((unsigned char)name[strlen(name) - 1])) {
        return s_bad(fault, "name",
                     "It must be 1 to 255 printable characters without leading or trailing "
                     "whitespace.");
    }
    out->name = zn_strdup(name);
    return 0;
}

static int
s_refs(const json_t *server, zn_api_server_req_t *out, zn_fault_t *fault)
{
    json_t *image = json_object_get(server, "imageRef");
    if (image != NULL && !json_is_string(image)) {
        return zn_fault_set(fault, -EINVAL, "Invalid imageRef provided.");
    }
    const char *image_ref = json_string_value(image);
    if (image_ref != NULL && image_ref[0] != '\0' && !zn_uuid_is_valid(image_ref)) {
        return zn_fault_set(fault, -EINVAL, "Invalid imageRef provided.");
    }
    out->image_ref = image_ref != NULL && image_ref[0] != '\0' ? zn_strdup(image_ref) : NULL;
    json_t *flavor = json_object_get(server, "flavorRef");
    const char *text = NULL;
    if (json_is_integer(flavor)) {
        out->flavor_ref = zn_asprintf("%" JSON_INTEGER_FORMAT, json_integer_value(flavor));
    } else if (s_text(flavor, ZN_API_NAME_MAX, &text) == 0 && strchr(text, '/') == NULL) {
        out->flavor_ref = zn_strdup(text);
    } else {
        return zn_fault_set(fault, -EINVAL, "Invalid flavorRef provided.");
    }
    return 0;
}

static bool
s_is_ip(const char *text)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, text, buf) == 1 || inet_pton(AF_INET6, text, buf) == 1;
}

/* One entry of "networks": {uuid?, port?, fixed_ip?, tag?}. */
static int
s_nic(const json_t *entry, zn_cell_nic_t *nic, zn_fault_t *fault)
{
    if (!json_is_object(entry)) {
        return zn_fault_set(fault, -EINVAL, "Bad networks format");
    }
    const char *uuid = json_string_value(json_object_get(entry, "uuid"));
    const char *port = json_string_value(json_object_get(entry, "port"));
    const char *ip = json_string_value(json_object_get(entry, "fixed_ip"));
    if (uuid == NULL && port == NULL) {
        return zn_fault_set(fault, -EINVAL,
                            "Bad networks format: a network needs a uuid or a port");
    }
    if (uuid != NULL && !zn_uuid_is_valid(uuid)) {
        return zn_fault_set(fault, -EINVAL,
                            "Bad networks format: network uuid is not in proper format (%.64s)",
                            uuid);
    }
    if (port != NULL && !zn_uuid_is_valid(port)) {
        return zn_fault_set(fault, -EINVAL, "Bad networks format: port %.64s is not a UUID", port);
    }
    if (ip != NULL && !s_is_ip(ip)) {
        return zn_fault_set(fault, -EINVAL, "Invalid fixed IP address (%.64s)", ip);
    }
    nic->network_id = uuid != NULL ? zn_strdup(uuid) : NULL;
    nic->port_id = port != NULL ? zn_strdup(port) : NULL;
    nic->fixed_ip = ip != NULL ? zn_strdup(ip) : NULL;
    return 0;
}

static int
s_networks(const json_t *server, zn_api_server_req_t *out, zn_fault_t *fault)
{
    json_t *networks = json_object_get(server, "networks");
    const char *word = json_string_value(networks);
    if (networks == NULL || (word != NULL && strcmp(word, "auto") == 0)) {
        out->nics_auto = true; /* 2.1 without networks: the project's network(s) */
        return 0;
    }
    if (word != NULL && strcmp(word, "none") == 0) {
        out->nics_none = true;
        return 0;
    }
    if (!json_is_array(networks) || json_array_size(networks) > ZN_API_NICS_MAX) {
        return s_bad(fault, "networks", "It must be \"auto\", \"none\" or a list of networks.");
    }
    out->nics = zn_calloc(json_array_size(networks) + 1, sizeof(*out->nics));
    size_t i;
    json_t *entry;
    json_array_foreach(networks, i, entry)
    {
        int rc = s_nic(entry, &out->nics[i], fault);
        out->nic_count = i + 1; /* released with the rest on failure */
        if (rc < 0) {
            return rc;
        }
    }
    out->nics_auto = out->nic_count == 0;
    return 0;
}

static int
s_metadata(const json_t *server, zn_api_server_req_t *out, zn_fault_t *fault)
{
    json_t *md = json_object_get(server, "metadata");
    if (md == NULL) {
        return 0;
    }
    if (!json_is_object(md) || json_object_size(md) > ZN_API_METADATA_MAX) {
        return s_bad(fault, "metadata", "It must be an object of at most 128 string pairs.");
    }
    out->metadata = zn_calloc(json_object_size(md) + 1, sizeof(char *));
    const char *key;
    json_t *value;
    json_object_foreach(md, key, value)
    {
        const char *text = NULL;
        if (key[0] == '\0' || strlen(key) > 255 || strchr(key, '=') != NULL ||
            (!json_is_string(value) || json_string_length(value) > 255) ||
            (json_string_length(value) > 0 && s_text(value, 255, &text) < 0)) {
            return s_bad(fault, "metadata",
                         "Keys are 1 to 255 characters without '=', values strings of at most "
                         "255.");
        }
        out->metadata[out->metadata_count++] = zn_asprintf("%s=%s", key, json_string_value(value));
    }
    return 0;
}

/* One block_device_mapping_v2 entry: a volume to attach, or the image to boot from. */
static int
s_bdm(const json_t *entry, zn_api_server_req_t *out, zn_fault_t *fault)
{
    const char *source = json_string_value(json_object_get(entry, "source_type"));
    const char *dest = json_string_value(json_object_get(entry, "destination_type"));
    const char *uuid = json_string_value(json_object_get(entry, "uuid"));
    if (!json_is_object(entry) || source == NULL) {
        return s_bad(fault, "block_device_mapping_v2", "Each entry needs a source_type.");
    }
    dest = dest != NULL ? dest : (strcmp(source, "volume") == 0 ? "volume" : "local");
    if (uuid == NULL || !zn_uuid_is_valid(uuid)) {
        return s_bad(fault, "block_device_mapping_v2", "Each entry needs a uuid.");
    }
    int64_t boot_index = -1;
    json_t *bi = json_object_get(entry, "boot_index");
    if (bi != NULL && !json_is_null(bi) && zn_api_json_int(bi, &boot_index) < 0) {
        return s_bad(fault, "boot_index", "It must be an integer.");
    }
    if (strcmp(source, "image") == 0 && strcmp(dest, "local") == 0) {
        if (out->image_ref == NULL) {
            out->image_ref = zn_strdup(uuid);
        }
        return 0;
    }
    if (strcmp(source, "volume") != 0 || strcmp(dest, "volume") != 0) {
        return zn_fault_set(fault, -EINVAL,
                            "Block Device Mapping is Invalid: source_type %.32s with "
                            "destination_type %.32s is not supported.",
                            source, dest);
    }
    zn_cell_bdm_t *bdm = &out->bdms[out->bdm_count++];
    bdm->volume_id = zn_strdup(uuid);
    const char *device = json_string_value(json_object_get(entry, "device_name"));
    bdm->device = device != NULL && device[0] != '\0' ? zn_strndup(device, 64) : NULL;
    bdm->boot_index = boot_index;
    bool del = false;
    json_t *dot = json_object_get(entry, "delete_on_termination");
    bdm->delete_on_termination = dot != NULL && zn_api_json_bool(dot, &del) == 0 && del;
    return 0;
}

static int
s_bdms(const json_t *server, zn_api_server_req_t *out, zn_fault_t *fault)
{
    json_t *list = json_object_get(server, "block_device_mapping_v2");
    if (list == NULL) {
        return 0;
    }
    if (!json_is_array(list) || json_array_size(list) > ZN_API_BDMS_MAX) {
        return s_bad(fault, "block_device_mapping_v2", "It must be a list of at most 32.");
    }
    out->bdms = zn_calloc(json_array_size(list) + 1, sizeof(*out->bdms));
    size_t i;
    json_t *entry;
    json_array_foreach(list, i, entry)
    {
        int rc = s_bdm(entry, out, fault);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

static int
s_counts(const json_t *server, zn_api_server_req_t *out, zn_fault_t *fault)
{
    out->min_count = 1;
    out->max_count = 1;
    json_t *min = json_object_get(server, "min_count");
    json_t *max = json_object_get(server, "max_count");
    if (min != NULL && (zn_api_json_int(min, &out->min_count) < 0 || out->min_count < 1)) {
        return s_bad(fault, "min_count", "It must be an integer of at least 1.");
    }
    if (max != NULL && (zn_api_json_int(max, &out->max_count) < 0 || out->max_count < 1)) {
        return s_bad(fault, "max_count", "It must be an integer of at least 1.");
    }
    if (max == NULL && out->min_count > 1) {
        out->max_count = out->min_count;
    }
    if (out->min_count > out->max_count) {
        return zn_fault_set(fault, -EINVAL, "min_count must be <= max_count");
    }
    if (out->max_count > ZN_API_COUNT_MAX) {
        return s_bad(fault, "max_count", "At most 100 servers per request.");
    }
    return 0;
}

static bool
s_is_base64(const char *text, size_t len)
{
    if (len % 4 != 0) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        bool pad = c == '=' && i >= len - 2;
        if (!isalnum((unsigned char)c) && c != '+' && c != '/' && !pad) {
            return false;
        }
    }
    return true;
}

/* The optional strings: key_name, availability_zone, adminPass, accessIPv4, user_data. */
static int
s_strings(const json_t *server, zn_api_server_req_t *out, zn_fault_t *fault)
{
    static const struct {
        const char *key;
        size_t offset;
        size_t max;
    } rows[] = {
        {"key_name", offsetof(zn_api_server_req_t, key_name), 255},
        {"availability_zone", offsetof(zn_api_server_req_t, availability_zone), 255},
        {"adminPass", offsetof(zn_api_server_req_t, admin_pass), 255},
        {"accessIPv4", offsetof(zn_api_server_req_t, access_ipv4), 64},
    };

    for (size_t i = 0; i < ZN_ARRAY_COUNT(rows); i++) {
        json_t *value = json_object_get(server, rows[i].key);
        const char *text = NULL;
        if (value == NULL || json_is_null(value)) {
            continue;
        }
        if (s_text(value, rows[i].max, &text) < 0) {
            return s_bad(fault, rows[i].key, "It must be a non-empty string.");
        }
        *(char **)(void *)((char *)out + rows[i].offset) = zn_strdup(text);
    }
    if (out->access_ipv4 != NULL && !s_is_ip(out->access_ipv4)) {
        return s_bad(fault, "accessIPv4", "It must be an IPv4 address.");
    }
    json_t *ud = json_object_get(server, "user_data");
    if (ud != NULL && !json_is_null(ud)) {
        const char *text = json_string_value(ud);
        size_t len = text != NULL ? json_string_length(ud) : 0;
        if (text == NULL || len > ZN_API_USER_DATA_MAX || !s_is_base64(text, len)) {
            return s_bad(fault, "user_data", "It must be base64 of at most 65535 bytes.");
        }
        out->user_data = zn_strdup(text);
    }
    return 0;
}

/* An instance uuid or a list of them, as scheduler hints take them. */
static int
s_hint_ids(const json_t *value, char ***out, size_t *count, zn_fault_t *fault)
{
    if (value == NULL) {
        return 0;
    }
    size_t n = json_is_array(value) ? json_array_size(value) : 1;
    if (n > 64) {
        return s_bad(fault, "os:scheduler_hints", "At most 64 instances per hint.");
    }
    *out = zn_calloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        const char *id = json_string_value(json_is_array(value) ? json_array_get(value, i) : value);
        if (id == NULL || !zn_uuid_is_valid(id)) {
            return s_bad(fault, "os:scheduler_hints", "Hints name instances by uuid.");
        }
        (*out)[(*count)++] = zn_strdup(id);
    }
    return 0;
}

static int
s_hints(const json_t *body, zn_api_server_req_t *out, zn_fault_t *fault)
{
    json_t *hints = json_object_get(body, "os:scheduler_hints");
    if (hints == NULL) {
        hints = json_object_get(body, "OS-SCH-HNT:scheduler_hints");
    }
    if (hints == NULL) {
        return 0;
    }
    if (!json_is_object(hints)) {
        return s_bad(fault, "os:scheduler_hints", "It must be an object.");
    }
    const char *group = json_string_value(json_object_get(hints, "group"));
    if (json_object_get(hints, "group") != NULL && (group == NULL || !zn_uuid_is_valid(group))) {
        return s_bad(fault, "group", "It must be a server group uuid.");
    }
    out->group_id = group != NULL ? zn_strdup(group) : NULL;
    int rc = s_hint_ids(json_object_get(hints, "same_host"), &out->same_host, &out->same_host_count,
                        fault);
    if (rc == 0) {
        rc = s_hint_ids(json_object_get(hints, "different_host"), &out->different_host,
                        &out->different_host_count, fault);
    }
    return rc;
}

/* zinc has one security group per project, "default": any other name is unknown. */
static int
s_security_groups(const json_t *server, zn_fault_t *fault)
{
    json_t *groups = json_object_get(server, "security_groups");
    if (groups == NULL) {
        return 0;
    }
    if (!json_is_array(groups)) {
        return s_bad(fault, "security_groups", "It must be a list of {name}.");
    }
    size_t i;
    json_t *group;
    json_array_foreach(groups, i, group)
    {
        const char *name = json_string_value(json_object_get(group, "name"));
        if (name == NULL) {
            return s_bad(fault, "security_groups", "It must be a list of {name}.");
        }
        if (strcmp(name, "default") != 0) {
            return zn_fault_set(fault, -EINVAL, "Security group %.64s not found.", name);
        }
    }
    return 0;
}

static int
s_known_keys(const json_t *server, zn_fault_t *fault)
{
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)(uintptr_t)server, key, value)
    {
        bool known = false;
        for (size_t i = 0; i < ZN_ARRAY_COUNT(s_server_keys) && !known; i++) {
            known = strcmp(key, s_server_keys[i]) == 0;
        }
        if (!known) {
            return zn_fault_set(fault, -EINVAL,
                                "Invalid input for field/attribute server. Additional properties "
                                "are not allowed ('%.64s' was unexpected)",
                                key);
        }
    }
    return 0;
}

int
zn_api_server_parse(const json_t *body, zn_api_server_req_t *out, zn_fault_t *fault)
{
    memset(out, 0, sizeof(*out));
    json_t *server = json_object_get(body, "server");
    if (!json_is_object(server)) {
        return zn_fault_set(fault, -EINVAL,
                            "Invalid input for field/attribute server. 'server' "
                            "is a required property and must be an object.");
    }
    int rc = s_known_keys(server, fault);
    if (rc == 0) {
        rc = s_name(server, out, fault);
    }
    if (rc == 0) {
        rc = s_refs(server, out, fault);
    }
    if (rc == 0) {
        rc = s_networks(server, out, fault);
    }
    if (rc == 0) {
        rc = s_metadata(server, out, fault);
    }
    if (rc == 0) {
        rc = s_bdms(server, out, fault);
    }
    if (rc == 0) {
        rc = s_counts(server, out, fault);
    }
    if (rc == 0) {
        rc = s_strings(server, out, fault);
    }
    if (rc == 0) {
        rc = s_hints(body, out, fault);
    }
    if (rc == 0) {
        rc = s_security_groups(server, fault);
    }
    if (rc == 0 && out->image_ref == NULL && out->bdm_count == 0) {
        rc = zn_fault_set(fault, -EINVAL, "Missing imageRef attribute");
    }
    if (rc < 0) {
        zn_api_server_req_release(out);
    }
    return rc;
}

static void
s_strv_free(char ***strv, size_t *count)
{
    for (size_t i = 0; *strv != NULL && i < *count; i++) {
        zn_free((*strv)[i]);
    }
    zn_free(*strv);
    *strv = NULL;
    *count = 0;
}

void
zn_api_server_req_release(zn_api_server_req_t *req)
{
    char **strings[] = {&req->name,       &req->image_ref,   &req->flavor_ref,
                        &req->key_name,   &req->user_data,   &req->availability_zone,
                        &req->admin_pass, &req->access_ipv4, &req->group_id};
    for (size_t i = 0; i < ZN_ARRAY_COUNT(strings); i++) {
        zn_str_free(strings[i]);
    }
    s_strv_free(&req->metadata, &req->metadata_count);
    s_strv_free(&req->same_host, &req->same_host_count);
    s_strv_free(&req->different_host, &req->different_host_count);
    for (size_t i = 0; req->nics != NULL && i < req->nic_count; i++) {
        zn_free(req->nics[i].network_id);
        zn_free(req->nics[i].port_id);
        zn_free(req->nics[i].fixed_ip);
        zn_free(req->nics[i].mac);
    }
    zn_free(req->nics);
    for (size_t i = 0; req->bdms != NULL && i < req->bdm_count; i++) {
        zn_free(req->bdms[i].volume_id);
        zn_free(req->bdms[i].device);
    }
    zn_free(req->bdms);
    memset(req, 0, sizeof(*req));
}
