/* SPDX-License-Identifier: Apache-2.0 */
/* zn_ctl.c - zincctl's commands, one table row each. */
#include "zn_ctl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "zn_cfg.h"
#include "zn_client.h"
#include "zn_clock.h"
#include "zn_ctl_int.h"
#include "zn_ctl_table.h"
#include "zn_keys.h"
#include "zn_mem.h"
#include "zn_mpread.h"
#include "zn_schema.h"
#include "zn_secure.h"
#include "zn_str.h"

static const zn_cfg_opt_t s_options[] = {
    ZN_CFG_STR_ROW(zn__ctl_cfg_t, "ctl", "conductor", conductor, "tcp://127.0.0.1:7104",
                   "the conductor's call endpoint(s), comma-separated: where the registry is"),
    ZN_CFG_INT_ROW(zn__ctl_cfg_t, "ctl", "timeout_ms", timeout_ms, "3000", 10, 600000,
                   "how long to wait for an answer"),
    ZN_CFG_BOOL_ROW(zn__ctl_cfg_t, "security", "curve", curve, "false",
                    "use CURVE (needs keys_dir)"),
    ZN_CFG_STR_ROW(zn__ctl_cfg_t, "security", "keys_dir", keys_dir, "/etc/zinc/keys",
                   "directory with admin.key and conductor.key.pub"),
    ZN_CFG_STR_ROW(zn__ctl_cfg_t, "security", "key_name", key_name, "admin",
                   "zincctl's key is keys_dir/key_name.key"),
    ZN_CFG_END,
};

#define S_ROW_FIELD(name, type)                                     \
    {                                                               \
#name, (type), 0, offsetof(zn__ctl_row_t, name), 0, 0, NULL \
    }

static const zn_field_t s_row_fields[] = {
    S_ROW_FIELD(role, ZN_FT_STR),       S_ROW_FIELD(host, ZN_FT_STR),
    S_ROW_FIELD(version, ZN_FT_STR),    S_ROW_FIELD(admin_endpoint, ZN_FT_STR),
    S_ROW_FIELD(public_key, ZN_FT_STR), S_ROW_FIELD(up, ZN_FT_BOOL),
    S_ROW_FIELD(age_ms, ZN_FT_I64),
};

static const zn_schema_t s_row_schema = {"service", 1, s_row_fields, ZN_ARRAY_COUNT(s_row_fields),
                                         sizeof(zn__ctl_row_t)};

void
zn__ctl_rows_release(zn__ctl_rows_t *rows)
{
    for (size_t i = 0; i < rows->count; i++) {
        zn_schema_release(&s_row_schema, &rows->rows[i]);
    }
    zn_free(rows->rows);
    rows->rows = NULL;
    rows->count = 0;
}

int
zn__ctl_exit_for(int rc)
{
    if (rc == 0) {
        return ZN_CTL_OK;
    }
    if (rc == ZN_EUNAVAIL || rc == -ETIMEDOUT || rc == -ECANCELED) {
        return ZN_CTL_UNREACHABLE;
    }
    return ZN_CTL_FAILED;
}

int
zn__ctl_report(int rc, const char *what, const zn_fault_t *fault)
{
    if (rc == ZN_EUNAVAIL || rc == -ETIMEDOUT) {
        (void)fprintf(stderr,
                      "zincctl: %s: no answer (%s). Is the agent running, is the endpoint right, "
                      "and is this tool's key on its allow-list?\n",
                      what, zn_fault_message(fault));
    } else if (rc < 0) {
        (void)fprintf(stderr, "zincctl: %s: %s\n", what, zn_fault_message(fault));
    }
    return zn__ctl_exit_for(rc);
}

/* Call METHOD on ENDPOINTS (comma-separated) whose public key is SERVER_PUBLIC (or NULL). */
int
zn__ctl_call(zn__ctl_t *ctl, const char *endpoints_text, const char *server_public,
             const char *method, zn_buf_t body, zn_reply_t **reply, zn_fault_t *fault)
{
    size_t count = 0;
    char **endpoints = zn_str_split(endpoints_text, ',', &count);
    zn_client_opts_t opts = {
        .name = endpoints_text,
        .endpoints = (const char *const *)endpoints,
        .endpoint_count = count,
        .keys = zn_secure_keys(ctl->secure),
        .server_public = server_public,
    };
    zn_client_t *client = NULL;
    int rc = zn_client_open(&client, &opts, fault);
    if (rc == 0) {
        rc = zn_client_call_sync(client, method, NULL, body, ctl->cfg.timeout_ms, reply, fault);
    }
    zn_client_destroy(&client);
    zn_strv_free(&endpoints);
    return rc;
}

static int
s_decode_rows(zn_buf_t body, zn__ctl_rows_t *rows, zn_fault_t *fault)
{
    zn_mpread_t reader;
    zn_mpval_t head;
    zn_mpread_init(&reader, body);
    int rc = zn_mpread_next(&reader, &head, fault);
    if (rc == 0 && head.type != ZN_MPT_ARRAY) {
        rc = zn_fault_set(fault, -EBADMSG, "the conductor's service list is not a list");
    }
    if (rc < 0) {
        return rc;
    }
    rows->rows = zn_calloc(head.v.count, sizeof(*rows->rows));
    for (uint32_t i = 0; i < head.v.count && rc == 0; i++) {
        size_t start = reader.pos;
        rc = zn_mpread_skip(&reader, 1, fault);
        zn_buf_t one = {body.ptr + start, reader.pos - start};
        if (rc == 0) {
            rc = zn_schema_decode(&s_row_schema, one, &rows->rows[i], NULL, fault);
        }
        rows->count += rc == 0;
    }
    return rc;
}

int
zn__ctl_fetch_services(zn__ctl_t *ctl, zn__ctl_rows_t *rows, zn_reply_t **reply, zn_fault_t *fault)
{
    char conductor_public[ZN_KEY_Z85_LEN + 1];
    int rc = zn_secure_peer_public(ctl->secure, "conductor", conductor_public, fault);
    if (rc < 0) {
        return rc;
    }
    zn_buf_t none = {NULL, 0};
    rc = zn__ctl_call(ctl, ctl->cfg.conductor,
                      zn_secure_public_or_null(ctl->secure, conductor_public), "services", none,
                      reply, fault);
    if (rc == 0) {
        rc = s_decode_rows(zn_reply_env(*reply)->body, rows, fault);
    }
    return rc;
}

static void
s_format_age(int64_t age_ms, char *buf, size_t cap)
{
    if (age_ms < 10000) {
        (void)snprintf(buf, cap, "%.1fs", (double)age_ms / 1000.0);
    } else {
        (void)snprintf(buf, cap, "%llds", (long long)(age_ms / 1000));
    }
}

static int
s_cmd_services(zn__ctl_t *ctl, int argc, const char *const *argv)
{
    (void)argc;
    (void)argv;
    zn__ctl_rows_t rows = {NULL, 0};
    zn_reply_t *reply = NULL;
    zn_fault_t fault;
    int rc = zn__ctl_fetch_services(ctl, &rows, &reply, &fault);
    if (rc < 0) {
        zn_reply_destroy(&reply);
        return zn__ctl_report(rc, "services", &fault);
    }
    if (ctl->json) {
        char *json = NULL;
        if (zn_mp_to_json(zn_reply_env(reply)->body, &json, &fault) == 0) {
            (void)printf("%s\n", json);
        }
        zn_str_free(&json);
    } else {
        static const char *const headers[] = {"ROLE",      "HOST",    "STATE",
                                              "LAST SEEN", "VERSION", "ADMIN"};
        zn_ctl_table_t *table = zn_ctl_table_new(headers, ZN_ARRAY_COUNT(headers));
        for (size_t i = 0; i < rows.count; i++) {
            const zn__ctl_row_t *r = &rows.rows[i];
            char age[32];
            s_format_age(r->age_ms, age, sizeof(age));
            const char *cells[] = {r->role, r->host,    r->up ? "up" : "DOWN",
                                   age,     r->version, r->admin_endpoint};
            zn_ctl_table_add(table, cells);
        }
        zn_ctl_table_print(table, stdout);
        zn_ctl_table_destroy(&table);
    }
    zn__ctl_rows_release(&rows);
    zn_reply_destroy(&reply);
    return ZN_CTL_OK;
}

static int
s_match_target(const zn__ctl_rows_t *rows, const char *role, const char *host,
               zn__ctl_target_t *out, zn_fault_t *fault)
{
    const zn__ctl_row_t *found = NULL;
    int matches = 0;
    for (size_t i = 0; i < rows->count; i++) {
        const zn__ctl_row_t *r = &rows->rows[i];
        bool hit = r->role && strcmp(r->role, role) == 0 &&
                   (host == NULL || (r->host && strcmp(r->host, host) == 0));
        if (hit) {
            found = r;
            matches++;
        }
    }
    if (matches == 0) {
        return zn_fault_set(fault, -ENOENT,
                            "no %s%s%s known to the conductor (see zincctl "
                            "services)",
                            role, host ? "/" : "", host ? host : "");
    }
    if (matches > 1) {
        return zn_fault_set(fault, -EINVAL, "%s runs on %d hosts: name one as %s/HOST", role,
                            matches, role);
    }
    (void)snprintf(out->endpoint, sizeof(out->endpoint), "%s",
                   found->admin_endpoint ? found->admin_endpoint : "");
    (void)snprintf(out->public_key, sizeof(out->public_key), "%s",
                   found->public_key ? found->public_key : "");
    (void)snprintf(out->label, sizeof(out->label), "%s/%s", found->role, found->host);
    return 0;
}

int
zn__ctl_resolve(zn__ctl_t *ctl, const char *text, zn__ctl_target_t *out, zn_fault_t *fault)
{
    memset(out, 0, sizeof(*out));
    if (strstr(text, "://") != NULL) {
        (void)snprintf(out->endpoint, sizeof(out->endpoint), "%s", text);
        (void)snprintf(out->public_key, sizeof(out->public_key), "%s",
                       ctl->server_key ? ctl->server_key : "");
        (void)snprintf(out->label, sizeof(out->label), "%s", text);
        return 0;
    }
    char role[64];
    (void)snprintf(role, sizeof(role), "%s", text);
    char *slash = strchr(role, '/');
    if (slash != NULL) {
        *slash = '\0';
    }
    zn__ctl_rows_t rows = {NULL, 0};
    zn_reply_t *reply = NULL;
    int rc = zn__ctl_fetch_services(ctl, &rows, &reply, fault);
    if (rc == 0) {
        rc = s_match_target(&rows, role, slash ? slash + 1 : NULL, out, fault);
    }
    zn__ctl_rows_release(&rows);
    zn_reply_destroy(&reply);
    return rc;
}

/* Call METHOD with BODY on the agent TARGET names and print the answer. */
int
zn__ctl_admin_call(zn__ctl_t *ctl, const char *target_text, const char *method, zn_buf_t body)
{
    zn__ctl_target_t target;
    zn_fault_t fault;
    int rc = zn__ctl_resolve(ctl, target_text, &target, &fault);
    if (rc < 0) {
        return zn__ctl_report(rc, target_text, &fault);
    }
    return zn__ctl_admin_call_target(ctl, &target, method, body);
}

int
zn__ctl_admin_call_target(zn__ctl_t *ctl, const zn__ctl_target_t *target, const char *method,
                          zn_buf_t body)
{
    zn_fault_t fault;
    const char *key = ctl->cfg.curve ? target->public_key : NULL;
    zn_reply_t *reply = NULL;
    int rc = zn__ctl_call(ctl, target->endpoint, key, method, body, &reply, &fault);
    if (rc == 0) {
        zn_buf_t answer = zn_reply_env(reply)->body;
        char *json = NULL;
        if (answer.len == 0) {
            (void)printf(ctl->json ? "null\n" : "done\n"); /* nothing to say but success */
        } else if (ctl->json && zn_mp_to_json(answer, &json, &fault) == 0) {
            (void)printf("%s\n", json);
        } else if (!ctl->json) {
            rc = zn_ctl_print_flat(answer, stdout, &fault);
        }
        zn_str_free(&json);
    }
    zn_reply_destroy(&reply);
    return zn__ctl_report(rc, target->label, &fault);
}

static int
s_cmd_status(zn__ctl_t *ctl, int argc, const char *const *argv)
{
    (void)argc;
    zn_buf_t none = {NULL, 0};
    return zn__ctl_admin_call(ctl, argv[0], "status", none);
}

static int
s_cmd_metrics(zn__ctl_t *ctl, int argc, const char *const *argv)
{
    (void)argc;
    zn_buf_t none = {NULL, 0};
    return zn__ctl_admin_call(ctl, argv[0], "metrics", none);
}

static int
s_cmd_log_level(zn__ctl_t *ctl, int argc, const char *const *argv)
{
    (void)argc;
    zn_pack_t *body = zn_pack_new();
    zn_pack_map(body, 1);
    zn_pack_str(body, "level");
    zn_pack_str(body, argv[1]);
    int rc = zn__ctl_admin_call(ctl, argv[0], "log_level", zn_pack_buf(body));
    zn_pack_destroy(&body);
    return rc;
}

/* Ping one registry row; fills RESULT and returns 0 when it answered. */
static int
s_ping_row(zn__ctl_t *ctl, const zn__ctl_row_t *r, char *result, size_t cap)
{
    const char *key = ctl->cfg.curve ? r->public_key : NULL;
    zn_buf_t none = {NULL, 0};
    zn_reply_t *reply = NULL;
    zn_fault_t fault;
    int64_t started = zn_clock_mono_us();
    int rc = r->admin_endpoint == NULL
                 ? zn_fault_set(&fault, -EINVAL, "no admin endpoint")
                 : zn__ctl_call(ctl, r->admin_endpoint, key, "ping", none, &reply, &fault);
    if (rc == 0) {
        (void)snprintf(result, cap, "ok %.2f ms", (double)(zn_clock_mono_us() - started) / 1000.0);
    } else {
        (void)snprintf(result, cap, "FAILED: %s", zn_fault_message(&fault));
    }
    zn_reply_destroy(&reply);
    return rc;
}

static int
s_ping_all(zn__ctl_t *ctl)
{
    zn__ctl_rows_t rows = {NULL, 0};
    zn_reply_t *reply = NULL;
    zn_fault_t fault;
    int rc = zn__ctl_fetch_services(ctl, &rows, &reply, &fault);
    zn_reply_destroy(&reply);
    if (rc < 0) {
        return zn__ctl_report(rc, "services", &fault);
    }
    static const char *const headers[] = {"ROLE", "HOST", "ADMIN", "PING"};
    zn_ctl_table_t *table = zn_ctl_table_new(headers, ZN_ARRAY_COUNT(headers));
    int worst = ZN_CTL_OK;
    for (size_t i = 0; i < rows.count; i++) {
        const zn__ctl_row_t *r = &rows.rows[i];
        char result[ZN_FAULT_MESSAGE_MAX + 16];
        int code = zn__ctl_exit_for(s_ping_row(ctl, r, result, sizeof(result)));
        worst = code > worst ? code : worst;
        const char *cells[] = {r->role, r->host, r->admin_endpoint, result};
        zn_ctl_table_add(table, cells);
    }
    zn_ctl_table_print(table, stdout);
    zn_ctl_table_destroy(&table);
    zn__ctl_rows_release(&rows);
    return worst;
}

static int
s_cmd_ping(zn__ctl_t *ctl, int argc, const char *const *argv)
{
    if (argc == 0) {
        return s_ping_all(ctl);
    }
    zn_buf_t none = {NULL, 0};
    return zn__ctl_admin_call(ctl, argv[0], "ping", none);
}

static int
s_keygen_one(const char *dir, const char *name, bool force)
{
    char *path = zn_asprintf("%s/%s.key", dir, name);
    struct stat st;
    int rc = 0;
    if (!force && stat(path, &st) == 0) {
        (void)printf("%s exists, kept (use --force to replace)\n", path);
    } else {
        zn_keys_t *keys = zn_keys_generate();
        zn_fault_t fault;
        rc = zn_keys_save(keys, path, &fault);
        if (rc < 0) {
            (void)fprintf(stderr, "zincctl: keygen %s: %s\n", name, zn_fault_message(&fault));
        } else {
            (void)printf("%s written (public %s)\n", path, zn_keys_public(keys));
        }
        zn_keys_destroy(&keys);
    }
    zn_str_free(&path);
    return rc;
}

static int
s_cmd_keygen(zn__ctl_t *ctl, int argc, const char *const *argv)
{
    const char *dir = ctl->cfg.keys_dir;
    bool force = false;
    int i = 0;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--force") == 0) {
            force = true;
        } else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            dir = argv[++i];
        } else {
            (void)fprintf(stderr, "zincctl keygen: unknown option %s\n", argv[i]);
            return ZN_CTL_USAGE;
        }
    }
    if (i == argc) {
        (void)fprintf(stderr, "zincctl keygen: name at least one key\n");
        return ZN_CTL_USAGE;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        (void)fprintf(stderr, "zincctl keygen: cannot create %s: %s\n", dir, strerror(errno));
        return ZN_CTL_FAILED;
    }
    for (; i < argc; i++) {
        if (s_keygen_one(dir, argv[i], force) < 0) {
            return ZN_CTL_FAILED;
        }
    }
    return ZN_CTL_OK;
}

static int
s_cmd_keys(zn__ctl_t *ctl, int argc, const char *const *argv)
{
    if (strcmp(argv[0], "rotate") != 0) {
        (void)fprintf(stderr, "usage: zincctl keys rotate [TARGET]\n");
        return ZN_CTL_USAGE;
    }
    zn_buf_t none = {NULL, 0};
    return zn__ctl_admin_call(ctl, argc > 1 ? argv[1] : "identity", "keys_rotate", none);
}

typedef int(s_cmd_fn)(zn__ctl_t *ctl, int argc, const char *const *argv);

typedef struct {
    const char *name;
    s_cmd_fn *fn;
    int min_args;
    int max_args;
    bool needs_keys; /* loads this tool's CURVE key first */
    const char *usage;
} s_cmd_t;

static const s_cmd_t s_commands[] = {
    {"services", s_cmd_services, 0, 0, true, "services           every agent, its host and state"},
    {"ping", s_cmd_ping, 0, 1, true, "ping [TARGET]      ping one agent, or every agent"},
    {"status", s_cmd_status, 1, 1, true, "status TARGET      the agent's own view of itself"},
    {"metrics", s_cmd_metrics, 1, 1, true, "metrics TARGET     counters and latency histograms"},
    {"log-level", s_cmd_log_level, 2, 2, true,
     "log-level TARGET L set error|warn|notice|info|debug at run time"},
    {"hosts", zn__ctl_hosts, 0, 0, true, "hosts              compute hosts, their state and usage"},
    {"host", zn__ctl_host, 2, 3, true,
     "host enable|disable NAME [REASON]  take a host in or out of scheduling"},
    {"instance", zn__ctl_instance, 2, 2, true,
     "instance show ID   an instance from the store, with its events"},
    {"trace", zn__ctl_trace, 1, 1, true,
     "trace REQUEST_ID   each step of one request across every agent, as a timeline"},
    {"store", zn__ctl_store, 1, 8, true,
     "store status|get T K|put T K V|delete T K [--expect GEN]|backup PATH [TARGET]|"
     "restore BACKUP DATA_DIR|add ID ADDR|remove ID"},
    {"keys", s_cmd_keys, 1, 2, true,
     "keys rotate [TARGET]  rotate identity's token keys (default TARGET: identity)"},
    {"keygen", s_cmd_keygen, 1, 64, false,
     "keygen [--dir D] [--force] NAME...  create CURVE key pairs"},
};

static void
s_usage(FILE *out)
{
    (void)fprintf(out, "usage: zincctl [--config PATH] [--set S.K=V] [--json] [--timeout MS] "
                       "[--server-key Z85] COMMAND [ARGS]\n"
                       "TARGET is ROLE, ROLE/HOST (looked up in the conductor's registry) or an "
                       "admin endpoint tcp://HOST:PORT\ncommands:\n");
    for (size_t i = 0; i < ZN_ARRAY_COUNT(s_commands); i++) {
        (void)fprintf(out, "  %s\n", s_commands[i].usage);
    }
    (void)fprintf(out, "exit codes: 0 ok, 1 the agent answered with an error, 3 no answer, "
                       "64 usage, 78 configuration\n");
}

typedef struct {
    const char *config_path;
    const char *sets[32];
    int set_count;
    int command_at;
} s_args_t;

/* Global options come before the command. Returns 0 or ZN_CTL_USAGE. */
static int
s_parse_globals(zn__ctl_t *ctl, s_args_t *args, int argc, const char *const *argv)
{
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        bool has_value = i + 1 < argc;
        if (strcmp(a, "--json") == 0) {
            ctl->json = true;
        } else if (strcmp(a, "--config") == 0 && has_value) {
            args->config_path = argv[++i];
        } else if (strcmp(a, "--set") == 0 && has_value && args->set_count < 32) {
            args->sets[args->set_count++] = argv[++i];
        } else if (strcmp(a, "--timeout") == 0 && has_value) {
            ctl->timeout = argv[++i];
        } else if (strcmp(a, "--server-key") == 0 && has_value) {
            ctl->server_key = argv[++i];
        } else {
            return ZN_CTL_USAGE;
        }
    }
    args->command_at = i;
    return i < argc ? 0 : ZN_CTL_USAGE;
}

static int
s_load_config(zn__ctl_t *ctl, const s_args_t *args)
{
    zn_cfg_defaults(&ctl->cfg, s_options);
    const char *path = args->config_path ? args->config_path : getenv("ZINCCTL_CONFIG");
    bool explicit = path != NULL;
    path = explicit ? path : "/etc/zinc/zincctl.conf";
    zn_fault_t fault;
    int rc = zn_cfg_apply_file(&ctl->cfg, s_options, path, &fault);
    if (rc == -ENOENT && !explicit) {
        rc = 0;
    }
    for (int i = 0; i < args->set_count && rc == 0; i++) {
        rc = zn_cfg_apply_assignment(&ctl->cfg, s_options, args->sets[i], &fault);
    }
    if (rc == 0 && ctl->timeout != NULL) {
        char assignment[64];
        (void)snprintf(assignment, sizeof(assignment), "ctl.timeout_ms=%s", ctl->timeout);
        rc = zn_cfg_apply_assignment(&ctl->cfg, s_options, assignment, &fault);
    }
    if (rc < 0) {
        (void)fprintf(stderr, "zincctl: configuration error: %s\n", zn_fault_message(&fault));
        return ZN_CTL_CONFIG;
    }
    return 0;
}

static int
s_run_command(zn__ctl_t *ctl, const s_cmd_t *cmd, int argc, const char *const *argv)
{
    if (argc < cmd->min_args || argc > cmd->max_args) {
        (void)fprintf(stderr, "usage: zincctl %s\n", cmd->usage);
        return ZN_CTL_USAGE;
    }
    zn_fault_t fault;
    bool curve = cmd->needs_keys && ctl->cfg.curve;
    if (zn_secure_open(&ctl->secure, curve, ctl->cfg.keys_dir, ctl->cfg.key_name, &fault) < 0) {
        (void)fprintf(stderr, "zincctl: %s\n", zn_fault_message(&fault));
        return ZN_CTL_CONFIG;
    }
    return cmd->fn(ctl, argc, argv);
}

int
zn_ctl_main(int argc, const char *const *argv)
{
    zn__ctl_t ctl;
    memset(&ctl, 0, sizeof(ctl));
    s_args_t args;
    memset(&args, 0, sizeof(args));
    int code = s_parse_globals(&ctl, &args, argc, argv);
    if (code == 0) {
        code = s_load_config(&ctl, &args);
    }
    const s_cmd_t *cmd = NULL;
    for (size_t i = 0; code == 0 && i < ZN_ARRAY_COUNT(s_commands); i++) {
        if (strcmp(argv[args.command_at], s_commands[i].name) == 0) {
            cmd = &s_commands[i];
        }
    }
    if (code == ZN_CTL_USAGE || (code == 0 && cmd == NULL)) {
        s_usage(stderr);
        code = ZN_CTL_USAGE;
    } else if (code == 0) {
        int first = args.command_at + 1;
        code = s_run_command(&ctl, cmd, argc - first, argv + first);
    }
    zn_secure_destroy(&ctl.secure);
    zn_cfg_release(&ctl.cfg, s_options);
    return code;
}
