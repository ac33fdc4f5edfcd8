/* SPDX-License-Identifier: Apache-2.0 */
/* zn_cfg.c - INI configuration through inih, driven by each agent's option table. */
#include "zn_cfg.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>

#include "zn_log.h"
#include "zn_mem.h"

#define S_SET_MAX 64

static const zn_cfg_opt_t *
s_find(const zn_cfg_opt_t *opts, const char *section, const char *key)
{
    for (const zn_cfg_opt_t *o = opts; o->key != NULL; o++) {
        if (strcmp(o->section, section) == 0 && strcmp(o->key, key) == 0) {
            return o;
        }
    }
    return NULL;
}

static int
s_parse_bool(const char *text, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < ZN_ARRAY_COUNT(yes); i++) {
        if (strcasecmp(text, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(text, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -EINVAL;
}

static int
s_parse_int(const zn_cfg_opt_t *o, const char *text, int64_t *out, zn_fault_t *fault)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 0);
    if (errno != 0 || end == text || *end != '\0') {
        return zn_fault_set(fault, ZN_ECONFIG, "[%s] %s: '%s' is not an integer", o->section,
                            o->key, text);
    }
    if (v < o->min || v > o->max) {
        return zn_fault_set(fault, ZN_ECONFIG,
                            "[%s] %s: %lld is out of bounds [%" PRId64 ", %" PRId64 "]", o->section,
                            o->key, v, o->min, o->max);
    }
    *out = (int64_t)v;
    return 0;
}

/* Store TEXT into the field O describes. Validates fully before touching the field. */
static int
s_assign(void *cfg, const zn_cfg_opt_t *o, const char *text, zn_fault_t *fault)
{
    char *field = (char *)cfg + o->offset;
    switch (o->type) {
    case ZN_CFG_STR: {
        char **slot = (char **)(void *)field;
        zn_str_free(slot);
        *slot = zn_strdup(text);
        return 0;
    }
    case ZN_CFG_INT: {
        int64_t v = 0;
        int rc = s_parse_int(o, text, &v, fault);
        if (rc == 0) {
            memcpy(field, &v, sizeof(v));
        }
        return rc;
    }
    case ZN_CFG_BOOL: {
        bool v = false;
        if (s_parse_bool(text, &v) < 0) {
            return zn_fault_set(fault, ZN_ECONFIG, "[%s] %s: '%s' is not a boolean", o->section,
                                o->key, text);
        }
        memcpy(field, &v, sizeof(v));
        return 0;
    }
    case ZN_CFG_LOGLEVEL: {
        zn_log_level_t v = ZN_LOG_N;
        if (zn_log_level_parse(text, &v) < 0) {
            return zn_fault_set(fault, ZN_ECONFIG,
                                "[%s] %s: '%s' is not a log level (error|warn|notice|info|debug)",
                                o->section, o->key, text);
        }
        memcpy(field, &v, sizeof(v));
        return 0;
    }
    }
    return zn_fault_set(fault, ZN_ECONFIG, "[%s] %s: bad option type", o->section, o->key);
}

void
zn_cfg_defaults(void *cfg, const zn_cfg_opt_t *opts)
{
    for (const zn_cfg_opt_t *o = opts; o->key != NULL; o++) {
        if (o->type == ZN_CFG_STR) {
            /* CFG is uninitialised here: never free what its string slots hold. */
            char *null = NULL;
            memcpy((char *)cfg + o->offset, &null, sizeof(null));
        }
        zn_fault_t fault;
        /* A default that does not parse is our bug, not the operator's. */
        ZN_ASSERT(s_assign(cfg, o, o->def, &fault) == 0);
    }
}

typedef struct {
    void *cfg;
    const zn_cfg_opt_t *opts;
    zn_fault_t *fault;
} s_ini_ctx_t;

static int
s_ini_handler(void *user, const char *section, const char *name, const char *value)
{
    s_ini_ctx_t *ctx = user;
    const zn_cfg_opt_t *o = s_find(ctx->opts, section, name);
    if (o == NULL) {
        zn_fault_set(ctx->fault, ZN_ECONFIG, "unknown option [%s] %s", section, name);
        return 0;
    }
    return s_assign(ctx->cfg, o, value, ctx->fault) == 0;
}

static int
s_apply_stream(void *cfg, const zn_cfg_opt_t *opts, const char *name, FILE *f, zn_fault_t *fault)
{
    zn_fault_t inner;
    zn_fault_clear(&inner);
    s_ini_ctx_t ctx = {cfg, opts, &inner};
    int line = ini_parse_file(f, s_ini_handler, &ctx);
    if (line == 0) {
        return 0;
    }
    if (line < 0) {
        return zn_fault_set(fault, ZN_ECONFIG, "%s: cannot read file", name);
    }
    if (inner.code == 0) {
        return zn_fault_set(fault, ZN_ECONFIG, "%s:%d: syntax error", name, line);
    }
    return zn_fault_set(fault, ZN_ECONFIG, "%s:%d: %s", name, line, inner.message);
}

int
zn_cfg_apply_file(void *cfg, const zn_cfg_opt_t *opts, const char *path, zn_fault_t *fault)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        int err = errno;
        return zn_fault_set(fault, -err, "%s: %s", path, strerror(err));
    }
    int rc = s_apply_stream(cfg, opts, path, f, fault);
    (void)fclose(f);
    return rc;
}

int
zn_cfg_apply_text(void *cfg, const zn_cfg_opt_t *opts, const char *name, const char *text,
                  size_t len, zn_fault_t *fault)
{
    if (len == 0) {
        return 0;
    }
    /* fmemopen takes a non-const buffer but only reads it in "r" mode. */
    FILE *f = fmemopen((void *)(uintptr_t)text, len, "r");
    if (f == NULL) {
        return zn_fault_set(fault, ZN_ECONFIG, "%s: cannot read text", name);
    }
    int rc = s_apply_stream(cfg, opts, name, f, fault);
    (void)fclose(f);
    return rc;
}

int
zn_cfg_apply_assignment(void *cfg, const zn_cfg_opt_t *opts, const char *assignment,
                        zn_fault_t *fault)
{
    const char *dot = strchr(assignment, '.');
    const char *eq = strchr(assignment, '=');
    if (dot == NULL || eq == NULL || dot > eq) {
        return zn_fault_set(fault, ZN_ECONFIG, "--set %s: expected SECTION.KEY=VALUE", assignment);
    }
    char section[64];
    char key[64];
    size_t section_len = (size_t)(dot - assignment);
    size_t key_len = (size_t)(eq - dot - 1);
    if (section_len >= sizeof(section) || key_len >= sizeof(key)) {
        return zn_fault_set(fault, ZN_ECONFIG, "--set %s: name too long", assignment);
    }
    memcpy(section, assignment, section_len);
    section[section_len] = '\0';
    memcpy(key, dot + 1, key_len);
    key[key_len] = '\0';
    const zn_cfg_opt_t *o = s_find(opts, section, key);
    if (o == NULL) {
        return zn_fault_set(fault, ZN_ECONFIG, "--set: unknown option [%s] %s", section, key);
    }
    return s_assign(cfg, o, eq + 1, fault);
}

void
zn_cfg_release(void *cfg, const zn_cfg_opt_t *opts)
{
    for (const zn_cfg_opt_t *o = opts; o->key != NULL; o++) {
        if (o->type == ZN_CFG_STR) {
            zn_str_free((char **)(void *)((char *)cfg + o->offset));
        }
    }
}

void
zn_cfg_write_example(FILE *out, const zn_cfg_opt_t *opts, const char *role)
{
    (void)fprintf(out, "# /etc/zinc/%s.conf - every option of zinc-%s at its default.\n", role,
                  role);
    const char *section = "";
    for (const zn_cfg_opt_t *o = opts; o->key != NULL; o++) {
        if (strcmp(section, o->section) != 0) {
            section = o->section;
            (void)fprintf(out, "\n[%s]\n", section);
        }
        (void)fprintf(out, "# %s\n", o->help);
        if (o->type == ZN_CFG_INT) {
            (void)fprintf(out, "# range: %" PRId64 " .. %" PRId64 "\n", o->min, o->max);
        }
        (void)fprintf(out, "#%s = %s\n", o->key, o->def);
    }
}

static void
s_usage(FILE *out, const char *role)
{
    (void)fprintf(out,
                  "usage: zinc-%s [--config PATH] [--set SECTION.KEY=VALUE]... "
                  "[--help] [--help-config]\n"
                  "  --config PATH   INI file (default /etc/zinc/%s.conf if it exists)\n"
                  "  --set S.K=V     override one option after the file\n"
                  "  --help-config   print every option with its default and help\n",
                  role, role);
}

typedef struct {
    const char *config_path;
    const char *sets[S_SET_MAX];
    int set_count;
} s_args_t;

static int
s_parse_args(s_args_t *args, const char *role, int argc, const char *const *argv,
             const zn_cfg_opt_t *opts)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_value = i + 1 < argc;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            s_usage(stdout, role);
            return ZN_EDONE;
        } else if (strcmp(a, "--help-config") == 0) {
            zn_cfg_write_example(stdout, opts, role);
            return ZN_EDONE;
        } else if (strcmp(a, "--config") == 0 && has_value) {
            args->config_path = argv[++i];
        } else if (strcmp(a, "--set") == 0 && has_value && args->set_count < S_SET_MAX) {
            args->sets[args->set_count++] = argv[++i];
        } else {
            (void)fprintf(stderr, "zinc-%s: bad argument '%s'\n", role, a);
            s_usage(stderr, role);
            return ZN_EUSAGE;
        }
    }
    return 0;
}

static int
s_apply_all(void *cfg, const zn_cfg_opt_t *opts, const char *role, const s_args_t *args,
            zn_fault_t *fault)
{
    char default_path[256];
    const char *path = args->config_path;
    if (path == NULL) {
        (void)snprintf(default_path, sizeof(default_path), "/etc/zinc/%s.conf", role);
        path = default_path;
    }
    int rc = zn_cfg_apply_file(cfg, opts, path, fault);
    /* Only the default path may be absent: an agent with no file comes up on loopback. */
    if (rc == -ENOENT && args->config_path == NULL) {
        rc = 0;
    }
    if (rc < 0) {
        return rc == ZN_ECONFIG ? rc : zn_fault_set(fault, ZN_ECONFIG, "%s", fault->message);
    }
    for (int i = 0; i < args->set_count; i++) {
        rc = zn_cfg_apply_assignment(cfg, opts, args->sets[i], fault);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

int
zn_cfg_load(void *cfg, const zn_cfg_opt_t *opts, const char *role, int argc,
            const char *const *argv)
{
    s_args_t args = {0};
    int rc = s_parse_args(&args, role, argc, argv, opts);
    if (rc < 0) {
        return rc;
    }
    zn_cfg_defaults(cfg, opts);
    zn_fault_t fault;
    zn_fault_clear(&fault);
    rc = s_apply_all(cfg, opts, role, &args, &fault);
    if (rc < 0) {
        (void)fprintf(stderr, "zinc-%s: configuration error: %s\n", role, fault.message);
        zn_cfg_release(cfg, opts);
    }
    return rc;
}

int
zn_exit_code(int rc)
{
    switch (rc) {
    case 0:
    case ZN_EDONE:
        return 0;
    case ZN_EUSAGE:
        return 64;
    case ZN_ECONFIG:
        return 78;
    default:
        return 1;
    }
}
