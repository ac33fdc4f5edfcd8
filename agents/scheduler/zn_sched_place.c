/* SPDX-License-Identifier: Apache-2.0 */
/* zn_sched_place.c - one select_destinations request from call to answer. */
#include "zn_sched_place.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <czmq.h>

#include "zn_clock.h"
#include "zn_failpoint.h"
#include "zn_log.h"
#include "zn_mem.h"
#include "zn_mpread.h"
#include "zn_sched_sync.h"
#include "zn_tables.h"

#define S_ID_MAX         64
#define S_HOST_MAX       255
#define S_HINTS_MAX      64
#define S_ALTERNATES_DEF 2
#define S_DUPLICATES_MAX 4  /* further calls for an instance being placed, answered together */
#define S_GROUP_MAX      64 /* claims on one host in one store batch */
#define S_WAKE_MISSES    16 /* see s_wake */

/* ---- the request body (docs/flow.md) ------------------------------------------------------ */

typedef struct {
    char *instance_id;
    char *project_id;
    int64_t vcpus;
    int64_t ram_mb;
    int64_t disk_gb;
    char *availability_zone;
    char *image_arch;
    char *image_hypervisor_type;
    char **same_host; /* instance ids */
    size_t same_host_count;
    char **different_host;
    size_t different_host_count;
    char *group_id;
    char **ignore_hosts; /* host names */
    size_t ignore_host_count;
    int64_t alternates;
} s_body_t;

#define S_B(name, type, flags, max)                                \
    {                                                              \
#name, type, flags, offsetof(s_body_t, name), 0, max, NULL \
    }
#define S_BL(name, count, max)                                                                  \
    {                                                                                           \
#name, ZN_FT_STRLIST, 0, offsetof(s_body_t, name), offsetof(s_body_t, count), max, NULL \
    }

static const zn_field_t s_body_fields[] = {
    S_B(instance_id, ZN_FT_STR, ZN_F_REQUIRED, S_ID_MAX),
    S_B(project_id, ZN_FT_STR, 0, S_ID_MAX),
    S_B(vcpus, ZN_FT_I64, 0, 0),
    S_B(ram_mb, ZN_FT_I64, 0, 0),
    S_B(disk_gb, ZN_FT_I64, 0, 0),
    S_B(availability_zone, ZN_FT_STR, 0, S_HOST_MAX),
    S_B(image_arch, ZN_FT_STR, 0, 64),
    S_B(image_hypervisor_type, ZN_FT_STR, 0, 64),
    S_BL(same_host, same_host_count, S_HINTS_MAX),
    S_BL(different_host, different_host_count, S_HINTS_MAX),
    S_B(group_id, ZN_FT_STR, 0, S_ID_MAX),
    S_BL(ignore_hosts, ignore_host_count, S_HINTS_MAX),
    S_B(alternates, ZN_FT_I64, 0, 0),
};

static const zn_schema_t s_body_schema = {"select_destinations", 1, s_body_fields,
                                          ZN_ARRAY_COUNT(s_body_fields), sizeof(s_body_t)};

/* ---- requests in flight ------------------------------------------------------------------- */

/* Host names a request resolved from instance ids (owned). */
typedef struct {
    char **names;
    size_t count;
    size_t cap;
} s_names_t;

typedef struct s_op s_op_t;

struct s_op {
    zn_sched_place_t *owner;
    zn_call_t *calls[1 + S_DUPLICATES_MAX]; /* deferred; [0] the first */
    size_t call_count;
    char req_id[ZN_ID_MAX + 1];
    s_body_t body;
    zn_sched_request_t req; /* points into body and the names below */
    s_names_t same;
    s_names_t different;
    s_names_t group;
    char host[S_HOST_MAX + 1]; /* the host being claimed */
    bool claiming;             /* its claim is gathered or in flight on HOST */
    zn_sched_pick_t pick;      /* its alternates: names copied into ALTERNATES */
    char *alternates[ZN_SCHED_ALTERNATES_MAX];
    size_t alternate_count;
    int64_t attempts;
    int64_t refreshed_ms; /* when this request last forced a refresh */
    int64_t started_us;
    s_op_t *next_waiting;
};

/* The claims gathered on one host, sent as one batch: the host's new totals once, then a claim
 * record per request. */
typedef struct s_group {
    zn_sched_place_t *owner;
    char host[S_HOST_MAX + 1];
    s_op_t *ops[S_GROUP_MAX];
    size_t count;
    zn_sched_claim_t claim; /* the totals with every request gathered */
} s_group_t;

struct zn_sched_place {
    zn_sched_place_opts_t opts;
    zhashx_t *by_instance; /* instance id -> s_op_t, every request in flight */
    zhashx_t *open;        /* host -> s_group_t still gathering (only inside a gather section) */
    int gathering;         /* nesting depth of gather sections */
    s_op_t *waiting_head;  /* requests that only busy hosts could take, oldest first */
    s_op_t *waiting_tail;
    int64_t last_refresh_ms;
    bool closing;
    zn_pack_t *pack;
    zn_batch_t *batch;
    zn_sched_place_counts_t counts;
};

zn_sched_place_t *
zn_sched_place_new(const zn_sched_place_opts_t *opts)
{
    zn_sched_place_t *self = zn_calloc(1, sizeof(*self));
    self->opts = *opts;
    if (self->opts.claim_attempts < 1) {
        self->opts.claim_attempts = 1;
    }
    self->by_instance = zhashx_new();
    self->open = zhashx_new();
    self->pack = zn_pack_new();
    self->batch = zn_batch_new();
    return self;
}

static void
s_names_clear(s_names_t *names)
{
    for (size_t i = 0; i < names->count; i++) {
        zn_free(names->names[i]);
    }
    names->count = 0;
}

static void
s_names_add(s_names_t *names, const char *name)
{
    if (names->count == names->cap) {
        names->cap = names->cap == 0 ? 8 : names->cap * 2;
        names->names = zn_realloc(names->names, names->cap * sizeof(char *));
    }
    names->names[names->count++] = zn_strdup(name);
}

static void
s_names_free(s_names_t *names)
{
    s_names_clear(names);
    zn_free(names->names);
    names->names = NULL;
    names->cap = 0;
}

static void
s_op_free(s_op_t *op)
{
    for (size_t i = 0; i < op->call_count; i++) {
        zn_call_destroy(&op->calls[i]);
    }
    if (op->body.instance_id != NULL &&
        zhashx_lookup(op->owner->by_instance, op->body.instance_id) == op) {
        zhashx_delete(op->owner->by_instance, op->body.instance_id);
    }
    for (size_t i = 0; i < op->alternate_count; i++) {
        zn_free(op->alternates[i]);
    }
    s_names_free(&op->same);
    s_names_free(&op->different);
    s_names_free(&op->group);
    zn_schema_release(&s_body_schema, &op->body);
    zn_free(op);
}

void
zn_sched_place_close(zn_sched_place_t *self)
{
    self->closing = true;
}

void
zn_sched_place_destroy(zn_sched_place_t **self_p)
{
    zn_sched_place_t *self = *self_p;
    if (self == NULL) {
        return;
    }
    /* Waiting requests have no claim in flight: they are only here. Those with a claim in
     * flight were freed when the store client ran their callbacks. */
    while (self->waiting_head != NULL) {
        s_op_t *op = self->waiting_head;
        self->waiting_head = op->next_waiting;
        s_op_free(op);
    }
    zhashx_destroy(&self->by_instance);
    zhashx_destroy(&self->open); /* empty: groups never outlive a gather section */
    zn_pack_destroy(&self->pack);
    zn_batch_destroy(&self->batch);
    zn_free(self);
    *self_p = NULL;
}

void
zn_sched_place_counts(const zn_sched_place_t *self, zn_sched_place_counts_t *out)
{
    *out = self->counts;
    out->in_flight = zhashx_size(self->by_instance);
}

bool
zn_sched_place_is_idle(const zn_sched_place_t *self)
{
    return zhashx_size(self->by_instance) == 0;
}

static void
s_count(zn_sched_place_t *self, const char *name)
{
    if (self->opts.metrics != NULL) {
        zn_metrics_count(self->opts.metrics, name, 1);
    }
}

/* ---- answers ------------------------------------------------------------------------------ */

/* Answer every caller of OP with HOST and OP's alternates (CODE 0), or CODE with WORDS, then
 * free OP. */
static void
s_finish(s_op_t *op, int code, const char *host, const char *words)
{
    zn_sched_place_t *self = op->owner;
    zn_pack_t *pack = self->pack;
    zn_pack_reset(pack);
    if (code == 0) {
        zn_pack_map(pack, 2);
        zn_pack_str(pack, "host");
        zn_pack_str(pack, host);
        zn_pack_str(pack, "alternates");
        zn_pack_array(pack, (uint32_t)op->alternate_count);
        for (size_t i = 0; i < op->alternate_count; i++) {
            zn_pack_str(pack, op->alternates[i]);
        }
    }
    for (size_t i = 0; i < op->call_count; i++) {
        int rc = zn_call_answer(&op->calls[i], code, zn_pack_buf(pack), words);
        if (rc < 0) {
            zn_log_info(op->req_id, "instance %s: answer not delivered: %s", op->body.instance_id,
                        zn_strerror(rc));
        }
    }
    op->call_count = 0;
    if (self->opts.metrics != NULL) {
        zn_metrics_observe_us(self->opts.metrics, "select_us", zn_clock_mono_us() - op->started_us);
    }
    s_op_free(op);
}

static void
s_fail(s_op_t *op, const zn_fault_t *fault)
{
    if (fault->code == ZN_ENOVALIDHOST) {
        op->owner->counts.no_valid_host++;
        s_count(op->owner, "no_valid_host");
        zn_log_info(op->req_id, "instance %s: %s", op->body.instance_id, zn_fault_message(fault));
    } else {
        zn_log_warn(op->req_id, "instance %s: %s", op->body.instance_id, zn_fault_message(fault));
    }
    s_finish(op, fault->code, NULL, zn_fault_message(fault));
}

/* ---- what the store says about the request ------------------------------------------------ */

static bool
s_listed(const char *name, char *const *list, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (strcmp(list[i], name) == 0) {
            return true;
        }
    }
    return false;
}

/* The host of the claim of instance ID into OUT; false when it holds none. */
static bool
s_claim_host(zn_sclient_t *sc, zn_store_read_t *txn, const char *id, char out[S_HOST_MAX + 1])
{
    zn_cell_claim_t claim;
    if (zn_sclient_get(txn, zn_sclient_table(sc, ZN_TABLE_CLAIMS), id, &zn_cell_claim_schema,
                       &claim, NULL, NULL) < 0) {
        return false;
    }
    (void)snprintf(out, S_HOST_MAX + 1, "%s", claim.host);
    zn_schema_release(&zn_cell_claim_schema, &claim);
    return true;
}

/* The host instance ID is on: the one this scheduler is claiming for it (not in the store
 * yet: two members of a group gathered in one batch must still see each other), else its
 * claim's, else its record's; false when none says. */
static bool
s_instance_host(zn_sched_place_t *self, zn_store_read_t *txn, const char *id,
                char out[S_HOST_MAX + 1])
{
    const s_op_t *placing = zhashx_lookup(self->by_instance, id);
    if (placing != NULL && placing->claiming) {
        (void)snprintf(out, S_HOST_MAX + 1, "%s", placing->host);
        return true;
    }
    zn_sclient_t *sc = self->opts.sc;
    if (s_claim_host(sc, txn, id, out)) {
        return true;
    }
    zn_cell_instance_t inst;
    if (zn_sclient_get(txn, zn_sclient_table(sc, ZN_TABLE_INSTANCES), id, &zn_cell_instance_schema,
                       &inst, NULL, NULL) < 0) {
        return false;
    }
    bool placed = inst.host != NULL && inst.host[0] != '\0';
    if (placed) {
        (void)snprintf(out, S_HOST_MAX + 1, "%s", inst.host);
    }
    zn_schema_release(&zn_cell_instance_schema, &inst);
    return placed;
}

/* The hosts of instances IDS into NAMES. A same_host hint whose instances are nowhere must
 * still match no host, hence the empty name (no host is called ""). */
static void
s_resolve_ids(s_op_t *op, zn_store_read_t *txn, char **ids, size_t count, s_names_t *names)
{
    s_names_clear(names);
    char host[S_HOST_MAX + 1];
    for (size_t i = 0; i < count; i++) {
        if (s_instance_host(op->owner, txn, ids[i], host)) {
            s_names_add(names, host);
        }
    }
    if (count > 0 && names->count == 0 && names == &op->same) {
        s_names_add(names, "");
    }
}

/* The group's policy and the hosts of its other members. */
static int
s_resolve_group(s_op_t *op, zn_store_read_t *txn, zn_fault_t *fault)
{
    s_names_clear(&op->group);
    op->req.group_policy = ZN_SCHED_GROUP_NONE;
    if (op->body.group_id == NULL || op->body.group_id[0] == '\0') {
        return 0;
    }
    zn_sclient_t *sc = op->owner->opts.sc;
    zn_cell_group_t group = {0}; /* released whether or not it was read */
    int rc = zn_sclient_get(txn, zn_sclient_table(sc, ZN_TABLE_SERVER_GROUPS), op->body.group_id,
                            &zn_cell_group_schema, &group, NULL, fault);
    if (rc == 0 && zn_sched_group_policy_parse(group.policy, &op->req.group_policy) < 0) {
        rc = zn_fault_set(fault, -EINVAL, "server group %s: unknown policy %s", group.id,
                          group.policy != NULL ? group.policy : "(none)");
    }
    char host[S_HOST_MAX + 1];
    for (size_t i = 0; rc == 0 && i < group.member_count; i++) {
        if (strcmp(group.members[i], op->body.instance_id) != 0 &&
            s_instance_host(op->owner, txn, group.members[i], host)) {
            s_names_add(&op->group, host);
        }
    }
    zn_schema_release(&zn_cell_group_schema, &group);
    return rc;
}

/* Read what the decision needs: an existing claim (*claimed_host non-empty), the hosts of the
 * hints and of the group. Read for every attempt: a group member placed meanwhile counts. */
static int
s_read_state(s_op_t *op, char claimed_host[S_HOST_MAX + 1], zn_fault_t *fault)
{
    claimed_host[0] = '\0';
    zn_store_read_t *txn = NULL;
    int rc = zn_sclient_read_begin(op->owner->opts.sc, &txn, fault);
    if (rc < 0) {
        return rc;
    }
    if (s_claim_host(op->owner->opts.sc, txn, op->body.instance_id, claimed_host)) {
        /* A claim on a host the caller says failed is one it released, and this replica has
         * not heard yet (a follower lags by milliseconds): decide anew; the new claim waits
         * for the release through its `absent` condition and our retries. */
        if (!s_listed(claimed_host, op->body.ignore_hosts, op->body.ignore_host_count)) {
            zn_store_read_end(&txn);
            return 0;
        }
        claimed_host[0] = '\0';
    }
    s_resolve_ids(op, txn, op->body.same_host, op->body.same_host_count, &op->same);
    s_resolve_ids(op, txn, op->body.different_host, op->body.different_host_count, &op->different);
    rc = s_resolve_group(op, txn, fault);
    zn_store_read_end(&txn);
    op->req.same_host = (const char *const *)op->same.names;
    op->req.same_host_count = op->same.count;
    op->req.different_host = (const char *const *)op->different.names;
    op->req.different_host_count = op->different.count;
    op->req.group_hosts = (const char *const *)op->group.names;
    op->req.group_host_count = op->group.count;
    return rc;
}

/* ---- deciding and claiming ---------------------------------------------------------------- */

/* Where an attempt left its request. */
typedef enum {
    S_CLAIMING, /* a claim is on its way to the store */
    S_WAITING,  /* only busy hosts would do: back in the waiting line */
    S_ANSWERED, /* answered (a host, or an error) and freed */
} s_state_t;

static s_state_t s_attempt(s_op_t *op);

static void
s_wait(s_op_t *op)
{
    zn_sched_place_t *self = op->owner;
    op->next_waiting = NULL;
    if (self->waiting_tail != NULL) {
        self->waiting_tail->next_waiting = op;
    } else {
        self->waiting_head = op;
    }
    self->waiting_tail = op;
    self->counts.waiting++;
}

/* A host settled: waiting requests decide again in arrival order, each at most once, until
 * S_WAKE_MISSES in a row had to wait again after one found a host (the freed room is likely
 * taken). Waking all of them every time would cost waiting x settles decisions when many
 * requests share few hosts; stopping at the first miss would leave the freed host's batch
 * small when the line mixes requests for different hosts. Called inside a gather section, so
 * the requests that pick the same host share a batch. */
static void
s_wake(zn_sched_place_t *self)
{
    bool placed = false;
    int misses = 0;
    for (uint64_t turns = self->counts.waiting; turns > 0 && self->waiting_head != NULL; turns--) {
        s_op_t *op = self->waiting_head;
        self->waiting_head = op->next_waiting;
        if (self->waiting_head == NULL) {
            self->waiting_tail = NULL;
        }
        self->counts.waiting--;
        s_state_t state = s_attempt(op);
        misses = state == S_WAITING ? misses + 1 : 0;
        placed = placed || state == S_CLAIMING;
        if (placed && misses >= S_WAKE_MISSES) {
            return;
        }
    }
}

/* Keep the alternates of the pick (their names die with the hosts, ours must not). */
static void
s_keep_pick(s_op_t *op, const zn_sched_pick_t *pick)
{
    (void)snprintf(op->host, sizeof(op->host), "%s", pick->hosts[0]);
    for (size_t i = 0; i < op->alternate_count; i++) {
        zn_free(op->alternates[i]);
    }
    op->alternate_count = 0;
    for (size_t i = 1; i < pick->count; i++) {
        op->alternates[op->alternate_count++] = zn_strdup(pick->hosts[i]);
    }
}

static int
s_group_batch(s_group_t *group)
{
    zn_batch_t *batch = group->owner->batch;
    zn_batch_reset(batch);
    zn_cell_usage_t usage = {
        .host = group->host,
        .vcpus_used = group->claim.vcpus_used,
        .ram_mb_used = group->claim.ram_mb_used,
        .disk_gb_used = group->claim.disk_gb_used,
        .instances = group->claim.instances,
    };
    int rc = zn_sclient_put(batch, ZN_TABLE_HOST_USAGE, group->host, &zn_cell_usage_schema, &usage,
                            group->claim.expect_gen);
    for (size_t i = 0; rc == 0 && i < group->count; i++) {
        const s_op_t *op = group->ops[i];
        zn_cell_claim_t record = {
            .instance_id = op->body.instance_id,
            .host = group->host,
            .project_id = op->body.project_id,
            .vcpus = op->req.vcpus,
            .ram_mb = op->req.ram_mb,
            .disk_gb = op->req.disk_gb,
            .created_ms = zn_clock_wall_ms(),
        };
        rc = zn_sclient_put(batch, ZN_TABLE_CLAIMS, op->body.instance_id, &zn_cell_claim_schema,
                            &record, ZN_BATCH_GEN_ABSENT);
    }
    return rc;
}

static void s_group_claimed(void *arg, const zn_fault_t *fault);

/* Send GROUP's batch; when it cannot go, its requests fail with the reason. */
static void
s_flush(s_group_t *group)
{
    zn_sched_place_t *self = group->owner;
    zhashx_delete(self->open, group->host);
    int rc = zn_sched_hosts_seal(self->opts.hosts, group->host);
    if (rc == 0) {
        rc = s_group_batch(group);
    }
    if (rc == 0) {
        rc = ZN_FAILPOINT("scheduler.claim_send");
    }
    zn_ctx_t ctx;
    memset(&ctx, 0, sizeof(ctx));
    (void)snprintf(ctx.req_id, sizeof(ctx.req_id), "%s", group->ops[0]->req_id);
    if (rc == 0) {
        rc = zn_sclient_write(self->opts.sc, &ctx, self->batch, ZN_SCLIENT_WRITE_TIMEOUT_MS,
                              s_group_claimed, group);
    }
    if (rc == 0) {
        return;
    }
    zn_sched_hosts_settle(self->opts.hosts, group->host, false);
    zn_fault_t fault;
    zn_fault_set(&fault, rc, "cannot send the claim: %s", zn_strerror(rc));
    for (size_t i = 0; i < group->count; i++) {
        group->ops[i]->claiming = false;
    }
    for (size_t i = 0; i < group->count; i++) {
        s_fail(group->ops[i], &fault);
    }
    zn_free(group);
}

/* Claims made from here to s_gather_end gather per host and go as one batch each. */
static void
s_gather_begin(zn_sched_place_t *self)
{
    self->gathering++;
}

static void
s_gather_end(zn_sched_place_t *self)
{
    if (--self->gathering > 0) {
        return;
    }
    for (s_group_t *group = zhashx_first(self->open); group != NULL;
         group = zhashx_first(self->open)) {
        s_flush(group); /* removes it from the open groups */
    }
}

/* Count the request on the chosen host in memory and add its claim to the host's batch, sent
 * at once outside a gather section, else at its end (or when full). */
static int
s_claim(s_op_t *op, zn_fault_t *fault)
{
    zn_sched_place_t *self = op->owner;
    zn_sched_claim_t claim;
    int rc = zn_sched_hosts_reserve(self->opts.hosts, op->host, &op->req, &claim);
    if (rc < 0) {
        return zn_fault_set(fault, ZN_EINTERNAL, "host %s: cannot reserve: %s", op->host,
                            zn_strerror(rc));
    }
    s_group_t *group = zhashx_lookup(self->open, op->host);
    if (group == NULL) {
        group = zn_calloc(1, sizeof(*group));
        group->owner = self;
        (void)snprintf(group->host, sizeof(group->host), "%s", op->host);
        zhashx_insert(self->open, group->host, group);
    }
    group->ops[group->count++] = op;
    group->claim = claim;
    op->claiming = true;
    if (self->gathering == 0 || group->count == S_GROUP_MAX) {
        s_flush(group);
    }
    return 0;
}

/* Bring every host (USAGE_ONLY: only their usage) up to date from the replica, at most every
 * refresh_min_ms. Returns true when it did. */
static bool
s_refresh_now(zn_sched_place_t *self, bool usage_only)
{
    int64_t now_ms = zn_clock_mono_ms();
    if (now_ms - self->last_refresh_ms < self->opts.refresh_min_ms) {
        return false;
    }
    self->last_refresh_ms = now_ms;
    int64_t start_us = zn_clock_mono_us();
    zn_fault_t why;
    int rc = usage_only ? zn_sched_sync_refresh_usage(self->opts.sc, self->opts.hosts, NULL, &why)
                        : zn_sched_sync_refresh(self->opts.sc, self->opts.hosts, NULL, &why);
    if (self->opts.metrics != NULL) {
        zn_metrics_observe_us(self->opts.metrics, "refresh_us", zn_clock_mono_us() - start_us);
    }
    return rc == 0;
}

/* Decide in memory. A failure first refreshes the host states from the store (at most every
 * refresh_min_ms), since a release the periodic refresh has not seen yet may make room. */
static int
s_decide(s_op_t *op, zn_sched_pick_t *pick, zn_fault_t *fault)
{
    zn_sched_place_t *self = op->owner;
    int64_t start_us = zn_clock_mono_us();
    int rc = zn_sched_hosts_select(self->opts.hosts, &op->req, pick, fault);
    self->counts.decisions++;
    if (self->opts.metrics != NULL) {
        zn_metrics_observe_us(self->opts.metrics, "decide_us", zn_clock_mono_us() - start_us);
    }
    if (rc != ZN_ENOVALIDHOST || !s_refresh_now(self, false)) {
        return rc;
    }
    self->counts.decisions++;
    return zn_sched_hosts_select(self->opts.hosts, &op->req, pick, fault);
}

/* One decision and claim for OP; answers it when it cannot go on. */
static s_state_t
s_attempt(s_op_t *op)
{
    zn_fault_t fault;
    zn_fault_clear(&fault);
    char claimed[S_HOST_MAX + 1];
    int rc = s_read_state(op, claimed, &fault);
    if (rc == 0 && claimed[0] != '\0') {
        op->owner->counts.idempotent++;
        s_finish(op, 0, claimed, NULL);
        return S_ANSWERED;
    }
    zn_sched_pick_t pick;
    if (rc == 0) {
        rc = s_decide(op, &pick, &fault);
    }
    if (rc == -EAGAIN) {
        s_wait(op);
        return S_WAITING;
    }
    if (rc == 0) {
        s_keep_pick(op, &pick);
        rc = s_claim(op, &fault);
    }
    if (rc < 0) {
        s_fail(op, &fault);
        return S_ANSWERED;
    }
    return S_CLAIMING;
}

/* OP's claim did not commit (FAULT says why): decide again, or give up. */
static void
s_retry(s_op_t *op, const zn_fault_t *fault)
{
    zn_sched_place_t *self = op->owner;
    bool retry =
        fault->code == ZN_ECONFLICT || fault->code == -ETIMEDOUT || fault->code == ZN_EUNKNOWN;
    if (retry && ++op->attempts < self->opts.claim_attempts) {
        (void)s_attempt(op);
        return;
    }
    zn_fault_t words;
    zn_fault_set(&words, fault->code, "claim on %s failed after %" PRId64 " attempts: %s", op->host,
                 op->attempts, zn_fault_message(fault));
    s_fail(op, &words);
}

/* Our view of the host was stale (or the outcome is unknown): learn what the store holds. A
 * conflict means another scheduler is placing too, so the rest of our view is likely stale as
 * well: refresh all of it (rate-limited), else re-read that host alone. */
static void
s_learn(zn_sched_place_t *self, const s_group_t *group, const zn_fault_t *fault)
{
    bool conflict = fault->code == ZN_ECONFLICT;
    self->counts.conflicts += conflict ? 1 : 0;
    s_count(self, conflict ? "claim_conflicts" : "claim_errors");
    zn_fault_t why;
    if ((!conflict || !s_refresh_now(self, true)) &&
        zn_sched_sync_usage(self->opts.sc, self->opts.hosts, group->host, &why) < 0) {
        zn_log_warn(group->ops[0]->req_id, "host %s: %s", group->host, zn_fault_message(&why));
    }
}

/* The store answered a host's batch of claims. */
static void
s_group_claimed(void *arg, const zn_fault_t *fault)
{
    s_group_t *group = arg;
    zn_sched_place_t *self = group->owner;
    zn_fault_t injected;
    int injected_rc = ZN_FAILPOINT("scheduler.claim_result"); /* e.g. a lost answer */
    if (injected_rc < 0) {
        zn_fault_set(&injected, injected_rc, "failpoint scheduler.claim_result");
        fault = &injected;
    }
    bool committed = fault->code == 0;
    zn_sched_hosts_settle(self->opts.hosts, group->host, committed);
    if (self->closing) {
        for (size_t i = 0; i < group->count; i++) {
            s_op_free(group->ops[i]);
        }
        zn_free(group);
        return;
    }
    if (!committed) {
        s_learn(self, group, fault);
    }
    s_gather_begin(self);
    for (size_t i = 0; i < group->count; i++) {
        group->ops[i]->claiming = false; /* committed: the store says it from now on */
    }
    for (size_t i = 0; i < group->count; i++) {
        s_op_t *op = group->ops[i];
        if (committed) {
            self->counts.claims++;
            s_count(self, "claims");
            zn_log_info(op->req_id, "instance %s: claimed on %s", op->body.instance_id, op->host);
            s_finish(op, 0, op->host, NULL);
        } else {
            s_retry(op, fault); /* s_attempt first looks for a claim that did commit */
        }
    }
    zn_free(group);
    s_wake(self);
    s_gather_end(self);
}

/* ---- the handler -------------------------------------------------------------------------- */

/* True when the map BODY has the top-level key KEY (absent alternates mean the default). */
static bool
s_has_key(zn_buf_t body, const char *key)
{
    zn_mpread_t r;
    zn_mpval_t v;
    zn_mpread_init(&r, body);
    if (zn_mpread_next(&r, &v, NULL) < 0 || v.type != ZN_MPT_MAP) {
        return false;
    }
    size_t key_len = strlen(key);
    for (uint64_t i = 0, n = v.v.count; i < n; i++) {
        zn_mpval_t k;
        zn_mpval_t val;
        if (zn_mpread_next(&r, &k, NULL) < 0 || zn_mpread_next(&r, &val, NULL) < 0) {
            return false;
        }
        if (k.type == ZN_MPT_STR && k.v.bytes.len == key_len &&
            memcmp(k.v.bytes.ptr, key, key_len) == 0) {
            return val.type != ZN_MPT_NIL;
        }
        if (zn_mpread_skip_contents(&r, &val, NULL) < 0) {
            return false;
        }
    }
    return false;
}

static int
s_check_body(s_body_t *body, zn_buf_t bytes, zn_fault_t *fault)
{
    if (body->vcpus < 0 || body->ram_mb < 0 || body->disk_gb < 0) {
        return zn_fault_set(fault, -EINVAL, "vcpus, ram_mb and disk_gb must not be negative");
    }
    if (!s_has_key(bytes, "alternates")) {
        body->alternates = S_ALTERNATES_DEF;
    }
    if (body->alternates < 0 || body->alternates > ZN_SCHED_ALTERNATES_MAX) {
        return zn_fault_set(fault, -EINVAL, "alternates must be within 0..%d",
                            ZN_SCHED_ALTERNATES_MAX);
    }
    return 0;
}

static void
s_fill_request(s_op_t *op)
{
    const s_body_t *b = &op->body;
    op->req = (zn_sched_request_t){
        .vcpus = b->vcpus,
        .ram_mb = b->ram_mb,
        .disk_gb = b->disk_gb,
        .availability_zone = b->availability_zone,
        .image_arch = b->image_arch,
        .image_hypervisor_type = b->image_hypervisor_type,
        .ignore_hosts = (const char *const *)b->ignore_hosts,
        .ignore_host_count = b->ignore_host_count,
        .alternates = (size_t)b->alternates,
    };
}

/* A second call for an instance being placed joins the first: both get the same answer.
 * Returns 1 when CALL joined, 0 when the instance is not being placed, or a negative code. */
static int
s_join(zn_sched_place_t *self, zn_call_t *call, const char *instance_id, zn_fault_t *fault)
{
    s_op_t *first = zhashx_lookup(self->by_instance, instance_id);
    if (first == NULL) {
        return 0;
    }
    if (first->call_count >= ZN_ARRAY_COUNT(first->calls)) {
        return zn_fault_set(fault, ZN_EUNAVAIL, "instance %s: too many calls at once", instance_id);
    }
    first->calls[first->call_count++] = zn_call_defer(call);
    return 1;
}

int
zn_sched_place_check(zn_buf_t body, zn_fault_t *fault)
{
    s_body_t decoded;
    int rc = zn_schema_decode(&s_body_schema, body, &decoded, NULL, fault);
    if (rc == 0) {
        rc = s_check_body(&decoded, body, fault);
        zn_schema_release(&s_body_schema, &decoded);
    }
    return rc;
}

int
zn_sched_place_select(void *arg, zn_call_t *call, zn_pack_t *reply, zn_fault_t *fault)
{
    (void)reply;
    zn_sched_place_t *self = arg;
    const zn_env_t *env = zn_call_env(call);
    s_op_t *op = zn_calloc(1, sizeof(*op));
    op->owner = self;
    op->started_us = zn_clock_mono_us();
    int rc = zn_schema_decode(&s_body_schema, env->body, &op->body, NULL, fault);
    if (rc == 0) {
        rc = s_check_body(&op->body, env->body, fault);
    }
    if (rc < 0) {
        s_op_free(op);
        return rc;
    }
    self->counts.requests++;
    rc = s_join(self, call, op->body.instance_id, fault);
    if (rc != 0) {
        s_op_free(op);
        return rc > 0 ? ZN_DEFERRED : rc;
    }
    (void)snprintf(op->req_id, sizeof(op->req_id), "%s", env->ctx.req_id);
    s_fill_request(op);
    op->calls[op->call_count++] = zn_call_defer(call);
    zhashx_insert(self->by_instance, op->body.instance_id, op);
    (void)s_attempt(op);
    return ZN_DEFERRED;
}
