/* SPDX-License-Identifier: Apache-2.0 */
/* zn_network_rpc.c - network_get, port_bind and port_release for compute agents and the api
 * (docs/flow.md, steps 22-24). The user's token travels in the call's context and is validated
 * through zn_idclient; a controller's key (the conductor releasing a deleted instance's ports)
 * may call without one. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "zn_clock.h"
#include "zn_log.h"
#include "zn_mem.h"
#include "zn_network_int.h"
#include "zn_rpcauth.h"
#include "zn_str.h"
#include "zn_uuid.h"

#define S_VALIDATE_TIMEOUT_MS 2000
#define S_RELEASE_MAX         64u /* ports one device may hold */

typedef enum {
    S_GET = 0,
    S_BIND,
    S_RELEASE,
} s_method_t;

static const zn_schema_t *const s_req_schemas[] = {&zn_net_get_req_schema, &zn_net_bind_req_schema,
                                                   &zn_net_release_req_schema};

/* One call from decoding to its answer. */
typedef struct {
    zn_network_t *self;
    zn_call_t *call; /* deferred */
    s_method_t method;

    union {
        zn_net_get_req_t get;
        zn_net_bind_req_t bind;
        zn_net_release_req_t release;
    } body;

    zn_ctx_t ctx; /* without the token */
    bool admin;   /* admin role, or a controller calling without a token */
    char project_id[ZN_RPCAUTH_ID_MAX + 1];
    zn_net_network_t net; /* port_bind: the network bound to */
    char **release_ids;   /* port_release: the ports to release */
    size_t release_count;
    size_t outstanding;
    size_t released;
    zn_fault_t error; /* port_release: the first failure */
} s_job_t;

static void
s_job_free(s_job_t **job_p)
{
    s_job_t *job = *job_p;
    zn_call_destroy(&job->call);
    zn_schema_release(s_req_schemas[job->method], &job->body);
    zn_netdb_release(ZN_NETDB_NETWORK, &job->net);
    zn_strv_free(&job->release_ids);
    zn_free(job);
    *job_p = NULL;
}

static void
s_answer_error(s_job_t *job, const zn_fault_t *fault)
{
    zn_buf_t none = {NULL, 0};
    int code = fault->code < 0 ? fault->code : ZN_EINTERNAL;
    if (zn_call_answer(&job->call, code, none, zn_fault_message(fault)) < 0) {
        zn_log_info(job->ctx.req_id, "network caller gone before the answer");
    }
    s_job_free(&job);
}

static void
s_answer(s_job_t *job, const zn_schema_t *schema, const void *obj)
{
    zn_pack_t *pack = zn_pack_new();
    zn_schema_encode(schema, obj, pack);
    if (zn_call_answer(&job->call, 0, zn_pack_buf(pack), NULL) < 0) {
        zn_log_info(job->ctx.req_id, "network caller gone before the answer");
    }
    zn_pack_destroy(&pack);
    s_job_free(&job);
}

/* ---- network_get ---------------------------------------------------------------------------- */

static int
s_read_visible(s_job_t *job, const char *id, zn_net_network_t *out, zn_fault_t *fault)
{
    int rc = zn_netdb_get(job->self->db, ZN_NETDB_NETWORK, id, out, NULL, fault);
    if (rc == 0 && !zn__network_visible(out, job->project_id, job->admin)) {
        zn_netdb_release(ZN_NETDB_NETWORK, out);
        rc = zn_fault_set(fault, -ENOENT, "Network %s could not be found.", id);
    }
    return rc;
}

static int
s_run_get(s_job_t *job, zn_fault_t *fault)
{
    zn_net_network_t net;
    int rc = s_read_visible(job, job->body.get.network_id, &net, fault);
    if (rc < 0) {
        return rc;
    }
    zn_net_subnet_t *subnets = NULL;
    size_t count = 0;
    rc = zn_netdb_subnets(job->self->db, net.id, &subnets, &count, fault);
    if (rc == 0) {
        char **ids = zn_calloc(count + 1, sizeof(*ids));
        for (size_t i = 0; i < count; i++) {
            ids[i] = subnets[i].id;
        }
        zn_net_get_reply_t reply = {net.id,  net.name, net.project_id, net.shared, net.bridge,
                                    net.mtu, ids,      count};
        s_answer(job, &zn_net_get_reply_schema, &reply);
        zn_free(ids);
    }
    zn_netdb_subnets_free(&subnets, count);
    zn_netdb_release(ZN_NETDB_NETWORK, &net);
    return rc;
}

/* ---- port_bind ------------------------------------------------------------------------------ */

static void
s_answer_port(s_job_t *job, const zn_net_port_t *port)
{
    zn_net_bind_reply_t reply = {
        port->id,     port->mac_address, port->network_id,    job->net.bridge,
        job->net.mtu, port->fixed_ips,   port->fixed_ip_count};
    s_answer(job, &zn_net_bind_reply_schema, &reply);
}

/* The id of the port port_bind makes for DEVICE on NETWORK: derived from both, so that two
 * binds racing for the same pair meet on one create-only key. */
static void
s_bind_port_id(const char *device_id, const char *network_id, char out[ZN_UUID_LEN + 1])
{
    uint8_t hash[16];
    crypto_generichash_state state;
    (void)crypto_generichash_init(&state, NULL, 0, sizeof(hash));
    (void)crypto_generichash_update(&state, (const uint8_t *)"zinc-port-bind/", 15);
    (void)crypto_generichash_update(&state, (const uint8_t *)device_id, strlen(device_id));
    (void)crypto_generichash_update(&state, (const uint8_t *)"/", 1);
    (void)crypto_generichash_update(&state, (const uint8_t *)network_id, strlen(network_id));
    (void)crypto_generichash_final(&state, hash, sizeof(hash));
    hash[6] = (uint8_t)((hash[6] & 0x0f) | 0x50); /* version 5: name-based */
    hash[8] = (uint8_t)((hash[8] & 0x3f) | 0x80);
    (void)snprintf(out, ZN_UUID_LEN + 1,
                   "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", hash[0],
                   hash[1], hash[2], hash[3], hash[4], hash[5], hash[6], hash[7], hash[8], hash[9],
                   hash[10], hash[11], hash[12], hash[13], hash[14], hash[15]);
}

typedef struct {
    char *found;  /* first network id matching */
    size_t count; /* how many matched */
    bool shared_only;
} s_pick_t;

static bool
s_pick_one(void *arg, const void *record)
{
    s_pick_t *pick = arg;
    const zn_net_network_t *net = record;
    if (pick->shared_only && (!net->shared || net->router_external)) {
        return true;
    }
    if (pick->count++ == 0) {
        pick->found = zn_strdup(net->id);
    }
    return true;
}

/* "auto": the project's only network, else the only shared one (Nova's rule). */
static int
s_pick_network(s_job_t *job, char **out, zn_fault_t *fault)
{
    s_pick_t pick = {NULL, 0, false};
    int rc = zn_netdb_list(job->self->db, ZN_NETDB_NETWORK, "project_id", job->project_id,
                           s_pick_one, &pick, fault);
    if (rc >= 0 && pick.count == 0) {
        pick.shared_only = true;
        rc = zn_netdb_list(job->self->db, ZN_NETDB_NETWORK, NULL, NULL, s_pick_one, &pick, fault);
    }
    if (rc >= 0 && pick.count != 1) {
        /* None at all is -ENOENT: Nova 2.1 then boots the server without a NIC. */
        rc = zn_fault_set(fault, pick.count == 0 ? -ENOENT : -EINVAL,
                          pick.count == 0 ? "no network available for project %s"
                                          : "Multiple possible networks found for project %s, "
                                            "use a Network ID to be more specific.",
                          job->project_id);
    }
    if (rc < 0) {
        zn_free(pick.found);
        return rc;
    }
    *out = pick.found;
    return 0;
}

typedef struct {
    const char *network_id;
    char *found;
} s_device_port_t;

static bool
s_find_on_network(void *arg, const void *record)
{
    s_device_port_t *look = arg;
    const zn_net_port_t *port = record;
    if (strcmp(port->network_id, look->network_id) == 0) {
        look->found = zn_strdup(port->id);
        return false;
    }
    return true;
}

static void
s_on_bound(void *arg, const void *record, const zn_fault_t *fault)
{
    s_job_t *job = arg;
    if (fault->code == 0) {
        s_answer_port(job, record);
        return;
    }
    zn_net_port_t port;
    zn_fault_t why;
    /* A bind racing ours for the same device and network made the port first: answer with it. */
    if (fault->code == -EEXIST && zn_netdb_get(job->self->db, ZN_NETDB_PORT, job->body.bind.port_id,
                                               &port, NULL, &why) == 0) {
        s_answer_port(job, &port);
        zn_netdb_release(ZN_NETDB_PORT, &port);
        return;
    }
    s_answer_error(job, fault);
}

static zn_net_port_t *
s_bind_record(s_job_t *job, const char *port_id)
{
    const zn_net_bind_req_t *req = &job->body.bind;
    zn_net_port_t *port = zn_calloc(1, sizeof(*port));
    port->id = zn_strdup(port_id);
    port->name = zn_strdup("");
    port->network_id = zn_strdup(job->net.id);
    port->project_id = zn_strdup(job->project_id);
    port->device_id = zn_strdup(req->device_id);
    port->device_owner = zn_strdup("compute:nova");
    port->host_id = zn_strdup(req->host != NULL ? req->host : "");
    port->status = zn_strdup("ACTIVE");
    port->admin_state_up = true;
    port->bind_created = true;
    port->created_ms = zn_clock_wall_ms();
    port->updated_ms = port->created_ms;
    port->revision = 1;
    return port;
}

static int s_apply_bind(void *apply_arg, void *record, zn_fault_t *fault);

/* The device has its port on this network already (a retried bind, or a build rescheduled to
 * another host): the same answer again, with the binding moved to the new host. */
static int
s_bind_again(s_job_t *job, zn_fault_t *fault)
{
    const zn_net_bind_req_t *req = &job->body.bind;
    zn_net_port_t port;
    int rc = zn_netdb_get(job->self->db, ZN_NETDB_PORT, req->port_id, &port, NULL, fault);
    if (rc < 0) {
        return rc;
    }
    bool moved = req->host != NULL && req->host[0] != '\0' &&
                 (port.host_id == NULL || strcmp(port.host_id, req->host) != 0);
    if (!moved) {
        s_answer_port(job, &port);
    }
    zn_netdb_release(ZN_NETDB_PORT, &port);
    if (!moved) {
        return 0;
    }
    rc = zn_netdb_update(job->self->db, &job->ctx, ZN_NETDB_PORT, req->port_id, s_apply_bind, job,
                         s_on_bound, job, fault);
    return rc == 0 ? ZN_DEFERRED : rc;
}

static int
s_bind_new(s_job_t *job, zn_fault_t *fault)
{
    zn_net_bind_req_t *req = &job->body.bind;
    s_device_port_t look = {job->net.id, NULL};
    int rc = zn_netdb_list(job->self->db, ZN_NETDB_PORT, "device_id", req->device_id,
                           s_find_on_network, &look, fault);
    if (rc < 0) {
        return rc;
    }
    char port_id[ZN_UUID_LEN + 1];
    s_bind_port_id(req->device_id, job->net.id, port_id);
    zn_free(req->port_id);
    req->port_id = look.found != NULL ? look.found : zn_strdup(port_id);
    if (look.found != NULL) {
        return s_bind_again(job, fault);
    }
    zn_net_port_t *port = s_bind_record(job, port_id);
    zn_netdb_port_req_t preq = {NULL, 0, false};
    rc = zn_netdb_port_create(job->self->db, &job->ctx, &port, &preq, s_on_bound, job, fault);
    return rc == 0 ? ZN_DEFERRED : rc;
}

/* port_bind with port_id: attach the user's port to the device. */
static int
s_apply_bind(void *apply_arg, void *record, zn_fault_t *fault)
{
    s_job_t *job = apply_arg;
    zn_net_port_t *port = record;
    const zn_net_bind_req_t *req = &job->body.bind;
    if (port->device_id != NULL && port->device_id[0] != '\0' &&
        strcmp(port->device_id, req->device_id) != 0) {
        return zn_fault_set(fault, ZN_ECONFLICT, "port %s is in use by device %s", port->id,
                            port->device_id);
    }
    zn_free(port->device_id);
    port->device_id = zn_strdup(req->device_id);
    zn_free(port->host_id);
    port->host_id = zn_strdup(req->host != NULL ? req->host : "");
    zn_free(port->status);
    port->status = zn_strdup("ACTIVE");
    if (port->device_owner == NULL || port->device_owner[0] == '\0') {
        zn_free(port->device_owner);
        port->device_owner = zn_strdup("compute:nova");
    }
    port->updated_ms = zn_clock_wall_ms();
    port->revision++;
    return 0;
}

static int
s_bind_existing(s_job_t *job, zn_fault_t *fault)
{
    zn_net_port_t port;
    const char *port_id = job->body.bind.port_id;
    int rc = zn_netdb_get(job->self->db, ZN_NETDB_PORT, port_id, &port, NULL, fault);
    if (rc == 0 && !job->admin &&
        (port.project_id == NULL || strcmp(port.project_id, job->project_id) != 0)) {
        rc = zn_fault_set(fault, -ENOENT, "Port %s could not be found.", port_id);
    }
    if (rc == 0) {
        rc = s_read_visible(job, port.network_id, &job->net, fault);
    }
    zn_netdb_release(ZN_NETDB_PORT, &port);
    if (rc == 0) {
        rc = zn_netdb_update(job->self->db, &job->ctx, ZN_NETDB_PORT, port_id, s_apply_bind, job,
                             s_on_bound, job, fault);
    }
    return rc == 0 ? ZN_DEFERRED : rc;
}

static int
s_run_bind(s_job_t *job, zn_fault_t *fault)
{
    zn_net_bind_req_t *req = &job->body.bind;
    if (req->project_id != NULL && req->project_id[0] != '\0') {
        if (!job->admin && strcmp(req->project_id, job->project_id) != 0) {
            return zn_fault_set(fault, ZN_EFORBIDDEN,
                                "a token of project %s binds ports for "
                                "its own project only",
                                job->project_id);
        }
        (void)snprintf(job->project_id, sizeof(job->project_id), "%s", req->project_id);
    }
    if (req->port_id != NULL && req->port_id[0] != '\0') {
        return s_bind_existing(job, fault);
    }
    char *network_id = NULL;
    int rc = 0;
    if (req->network_id == NULL || req->network_id[0] == '\0' ||
        strcmp(req->network_id, "auto") == 0) {
        rc = s_pick_network(job, &network_id, fault);
    } else {
        network_id = zn_strdup(req->network_id);
    }
    if (rc == 0) {
        rc = s_read_visible(job, network_id, &job->net, fault);
    }
    if (rc == 0 && !zn__network_usable(&job->net, job->project_id, job->admin)) {
        rc =
            zn_fault_set(fault, ZN_EFORBIDDEN, "network %s is external and not shared", network_id);
    }
    zn_free(network_id);
    return rc == 0 ? s_bind_new(job, fault) : rc;
}

/* ---- port_release --------------------------------------------------------------------------- */

static void
s_release_done(s_job_t *job, const zn_fault_t *fault)
{
    if (fault->code == 0) {
        job->released++;
    } else if (fault->code != -ENOENT && job->error.code == 0) {
        job->error = *fault; /* -ENOENT: released meanwhile, which is what we want */
    }
    if (--job->outstanding > 0) {
        return;
    }
    if (job->error.code != 0) {
        s_answer_error(job, &job->error);
        return;
    }
    zn_pack_t *pack = zn_pack_new();
    zn_pack_map(pack, 1);
    zn_pack_str(pack, "released");
    zn_pack_u64(pack, job->released);
    if (zn_call_answer(&job->call, 0, zn_pack_buf(pack), NULL) < 0) {
        zn_log_info(job->ctx.req_id, "network caller gone before the answer");
    }
    zn_pack_destroy(&pack);
    s_job_free(&job);
}

static void
s_on_release_deleted(void *arg, const zn_fault_t *fault)
{
    s_release_done(arg, fault);
}

static void
s_on_release_updated(void *arg, const void *record, const zn_fault_t *fault)
{
    (void)record;
    s_release_done(arg, fault);
}

static int
s_apply_unbind(void *apply_arg, void *record, zn_fault_t *fault)
{
    s_job_t *job = apply_arg;
    zn_net_port_t *port = record;
    if (port->device_id == NULL || strcmp(port->device_id, job->body.release.device_id) != 0) {
        return zn_fault_set(fault, -ENOENT, "port %s no longer on the device", port->id);
    }
    port->device_id[0] = '\0';
    if (port->host_id != NULL) {
        port->host_id[0] = '\0';
    }
    zn_free(port->device_owner);
    port->device_owner = zn_strdup("");
    zn_free(port->status);
    port->status = zn_strdup("DOWN");
    port->updated_ms = zn_clock_wall_ms();
    port->revision++;
    return 0;
}

static bool
s_collect_release(void *arg, const void *record)
{
    s_job_t *job = arg;
    const zn_net_port_t *port = record;
    const char *only = job->body.release.port_id;
    bool mine =
        job->admin || (port->project_id != NULL && strcmp(port->project_id, job->project_id) == 0);
    if (!mine || (only != NULL && only[0] != '\0' && strcmp(only, port->id) != 0) ||
        job->release_count >= S_RELEASE_MAX) {
        return true;
    }
    job->release_ids =
        zn_realloc(job->release_ids, (job->release_count + 2) * sizeof(*job->release_ids));
    /* A leading '+' marks a port port_bind made: deleted, not unbound. */
    job->release_ids[job->release_count++] =
        zn_asprintf("%c%s", port->bind_created ? '+' : '-', port->id);
    job->release_ids[job->release_count] = NULL;
    return true;
}

static int
s_run_release(s_job_t *job, zn_fault_t *fault)
{
    int rc = zn_netdb_list(job->self->db, ZN_NETDB_PORT, "device_id", job->body.release.device_id,
                           s_collect_release, job, fault);
    if (rc < 0) {
        return rc;
    }
    job->outstanding = 1; /* held until every release is started */
    for (size_t i = 0; i < job->release_count; i++) {
        const char *id = job->release_ids[i] + 1;
        zn_fault_t why;
        zn_fault_clear(&why);
        job->outstanding++;
        rc = job->release_ids[i][0] == '+'
                 ? zn_netdb_port_delete(job->self->db, &job->ctx, id, s_on_release_deleted, job,
                                        &why)
                 : zn_netdb_update(job->self->db, &job->ctx, ZN_NETDB_PORT, id, s_apply_unbind, job,
                                   s_on_release_updated, job, &why);
        if (rc < 0) {
            job->outstanding--;
            if (rc != -ENOENT && job->error.code == 0) {
                job->error = why;
            }
        }
    }
    zn_fault_t none;
    zn_fault_clear(&none);
    s_release_done(job, &none); /* drops the hold; answers now when nothing is pending */
    return ZN_DEFERRED;
}

/* ---- entry: decode, token, run --------------------------------------------------------------- */

static void
s_run(s_job_t *job)
{
    zn_fault_t fault;
    zn_fault_clear(&fault);
    int rc = job->method == S_GET    ? s_run_get(job, &fault)
             : job->method == S_BIND ? s_run_bind(job, &fault)
                                     : s_run_release(job, &fault);
    if (rc < 0) {
        s_answer_error(job, &fault);
    }
}

static void
s_set_who(s_job_t *job, const zn_rpcauth_t *who)
{
    (void)snprintf(job->project_id, sizeof(job->project_id), "%s", who->project_id);
    job->admin = who->admin;
}

static void
s_on_auth(void *arg, const zn_rpcauth_t *who, const zn_fault_t *fault)
{
    s_job_t *job = arg;
    if (who == NULL) {
        s_answer_error(job, fault);
        return;
    }
    s_set_who(job, who);
    s_run(job);
}

/* Decode, then find out who calls (zn_rpcauth: a token, or a controller's key without one). */
static int
s_entry(zn_network_t *self, zn_call_t *call, s_method_t method, zn_fault_t *fault)
{
    if (zn_agent_is_stopping(self->agent)) {
        return zn_fault_set(fault, ZN_EUNAVAIL, "zinc-network is stopping");
    }
    const zn_env_t *env = zn_call_env(call);
    s_job_t *job = zn_calloc(1, sizeof(*job));
    job->self = self;
    job->method = method;
    int rc = zn_schema_decode(s_req_schemas[method], env->body, &job->body, NULL, fault);
    zn_ctx_copy(&job->ctx, &env->ctx);
    job->ctx.token = (zn_buf_t){NULL, 0};
    zn_rpcauth_t who;
    if (rc == 0) {
        rc = zn_rpcauth_check(self->idclient, call, S_VALIDATE_TIMEOUT_MS, &who, s_on_auth, job,
                              fault);
    }
    if (rc < 0) {
        s_job_free(&job);
        return rc;
    }
    job->call = zn_call_defer(call);
    if (rc == 0) {
        s_set_who(job, &who);
        s_run(job);
    }
    return ZN_DEFERRED;
}

static int
s_network_get(void *arg, zn_call_t *call, zn_pack_t *reply, zn_fault_t *fault)
{
    (void)reply;
    return s_entry(arg, call, S_GET, fault);
}

static int
s_port_bind(void *arg, zn_call_t *call, zn_pack_t *reply, zn_fault_t *fault)
{
    (void)reply;
    return s_entry(arg, call, S_BIND, fault);
}

static int
s_port_release(void *arg, zn_call_t *call, zn_pack_t *reply, zn_fault_t *fault)
{
    (void)reply;
    return s_entry(arg, call, S_RELEASE, fault);
}

const zn_method_t zn__network_methods[] = {
    {"network_get", s_network_get, ZN_M_CALL},
    {"port_bind", s_port_bind, ZN_M_CALL},
    {"port_release", s_port_release, ZN_M_CALL},
    {NULL, NULL, 0},
};
