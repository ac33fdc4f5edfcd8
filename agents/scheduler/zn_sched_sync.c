/* SPDX-License-Identifier: Apache-2.0 */
/* zn_sched_sync.c - host states from the replica, re-reading only what changed. */
#include "zn_sched_sync.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "zn_log.h"
#include "zn_mem.h"
#include "zn_tables.h"

#define S_PAGE 1024

typedef int(s_record_fn)(zn_sched_hosts_t *hosts, const zn_store_record_t *rec,
                         zn_sched_sync_stats_t *stats);

/* The key of REC as a C string in BUF (ZN_STORE_KEY_MAX_BYTES + 1), or NULL when it has a NUL. */
static const char *
s_key(const zn_store_record_t *rec, char *buf)
{
    if (rec->key.len > ZN_STORE_KEY_MAX_BYTES || memchr(rec->key.ptr, '\0', rec->key.len) != NULL) {
        return NULL;
    }
    memcpy(buf, rec->key.ptr, rec->key.len);
    buf[rec->key.len] = '\0';
    return buf;
}

static int
s_host_record(zn_sched_hosts_t *hosts, const zn_store_record_t *rec, zn_sched_sync_stats_t *stats)
{
    char name[ZN_STORE_KEY_MAX_BYTES + 1];
    uint64_t host_gen = 0;
    uint64_t usage_gen = 0;
    const char *key = s_key(rec, name);
    if (key == NULL ||
        (zn_sched_hosts_gens(hosts, key, &host_gen, &usage_gen) && host_gen == rec->generation)) {
        return 0;
    }
    zn_cell_host_t host;
    zn_fault_t fault;
    if (zn_schema_decode(&zn_cell_host_schema, rec->value, &host, NULL, &fault) < 0) {
        zn_log_warn(NULL, "hosts/%s: %s (skipped)", key, zn_fault_message(&fault));
        return 0;
    }
    if (host.host == NULL || strcmp(host.host, key) != 0) {
        zn_free(host.host);
        host.host = zn_strdup(key); /* the key names the host */
    }
    int rc = zn_sched_hosts_update(hosts, &host, rec->generation);
    zn_schema_release(&zn_cell_host_schema, &host);
    stats->hosts_changed += rc == 0 ? 1 : 0;
    return 0;
}

static int
s_usage_record(zn_sched_hosts_t *hosts, const zn_store_record_t *rec, zn_sched_sync_stats_t *stats)
{
    char name[ZN_STORE_KEY_MAX_BYTES + 1];
    uint64_t host_gen = 0;
    uint64_t usage_gen = 0;
    const char *key = s_key(rec, name);
    if (key == NULL || !zn_sched_hosts_gens(hosts, key, &host_gen, &usage_gen) ||
        usage_gen >= rec->generation) {
        return 0;
    }
    zn_cell_usage_t usage = {0};
    zn_fault_t fault;
    if (zn_schema_decode(&zn_cell_usage_schema, rec->value, &usage, NULL, &fault) < 0) {
        zn_log_warn(NULL, "host_usage/%s: %s (skipped)", key, zn_fault_message(&fault));
        return 0;
    }
    if (zn_sched_hosts_set_usage(hosts, key, &usage, rec->generation)) {
        stats->usage_changed++;
    }
    zn_schema_release(&zn_cell_usage_schema, &usage);
    return 0;
}

/* Call FN on every record of TABLE, a page at a time; returns how many there were. */
static int
s_scan(zn_store_read_t *txn, const zn_store_table_t *table, s_record_fn *fn,
       zn_sched_hosts_t *hosts, zn_sched_sync_stats_t *stats, size_t *count)
{
    zn_store_record_t *page = zn_calloc(S_PAGE, sizeof(*page));
    uint8_t marker[ZN_STORE_KEY_MAX_BYTES];
    zn_buf_t after = {marker, 0};
    *count = 0;
    int rc = 0;
    for (;;) {
        int n = zn_store_scan(txn, table, after, page, S_PAGE);
        if (n < 0) {
            rc = n;
            break;
        }
        for (int i = 0; i < n; i++) {
            (void)fn(hosts, &page[i], stats);
        }
        *count += (size_t)n;
        if (n < S_PAGE) {
            break;
        }
        memcpy(marker, page[n - 1].key.ptr, page[n - 1].key.len);
        after.len = page[n - 1].key.len;
    }
    zn_free(page);
    return rc;
}

typedef struct {
    zn_store_read_t *txn;
    const zn_store_table_t *table;
    char **gone;
    size_t gone_count;
    size_t gone_cap;
} s_prune_t;

static void
s_note_gone(void *arg, const char *host)
{
    s_prune_t *prune = arg;
    uint64_t gen = 0;
    if (zn_store_get_generation(prune->txn, prune->table, zn_batch_str(host), &gen) != -ENOENT) {
        return;
    }
    if (prune->gone_count == prune->gone_cap) {
        prune->gone_cap = prune->gone_cap == 0 ? 16 : prune->gone_cap * 2;
        prune->gone = zn_realloc(prune->gone, prune->gone_cap * sizeof(char *));
    }
    prune->gone[prune->gone_count++] = zn_strdup(host);
}

/* Forget hosts whose record went (only looked for when the counts disagree). */
static void
s_prune(zn_store_read_t *txn, const zn_store_table_t *table, zn_sched_hosts_t *hosts,
        zn_sched_sync_stats_t *stats)
{
    s_prune_t prune = {.txn = txn, .table = table};
    zn_sched_hosts_visit(hosts, s_note_gone, &prune);
    for (size_t i = 0; i < prune.gone_count; i++) {
        zn_sched_hosts_remove(hosts, prune.gone[i]);
        zn_free(prune.gone[i]);
    }
    stats->hosts_removed += prune.gone_count;
    zn_free(prune.gone);
}

static int
s_refresh(zn_sclient_t *sc, zn_sched_hosts_t *hosts, bool with_hosts, zn_sched_sync_stats_t *stats,
          zn_fault_t *fault)
{
    zn_sched_sync_stats_t local = {0};
    stats = stats != NULL ? stats : &local;
    memset(stats, 0, sizeof(*stats));
    zn_store_read_t *txn = NULL;
    int rc = zn_sclient_read_begin(sc, &txn, fault);
    if (rc < 0) {
        return rc;
    }
    const zn_store_table_t *host_table = zn_sclient_table(sc, ZN_TABLE_HOSTS);
    const zn_store_table_t *usage_table = zn_sclient_table(sc, ZN_TABLE_HOST_USAGE);
    size_t count = 0;
    if (with_hosts) {
        rc = s_scan(txn, host_table, s_host_record, hosts, stats, &count);
    }
    if (with_hosts && rc == 0 && count != zn_sched_hosts_count(hosts)) {
        s_prune(txn, host_table, hosts, stats);
    }
    if (rc == 0) {
        rc = s_scan(txn, usage_table, s_usage_record, hosts, stats, &count);
    }
    zn_store_read_end(&txn);
    return rc < 0 ? zn_fault_set(fault, rc, "store scan: %s", zn_strerror(rc)) : 0;
}

int
zn_sched_sync_refresh(zn_sclient_t *sc, zn_sched_hosts_t *hosts, zn_sched_sync_stats_t *stats,
                      zn_fault_t *fault)
{
    return s_refresh(sc, hosts, true, stats, fault);
}

int
zn_sched_sync_refresh_usage(zn_sclient_t *sc, zn_sched_hosts_t *hosts, zn_sched_sync_stats_t *stats,
                            zn_fault_t *fault)
{
    return s_refresh(sc, hosts, false, stats, fault);
}

int
zn_sched_sync_usage(zn_sclient_t *sc, zn_sched_hosts_t *hosts, const char *host, zn_fault_t *fault)
{
    zn_store_read_t *txn = NULL;
    int rc = zn_sclient_read_begin(sc, &txn, fault);
    if (rc < 0) {
        return rc;
    }
    zn_cell_usage_t usage = {0};
    uint64_t gen = 0;
    rc = zn_sclient_get(txn, zn_sclient_table(sc, ZN_TABLE_HOST_USAGE), host, &zn_cell_usage_schema,
                        &usage, &gen, fault);
    zn_store_read_end(&txn);
    if (rc == -ENOENT) {
        (void)zn_sched_hosts_reset_usage(hosts, host, NULL, 0);
        return 0;
    }
    if (rc == 0) {
        (void)zn_sched_hosts_reset_usage(hosts, host, &usage, gen);
        zn_schema_release(&zn_cell_usage_schema, &usage);
    }
    return rc;
}
