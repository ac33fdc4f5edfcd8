/* SPDX-License-Identifier: Apache-2.0 */
/* comp_fixture.c - conductor + compute agent in-process. */
#include "comp_fixture.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

#include "zn_caster.h"
#include "zn_compute.h"
#include "zn_mem.h"
#include "zn_mp.h"
#include "zn_sclient.h"
#include "zn_tables.h"
#include "zn_uuid.h"

#define S_C(text) ((char *)(uintptr_t)(text))

struct comp_fixture {
    cond_fixture_t *cond; /* NULL beside someone else's conductor */
    char *conductor_call;
    char *conductor_cast;
    char *store_dir;
    char host[64];
    char *dir;
    zn_compute_cfg_t cfg;
    zactor_t *actor;
    zn_sclient_t *sc;
    zn_caster_t *caster;
    zn_client_t *client;
    zn_client_t *admin;
    char cast_endpoint[128];
    char call_endpoint[128];
    char admin_endpoint[128];
};

static void
s_die(const char *what)
{
    (void)fprintf(stderr, "comp_fixture: %s\n", what);
    abort();
}

static void
s_set(comp_fixture_t *fix, const char *assignment)
{
    zn_fault_t fault;
    if (zn_cfg_apply_assignment(&fix->cfg, zn_compute_options, assignment, &fault) != 0) {
        s_die(fault.message);
    }
}

static void
s_setf(comp_fixture_t *fix, const char *key, const char *value)
{
    char *line = zn_asprintf("%s=%s", key, value);
    s_set(fix, line);
    zn_str_free(&line);
}

static void
s_actor(zsock_t *pipe, void *arg)
{
    comp_fixture_t *fix = arg;
    zn_compute_t *compute = NULL;
    if (zn_compute_open(&compute, &fix->cfg) != 0 || zn_compute_watch_pipe(compute, pipe) != 0) {
        s_die("cannot start the compute agent");
    }
    zsock_signal(pipe, 0);
    /* The endpoints bound (wildcard ports), for the fixture's clients. */
    zsock_send(pipe, "sss", zn_compute_cast_endpoint(compute), zn_compute_call_endpoint(compute),
               zn_compute_admin_endpoint(compute));
    (void)zn_compute_run(compute);
    zn_compute_destroy(&compute);
}

static zn_client_t *
s_client(const char *endpoint)
{
    const char *endpoints[] = {endpoint};
    zn_client_opts_t opts = {.name = "compute", .endpoints = endpoints, .endpoint_count = 1};
    zn_client_t *client = NULL;
    zn_fault_t fault;
    if (zn_client_open(&client, &opts, &fault) != 0) {
        s_die(fault.message);
    }
    return client;
}

static bool
s_reconciled(comp_fixture_t *fix)
{
    zn_reply_t *reply = NULL;
    zn_fault_t fault;
    zn_buf_t none = {NULL, 0};
    if (zn_client_call_sync(fix->admin, "status", NULL, none, 2000, &reply, &fault) != 0) {
        return false;
    }
    char *json = NULL;
    bool done = zn_mp_to_json(zn_reply_env(reply)->body, &json, &fault) == 0 &&
                strstr(json, "\"reconciled\":true") != NULL;
    zn_str_free(&json);
    zn_reply_destroy(&reply);
    return done;
}

void
comp_fixture_start_compute(comp_fixture_t *fix)
{
    fix->actor = zactor_new(s_actor, fix);
    char *cast = NULL;
    char *call = NULL;
    char *admin = NULL;
    if (zsock_recv(fix->actor, "sss", &cast, &call, &admin) < 0) {
        s_die("no endpoints from the compute agent");
    }
    (void)snprintf(fix->cast_endpoint, sizeof(fix->cast_endpoint), "%s", cast);
    (void)snprintf(fix->call_endpoint, sizeof(fix->call_endpoint), "%s", call);
    (void)snprintf(fix->admin_endpoint, sizeof(fix->admin_endpoint), "%s", admin);
    zstr_free(&cast);
    zstr_free(&call);
    zstr_free(&admin);
    zn_caster_opts_t copts = {
        .name = "compute", .endpoint = fix->cast_endpoint, .send_timeout_ms = 2000};
    zn_fault_t fault;
    if (zn_caster_open(&fix->caster, &copts, &fault) != 0) {
        s_die(fault.message);
    }
    fix->client = s_client(fix->call_endpoint);
    fix->admin = s_client(fix->admin_endpoint);
    int64_t deadline = zclock_mono() + 10000;
    while (!s_reconciled(fix)) {
        if (zclock_mono() > deadline) {
            s_die("the compute agent did not reconcile within 10 s");
        }
        zclock_sleep(10);
    }
}

void
comp_fixture_stop_compute(comp_fixture_t *fix)
{
    zn_caster_destroy(&fix->caster);
    zn_client_destroy(&fix->client);
    zn_client_destroy(&fix->admin);
    zactor_destroy(&fix->actor);
}

static void
s_configure(comp_fixture_t *fix, const char *const *settings)
{
    zn_cfg_defaults(&fix->cfg, zn_compute_options);
    const char *fixed[] = {"agent.admin_endpoint=tcp://127.0.0.1:*",
                           "agent.log_level=warn",
                           "rpc.call_endpoint=tcp://127.0.0.1:*",
                           "rpc.cast_endpoint=tcp://127.0.0.1:*",
                           "peers.heartbeat_interval_ms=100",
                           "compute.libvirt_uri=test:///default",
                           "compute.power_sync_interval_ms=100",
                           "compute.resource_interval_ms=200",
                           "compute.call_timeout_ms=10000",
                           "compute.stop_timeout_ms=0",
                           "compute.build_workers=4",
                           "compute.progress_after_ms=0"};
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        s_set(fix, fixed[i]);
    }
    s_setf(fix, "agent.host", fix->host);
    s_setf(fix, "compute.state_dir", fix->dir);
    s_setf(fix, "peers.conductor_call", fix->conductor_call);
    s_setf(fix, "peers.conductor_cast", fix->conductor_cast);
    for (size_t i = 0; settings != NULL && settings[i] != NULL; i++) {
        s_set(fix, settings[i]);
    }
}

static comp_fixture_t *
s_start(const char *host, const char *const *settings, cond_fixture_t *cond,
        const char *conductor_call, const char *conductor_cast, const char *store_dir)
{
    comp_fixture_t *fix = zn_calloc(1, sizeof(*fix));
    (void)snprintf(fix->host, sizeof(fix->host), "%s", host);
    fix->dir = zn_strdup("/tmp/zn-compute.XXXXXX");
    if (mkdtemp(fix->dir) == NULL) {
        s_die("mkdtemp");
    }
    fix->cond = cond;
    fix->conductor_call = zn_strdup(conductor_call);
    fix->conductor_cast = zn_strdup(conductor_cast);
    fix->store_dir = zn_strdup(store_dir);
    zn_sclient_opts_t sopts = {.data_dir = fix->store_dir, .conductor_call = conductor_call};
    zn_fault_t fault;
    if (zn_sclient_open(&fix->sc, &sopts, &fault) != 0) {
        s_die(fault.message);
    }
    s_configure(fix, settings);
    comp_fixture_start_compute(fix);
    return fix;
}

comp_fixture_t *
comp_fixture_start(const char *host, const char *const *settings, const char *const *cond_settings)
{
    cond_fixture_t *cond = cond_fixture_start(cond_settings);
    return s_start(host, settings, cond, cond_fixture_call(cond), cond_fixture_cast(cond),
                   cond_fixture_store_dir(cond));
}

comp_fixture_t *
comp_fixture_start_on(const char *host, const char *const *settings, const char *conductor_call,
                      const char *conductor_cast, const char *store_dir)
{
    return s_start(host, settings, NULL, conductor_call, conductor_cast, store_dir);
}

void
comp_fixture_stop(comp_fixture_t **fix_p)
{
    comp_fixture_t *fix = *fix_p;
    if (fix == NULL) {
        return;
    }
    comp_fixture_stop_compute(fix);
    zn_sclient_destroy(&fix->sc);
    cond_fixture_stop(&fix->cond);
    zn_str_free(&fix->conductor_call);
    zn_str_free(&fix->conductor_cast);
    zn_str_free(&fix->store_dir);
    zn_cfg_release(&fix->cfg, zn_compute_options);
    char *cmd = zn_asprintf("rm -rf '%s'", fix->dir);
    if (system(cmd) != 0) {
        (void)fprintf(stderr, "comp_fixture: cannot remove %s\n", fix->dir);
    }
    zn_str_free(&cmd);
    zn_free(fix->dir);
    zn_free(fix);
    *fix_p = NULL;
}

const char *
comp_fixture_host(const comp_fixture_t *fix)
{
    return fix->host;
}

const char *
comp_fixture_state_dir(const comp_fixture_t *fix)
{
    return fix->dir;
}

zn_client_t *
comp_fixture_compute_client(comp_fixture_t *fix)
{
    return fix->client;
}

zn_client_t *
comp_fixture_admin_client(comp_fixture_t *fix)
{
    return fix->admin;
}

/* Queue the records the api and scheduler write for a new instance ID into BATCH. */
static void
s_put_instance(comp_fixture_t *fix, zn_batch_t *batch, const char *id, const comp_seed_t *seed)
{
    zn_cell_nic_t nics[8];
    zn_cell_bdm_t bdms[8];
    size_t nic_count = 0;
    size_t bdm_count = 0;
    for (size_t i = 0; seed->networks != NULL && seed->networks[i] != NULL && i < 8; i++) {
        nics[nic_count++] = (zn_cell_nic_t){.network_id = S_C(seed->networks[i])};
    }
    for (size_t i = 0; seed->volumes != NULL && seed->volumes[i] != NULL && i < 8; i++) {
        bdms[bdm_count++] = (zn_cell_bdm_t){.volume_id = S_C(seed->volumes[i]), .boot_index = -1};
    }
    zn_cell_instance_t inst = {
        .id = S_C(id),
        .name = S_C(seed->name != NULL ? seed->name : "vm"),
        .project_id = S_C(seed->project_id != NULL ? seed->project_id : "p1"),
        .user_id = S_C("u1"),
        .request_id = S_C("req-test"),
        .host = fix->host,
        .vm_state = S_C("building"),
        .task_state = S_C(seed->task_state != NULL ? seed->task_state : "scheduling"),
        .task_taken = seed->task_taken,
        .flavor = {.id = S_C("f1"),
                   .name = S_C("m1.test"),
                   .vcpus = seed->vcpus > 0 ? seed->vcpus : 1,
                   .ram_mb = seed->ram_mb > 0 ? seed->ram_mb : 64,
                   .disk_gb = 1},
        .image_id = S_C(seed->image_id),
        .nics = nics,
        .nic_count = nic_count,
        .nics_auto = seed->nics_auto,
        .bdms = bdms,
        .bdm_count = bdm_count,
        .attempt = 1,
        .event_seq = 1,
    };
    zn_cell_claim_t claim = {
        .instance_id = S_C(id), .host = fix->host, .vcpus = 1, .ram_mb = 64, .disk_gb = 1};
    zn_cell_event_t ev = {.instance_id = S_C(id),
                          .action = S_C("create"),
                          .request_id = S_C("req-test"),
                          .start_ms = 1};
    char key[ZN_CELLREC_EVENT_KEY_MAX];
    zn_cellrec_event_key(id, 1, key);
    if (zn_sclient_put(batch, ZN_TABLE_INSTANCES, id, &zn_cell_instance_schema, &inst,
                       ZN_BATCH_GEN_ANY) != 0 ||
        zn_sclient_put(batch, ZN_TABLE_CLAIMS, id, &zn_cell_claim_schema, &claim,
                       ZN_BATCH_GEN_ANY) != 0 ||
        zn_sclient_put(batch, ZN_TABLE_INSTANCE_EVENTS, key, &zn_cell_event_schema, &ev,
                       ZN_BATCH_GEN_ANY) != 0) {
        s_die("cannot build the seed batch");
    }
}

static void
s_commit(comp_fixture_t *fix, zn_batch_t **batch_p)
{
    zn_fault_t fault;
    if (zn_sclient_write_sync(fix->sc, NULL, *batch_p, 10000, &fault) != 0) {
        s_die(fault.message);
    }
    zn_batch_destroy(batch_p);
}

void
comp_fixture_seed(comp_fixture_t *fix, const char *id, const comp_seed_t *seed)
{
    comp_seed_t none = {0};
    zn_batch_t *batch = zn_batch_new();
    s_put_instance(fix, batch, id, seed != NULL ? seed : &none);
    s_commit(fix, &batch);
}

void
comp_fixture_seed_many(comp_fixture_t *fix, char (*ids)[40], int count, const char *image_id)
{
    comp_seed_t none = {.image_id = image_id};
    zn_batch_t *batch = zn_batch_new();
    for (int i = 0; i < count; i++) {
        s_put_instance(fix, batch, ids[i], &none);
    }
    s_commit(fix, &batch);
}

int
comp_fixture_cast(comp_fixture_t *fix, const char *method, const char *id, bool hard,
                  const char *token)
{
    zn_ctx_t ctx;
    memset(&ctx, 0, sizeof(ctx));
    zn_uuid_request_id(ctx.req_id);
    if (token != NULL) {
        ctx.token = (zn_buf_t){(const uint8_t *)token, strlen(token)};
    }
    zn_pack_t *p = zn_pack_new();
    zn_pack_map(p, 2);
    zn_pack_str(p, "instance_id");
    zn_pack_str(p, id);
    zn_pack_str(p, "hard");
    zn_pack_bool(p, hard);
    int rc = zn_caster_cast(fix->caster, method, &ctx, zn_pack_buf(p), NULL, NULL);
    zn_pack_destroy(&p);
    return rc;
}

int
comp_fixture_cast_volume(comp_fixture_t *fix, const char *method, const char *id,
                         const char *volume_id, const char *device, const char *token)
{
    zn_ctx_t ctx;
    memset(&ctx, 0, sizeof(ctx));
    zn_uuid_request_id(ctx.req_id);
    ctx.token = (zn_buf_t){(const uint8_t *)token, strlen(token)};
    zn_pack_t *p = zn_pack_new();
    zn_pack_map(p, 3);
    zn_pack_str(p, "instance_id");
    zn_pack_str(p, id);
    zn_pack_str(p, "volume_id");
    zn_pack_str(p, volume_id);
    zn_pack_str(p, "device");
    zn_pack_str(p, device);
    int rc = zn_caster_cast(fix->caster, method, &ctx, zn_pack_buf(p), NULL, NULL);
    zn_pack_destroy(&p);
    return rc;
}

int
comp_fixture_instance(comp_fixture_t *fix, const char *id, zn_cell_instance_t *out)
{
    zn_store_read_t *txn = NULL;
    zn_fault_t fault;
    if (zn_sclient_read_begin(fix->sc, &txn, &fault) != 0) {
        s_die(fault.message);
    }
    int rc = zn_sclient_get(txn, zn_sclient_table(fix->sc, ZN_TABLE_INSTANCES), id,
                            &zn_cell_instance_schema, out, NULL, &fault);
    zn_store_read_end(&txn);
    return rc;
}

void
comp_fixture_add_bdm(comp_fixture_t *fix, const char *id, const char *volume_id, const char *device)
{
    zn_cell_instance_t inst;
    if (comp_fixture_instance(fix, id, &inst) != 0) {
        s_die("add_bdm: no such instance");
    }
    inst.bdms = zn_realloc(inst.bdms, (inst.bdm_count + 1) * sizeof(*inst.bdms));
    inst.bdms[inst.bdm_count++] = (zn_cell_bdm_t){
        .volume_id = zn_strdup(volume_id), .device = zn_strdup(device), .boot_index = -1};
    zn_batch_t *batch = zn_batch_new();
    if (zn_sclient_put(batch, ZN_TABLE_INSTANCES, id, &zn_cell_instance_schema, &inst,
                       ZN_BATCH_GEN_ANY) != 0) {
        s_die("add_bdm: cannot build the batch");
    }
    zn_schema_release(&zn_cell_instance_schema, &inst);
    s_commit(fix, &batch);
}

int
comp_fixture_host_record(comp_fixture_t *fix, zn_cell_host_t *out)
{
    zn_store_read_t *txn = NULL;
    zn_fault_t fault;
    if (zn_sclient_read_begin(fix->sc, &txn, &fault) != 0) {
        s_die(fault.message);
    }
    int rc = zn_sclient_get(txn, zn_sclient_table(fix->sc, ZN_TABLE_HOSTS), fix->host,
                            &zn_cell_host_schema, out, NULL, &fault);
    zn_store_read_end(&txn);
    return rc;
}

bool
comp_fixture_wait(comp_fixture_t *fix, const char *id, const char *vm_state, int64_t timeout_ms)
{
    int64_t deadline = zclock_mono() + timeout_ms;
    for (;;) {
        zn_cell_instance_t inst;
        int rc = comp_fixture_instance(fix, id, &inst);
        bool done = vm_state == NULL ? rc == -ENOENT
                                     : rc == 0 && strcmp(inst.vm_state, vm_state) == 0 &&
                                           inst.task_state == NULL;
        if (rc == 0) {
            zn_schema_release(&zn_cell_instance_schema, &inst);
        }
        if (done) {
            return true;
        }
        if (zclock_mono() > deadline) {
            return false;
        }
        zclock_sleep(5);
    }
}

void
comp_fixture_uuid(char *out)
{
    zn_uuid_t uuid = zn_uuid_generate();
    for (size_t i = 0; i <= ZN_UUID_LEN; i++) {
        out[i] = (char)tolower((unsigned char)uuid.str[i]);
    }
}
