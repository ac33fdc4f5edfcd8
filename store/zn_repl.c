/* SPDX-License-Identifier: Apache-2.0 */
/* zn_repl.c - one replicated store node: the loop thread, the request queues between it and
 * the callers, group commit, leadership and membership. */
#include "zn_repl.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zn_clock.h"
#include "zn_log.h"
#include "zn_mem.h"
#include "zn_repl_fsm.h"
#include "zn_repl_int.h"

#define S_TICK_MS             50u
#define S_DEFAULT_ELECTION_MS 1000u
#define S_DEFAULT_WRITE_MS    5000u
#define S_DEFAULT_IN_FLIGHT   4u
#define S_ENTRY_TARGET_BYTES  ((size_t)8 << 20) /* stop filling an entry past this */

typedef enum {
    S_WRITE = 1,
    S_BARRIER,
    S_ADD,
    S_REMOVE,
    S_ISOLATE,
    S_HEAL,
} s_kind_t;

/* One request from a caller's thread. Async writes (DONE set) are freed after dispatch; a
 * blocking call's request lives on its caller's stack frame until FINISHED. */
typedef struct s_req {
    struct s_req *next;
    s_kind_t kind;
    uint8_t *bytes;
    size_t len;
    uint64_t id;
    char address[ZN_REPL_ADDRESS_MAX_LEN + 1];
    int64_t deadline_ms;
    zn_repl_done_fn done;
    void *arg;
    bool finished;
    int rc;
    zn_fault_t fault;
    struct raft_barrier barrier;
    struct raft_change change;
    zn_repl_t *repl;
} s_req_t;

typedef struct s_queue {
    s_req_t *head;
    s_req_t *tail;
} s_queue_t;

/* One proposed raft entry and the writes it carries. */
typedef struct s_entry {
    struct raft_apply apply;
    zn_repl_t *repl;
    size_t count;
    s_req_t *reqs[];
} s_entry_t;

struct zn_repl {
    /* Set at open, then read-only. */
    zn_store_t *store;
    zn_repl_fsm_t *fsm;
    char *dir;
    char *address;
    uint64_t id;
    zn_repl_peer_t *bootstrap;
    size_t bootstrap_count;
    zn_repl_opts_t opts;
    pthread_t thread;
    int event_fd;
    /* Shared: guarded by LOCK. */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    s_queue_t inbox;
    s_queue_t outbox;
    bool stopping;
    bool started;
    int start_rc;
    zn_fault_t start_fault;
    zn_repl_status_t status;
    /* Loop thread only. */
    uv_loop_t loop;
    uv_async_t wake;
    uv_timer_t timer;
    uv_check_t check;
    struct raft_io io;
    zn__repl_net_t net;
    struct raft raft;
    bool io_ready;
    bool raft_ready;
    bool closing;
    s_queue_t pending; /* writes not yet proposed */
    unsigned in_flight;
};

/* ---- queues and completion ---------------------------------------------------------------- */

static void
s_push(s_queue_t *q, s_req_t *req)
{
    req->next = NULL;
    if (q->tail != NULL) {
        q->tail->next = req;
    } else {
        q->head = req;
    }
    q->tail = req;
}

static s_req_t *
s_pop(s_queue_t *q)
{
    s_req_t *req = q->head;
    if (req != NULL) {
        q->head = req->next;
        q->tail = q->head == NULL ? NULL : q->tail;
    }
    return req;
}

static void
s_free_req(s_req_t *req)
{
    zn_free(req->bytes);
    zn_free(req);
}

/* Hand REQ's outcome back: to the dispatch queue (async) or to its waiting caller. */
static void
s_finish(zn_repl_t *self, s_req_t *req, int rc, const zn_fault_t *fault)
{
    req->rc = rc;
    if (fault != NULL && fault->code == rc) {
        req->fault = *fault;
    } else {
        zn_fault_set(&req->fault, rc, "%s", rc == 0 ? "" : zn_strerror(rc));
    }
    /* A waiting caller frees REQ as soon as it sees FINISHED: decide before letting go. */
    bool async = req->done != NULL;
    pthread_mutex_lock(&self->lock);
    if (async) {
        s_push(&self->outbox, req);
    } else {
        req->finished = true;
        pthread_cond_broadcast(&self->cond);
    }
    pthread_mutex_unlock(&self->lock);
    if (async) {
        uint64_t one = 1;
        (void)!write(self->event_fd, &one, sizeof(one)); /* a full counter still polls readable */
    }
}

static void
s_finish_fmt_all(zn_repl_t *self, s_queue_t *q, int rc, const char *why)
{
    zn_fault_t fault;
    zn_fault_set(&fault, rc, "%s", why);
    for (s_req_t *req = s_pop(q); req != NULL; req = s_pop(q)) {
        s_finish(self, req, rc, &fault);
    }
}

/* Map a libraft error code onto zinc's. */
static int
s_raft_rc(int raft_rc)
{
    switch (raft_rc) {
    case 0:
        return 0;
    case RAFT_NOTLEADER:
        return ZN_EUNAVAIL;
    case RAFT_LEADERSHIPLOST:
    case RAFT_SHUTDOWN:
        return ZN_EUNKNOWN;
    case RAFT_DUPLICATEID:
    case RAFT_DUPLICATEADDRESS:
        return -EEXIST;
    case RAFT_BADID:
    case RAFT_NOTFOUND:
        return -ENOENT;
    case RAFT_CANTCHANGE:
        return -EBUSY;
    case RAFT_NOMEM:
        return -ENOMEM;
    default:
        return ZN_EINTERNAL;
    }
}

/* ---- leadership --------------------------------------------------------------------------- */

static bool
s_is_leader(zn_repl_t *self)
{
    return raft_state(&self->raft) == RAFT_LEADER;
}

/* Fill FAULT with ZN_EUNAVAIL naming the leader when one is known. */
static int
s_not_leader(zn_repl_t *self, zn_fault_t *fault)
{
    raft_id id = 0;
    const char *address = NULL;
    raft_leader(&self->raft, &id, &address);
    if (id == 0) {
        return zn_fault_set(fault, ZN_EUNAVAIL, "not leader; no leader known");
    }
    return zn_fault_set(fault, ZN_EUNAVAIL, "not leader; leader id=%llu address=%s",
                        (unsigned long long)id, address != NULL ? address : "?");
}

static bool
s_leader_known(zn_repl_t *self)
{
    raft_id id = 0;
    const char *address = NULL;
    raft_leader(&self->raft, &id, &address);
    return id != 0;
}

/* ---- group commit -------------------------------------------------------------------------- */

static void s_pump(zn_repl_t *self);

static void
s_applied(struct raft_apply *apply, int status, void *result)
{
    s_entry_t *entry = apply->data;
    zn_repl_t *self = entry->repl;
    const zn_repl_apply_result_t *res = result;
    self->in_flight--;
    zn_fault_t fault;
    if (status != 0 || res == NULL) {
        zn_fault_set(&fault, ZN_EUNKNOWN, "leadership lost before the commit was known: %s",
                     raft_strerror(status));
    } else if (res->entry_rc < 0) {
        zn_fault_set(&fault, res->entry_rc, "malformed raft entry");
    }
    for (size_t i = 0; i < entry->count; i++) {
        if (status == 0 && res != NULL && res->entry_rc == 0) {
            s_finish(self, entry->reqs[i], res->batches[i].rc, &res->batches[i].fault);
        } else {
            s_finish(self, entry->reqs[i], fault.code, &fault);
        }
    }
    zn_free(entry);
    if (!self->closing) {
        s_pump(self);
    }
}

/* Take as many pending writes as fit in one entry, oldest first. */
static s_entry_t *
s_take_group(zn_repl_t *self)
{
    size_t count = 0;
    size_t bytes = 0;
    for (s_req_t *r = self->pending.head; r != NULL && count < ZN_REPL_ENTRY_MAX_BATCHES;
         r = r->next) {
        if (count > 0 && bytes + r->len > S_ENTRY_TARGET_BYTES) {
            break;
        }
        bytes += r->len + 4;
        count++;
    }
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): REQS is an array of pointers. */
    s_entry_t *entry = zn_calloc(1, sizeof(*entry) + count * sizeof(entry->reqs[0]));
    entry->repl = self;
    entry->count = count;
    entry->apply.data = entry;
    for (size_t i = 0; i < count; i++) {
        entry->reqs[i] = s_pop(&self->pending);
    }
    return entry;
}

/* Put ENTRY's writes back at the front of the pending queue, in order. */
static void
s_untake_group(zn_repl_t *self, s_entry_t *entry)
{
    for (size_t i = entry->count; i-- > 0;) {
        s_req_t *req = entry->reqs[i];
        req->next = self->pending.head;
        self->pending.head = req;
        self->pending.tail = self->pending.tail == NULL ? req : self->pending.tail;
    }
    zn_free(entry);
}

static int
s_propose(zn_repl_t *self)
{
    s_entry_t *entry = s_take_group(self);
    zn_buf_t *bufs = zn_malloc(entry->count * sizeof(*bufs));
    for (size_t i = 0; i < entry->count; i++) {
        bufs[i] = (zn_buf_t){entry->reqs[i]->bytes, entry->reqs[i]->len};
    }
    struct raft_buffer buf;
    int rc = zn_repl_entry_encode(bufs, entry->count, &buf);
    zn_free(bufs);
    ZN_ASSERT(rc == 0); /* sizes were checked at submit and by s_take_group */
    rc = raft_apply(&self->raft, &entry->apply, &buf, 1, s_applied);
    if (rc != 0) {
        raft_free(buf.base);
        s_untake_group(self, entry);
        return rc;
    }
    self->in_flight++;
    return 0;
}

/* Propose what waits, as far as leadership and the in-flight limit allow. Followers that know
 * the leader send their writes back with its name; with no leader they wait for one. */
static void
s_pump(zn_repl_t *self)
{
    while (self->pending.head != NULL) {
        if (!s_is_leader(self)) {
            if (s_leader_known(self)) {
                zn_fault_t fault;
                s_finish_fmt_all(self, &self->pending, s_not_leader(self, &fault), fault.message);
            }
            return;
        }
        if (self->in_flight >= self->opts.max_entries_in_flight || s_propose(self) != 0) {
            return;
        }
    }
}

/* Writes that found no leader within write_timeout_ms were never proposed: refuse them. */
static void
s_expire(zn_repl_t *self)
{
    int64_t now = zn_clock_mono_ms();
    s_queue_t keep = {NULL, NULL};
    s_queue_t expired = {NULL, NULL};
    for (s_req_t *req = s_pop(&self->pending); req != NULL; req = s_pop(&self->pending)) {
        s_push(req->deadline_ms <= now ? &expired : &keep, req);
    }
    self->pending = keep;
    if (expired.head != NULL) {
        char why[128];
        (void)snprintf(why, sizeof(why), "no quorum: no leader reachable within %u ms",
                       self->opts.write_timeout_ms);
        s_finish_fmt_all(self, &expired, ZN_ENOQUORUM, why);
    }
}

/* ---- control requests ---------------------------------------------------------------------- */

static void
s_barrier_done(struct raft_barrier *barrier, int status)
{
    s_req_t *req = barrier->data;
    zn_fault_t fault;
    int rc = s_raft_rc(status);
    zn_fault_set(&fault, rc, "barrier: %s", status == 0 ? "ok" : raft_strerror(status));
    s_finish(req->repl, req, rc, &fault);
}

static void
s_change_done(struct raft_change *change, int status)
{
    s_req_t *req = change->data;
    zn_fault_t fault;
    int rc = s_raft_rc(status);
    zn_fault_set(&fault, rc, "membership change for id=%llu: %s", (unsigned long long)req->id,
                 status == 0 ? "ok" : raft_strerror(status));
    s_finish(req->repl, req, rc, &fault);
}

/* The new member caught up as a spare: make it a voter (libraft catches it up first). */
static void
s_added(struct raft_change *change, int status)
{
    s_req_t *req = change->data;
    zn_repl_t *self = req->repl;
    int rc = status;
    if (rc == 0) {
        rc = raft_assign(&self->raft, &req->change, req->id, RAFT_VOTER, s_change_done);
    }
    if (rc != 0) {
        s_change_done(change, rc);
    }
}

/* Start REQ on libraft; returns its synchronous error. */
static int
s_start_control(zn_repl_t *self, s_req_t *req)
{
    req->barrier.data = req;
    req->change.data = req;
    switch (req->kind) {
    case S_BARRIER:
        return raft_barrier(&self->raft, &req->barrier, s_barrier_done);
    case S_ADD:
        return raft_add(&self->raft, &req->change, req->id, req->address, s_added);
    case S_REMOVE:
        return raft_remove(&self->raft, &req->change, req->id, s_change_done);
    default:
        ZN_ASSERT(false);
    }
    return 0;
}

static void
s_control(zn_repl_t *self, s_req_t *req)
{
    zn_fault_t fault;
    if (req->kind == S_ISOLATE || req->kind == S_HEAL) {
        zn__repl_net_set_isolated(&self->net, req->kind == S_ISOLATE);
        s_finish(self, req, 0, NULL);
        return;
    }
    if (!s_is_leader(self)) {
        s_finish(self, req, s_not_leader(self, &fault), &fault);
        return;
    }
    int rc = s_start_control(self, req);
    if (rc != 0) {
        zn_fault_set(&fault, s_raft_rc(rc), "%s", raft_errmsg(&self->raft));
        s_finish(self, req, fault.code, &fault);
    }
}

/* ---- the loop thread ----------------------------------------------------------------------- */

static void s_shutdown(zn_repl_t *self);

static void
s_on_wake(uv_async_t *wake)
{
    zn_repl_t *self = wake->data;
    pthread_mutex_lock(&self->lock);
    s_queue_t inbox = self->inbox;
    self->inbox = (s_queue_t){NULL, NULL};
    bool stopping = self->stopping;
    pthread_mutex_unlock(&self->lock);
    for (s_req_t *req = s_pop(&inbox); req != NULL; req = s_pop(&inbox)) {
        if (stopping) {
            s_finish(self, req, -ECANCELED, NULL);
        } else if (req->kind == S_WRITE) {
            s_push(&self->pending, req);
        } else {
            s_control(self, req);
        }
    }
    if (stopping) {
        s_shutdown(self);
        return;
    }
    s_pump(self);
}

static void
s_on_tick(uv_timer_t *timer)
{
    zn_repl_t *self = timer->data;
    s_expire(self);
    s_pump(self);
}

static unsigned
s_voters(const struct raft_configuration *conf)
{
    unsigned count = 0;
    for (unsigned i = 0; i < conf->n; i++) {
        count += conf->servers[i].role == RAFT_VOTER ? 1u : 0u;
    }
    return count;
}

/* After every turn of the loop: publish the state for zn_repl_status, and propose writes that
 * were waiting for this node to become leader. */
static void
s_on_check(uv_check_t *check)
{
    zn_repl_t *self = check->data;
    zn_repl_status_t st = {0};
    raft_id leader = 0;
    const char *address = NULL;
    raft_leader(&self->raft, &leader, &address);
    st.role = (zn_repl_role_t)raft_state(&self->raft);
    st.leader_id = leader;
    if (address != NULL) {
        (void)snprintf(st.leader_address, sizeof(st.leader_address), "%s", address);
    }
    st.term = self->raft.current_term;
    st.commit_index = self->raft.commit_index;
    st.applied_index = raft_last_applied(&self->raft);
    st.voters = s_voters(&self->raft.configuration);
    pthread_mutex_lock(&self->lock);
    self->status = st;
    pthread_mutex_unlock(&self->lock);
    if (self->pending.head != NULL && s_is_leader(self)) {
        s_pump(self);
    }
}

static void
s_close_handles(zn_repl_t *self)
{
    uv_close((uv_handle_t *)&self->wake, NULL);
    uv_close((uv_handle_t *)&self->timer, NULL);
    uv_close((uv_handle_t *)&self->check, NULL);
}

static void
s_raft_closed(struct raft *raft)
{
    s_close_handles(raft->data);
}

/* Loop thread: refuse what waits and close everything; uv_run returns when all is closed.
 * raft_close fails the proposed entries (ZN_EUNKNOWN through s_applied). */
static void
s_shutdown(zn_repl_t *self)
{
    if (self->closing) {
        return;
    }
    self->closing = true;
    s_finish_fmt_all(self, &self->pending, -ECANCELED, "node stopped before proposing");
    if (self->raft_ready) {
        raft_close(&self->raft, s_raft_closed);
    } else {
        s_close_handles(self);
    }
}

static int
s_bootstrap(zn_repl_t *self)
{
    struct raft_configuration conf;
    raft_configuration_init(&conf);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < self->bootstrap_count; i++) {
        rc = raft_configuration_add(&conf, self->bootstrap[i].id, self->bootstrap[i].address,
                                    RAFT_VOTER);
    }
    if (rc == 0) {
        rc = raft_bootstrap(&self->raft, &conf);
        rc = rc == RAFT_CANTBOOTSTRAP ? 0 : rc; /* the directory already holds raft state */
    }
    raft_configuration_close(&conf);
    return rc;
}

static void
s_configure(zn_repl_t *self)
{
    const zn_repl_opts_t *o = &self->opts;
    raft_set_election_timeout(&self->raft, o->election_timeout_ms);
    raft_set_heartbeat_timeout(&self->raft, o->heartbeat_timeout_ms);
    raft_set_pre_vote(&self->raft, o->pre_vote);
    raft_set_snapshot_threshold(&self->raft, o->snapshot_threshold);
    raft_set_snapshot_trailing(&self->raft, o->snapshot_trailing);
    unsigned retry_ms = o->election_timeout_ms / 4u;
    raft_uv_set_connect_retry_delay(&self->io, retry_ms < 20u ? 20u : retry_ms);
}

/* Bring up libraft on the loop. Returns 0 or a raft code; RAFT_READY says what to undo. */
static int
s_start_raft(zn_repl_t *self)
{
    int rc = zn__repl_net_init(&self->net, &self->loop);
    if (rc == 0) {
        rc = raft_uv_init(&self->io, &self->loop, self->dir, &self->net.outer);
        self->io_ready = rc == 0;
    }
    if (rc == 0) {
        rc =
            raft_init(&self->raft, &self->io, zn_repl_fsm_raft(self->fsm), self->id, self->address);
        self->raft_ready = rc == 0;
    }
    if (rc != 0) {
        zn_fault_set(&self->start_fault, ZN_EINTERNAL, "repl %s: init: %s: %s", self->dir,
                     raft_strerror(rc), self->io_ready ? self->io.errmsg : self->net.tcp.errmsg);
        return rc;
    }
    self->raft.data = self;
    zn_repl_fsm_bind(self->fsm, &self->raft);
    rc = self->bootstrap_count > 0 ? s_bootstrap(self) : 0;
    if (rc == 0) {
        s_configure(self);
        rc = raft_start(&self->raft);
    }
    if (rc != 0) {
        zn_fault_set(&self->start_fault, ZN_EINTERNAL, "repl %s at %s: start: %s: %s", self->dir,
                     self->address, raft_strerror(rc), raft_errmsg(&self->raft));
    }
    return rc;
}

static void
s_start_handles(zn_repl_t *self)
{
    uv_loop_init(&self->loop);
    uv_async_init(&self->loop, &self->wake, s_on_wake);
    uv_timer_init(&self->loop, &self->timer);
    uv_check_init(&self->loop, &self->check);
    self->wake.data = self;
    self->timer.data = self;
    self->check.data = self;
    uv_timer_start(&self->timer, s_on_tick, S_TICK_MS, S_TICK_MS);
    uv_check_start(&self->check, s_on_check);
}

static void
s_report_start(zn_repl_t *self, int rc)
{
    pthread_mutex_lock(&self->lock);
    self->start_rc = rc;
    self->started = true;
    pthread_cond_broadcast(&self->cond);
    pthread_mutex_unlock(&self->lock);
}

static void *
s_thread_main(void *arg)
{
    zn_repl_t *self = arg;
    sigset_t pipe_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    /* A write to a peer that vanished raises SIGPIPE on this thread: keep it pending, unseen;
     * libuv gets EPIPE and libraft reconnects. */
    pthread_sigmask(SIG_BLOCK, &pipe_set, NULL);
    s_start_handles(self);
    int rc = s_start_raft(self);
    s_report_start(self, rc == 0 ? 0 : (rc == RAFT_NOMEM ? -ENOMEM : ZN_EINTERNAL));
    if (rc != 0) {
        s_shutdown(self);
    }
    uv_run(&self->loop, UV_RUN_DEFAULT);
    if (self->io_ready) {
        raft_uv_close(&self->io);
    }
    zn__repl_net_release(&self->net);
    (void)uv_loop_close(&self->loop); /* every handle is closed by now */
    return NULL;
}

/* ---- public API ---------------------------------------------------------------------------- */

static int
s_check_opts(const zn_repl_opts_t *opts, zn_fault_t *fault)
{
    if (opts->store == NULL || opts->dir == NULL || opts->address == NULL || opts->id == 0) {
        return zn_fault_set(fault, -EINVAL, "repl: store, dir, address and id >= 1 are required");
    }
    if (strlen(opts->address) > ZN_REPL_ADDRESS_MAX_LEN) {
        return zn_fault_set(fault, -EINVAL, "repl: address %s: longer than %u", opts->address,
                            ZN_REPL_ADDRESS_MAX_LEN);
    }
    for (size_t i = 0; i < opts->bootstrap_count; i++) {
        const zn_repl_peer_t *peer = &opts->bootstrap[i];
        if (peer->id == 0 || peer->address == NULL ||
            strlen(peer->address) > ZN_REPL_ADDRESS_MAX_LEN) {
            return zn_fault_set(fault, -EINVAL, "repl: bootstrap peer %zu: bad id or address", i);
        }
    }
    return 0;
}

static zn_repl_opts_t
s_defaults(const zn_repl_opts_t *opts)
{
    zn_repl_opts_t o = *opts;
    o.election_timeout_ms = o.election_timeout_ms ? o.election_timeout_ms : S_DEFAULT_ELECTION_MS;
    o.heartbeat_timeout_ms =
        o.heartbeat_timeout_ms ? o.heartbeat_timeout_ms : o.election_timeout_ms / 10u;
    o.snapshot_threshold = o.snapshot_threshold ? o.snapshot_threshold : 1024u;
    o.snapshot_trailing = o.snapshot_trailing ? o.snapshot_trailing : 128u;
    o.write_timeout_ms = o.write_timeout_ms ? o.write_timeout_ms : S_DEFAULT_WRITE_MS;
    o.max_entries_in_flight =
        o.max_entries_in_flight ? o.max_entries_in_flight : S_DEFAULT_IN_FLIGHT;
    o.bootstrap = NULL; /* copied into SELF */
    return o;
}

static zn_repl_t *
s_new(const zn_repl_opts_t *opts)
{
    zn_repl_t *self = zn_calloc(1, sizeof(*self));
    self->opts = s_defaults(opts);
    self->store = opts->store;
    self->dir = zn_strdup(opts->dir);
    self->address = zn_strdup(opts->address);
    self->id = opts->id;
    self->bootstrap_count = opts->bootstrap_count;
    self->bootstrap = zn_calloc(opts->bootstrap_count + 1, sizeof(*self->bootstrap));
    for (size_t i = 0; i < opts->bootstrap_count; i++) {
        self->bootstrap[i].id = opts->bootstrap[i].id;
        self->bootstrap[i].address = zn_strdup(opts->bootstrap[i].address);
    }
    self->event_fd = -1;
    pthread_mutex_init(&self->lock, NULL);
    pthread_cond_init(&self->cond, NULL);
    return self;
}

static void
s_free(zn_repl_t *self)
{
    for (size_t i = 0; i < self->bootstrap_count; i++) {
        zn_free((void *)(uintptr_t)self->bootstrap[i].address);
    }
    zn_free(self->bootstrap);
    zn_repl_fsm_destroy(&self->fsm);
    if (self->event_fd >= 0) {
        close(self->event_fd);
    }
    pthread_cond_destroy(&self->cond);
    pthread_mutex_destroy(&self->lock);
    zn_str_free(&self->dir);
    zn_str_free(&self->address);
    zn_free(self);
}

/* Create DIR, the state machine and the completion fd. */
static int
s_prepare(zn_repl_t *self, zn_fault_t *fault)
{
    if (mkdir(self->dir, 0750) < 0 && errno != EEXIST) {
        return zn_fault_set(fault, -errno, "repl dir %s: %s", self->dir, strerror(errno));
    }
    char *scratch = zn_asprintf("%s/zinc-scratch", self->dir);
    int rc = zn_repl_fsm_open(&self->fsm, self->store, scratch, fault);
    zn_str_free(&scratch);
    if (rc < 0) {
        return rc;
    }
    self->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (self->event_fd < 0) {
        return zn_fault_set(fault, -errno, "repl: eventfd: %s", strerror(errno));
    }
    return 0;
}

int
zn_repl_open(zn_repl_t **out, const zn_repl_opts_t *opts, zn_fault_t *fault)
{
    *out = NULL;
    int rc = s_check_opts(opts, fault);
    if (rc < 0) {
        return rc;
    }
    zn_repl_t *self = s_new(opts);
    rc = s_prepare(self, fault);
    if (rc < 0) {
        goto out_free;
    }
    rc = -pthread_create(&self->thread, NULL, s_thread_main, self);
    if (rc < 0) {
        zn_fault_set(fault, rc, "repl: thread: %s", zn_strerror(rc));
        goto out_free;
    }
    pthread_mutex_lock(&self->lock);
    while (!self->started) {
        pthread_cond_wait(&self->cond, &self->lock);
    }
    rc = self->start_rc;
    pthread_mutex_unlock(&self->lock);
    if (rc < 0) {
        pthread_join(self->thread, NULL);
        if (fault != NULL) {
            *fault = self->start_fault;
            fault->code = rc;
        }
        goto out_free;
    }
    zn_log_notice(NULL, "repl started id=%llu address=%s dir=%s", (unsigned long long)self->id,
                  self->address, self->dir);
    *out = self;
    return 0;
out_free:
    s_free(self);
    return rc;
}

void
zn_repl_destroy(zn_repl_t **self_p)
{
    zn_repl_t *self = *self_p;
    if (self == NULL) {
        return;
    }
    pthread_mutex_lock(&self->lock);
    self->stopping = true;
    pthread_mutex_unlock(&self->lock);
    uv_async_send(&self->wake);
    pthread_join(self->thread, NULL);
    for (s_req_t *req = s_pop(&self->outbox); req != NULL; req = s_pop(&self->outbox)) {
        s_free_req(req);
    }
    zn_log_notice(NULL, "repl stopped id=%llu", (unsigned long long)self->id);
    s_free(self);
    *self_p = NULL;
}

/* Queue REQ for the loop thread. Returns -ESHUTDOWN when the node is stopping. */
static int
s_send(zn_repl_t *self, s_req_t *req)
{
    req->repl = self;
    pthread_mutex_lock(&self->lock);
    bool stopping = self->stopping;
    if (!stopping) {
        s_push(&self->inbox, req);
    }
    pthread_mutex_unlock(&self->lock);
    if (stopping) {
        return -ESHUTDOWN;
    }
    uv_async_send(&self->wake);
    return 0;
}

static s_req_t *
s_write_req(zn_repl_t *self, zn_buf_t batch)
{
    s_req_t *req = zn_calloc(1, sizeof(*req));
    req->kind = S_WRITE;
    req->bytes = zn_malloc(batch.len);
    if (batch.len > 0) {
        memcpy(req->bytes, batch.ptr, batch.len);
    }
    req->len = batch.len;
    req->deadline_ms = zn_clock_mono_ms() + (int64_t)self->opts.write_timeout_ms;
    return req;
}

int
zn_repl_submit(zn_repl_t *self, zn_buf_t batch, zn_repl_done_fn done, void *arg)
{
    ZN_ASSERT(done != NULL);
    if (batch.len > ZN_BATCH_MAX_BYTES) {
        return ZN_ETOOBIG;
    }
    s_req_t *req = s_write_req(self, batch);
    req->done = done;
    req->arg = arg;
    int rc = s_send(self, req);
    if (rc < 0) {
        s_free_req(req);
    }
    return rc;
}

int
zn_repl_fd(const zn_repl_t *self)
{
    return self->event_fd;
}

size_t
zn_repl_dispatch(zn_repl_t *self)
{
    uint64_t count = 0;
    (void)!read(self->event_fd, &count, sizeof(count)); /* EAGAIN: nothing signalled */
    pthread_mutex_lock(&self->lock);
    s_queue_t done = self->outbox;
    self->outbox = (s_queue_t){NULL, NULL};
    pthread_mutex_unlock(&self->lock);
    size_t ran = 0;
    for (s_req_t *req = s_pop(&done); req != NULL; req = s_pop(&done)) {
        req->done(req->rc, &req->fault, req->arg);
        s_free_req(req);
        ran++;
    }
    return ran;
}

/* Send REQ and wait until the loop thread finishes it; returns its rc, words in FAULT. */
static int
s_call(zn_repl_t *self, s_req_t *req, zn_fault_t *fault)
{
    int rc = s_send(self, req);
    if (rc < 0) {
        return zn_fault_set(fault, rc, "repl: node is stopping");
    }
    pthread_mutex_lock(&self->lock);
    while (!req->finished) {
        pthread_cond_wait(&self->cond, &self->lock);
    }
    pthread_mutex_unlock(&self->lock);
    if (fault != NULL) {
        *fault = req->fault;
    }
    return req->rc;
}

int
zn_repl_write(zn_repl_t *self, zn_buf_t batch, zn_fault_t *fault)
{
    if (batch.len > ZN_BATCH_MAX_BYTES) {
        return zn_fault_set(fault, ZN_ETOOBIG, "repl: batch of %zu bytes", batch.len);
    }
    s_req_t *req = s_write_req(self, batch);
    int rc = s_call(self, req, fault);
    s_free_req(req);
    return rc;
}

static int
s_control_call(zn_repl_t *self, s_kind_t kind, uint64_t id, const char *address, zn_fault_t *fault)
{
    s_req_t req = {.kind = kind, .id = id};
    if (address != NULL) {
        (void)snprintf(req.address, sizeof(req.address), "%s", address);
    }
    return s_call(self, &req, fault);
}

int
zn_repl_barrier(zn_repl_t *self, zn_fault_t *fault)
{
    return s_control_call(self, S_BARRIER, 0, NULL, fault);
}

void
zn_repl_status(zn_repl_t *self, zn_repl_status_t *out)
{
    pthread_mutex_lock(&self->lock);
    *out = self->status;
    pthread_mutex_unlock(&self->lock);
}

int
zn_repl_add(zn_repl_t *self, uint64_t id, const char *address, zn_fault_t *fault)
{
    if (id == 0 || address == NULL || strlen(address) > ZN_REPL_ADDRESS_MAX_LEN) {
        return zn_fault_set(fault, -EINVAL, "repl add: bad id or address");
    }
    return s_control_call(self, S_ADD, id, address, fault);
}

int
zn_repl_remove(zn_repl_t *self, uint64_t id, zn_fault_t *fault)
{
    return s_control_call(self, S_REMOVE, id, NULL, fault);
}

/* A membership change whose outcome arrives like a write's, through zn_repl_dispatch. */
static int
s_control_async(zn_repl_t *self, s_kind_t kind, uint64_t id, const char *address,
                zn_repl_done_fn done, void *arg)
{
    s_req_t *req = zn_calloc(1, sizeof(*req));
    req->kind = kind;
    req->id = id;
    if (address != NULL) {
        (void)snprintf(req->address, sizeof(req->address), "%s", address);
    }
    req->done = done;
    req->arg = arg;
    int rc = s_send(self, req);
    if (rc < 0) {
        s_free_req(req);
    }
    return rc;
}

int
zn_repl_add_async(zn_repl_t *self, uint64_t id, const char *address, zn_repl_done_fn done,
                  void *arg)
{
    if (id == 0 || address == NULL || strlen(address) > ZN_REPL_ADDRESS_MAX_LEN) {
        return -EINVAL;
    }
    return s_control_async(self, S_ADD, id, address, done, arg);
}

int
zn_repl_remove_async(zn_repl_t *self, uint64_t id, zn_repl_done_fn done, void *arg)
{
    return s_control_async(self, S_REMOVE, id, NULL, done, arg);
}

void
zn_repl_set_isolated(zn_repl_t *self, bool isolated)
{
    /* Cannot fail but on a stopping node, where isolation no longer matters. */
    (void)s_control_call(self, isolated ? S_ISOLATE : S_HEAL, 0, NULL, NULL);
}
