/* SPDX-License-Identifier: Apache-2.0 */
/* zn_ctl_store.c - `zincctl store`: the replicated store's state, its data and its members. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <czmq.h>

#include "zn_batch.h"
#include "zn_clock.h"
#include "zn_ctl.h"
#include "zn_ctl_int.h"
#include "zn_ctl_table.h"
#include "zn_fs.h"
#include "zn_mem.h"
#include "zn_mp.h"
#include "zn_schema.h"
#include "zn_store.h"
#include "zn_tables.h"

#define S_STATUS_TIMEOUT_MS 1000

/* What a conductor's admin `store_status` answers. */
typedef struct {
    int64_t node_id;
    char *role;
    uint64_t leader_id;
    char *leader_address;
    uint64_t term;
    uint64_t commit_index;
    uint64_t applied_index;
    uint64_t voters;
} s_status_t;

#define S_ST(name, type)                                         \
    {                                                            \
#name, (type), 0, offsetof(s_status_t, name), 0, 0, NULL \
    }

static const zn_field_t s_status_fields[] = {
    S_ST(node_id, ZN_FT_I64),        S_ST(role, ZN_FT_STR),   S_ST(leader_id, ZN_FT_U64),
    S_ST(leader_address, ZN_FT_STR), S_ST(term, ZN_FT_U64),   S_ST(commit_index, ZN_FT_U64),
    S_ST(applied_index, ZN_FT_U64),  S_ST(voters, ZN_FT_U64),
};

static const zn_schema_t s_status_schema = {"store_status", 1, s_status_fields,
                                            ZN_ARRAY_COUNT(s_status_fields), sizeof(s_status_t)};

/* Ask the conductor of ROW for its store status; fills *out. */
static int
s_status_of(zn__ctl_t *ctl, const zn__ctl_row_t *row, s_status_t *out, zn_fault_t *fault)
{
    zn_buf_t none = {NULL, 0};
    zn_reply_t *reply = NULL;
    const char *key = ctl->cfg.curve ? row->public_key : NULL;
    /* A conductor that just died is still listed as up for a moment: do not wait long on it. */
    int64_t timeout_ms = ctl->cfg.timeout_ms;
    ctl->cfg.timeout_ms = timeout_ms < S_STATUS_TIMEOUT_MS ? timeout_ms : S_STATUS_TIMEOUT_MS;
    int rc = zn__ctl_call(ctl, row->admin_endpoint, key, "store_status", none, &reply, fault);
    ctl->cfg.timeout_ms = timeout_ms;
    if (rc == 0) {
        rc = zn_schema_decode(&s_status_schema, zn_reply_env(reply)->body, out, NULL, fault);
    }
    zn_reply_destroy(&reply);
    return rc;
}

static bool
s_is_conductor(const zn__ctl_row_t *row)
{
    return row->role != NULL && strcmp(row->role, "conductor") == 0 && row->up;
}

static void
s_status_row(zn_ctl_table_t *table, const zn__ctl_row_t *row, const s_status_t *st, int rc,
             const zn_fault_t *fault)
{
    char node[24];
    char leader[96];
    char term[24];
    char commit[48];
    char voters[16];
    (void)snprintf(node, sizeof(node), "%" PRId64, st->node_id);
    (void)snprintf(leader, sizeof(leader), "%" PRIu64 " (%s)", st->leader_id,
                   st->leader_address ? st->leader_address : "-");
    (void)snprintf(term, sizeof(term), "%" PRIu64, st->term);
    (void)snprintf(commit, sizeof(commit), "%" PRIu64 "/%" PRIu64, st->commit_index,
                   st->applied_index);
    (void)snprintf(voters, sizeof(voters), "%" PRIu64, st->voters);
    const char *role = rc == 0 ? st->role : zn_fault_message(fault);
    const char *cells[] = {row->host, node, role, leader, term, commit, voters};
    zn_ctl_table_add(table, cells);
}

static int
s_store_status(zn__ctl_t *ctl)
{
    zn__ctl_rows_t rows = {NULL, 0};
    zn_reply_t *reply = NULL;
    zn_fault_t fault;
    int rc = zn__ctl_fetch_services(ctl, &rows, &reply, &fault);
    zn_reply_destroy(&reply);
    if (rc < 0) {
        return zn__ctl_report(rc, "services", &fault);
    }
    static const char *const headers[] = {"HOST", "NODE",           "ROLE",  "LEADER",
                                          "TERM", "COMMIT/APPLIED", "VOTERS"};
    zn_ctl_table_t *table = zn_ctl_table_new(headers, ZN_ARRAY_COUNT(headers));
    int worst = 0;
    for (size_t i = 0; i < rows.count; i++) {
        if (!s_is_conductor(&rows.rows[i])) {
            continue;
        }
        s_status_t st;
        memset(&st, 0, sizeof(st));
        int one = s_status_of(ctl, &rows.rows[i], &st, &fault);
        worst = one < 0 ? zn__ctl_exit_for(one) : worst;
        s_status_row(table, &rows.rows[i], &st, one, &fault);
        zn_schema_release(&s_status_schema, &st);
    }
    zn_ctl_table_print(table, stdout);
    zn_ctl_table_destroy(&table);
    zn__ctl_rows_release(&rows);
    return worst;
}

/* The admin endpoint and key of the conductor that leads the store. */
static int
s_find_leader(zn__ctl_t *ctl, zn__ctl_target_t *out, zn_fault_t *fault)
{
    zn__ctl_rows_t rows = {NULL, 0};
    zn_reply_t *reply = NULL;
    int rc = zn__ctl_fetch_services(ctl, &rows, &reply, fault);
    zn_reply_destroy(&reply);
    bool found = false;
    for (size_t i = 0; rc == 0 && !found && i < rows.count; i++) {
        s_status_t st;
        memset(&st, 0, sizeof(st));
        const zn__ctl_row_t *row = &rows.rows[i];
        if (s_is_conductor(row) && s_status_of(ctl, row, &st, fault) == 0 && st.role != NULL &&
            strcmp(st.role, "leader") == 0) {
            (void)snprintf(out->endpoint, sizeof(out->endpoint), "%s", row->admin_endpoint);
            (void)snprintf(out->public_key, sizeof(out->public_key), "%s",
                           row->public_key ? row->public_key : "");
            (void)snprintf(out->label, sizeof(out->label), "conductor/%s", row->host);
            found = true;
        }
        zn_schema_release(&s_status_schema, &st);
    }
    zn__ctl_rows_release(&rows);
    if (rc == 0 && !found) {
        rc = zn_fault_set(fault, ZN_ENOQUORUM, "no conductor leads the store right now");
    }
    return rc;
}

/* The leader, waiting up to the command's timeout for one: right after a failover or a rejoin
 * there may briefly be none, and an operator's command should ride that out, not fail. */
static int
s_await_leader(zn__ctl_t *ctl, zn__ctl_target_t *leader, zn_fault_t *fault)
{
    int64_t deadline_ms = zn_clock_mono_ms() + ctl->cfg.timeout_ms;
    int rc = s_find_leader(ctl, leader, fault);
    while (rc == ZN_ENOQUORUM && zn_clock_mono_ms() < deadline_ms) {
        zclock_sleep(200);
        rc = s_find_leader(ctl, leader, fault);
    }
    return rc;
}

/* Membership changes go to the leader's admin socket. */
static int
s_store_member(zn__ctl_t *ctl, const char *method, int64_t id, const char *address)
{
    zn__ctl_target_t leader;
    zn_fault_t fault;
    int rc = s_await_leader(ctl, &leader, &fault);
    if (rc < 0) {
        return zn__ctl_report(rc, "store", &fault);
    }
    zn_pack_t *body = zn_pack_new();
    zn_pack_map(body, address ? 2 : 1);
    zn_pack_str(body, "id");
    zn_pack_i64(body, id);
    if (address != NULL) {
        zn_pack_str(body, "address");
        zn_pack_str(body, address);
    }
    int code = zn__ctl_admin_call_target(ctl, &leader, method, zn_pack_buf(body));
    zn_pack_destroy(&body);
    return code;
}

static int
s_parse_id(const char *text, int64_t *out)
{
    char *end = NULL;
    long long v = strtoll(text, &end, 10);
    if (end == text || *end != '\0' || v <= 0) {
        (void)fprintf(stderr, "zincctl store: '%s' is not a node id\n", text);
        return ZN_CTL_USAGE;
    }
    *out = (int64_t)v;
    return 0;
}

/* Send BATCH to the store through the conductor (a follower forwards it to the leader). */
int
zn__ctl_conductor_call(zn__ctl_t *ctl, const char *method, zn_buf_t body, zn_reply_t **reply,
                       zn_fault_t *fault)
{
    char conductor_public[ZN_KEY_Z85_LEN + 1];
    int rc = zn_secure_peer_public(ctl->secure, "conductor", conductor_public, fault);
    if (rc == 0) {
        rc = zn__ctl_call(ctl, ctl->cfg.conductor,
                          zn_secure_public_or_null(ctl->secure, conductor_public), method, body,
                          reply, fault);
    }
    return rc;
}

int
zn__ctl_write_batch(zn__ctl_t *ctl, const zn_batch_t *batch, const char *what)
{
    zn_fault_t fault;
    zn_pack_t *body = zn_pack_new();
    zn_buf_t bytes = zn_batch_bytes(batch);
    zn_pack_bin(body, bytes.ptr, bytes.len);
    zn_reply_t *reply = NULL;
    int rc = zn__ctl_conductor_call(ctl, "store_write", zn_pack_buf(body), &reply, &fault);
    if (rc == 0) {
        (void)printf("%s: committed\n", what);
    }
    zn_reply_destroy(&reply);
    zn_pack_destroy(&body);
    return zn__ctl_report(rc, what, &fault);
}

/* Build the one-operation batch of `put T K V` or `delete T K`, with an optional --expect GEN. */
static int
s_store_change(zn__ctl_t *ctl, int argc, const char *const *argv, bool is_put)
{
    int need = is_put ? 4 : 3;
    uint64_t expect = ZN_BATCH_GEN_ANY;
    if (argc == need + 2 && strcmp(argv[need], "--expect") == 0) {
        expect = strtoull(argv[need + 1], NULL, 10);
    } else if (argc != need) {
        (void)fprintf(stderr, "usage: zincctl store %s TABLE KEY%s [--expect GEN]\n",
                      is_put ? "put" : "delete", is_put ? " VALUE" : "");
        return ZN_CTL_USAGE;
    }
    zn_buf_t key = {(const uint8_t *)argv[2], strlen(argv[2])};
    zn_batch_t *batch = zn_batch_new();
    int rc = 0;
    if (is_put) {
        zn_buf_t value = {(const uint8_t *)argv[3], strlen(argv[3])};
        rc = zn_batch_put(batch, argv[1], key, value, expect);
    } else {
        rc = zn_batch_delete(batch, argv[1], key, expect);
    }
    int code = ZN_CTL_USAGE;
    if (rc < 0) {
        (void)fprintf(stderr, "zincctl store: bad table or key: %s\n", zn_strerror(rc));
    } else {
        code = zn__ctl_write_batch(ctl, batch, is_put ? "put" : "delete");
    }
    zn_batch_destroy(&batch);
    return code;
}

typedef struct {
    uint64_t generation;
    uint64_t version;
    zn_bytes_t value;
} s_record_t;

static const zn_field_t s_record_fields[] = {
    {"generation", ZN_FT_U64, 0, offsetof(s_record_t, generation), 0, 0, NULL},
    {"version", ZN_FT_U64, 0, offsetof(s_record_t, version), 0, 0, NULL},
    {"value", ZN_FT_BIN, 0, offsetof(s_record_t, value), 0, ZN_FRAME_MAX_BYTES, NULL},
};

static const zn_schema_t s_record_schema = {"record", 1, s_record_fields,
                                            ZN_ARRAY_COUNT(s_record_fields), sizeof(s_record_t)};

static void
s_print_record(const s_record_t *rec)
{
    bool text = true;
    for (size_t i = 0; i < rec->value.len; i++) {
        text = text && isprint(rec->value.ptr[i]);
    }
    (void)printf("generation = %" PRIu64 "\nversion = %" PRIu64 "\nvalue = ", rec->generation,
                 rec->version);
    for (size_t i = 0; i < rec->value.len; i++) {
        (void)printf(text ? "%c" : "%02x", rec->value.ptr[i]);
    }
    (void)printf("\n");
}

static int
s_store_get(zn__ctl_t *ctl, const char *table, const char *key)
{
    zn_fault_t fault;
    zn_pack_t *body = zn_pack_new();
    zn_pack_map(body, 2);
    zn_pack_str(body, "table");
    zn_pack_str(body, table);
    zn_pack_str(body, "key");
    zn_pack_bin(body, key, strlen(key));
    zn_reply_t *reply = NULL;
    int rc = zn__ctl_conductor_call(ctl, "store_get", zn_pack_buf(body), &reply, &fault);
    s_record_t rec;
    memset(&rec, 0, sizeof(rec));
    if (rc == 0) {
        rc = zn_schema_decode(&s_record_schema, zn_reply_env(reply)->body, &rec, NULL, &fault);
    }
    if (rc == 0) {
        s_print_record(&rec);
    }
    zn_schema_release(&s_record_schema, &rec);
    zn_reply_destroy(&reply);
    zn_pack_destroy(&body);
    return zn__ctl_report(rc, key, &fault);
}

static int
s_store_backup(zn__ctl_t *ctl, int argc, const char *const *argv)
{
    zn_pack_t *body = zn_pack_new();
    zn_pack_map(body, 1);
    zn_pack_str(body, "path");
    zn_pack_str(body, argv[1]);
    int code = zn__ctl_admin_call(ctl, argc > 2 ? argv[2] : "conductor", "store_backup",
                                  zn_pack_buf(body));
    zn_pack_destroy(&body);
    return code;
}

/* Offline disaster recovery on this node: BACKUP becomes DATA_DIR's store, with the applied
 * sequence reset and the old raft state moved aside, so that the conductor founds a new cluster
 * from it. Every founding controller restores the same backup before any of them starts. */
static int
s_store_restore(const char *backup, const char *data_dir)
{
    zn_fault_t fault;
    char *store_dir = zn_asprintf("%s/store", data_dir);
    char *raft_dir = zn_asprintf("%s/raft", data_dir);
    char *aside = zn_asprintf("%s/raft.before-restore.%lld", data_dir, (long long)time(NULL));
    int rc = zn_fs_mkdir_p(data_dir, 0750);
    if (rc < 0) {
        zn_fault_set(&fault, rc, "%s: %s", data_dir, zn_strerror(rc));
    } else {
        rc = zn_store_restore(backup, store_dir, &fault);
    }
    zn_store_t *store = NULL;
    size_t count = 0;
    zn_store_opts_t opts = {.path = store_dir, .tables = zn_tables(&count)};
    opts.table_count = count;
    if (rc == 0) {
        rc = zn_store_open(&store, &opts, &fault);
    }
    if (rc == 0) {
        rc = zn_store_reset_applied_seq(store, &fault);
    }
    zn_store_destroy(&store);
    if (rc == 0 && rename(raft_dir, aside) != 0 && errno != ENOENT) {
        rc = zn_fault_set(&fault, -errno, "cannot move %s aside: %s", raft_dir, strerror(errno));
    }
    if (rc == 0) {
        (void)printf("restored %s into %s; old raft state (if any) kept in %s\n"
                     "start zinc-conductor on this node: it founds a new cluster from this data\n",
                     backup, store_dir, aside);
    }
    zn_str_free(&aside);
    zn_str_free(&raft_dir);
    zn_str_free(&store_dir);
    return zn__ctl_report(rc, "restore", &fault);
}

int
zn__ctl_store(zn__ctl_t *ctl, int argc, const char *const *argv)
{
    const char *sub = argv[0];
    int64_t id = 0;
    if (strcmp(sub, "status") == 0 && argc == 1) {
        return s_store_status(ctl);
    }
    if (strcmp(sub, "get") == 0 && argc == 3) {
        return s_store_get(ctl, argv[1], argv[2]);
    }
    if (strcmp(sub, "put") == 0 || strcmp(sub, "delete") == 0) {
        return s_store_change(ctl, argc, argv, strcmp(sub, "put") == 0);
    }
    if (strcmp(sub, "backup") == 0 && (argc == 2 || argc == 3)) {
        return s_store_backup(ctl, argc, argv);
    }
    if (strcmp(sub, "restore") == 0 && argc == 3) {
        return s_store_restore(argv[1], argv[2]);
    }
    if (strcmp(sub, "add") == 0 && argc == 3) {
        int rc = s_parse_id(argv[1], &id);
        return rc != 0 ? rc : s_store_member(ctl, "store_add", id, argv[2]);
    }
    if (strcmp(sub, "remove") == 0 && argc == 2) {
        int rc = s_parse_id(argv[1], &id);
        return rc != 0 ? rc : s_store_member(ctl, "store_remove", id, NULL);
    }
    (void)fprintf(stderr, "usage: zincctl store status | get TABLE KEY | put TABLE KEY VALUE "
                          "[--expect GEN] | delete TABLE KEY [--expect GEN] | backup PATH "
                          "[TARGET] | restore BACKUP DATA_DIR (offline) | add ID RAFT_ADDRESS | "
                          "remove ID\n");
    return ZN_CTL_USAGE;
}
