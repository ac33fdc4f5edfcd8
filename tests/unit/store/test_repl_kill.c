/* SPDX-License-Identifier: Apache-2.0 */
/* Fault test: three replicated store nodes as separate processes on 127.0.0.1. kill -9 the
 * leader in the middle of 10,000 acknowledged writes; a new leader takes over; every
 * acknowledged write is on every survivor; the killed node restarts from its directories and
 * converges to exactly the same table. */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture.h"
#include "repl_node.h"
#include "repl_util.h"
#include "zn_clock.h"
#include "zn_mem.h"
#include "zn_repl.h"

#define S_NODES     3
#define S_KEYS      10000
#define S_KILL_AT   3000 /* acknowledged writes before the leader is killed */
#define S_IN_FLIGHT 64

/* Control messages between the test and a node process (SOCK_SEQPACKET). */
enum {
    S_STATUS = 1,
    S_WRITE,
    S_ACK,
    S_DONE,
    S_DIGEST,
    S_STOP
};

typedef struct s_msg {
    int32_t op;
    int32_t a;  /* STATUS reply: role; WRITE: first key; ACK: key */
    int32_t b;  /* WRITE: count; ACK: rc */
    int32_t c;  /* WRITE: in flight */
    uint64_t x; /* STATUS reply: leader id; DIGEST reply: count */
    uint64_t y; /* DIGEST reply: hash */
} s_msg_t;

typedef struct s_proc {
    repl_node_t node;
    pid_t pid;
    int fd; /* the test's end of the control socket */
} s_proc_t;

/* ---- the node process ----------------------------------------------------------------------- */

typedef struct s_child {
    int fd;
    int outstanding;
} s_child_t;

typedef struct s_write {
    s_child_t *child;
    int key;
} s_write_t;

static void
s_send(int fd, const s_msg_t *msg)
{
    if (send(fd, msg, sizeof(*msg), MSG_NOSIGNAL) != (ssize_t)sizeof(*msg)) {
        _exit(5);
    }
}

static void
s_child_done(int rc, const zn_fault_t *fault, void *arg)
{
    (void)fault;
    s_write_t *w = arg;
    s_msg_t ack = {.op = S_ACK, .a = w->key, .b = rc};
    s_send(w->child->fd, &ack);
    w->child->outstanding--;
}

static void
s_child_write(zn_repl_t *repl, int fd, const s_msg_t *cmd)
{
    s_child_t child = {fd, 0};
    s_write_t *writes = zn_calloc((size_t)cmd->b, sizeof(*writes));
    zn_batch_t *batch = zn_batch_new();
    int next = 0;
    while (next < cmd->b || child.outstanding > 0) {
        while (child.outstanding < cmd->c && next < cmd->b) {
            writes[next] = (s_write_t){&child, cmd->a + next};
            repl_create_batch(batch, cmd->a + next);
            if (zn_repl_submit(repl, zn_batch_bytes(batch), s_child_done, &writes[next]) != 0) {
                _exit(6);
            }
            child.outstanding++;
            next++;
        }
        struct pollfd pfd = {.fd = zn_repl_fd(repl), .events = POLLIN};
        (void)poll(&pfd, 1, 1000);
        (void)zn_repl_dispatch(repl);
    }
    s_msg_t done = {.op = S_DONE};
    s_send(fd, &done);
    zn_batch_destroy(&batch);
    zn_free(writes);
}

static void
s_child_serve(repl_node_t *node, int fd)
{
    s_msg_t cmd;
    while (recv(fd, &cmd, sizeof(cmd), 0) == (ssize_t)sizeof(cmd)) {
        s_msg_t reply = {.op = cmd.op};
        if (cmd.op == S_STATUS) {
            zn_repl_status_t st;
            zn_repl_status(node->repl, &st);
            reply.a = (int32_t)st.role;
            reply.x = st.leader_id;
        } else if (cmd.op == S_WRITE) {
            s_child_write(node->repl, fd, &cmd);
            continue;
        } else if (cmd.op == S_DIGEST) {
            repl_digest_t d = repl_digest(node->store);
            reply.x = d.count;
            reply.y = d.hash;
        } else {
            return; /* S_STOP */
        }
        s_send(fd, &reply);
    }
}

/* The node process: start the node on NODE's directories, serve the test, stop cleanly. */
static void
s_child_main(repl_node_t *node, const zn_repl_peer_t *peers, int fd)
{
    char *store_dir = zn_asprintf("%s/store", node->dir);
    char *raft_dir = zn_asprintf("%s/raft", node->dir);
    zn_store_opts_t sopts = {.path = store_dir, .tables = &fixture_instances, .table_count = 1};
    if (zn_store_open(&node->store, &sopts, NULL) != 0) {
        _exit(2);
    }
    zn_repl_opts_t opts = repl_node_opts(node, peers, S_NODES);
    opts.store = node->store;
    opts.dir = raft_dir;
    opts.snapshot_threshold = 32; /* the restarted node catches up through a snapshot */
    opts.snapshot_trailing = 8;
    if (zn_repl_open(&node->repl, &opts, NULL) != 0) {
        _exit(3);
    }
    s_child_serve(node, fd);
    zn_repl_destroy(&node->repl);
    zn_store_destroy(&node->store);
    _exit(0);
}

/* ---- the test ------------------------------------------------------------------------------- */

static void
s_spawn(s_proc_t *proc, const zn_repl_peer_t *peers)
{
    int fds[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds), 0);
    proc->pid = fork();
    assert_true(proc->pid >= 0);
    if (proc->pid == 0) {
        close(fds[0]);
        s_child_main(&proc->node, peers, fds[1]);
    }
    close(fds[1]);
    proc->fd = fds[0];
}

static s_msg_t
s_ask(s_proc_t *proc, int op)
{
    s_msg_t msg = {.op = op};
    assert_int_equal(send(proc->fd, &msg, sizeof(msg), MSG_NOSIGNAL), sizeof(msg));
    assert_int_equal(recv(proc->fd, &msg, sizeof(msg), 0), sizeof(msg));
    return msg;
}

typedef struct s_cluster {
    s_proc_t procs[S_NODES];
    zn_repl_peer_t peers[S_NODES];
    bool alive[S_NODES];
    int leader;
} s_cluster_t;

static bool
s_agreed_leader(void *arg)
{
    s_cluster_t *c = arg;
    uint64_t id = 0;
    c->leader = -1;
    for (int i = 0; i < S_NODES; i++) {
        if (!c->alive[i]) {
            continue;
        }
        s_msg_t st = s_ask(&c->procs[i], S_STATUS);
        if (st.x == 0 || (id != 0 && st.x != id)) {
            return false;
        }
        id = st.x;
        c->leader = st.a == ZN_REPL_LEADER ? i : c->leader;
    }
    return c->leader >= 0;
}

/* Ask LEADER to write [FIRST, FIRST+COUNT); mark keys acknowledged as present (0, or
 * ZN_ECONFLICT: an earlier, unacknowledged attempt committed). Kill the process after KILL_AT
 * acknowledgements (0: never). Returns how many were acknowledged. */
static int
s_write_range(s_cluster_t *c, int leader, int first, int count, int kill_at, bool *acked)
{
    s_msg_t cmd = {.op = S_WRITE, .a = first, .b = count, .c = S_IN_FLIGHT};
    s_proc_t *proc = &c->procs[leader];
    assert_int_equal(send(proc->fd, &cmd, sizeof(cmd), MSG_NOSIGNAL), sizeof(cmd));
    int n = 0;
    s_msg_t msg;
    while (recv(proc->fd, &msg, sizeof(msg), 0) == (ssize_t)sizeof(msg) && msg.op == S_ACK) {
        if (msg.b == 0 || msg.b == ZN_ECONFLICT) {
            acked[msg.a] = true;
            if (++n == kill_at) {
                assert_int_equal(kill(proc->pid, SIGKILL), 0);
            }
        }
    }
    return n;
}

typedef struct s_converge {
    s_cluster_t *c;
    int node;
} s_converge_t;

static bool
s_converged(void *arg)
{
    s_converge_t *w = arg;
    s_msg_t want = s_ask(&w->c->procs[w->c->leader], S_DIGEST);
    s_msg_t got = s_ask(&w->c->procs[w->node], S_DIGEST);
    return want.x == got.x && want.y == got.y;
}

/* Write every key not yet acknowledged through whichever node leads, until all are. */
static void
s_finish_writes(s_cluster_t *c, bool *acked)
{
    for (int round = 0; round < 20; round++) {
        assert_true(repl_wait_for(s_agreed_leader, c));
        int missing = 0;
        for (int k = 0; k < S_KEYS; k++) {
            int run = 0;
            while (k + run < S_KEYS && !acked[k + run]) {
                run++;
            }
            if (run > 0) {
                (void)s_write_range(c, c->leader, k, run, 0, acked);
                missing += run;
                k += run;
            }
        }
        if (missing == 0) {
            return;
        }
    }
    fail_msg("writes did not all succeed");
}

static void
s_stop_all(s_cluster_t *c)
{
    for (int i = 0; i < S_NODES; i++) {
        if (c->alive[i]) {
            s_msg_t stop = {.op = S_STOP};
            assert_int_equal(send(c->procs[i].fd, &stop, sizeof(stop), MSG_NOSIGNAL), sizeof(stop));
            int status = 0;
            assert_int_equal(waitpid(c->procs[i].pid, &status, 0), c->procs[i].pid);
            assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        }
        close(c->procs[i].fd);
    }
}

/* Every acknowledged key is in every node's store, the tables are equal and consistent. */
static void
s_check_stores(s_cluster_t *c, const bool *acked)
{
    repl_digest_t first = {0};
    for (int i = 0; i < S_NODES; i++) {
        char *dir = zn_asprintf("%s/store", c->procs[i].node.dir);
        zn_store_t *store = fixture_open(dir);
        for (int k = 0; k < S_KEYS; k++) {
            if (acked[k] && !repl_has_key(store, k)) {
                fail_msg("node %d lost acknowledged key %d", i, k);
            }
        }
        repl_digest_t d = repl_digest(store);
        assert_int_equal(d.count, S_KEYS);
        assert_true(i == 0 || (d.hash == first.hash && d.count == first.count));
        first = d;
        assert_int_equal(fixture_check_consistent(store), S_KEYS);
        zn_store_destroy(&store);
        zn_str_free(&dir);
    }
}

static void
test_repl_kill_leader(void **state)
{
    (void)state;
    s_cluster_t c;
    memset(&c, 0, sizeof(c));
    for (int i = 0; i < S_NODES; i++) {
        repl_node_init(&c.procs[i].node, (uint64_t)i + 1);
        c.peers[i] = (zn_repl_peer_t){c.procs[i].node.id, c.procs[i].node.address};
    }
    for (int i = 0; i < S_NODES; i++) {
        s_spawn(&c.procs[i], c.peers);
        c.alive[i] = true;
    }
    bool *acked = zn_calloc(S_KEYS, sizeof(*acked));
    assert_true(repl_wait_for(s_agreed_leader, &c));
    int killed = c.leader;
    int64_t start = zn_clock_mono_ms();
    int n = s_write_range(&c, killed, 0, S_KEYS, S_KILL_AT, acked);
    assert_true(n >= S_KILL_AT);
    int status = 0;
    assert_int_equal(waitpid(c.procs[killed].pid, &status, 0), c.procs[killed].pid);
    c.alive[killed] = false;
    assert_true(repl_wait_for(s_agreed_leader, &c));
    assert_true(c.leader != killed);
    fprintf(stderr, "# leader %d killed after %d acks; new leader %d after %lld ms\n", killed, n,
            c.leader, (long long)(zn_clock_mono_ms() - start));
    s_finish_writes(&c, acked);
    s_converge_t survivor = {&c, c.leader == (killed + 1) % S_NODES ? (killed + 2) % S_NODES
                                                                    : (killed + 1) % S_NODES};
    assert_true(repl_wait_for(s_converged, &survivor));
    assert_int_equal(s_ask(&c.procs[survivor.node], S_DIGEST).x, S_KEYS);

    close(c.procs[killed].fd);
    s_spawn(&c.procs[killed], c.peers); /* same directories, same address */
    c.alive[killed] = true;
    assert_true(repl_wait_for(s_agreed_leader, &c));
    s_converge_t w = {&c, killed};
    assert_true(repl_wait_for(s_converged, &w));
    s_stop_all(&c);
    s_check_stores(&c, acked);
    for (int i = 0; i < S_NODES; i++) {
        fixture_rmdir(&c.procs[i].node.dir);
    }
    zn_free(acked);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_repl_kill_leader),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
