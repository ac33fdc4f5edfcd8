/* SPDX-License-Identifier: Apache-2.0 */
/* zn_sched_sync.h - keep the scheduler's host states (zn_sched_hosts) in step with the store
 * replica: a refresh scans the hosts and host_usage tables comparing each record's generation
 * with the one known and decodes only the records that changed (10,000 hosts: two key scans of
 * a few milliseconds), and one host's usage can be re-read alone after a claim conflicted.
 * Loop thread. */
#ifndef ZN_SCHED_SYNC_H
#define ZN_SCHED_SYNC_H

#include <stddef.h>

#include "zn_err.h"
#include "zn_sched_hosts.h"
#include "zn_sclient.h"

/* What a refresh changed. */
typedef struct zn_sched_sync_stats {
    size_t hosts_changed; /* new or changed host records */
    size_t hosts_removed;
    size_t usage_changed;
} zn_sched_sync_stats_t;

/* Bring HOSTS up to date with the replica behind SC. *stats (optional) says what changed.
 * Returns 0, ZN_EUNAVAIL with FAULT when the replica does not exist yet, or a read error.
 * A record that does not decode is skipped (and logged), never fatal. */
ZN_MUST_CHECK int zn_sched_sync_refresh(zn_sclient_t *sc, zn_sched_hosts_t *hosts,
                                        zn_sched_sync_stats_t *stats, zn_fault_t *fault);

/* As zn_sched_sync_refresh for the host_usage table alone (after a claim conflicted: another
 * scheduler is placing, and what it claimed is what we do not know). */
ZN_MUST_CHECK int zn_sched_sync_refresh_usage(zn_sclient_t *sc, zn_sched_hosts_t *hosts,
                                              zn_sched_sync_stats_t *stats, zn_fault_t *fault);

/* Re-read HOST's usage record and take it whatever its generation (after a failed claim).
 * Returns 0 or a read error with FAULT. */
ZN_MUST_CHECK int zn_sched_sync_usage(zn_sclient_t *sc, zn_sched_hosts_t *hosts, const char *host,
                                      zn_fault_t *fault);

#endif
