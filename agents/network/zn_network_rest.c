/* SPDX-License-Identifier: Apache-2.0 */
/* zn_network_rest.c - the Neutron v2.0 REST API: networks, subnets and ports with the list
 * filters the CLI uses, project ownership, and Neutron's error types. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "zn_clock.h"
#include "zn_ipam.h"
#include "zn_log.h"
#include "zn_mem.h"
#include "zn_network_int.h"
#include "zn_str.h"

typedef union {
    zn_net_network_t network;
    zn_net_subnet_t subnet;
    zn_net_port_t port;
} s_rec_t;

/* One REST request waiting for the store. */
typedef struct {
    zn_network_t *self;
    zn_rest_req_t *req;
    zn_netdb_kind_t kind;
    zn_netbody_ctx_t bctx;
    s_rec_t rec; /* the record written, rendered on success */
} s_job_t;

static const char *const s_singular[] = {"network", "subnet", "port"};
static const char *const s_plural[] = {"networks", "subnets", "ports"};
static const char *const s_label[] = {"Network", "Subnet", "Port"};

bool
zn__network_usable(const zn_net_network_t *net, const char *project_id, bool admin)
{
    return admin || net->shared ||
           (project_id != NULL && net->project_id != NULL &&
            strcmp(net->project_id, project_id) == 0);
}

bool
zn__network_visible(const zn_net_network_t *net, const char *project_id, bool admin)
{
    return net->router_external || zn__network_usable(net, project_id, admin);
}

/* ---- errors -------------------------------------------------------------------------------- */

/* Neutron's type of a 404 about KIND, or about the kind MESSAGE names. */
static const char *
s_not_found_type(zn_netdb_kind_t kind, const char *message)
{
    static const char *const types[] = {"NetworkNotFound", "SubnetNotFound", "PortNotFound"};
    for (size_t i = 0; i < ZN_ARRAY_COUNT(s_label); i++) {
        if (strncmp(message, s_label[i], strlen(s_label[i])) == 0) {
            return types[i];
        }
    }
    return types[kind];
}

/* Neutron's type of a 409 conflict about KIND. */
static const char *
s_conflict_type(zn_netdb_kind_t kind, const char *message)
{
    if (strstr(message, "Gateway") != NULL) {
        return "GatewayConflictWithAllocationPools";
    }
    if (strstr(message, "sharing") != NULL) {
        return "InvalidSharedSetting";
    }
    static const char *const in_use[] = {"NetworkInUse", "SubnetInUse", "Conflict"};
    return in_use[kind];
}

/* Answer REQ with Neutron's error for CODE about a KIND record. */
static void
s_error(zn_rest_req_t *req, zn_netdb_kind_t kind, int code, const char *message)
{
    unsigned status = zn_rest_status(code);
    const char *name = NULL;
    switch (code) {
    case -EINVAL:
        name = "InvalidInput";
        break;
    case -ENOENT:
        name = s_not_found_type(kind, message);
        break;
    case ZN_ECONFLICT:
        name = s_conflict_type(kind, message);
        break;
    case -ENOSPC:
        status = 409;
        name = "IpAddressGenerationFailure";
        break;
    case -EADDRINUSE:
        status = 409;
        name = "IpAddressAlreadyAllocated";
        break;
    case -EEXIST:
        name = strstr(message, "mac address") != NULL ? "MacAddressInUse" : "Conflict";
        break;
    case ZN_EFORBIDDEN:
        name = "PolicyNotAuthorized";
        break;
    default:
        zn_rest_error(req, code, message);
        return;
    }
    zn_rest_error_named(req, status, name, message);
}

static int
s_not_found(zn_netdb_kind_t kind, const char *id, zn_fault_t *fault)
{
    return zn_fault_set(fault, -ENOENT, "%s %s could not be found.", s_label[kind], id);
}

static void
s_fail(zn_rest_req_t *req, zn_netdb_kind_t kind, const zn_fault_t *fault)
{
    s_error(req, kind, fault->code, zn_fault_message(fault));
}

/* A handler's end: answer a failure here, with Neutron's type, rather than in the router. */
static int
s_done(zn_rest_req_t *req, zn_netdb_kind_t kind, int rc, const zn_fault_t *fault)
{
    if (rc < 0) {
        s_fail(req, kind, fault);
        return 0;
    }
    return rc;
}

/* ---- jobs ---------------------------------------------------------------------------------- */

static s_job_t *
s_job_new(zn_network_t *self, zn_rest_req_t *req, zn_netdb_kind_t kind)
{
    s_job_t *job = zn_calloc(1, sizeof(*job));
    job->self = self;
    job->req = req;
    job->kind = kind;
    const zn_network_cfg_t *cfg = self->cfg;
    job->bctx = (zn_netbody_ctx_t){
        .project_id = zn_rest_project_id(req),
        .is_admin = zn_rest_is_admin(req),
        .default_bridge = cfg->default_bridge,
        .mappings = cfg->bridge_mappings,
        .default_mtu = cfg->default_mtu,
    };
    return job;
}

static void
s_job_free(s_job_t **job_p)
{
    s_job_t *job = *job_p;
    zn_netdb_release(job->kind, &job->rec);
    zn_free(job);
    *job_p = NULL;
}

/* The Neutron view of RECORD of KIND (networks get their subnet ids from the store). */
static json_t *
s_render(zn_network_t *self, zn_netdb_kind_t kind, const void *record)
{
    if (kind == ZN_NETDB_SUBNET) {
        return zn_netrec_subnet_json(record);
    }
    if (kind == ZN_NETDB_PORT) {
        return zn_netrec_port_json(record);
    }
    const zn_net_network_t *net = record;
    zn_net_subnet_t *subnets = NULL;
    size_t count = 0;
    char **ids = NULL;
    if (zn_netdb_subnets(self->db, net->id, &subnets, &count, NULL) == 0 && count > 0) {
        ids = zn_calloc(count, sizeof(*ids));
        for (size_t i = 0; i < count; i++) {
            ids[i] = subnets[i].id;
        }
    }
    json_t *view = zn_netrec_network_json(net, ids, ids != NULL ? count : 0);
    zn_free(ids);
    zn_netdb_subnets_free(&subnets, count);
    return view;
}

static void
s_reply_one(zn_network_t *self, zn_rest_req_t *req, zn_netdb_kind_t kind, unsigned status,
            const void *record)
{
    json_t *body = json_object();
    json_object_set_new(body, s_singular[kind], s_render(self, kind, record));
    zn_rest_reply(req, status, body);
}

/* A write finished: answer with the record (create 201, update 200) or the error. */
static void
s_on_written(void *arg, const zn_fault_t *fault)
{
    s_job_t *job = arg;
    if (fault->code == 0) {
        s_reply_one(job->self, job->req, job->kind, 201, &job->rec);
    } else {
        s_fail(job->req, job->kind, fault);
    }
    s_job_free(&job);
}

static void
s_on_record(void *arg, const void *record, const zn_fault_t *fault)
{
    s_job_t *job = arg;
    if (fault->code == 0) {
        s_reply_one(job->self, job->req, job->kind, 200, record);
    } else {
        s_fail(job->req, job->kind, fault);
    }
    s_job_free(&job);
}

static void
s_on_created(void *arg, const void *record, const zn_fault_t *fault)
{
    s_job_t *job = arg;
    if (fault->code == 0) {
        s_reply_one(job->self, job->req, job->kind, 201, record);
    } else {
        s_fail(job->req, job->kind, fault);
    }
    s_job_free(&job);
}

static void
s_on_deleted(void *arg, const zn_fault_t *fault)
{
    s_job_t *job = arg;
    if (fault->code == 0) {
        zn_rest_reply(job->req, 204, NULL);
    } else {
        s_fail(job->req, job->kind, fault);
    }
    s_job_free(&job);
}

static void
s_stamp(int64_t *created_ms, int64_t *updated_ms, int64_t *revision)
{
    *created_ms = zn_clock_wall_ms();
    *updated_ms = *created_ms;
    *revision = 1;
}

/* ---- reading with ownership ---------------------------------------------------------------- */

/* Read network ID as the caller may see it: -ENOENT for another project's private network. */
static int
s_read_network(zn_network_t *self, zn_rest_req_t *req, const char *id, zn_net_network_t *out,
               zn_fault_t *fault)
{
    int rc = zn_netdb_get(self->db, ZN_NETDB_NETWORK, id, out, NULL, fault);
    if (rc == 0 && !zn__network_visible(out, zn_rest_project_id(req), zn_rest_is_admin(req))) {
        zn_netdb_release(ZN_NETDB_NETWORK, out);
        rc = s_not_found(ZN_NETDB_NETWORK, id, fault);
    }
    return rc;
}

/* May the caller see RECORD of KIND? Subnets of a shared network are visible to all. */
static bool
s_may_see(zn_network_t *self, zn_rest_req_t *req, zn_netdb_kind_t kind, const void *record)
{
    if (kind == ZN_NETDB_NETWORK) {
        return zn__network_visible(record, zn_rest_project_id(req), zn_rest_is_admin(req));
    }
    const char *project = kind == ZN_NETDB_SUBNET ? ((const zn_net_subnet_t *)record)->project_id
                                                  : ((const zn_net_port_t *)record)->project_id;
    if (zn_rest_may_read(req, project)) {
        return true;
    }
    if (kind != ZN_NETDB_SUBNET) {
        return false;
    }
    zn_net_network_t net;
    zn_fault_t fault;
    bool shared =
        zn_netdb_get(self->db, ZN_NETDB_NETWORK, ((const zn_net_subnet_t *)record)->network_id,
                     &net, NULL, &fault) == 0 &&
        net.shared;
    zn_netdb_release(ZN_NETDB_NETWORK, &net);
    return shared;
}

/* ---- show, list ---------------------------------------------------------------------------- */

static int
s_show(zn_network_t *self, zn_rest_req_t *req, zn_netdb_kind_t kind, zn_fault_t *fault)
{
    const char *id = zn_rest_capture(req, 0);
    s_rec_t rec;
    int rc = zn_netdb_get(self->db, kind, id, &rec, NULL, fault);
    if (rc < 0) {
        return rc;
    }
    if (!s_may_see(self, req, kind, &rec)) {
        rc = s_not_found(kind, id, fault);
    } else {
        s_reply_one(self, req, kind, 200, &rec);
    }
    zn_netdb_release(kind, &rec);
    return rc;
}

typedef struct {
    zn_network_t *self;
    zn_rest_req_t *req;
    zn_netdb_kind_t kind;
    json_t *items;
} s_lister_t;

/* The query filters each collection honours, compared with the rendered view. */
static const char *const s_filters[][12] = {
    {"id", "name", "project_id", "tenant_id", "shared", "router:external", "status",
     "admin_state_up", "mtu", "description", NULL},
    {"id", "name", "project_id", "tenant_id", "network_id", "cidr", "ip_version", "gateway_ip",
     "enable_dhcp", "description", NULL},
    {"id", "name", "project_id", "tenant_id", "network_id", "device_id", "device_owner",
     "mac_address", "status", "binding:host_id", "description", NULL},
};

static bool
s_value_matches(const json_t *value, const char *want)
{
    if (json_is_string(value)) {
        return strcmp(json_string_value(value), want) == 0;
    }
    if (json_is_boolean(value)) {
        return strcasecmp(want, json_is_true(value) ? "true" : "false") == 0;
    }
    if (json_is_integer(value)) {
        char *end = NULL;
        long long n = strtoll(want, &end, 10);
        return end != want && *end == '\0' && n == json_integer_value(value);
    }
    return false;
}

static bool
s_filters_match(zn_rest_req_t *req, zn_netdb_kind_t kind, const json_t *view)
{
    for (size_t i = 0; s_filters[kind][i] != NULL; i++) {
        const char *want = zn_rest_query(req, s_filters[kind][i]);
        if (want != NULL && !s_value_matches(json_object_get(view, s_filters[kind][i]), want)) {
            return false;
        }
    }
    return true;
}

static bool
s_list_one(void *arg, const void *record)
{
    s_lister_t *lister = arg;
    if (!s_may_see(lister->self, lister->req, lister->kind, record)) {
        return true;
    }
    json_t *view = s_render(lister->self, lister->kind, record);
    if (s_filters_match(lister->req, lister->kind, view)) {
        json_array_append_new(lister->items, view);
    } else {
        json_decref(view);
    }
    return true;
}

/* The index that narrows the scan for REQ's filters, with its value, or NULL for all. */
static const char *
s_list_index(zn_rest_req_t *req, zn_netdb_kind_t kind, const char **value)
{
    static const char *const indexed[][4] = {
        {"name", "project_id", NULL, NULL},
        {"network_id", NULL, NULL, NULL},
        {"device_id", "network_id", "project_id", NULL},
    };
    for (size_t i = 0; indexed[kind][i] != NULL; i++) {
        *value = zn_rest_query(req, indexed[kind][i]);
        if (*value != NULL) {
            return indexed[kind][i];
        }
    }
    *value = kind != ZN_NETDB_SUBNET ? zn_rest_query(req, "tenant_id") : NULL;
    return *value != NULL ? "project_id" : NULL;
}

static int
s_by_id(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a;
    const json_t *y = *(json_t *const *)b;
    return strcmp(json_string_value(json_object_get(x, "id")),
                  json_string_value(json_object_get(y, "id")));
}

/* The next page's link: this request's filters with the new marker. */
static json_t *
s_next_link(zn_rest_req_t *req, zn_netdb_kind_t kind, long long limit, const char *marker)
{
    char *href = zn_asprintf("%s/v2.0/%s?limit=%lld&marker=%s", zn_rest_base_url(req),
                             s_plural[kind], limit, marker);
    for (size_t i = 0; s_filters[kind][i] != NULL; i++) {
        const char *value = zn_rest_query(req, s_filters[kind][i]);
        if (value != NULL && strpbrk(value, "&#?% ") == NULL) {
            char *longer = zn_asprintf("%s&%s=%s", href, s_filters[kind][i], value);
            zn_str_free(&href);
            href = longer;
        }
    }
    json_t *links = json_pack("[{s:s,s:s}]", "rel", "next", "href", href);
    zn_str_free(&href);
    return links;
}

/* Neutron's pagination: with `limit`, items sorted by id, those after `marker`, at most LIMIT,
 * and a `<collection>_links` next link when more may follow. */
static int
s_paginate(zn_rest_req_t *req, zn_netdb_kind_t kind, json_t **items_p, json_t *body,
           zn_fault_t *fault)
{
    const char *limit_text = zn_rest_query(req, "limit");
    if (limit_text == NULL) {
        return 0;
    }
    char *end = NULL;
    long long limit = strtoll(limit_text, &end, 10);
    if (end == limit_text || *end != '\0' || limit < 0 || limit > 100000) {
        return zn_fault_set(fault, -EINVAL, "Invalid input for limit: '%s'", limit_text);
    }
    json_t *items = *items_p;
    size_t count = json_array_size(items);
    json_t **sorted = zn_calloc(count + 1, sizeof(json_t *));
    for (size_t i = 0; i < count; i++) {
        sorted[i] = json_array_get(items, i);
    }
    qsort(sorted, count, sizeof(json_t *), s_by_id);
    const char *marker = zn_rest_query(req, "marker");
    size_t start = 0;
    while (marker != NULL && start < count &&
           strcmp(json_string_value(json_object_get(sorted[start], "id")), marker) <= 0) {
        start++;
    }
    size_t take = limit == 0 ? count - start : (size_t)limit;
    json_t *page = json_array();
    for (size_t i = start; i < count && i < start + take; i++) {
        json_array_append(page, sorted[i]);
    }
    if (start + take < count && take > 0) {
        char *links_key = zn_asprintf("%s_links", s_plural[kind]);
        const char *last = json_string_value(json_object_get(sorted[start + take - 1], "id"));
        json_object_set_new(body, links_key, s_next_link(req, kind, limit, last));
        zn_str_free(&links_key);
    }
    zn_free(sorted);
    json_decref(items);
    *items_p = page;
    return 0;
}

static int
s_list(zn_network_t *self, zn_rest_req_t *req, zn_netdb_kind_t kind, zn_fault_t *fault)
{
    s_lister_t lister = {self, req, kind, json_array()};
    const char *value = NULL;
    const char *index = s_list_index(req, kind, &value);
    int rc = zn_netdb_list(self->db, kind, index, value, s_list_one, &lister, fault);
    if (rc < 0) {
        json_decref(lister.items);
        return rc;
    }
    json_t *body = json_object();
    rc = s_paginate(req, kind, &lister.items, body, fault);
    if (rc < 0) {
        json_decref(lister.items);
        json_decref(body);
        return rc;
    }
    json_object_set_new(body, s_plural[kind], lister.items);
    zn_rest_reply(req, 200, body);
    return 0;
}

/* ---- networks ------------------------------------------------------------------------------ */

static int
s_network_create(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    zn_network_t *self = arg;
    s_job_t *job = s_job_new(self, req, ZN_NETDB_NETWORK);
    zn_net_network_t *net = &job->rec.network;
    int rc = zn_netbody_network_create(zn_rest_json(req), &job->bctx, net, fault);
    if (rc == 0) {
        s_stamp(&net->created_ms, &net->updated_ms, &net->revision);
        zn_ctx_t ctx;
        zn_rest_ctx(req, &ctx);
        rc = zn_netdb_put(self->db, &ctx, ZN_NETDB_NETWORK, net, ZN_BATCH_GEN_ABSENT, s_on_written,
                          job);
        rc = rc < 0 ? zn_fault_set(fault, rc, "store write not sent") : ZN_DEFERRED;
    }
    if (rc < 0) {
        s_job_free(&job);
    }
    return s_done(req, ZN_NETDB_NETWORK, rc, fault);
}

/* Update APPLY functions: ownership first, then the body. */
typedef struct {
    const char *owner;
    bool foreign; /* a port of another project */
} s_foreign_t;

static bool
s_find_foreign(void *arg, const void *record)
{
    s_foreign_t *look = arg;
    const zn_net_port_t *port = record;
    look->foreign = port->project_id == NULL || strcmp(port->project_id, look->owner) != 0;
    return !look->foreign;
}

/* A network stops being shared only when no other project has ports on it (Neutron's
 * InvalidSharedSetting). */
static int
s_check_unshare(zn_network_t *self, const zn_net_network_t *net, zn_fault_t *fault)
{
    s_foreign_t look = {net->project_id != NULL ? net->project_id : "", false};
    int rc =
        zn_netdb_list(self->db, ZN_NETDB_PORT, "network_id", net->id, s_find_foreign, &look, fault);
    if (rc >= 0 && look.foreign) {
        return zn_fault_set(fault, ZN_ECONFLICT,
                            "Unable to reconfigure sharing settings for "
                            "network %s. Multiple tenants are using it.",
                            net->id);
    }
    return rc < 0 ? rc : 0;
}

static int
s_apply_network(void *apply_arg, void *record, zn_fault_t *fault)
{
    s_job_t *job = apply_arg;
    zn_net_network_t *net = record;
    if (!zn_rest_may_write(job->req, net->project_id)) {
        return s_not_found(ZN_NETDB_NETWORK, net->id, fault);
    }
    net->updated_ms = zn_clock_wall_ms();
    net->revision++;
    bool was_shared = net->shared;
    int rc = zn_netbody_network_update(zn_rest_json(job->req), &job->bctx, net, fault);
    return rc == 0 && was_shared && !net->shared ? s_check_unshare(job->self, net, fault) : rc;
}

static int
s_apply_subnet(void *apply_arg, void *record, zn_fault_t *fault)
{
    s_job_t *job = apply_arg;
    zn_net_subnet_t *subnet = record;
    if (!zn_rest_may_write(job->req, subnet->project_id)) {
        return s_not_found(ZN_NETDB_SUBNET, subnet->id, fault);
    }
    subnet->updated_ms = zn_clock_wall_ms();
    subnet->revision++;
    return zn_netbody_subnet_update(zn_rest_json(job->req), &job->bctx, subnet, fault);
}

static int
s_apply_port(void *apply_arg, void *record, zn_fault_t *fault)
{
    s_job_t *job = apply_arg;
    zn_net_port_t *port = record;
    if (!zn_rest_may_write(job->req, port->project_id)) {
        return s_not_found(ZN_NETDB_PORT, port->id, fault);
    }
    port->updated_ms = zn_clock_wall_ms();
    port->revision++;
    return zn_netbody_port_update(zn_rest_json(job->req), &job->bctx, port, fault);
}

static int
s_update(zn_network_t *self, zn_rest_req_t *req, zn_netdb_kind_t kind, zn_netdb_apply_fn *apply,
         zn_fault_t *fault)
{
    s_job_t *job = s_job_new(self, req, kind);
    zn_ctx_t ctx;
    zn_rest_ctx(req, &ctx);
    int rc = zn_netdb_update(self->db, &ctx, kind, zn_rest_capture(req, 0), apply, job, s_on_record,
                             job, fault);
    if (rc < 0) {
        s_job_free(&job);
        return rc;
    }
    return ZN_DEFERRED;
}

/* Deletes: read with ownership, then the store's delete. */
typedef int(s_delete_fn)(zn_netdb_t *db, const zn_ctx_t *ctx, const char *id,
                         zn_netdb_done_fn *done, void *arg, zn_fault_t *fault);

static int
s_delete(zn_network_t *self, zn_rest_req_t *req, zn_netdb_kind_t kind, s_delete_fn *fn,
         zn_fault_t *fault)
{
    const char *id = zn_rest_capture(req, 0);
    s_rec_t rec;
    int rc = zn_netdb_get(self->db, kind, id, &rec, NULL, fault);
    if (rc < 0) {
        return rc;
    }
    const char *project = kind == ZN_NETDB_NETWORK  ? rec.network.project_id
                          : kind == ZN_NETDB_SUBNET ? rec.subnet.project_id
                                                    : rec.port.project_id;
    bool may = zn_rest_may_write(req, project);
    zn_netdb_release(kind, &rec);
    if (!may) {
        return s_not_found(kind, id, fault);
    }
    s_job_t *job = s_job_new(self, req, kind);
    zn_ctx_t ctx;
    zn_rest_ctx(req, &ctx);
    rc = fn(self->db, &ctx, id, s_on_deleted, job, fault);
    if (rc < 0) {
        s_job_free(&job);
        return rc;
    }
    return ZN_DEFERRED;
}

/* ---- subnets ------------------------------------------------------------------------------- */

static int
s_subnet_overlaps(zn_network_t *self, const zn_net_subnet_t *subnet, zn_fault_t *fault)
{
    zn_net_subnet_t *siblings = NULL;
    size_t count = 0;
    int rc = zn_netdb_subnets(self->db, subnet->network_id, &siblings, &count, fault);
    zn_cidr_t mine;
    if (rc == 0 && zn_cidr_parse(subnet->cidr, &mine, NULL) < 0) {
        rc = zn_fault_set(fault, -EINVAL, "bad cidr");
    }
    for (size_t i = 0; rc == 0 && i < count; i++) {
        zn_cidr_t other;
        if (zn_cidr_parse(siblings[i].cidr, &other, NULL) == 0 && zn_cidr_overlaps(&mine, &other)) {
            rc = zn_fault_set(fault, -EINVAL,
                              "Invalid input for operation: Requested subnet with cidr: %s for "
                              "network: %s overlaps with another subnet.",
                              subnet->cidr, subnet->network_id);
        }
    }
    zn_netdb_subnets_free(&siblings, count);
    return rc;
}

static int
s_subnet_create(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    zn_network_t *self = arg;
    s_job_t *job = s_job_new(self, req, ZN_NETDB_SUBNET);
    zn_net_subnet_t *subnet = &job->rec.subnet;
    int rc = zn_netbody_subnet_create(zn_rest_json(req), &job->bctx, subnet, fault);
    zn_net_network_t net;
    memset(&net, 0, sizeof(net));
    if (rc == 0) {
        rc = s_read_network(self, req, subnet->network_id, &net, fault);
    }
    if (rc == 0 && !zn_rest_may_write(req, net.project_id)) {
        rc = zn_fault_set(fault, ZN_EFORBIDDEN,
                          "(rule:create_subnet) is disallowed by policy: "
                          "network %s belongs to another project",
                          net.id);
    }
    zn_netdb_release(ZN_NETDB_NETWORK, &net);
    rc = rc == 0 ? s_subnet_overlaps(self, subnet, fault) : rc;
    if (rc == 0) {
        s_stamp(&subnet->created_ms, &subnet->updated_ms, &subnet->revision);
        zn_ctx_t ctx;
        zn_rest_ctx(req, &ctx);
        rc = zn_netdb_put(self->db, &ctx, ZN_NETDB_SUBNET, subnet, ZN_BATCH_GEN_ABSENT,
                          s_on_written, job);
        rc = rc < 0 ? zn_fault_set(fault, rc, "store write not sent") : ZN_DEFERRED;
    }
    if (rc < 0) {
        s_job_free(&job);
    }
    return s_done(req, ZN_NETDB_SUBNET, rc, fault);
}

/* ---- ports --------------------------------------------------------------------------------- */

static int
s_port_create(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    zn_network_t *self = arg;
    s_job_t *job = s_job_new(self, req, ZN_NETDB_PORT);
    zn_net_port_t *port = zn_calloc(1, sizeof(*port));
    zn_netbody_ips_t ips;
    int rc = zn_netbody_port_create(zn_rest_json(req), &job->bctx, port, &ips, fault);
    zn_net_network_t net;
    memset(&net, 0, sizeof(net));
    if (rc == 0) {
        rc = s_read_network(self, req, port->network_id, &net, fault);
    }
    if (rc == 0 && !zn__network_usable(&net, zn_rest_project_id(req), zn_rest_is_admin(req))) {
        rc = zn_fault_set(fault, ZN_EFORBIDDEN,
                          "(rule:create_port) is disallowed by policy: "
                          "network %s is external and not shared",
                          net.id);
    }
    zn_netdb_release(ZN_NETDB_NETWORK, &net);
    if (rc == 0) {
        s_stamp(&port->created_ms, &port->updated_ms, &port->revision);
        zn_ctx_t ctx;
        zn_rest_ctx(req, &ctx);
        zn_netdb_port_req_t preq = {ips.ips, ips.count, ips.given};
        rc = zn_netdb_port_create(self->db, &ctx, &port, &preq, s_on_created, job, fault);
        rc = rc == 0 ? ZN_DEFERRED : rc;
    }
    if (port != NULL) {
        zn_schema_release(&zn_net_port_schema, port);
        zn_free(port);
    }
    if (rc < 0) {
        s_job_free(&job);
    }
    return s_done(req, ZN_NETDB_PORT, rc, fault);
}

/* ---- routes -------------------------------------------------------------------------------- */

#define S_KIND_HANDLERS(kind, name, apply, delete_fn)                                \
    static int s_##name##_list(void *arg, zn_rest_req_t *req, zn_fault_t *fault)     \
    {                                                                                \
        return s_done(req, kind, s_list(arg, req, kind, fault), fault);              \
    }                                                                                \
    static int s_##name##_show(void *arg, zn_rest_req_t *req, zn_fault_t *fault)     \
    {                                                                                \
        return s_done(req, kind, s_show(arg, req, kind, fault), fault);              \
    }                                                                                \
    static int s_##name##_update(void *arg, zn_rest_req_t *req, zn_fault_t *fault)   \
    {                                                                                \
        return s_done(req, kind, s_update(arg, req, kind, apply, fault), fault);     \
    }                                                                                \
    static int s_##name##_delete(void *arg, zn_rest_req_t *req, zn_fault_t *fault)   \
    {                                                                                \
        return s_done(req, kind, s_delete(arg, req, kind, delete_fn, fault), fault); \
    }

S_KIND_HANDLERS(ZN_NETDB_NETWORK, network, s_apply_network, zn_netdb_network_delete)
S_KIND_HANDLERS(ZN_NETDB_SUBNET, subnet, s_apply_subnet, zn_netdb_subnet_delete)
S_KIND_HANDLERS(ZN_NETDB_PORT, port, s_apply_port, zn_netdb_port_delete)

static int
s_versions(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    (void)arg;
    (void)fault;
    char *href = zn_asprintf("%s/v2.0/", zn_rest_base_url(req));
    json_t *body = json_pack("{s:[{s:s,s:s,s:[{s:s,s:s}]}]}", "versions", "id", "v2.0", "status",
                             "CURRENT", "links", "rel", "self", "href", href);
    zn_str_free(&href);
    zn_rest_reply(req, 200, body);
    return 0;
}

static int
s_extensions(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    (void)arg;
    (void)fault;
    zn_rest_reply(req, 200, json_pack("{s:[]}", "extensions"));
    return 0;
}

const zn_rest_route_t zn__network_routes[] = {
    {.method = "GET", .pattern = "/", .fn = s_versions, .flags = ZN_REST_NO_TOKEN},
    {.method = "GET", .pattern = "/v2.0/extensions", .fn = s_extensions, .flags = 0},
    {.method = "GET", .pattern = "/v2.0/networks", .fn = s_network_list, .flags = 0},
    {.method = "POST", .pattern = "/v2.0/networks", .fn = s_network_create, .flags = ZN_REST_JSON},
    {.method = "GET", .pattern = "/v2.0/networks/*", .fn = s_network_show, .flags = 0},
    {.method = "PUT", .pattern = "/v2.0/networks/*", .fn = s_network_update, .flags = ZN_REST_JSON},
    {.method = "DELETE", .pattern = "/v2.0/networks/*", .fn = s_network_delete, .flags = 0},
    {.method = "GET", .pattern = "/v2.0/subnets", .fn = s_subnet_list, .flags = 0},
    {.method = "POST", .pattern = "/v2.0/subnets", .fn = s_subnet_create, .flags = ZN_REST_JSON},
    {.method = "GET", .pattern = "/v2.0/subnets/*", .fn = s_subnet_show, .flags = 0},
    {.method = "PUT", .pattern = "/v2.0/subnets/*", .fn = s_subnet_update, .flags = ZN_REST_JSON},
    {.method = "DELETE", .pattern = "/v2.0/subnets/*", .fn = s_subnet_delete, .flags = 0},
    {.method = "GET", .pattern = "/v2.0/ports", .fn = s_port_list, .flags = 0},
    {.method = "POST", .pattern = "/v2.0/ports", .fn = s_port_create, .flags = ZN_REST_JSON},
    {.method = "GET", .pattern = "/v2.0/ports/*", .fn = s_port_show, .flags = 0},
    {.method = "PUT", .pattern = "/v2.0/ports/*", .fn = s_port_update, .flags = ZN_REST_JSON},
    {.method = "DELETE", .pattern = "/v2.0/ports/*", .fn = s_port_delete, .flags = 0},
    {.method = NULL},
};
