/* SPDX-License-Identifier: Apache-2.0 */
/* zn_metrics.h - an agent's counters and latency histograms, read through its admin socket. */
#ifndef ZN_METRICS_H
#define ZN_METRICS_H

#include <stdint.h>
#include <stdio.h>

#include "zn_common.h"

#define ZN_METRICS_MAX     128
#define ZN_METRICS_BUCKETS 32 /* bucket i counts observations below 2^i microseconds */

typedef struct zn_metrics zn_metrics_t;

typedef enum {
    ZN_METRIC_COUNTER,
    ZN_METRIC_HISTOGRAM,
} zn_metric_kind_t;

/* A snapshot of one metric, as the visitor sees it. */
typedef struct zn_metric_view {
    const char *name;
    zn_metric_kind_t kind;
    uint64_t count; /* counter value, or the number of observations */
    uint64_t sum_us;
    uint64_t max_us;
    const uint64_t *buckets; /* ZN_METRICS_BUCKETS entries for histograms, else NULL */
} zn_metric_view_t;

typedef void(zn_metrics_visit_fn)(void *arg, const zn_metric_view_t *view);

zn_metrics_t *zn_metrics_new(void);

void zn_metrics_destroy(zn_metrics_t **self_p);

/* Add DELTA to the counter NAME (created on first use). NAME must outlive SELF: pass a string
 * literal. Owner's thread only: metrics are per loop, never shared. Past ZN_METRICS_MAX names,
 * new names are dropped and counted under "metrics_dropped". */
void zn_metrics_count(zn_metrics_t *self, const char *name, uint64_t delta);

/* Record one duration under the histogram NAME. Same rules as zn_metrics_count. */
void zn_metrics_observe_us(zn_metrics_t *self, const char *name, int64_t duration_us);

/* The value of counter NAME, 0 if unknown. */
uint64_t zn_metrics_counter(const zn_metrics_t *self, const char *name);

/* The approximate quantile Q (0..1) of histogram NAME in microseconds (the upper bound of its
 * bucket), 0 if it has no observations. */
uint64_t zn_metrics_quantile_us(const zn_metrics_t *self, const char *name, double q);

/* Call FN for every metric, in creation order. */
void zn_metrics_visit(const zn_metrics_t *self, zn_metrics_visit_fn *fn, void *arg);

/* Write every metric in Prometheus text format, names prefixed "zinc_ROLE_". */
void zn_metrics_write_prometheus(const zn_metrics_t *self, const char *role, FILE *out);

#endif
