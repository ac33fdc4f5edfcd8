/* SPDX-License-Identifier: Apache-2.0 */
/* zn_api_servers.c - servers: the 2.1 view, list and detail with filters and pages, show,
 * update, metadata, and delete (cast to the host, or the conductor's instance_delete). */
#include <errno.h>
#include <regex.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sodium.h>

#include "zn_api_body.h"
#include "zn_api_int.h"
#include "zn_clock.h"
#include "zn_log.h"
#include "zn_mem.h"
#include "zn_mp.h"
#include "zn_str.h"
#include "zn_tables.h"

/* ---- the view ----------------------------------------------------------------------------- */

typedef struct {
    char *id;
    char *name;
} s_net_name_t;

static const zn_field_t s_net_name_fields[] = {
    {"id", ZN_FT_STR, 0, offsetof(s_net_name_t, id), 0, 64, NULL},
    {"name", ZN_FT_STR, 0, offsetof(s_net_name_t, name), 0, 255, NULL},
};
static const zn_schema_t s_net_name_schema = {"network_name", 1, s_net_name_fields, 2,
                                              sizeof(s_net_name_t)};

/* The label Nova gives a NIC's addresses: its network's name. */
static char *
s_net_label(zn_api_t *self, zn_store_read_t *txn, const zn_cell_nic_t *nic)
{
    if (nic->network_id == NULL) {
        return zn_strdup("private");
    }
    s_net_name_t net;
    if (txn != NULL && zn__api_get(self, txn, ZN_TABLE_NETWORKS, nic->network_id,
                                   &s_net_name_schema, &net, NULL, NULL) == 0) {
        char *label = zn_strdup(net.name != NULL ? net.name : nic->network_id);
        zn_schema_release(&s_net_name_schema, &net);
        return label;
    }
    return zn_strdup(nic->network_id);
}

static json_t *
s_addresses(zn_api_t *self, zn_store_read_t *txn, const zn_cell_instance_t *inst)
{
    json_t *addresses = json_object();
    for (size_t i = 0; i < inst->nic_count; i++) {
        const zn_cell_nic_t *nic = &inst->nics[i];
        if (nic->fixed_ip == NULL) {
            continue;
        }
        char *label = s_net_label(self, txn, nic);
        json_t *list = json_object_get(addresses, label);
        if (list == NULL) {
            list = json_array();
            (void)json_object_set_new(addresses, label, list);
        }
        char mac[32] = "";
        for (size_t j = 0; nic->mac != NULL && nic->mac[j] != '\0' && j + 1 < sizeof(mac); j++) {
            mac[j] = (char)tolower((unsigned char)nic->mac[j]);
            mac[j + 1] = '\0';
        }
        (void)json_array_append_new(list, json_pack("{s:i,s:s,s:s,s:s}", "version",
                                                    strchr(nic->fixed_ip, ':') ? 6 : 4, "addr",
                                                    nic->fixed_ip, "OS-EXT-IPS:type", "fixed",
                                                    "OS-EXT-IPS-MAC:mac_addr", mac));
        zn_free(label);
    }
    return addresses;
}

static json_t *
s_metadata(const zn_cell_instance_t *inst)
{
    json_t *md = json_object();
    for (size_t i = 0; i < inst->metadata_count; i++) {
        const char *eq = strchr(inst->metadata[i], '=');
        if (eq != NULL) {
            char *key = zn_strndup(inst->metadata[i], (size_t)(eq - inst->metadata[i]));
            (void)json_object_set_new(md, key, json_string(eq + 1));
            zn_free(key);
        }
    }
    return md;
}

/* Nova's hostId: a hash of project and host, so that a project sees which of its servers
 * share a host without learning the host's name. */
static json_t *
s_host_id(const zn_cell_instance_t *inst)
{
    if (inst->host == NULL) {
        return json_string("");
    }
    uint8_t hash[28];
    char *text = zn_asprintf("%s%s", inst->project_id != NULL ? inst->project_id : "", inst->host);
    crypto_generichash(hash, sizeof(hash), (const uint8_t *)text, strlen(text), NULL, 0);
    zn_free(text);
    char hex[2 * sizeof(hash) + 1];
    (void)sodium_bin2hex(hex, sizeof(hex), hash, sizeof(hash));
    return json_string(hex);
}

static json_t *
s_ref(const zn_rest_req_t *req, const char *collection, const char *id)
{
    char *href =
        zn_asprintf("%s/%s/%s", zn_rest_base_url((zn_rest_req_t *)(uintptr_t)req), collection, id);
    json_t *ref =
        json_pack("{s:s,s:[{s:s,s:s}]}", "id", id, "links", "rel", "bookmark", "href", href);
    zn_free(href);
    return ref;
}

static json_t *
s_iso_or_null(int64_t ms)
{
    char text[32];
    zn__api_iso(ms, text);
    return ms > 0 ? json_string(text) : json_null();
}

/* The instance's states; an unreadable one shows as ERROR with no task. */
static void
s_states(const zn_cell_instance_t *inst, zn_vm_state_t *vm, zn_task_state_t *task)
{
    if (zn_vm_state_parse(inst->vm_state, vm) < 0) {
        *vm = ZN_VM_ERROR;
    }
    if (zn_task_state_parse(inst->task_state, task) < 0) {
        *task = ZN_TASK_NONE;
    }
}

static void
s_view_states(json_t *v, const zn_cell_instance_t *inst)
{
    zn_vm_state_t vm = ZN_VM_ERROR;
    zn_task_state_t task = ZN_TASK_NONE;
    s_states(inst, &vm, &task);
    (void)json_object_set_new(v, "status", json_string(zn_cellrec_status(vm, task)));
    (void)json_object_set_new(v, "OS-EXT-STS:vm_state", json_string(inst->vm_state));
    (void)json_object_set_new(v, "OS-EXT-STS:task_state",
                              inst->task_state != NULL ? json_string(inst->task_state)
                                                       : json_null());
    (void)json_object_set_new(v, "OS-EXT-STS:power_state", json_integer(inst->power_state));
    (void)json_object_set_new(v, "progress", json_integer(vm == ZN_VM_ACTIVE ? 100 : 0));
    if (vm == ZN_VM_ERROR && inst->fault.message != NULL) {
        char created[32];
        zn__api_iso(inst->fault.created_ms, created);
        (void)json_object_set_new(v, "fault",
                                  json_pack("{s:I,s:s,s:s}", "code", (json_int_t)inst->fault.code,
                                            "created", created, "message", inst->fault.message));
    }
}

static void
s_view_admin(zn_api_t *self, json_t *v, const zn_cell_instance_t *inst)
{
    (void)self;
    char name[32];
    (void)snprintf(name, sizeof(name), "instance-%.8s", inst->id);
    (void)json_object_set_new(v, "OS-EXT-SRV-ATTR:host",
                              inst->host != NULL ? json_string(inst->host) : json_null());
    (void)json_object_set_new(v, "OS-EXT-SRV-ATTR:hypervisor_hostname",
                              inst->node != NULL ? json_string(inst->node) : json_null());
    (void)json_object_set_new(v, "OS-EXT-SRV-ATTR:instance_name", json_string(name));
}

json_t *
zn__api_server_view(zn_api_t *self, zn_rest_req_t *req, zn_store_read_t *txn,
                    const zn_cell_instance_t *inst)
{
    char created[32];
    char updated[32];
    zn__api_iso(inst->created_ms, created);
    zn__api_iso(inst->updated_ms > 0 ? inst->updated_ms : inst->created_ms, updated);
    const char *zone = inst->availability_zone != NULL ? inst->availability_zone
                       : inst->host != NULL            ? self->cfg->default_zone
                                                       : "";
    json_t *volumes = json_array();
    for (size_t i = 0; i < inst->bdm_count; i++) {
        (void)json_array_append_new(volumes, json_pack("{s:s}", "id", inst->bdms[i].volume_id));
    }
    json_t *v = json_pack(
        "{s:s,s:s,s:s?,s:s?,s:o,s:o,s:o,s:o,s:s,s:s,s:o,s:o,s:s,s:s,s:s,s:s,s:s?,s:[{s:s}],s:o,"
        "s:o,s:n,s:s}",
        "id", inst->id, "name", inst->name != NULL ? inst->name : "", "tenant_id", inst->project_id,
        "user_id", inst->user_id, "metadata", s_metadata(inst), "hostId", s_host_id(inst), "image",
        inst->image_id != NULL ? s_ref(req, "images", inst->image_id) : json_string(""), "flavor",
        s_ref(req, "flavors", inst->flavor.id), "created", created, "updated", updated, "addresses",
        s_addresses(self, txn, inst), "links", zn__api_links(req, "servers", inst->id),
        "accessIPv4", inst->access_ipv4 != NULL ? inst->access_ipv4 : "", "accessIPv6", "",
        "OS-DCF:diskConfig", "MANUAL", "OS-EXT-AZ:availability_zone", zone, "key_name",
        inst->key_name, "security_groups", "name", "default",
        "os-extended-volumes:volumes_attached", volumes, "OS-SRV-USG:launched_at",
        s_iso_or_null(inst->launched_ms), "OS-SRV-USG:terminated_at", "config_drive", "");
    s_view_states(v, inst);
    if (zn_rest_is_admin(req)) {
        s_view_admin(self, v, inst);
    }
    return v;
}

/* ---- show --------------------------------------------------------------------------------- */

int
zn__api_server_show(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    zn_api_t *self = arg;
    zn_cell_instance_t inst;
    int rc = zn__api_instance_get(self, req, zn_rest_capture(req, 0), &inst, fault);
    if (rc < 0) {
        return rc;
    }
    zn_store_read_t *txn = NULL;
    if (zn__api_read_begin(self, &txn, NULL) < 0) {
        txn = NULL; /* addresses then show network ids */
    }
    json_t *view = zn__api_server_view(self, req, txn, &inst);
    zn_store_read_end(&txn);
    zn_rest_reply(req, 200, json_pack("{s:o}", "server", view));
    zn_schema_release(&zn_cell_instance_schema, &inst);
    return 0;
}

/* ---- list --------------------------------------------------------------------------------- */

typedef struct {
    zn_rest_req_t *req;
    zn_cell_instance_t *items;
    size_t count;
    size_t cap;
    bool name_set;
    regex_t name;
    const char *status;
    const char *host;
    const char *project; /* NULL: every project (admin, all_tenants) */
    const char *image;
    const char *flavor;
    bool ip_set;
    regex_t ip;
    int64_t changes_since_ms; /* 0: any */
} s_list_t;

static bool
s_ip_matches(const s_list_t *list, const zn_cell_instance_t *inst)
{
    for (size_t i = 0; i < inst->nic_count; i++) {
        const char *ip = inst->nics[i].fixed_ip;
        if (ip != NULL && regexec(&list->ip, ip, 0, NULL, 0) == 0) {
            return true;
        }
    }
    return false;
}

/* The filters on the instance's own words: name and ip (regular expressions), changes-since. */
static bool
s_wanted_text(const s_list_t *list, const zn_cell_instance_t *inst)
{
    if (list->name_set &&
        regexec(&list->name, inst->name != NULL ? inst->name : "", 0, NULL, 0) != 0) {
        return false;
    }
    if (list->ip_set && !s_ip_matches(list, inst)) {
        return false;
    }
    return list->changes_since_ms == 0 || inst->updated_ms >= list->changes_since_ms;
}

static bool
s_wanted(const s_list_t *list, const zn_cell_instance_t *inst)
{
    zn_vm_state_t vm = ZN_VM_ERROR;
    zn_task_state_t task = ZN_TASK_NONE;
    s_states(inst, &vm, &task);
    if (list->project != NULL &&
        (inst->project_id == NULL || strcmp(inst->project_id, list->project) != 0)) {
        return false;
    }
    if (list->status != NULL && strcasecmp(list->status, zn_cellrec_status(vm, task)) != 0) {
        return false;
    }
    if (list->host != NULL && (inst->host == NULL || strcmp(inst->host, list->host) != 0)) {
        return false;
    }
    if (list->image != NULL &&
        (inst->image_id == NULL || strcmp(inst->image_id, list->image) != 0)) {
        return false;
    }
    if (list->flavor != NULL && strcmp(inst->flavor.id, list->flavor) != 0) {
        return false;
    }
    return s_wanted_text(list, inst);
}

static int
s_collect(void *arg, const zn_store_record_t *rec)
{
    s_list_t *list = arg;
    zn_cell_instance_t inst;
    if (zn_schema_decode(&zn_cell_instance_schema, rec->value, &inst, NULL, NULL) < 0) {
        return 0;
    }
    if (!s_wanted(list, &inst)) {
        zn_schema_release(&zn_cell_instance_schema, &inst);
        return 0;
    }
    if (list->count == list->cap) {
        list->cap = list->cap == 0 ? 16 : list->cap * 2;
        list->items = zn_realloc(list->items, list->cap * sizeof(*list->items));
    }
    list->items[list->count++] = inst;
    return 0;
}

/* Newest first, as Nova sorts by default. */
static int
s_newest_first(const void *a, const void *b)
{
    const zn_cell_instance_t *x = a;
    const zn_cell_instance_t *y = b;
    if (x->created_ms != y->created_ms) {
        return x->created_ms > y->created_ms ? -1 : 1;
    }
    return strcmp(x->id, y->id);
}

/* "2026-03-01T10:22:04Z", with optional fractions and a +00:00 zone, as milliseconds. */
static int
s_parse_time(const char *text, int64_t *out_ms)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *rest = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);
    if (rest == NULL) {
        return -EINVAL;
    }
    if (*rest == '.') {
        rest += 1 + strspn(rest + 1, "0123456789");
    }
    if (*rest != '\0' && strcmp(rest, "Z") != 0 && strcmp(rest, "+00:00") != 0) {
        return -EINVAL;
    }
    *out_ms = (int64_t)timegm(&tm) * 1000;
    return 0;
}

static int
s_text_filters(zn_rest_req_t *req, s_list_t *list, zn_fault_t *fault)
{
    const char *name = zn_rest_query(req, "name");
    if (name != NULL) {
        if (regcomp(&list->name, name, REG_EXTENDED | REG_NOSUB) != 0) {
            return zn_fault_set(fault, -EINVAL, "Invalid name filter: %s", name);
        }
        list->name_set = true;
    }
    const char *ip = zn_rest_query(req, "ip");
    if (ip != NULL) {
        if (regcomp(&list->ip, ip, REG_EXTENDED | REG_NOSUB) != 0) {
            return zn_fault_set(fault, -EINVAL, "Invalid ip filter: %s", ip);
        }
        list->ip_set = true;
    }
    const char *since = zn_rest_query(req, "changes-since");
    if (since != NULL && s_parse_time(since, &list->changes_since_ms) < 0) {
        return zn_fault_set(fault, -EINVAL, "Invalid changes-since value: %s", since);
    }
    return 0;
}

static int
s_filters(zn_rest_req_t *req, s_list_t *list, zn_fault_t *fault)
{
    bool admin = zn_rest_is_admin(req);
    const char *all = zn_rest_query(req, "all_tenants");
    bool all_tenants =
        admin && all != NULL && strcmp(all, "0") != 0 && strcasecmp(all, "false") != 0;
    list->project = zn_rest_project_id(req);
    if (all_tenants) {
        list->project = zn_rest_query(req, "project_id");
        if (list->project == NULL) {
            list->project = zn_rest_query(req, "tenant_id");
        }
    }
    list->status = zn_rest_query(req, "status");
    list->host = admin ? zn_rest_query(req, "host") : NULL;
    list->image = zn_rest_query(req, "image");
    list->flavor = zn_rest_query(req, "flavor");
    return s_text_filters(req, list, fault);
}

static void
s_list_free(s_list_t *list)
{
    for (size_t i = 0; i < list->count; i++) {
        zn_schema_release(&zn_cell_instance_schema, &list->items[i]);
    }
    zn_free(list->items);
    if (list->name_set) {
        regfree(&list->name);
    }
    if (list->ip_set) {
        regfree(&list->ip);
    }
}

/* The page [*start, *start + *limit) of LIST per the marker and limit arguments. */
static int
s_page(zn_api_t *self, zn_rest_req_t *req, const s_list_t *list, size_t *start, size_t *limit,
       zn_fault_t *fault)
{
    *start = 0;
    *limit = (size_t)self->cfg->max_limit;
    const char *limit_text = zn_rest_query(req, "limit");
    if (limit_text != NULL) {
        int64_t n = 0;
        json_t *v = json_string(limit_text);
        int rc = zn_api_json_int(v, &n);
        json_decref(v);
        if (rc < 0) {
            return zn_fault_set(fault, -EINVAL, "limit param must be an integer");
        }
        *limit = n < self->cfg->max_limit ? (size_t)n : (size_t)self->cfg->max_limit;
    }
    const char *marker = zn_rest_query(req, "marker");
    if (marker == NULL) {
        return 0;
    }
    for (size_t i = 0; i < list->count; i++) {
        if (strcmp(list->items[i].id, marker) == 0) {
            *start = i + 1;
            return 0;
        }
    }
    return zn_fault_set(fault, -EINVAL, "marker [%s] not found", marker);
}

static json_t *
s_summary(const zn_rest_req_t *req, const zn_cell_instance_t *inst)
{
    return json_pack("{s:s,s:s,s:o}", "id", inst->id, "name", inst->name != NULL ? inst->name : "",
                     "links", zn__api_links(req, "servers", inst->id));
}

static void
s_reply_page(zn_api_t *self, zn_rest_req_t *req, zn_store_read_t *txn, const s_list_t *list,
             size_t start, size_t limit, bool detail)
{
    json_t *items = json_array();
    size_t end = start;
    for (; end < list->count && end < start + limit; end++) {
        const zn_cell_instance_t *inst = &list->items[end];
        (void)json_array_append_new(items, detail ? zn__api_server_view(self, req, txn, inst)
                                                  : s_summary(req, inst));
    }
    json_t *doc = json_pack("{s:o}", "servers", items);
    if (end < list->count && end > start) {
        char *href = zn_asprintf("%s/v2.1/servers%s?limit=%zu&marker=%s", zn_rest_base_url(req),
                                 detail ? "/detail" : "", limit, list->items[end - 1].id);
        (void)json_object_set_new(doc, "servers_links",
                                  json_pack("[{s:s,s:s}]", "rel", "next", "href", href));
        zn_free(href);
    }
    zn_rest_reply(req, 200, doc);
}

static int
s_list(zn_api_t *self, zn_rest_req_t *req, bool detail, zn_fault_t *fault)
{
    s_list_t list;
    memset(&list, 0, sizeof(list));
    list.req = req;
    int rc = s_filters(req, &list, fault);
    zn_store_read_t *txn = NULL;
    if (rc == 0) {
        rc = zn__api_read_begin(self, &txn, fault);
    }
    if (rc == 0) {
        rc = list.project != NULL
                 ? zn__api_scan(self, txn, ZN_TABLE_INSTANCES, "project_id", list.project,
                                s_collect, &list)
                 : zn__api_scan(self, txn, ZN_TABLE_INSTANCES, NULL, NULL, s_collect, &list);
    }
    if (list.count > 1) {
        qsort(list.items, list.count, sizeof(*list.items), s_newest_first);
    }
    size_t start = 0;
    size_t limit = 0;
    if (rc == 0) {
        rc = s_page(self, req, &list, &start, &limit, fault);
    }
    if (rc == 0) {
        s_reply_page(self, req, txn, &list, start, limit, detail);
    }
    zn_store_read_end(&txn);
    s_list_free(&list);
    return rc;
}

int
zn__api_server_list(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    return s_list(arg, req, false, fault);
}

int
zn__api_server_detail(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    return s_list(arg, req, true, fault);
}

/* ---- addresses ---------------------------------------------------------------------------- */

/* The server's addresses with version and addr only, as /ips shows them. */
static json_t *
s_plain_addresses(zn_api_t *self, const zn_cell_instance_t *inst)
{
    zn_store_read_t *txn = NULL;
    if (zn__api_read_begin(self, &txn, NULL) < 0) {
        txn = NULL;
    }
    json_t *addresses = s_addresses(self, txn, inst);
    zn_store_read_end(&txn);
    const char *label;
    json_t *list;
    json_object_foreach(addresses, label, list)
    {
        size_t i;
        json_t *entry;
        json_array_foreach(list, i, entry)
        {
            (void)json_object_del(entry, "OS-EXT-IPS:type");
            (void)json_object_del(entry, "OS-EXT-IPS-MAC:mac_addr");
        }
    }
    return addresses;
}

int
zn__api_ips_list(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    zn_cell_instance_t inst;
    int rc = zn__api_instance_get(arg, req, zn_rest_capture(req, 0), &inst, fault);
    if (rc == 0) {
        zn_rest_reply(req, 200, json_pack("{s:o}", "addresses", s_plain_addresses(arg, &inst)));
        zn_schema_release(&zn_cell_instance_schema, &inst);
    }
    return rc;
}

int
zn__api_ips_show(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    zn_cell_instance_t inst;
    int rc = zn__api_instance_get(arg, req, zn_rest_capture(req, 0), &inst, fault);
    if (rc < 0) {
        return rc;
    }
    const char *label = zn_rest_capture(req, 1);
    json_t *addresses = s_plain_addresses(arg, &inst);
    json_t *list = json_object_get(addresses, label);
    if (list == NULL) {
        rc = zn_fault_set(fault, -ENOENT, "Instance %s is not attached to network %s.", inst.id,
                          label);
    } else {
        zn_rest_reply(req, 200, json_pack("{s:O}", label, list));
    }
    json_decref(addresses);
    zn_schema_release(&zn_cell_instance_schema, &inst);
    return rc;
}

/* ---- update and metadata ------------------------------------------------------------------ */

/* A change of one instance that answers REQ with the new view (or the metadata). */
typedef struct {
    zn_api_t *api;
    zn_rest_req_t *req;
    char *name;
    char *access_ipv4;
    json_t *metadata; /* the new pairs */
    bool replace;     /* metadata: replace all rather than merge */
    bool answer_metadata;
} s_change_t;

static void
s_change_free(s_change_t *c)
{
    zn_free(c->name);
    zn_free(c->access_ipv4);
    json_decref(c->metadata);
    zn_free(c);
}

static int
s_apply_metadata(s_change_t *c, zn_cell_instance_t *inst, zn_fault_t *fault)
{
    json_t *merged = c->replace ? json_object() : s_metadata(inst);
    (void)json_object_update(merged, c->metadata);
    if (json_object_size(merged) > ZN_API_METADATA_MAX) {
        json_decref(merged);
        return zn_fault_set(fault, ZN_EQUOTA, "Quota exceeded for metadata_items");
    }
    for (size_t i = 0; i < inst->metadata_count; i++) {
        zn_free(inst->metadata[i]);
    }
    inst->metadata = zn_realloc(inst->metadata, (json_object_size(merged) + 1) * sizeof(char *));
    inst->metadata_count = 0;
    const char *key;
    json_t *value;
    json_object_foreach(merged, key, value)
    {
        inst->metadata[inst->metadata_count++] =
            zn_asprintf("%s=%s", key, json_string_value(value));
    }
    json_decref(merged);
    return 0;
}

static int
s_mutate_change(void *arg, zn_store_read_t *txn, zn_cell_instance_t *inst, zn_batch_t *batch,
                zn_fault_t *fault)
{
    (void)txn;
    (void)batch;
    s_change_t *c = arg;
    if (inst->vm_state != NULL && strcmp(inst->vm_state, "deleted") == 0) {
        return zn_fault_set(fault, -ENOENT, "Instance %s could not be found.", inst->id);
    }
    if (c->name != NULL) {
        zn__api_set_str(&inst->name, c->name);
    }
    if (c->access_ipv4 != NULL) {
        zn__api_set_str(&inst->access_ipv4, c->access_ipv4);
    }
    return c->metadata != NULL ? s_apply_metadata(c, inst, fault) : 0;
}

/* Nova answers PUT /servers/{id} with the basic view: no extension attributes, addresses
 * with version and addr only (Tempest's update_server schema). */
static void
s_basic_view(json_t *view)
{
    static const char *const keep[] = {"id",         "name",      "status",   "image",
                                       "flavor",     "fault",     "user_id",  "tenant_id",
                                       "created",    "updated",   "progress", "metadata",
                                       "links",      "addresses", "hostId",   "OS-DCF:diskConfig",
                                       "accessIPv4", "accessIPv6"};
    const char *key;
    json_t *value;
    void *tmp;
    json_object_foreach_safe(view, tmp, key, value)
    {
        bool kept = false;
        for (size_t i = 0; i < ZN_ARRAY_COUNT(keep) && !kept; i++) {
            kept = strcmp(key, keep[i]) == 0;
        }
        if (!kept) {
            (void)json_object_del(view, key);
        }
    }
    json_object_foreach(json_object_get(view, "addresses"), key, value)
    {
        size_t i;
        json_t *entry;
        json_array_foreach(value, i, entry)
        {
            (void)json_object_del(entry, "OS-EXT-IPS:type");
            (void)json_object_del(entry, "OS-EXT-IPS-MAC:mac_addr");
        }
    }
}

static void
s_changed(void *arg, const zn_cell_instance_t *inst, const zn_fault_t *fault)
{
    s_change_t *c = arg;
    if (fault->code < 0) {
        zn_rest_error(c->req, fault->code, zn_fault_message(fault));
    } else if (c->answer_metadata) {
        zn_rest_reply(c->req, 200, json_pack("{s:o}", "metadata", s_metadata(inst)));
    } else {
        zn_store_read_t *txn = NULL;
        if (zn__api_read_begin(c->api, &txn, NULL) < 0) {
            txn = NULL;
        }
        json_t *view = zn__api_server_view(c->api, c->req, txn, inst);
        zn_store_read_end(&txn);
        s_basic_view(view);
        zn_rest_reply(c->req, 200, json_pack("{s:o}", "server", view));
    }
    s_change_free(c);
}

/* Check that REQ's caller may change the instance of capture 0, then run C. */
static int
s_change(zn_api_t *self, zn_rest_req_t *req, s_change_t *c, zn_fault_t *fault)
{
    zn_cell_instance_t inst;
    const char *id = zn_rest_capture(req, 0);
    int rc = zn__api_instance_get(self, req, id, &inst, fault);
    if (rc == 0) {
        zn_schema_release(&zn_cell_instance_schema, &inst);
        c->api = self;
        c->req = req;
        zn_ctx_t ctx;
        zn__api_ctx(req, &ctx);
        zn__api_inst_update(self, &ctx, id, s_mutate_change, s_changed, c);
        return ZN_DEFERRED;
    }
    s_change_free(c);
    return rc;
}

int
zn__api_server_update(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    json_t *server = json_object_get(zn_rest_json(req), "server");
    if (!json_is_object(server)) {
        return zn_fault_set(fault, -EINVAL, "Invalid input for field/attribute server.");
    }
    s_change_t *c = zn_calloc(1, sizeof(*c));
    const char *key;
    json_t *value;
    int rc = 0;
    json_object_foreach(server, key, value)
    {
        const char *text = json_string_value(value);
        size_t len = text != NULL ? strlen(text) : 0;
        if (strcmp(key, "name") == 0 && len > 0 && len <= 255 && text[0] != ' ' &&
            text[len - 1] != ' ') {
            c->name = zn_strdup(text);
        } else if (strcmp(key, "accessIPv4") == 0 && len > 0 && len < 64) {
            c->access_ipv4 = zn_strdup(text);
        } else if (strcmp(key, "accessIPv6") != 0 && strcmp(key, "OS-DCF:diskConfig") != 0) {
            rc = zn_fault_set(fault, -EINVAL, "Invalid input for field/attribute %s.", key);
        }
    }
    if (rc < 0) {
        s_change_free(c);
        return rc;
    }
    return s_change(arg, req, c, fault);
}

int
zn__api_metadata_list(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    zn_cell_instance_t inst;
    int rc = zn__api_instance_get(arg, req, zn_rest_capture(req, 0), &inst, fault);
    if (rc == 0) {
        zn_rest_reply(req, 200, json_pack("{s:o}", "metadata", s_metadata(&inst)));
        zn_schema_release(&zn_cell_instance_schema, &inst);
    }
    return rc;
}

static int
s_metadata_change(zn_api_t *self, zn_rest_req_t *req, bool replace, zn_fault_t *fault)
{
    json_t *md = json_object_get(zn_rest_json(req), "metadata");
    if (!json_is_object(md)) {
        return zn_fault_set(fault, -EINVAL, "Malformed request body: metadata");
    }
    const char *key;
    json_t *value;
    json_object_foreach(md, key, value)
    {
        if (key[0] == '\0' || strlen(key) > 255 || strchr(key, '=') != NULL ||
            !json_is_string(value) || json_string_length(value) > 255) {
            return zn_fault_set(fault, -EINVAL,
                                "Invalid input for field/attribute metadata. Keys are 1 to 255 "
                                "characters without '=', values strings of at most 255.");
        }
    }
    s_change_t *c = zn_calloc(1, sizeof(*c));
    c->metadata = json_incref(md);
    c->replace = replace;
    c->answer_metadata = true;
    return s_change(self, req, c, fault);
}

int
zn__api_metadata_replace(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    return s_metadata_change(arg, req, true, fault);
}

int
zn__api_metadata_update(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    return s_metadata_change(arg, req, false, fault);
}

/* ---- delete ------------------------------------------------------------------------------- */

typedef struct {
    zn_api_t *api;
    zn_rest_req_t *req;
    zn_ctx_t ctx;
    char *token;
    char id[ZN_API_ID_MAX + 1];
    bool already; /* a delete was under way: nothing more to start */
} s_delete_t;

static void
s_delete_free(s_delete_t *d)
{
    zn_api_t *api = d->api;
    if (d->token != NULL) {
        sodium_memzero(d->token, strlen(d->token));
        zn_free(d->token);
    }
    zn_free(d);
    zn__api_release(api);
}

static int
s_mutate_delete(void *arg, zn_store_read_t *txn, zn_cell_instance_t *inst, zn_batch_t *batch,
                zn_fault_t *fault)
{
    (void)txn;
    s_delete_t *d = arg;
    zn_vm_state_t vm;
    zn_task_state_t task;
    if (zn_vm_state_parse(inst->vm_state, &vm) < 0 ||
        zn_task_state_parse(inst->task_state, &task) < 0) {
        return zn_fault_set(fault, -EBADMSG, "instance %s has unknown states", inst->id);
    }
    if (task == ZN_TASK_DELETING) {
        d->already = true;
        return ZN_EDONE;
    }
    int rc = zn_cellrec_transition(vm, task, vm, ZN_TASK_DELETING, fault);
    if (rc < 0) {
        return rc;
    }
    zn__api_set_str(&inst->task_state, zn_task_state_name(ZN_TASK_DELETING));
    inst->task_deadline_ms = zn_clock_wall_ms() + d->api->cfg->action_timeout_ms;
    return zn__api_event_start(batch, inst, &d->ctx, "delete", "compute_terminate_instance");
}

static void
s_conductor_deleted(void *arg, const zn_env_t *reply, const zn_fault_t *fault)
{
    (void)reply;
    s_delete_t *d = arg;
    if (fault->code < 0 && fault->code != -ENOENT) {
        zn_log_warn(d->ctx.req_id,
                    "instance %s: conductor instance_delete: %s; its watchdog "
                    "finishes the delete",
                    d->id, zn_fault_message(fault));
    }
    s_delete_free(d);
}

/* No host, or its agent unreachable: the conductor releases claims, quota, ports and volumes
 * and removes the record itself. */
static void
s_delete_by_conductor(s_delete_t *d)
{
    zn_pack_t *body = zn_pack_new();
    zn_pack_map(body, 1);
    zn_pack_str(body, "instance_id");
    zn_pack_str(body, d->id);
    int rc = zn_client_call(d->api->conductor, "instance_delete", &d->ctx, zn_pack_buf(body),
                            d->api->cfg->call_timeout_ms, s_conductor_deleted, d);
    zn_pack_destroy(&body);
    if (rc < 0) {
        zn_log_warn(d->ctx.req_id,
                    "instance %s: cannot call the conductor; its watchdog "
                    "finishes the delete",
                    d->id);
        s_delete_free(d);
    }
}

static void
s_delete_started(void *arg, const zn_cell_instance_t *inst, const zn_fault_t *fault)
{
    s_delete_t *d = arg;
    if (fault->code < 0) {
        zn_rest_error(d->req, fault->code, zn_fault_message(fault));
        s_delete_free(d);
        return;
    }
    zn_rest_reply(d->req, 204, NULL);
    d->req = NULL;
    if (!d->already && inst->group_id != NULL) {
        zn__api_group_leave(d->api, &d->ctx, inst->group_id, d->id);
    }
    if (d->already) {
        s_delete_free(d);
        return;
    }
    if (inst->host != NULL) {
        zn_pack_t *body = zn_pack_new();
        zn_pack_map(body, 1);
        zn_pack_str(body, "instance_id");
        zn_pack_str(body, d->id);
        zn_fault_t why;
        int rc = zn__api_cast(d->api, inst->host, "delete", &d->ctx, zn_pack_buf(body), &why);
        zn_pack_destroy(&body);
        if (rc == 0) {
            s_delete_free(d);
            return;
        }
        zn_log_warn(d->ctx.req_id, "instance %s: %s; the conductor deletes it", d->id, why.message);
    }
    s_delete_by_conductor(d);
}

int
zn__api_server_delete(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    zn_api_t *self = arg;
    zn_cell_instance_t inst;
    const char *id = zn_rest_capture(req, 0);
    int rc = zn__api_instance_get(self, req, id, &inst, fault);
    if (rc < 0) {
        return rc;
    }
    zn_schema_release(&zn_cell_instance_schema, &inst);
    s_delete_t *d = zn_calloc(1, sizeof(*d));
    d->api = self;
    d->req = req;
    zn__api_ctx(req, &d->ctx);
    d->token = zn_strndup((const char *)d->ctx.token.ptr, d->ctx.token.len);
    d->ctx.token = zn_batch_str(d->token);
    (void)snprintf(d->id, sizeof(d->id), "%s", id);
    zn__api_hold(self);
    zn__api_inst_update(self, &d->ctx, id, s_mutate_delete, s_delete_started, d);
    return ZN_DEFERRED;
}
