/* SPDX-License-Identifier: Apache-2.0 */
/* zn_ctl_cloud.c - zincctl's view of the cloud's state: hosts with their usage, enabling and
 * disabling a host, an instance with its events (all read through the conductor's store_get and
 * store_scan), and the trace of one request across every agent (their admin `trace` method). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "zn_batch.h"
#include "zn_cellrec.h"
#include "zn_ctl.h"
#include "zn_ctl_int.h"
#include "zn_ctl_table.h"
#include "zn_mem.h"
#include "zn_mp.h"
#include "zn_str.h"
#include "zn_tables.h"
#include "zn_trace.h"

#define S_PAGE 500

/* ---- reading tables through the conductor ------------------------------------------------ */

typedef struct {
    zn_bytes_t key;
    uint64_t generation;
    zn_bytes_t value;
} s_rec_t;

static const zn_field_t s_rec_fields[] = {
    {"key", ZN_FT_BIN, ZN_F_REQUIRED, offsetof(s_rec_t, key), 0, 4096, NULL},
    {"generation", ZN_FT_U64, 0, offsetof(s_rec_t, generation), 0, 0, NULL},
    {"value", ZN_FT_BIN, 0, offsetof(s_rec_t, value), 0, ZN_FRAME_MAX_BYTES, NULL},
};

static const zn_schema_t s_rec_schema = {"record", 1, s_rec_fields, ZN_ARRAY_COUNT(s_rec_fields),
                                         sizeof(s_rec_t)};

typedef struct {
    bool more;
    s_rec_t *records;
    size_t count;
} s_page_t;

static const zn_field_t s_page_fields[] = {
    {"more", ZN_FT_BOOL, 0, offsetof(s_page_t, more), 0, 0, NULL},
    {"records", ZN_FT_OBJLIST, 0, offsetof(s_page_t, records), offsetof(s_page_t, count), 1000,
     &s_rec_schema},
};

static const zn_schema_t s_page_schema = {"page", 1, s_page_fields, ZN_ARRAY_COUNT(s_page_fields),
                                          sizeof(s_page_t)};

/* Called per record of a scan; a negative return stops the scan with that code. */
typedef int(s_each_fn)(void *arg, const s_rec_t *rec, zn_fault_t *fault);

static int
s_scan_page(zn__ctl_t *ctl, const char *table, const char *prefix, const zn_bytes_t *marker,
            s_page_t *page, zn_fault_t *fault)
{
    zn_pack_t *body = zn_pack_new();
    zn_pack_map(body, 4);
    zn_pack_str(body, "table");
    zn_pack_str(body, table);
    zn_pack_str(body, "prefix");
    zn_pack_bin(body, prefix, strlen(prefix));
    zn_pack_str(body, "marker");
    zn_pack_bin(body, marker->ptr, marker->len);
    zn_pack_str(body, "limit");
    zn_pack_u64(body, S_PAGE);
    zn_reply_t *reply = NULL;
    int rc = zn__ctl_conductor_call(ctl, "store_scan", zn_pack_buf(body), &reply, fault);
    if (rc == 0) {
        rc = zn_schema_decode(&s_page_schema, zn_reply_env(reply)->body, page, NULL, fault);
    }
    zn_reply_destroy(&reply);
    zn_pack_destroy(&body);
    return rc;
}

/* Every record of TABLE whose key starts with PREFIX ("" for all), page by page. */
static int
s_scan(zn__ctl_t *ctl, const char *table, const char *prefix, s_each_fn *fn, void *arg,
       zn_fault_t *fault)
{
    zn_bytes_t marker = {NULL, 0};
    int rc = 0;
    bool more = true;
    while (rc == 0 && more) {
        s_page_t page;
        memset(&page, 0, sizeof(page));
        rc = s_scan_page(ctl, table, prefix, &marker, &page, fault);
        for (size_t i = 0; rc == 0 && i < page.count; i++) {
            rc = fn(arg, &page.records[i], fault);
        }
        more = rc == 0 && page.more && page.count > 0;
        if (more) {
            const zn_bytes_t *last = &page.records[page.count - 1].key;
            zn_free(marker.ptr);
            marker.ptr = zn_malloc(last->len);
            memcpy(marker.ptr, last->ptr, last->len);
            marker.len = last->len;
        }
        zn_schema_release(&s_page_schema, &page);
    }
    zn_free(marker.ptr);
    return rc;
}

static const zn_field_t s_got_fields[] = {
    {"generation", ZN_FT_U64, 0, offsetof(s_rec_t, generation), 0, 0, NULL},
    {"value", ZN_FT_BIN, ZN_F_REQUIRED, offsetof(s_rec_t, value), 0, ZN_FRAME_MAX_BYTES, NULL},
};

static const zn_schema_t s_got_schema = {"record", 1, s_got_fields, ZN_ARRAY_COUNT(s_got_fields),
                                         sizeof(s_rec_t)};

/* TABLE/KEY decoded with SCHEMA into OBJ; *generation (may be NULL) gets its generation. */
static int
s_get(zn__ctl_t *ctl, const char *table, const char *key, const zn_schema_t *schema, void *obj,
      uint64_t *generation, zn_fault_t *fault)
{
    zn_pack_t *body = zn_pack_new();
    zn_pack_map(body, 2);
    zn_pack_str(body, "table");
    zn_pack_str(body, table);
    zn_pack_str(body, "key");
    zn_pack_bin(body, key, strlen(key));
    zn_reply_t *reply = NULL;
    s_rec_t rec;
    memset(&rec, 0, sizeof(rec));
    int rc = zn__ctl_conductor_call(ctl, "store_get", zn_pack_buf(body), &reply, fault);
    if (rc == 0) {
        rc = zn_schema_decode(&s_got_schema, zn_reply_env(reply)->body, &rec, NULL, fault);
    }
    if (rc == 0) {
        rc = zn_schema_decode(schema, (zn_buf_t){rec.value.ptr, rec.value.len}, obj, NULL, fault);
    }
    if (rc == 0 && generation != NULL) {
        *generation = rec.generation;
    }
    zn_schema_release(&s_got_schema, &rec);
    zn_reply_destroy(&reply);
    zn_pack_destroy(&body);
    return rc;
}

static void
s_print_json(zn_pack_t *packed)
{
    char *json = NULL;
    zn_fault_t fault;
    if (zn_mp_to_json(zn_pack_buf(packed), &json, &fault) == 0) {
        (void)printf("%s\n", json);
    }
    zn_str_free(&json);
}

/* ---- hosts ------------------------------------------------------------------------------- */

typedef struct {
    zn__ctl_t *ctl;
    zn__ctl_rows_t *services;
    zn_ctl_table_t *table;
    zn_pack_t *json; /* with --json: the rows as an array (counted in COUNT) */
    uint32_t count;
} s_hosts_t;

static bool
s_compute_up(const zn__ctl_rows_t *services, const char *host)
{
    for (size_t i = 0; services != NULL && i < services->count; i++) {
        const zn__ctl_row_t *r = &services->rows[i];
        if (strcmp(r->role, "compute") == 0 && strcmp(r->host, host) == 0) {
            return r->up;
        }
    }
    return false;
}

static void
s_host_json(s_hosts_t *ctx, const zn_cell_host_t *host, const zn_cell_usage_t *usage, bool up)
{
    zn_pack_map(ctx->json, 9);
    zn_pack_str(ctx->json, "host");
    zn_pack_str(ctx->json, host->host);
    zn_pack_str(ctx->json, "enabled");
    zn_pack_bool(ctx->json, !host->disabled);
    zn_pack_str(ctx->json, "up");
    zn_pack_bool(ctx->json, up);
    zn_pack_str(ctx->json, "vcpus");
    zn_pack_i64(ctx->json, host->vcpus);
    zn_pack_str(ctx->json, "vcpus_used");
    zn_pack_i64(ctx->json, usage->vcpus_used);
    zn_pack_str(ctx->json, "ram_mb");
    zn_pack_i64(ctx->json, host->ram_mb);
    zn_pack_str(ctx->json, "ram_mb_used");
    zn_pack_i64(ctx->json, usage->ram_mb_used);
    zn_pack_str(ctx->json, "instances");
    zn_pack_i64(ctx->json, usage->instances);
    zn_pack_str(ctx->json, "availability_zone");
    zn_pack_str(ctx->json, host->availability_zone);
    ctx->count++;
}

static void
s_host_row(s_hosts_t *ctx, const zn_cell_host_t *host, const zn_cell_usage_t *usage, bool up)
{
    char vcpus[48];
    char ram[48];
    char disk[48];
    char instances[24];
    (void)snprintf(vcpus, sizeof(vcpus), "%" PRId64 "/%" PRId64, usage->vcpus_used, host->vcpus);
    (void)snprintf(ram, sizeof(ram), "%" PRId64 "/%" PRId64, usage->ram_mb_used, host->ram_mb);
    (void)snprintf(disk, sizeof(disk), "%" PRId64 "/%" PRId64, usage->disk_gb_used, host->disk_gb);
    (void)snprintf(instances, sizeof(instances), "%" PRId64, usage->instances);
    const char *cells[] = {host->host,
                           host->disabled ? "disabled" : "enabled",
                           up ? "up" : "DOWN",
                           vcpus,
                           ram,
                           disk,
                           instances,
                           host->availability_zone};
    zn_ctl_table_add(ctx->table, cells);
}

static int
s_host_one(void *arg, const s_rec_t *rec, zn_fault_t *fault)
{
    s_hosts_t *ctx = arg;
    zn_cell_host_t host;
    int rc = zn_schema_decode(&zn_cell_host_schema, (zn_buf_t){rec->value.ptr, rec->value.len},
                              &host, NULL, fault);
    if (rc < 0) {
        return rc;
    }
    zn_cell_usage_t usage;
    memset(&usage, 0, sizeof(usage));
    zn_fault_t ignored;
    if (s_get(ctx->ctl, ZN_TABLE_HOST_USAGE, host.host, &zn_cell_usage_schema, &usage, NULL,
              &ignored) < 0) {
        memset(&usage, 0, sizeof(usage)); /* nothing claimed there yet */
    }
    bool up = s_compute_up(ctx->services, host.host);
    if (ctx->json != NULL) {
        s_host_json(ctx, &host, &usage, up);
    } else {
        s_host_row(ctx, &host, &usage, up);
    }
    zn_schema_release(&zn_cell_usage_schema, &usage);
    zn_schema_release(&zn_cell_host_schema, &host);
    return 0;
}

int
zn__ctl_hosts(zn__ctl_t *ctl, int argc, const char *const *argv)
{
    (void)argc;
    (void)argv;
    static const char *const headers[] = {"HOST",     "STATE",     "STATUS",    "VCPUS",
                                          "RAM (MB)", "DISK (GB)", "INSTANCES", "ZONE"};
    zn__ctl_rows_t services = {NULL, 0};
    zn_reply_t *services_reply = NULL;
    zn_fault_t fault;
    if (zn__ctl_fetch_services(ctl, &services, &services_reply, &fault) < 0) {
        services.count = 0; /* up/down unknown: every host shows DOWN */
    }
    s_hosts_t ctx = {.ctl = ctl, .services = &services};
    zn_pack_t *rows = zn_pack_new();
    if (ctl->json) {
        ctx.json = rows;
    } else {
        ctx.table = zn_ctl_table_new(headers, ZN_ARRAY_COUNT(headers));
    }
    int rc = s_scan(ctl, ZN_TABLE_HOSTS, "", s_host_one, &ctx, &fault);
    if (rc == 0 && ctl->json) {
        zn_pack_t *out = zn_pack_new();
        zn_pack_array(out, ctx.count);
        zn_pack_raw(out, zn_pack_buf(rows));
        s_print_json(out);
        zn_pack_destroy(&out);
    } else if (rc == 0) {
        zn_ctl_table_print(ctx.table, stdout);
    }
    zn_ctl_table_destroy(&ctx.table);
    zn_pack_destroy(&rows);
    zn__ctl_rows_release(&services);
    zn_reply_destroy(&services_reply);
    return zn__ctl_report(rc, "hosts", &fault);
}

/* `host enable|disable NAME [REASON]`: a compare-and-set on the host's record, so that a
 * resource report landing at the same moment is not overwritten (nor overwrites this). */
int
zn__ctl_host(zn__ctl_t *ctl, int argc, const char *const *argv)
{
    bool disable = strcmp(argv[0], "disable") == 0;
    if ((!disable && strcmp(argv[0], "enable") != 0) || argc < 2 || argc > 3) {
        (void)fprintf(stderr, "usage: zincctl host enable NAME | host disable NAME [REASON]\n");
        return ZN_CTL_USAGE;
    }
    zn_cell_host_t host;
    uint64_t generation = 0;
    zn_fault_t fault;
    int rc = s_get(ctl, ZN_TABLE_HOSTS, argv[1], &zn_cell_host_schema, &host, &generation, &fault);
    if (rc < 0) {
        return zn__ctl_report(rc, argv[1], &fault);
    }
    host.disabled = disable;
    zn_str_free(&host.disabled_reason);
    host.disabled_reason = disable && argc == 3 ? zn_strdup(argv[2]) : NULL;
    zn_batch_t *batch = zn_batch_new();
    zn_pack_t *value = zn_pack_new();
    zn_schema_encode(&zn_cell_host_schema, &host, value);
    zn_buf_t key = {(const uint8_t *)argv[1], strlen(argv[1])};
    int code = ZN_CTL_USAGE;
    rc = zn_batch_put(batch, ZN_TABLE_HOSTS, key, zn_pack_buf(value), generation);
    if (rc == 0) {
        code = zn__ctl_write_batch(ctl, batch, disable ? "host disable" : "host enable");
    } else {
        (void)fprintf(stderr, "zincctl host: %s\n", zn_strerror(rc));
    }
    zn_pack_destroy(&value);
    zn_batch_destroy(&batch);
    zn_schema_release(&zn_cell_host_schema, &host);
    return code;
}

/* ---- instances --------------------------------------------------------------------------- */

static void
s_format_ms(int64_t wall_ms, char *buf, size_t cap)
{
    if (wall_ms <= 0) {
        (void)snprintf(buf, cap, "-");
        return;
    }
    time_t secs = (time_t)(wall_ms / 1000);
    struct tm tm;
    (void)gmtime_r(&secs, &tm);
    size_t used = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    (void)snprintf(buf + used, cap - used, ".%03dZ", (int)(wall_ms % 1000));
}

static int
s_event_row(void *arg, const s_rec_t *rec, zn_fault_t *fault)
{
    zn_ctl_table_t *table = arg;
    zn_cell_event_t ev;
    int rc = zn_schema_decode(&zn_cell_event_schema, (zn_buf_t){rec->value.ptr, rec->value.len},
                              &ev, NULL, fault);
    if (rc < 0) {
        return rc;
    }
    char start[40];
    char took[32] = "-";
    s_format_ms(ev.start_ms, start, sizeof(start));
    if (ev.finish_ms > 0) {
        (void)snprintf(took, sizeof(took), "%" PRId64 " ms", ev.finish_ms - ev.start_ms);
    }
    const char *cells[] = {ev.action,     ev.event,  ev.result != NULL ? ev.result : "running",
                           start,         took,      ev.host,
                           ev.request_id, ev.message};
    zn_ctl_table_add(table, cells);
    zn_schema_release(&zn_cell_event_schema, &ev);
    return 0;
}

/* The API's status word (ACTIVE, BUILD, ...) of the stored state names. */
static const char *
s_status(const zn_cell_instance_t *inst)
{
    zn_vm_state_t vm;
    zn_task_state_t task;
    if (zn_vm_state_parse(inst->vm_state, &vm) < 0 ||
        zn_task_state_parse(inst->task_state, &task) < 0) {
        return "UNKNOWN";
    }
    return zn_cellrec_status(vm, task);
}

static void
s_print_instance(const zn_cell_instance_t *inst)
{
    char created[40];
    s_format_ms(inst->created_ms, created, sizeof(created));
    (void)printf("id = %s\nname = %s\nproject = %s\nuser = %s\nstatus = %s\n", inst->id, inst->name,
                 inst->project_id, inst->user_id, s_status(inst));
    (void)printf("vm_state = %s\ntask_state = %s\npower_state = %" PRId64 "\n", inst->vm_state,
                 inst->task_state != NULL ? inst->task_state : "-", inst->power_state);
    (void)printf("host = %s\nflavor = %s (%" PRId64 " vcpus, %" PRId64 " MB, %" PRId64 " GB)\n",
                 inst->host != NULL ? inst->host : "-", inst->flavor.name, inst->flavor.vcpus,
                 inst->flavor.ram_mb, inst->flavor.disk_gb);
    (void)printf("image = %s\ncreated = %s\nrequest = %s\nattempt = %" PRId64 "\n",
                 inst->image_id != NULL ? inst->image_id : "-", created,
                 inst->request_id != NULL ? inst->request_id : "-", inst->attempt);
    for (size_t i = 0; i < inst->nic_count; i++) {
        (void)printf("nic.%zu = %s %s %s\n", i, inst->nics[i].port_id ? inst->nics[i].port_id : "-",
                     inst->nics[i].fixed_ip ? inst->nics[i].fixed_ip : "-",
                     inst->nics[i].mac ? inst->nics[i].mac : "-");
    }
    if (inst->fault.message != NULL) {
        (void)printf("fault = %" PRId64 " %s\n", inst->fault.code, inst->fault.message);
    }
}

int
zn__ctl_instance(zn__ctl_t *ctl, int argc, const char *const *argv)
{
    if (argc != 2 || strcmp(argv[0], "show") != 0) {
        (void)fprintf(stderr, "usage: zincctl instance show ID\n");
        return ZN_CTL_USAGE;
    }
    zn_cell_instance_t inst;
    zn_fault_t fault;
    int rc = s_get(ctl, ZN_TABLE_INSTANCES, argv[1], &zn_cell_instance_schema, &inst, NULL, &fault);
    if (rc < 0) {
        return zn__ctl_report(rc, argv[1], &fault);
    }
    if (ctl->json) {
        zn_pack_t *out = zn_pack_new();
        zn_schema_encode(&zn_cell_instance_schema, &inst, out);
        s_print_json(out);
        zn_pack_destroy(&out);
        zn_schema_release(&zn_cell_instance_schema, &inst);
        return ZN_CTL_OK;
    }
    s_print_instance(&inst);
    static const char *const headers[] = {"ACTION", "EVENT", "RESULT",  "START",
                                          "TOOK",   "HOST",  "REQUEST", "MESSAGE"};
    zn_ctl_table_t *table = zn_ctl_table_new(headers, ZN_ARRAY_COUNT(headers));
    char *prefix = zn_asprintf("%s/", inst.id);
    rc = s_scan(ctl, ZN_TABLE_INSTANCE_EVENTS, prefix, s_event_row, table, &fault);
    if (rc == 0) {
        (void)printf("\n");
        zn_ctl_table_print(table, stdout);
    }
    zn_str_free(&prefix);
    zn_ctl_table_destroy(&table);
    zn_schema_release(&zn_cell_instance_schema, &inst);
    return zn__ctl_report(rc, "instance events", &fault);
}

/* ---- trace ------------------------------------------------------------------------------- */

typedef struct {
    char *step;
    char *detail;
    int64_t start_us;
    int64_t duration_us;
    int64_t code;
    char *agent; /* ROLE@HOST, set after decoding */
} s_span_t;

static const zn_field_t s_span_fields[] = {
    {"step", ZN_FT_STR, 0, offsetof(s_span_t, step), 0, 64, NULL},
    {"detail", ZN_FT_STR, 0, offsetof(s_span_t, detail), 0, 128, NULL},
    {"start_us", ZN_FT_I64, 0, offsetof(s_span_t, start_us), 0, 0, NULL},
    {"duration_us", ZN_FT_I64, 0, offsetof(s_span_t, duration_us), 0, 0, NULL},
    {"code", ZN_FT_I64, 0, offsetof(s_span_t, code), 0, 0, NULL},
};

static const zn_schema_t s_span_schema = {"span", 1, s_span_fields, ZN_ARRAY_COUNT(s_span_fields),
                                          sizeof(s_span_t)};

typedef struct {
    char *role;
    char *host;
    s_span_t *spans;
    size_t count;
} s_agent_spans_t;

static const zn_field_t s_agent_spans_fields[] = {
    {"role", ZN_FT_STR, 0, offsetof(s_agent_spans_t, role), 0, 64, NULL},
    {"host", ZN_FT_STR, 0, offsetof(s_agent_spans_t, host), 0, 256, NULL},
    {"spans", ZN_FT_OBJLIST, 0, offsetof(s_agent_spans_t, spans), offsetof(s_agent_spans_t, count),
     100000, &s_span_schema},
};

static const zn_schema_t s_agent_spans_schema = {"trace", 1, s_agent_spans_fields,
                                                 ZN_ARRAY_COUNT(s_agent_spans_fields),
                                                 sizeof(s_agent_spans_t)};

/* Which steps of the boot flow (README, docs/flow.md) a span's step stands for. */
static const char *
s_flow_steps(const char *step)
{
    static const struct {
        const char *prefix;
        const char *steps;
    } table[] = {
        {"POST /v2.1/servers", "3, 6-7"},
        {"validate", "4-5"},
        {"select_destinations", "8-11"},
        {"build_result", "28"},
        {"build", "12-13"},
        {"instance_get", "14-18"},
        {"instance_update", "14-18"},
        {"image_", "19-21"},
        {"network_get", "22-24"},
        {"port_", "22-24"},
        {"volume_", "25-27"},
        {"spawn", "28"},
        {"delete_done", "-"},
        {"store_write", "store"},
    };

    for (size_t i = 0; i < ZN_ARRAY_COUNT(table); i++) {
        if (strncmp(step, table[i].prefix, strlen(table[i].prefix)) == 0) {
            return table[i].steps;
        }
    }
    return "";
}

typedef struct {
    s_span_t *spans;
    size_t count;
    size_t cap;
    size_t agents;
} s_trace_t;

static void
s_trace_take(s_trace_t *trace, s_agent_spans_t *from)
{
    if (from->count > 0) {
        trace->agents++;
    }
    for (size_t i = 0; i < from->count; i++) {
        if (trace->count == trace->cap) {
            trace->cap = trace->cap > 0 ? trace->cap * 2 : 64;
            trace->spans = zn_realloc(trace->spans, trace->cap * sizeof(*trace->spans));
        }
        s_span_t *span = &trace->spans[trace->count++];
        *span = from->spans[i];
        span->agent = zn_asprintf("%s@%s", from->role, from->host);
        memset(&from->spans[i], 0, sizeof(from->spans[i])); /* its strings moved to TRACE */
    }
}

/* Ask one agent for its spans of REQ_ID; an agent that does not answer is skipped. */
static void
s_trace_agent(zn__ctl_t *ctl, const zn__ctl_row_t *row, const char *req_id, s_trace_t *trace)
{
    zn_pack_t *body = zn_pack_new();
    zn_pack_map(body, 1);
    zn_pack_str(body, "req_id");
    zn_pack_str(body, req_id);
    zn_reply_t *reply = NULL;
    zn_fault_t fault;
    s_agent_spans_t got;
    memset(&got, 0, sizeof(got));
    int rc = zn__ctl_call(ctl, row->admin_endpoint, ctl->cfg.curve ? row->public_key : NULL,
                          "trace", zn_pack_buf(body), &reply, &fault);
    if (rc == 0) {
        rc = zn_schema_decode(&s_agent_spans_schema, zn_reply_env(reply)->body, &got, NULL, &fault);
    }
    if (rc == 0) {
        s_trace_take(trace, &got);
    } else {
        (void)fprintf(stderr, "zincctl trace: %s@%s did not answer: %s\n", row->role, row->host,
                      zn_fault_message(&fault));
    }
    zn_schema_release(&s_agent_spans_schema, &got);
    zn_reply_destroy(&reply);
    zn_pack_destroy(&body);
}

static int
s_span_order(const void *a, const void *b)
{
    const s_span_t *x = a;
    const s_span_t *y = b;
    return x->start_us < y->start_us ? -1 : x->start_us > y->start_us ? 1 : 0;
}

static void
s_trace_print(const s_trace_t *trace, const char *req_id)
{
    int64_t first = trace->spans[0].start_us;
    int64_t last = first;
    for (size_t i = 0; i < trace->count; i++) {
        int64_t end = trace->spans[i].start_us + trace->spans[i].duration_us;
        last = end > last ? end : last;
    }
    (void)printf("request %s: %zu steps on %zu agents, %.3f ms from first to last\n\n", req_id,
                 trace->count, trace->agents, (double)(last - first) / 1000.0);
    static const char *const headers[] = {"AT (ms)", "TOOK (ms)", "AGENT", "STEP",
                                          "FLOW",    "DETAIL",    "RESULT"};
    zn_ctl_table_t *table = zn_ctl_table_new(headers, ZN_ARRAY_COUNT(headers));
    for (size_t i = 0; i < trace->count; i++) {
        const s_span_t *span = &trace->spans[i];
        char at[32];
        char took[32];
        char result[48];
        (void)snprintf(at, sizeof(at), "%.3f", (double)(span->start_us - first) / 1000.0);
        (void)snprintf(took, sizeof(took), "%.3f", (double)span->duration_us / 1000.0);
        (void)snprintf(result, sizeof(result), "%s",
                       span->code == 0 ? "ok" : zn_errname((int)span->code));
        if (span->code <= -100 && span->code > -600) {
            (void)snprintf(result, sizeof(result), "http %d", (int)-span->code);
        }
        const char *cells[] = {
            at, took, span->agent, span->step, s_flow_steps(span->step), span->detail, result};
        zn_ctl_table_add(table, cells);
    }
    zn_ctl_table_print(table, stdout);
    zn_ctl_table_destroy(&table);
}

int
zn__ctl_trace(zn__ctl_t *ctl, int argc, const char *const *argv)
{
    (void)argc;
    const char *req_id = argv[0];
    zn__ctl_rows_t rows = {NULL, 0};
    zn_reply_t *reply = NULL;
    zn_fault_t fault;
    int rc = zn__ctl_fetch_services(ctl, &rows, &reply, &fault);
    if (rc < 0) {
        zn_reply_destroy(&reply);
        return zn__ctl_report(rc, "trace", &fault);
    }
    s_trace_t trace = {NULL, 0, 0, 0};
    for (size_t i = 0; i < rows.count; i++) {
        if (rows.rows[i].up) {
            s_trace_agent(ctl, &rows.rows[i], req_id, &trace);
        }
    }
    int code = ZN_CTL_OK;
    if (trace.count == 0) {
        (void)fprintf(stderr,
                      "zincctl trace: no agent remembers %s (each keeps its last %d "
                      "steps; is the id right?)\n",
                      req_id, ZN_TRACE_CAPACITY_DEFAULT);
        code = ZN_CTL_FAILED;
    } else {
        qsort(trace.spans, trace.count, sizeof(*trace.spans), s_span_order);
        s_trace_print(&trace, req_id);
    }
    for (size_t i = 0; i < trace.count; i++) {
        zn_str_free(&trace.spans[i].agent);
        zn_schema_release(&s_span_schema, &trace.spans[i]);
    }
    zn_free(trace.spans);
    zn__ctl_rows_release(&rows);
    zn_reply_destroy(&reply);
    return code;
}
