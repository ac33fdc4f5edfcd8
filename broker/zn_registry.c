/* SPDX-License-Identifier: Apache-2.0 */
/* zn_registry.c - a sorted table of services with their last heartbeat. */
#include "zn_registry.h"

#include <stdlib.h>
#include <string.h>

#include "zn_log.h"
#include "zn_mem.h"

#define S_FIELD(name, type, flags, max)                                      \
    {                                                                        \
#name, (type), (flags), offsetof(zn_service_t, name), 0, (max), NULL \
    }

static const zn_field_t s_service_fields[] = {
    S_FIELD(role, ZN_FT_STR, ZN_F_REQUIRED, 32), S_FIELD(host, ZN_FT_STR, ZN_F_REQUIRED, 255),
    S_FIELD(version, ZN_FT_STR, 0, 64),          S_FIELD(call_endpoint, ZN_FT_STR, 0, 255),
    S_FIELD(cast_endpoint, ZN_FT_STR, 0, 255),   S_FIELD(admin_endpoint, ZN_FT_STR, 0, 255),
    S_FIELD(public_key, ZN_FT_STR, 0, 40),       S_FIELD(pid, ZN_FT_I64, 0, 0),
    S_FIELD(started_at_ms, ZN_FT_I64, 0, 0),     S_FIELD(disabled, ZN_FT_BOOL, 0, 0),
};

const zn_schema_t zn_service_schema = {
    "service", 1, s_service_fields, ZN_ARRAY_COUNT(s_service_fields), sizeof(zn_service_t),
};

typedef struct {
    zn_service_t service;
    int64_t last_seen_ms;
    bool up;
} s_entry_t;

struct zn_registry {
    s_entry_t *entries;
    size_t count;
    size_t cap;
    int64_t dead_after_ms;
    zn_registry_watch_fn *watch;
    void *watch_arg;
};

zn_registry_t *
zn_registry_new(int64_t dead_after_ms)
{
    zn_registry_t *self = zn_calloc(1, sizeof(*self));
    self->dead_after_ms = dead_after_ms;
    return self;
}

void
zn_registry_destroy(zn_registry_t **self_p)
{
    zn_registry_t *self = *self_p;
    if (self == NULL) {
        return;
    }
    for (size_t i = 0; i < self->count; i++) {
        zn_schema_release(&zn_service_schema, &self->entries[i].service);
    }
    zn_free(self->entries);
    zn_free(self);
    *self_p = NULL;
}

void
zn_registry_set_watch(zn_registry_t *self, zn_registry_watch_fn *fn, void *arg)
{
    self->watch = fn;
    self->watch_arg = arg;
}

static int
s_compare(const char *role, const char *host, const zn_service_t *s)
{
    int c = strcmp(role, s->role);
    return c != 0 ? c : strcmp(host, s->host);
}

/* The index of ROLE/HOST, or where it would go (with *found false). Binary search. */
static size_t
s_locate(const zn_registry_t *self, const char *role, const char *host, bool *found)
{
    size_t lo = 0;
    size_t hi = self->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = s_compare(role, host, &self->entries[mid].service);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    *found = false;
    return lo;
}

static s_entry_t *
s_insert(zn_registry_t *self, size_t at)
{
    if (self->count == self->cap) {
        self->cap = self->cap ? self->cap * 2 : 16;
        self->entries = zn_realloc(self->entries, self->cap * sizeof(*self->entries));
    }
    memmove(&self->entries[at + 1], &self->entries[at],
            (self->count - at) * sizeof(*self->entries));
    self->count++;
    memset(&self->entries[at], 0, sizeof(self->entries[at]));
    return &self->entries[at];
}

void
zn_registry_beat(zn_registry_t *self, const zn_service_t *service, int64_t now_ms)
{
    bool found = false;
    size_t at = s_locate(self, service->role, service->host, &found);
    s_entry_t *e = found ? &self->entries[at] : s_insert(self, at);
    zn_schema_release(&zn_service_schema, &e->service);
    zn_schema_copy(&zn_service_schema, &e->service, service);
    e->last_seen_ms = now_ms;
    if (!e->up) {
        e->up = true;
        zn_log_notice(NULL, "service up role=%s host=%s", service->role, service->host);
        if (self->watch != NULL) {
            self->watch(self->watch_arg, &e->service, true);
        }
    }
}

int
zn_registry_sweep(zn_registry_t *self, int64_t now_ms)
{
    int went_down = 0;
    for (size_t i = 0; i < self->count; i++) {
        s_entry_t *e = &self->entries[i];
        if (e->up && now_ms - e->last_seen_ms > self->dead_after_ms) {
            e->up = false;
            went_down++;
            zn_log_warn(NULL, "service down role=%s host=%s silent_ms=%lld", e->service.role,
                        e->service.host, (long long)(now_ms - e->last_seen_ms));
            if (self->watch != NULL) {
                self->watch(self->watch_arg, &e->service, false);
            }
        }
    }
    return went_down;
}

const zn_service_t *
zn_registry_find(const zn_registry_t *self, const char *role, const char *host, int64_t now_ms,
                 bool *up, int64_t *age_ms)
{
    bool found = false;
    size_t at = s_locate(self, role, host, &found);
    if (!found) {
        return NULL;
    }
    const s_entry_t *e = &self->entries[at];
    if (up != NULL) {
        *up = e->up && now_ms - e->last_seen_ms <= self->dead_after_ms;
    }
    if (age_ms != NULL) {
        *age_ms = now_ms - e->last_seen_ms;
    }
    return &e->service;
}

void
zn_registry_visit(const zn_registry_t *self, int64_t now_ms, zn_registry_visit_fn *fn, void *arg)
{
    for (size_t i = 0; i < self->count; i++) {
        const s_entry_t *e = &self->entries[i];
        int64_t age_ms = now_ms - e->last_seen_ms;
        fn(arg, &e->service, e->up && age_ms <= self->dead_after_ms, age_ms);
    }
}

int
zn_registry_beat_packed(zn_registry_t *self, zn_buf_t body, int64_t now_ms, zn_fault_t *fault)
{
    zn_service_t service;
    int rc = zn_schema_decode(&zn_service_schema, body, &service, NULL, fault);
    if (rc < 0) {
        return rc;
    }
    zn_registry_beat(self, &service, now_ms);
    zn_schema_release(&zn_service_schema, &service);
    return 0;
}

static void
s_pack_str_field(zn_pack_t *out, const char *key, const char *value)
{
    zn_pack_str(out, key);
    zn_pack_str(out, value);
}

void
zn_registry_pack(const zn_registry_t *self, int64_t now_ms, zn_pack_t *out)
{
    zn_pack_array(out, (uint32_t)self->count);
    for (size_t i = 0; i < self->count; i++) {
        const s_entry_t *e = &self->entries[i];
        const zn_service_t *s = &e->service;
        int64_t age_ms = now_ms - e->last_seen_ms;
        zn_pack_map(out, 11);
        s_pack_str_field(out, "role", s->role);
        s_pack_str_field(out, "host", s->host);
        s_pack_str_field(out, "version", s->version);
        s_pack_str_field(out, "call_endpoint", s->call_endpoint);
        s_pack_str_field(out, "cast_endpoint", s->cast_endpoint);
        s_pack_str_field(out, "admin_endpoint", s->admin_endpoint);
        s_pack_str_field(out, "public_key", s->public_key);
        zn_pack_str(out, "pid");
        zn_pack_i64(out, s->pid);
        zn_pack_str(out, "started_at_ms");
        zn_pack_i64(out, s->started_at_ms);
        zn_pack_str(out, "up");
        zn_pack_bool(out, e->up && age_ms <= self->dead_after_ms);
        zn_pack_str(out, "age_ms");
        zn_pack_i64(out, age_ms);
    }
}
