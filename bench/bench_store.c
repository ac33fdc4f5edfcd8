/* SPDX-License-Identifier: Apache-2.0 */
/* bench_store - the local store against raw LMDB: synchronous single-put commits, group commit,
 * and random point reads inside a read transaction; then a three-node replicated store on
 * 127.0.0.1 (three libraft nodes with their own LMDB stores, in this process) with 1 and 64
 * writes in flight. Prints min/median/max over repetitions. */
#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>

#include "zn_clock.h"
#include "zn_mem.h"
#include "zn_repl.h"
#include "zn_store.h"

#define S_REPS        5
#define S_COMMITS     400    /* single-put commits per repetition */
#define S_GROUP       64     /* batches per group commit */
#define S_GROUPS      40     /* group commits per repetition */
#define S_READ_KEYS   100000 /* records present for the read test */
#define S_READS       400000 /* random gets per repetition */
#define S_VALUE_BYTES 200
#define S_NODES       3
#define S_REPL_SINGLE 300  /* replicated writes per repetition, one in flight */
#define S_REPL_MANY   6000 /* replicated writes per repetition, 64 in flight */

typedef struct s_stats {
    double v[S_REPS];
} s_stats_t;

static int
s_cmp(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;
    return (x > y) - (x < y);
}

static double
s_report(const char *what, s_stats_t *stats)
{
    qsort(stats->v, S_REPS, sizeof(stats->v[0]), s_cmp);
    printf("store: %-44s min=%10.0f median=%10.0f max=%10.0f\n", what, stats->v[0],
           stats->v[S_REPS / 2], stats->v[S_REPS - 1]);
    return stats->v[S_REPS / 2];
}

static int
s_remove(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static char *
s_tmpdir(void)
{
    char *dir = zn_strdup("/tmp/zn-bench-store-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        exit(1);
    }
    return dir;
}

static void
s_rmdir(char **dir_p)
{
    (void)nftw(*dir_p, s_remove, 16, FTW_DEPTH | FTW_PHYS);
    zn_str_free(dir_p);
}

static void
s_check(int rc, const char *what)
{
    if (rc != 0) {
        fprintf(stderr, "bench_store: %s: %d (%s)\n", what, rc,
                rc > 0 ? mdb_strerror(rc) : zn_strerror(rc));
        exit(1);
    }
}

static char s_value[S_VALUE_BYTES + 1];

static void
s_key(char *buf, size_t cap, int i)
{
    (void)snprintf(buf, cap, "key%08d", i);
}

/* ---- raw LMDB ---------------------------------------------------------------------------- */

static MDB_env *
s_raw_open(const char *dir, MDB_dbi *dbi)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    s_check(mdb_env_create(&env), "env create");
    s_check(mdb_env_set_mapsize(env, (size_t)1 << 30), "mapsize");
    s_check(mdb_env_set_maxdbs(env, 4), "maxdbs");
    s_check(mdb_env_open(env, dir, MDB_NOTLS, 0640), "env open");
    s_check(mdb_txn_begin(env, NULL, 0, &txn), "begin");
    s_check(mdb_dbi_open(txn, "t", MDB_CREATE, dbi), "dbi");
    s_check(mdb_txn_commit(txn), "commit");
    return env;
}

static void
s_raw_put(MDB_env *env, MDB_dbi dbi, int first, int count)
{
    MDB_txn *txn = NULL;
    s_check(mdb_txn_begin(env, NULL, 0, &txn), "begin");
    for (int i = first; i < first + count; i++) {
        char key[32];
        s_key(key, sizeof(key), i);
        MDB_val k = {strlen(key), key};
        MDB_val v = {S_VALUE_BYTES, s_value};
        s_check(mdb_put(txn, dbi, &k, &v, 0), "put");
    }
    s_check(mdb_txn_commit(txn), "commit");
}

static double
s_raw_commits(MDB_env *env, MDB_dbi dbi, int rep)
{
    int64_t start = zn_clock_mono_us();
    for (int i = 0; i < S_COMMITS; i++) {
        s_raw_put(env, dbi, 1000000 + rep * S_COMMITS + i, 1);
    }
    return S_COMMITS * 1e6 / (double)(zn_clock_mono_us() - start);
}

static double
s_raw_reads(MDB_env *env, MDB_dbi dbi, const int *order)
{
    MDB_txn *txn = NULL;
    size_t sum = 0;
    int64_t start = zn_clock_mono_us();
    s_check(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), "begin");
    for (int i = 0; i < S_READS; i++) {
        char key[32];
        s_key(key, sizeof(key), order[i]);
        MDB_val k = {strlen(key), key};
        MDB_val v;
        s_check(mdb_get(txn, dbi, &k, &v), "get");
        sum += v.mv_size;
    }
    mdb_txn_abort(txn);
    double rate = S_READS * 1e6 / (double)(zn_clock_mono_us() - start);
    return sum > 0 ? rate : 0;
}

/* ---- zinc --------------------------------------------------------------------------------- */

/* The project is the first 12 bytes of the value: one secondary index, as tables have. */
static int
s_extract_project(zn_buf_t record, uint32_t version, zn_store_keys_t *keys, void *arg)
{
    (void)version;
    (void)arg;
    zn_buf_t project = {record.ptr, record.len < 12 ? record.len : 12};
    return zn_store_keys_add(keys, project);
}

static const zn_store_index_def_t s_indexes[] = {{"by_project", s_extract_project, NULL}};
static const zn_store_table_def_t s_table = {"t", 1, s_indexes, 1};

static zn_store_t *
s_zinc_open(const char *dir)
{
    zn_store_opts_t opts = {
        .path = dir, .tables = &s_table, .table_count = 1, .map_initial_bytes = (size_t)1 << 30};
    zn_store_t *store = NULL;
    zn_fault_t fault;
    if (zn_store_open(&store, &opts, &fault) != 0) {
        fprintf(stderr, "bench_store: %s\n", zn_fault_message(&fault));
        exit(1);
    }
    return store;
}

static void
s_zinc_batch(zn_batch_t *batch, int first, int count)
{
    zn_batch_reset(batch);
    for (int i = first; i < first + count; i++) {
        char key[32];
        s_key(key, sizeof(key), i);
        s_check(
            zn_batch_put(batch, "t", zn_batch_str(key), zn_batch_str(s_value), ZN_BATCH_GEN_ANY),
            "batch put");
    }
}

static double
s_zinc_commits(zn_store_t *store, zn_batch_t *batch, int rep)
{
    int64_t start = zn_clock_mono_us();
    for (int i = 0; i < S_COMMITS; i++) {
        s_zinc_batch(batch, 1000000 + rep * S_COMMITS + i, 1);
        s_check(zn_store_apply(store, zn_batch_bytes(batch), 0, NULL), "apply");
    }
    return S_COMMITS * 1e6 / (double)(zn_clock_mono_us() - start);
}

static double
s_zinc_group(zn_store_t *store, int rep)
{
    zn_batch_t *batches[S_GROUP];
    zn_store_entry_t entries[S_GROUP];
    for (int b = 0; b < S_GROUP; b++) {
        batches[b] = zn_batch_new();
    }
    int64_t start = zn_clock_mono_us();
    for (int g = 0; g < S_GROUPS; g++) {
        for (int b = 0; b < S_GROUP; b++) {
            s_zinc_batch(batches[b], 2000000 + (rep * S_GROUPS + g) * S_GROUP + b, 1);
            entries[b] = (zn_store_entry_t){.batch = zn_batch_bytes(batches[b])};
        }
        s_check(zn_store_apply_many(store, entries, S_GROUP, NULL), "apply_many");
    }
    double rate = S_GROUPS * S_GROUP * 1e6 / (double)(zn_clock_mono_us() - start);
    for (int b = 0; b < S_GROUP; b++) {
        zn_batch_destroy(&batches[b]);
    }
    return rate;
}

static double
s_zinc_reads(zn_store_t *store, const int *order)
{
    const zn_store_table_t *table = zn_store_table(store, "t");
    zn_store_read_t *txn = NULL;
    size_t sum = 0;
    int64_t start = zn_clock_mono_us();
    s_check(zn_store_read_begin(store, &txn), "read begin");
    for (int i = 0; i < S_READS; i++) {
        char key[32];
        s_key(key, sizeof(key), order[i]);
        zn_store_record_t record;
        s_check(zn_store_get(txn, table, zn_batch_str(key), &record), "get");
        sum += record.value.len;
    }
    zn_store_read_end(&txn);
    double rate = S_READS * 1e6 / (double)(zn_clock_mono_us() - start);
    return sum > 0 ? rate : 0;
}

static void
s_zinc_fill(zn_store_t *store)
{
    zn_batch_t *batch = zn_batch_new();
    for (int first = 0; first < S_READ_KEYS; first += 4000) {
        s_zinc_batch(batch, first, 4000);
        s_check(zn_store_apply(store, zn_batch_bytes(batch), 0, NULL), "fill");
    }
    zn_batch_destroy(&batch);
}

/* ---- replicated --------------------------------------------------------------------------- */

typedef struct s_node {
    char *dir;
    zn_store_t *store;
    zn_repl_t *repl;
    char address[32];
} s_node_t;

static uint16_t
s_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &len) != 0) {
        perror("bench_store: free port");
        exit(1);
    }
    close(fd);
    return ntohs(addr.sin_port);
}

static void
s_node_start(s_node_t *node, uint64_t id, const zn_repl_peer_t *peers)
{
    char *raft_dir = zn_asprintf("%s/raft", node->dir);
    node->store = s_zinc_open(node->dir);
    zn_repl_opts_t opts = {.store = node->store,
                           .dir = raft_dir,
                           .id = id,
                           .address = node->address,
                           .bootstrap = peers,
                           .bootstrap_count = S_NODES,
                           .election_timeout_ms = 300,
                           .pre_vote = true};
    zn_fault_t fault;
    if (zn_repl_open(&node->repl, &opts, &fault) != 0) {
        fprintf(stderr, "bench_store: %s\n", zn_fault_message(&fault));
        exit(1);
    }
    zn_str_free(&raft_dir);
}

/* Poll until one node leads and the others know it. */
static zn_repl_t *
s_wait_leader(s_node_t *nodes)
{
    for (int tries = 0; tries < 2000; tries++) {
        int leaders = 0;
        int known = 0;
        zn_repl_t *leader = NULL;
        for (int i = 0; i < S_NODES; i++) {
            zn_repl_status_t st;
            zn_repl_status(nodes[i].repl, &st);
            known += st.leader_id != 0 ? 1 : 0;
            leader = st.role == ZN_REPL_LEADER ? nodes[i].repl : leader;
            leaders += st.role == ZN_REPL_LEADER ? 1 : 0;
        }
        if (leaders == 1 && known == S_NODES) {
            return leader;
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "bench_store: no raft leader\n");
    exit(1);
}

typedef struct s_flight {
    int outstanding;
    int failed;
} s_flight_t;

static void
s_repl_done(int rc, const zn_fault_t *fault, void *arg)
{
    s_flight_t *flight = arg;
    flight->outstanding--;
    if (rc != 0) {
        fprintf(stderr, "bench_store: replicated write: %s\n", zn_fault_message(fault));
        flight->failed++;
    }
}

/* COUNT puts through LEADER with IN_FLIGHT outstanding at a time; returns writes/s. */
static double
s_repl_writes(zn_repl_t *leader, zn_batch_t *batch, int first, int count, int in_flight)
{
    s_flight_t flight = {0, 0};
    int next = 0;
    int64_t start = zn_clock_mono_us();
    while (next < count || flight.outstanding > 0) {
        while (flight.outstanding < in_flight && next < count) {
            s_zinc_batch(batch, first + next, 1);
            s_check(zn_repl_submit(leader, zn_batch_bytes(batch), s_repl_done, &flight), "submit");
            flight.outstanding++;
            next++;
        }
        struct pollfd pfd = {.fd = zn_repl_fd(leader), .events = POLLIN};
        (void)poll(&pfd, 1, 1000);
        (void)zn_repl_dispatch(leader);
    }
    s_check(flight.failed > 0 ? ZN_EUNKNOWN : 0, "replicated writes");
    return count * 1e6 / (double)(zn_clock_mono_us() - start);
}

/* Replicated writes/s with 1 and with 64 in flight, into SINGLE and MANY. */
static void
s_replicated(s_stats_t *single, s_stats_t *many)
{
    s_node_t nodes[S_NODES];
    zn_repl_peer_t peers[S_NODES];
    for (int i = 0; i < S_NODES; i++) {
        nodes[i] = (s_node_t){.dir = s_tmpdir()};
        (void)snprintf(nodes[i].address, sizeof(nodes[i].address), "127.0.0.1:%u", s_free_port());
        peers[i] = (zn_repl_peer_t){(uint64_t)i + 1, nodes[i].address};
    }
    for (int i = 0; i < S_NODES; i++) {
        s_node_start(&nodes[i], (uint64_t)i + 1, peers);
    }
    zn_repl_t *leader = s_wait_leader(nodes);
    zn_batch_t *batch = zn_batch_new();
    for (int rep = 0; rep < S_REPS; rep++) {
        single->v[rep] =
            s_repl_writes(leader, batch, 3000000 + rep * S_REPL_SINGLE, S_REPL_SINGLE, 1);
        many->v[rep] = s_repl_writes(leader, batch, 4000000 + rep * S_REPL_MANY, S_REPL_MANY, 64);
    }
    zn_batch_destroy(&batch);
    for (int i = 0; i < S_NODES; i++) {
        zn_repl_destroy(&nodes[i].repl);
        zn_store_destroy(&nodes[i].store);
        s_rmdir(&nodes[i].dir);
    }
}

int
main(void)
{
    memset(s_value, 'v', S_VALUE_BYTES);
    memcpy(s_value, "project-0042", 12);
    int *order = zn_malloc(S_READS * sizeof(*order));
    uint64_t x = 88172645463325252u;
    for (int i = 0; i < S_READS; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        order[i] = (int)(x % S_READ_KEYS);
    }
    char *raw_dir = s_tmpdir();
    char *zinc_dir = s_tmpdir();
    MDB_dbi dbi;
    MDB_env *env = s_raw_open(raw_dir, &dbi);
    zn_store_t *store = s_zinc_open(zinc_dir);
    for (int first = 0; first < S_READ_KEYS; first += 4000) {
        s_raw_put(env, dbi, first, 4000);
    }
    s_zinc_fill(store);
    zn_batch_t *batch = zn_batch_new();
    s_stats_t raw_w, zinc_w, group_w, raw_r, zinc_r;
    for (int rep = 0; rep < S_REPS; rep++) {
        raw_w.v[rep] = s_raw_commits(env, dbi, rep);
        zinc_w.v[rep] = s_zinc_commits(store, batch, rep);
        group_w.v[rep] = s_zinc_group(store, rep);
        raw_r.v[rep] = s_raw_reads(env, dbi, order);
        zinc_r.v[rep] = s_zinc_reads(store, order);
    }
    double raw_write = s_report("raw lmdb sync single-put commits/s", &raw_w);
    double zinc_write = s_report("zinc apply commits/s (1 put, 1 index)", &zinc_w);
    double group = s_report("zinc group commit writes/s (64 batches/txn)", &group_w);
    double raw_read = s_report("raw lmdb random gets/s (100k keys)", &raw_r);
    double zinc_read = s_report("zinc random gets/s (100k keys)", &zinc_r);
    printf("store-local: local_write_ratio=%.2f group_commit_writes_per_s=%.0f "
           "read_ratio=%.2f\n",
           zinc_write / raw_write, group, zinc_read / raw_read);
    s_stats_t repl_single;
    s_stats_t repl_many;
    s_replicated(&repl_single, &repl_many);
    (void)s_report("replicated writes/s (3 nodes, 1 in flight)", &repl_single);
    double replicated = s_report("replicated writes/s (3 nodes, 64 in flight)", &repl_many);
    printf("store: local_write_ratio=%.2f replicated_writes_per_s=%.0f read_ratio=%.2f\n",
           zinc_write / raw_write, replicated, zinc_read / raw_read);
    zn_batch_destroy(&batch);
    zn_store_destroy(&store);
    mdb_env_close(env);
    s_rmdir(&zinc_dir);
    s_rmdir(&raw_dir);
    zn_free(order);
    return 0;
}
