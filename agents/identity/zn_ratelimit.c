/* SPDX-License-Identifier: Apache-2.0 */
/* zn_ratelimit.c - fixed windows of failures in a czmq hash. */
#include "zn_ratelimit.h"

#include <czmq.h>

#include "zn_mem.h"

typedef struct s_window {
    int64_t started_ms;
    int failures;
} s_window_t;

struct zn_ratelimit {
    zhashx_t *windows; /* key -> s_window_t */
    int max_failures;
    int64_t window_ms;
};

static void
s_window_free(void **item)
{
    zn_free(*item);
    *item = NULL;
}

zn_ratelimit_t *
zn_ratelimit_new(int max_failures, int64_t window_ms)
{
    zn_ratelimit_t *self = zn_calloc(1, sizeof(*self));
    self->windows = zhashx_new();
    zhashx_set_destructor(self->windows, s_window_free);
    self->max_failures = max_failures;
    self->window_ms = window_ms;
    return self;
}

void
zn_ratelimit_destroy(zn_ratelimit_t **self_p)
{
    zn_ratelimit_t *self = *self_p;
    if (self == NULL) {
        return;
    }
    zhashx_destroy(&self->windows);
    zn_free(self);
    *self_p = NULL;
}

bool
zn_ratelimit_is_blocked(zn_ratelimit_t *self, const char *key, int64_t now_ms)
{
    s_window_t *window = zhashx_lookup(self->windows, key);
    if (self->max_failures == 0 || window == NULL) {
        return false;
    }
    if (now_ms - window->started_ms >= self->window_ms) {
        zhashx_delete(self->windows, key);
        return false;
    }
    return window->failures >= self->max_failures;
}

static void
s_sweep(zn_ratelimit_t *self, int64_t now_ms)
{
    zlistx_t *keys = zhashx_keys(self->windows);
    for (const char *key = zlistx_first(keys); key != NULL; key = zlistx_next(keys)) {
        const s_window_t *window = zhashx_lookup(self->windows, key);
        if (now_ms - window->started_ms >= self->window_ms) {
            zhashx_delete(self->windows, key);
        }
    }
    zlistx_destroy(&keys);
}

void
zn_ratelimit_fail(zn_ratelimit_t *self, const char *key, int64_t now_ms)
{
    if (self->max_failures == 0) {
        return;
    }
    s_window_t *window = zhashx_lookup(self->windows, key);
    if (window != NULL && now_ms - window->started_ms >= self->window_ms) {
        window->started_ms = now_ms;
        window->failures = 0;
    }
    if (window == NULL) {
        if (zhashx_size(self->windows) >= ZN_RATELIMIT_KEYS_MAX) {
            s_sweep(self, now_ms);
        }
        window = zn_calloc(1, sizeof(*window));
        window->started_ms = now_ms;
        (void)zhashx_insert(self->windows, key, window); /* absent: checked above */
    }
    window->failures++;
}

void
zn_ratelimit_reset(zn_ratelimit_t *self, const char *key)
{
    zhashx_delete(self->windows, key);
}
