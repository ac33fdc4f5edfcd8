/* SPDX-License-Identifier: Apache-2.0 */
/* zn_trace.c - a fixed ring of spans, searched by request id on demand. */
#include "zn_trace.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "zn_clock.h"
#include "zn_env.h"
#include "zn_mem.h"

typedef struct s_span {
    char req_id[ZN_ID_MAX + 1];
    char step[ZN_TRACE_STEP_MAX + 1];
    char detail[ZN_TRACE_DETAIL_MAX + 1];
    int64_t start_wall_us;
    int64_t duration_us;
    int code;
} s_span_t;

struct zn_trace {
    s_span_t *spans;
    size_t capacity;
    uint64_t next; /* spans ever added; the next goes to next % capacity */
};

zn_trace_t *
zn_trace_new(size_t capacity)
{
    zn_trace_t *self = zn_calloc(1, sizeof(*self));
    self->capacity = capacity > 0 ? capacity : ZN_TRACE_CAPACITY_DEFAULT;
    self->spans = zn_calloc(self->capacity, sizeof(*self->spans));
    return self;
}

void
zn_trace_destroy(zn_trace_t **self_p)
{
    zn_trace_t *self = *self_p;
    if (self == NULL) {
        return;
    }
    zn_free(self->spans);
    zn_free(self);
    *self_p = NULL;
}

/* The wall clock at the monotonic instant MONO_US: spans of several hosts are merged on it. */
static int64_t
s_wall_us(int64_t mono_us)
{
    struct timespec now;
    (void)clock_gettime(CLOCK_REALTIME, &now); /* cannot fail for CLOCK_REALTIME */
    int64_t wall_now_us = (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
    return wall_now_us - (zn_clock_mono_us() - mono_us);
}

void
zn_trace_add(zn_trace_t *self, const char *req_id, const char *step, const char *detail,
             int64_t start_mono_us, int64_t duration_us, int code)
{
    if (self == NULL || req_id == NULL || req_id[0] == '\0') {
        return;
    }
    s_span_t *span = &self->spans[self->next % self->capacity];
    self->next++;
    (void)snprintf(span->req_id, sizeof(span->req_id), "%s", req_id);
    (void)snprintf(span->step, sizeof(span->step), "%s", step != NULL ? step : "");
    (void)snprintf(span->detail, sizeof(span->detail), "%s", detail != NULL ? detail : "");
    span->start_wall_us = s_wall_us(start_mono_us);
    span->duration_us = duration_us;
    span->code = code;
}

void
zn_trace_pack(const zn_trace_t *self, const char *req_id, zn_pack_t *out)
{
    uint64_t first = self->next > self->capacity ? self->next - self->capacity : 0;
    uint32_t count = 0;
    for (uint64_t i = first; i < self->next; i++) {
        count += strcmp(self->spans[i % self->capacity].req_id, req_id) == 0 ? 1 : 0;
    }
    zn_pack_array(out, count);
    for (uint64_t i = first; i < self->next; i++) {
        const s_span_t *span = &self->spans[i % self->capacity];
        if (strcmp(span->req_id, req_id) != 0) {
            continue;
        }
        zn_pack_map(out, 5);
        zn_pack_str(out, "step");
        zn_pack_str(out, span->step);
        zn_pack_str(out, "detail");
        zn_pack_str(out, span->detail);
        zn_pack_str(out, "start_us");
        zn_pack_i64(out, span->start_wall_us);
        zn_pack_str(out, "duration_us");
        zn_pack_i64(out, span->duration_us);
        zn_pack_str(out, "code");
        zn_pack_i64(out, span->code);
    }
}

uint64_t
zn_trace_count(const zn_trace_t *self)
{
    return self->next;
}
