/* SPDX-License-Identifier: Apache-2.0 */
/* zn_sched_alive.c - the registry's answer, read strictly. */
#include "zn_sched_alive.h"

#include <string.h>

#include "zn_mpread.h"
#include "zn_schema.h"

typedef struct {
    char *role;
    char *host;
    char *call_endpoint;
    bool up;
} s_service_t;

static const zn_field_t s_service_fields[] = {
    {"role", ZN_FT_STR, 0, offsetof(s_service_t, role), 0, 64, NULL},
    {"host", ZN_FT_STR, 0, offsetof(s_service_t, host), 0, 255, NULL},
    {"call_endpoint", ZN_FT_STR, 0, offsetof(s_service_t, call_endpoint), 0, 1024, NULL},
    {"up", ZN_FT_BOOL, 0, offsetof(s_service_t, up), 0, 0, NULL},
};
static const zn_schema_t s_service_schema = {"service", 1, s_service_fields,
                                             ZN_ARRAY_COUNT(s_service_fields), sizeof(s_service_t)};

static void
s_note(zn_sched_alive_t *alive, const char *self_endpoint, const s_service_t *svc)
{
    if (!svc->up || svc->role == NULL) {
        return;
    }
    if (strcmp(svc->role, "compute") == 0 && svc->host != NULL) {
        zhashx_insert(alive->hosts, svc->host, (void *)1);
    } else if (strcmp(svc->role, "scheduler") == 0 && svc->call_endpoint != NULL &&
               self_endpoint != NULL) {
        int order = strcmp(svc->call_endpoint, self_endpoint);
        alive->schedulers++;
        alive->before += order < 0 ? 1 : 0;
        alive->self_seen = alive->self_seen || order == 0;
    }
}

bool
zn_sched_alive_parse(zn_buf_t body, const char *self_endpoint, zn_sched_alive_t *out)
{
    memset(out, 0, sizeof(*out));
    zn_mpread_t r;
    zn_mpval_t v;
    zn_mpread_init(&r, body);
    if (zn_mpread_next(&r, &v, NULL) < 0 || v.type != ZN_MPT_ARRAY) {
        return false;
    }
    out->hosts = zhashx_new();
    for (uint32_t i = 0; i < v.v.count; i++) {
        size_t start = r.pos;
        if (zn_mpread_skip(&r, 1, NULL) < 0) {
            break; /* truncated: keep what was read */
        }
        s_service_t svc;
        zn_buf_t one = {body.ptr + start, r.pos - start};
        if (zn_schema_decode(&s_service_schema, one, &svc, NULL, NULL) == 0) {
            s_note(out, self_endpoint, &svc);
            zn_schema_release(&s_service_schema, &svc);
        }
    }
    return true;
}

void
zn_sched_alive_release(zn_sched_alive_t *alive)
{
    zhashx_destroy(&alive->hosts);
    memset(alive, 0, sizeof(*alive));
}
