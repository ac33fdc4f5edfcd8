/* SPDX-License-Identifier: Apache-2.0 */
/* zn_conductor_store.c - the replicated store behind the conductor's store_* methods. */
#include "zn_conductor_store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "zn_client.h"
#include "zn_clock.h"
#include "zn_failpoint.h"
#include "zn_fs.h"
#include "zn_log.h"
#include "zn_mem.h"
#include "zn_mpread.h"
#include "zn_repl.h"
#include "zn_schema.h"
#include "zn_store.h"
#include "zn_str.h"
#include "zn_tables.h"

#define S_PEERS_MAX    16
#define S_FORWARD_MS   5000
#define S_ENDPOINT_MAX 255
/* How long a follower waits for its own replica to apply a write the leader committed before it
 * answers anyway, and the longest pause between two looks at it. */
#define S_APPLY_WAIT_MS     1000
#define S_APPLY_POLL_MAX_MS 16
#define S_HEARTBEAT_MAX_MS  10u

typedef struct {
    uint64_t id;
    char raft_address[ZN_REPL_ADDRESS_MAX_LEN + 1];
    char call_endpoint[S_ENDPOINT_MAX + 1];
    zn_client_t *client; /* opened on the first forward */
} s_peer_t;

struct zn_conductor_store {
    zn_conductor_store_opts_t opts;
    zn_store_t *store;
    zn_repl_t *repl;
    s_peer_t peers[S_PEERS_MAX];
    size_t peer_count;
    zmq_pollitem_t repl_item;
    struct s_write *writes; /* in flight: freed on destroy if raft drops their completions */
    char conductor_public[ZN_KEY_Z85_LEN + 1];
    char own_call_endpoint[S_ENDPOINT_MAX + 1];
};

/* A write waiting for raft or for the leader's conductor. */
typedef struct s_write {
    zn_conductor_store_t *owner;
    zn_call_t *call;                  /* a store_write caller; NULL for an in-process submit */
    zn_conductor_store_done_fn *done; /* an in-process submitter's callback */
    void *done_arg;
    uint8_t *body; /* the call's body (the batch as bin), kept to forward it as it came */
    size_t body_len;
    zn_buf_t batch; /* the batch inside BODY */
    bool may_forward;
    uint64_t applied_seq; /* committed: the leader's applied_seq right after it (0: unknown) */
    int64_t wait_until;   /* waiting for the local replica to reach APPLIED_SEQ: the deadline */
    int wait_ms;          /* the current pause between two looks */
    int timer_id;         /* the pending look, or -1 */
    struct s_write *prev;
    struct s_write *next;
} s_write_t;

/* ---- configuration ----------------------------------------------------------------------- */

/* Parse one "ID@RAFT_ADDRESS@CALL_ENDPOINT" item into PEER. */
static int
s_parse_peer(const char *item, s_peer_t *peer, zn_fault_t *fault)
{
    const char *at1 = strchr(item, '@');
    const char *at2 = at1 != NULL ? strchr(at1 + 1, '@') : NULL;
    char *end = NULL;
    unsigned long long id = strtoull(item, &end, 10);
    size_t raft_len = at2 != NULL ? (size_t)(at2 - at1 - 1) : 0;
    if (at2 == NULL || end != at1 || id == 0 || raft_len == 0 ||
        raft_len > ZN_REPL_ADDRESS_MAX_LEN || strlen(at2 + 1) == 0 ||
        strlen(at2 + 1) > S_ENDPOINT_MAX) {
        return zn_fault_set(fault, ZN_ECONFIG,
                            "[store] peers: '%s' is not ID@RAFT_ADDRESS@CALL_ENDPOINT", item);
    }
    peer->id = id;
    memcpy(peer->raft_address, at1 + 1, raft_len);
    peer->raft_address[raft_len] = '\0';
    (void)snprintf(peer->call_endpoint, sizeof(peer->call_endpoint), "%s", at2 + 1);
    return 0;
}

static int
s_parse_peers(zn_conductor_store_t *self, zn_fault_t *fault)
{
    const zn_conductor_store_cfg_t *cfg = self->opts.cfg;
    size_t count = 0;
    char **items = zn_str_split(cfg->peers, ',', &count);
    int rc = count > S_PEERS_MAX
                 ? zn_fault_set(fault, ZN_ECONFIG, "[store] peers: at most %d", S_PEERS_MAX)
                 : 0;
    for (size_t i = 0; i < count && rc == 0; i++) {
        rc = s_parse_peer(items[i], &self->peers[i], fault);
        self->peer_count += rc == 0;
    }
    zn_strv_free(&items);
    if (rc == 0 && self->peer_count == 0) {
        /* No peers: a cluster of this node alone. */
        s_peer_t *me = &self->peers[self->peer_count++];
        me->id = (uint64_t)cfg->node_id;
        (void)snprintf(me->raft_address, sizeof(me->raft_address), "%s", cfg->raft_address);
        (void)snprintf(me->call_endpoint, sizeof(me->call_endpoint), "%s",
                       self->opts.own_call_endpoint);
    }
    return rc;
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

static int
s_on_repl(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    (void)item;
    zn_conductor_store_t *self = arg;
    (void)zn_repl_dispatch(self->repl);
    return 0;
}

static int
s_open_repl(zn_conductor_store_t *self, zn_fault_t *fault)
{
    const zn_conductor_store_cfg_t *cfg = self->opts.cfg;
    zn_repl_peer_t founders[S_PEERS_MAX];
    bool founding = false;
    for (size_t i = 0; i < self->peer_count; i++) {
        founders[i] = (zn_repl_peer_t){self->peers[i].id, self->peers[i].raft_address};
        founding = founding || self->peers[i].id == (uint64_t)cfg->node_id;
    }
    char *raft_dir = zn_asprintf("%s/raft", cfg->data_dir);
    zn_repl_opts_t ropts = {
        .store = self->store,
        .dir = raft_dir,
        .id = (uint64_t)cfg->node_id,
        .address = cfg->raft_address,
        /* A node that is not among the founders joins: it waits for `zincctl store add`. */
        .bootstrap = founding ? founders : NULL,
        .bootstrap_count = founding ? self->peer_count : 0,
        .election_timeout_ms = (unsigned)cfg->election_timeout_ms,
        .pre_vote = true,
        /* A follower learns that an entry committed from the leader's next message, and with
         * read-your-writes every write through a follower waits for that: heartbeats come at
         * least every S_HEARTBEAT_MAX_MS rather than election_timeout / 10 (100 ms by default;
         * libraft ticks at the heartbeat, so a wait took up to two). Measured on 3 nodes with a
         * 1 s election timeout: one write after another through a follower ~25 ms each instead
         * of ~200 ms, for ~7 ms of CPU a second per idle node instead of ~1.5. */
        .heartbeat_timeout_ms = cfg->election_timeout_ms / 10 < S_HEARTBEAT_MAX_MS
                                    ? (unsigned)cfg->election_timeout_ms / 10u
                                    : S_HEARTBEAT_MAX_MS,
    };
    int rc = zn_repl_open(&self->repl, &ropts, fault);
    zn_str_free(&raft_dir);
    if (rc < 0) {
        return rc;
    }
    self->repl_item = (zmq_pollitem_t){NULL, zn_repl_fd(self->repl), ZMQ_POLLIN, 0};
    if (zloop_poller(self->opts.loop, &self->repl_item, s_on_repl, self) < 0) {
        return zn_fault_set(fault, -EINVAL, "cannot watch the store's completions");
    }
    return 0;
}

int
zn_conductor_store_open(zn_conductor_store_t **out, const zn_conductor_store_opts_t *opts,
                        zn_fault_t *fault)
{
    *out = NULL;
    zn_conductor_store_t *self = zn_calloc(1, sizeof(*self));
    self->opts = *opts;
    /* The options' strings are borrowed for this call only: keep our own copies. */
    if (opts->conductor_public != NULL) {
        (void)snprintf(self->conductor_public, sizeof(self->conductor_public), "%s",
                       opts->conductor_public);
        self->opts.conductor_public = self->conductor_public;
    }
    (void)snprintf(self->own_call_endpoint, sizeof(self->own_call_endpoint), "%s",
                   opts->own_call_endpoint);
    self->opts.own_call_endpoint = self->own_call_endpoint;
    int rc = s_parse_peers(self, fault);
    if (rc == 0) {
        rc = zn_fs_mkdir_p(opts->cfg->data_dir, 0750);
        if (rc < 0) {
            zn_fault_set(fault, rc, "[store] data_dir %s: %s", opts->cfg->data_dir,
                         zn_strerror(rc));
        }
    }
    char *store_dir = zn_asprintf("%s/store", opts->cfg->data_dir);
    size_t table_count = 0;
    const zn_store_table_def_t *tables = zn_tables(&table_count);
    /* The raft log holds every entry before it is applied, and a restart replays by applied_seq. */
    zn_store_opts_t sopts = {
        .path = store_dir, .tables = tables, .table_count = table_count, .durable_elsewhere = true};
    if (rc == 0) {
        rc = zn_store_open(&self->store, &sopts, fault);
    }
    zn_str_free(&store_dir);
    if (rc == 0) {
        rc = s_open_repl(self, fault);
    }
    if (rc < 0) {
        zn_conductor_store_destroy(&self);
        return rc;
    }
    *out = self;
    return 0;
}

void
zn_conductor_store_destroy(zn_conductor_store_t **self_p)
{
    zn_conductor_store_t *self = *self_p;
    if (self == NULL) {
        return;
    }
    if (self->repl != NULL) {
        zloop_poller_end(self->opts.loop, &self->repl_item);
    }
    for (size_t i = 0; i < self->peer_count; i++) {
        zn_client_destroy(&self->peers[i].client);
    }
    zn_repl_destroy(&self->repl);
    /* Writes whose completions raft dropped: their callers time out ("outcome unknown"). */
    while (self->writes != NULL) {
        s_write_t *w = self->writes;
        self->writes = w->next;
        if (w->timer_id >= 0) {
            zloop_timer_end(self->opts.loop, w->timer_id);
        }
        zn_call_destroy(&w->call);
        zn_free(w->body);
        zn_free(w);
    }
    zn_store_destroy(&self->store);
    zn_free(self);
    *self_p = NULL;
}

/* ---- writes ------------------------------------------------------------------------------ */

/* A new write, on SELF's list of writes in flight. */
static s_write_t *
s_write_alloc(zn_conductor_store_t *self)
{
    s_write_t *w = zn_calloc(1, sizeof(*w));
    w->owner = self;
    w->timer_id = -1;
    w->next = self->writes;
    if (self->writes != NULL) {
        self->writes->prev = w;
    }
    self->writes = w;
    return w;
}

static s_write_t *
s_write_new(zn_conductor_store_t *self, zn_call_t *call, zn_buf_t batch, bool may_forward)
{
    zn_buf_t body = zn_call_env(call)->body;
    s_write_t *w = s_write_alloc(self);
    w->body = zn_malloc(body.len);
    if (body.len > 0) {
        memcpy(w->body, body.ptr, body.len);
    }
    w->body_len = body.len;
    /* BATCH points into the call's body (or is empty, for membership changes): re-aim it. */
    if (batch.ptr != NULL) {
        w->batch = (zn_buf_t){w->body + (batch.ptr - body.ptr), batch.len};
    }
    w->may_forward = may_forward;
    w->call = zn_call_defer(call);
    return w;
}

/* Answer W's caller with RC (and MESSAGE when it failed) and free W. */
static void
s_write_finish(s_write_t *w, int rc, const char *message)
{
    zn_conductor_store_t *self = w->owner;
    if (w->prev != NULL) {
        w->prev->next = w->next;
    } else {
        self->writes = w->next;
    }
    if (w->next != NULL) {
        w->next->prev = w->prev;
    }
    if (w->call == NULL) {
        zn_fault_t fault;
        zn_fault_clear(&fault);
        if (rc < 0) {
            zn_fault_set(&fault, rc, "%s", message != NULL ? message : zn_strerror(rc));
        }
        w->done(w->done_arg, &fault);
    } else {
        /* A committed write tells its caller how far a replica must have applied to hold it. */
        zn_pack_t *pack = zn_pack_new();
        if (rc == 0 && w->applied_seq > 0) {
            zn_pack_map(pack, 1);
            zn_pack_str(pack, "applied_seq");
            zn_pack_u64(pack, w->applied_seq);
        }
        zn_buf_t body = rc == 0 && w->applied_seq > 0 ? zn_pack_buf(pack) : (zn_buf_t){NULL, 0};
        if (zn_call_answer(&w->call, rc, body, message) < 0) {
            zn_log_warn(NULL, "store write answered rc=%d but the caller is gone", rc);
        }
        zn_pack_destroy(&pack);
    }
    zn_free(w->body);
    zn_free(w);
}

static s_peer_t *
s_peer(zn_conductor_store_t *self, uint64_t id)
{
    for (size_t i = 0; i < self->peer_count; i++) {
        if (self->peers[i].id == id) {
            return &self->peers[i];
        }
    }
    return NULL;
}

static int
s_peer_client(zn_conductor_store_t *self, s_peer_t *peer, zn_fault_t *fault)
{
    if (peer->client != NULL) {
        return 0;
    }
    const char *endpoints[] = {peer->call_endpoint};
    zn_client_opts_t copts = {
        .name = "conductor-leader",
        .endpoints = endpoints,
        .endpoint_count = 1,
        .keys = self->opts.keys,
        .server_public = self->opts.conductor_public,
    };
    int rc = zn_client_open(&peer->client, &copts, fault);
    return rc < 0 ? rc : zn_client_attach(peer->client, self->opts.loop);
}

/* The applied_seq in a store_write answer's BODY ({applied_seq: N}), or 0 when it has none (a
 * conductor from before read-your-writes). */
static uint64_t
s_body_seq(zn_buf_t body)
{
    zn_mpread_t reader;
    zn_mpval_t v;
    zn_mpread_init(&reader, body);
    if (body.len == 0 || zn_mpread_next(&reader, &v, NULL) < 0 || v.type != ZN_MPT_MAP) {
        return 0;
    }
    for (uint32_t i = 0; i < v.v.count; i++) {
        zn_mpval_t key;
        zn_mpval_t val;
        if (zn_mpread_next(&reader, &key, NULL) < 0 || zn_mpread_next(&reader, &val, NULL) < 0) {
            return 0;
        }
        if (key.type == ZN_MPT_STR && key.v.bytes.len == strlen("applied_seq") &&
            memcmp(key.v.bytes.ptr, "applied_seq", key.v.bytes.len) == 0) {
            return val.type == ZN_MPT_UINT ? val.v.u : 0;
        }
        if (zn_mpread_skip_contents(&reader, &val, NULL) < 0) {
            return 0;
        }
    }
    return 0;
}

/* True once this node's replica has applied W's write (or when there is nothing to wait for). */
static bool
s_applied_here(const s_write_t *w)
{
    uint64_t have = 0;
    if (w->applied_seq == 0) {
        return true;
    }
    if (ZN_FAILPOINT("conductor.store_applied") < 0) {
        return false; /* tests: a replica that lags */
    }
    return zn_store_applied_seq(w->owner->store, &have) == 0 && have >= w->applied_seq;
}

static int
s_on_wait(zloop_t *loop, int timer_id, void *arg)
{
    (void)timer_id;
    s_write_t *w = arg;
    w->timer_id = -1;
    if (s_applied_here(w)) {
        s_write_finish(w, 0, NULL);
        return 0;
    }
    if (zn_clock_mono_ms() >= w->wait_until) {
        zn_log_warn(NULL,
                    "store write committed at applied_seq %" PRIu64
                    " but this replica has not applied it after %d ms: answering anyway",
                    w->applied_seq, S_APPLY_WAIT_MS);
        s_write_finish(w, 0, NULL);
        return 0;
    }
    w->wait_ms = w->wait_ms * 2 > S_APPLY_POLL_MAX_MS ? S_APPLY_POLL_MAX_MS : w->wait_ms * 2;
    w->timer_id = zloop_timer(loop, (size_t)w->wait_ms, 1, s_on_wait, w);
    return 0;
}

/* W committed on the leader: answer once this node's replica holds it too, so that whoever
 * wrote through this conductor reads its own write here (bounded by S_APPLY_WAIT_MS). */
static void
s_finish_when_applied(s_write_t *w)
{
    if (s_applied_here(w)) {
        s_write_finish(w, 0, NULL);
        return;
    }
    w->wait_until = zn_clock_mono_ms() + S_APPLY_WAIT_MS;
    w->wait_ms = 1;
    w->timer_id = zloop_timer(w->owner->opts.loop, 1, 1, s_on_wait, w);
    if (w->timer_id < 0) {
        s_write_finish(w, 0, NULL);
    }
}

static void
s_on_forwarded(void *arg, const zn_env_t *reply, const zn_fault_t *fault)
{
    s_write_t *w = arg;
    if (fault->code == 0 && reply != NULL) {
        w->applied_seq = s_body_seq(reply->body);
        s_finish_when_applied(w);
        return;
    }
    s_write_finish(w, fault->code, fault->code < 0 ? zn_fault_message(fault) : NULL);
}

/* This node is not the leader: send W to the leader's conductor, once. */
static int
s_forward(s_write_t *w, zn_fault_t *fault)
{
    zn_conductor_store_t *self = w->owner;
    zn_repl_status_t status;
    zn_repl_status(self->repl, &status);
    s_peer_t *leader = s_peer(self, status.leader_id);
    if (leader == NULL || status.leader_id == (uint64_t)self->opts.cfg->node_id) {
        return zn_fault_set(fault, ZN_EUNAVAIL,
                            "no leader this conductor can forward to (leader id %" PRIu64
                            " is not in [store] peers)",
                            status.leader_id);
    }
    int rc = s_peer_client(self, leader, fault);
    zn_buf_t body = {w->body, w->body_len};
    if (rc == 0) {
        rc = zn_client_call(leader->client, "store_write_fwd", NULL, body, S_FORWARD_MS,
                            s_on_forwarded, w);
    }
    return rc < 0 ? zn_fault_set(fault, rc, "cannot forward to the leader: %s", zn_strerror(rc))
                  : 0;
}

static void
s_on_committed(int rc, const zn_fault_t *fault, void *arg)
{
    s_write_t *w = arg;
    if (rc == ZN_EUNAVAIL && w->may_forward) {
        w->may_forward = false;
        zn_fault_t why;
        if (s_forward(w, &why) == 0) {
            return;
        }
        s_write_finish(w, why.code, why.message);
        return;
    }
    if (rc == 0 && zn_store_applied_seq(w->owner->store, &w->applied_seq) < 0) {
        w->applied_seq = 0; /* cannot tell: the caller does without read-your-writes */
    }
    s_write_finish(w, rc, rc < 0 ? zn_fault_message(fault) : NULL);
}

/* Queue the call's body, a bin holding a batch, for replication. A follower forwards it to the
 * leader once: a write from another conductor is never forwarded again, so no loop can form. */
static int
s_write(zn_conductor_store_t *self, zn_call_t *call, bool may_forward, zn_fault_t *fault)
{
    zn_mpread_t reader;
    zn_mpval_t v;
    zn_mpread_init(&reader, zn_call_env(call)->body);
    if (zn_mpread_next(&reader, &v, fault) < 0 || v.type != ZN_MPT_BIN) {
        return zn_fault_set(fault, -EBADMSG, "store_write: the body must be the batch as bin");
    }
    s_write_t *w = s_write_new(self, call, v.v.bytes, may_forward);
    int rc = zn_repl_submit(self->repl, w->batch, s_on_committed, w);
    if (rc < 0) {
        s_write_finish(w, rc, zn_strerror(rc)); /* DONE will never run: answer now */
    }
    return ZN_DEFERRED;
}

int
zn_conductor_store_submit(zn_conductor_store_t *self, const zn_batch_t *batch,
                          zn_conductor_store_done_fn *done, void *arg)
{
    zn_buf_t bytes = zn_batch_bytes(batch);
    zn_pack_t *pack = zn_pack_new();
    zn_pack_bin(pack, bytes.ptr, bytes.len);
    zn_buf_t body = zn_pack_buf(pack);
    s_write_t *w = s_write_alloc(self);
    w->done = done;
    w->done_arg = arg;
    w->body = zn_malloc(body.len);
    memcpy(w->body, body.ptr, body.len);
    w->body_len = body.len;
    /* The bin's payload is the last BYTES.len bytes of the body. */
    w->batch = (zn_buf_t){w->body + body.len - bytes.len, bytes.len};
    w->may_forward = true;
    zn_pack_destroy(&pack);
    int rc = zn_repl_submit(self->repl, w->batch, s_on_committed, w);
    if (rc < 0) {
        s_write_finish(w, rc, zn_strerror(rc));
    }
    return 0;
}

zn_store_t *
zn_conductor_store_local(zn_conductor_store_t *self)
{
    return self->store;
}

bool
zn_conductor_store_is_leader(zn_conductor_store_t *self)
{
    zn_repl_status_t st;
    zn_repl_status(self->repl, &st);
    return st.role == ZN_REPL_LEADER;
}

int
zn_conductor_store_write(zn_conductor_store_t *self, zn_call_t *call, zn_pack_t *reply,
                         zn_fault_t *fault)
{
    (void)reply;
    return s_write(self, call, true, fault);
}

int
zn_conductor_store_write_fwd(zn_conductor_store_t *self, zn_call_t *call, zn_pack_t *reply,
                             zn_fault_t *fault)
{
    (void)reply;
    return s_write(self, call, false, fault);
}

/* ---- reads ------------------------------------------------------------------------------- */

typedef struct {
    char *table;
    zn_bytes_t key;
} s_get_req_t;

static const zn_field_t s_get_fields[] = {
    {"table", ZN_FT_STR, ZN_F_REQUIRED, offsetof(s_get_req_t, table), 0, 32, NULL},
    {"key", ZN_FT_BIN, ZN_F_REQUIRED, offsetof(s_get_req_t, key), 0, 4096, NULL},
};

static const zn_schema_t s_get_schema = {"store_get", 1, s_get_fields, ZN_ARRAY_COUNT(s_get_fields),
                                         sizeof(s_get_req_t)};

static int
s_read_one(zn_conductor_store_t *self, const s_get_req_t *req, zn_pack_t *reply, zn_fault_t *fault)
{
    const zn_store_table_t *table = zn_store_table(self->store, req->table);
    if (table == NULL) {
        return zn_fault_set(fault, -ENOENT, "no table '%s'", req->table);
    }
    zn_store_read_t *txn = NULL;
    int rc = zn_store_read_begin(self->store, &txn);
    zn_store_record_t rec;
    zn_buf_t key = {req->key.ptr, req->key.len};
    if (rc == 0) {
        rc = zn_store_get(txn, table, key, &rec);
    }
    if (rc == 0) {
        zn_pack_map(reply, 3);
        zn_pack_str(reply, "generation");
        zn_pack_u64(reply, rec.generation);
        zn_pack_str(reply, "version");
        zn_pack_u64(reply, rec.record_version);
        zn_pack_str(reply, "value");
        zn_pack_bin(reply, rec.value.ptr, rec.value.len); /* copied before the txn ends */
    } else if (rc == -ENOENT) {
        zn_fault_set(fault, rc, "%s: no such key", req->table);
    } else {
        zn_fault_set(fault, rc, "%s: read failed: %s", req->table, zn_strerror(rc));
    }
    zn_store_read_end(&txn);
    return rc;
}

int
zn_conductor_store_get(zn_conductor_store_t *self, zn_call_t *call, zn_pack_t *reply,
                       zn_fault_t *fault)
{
    s_get_req_t req;
    int rc = zn_schema_decode(&s_get_schema, zn_call_env(call)->body, &req, NULL, fault);
    if (rc == 0) {
        rc = s_read_one(self, &req, reply, fault);
        zn_schema_release(&s_get_schema, &req);
    }
    return rc;
}

typedef struct {
    char *table;
    zn_bytes_t marker;
    zn_bytes_t prefix;
    uint64_t limit;
} s_scan_req_t;

static const zn_field_t s_scan_fields[] = {
    {"table", ZN_FT_STR, ZN_F_REQUIRED, offsetof(s_scan_req_t, table), 0, 32, NULL},
    {"marker", ZN_FT_BIN, 0, offsetof(s_scan_req_t, marker), 0, 4096, NULL},
    {"prefix", ZN_FT_BIN, 0, offsetof(s_scan_req_t, prefix), 0, 4096, NULL},
    {"limit", ZN_FT_U64, 0, offsetof(s_scan_req_t, limit), 0, 1000, NULL},
};

static const zn_schema_t s_scan_schema = {"store_scan", 1, s_scan_fields,
                                          ZN_ARRAY_COUNT(s_scan_fields), sizeof(s_scan_req_t)};

static bool
s_has_prefix(zn_buf_t key, const zn_bytes_t *prefix)
{
    return key.len >= prefix->len && memcmp(key.ptr, prefix->ptr, prefix->len) == 0;
}

/* Pack the records of one page: those of REQ's table after its marker (or from its prefix),
 * while they carry the prefix. */
static int
s_scan_page(zn_conductor_store_t *self, const s_scan_req_t *req, zn_pack_t *reply,
            zn_fault_t *fault)
{
    const zn_store_table_t *table = zn_store_table(self->store, req->table);
    if (table == NULL) {
        return zn_fault_set(fault, -ENOENT, "no table '%s'", req->table);
    }
    size_t limit = req->limit == 0 ? 100 : req->limit > 1000 ? 1000 : (size_t)req->limit;
    /* Every key that starts with PREFIX sorts after PREFIX itself, so it is the first marker. */
    zn_buf_t marker = req->marker.len > 0 ? (zn_buf_t){req->marker.ptr, req->marker.len}
                                          : (zn_buf_t){req->prefix.ptr, req->prefix.len};
    zn_store_record_t *recs = zn_calloc(limit, sizeof(*recs));
    zn_store_read_t *txn = NULL;
    int rc = zn_store_read_begin(self->store, &txn);
    int count = rc == 0 ? zn_store_scan(txn, table, marker, recs, limit) : rc;
    if (count < 0) {
        rc = zn_fault_set(fault, count, "%s: scan failed: %s", req->table, zn_strerror(count));
    } else {
        uint32_t kept = 0;
        while (kept < (uint32_t)count && s_has_prefix(recs[kept].key, &req->prefix)) {
            kept++;
        }
        zn_pack_map(reply, 2);
        zn_pack_str(reply, "more");
        zn_pack_bool(reply, kept == limit); /* values are copied before the txn ends */
        zn_pack_str(reply, "records");
        zn_pack_array(reply, kept);
        for (uint32_t i = 0; i < kept; i++) {
            zn_pack_map(reply, 3);
            zn_pack_str(reply, "key");
            zn_pack_bin(reply, recs[i].key.ptr, recs[i].key.len);
            zn_pack_str(reply, "generation");
            zn_pack_u64(reply, recs[i].generation);
            zn_pack_str(reply, "value");
            zn_pack_bin(reply, recs[i].value.ptr, recs[i].value.len);
        }
        rc = 0;
    }
    zn_store_read_end(&txn);
    zn_free(recs);
    return rc;
}

int
zn_conductor_store_scan(zn_conductor_store_t *self, zn_call_t *call, zn_pack_t *reply,
                        zn_fault_t *fault)
{
    s_scan_req_t req;
    int rc = zn_schema_decode(&s_scan_schema, zn_call_env(call)->body, &req, NULL, fault);
    if (rc == 0) {
        rc = s_scan_page(self, &req, reply, fault);
        zn_schema_release(&s_scan_schema, &req);
    }
    return rc;
}

/* ---- administration ---------------------------------------------------------------------- */

static const char *
s_role_name(zn_repl_role_t role)
{
    static const char *const names[] = {"unavailable", "follower", "candidate", "leader"};
    return (unsigned)role < ZN_ARRAY_COUNT(names) ? names[role] : "unknown";
}

int
zn_conductor_store_status(zn_conductor_store_t *self, zn_call_t *call, zn_pack_t *reply,
                          zn_fault_t *fault)
{
    (void)call;
    (void)fault;
    zn_repl_status_t st;
    zn_repl_status(self->repl, &st);
    zn_pack_map(reply, 8);
    zn_pack_str(reply, "node_id");
    zn_pack_i64(reply, self->opts.cfg->node_id);
    zn_pack_str(reply, "role");
    zn_pack_str(reply, s_role_name(st.role));
    zn_pack_str(reply, "leader_id");
    zn_pack_u64(reply, st.leader_id);
    zn_pack_str(reply, "leader_address");
    zn_pack_str(reply, st.leader_address);
    zn_pack_str(reply, "term");
    zn_pack_u64(reply, st.term);
    zn_pack_str(reply, "commit_index");
    zn_pack_u64(reply, st.commit_index);
    zn_pack_str(reply, "applied_index");
    zn_pack_u64(reply, st.applied_index);
    zn_pack_str(reply, "voters");
    zn_pack_u64(reply, st.voters);
    return 0;
}

typedef struct {
    char *path;
    int64_t id;
    char *address;
} s_admin_req_t;

static const zn_field_t s_admin_fields[] = {
    {"path", ZN_FT_STR, 0, offsetof(s_admin_req_t, path), 0, 4096, NULL},
    {"id", ZN_FT_I64, 0, offsetof(s_admin_req_t, id), 0, 0, NULL},
    {"address", ZN_FT_STR, 0, offsetof(s_admin_req_t, address), 0, ZN_REPL_ADDRESS_MAX_LEN, NULL},
};

static const zn_schema_t s_admin_schema = {"store_admin", 1, s_admin_fields,
                                           ZN_ARRAY_COUNT(s_admin_fields), sizeof(s_admin_req_t)};

int
zn_conductor_store_backup(zn_conductor_store_t *self, zn_call_t *call, zn_pack_t *reply,
                          zn_fault_t *fault)
{
    s_admin_req_t req;
    int rc = zn_schema_decode(&s_admin_schema, zn_call_env(call)->body, &req, NULL, fault);
    if (rc == 0 && req.path == NULL) {
        rc = zn_fault_set(fault, -EINVAL, "store backup: give the destination path");
    }
    if (rc == 0) {
        rc = zn_store_backup(self->store, req.path, fault);
    }
    if (rc == 0) {
        zn_log_notice(NULL, "store backed up to %s", req.path);
        zn_pack_str(reply, req.path);
    }
    zn_schema_release(&s_admin_schema, &req);
    return rc;
}

static void
s_on_member(int rc, const zn_fault_t *fault, void *arg)
{
    s_write_t *w = arg;
    if (rc == 0) {
        zn_log_notice(NULL, "store membership change committed");
    }
    s_write_finish(w, rc, rc < 0 ? zn_fault_message(fault) : NULL);
}

/* The change could not even start: answer the deferred call now; the handler returns DEFERRED. */
static int
s_member_failed(s_write_t *w, int rc, zn_fault_t *fault)
{
    zn_fault_set(fault, rc, "store membership: %s", zn_strerror(rc));
    s_write_finish(w, rc, fault->message);
    return ZN_DEFERRED;
}

int
zn_conductor_store_add(zn_conductor_store_t *self, zn_call_t *call, zn_pack_t *reply,
                       zn_fault_t *fault)
{
    s_admin_req_t req;
    int rc = zn_schema_decode(&s_admin_schema, zn_call_env(call)->body, &req, NULL, fault);
    if (rc == 0 && (req.id <= 0 || req.address == NULL)) {
        rc = zn_fault_set(fault, -EINVAL, "store add: give the new node's id and raft address");
    }
    (void)reply;
    if (rc == 0) {
        /* The new member must catch up before it is promoted: answer when that commits, and keep
         * the loop serving meanwhile. */
        zn_log_notice(NULL, "store member joining id=%" PRId64 " address=%s", req.id, req.address);
        zn_buf_t none = {NULL, 0};
        s_write_t *w = s_write_new(self, call, none, false);
        rc = zn_repl_add_async(self->repl, (uint64_t)req.id, req.address, s_on_member, w);
        rc = rc < 0 ? s_member_failed(w, rc, fault) : ZN_DEFERRED;
    }
    zn_schema_release(&s_admin_schema, &req);
    return rc;
}

int
zn_conductor_store_remove(zn_conductor_store_t *self, zn_call_t *call, zn_pack_t *reply,
                          zn_fault_t *fault)
{
    s_admin_req_t req;
    int rc = zn_schema_decode(&s_admin_schema, zn_call_env(call)->body, &req, NULL, fault);
    if (rc == 0 && req.id <= 0) {
        rc = zn_fault_set(fault, -EINVAL, "store remove: give the node's id");
    }
    (void)reply;
    if (rc == 0) {
        zn_log_notice(NULL, "store member leaving id=%" PRId64, req.id);
        zn_buf_t none = {NULL, 0};
        s_write_t *w = s_write_new(self, call, none, false);
        rc = zn_repl_remove_async(self->repl, (uint64_t)req.id, s_on_member, w);
        rc = rc < 0 ? s_member_failed(w, rc, fault) : ZN_DEFERRED;
    }
    zn_schema_release(&s_admin_schema, &req);
    return rc;
}
