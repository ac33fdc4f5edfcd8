/* SPDX-License-Identifier: Apache-2.0 */
/* zn_api_admin.c - what operators look at and change: compute services (the conductor's
 * registry and the hosts table), hypervisors with their usage, availability zones, limits and
 * per-project quotas. */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "zn_api_body.h"
#include "zn_api_int.h"
#include "zn_clock.h"
#include "zn_log.h"
#include "zn_mem.h"
#include "zn_mp.h"
#include "zn_str.h"
#include "zn_tables.h"

/* ---- hosts and the registry --------------------------------------------------------------- */

typedef struct {
    zn_cell_host_t *hosts;
    zn_cell_usage_t *usage; /* parallel to HOSTS; zero when none */
    size_t count;
    size_t cap;
} s_hosts_t;

static int
s_collect_host(void *arg, const zn_store_record_t *rec)
{
    s_hosts_t *h = arg;
    zn_cell_host_t host;
    if (zn_schema_decode(&zn_cell_host_schema, rec->value, &host, NULL, NULL) < 0) {
        return 0;
    }
    if (h->count == h->cap) {
        h->cap = h->cap == 0 ? 16 : h->cap * 2;
        h->hosts = zn_realloc(h->hosts, h->cap * sizeof(*h->hosts));
        h->usage = zn_realloc(h->usage, h->cap * sizeof(*h->usage));
    }
    memset(&h->usage[h->count], 0, sizeof(h->usage[h->count]));
    h->hosts[h->count++] = host;
    return 0;
}

static void
s_hosts_free(s_hosts_t *h)
{
    for (size_t i = 0; i < h->count; i++) {
        zn_schema_release(&zn_cell_host_schema, &h->hosts[i]);
        zn_schema_release(&zn_cell_usage_schema, &h->usage[i]);
    }
    zn_free(h->hosts);
    zn_free(h->usage);
    memset(h, 0, sizeof(*h));
}

/* Every host the conductor recorded, with what is claimed on it. */
static int
s_hosts_read(zn_api_t *self, s_hosts_t *h, zn_fault_t *fault)
{
    memset(h, 0, sizeof(*h));
    zn_store_read_t *txn = NULL;
    int rc = zn__api_read_begin(self, &txn, fault);
    if (rc < 0) {
        return rc;
    }
    rc = zn__api_scan(self, txn, ZN_TABLE_HOSTS, NULL, NULL, s_collect_host, h);
    for (size_t i = 0; rc == 0 && i < h->count; i++) {
        int got = zn__api_get(self, txn, ZN_TABLE_HOST_USAGE, h->hosts[i].host,
                              &zn_cell_usage_schema, &h->usage[i], NULL, NULL);
        if (got < 0) {
            memset(&h->usage[i], 0, sizeof(h->usage[i]));
        }
    }
    zn_store_read_end(&txn);
    if (rc < 0) {
        s_hosts_free(h);
        return zn_fault_set(fault, rc, "hosts: %s", zn_strerror(rc));
    }
    return 0;
}

/* A stable integer id for HOST (2.1 shows integer ids). */
static json_int_t
s_host_number(const char *host)
{
    uint32_t h = 2166136261u;
    for (const char *p = host; *p != '\0'; p++) {
        h = (h ^ (uint8_t)*p) * 16777619u;
    }
    return (json_int_t)(h & 0x7fffffff);
}

/* The registry entry of ROLE on HOST in REGISTRY (the conductor's `services` answer). */
static json_t *
s_registry_find(const json_t *registry, const char *role, const char *host)
{
    size_t i;
    json_t *svc;
    json_array_foreach(registry, i, svc)
    {
        const char *r = json_string_value(json_object_get(svc, "role"));
        const char *h = json_string_value(json_object_get(svc, "host"));
        if (r != NULL && h != NULL && strcmp(r, role) == 0 && strcmp(h, host) == 0) {
            return svc;
        }
    }
    return NULL;
}

static bool
s_is_up(const json_t *registry, const char *role, const char *host)
{
    return json_is_true(json_object_get(s_registry_find(registry, role, host), "up"));
}

/* A request answered once the registry came back (REGISTRY NULL: the conductor is away and
 * every service counts as down). */
typedef void(s_registry_fn)(zn_api_t *self, zn_rest_req_t *req, const json_t *registry);

typedef struct {
    zn_api_t *api;
    zn_rest_req_t *req;
    s_registry_fn *fn;
} s_registry_job_t;

static void
s_registry_answer(void *arg, const zn_env_t *reply, const zn_fault_t *fault)
{
    s_registry_job_t *job = arg;
    json_t *registry = NULL;
    char *text = NULL;
    if (fault->code == 0 && zn_mp_to_json(reply->body, &text, NULL) == 0) {
        registry = json_loads(text, 0, NULL);
    } else {
        zn_log_warn(zn_rest_request_id(job->req), "conductor services: %s",
                    fault->code < 0 ? zn_fault_message(fault) : "undecodable answer");
    }
    job->fn(job->api, job->req, json_is_array(registry) ? registry : NULL);
    json_decref(registry);
    zn_str_free(&text);
    zn_api_t *api = job->api;
    zn_free(job);
    zn__api_release(api);
}

static int
s_with_registry(zn_api_t *self, zn_rest_req_t *req, s_registry_fn *fn, zn_fault_t *fault)
{
    s_registry_job_t *job = zn_calloc(1, sizeof(*job));
    job->api = self;
    job->req = req;
    job->fn = fn;
    zn_ctx_t ctx;
    zn__api_ctx(req, &ctx);
    zn_pack_t *body = zn_pack_new();
    zn_pack_map(body, 0);
    int rc = zn_client_call(self->conductor, "services", &ctx, zn_pack_buf(body),
                            self->cfg->call_timeout_ms, s_registry_answer, job);
    zn_pack_destroy(&body);
    if (rc < 0) {
        zn_free(job);
        return zn_fault_set(fault, ZN_EUNAVAIL, "the conductor cannot be reached");
    }
    zn__api_hold(self);
    return ZN_DEFERRED;
}

/* ---- os-services -------------------------------------------------------------------------- */

static json_t *
s_updated_at(const json_t *svc)
{
    if (svc == NULL) {
        return json_null();
    }
    char text[32];
    zn__api_iso(zn_clock_wall_ms() - json_integer_value(json_object_get(svc, "age_ms")), text);
    return json_string(text);
}

static bool
s_service_wanted(zn_rest_req_t *req, const char *binary, const char *host)
{
    const char *want_host = zn_rest_query(req, "host");
    const char *want_binary = zn_rest_query(req, "binary");
    return (want_host == NULL || strcmp(want_host, host) == 0) &&
           (want_binary == NULL || strcmp(want_binary, binary) == 0);
}

/* The controllers' services (scheduler, conductor) as Nova lists its own. */
static void
s_controller_services(zn_rest_req_t *req, const json_t *registry, json_t *out)
{
    size_t i;
    json_t *svc;
    json_array_foreach(registry, i, svc)
    {
        const char *role = json_string_value(json_object_get(svc, "role"));
        const char *host = json_string_value(json_object_get(svc, "host"));
        if (role == NULL || host == NULL ||
            (strcmp(role, "scheduler") != 0 && strcmp(role, "conductor") != 0)) {
            continue;
        }
        char binary[32];
        (void)snprintf(binary, sizeof(binary), "nova-%s", role);
        if (!s_service_wanted(req, binary, host)) {
            continue;
        }
        (void)json_array_append_new(
            out, json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:o,s:n}", "id",
                           s_host_number(host) ^ (json_int_t)role[0], "binary", binary, "host",
                           host, "zone", "internal", "status", "enabled", "state",
                           json_is_true(json_object_get(svc, "up")) ? "up" : "down", "updated_at",
                           s_updated_at(svc), "disabled_reason"));
    }
}

static void
s_services_answer(zn_api_t *self, zn_rest_req_t *req, const json_t *registry)
{
    s_hosts_t hosts;
    zn_fault_t fault;
    if (s_hosts_read(self, &hosts, &fault) < 0) {
        zn_rest_error(req, fault.code, fault.message);
        return;
    }
    json_t *list = json_array();
    for (size_t i = 0; i < hosts.count; i++) {
        const zn_cell_host_t *h = &hosts.hosts[i];
        if (!s_service_wanted(req, "nova-compute", h->host)) {
            continue;
        }
        json_t *svc = s_registry_find(registry, "compute", h->host);
        (void)json_array_append_new(
            list,
            json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:o,s:s?}", "id", s_host_number(h->host), "binary",
                      "nova-compute", "host", h->host, "zone",
                      h->availability_zone != NULL ? h->availability_zone : self->cfg->default_zone,
                      "status", h->disabled ? "disabled" : "enabled", "state",
                      json_is_true(json_object_get(svc, "up")) ? "up" : "down", "updated_at",
                      s_updated_at(svc), "disabled_reason", h->disabled_reason));
    }
    s_controller_services(req, registry, list);
    zn_rest_reply(req, 200, json_pack("{s:o}", "services", list));
    s_hosts_free(&hosts);
}

int
zn__api_service_list(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    return s_with_registry(arg, req, s_services_answer, fault);
}

/* PUT /os-services/enable|disable|disable-log-reason {host, binary[, disabled_reason]}. */
int
zn__api_service_update(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    zn_api_t *self = arg;
    const char *verb = zn_rest_capture(req, 0);
    json_t *body = zn_rest_json(req);
    const char *host = json_string_value(json_object_get(body, "host"));
    const char *binary = json_string_value(json_object_get(body, "binary"));
    const char *reason = json_string_value(json_object_get(body, "disabled_reason"));
    bool log_reason = strcmp(verb, "disable-log-reason") == 0;
    bool disable = log_reason || strcmp(verb, "disable") == 0;
    if (!disable && strcmp(verb, "enable") != 0) {
        return zn_fault_set(fault, -ENOENT, "Unknown action %s", verb);
    }
    if (host == NULL || binary == NULL ||
        (log_reason && (reason == NULL || strlen(reason) > 255))) {
        return zn_fault_set(fault, -EINVAL, "Invalid input: host and binary are required%s",
                            log_reason ? ", and disabled_reason" : "");
    }
    if (strcmp(binary, "nova-compute") != 0) {
        return zn_fault_set(fault, -EINVAL, "Only nova-compute services can be %sd", verb);
    }
    zn_store_read_t *txn = NULL;
    int rc = zn__api_read_begin(self, &txn, fault);
    if (rc < 0) {
        return rc;
    }
    zn_cell_host_t rec;
    uint64_t gen = 0;
    rc = zn__api_get(self, txn, ZN_TABLE_HOSTS, host, &zn_cell_host_schema, &rec, &gen, fault);
    zn_store_read_end(&txn);
    if (rc == -ENOENT) {
        return zn_fault_set(fault, -ENOENT, "Compute host %s could not be found.", host);
    }
    if (rc < 0) {
        return rc;
    }
    rec.disabled = disable;
    zn__api_set_str(&rec.disabled_reason, disable ? reason : NULL);
    zn_batch_t *batch = zn_batch_new();
    rc = zn_sclient_put(batch, ZN_TABLE_HOSTS, host, &zn_cell_host_schema, &rec, gen);
    if (rc == 0) {
        json_t *answer = json_pack("{s:s,s:s,s:s}", "host", host, "binary", binary, "status",
                                   disable ? "disabled" : "enabled");
        if (log_reason) {
            (void)json_object_set_new(answer, "disabled_reason", json_string(reason));
        }
        rc = zn__api_write_reply(self, req, batch, 200, json_pack("{s:o}", "service", answer),
                                 "the host changed meanwhile: try again", fault);
    }
    zn_batch_destroy(&batch);
    zn_schema_release(&zn_cell_host_schema, &rec);
    return rc;
}

/* ---- os-hypervisors ----------------------------------------------------------------------- */

/* The address part of "tcp://127.0.0.2:7105", for host_ip. */
static void
s_host_ip(const zn_cell_host_t *h, char *out, size_t cap)
{
    const char *endpoint = h->call_endpoint != NULL ? h->call_endpoint : "";
    const char *start = strstr(endpoint, "://");
    start = start != NULL ? start + 3 : endpoint;
    size_t len = strcspn(start, ":");
    (void)snprintf(out, cap, "%.*s", (int)len, start);
    if (out[0] == '\0' || out[0] == '*') {
        (void)snprintf(out, cap, "127.0.0.1");
    }
}

static json_t *
s_hypervisor(zn_api_t *self, const zn_cell_host_t *h, const zn_cell_usage_t *u,
             const json_t *registry, bool detail)
{
    (void)self;
    json_t *v = json_pack("{s:I,s:s,s:s,s:s}", "id", s_host_number(h->host), "hypervisor_hostname",
                          h->host, "state", s_is_up(registry, "compute", h->host) ? "up" : "down",
                          "status", h->disabled ? "disabled" : "enabled");
    if (!detail) {
        return v;
    }
    char ip[64];
    s_host_ip(h, ip, sizeof(ip));
    json_t *more = json_pack(
        "{s:I,s:I,s:I,s:I,s:I,s:I,s:s,s:I,s:I,s:I,s:i,s:I,s:I,s:s,s:s,s:{s:s,s:I,s:s?}}", "vcpus",
        (json_int_t)h->vcpus, "memory_mb", (json_int_t)h->ram_mb, "local_gb",
        (json_int_t)h->disk_gb, "vcpus_used", (json_int_t)u->vcpus_used, "memory_mb_used",
        (json_int_t)u->ram_mb_used, "local_gb_used", (json_int_t)u->disk_gb_used, "hypervisor_type",
        h->hypervisor_type != NULL ? h->hypervisor_type : "QEMU", "hypervisor_version",
        (json_int_t)h->hypervisor_version, "free_ram_mb", (json_int_t)(h->ram_mb - u->ram_mb_used),
        "free_disk_gb", (json_int_t)(h->disk_gb - u->disk_gb_used), "current_workload", 0,
        "running_vms", (json_int_t)u->instances, "disk_available_least",
        (json_int_t)(h->disk_gb - u->disk_gb_used), "host_ip", ip, "cpu_info", "{}", "service",
        "host", h->host, "id", s_host_number(h->host), "disabled_reason", h->disabled_reason);
    (void)json_object_update(v, more);
    json_decref(more);
    return v;
}

typedef enum {
    S_HV_LIST,
    S_HV_DETAIL,
    S_HV_SHOW,
    S_HV_STATS,
} s_hv_kind_t;

static void
s_hv_statistics(zn_rest_req_t *req, const s_hosts_t *hosts)
{
    int64_t sums[8] = {0};
    for (size_t i = 0; i < hosts->count; i++) {
        sums[0] += hosts->hosts[i].vcpus;
        sums[1] += hosts->hosts[i].ram_mb;
        sums[2] += hosts->hosts[i].disk_gb;
        sums[3] += hosts->usage[i].vcpus_used;
        sums[4] += hosts->usage[i].ram_mb_used;
        sums[5] += hosts->usage[i].disk_gb_used;
        sums[6] += hosts->usage[i].instances;
    }
    zn_rest_reply(req, 200,
                  json_pack("{s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:i,s:I,s:I}}",
                            "hypervisor_statistics", "count", (json_int_t)hosts->count, "vcpus",
                            (json_int_t)sums[0], "memory_mb", (json_int_t)sums[1], "local_gb",
                            (json_int_t)sums[2], "vcpus_used", (json_int_t)sums[3],
                            "memory_mb_used", (json_int_t)sums[4], "local_gb_used",
                            (json_int_t)sums[5], "free_ram_mb", (json_int_t)(sums[1] - sums[4]),
                            "free_disk_gb", (json_int_t)(sums[2] - sums[5]), "current_workload", 0,
                            "running_vms", (json_int_t)sums[6], "disk_available_least",
                            (json_int_t)(sums[2] - sums[5])));
}

static void
s_hv_answer(zn_api_t *self, zn_rest_req_t *req, const json_t *registry, s_hv_kind_t kind)
{
    s_hosts_t hosts;
    zn_fault_t fault;
    if (s_hosts_read(self, &hosts, &fault) < 0) {
        zn_rest_error(req, fault.code, fault.message);
        return;
    }
    if (kind == S_HV_STATS) {
        s_hv_statistics(req, &hosts);
        s_hosts_free(&hosts);
        return;
    }
    const char *want = kind == S_HV_SHOW ? zn_rest_capture(req, 0) : NULL;
    json_t *list = json_array();
    for (size_t i = 0; i < hosts.count; i++) {
        char number[24];
        (void)snprintf(number, sizeof(number), "%lld",
                       (long long)s_host_number(hosts.hosts[i].host));
        if (want == NULL || strcmp(want, number) == 0) {
            (void)json_array_append_new(list, s_hypervisor(self, &hosts.hosts[i], &hosts.usage[i],
                                                           registry, kind != S_HV_LIST));
        }
    }
    if (kind != S_HV_SHOW) {
        zn_rest_reply(req, 200, json_pack("{s:o}", "hypervisors", list));
    } else if (json_array_size(list) == 0) {
        char *words = zn_asprintf("Hypervisor with ID '%s' could not be found.", want);
        zn_rest_error(req, -ENOENT, words);
        zn_free(words);
        json_decref(list);
    } else {
        zn_rest_reply(req, 200, json_pack("{s:O}", "hypervisor", json_array_get(list, 0)));
        json_decref(list);
    }
    s_hosts_free(&hosts);
}

#define S_HV_FN(name, kind)                                                         \
    static void s_hv_##name(zn_api_t *self, zn_rest_req_t *req, const json_t *reg)  \
    {                                                                               \
        s_hv_answer(self, req, reg, kind);                                          \
    }                                                                               \
    int zn__api_hypervisor_##name(void *arg, zn_rest_req_t *req, zn_fault_t *fault) \
    {                                                                               \
        return s_with_registry(arg, req, s_hv_##name, fault);                       \
    }
S_HV_FN(list, S_HV_LIST)
S_HV_FN(detail, S_HV_DETAIL)
S_HV_FN(show, S_HV_SHOW)
S_HV_FN(stats, S_HV_STATS)
#undef S_HV_FN

/* ---- availability zones ------------------------------------------------------------------- */

static int
s_zones(zn_api_t *self, zn_rest_req_t *req, bool detail, zn_fault_t *fault)
{
    s_hosts_t hosts;
    int rc = s_hosts_read(self, &hosts, fault);
    if (rc < 0) {
        return rc;
    }
    json_t *zones = json_object(); /* name -> {available, hosts} */
    for (size_t i = 0; i < hosts.count; i++) {
        const zn_cell_host_t *h = &hosts.hosts[i];
        const char *name =
            h->availability_zone != NULL ? h->availability_zone : self->cfg->default_zone;
        json_t *zone = json_object_get(zones, name);
        if (zone == NULL) {
            zone = json_pack("{s:b,s:{}}", "available", false, "hosts");
            (void)json_object_set_new(zones, name, zone);
        }
        if (!h->disabled) {
            (void)json_object_set_new(zone, "available", json_true());
        }
        char updated[32];
        zn__api_iso(h->updated_ms, updated);
        (void)json_object_set_new(json_object_get(zone, "hosts"), h->host,
                                  json_pack("{s:{s:b,s:b,s:s}}", "nova-compute", "available",
                                            !h->disabled, "active", !h->disabled, "updated_at",
                                            updated));
    }
    json_t *list = json_array();
    const char *name;
    json_t *zone;
    json_object_foreach(zones, name, zone)
    {
        json_t *hosts_json = json_object_get(zone, "hosts");
        (void)json_array_append_new(list,
                                    json_pack("{s:s,s:{s:O},s:O}", "zoneName", name, "zoneState",
                                              "available", json_object_get(zone, "available"),
                                              "hosts", detail ? hosts_json : json_null()));
    }
    zn_rest_reply(req, 200, json_pack("{s:o}", "availabilityZoneInfo", list));
    json_decref(zones);
    s_hosts_free(&hosts);
    return 0;
}

int
zn__api_zone_list(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    return s_zones(arg, req, false, fault);
}

int
zn__api_zone_detail(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    return s_zones(arg, req, true, fault);
}

/* ---- limits and quotas -------------------------------------------------------------------- */

/* The limits zinc does not enforce, at Nova's defaults, as 2.1 shows them. */
static void
s_fixed_quotas(json_t *set, bool detail)
{
    static const struct {
        const char *key;
        int value;
    } rows[] = {
        {"key_pairs", 100},
        {"metadata_items", 128},
        {"server_groups", 10},
        {"server_group_members", 10},
        {"injected_files", 5},
        {"injected_file_content_bytes", 10240},
        {"injected_file_path_bytes", 255},
        {"fixed_ips", -1},
        {"floating_ips", -1},
        {"security_groups", -1},
        {"security_group_rules", -1},
    };

    for (size_t i = 0; i < ZN_ARRAY_COUNT(rows); i++) {
        (void)json_object_set_new(
            set, rows[i].key,
            detail ? json_pack("{s:i,s:i,s:i}", "limit", rows[i].value, "in_use", 0, "reserved", 0)
                   : json_integer(rows[i].value));
    }
}

static int
s_quota_read(zn_api_t *self, const char *project, zn_cell_quota_t *limits, zn_cell_quota_t *usage,
             zn_fault_t *fault)
{
    zn_store_read_t *txn = NULL;
    int rc = zn__api_read_begin(self, &txn, fault);
    if (rc < 0) {
        return rc;
    }
    uint64_t gen = 0;
    rc = zn__api_quota_read(self, txn, project, limits, usage, &gen, fault);
    zn_store_read_end(&txn);
    return rc;
}

int
zn__api_limits(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    zn_cell_quota_t limits;
    zn_cell_quota_t usage;
    int rc = s_quota_read(arg, zn_rest_project_id(req), &limits, &usage, fault);
    if (rc < 0) {
        return rc;
    }
    json_t *absolute = json_pack(
        "{s:I,s:I,s:I,s:I,s:I,s:I,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i}",
        "maxTotalInstances", (json_int_t)limits.instances, "maxTotalCores",
        (json_int_t)limits.cores, "maxTotalRAMSize", (json_int_t)limits.ram_mb,
        "totalInstancesUsed", (json_int_t)usage.instances, "totalCoresUsed",
        (json_int_t)usage.cores, "totalRAMUsed", (json_int_t)usage.ram_mb, "maxServerMeta", 128,
        "maxImageMeta", 128, "maxPersonality", 5, "maxPersonalitySize", 10240, "maxTotalKeypairs",
        100, "maxSecurityGroups", -1, "maxSecurityGroupRules", -1, "maxTotalFloatingIps", -1,
        "maxServerGroups", 10, "maxServerGroupMembers", 10, "totalFloatingIpsUsed", 0,
        "totalSecurityGroupsUsed", 0, "totalServerGroupsUsed", 0);
    zn_rest_reply(req, 200, json_pack("{s:{s:[],s:o}}", "limits", "rate", "absolute", absolute));
    zn_schema_release(&zn_cell_quota_schema, &limits);
    zn_schema_release(&zn_cell_quota_schema, &usage);
    return 0;
}

/* A member reads its own project's quotas; an admin any project's. */
static int
s_quota_project(zn_rest_req_t *req, const char **out, zn_fault_t *fault)
{
    const char *project = zn_rest_capture(req, 0);
    if (!zn_rest_is_admin(req) && strcmp(project, zn_rest_project_id(req)) != 0) {
        return zn_fault_set(fault, ZN_EFORBIDDEN,
                            "Policy doesn't allow os_compute_api:os-quota-sets:show to be "
                            "performed.");
    }
    *out = project;
    return 0;
}

static json_t *
s_quota_set(const char *project, const zn_cell_quota_t *limits, const zn_cell_quota_t *usage)
{
    json_t *set = json_object();
    if (project != NULL) {
        (void)json_object_set_new(set, "id", json_string(project));
    }
    s_fixed_quotas(set, usage != NULL);

    const struct {
        const char *key;
        int64_t limit;
        int64_t used;
    } rows[] = {
        {"instances", limits->instances, usage != NULL ? usage->instances : 0},
        {"cores", limits->cores, usage != NULL ? usage->cores : 0},
        {"ram", limits->ram_mb, usage != NULL ? usage->ram_mb : 0},
    };

    for (size_t i = 0; i < ZN_ARRAY_COUNT(rows); i++) {
        (void)json_object_set_new(
            set, rows[i].key,
            usage == NULL ? json_integer(rows[i].limit)
                          : json_pack("{s:I,s:I,s:i}", "limit", (json_int_t)rows[i].limit, "in_use",
                                      (json_int_t)rows[i].used, "reserved", 0));
    }
    return set;
}

static int
s_quota_answer(zn_api_t *self, zn_rest_req_t *req, bool detail, zn_fault_t *fault)
{
    const char *project = NULL;
    int rc = s_quota_project(req, &project, fault);
    zn_cell_quota_t limits;
    zn_cell_quota_t usage;
    if (rc == 0) {
        rc = s_quota_read(self, project, &limits, &usage, fault);
    }
    if (rc < 0) {
        return rc;
    }
    zn_rest_reply(
        req, 200,
        json_pack("{s:o}", "quota_set", s_quota_set(project, &limits, detail ? &usage : NULL)));
    zn_schema_release(&zn_cell_quota_schema, &limits);
    zn_schema_release(&zn_cell_quota_schema, &usage);
    return 0;
}

int
zn__api_quota_show(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    return s_quota_answer(arg, req, false, fault);
}

int
zn__api_quota_detail(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    return s_quota_answer(arg, req, true, fault);
}

int
zn__api_quota_defaults(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    (void)arg;
    const char *project = NULL;
    int rc = s_quota_project(req, &project, fault);
    if (rc < 0) {
        return rc;
    }
    zn_cell_quota_t defaults = {NULL, ZN_CELL_QUOTA_INSTANCES, ZN_CELL_QUOTA_CORES,
                                ZN_CELL_QUOTA_RAM_MB};
    zn_rest_reply(req, 200, json_pack("{s:o}", "quota_set", s_quota_set(project, &defaults, NULL)));
    return 0;
}

int
zn__api_quota_update(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    zn_api_t *self = arg;
    const char *project = zn_rest_capture(req, 0);
    json_t *set = json_object_get(zn_rest_json(req), "quota_set");
    if (!json_is_object(set)) {
        return zn_fault_set(fault, -EINVAL, "Invalid input for field/attribute quota_set.");
    }
    zn_cell_quota_t limits;
    zn_cell_quota_t usage;
    int rc = s_quota_read(self, project, &limits, &usage, fault);
    if (rc < 0) {
        return rc;
    }

    const struct {
        const char *key;
        int64_t *field;
    } rows[] = {
        {"instances", &limits.instances}, {"cores", &limits.cores}, {"ram", &limits.ram_mb}};

    for (size_t i = 0; rc == 0 && i < ZN_ARRAY_COUNT(rows); i++) {
        json_t *value = json_object_get(set, rows[i].key);
        int64_t n = 0;
        bool negative = json_is_integer(value) && json_integer_value(value) == -1;
        if (value != NULL && !negative && (zn_api_json_int(value, &n) < 0 || n > INT32_MAX)) {
            rc = zn_fault_set(fault, -EINVAL, "Invalid input for field/attribute %s.", rows[i].key);
        } else if (value != NULL) {
            *rows[i].field = negative ? -1 : n;
        }
    }
    zn_batch_t *batch = zn_batch_new();
    if (rc == 0) {
        rc = zn_sclient_put(batch, ZN_TABLE_QUOTAS, project, &zn_cell_quota_schema, &limits,
                            ZN_BATCH_GEN_ANY);
    }
    if (rc == 0) {
        rc = zn__api_write_reply(self, req, batch, 200,
                                 json_pack("{s:o}", "quota_set", s_quota_set(NULL, &limits, NULL)),
                                 "conflict", fault);
    }
    zn_batch_destroy(&batch);
    zn_schema_release(&zn_cell_quota_schema, &limits);
    zn_schema_release(&zn_cell_quota_schema, &usage);
    return rc;
}

int
zn__api_quota_delete(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    zn_batch_t *batch = zn_batch_new();
    int rc = zn_batch_delete(batch, ZN_TABLE_QUOTAS, zn_batch_str(zn_rest_capture(req, 0)),
                             ZN_BATCH_GEN_ANY);
    if (rc == 0) {
        rc = zn__api_write_reply(arg, req, batch, 202, NULL, "conflict", fault);
    }
    zn_batch_destroy(&batch);
    return rc;
}
