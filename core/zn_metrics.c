/* SPDX-License-Identifier: Apache-2.0 */
/* zn_metrics.c - fixed-size metric table; log2 buckets keep observe() to a few instructions. */
#include "zn_metrics.h"

#include <string.h>

#include "zn_mem.h"

typedef struct {
    const char *name;
    zn_metric_kind_t kind;
    uint64_t count;
    uint64_t sum_us;
    uint64_t max_us;
    uint64_t buckets[ZN_METRICS_BUCKETS];
} s_metric_t;

struct zn_metrics {
    s_metric_t items[ZN_METRICS_MAX];
    int count;
    uint64_t dropped;
};

zn_metrics_t *
zn_metrics_new(void)
{
    return zn_calloc(1, sizeof(zn_metrics_t));
}

void
zn_metrics_destroy(zn_metrics_t **self_p)
{
    if (*self_p != NULL) {
        zn_free(*self_p);
        *self_p = NULL;
    }
}

static s_metric_t *
s_lookup(const zn_metrics_t *self, const char *name)
{
    /* Names are literals, so the pointer test almost always hits before strcmp runs. */
    for (int i = 0; i < self->count; i++) {
        if (self->items[i].name == name) {
            return (s_metric_t *)&self->items[i];
        }
    }
    for (int i = 0; i < self->count; i++) {
        if (strcmp(self->items[i].name, name) == 0) {
            return (s_metric_t *)&self->items[i];
        }
    }
    return NULL;
}

static s_metric_t *
s_get(zn_metrics_t *self, const char *name, zn_metric_kind_t kind)
{
    s_metric_t *m = s_lookup(self, name);
    if (m != NULL) {
        return m;
    }
    if (self->count == ZN_METRICS_MAX) {
        self->dropped++;
        return NULL;
    }
    m = &self->items[self->count++];
    m->name = name;
    m->kind = kind;
    return m;
}

void
zn_metrics_count(zn_metrics_t *self, const char *name, uint64_t delta)
{
    s_metric_t *m = s_get(self, name, ZN_METRIC_COUNTER);
    if (m != NULL) {
        m->count += delta;
    }
}

static int
s_bucket(uint64_t us)
{
    int b = 0;
    while (b < ZN_METRICS_BUCKETS - 1 && us >= (1ULL << b)) {
        b++;
    }
    return b;
}

void
zn_metrics_observe_us(zn_metrics_t *self, const char *name, int64_t duration_us)
{
    s_metric_t *m = s_get(self, name, ZN_METRIC_HISTOGRAM);
    if (m == NULL) {
        return;
    }
    uint64_t us = duration_us < 0 ? 0 : (uint64_t)duration_us;
    m->count++;
    m->sum_us += us;
    if (us > m->max_us) {
        m->max_us = us;
    }
    m->buckets[s_bucket(us)]++;
}

uint64_t
zn_metrics_counter(const zn_metrics_t *self, const char *name)
{
    const s_metric_t *m = s_lookup(self, name);
    return m != NULL ? m->count : 0;
}

uint64_t
zn_metrics_quantile_us(const zn_metrics_t *self, const char *name, double q)
{
    const s_metric_t *m = s_lookup(self, name);
    if (m == NULL || m->kind != ZN_METRIC_HISTOGRAM || m->count == 0) {
        return 0;
    }
    uint64_t rank = (uint64_t)(q * (double)m->count);
    uint64_t seen = 0;
    for (int b = 0; b < ZN_METRICS_BUCKETS; b++) {
        seen += m->buckets[b];
        if (seen > rank) {
            uint64_t upper = 1ULL << b;
            return upper < m->max_us ? upper : m->max_us;
        }
    }
    return m->max_us;
}

void
zn_metrics_visit(const zn_metrics_t *self, zn_metrics_visit_fn *fn, void *arg)
{
    for (int i = 0; i < self->count; i++) {
        const s_metric_t *m = &self->items[i];
        zn_metric_view_t view = {m->name,   m->kind,
                                 m->count,  m->sum_us,
                                 m->max_us, m->kind == ZN_METRIC_HISTOGRAM ? m->buckets : NULL};
        fn(arg, &view);
    }
    if (self->dropped > 0) {
        zn_metric_view_t view = {"metrics_dropped", ZN_METRIC_COUNTER, self->dropped, 0, 0, NULL};
        fn(arg, &view);
    }
}

typedef struct {
    const char *role;
    FILE *out;
} s_prom_ctx_t;

static void
s_prom_one(void *arg, const zn_metric_view_t *v)
{
    s_prom_ctx_t *ctx = arg;
    if (v->kind == ZN_METRIC_COUNTER) {
        (void)fprintf(ctx->out, "# TYPE zinc_%s_%s counter\nzinc_%s_%s %llu\n", ctx->role, v->name,
                      ctx->role, v->name, (unsigned long long)v->count);
        return;
    }
    (void)fprintf(ctx->out, "# TYPE zinc_%s_%s_seconds histogram\n", ctx->role, v->name);
    uint64_t cumulative = 0;
    for (int b = 0; b < ZN_METRICS_BUCKETS; b++) {
        cumulative += v->buckets[b];
        (void)fprintf(ctx->out, "zinc_%s_%s_seconds_bucket{le=\"%.6f\"} %llu\n", ctx->role, v->name,
                      (double)(1ULL << b) / 1e6, (unsigned long long)cumulative);
    }
    (void)fprintf(ctx->out,
                  "zinc_%s_%s_seconds_bucket{le=\"+Inf\"} %llu\n"
                  "zinc_%s_%s_seconds_sum %.6f\nzinc_%s_%s_seconds_count %llu\n",
                  ctx->role, v->name, (unsigned long long)v->count, ctx->role, v->name,
                  (double)v->sum_us / 1e6, ctx->role, v->name, (unsigned long long)v->count);
}

void
zn_metrics_write_prometheus(const zn_metrics_t *self, const char *role, FILE *out)
{
    s_prom_ctx_t ctx = {role, out};
    zn_metrics_visit(self, s_prom_one, &ctx);
}
