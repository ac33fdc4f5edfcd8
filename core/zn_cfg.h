/* SPDX-License-Identifier: Apache-2.0 */
/* zn_cfg.h - table-driven INI configuration: defaults, then the file, then --set overrides. */
#ifndef ZN_CFG_H
#define ZN_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "zn_common.h"
#include "zn_err.h"

typedef enum {
    ZN_CFG_STR,      /* char *, owned by the cfg struct, released by zn_cfg_release */
    ZN_CFG_INT,      /* int64_t, checked against [min, max] */
    ZN_CFG_BOOL,     /* bool: true/false/yes/no/on/off/1/0 */
    ZN_CFG_LOGLEVEL, /* zn_log_level_t: error/warn/notice/info/debug */
} zn_cfg_type_t;

/* One option: where it lives in the INI file, its type, default, bounds, where it lives in the
 * agent's cfg struct, and one line of help. A table ends with a row whose key is NULL. */
typedef struct zn_cfg_opt {
    const char *section;
    const char *key;
    zn_cfg_type_t type;
    const char *def;
    int64_t min;
    int64_t max;
    size_t offset;
    const char *help;
} zn_cfg_opt_t;

#define ZN_CFG_STR_ROW(type, sec, key, field, def, help)                     \
    {                                                                        \
        (sec), (key), ZN_CFG_STR, (def), 0, 0, offsetof(type, field), (help) \
    }
#define ZN_CFG_INT_ROW(type, sec, key, field, def, lo, hi, help)                   \
    {                                                                              \
        (sec), (key), ZN_CFG_INT, (def), (lo), (hi), offsetof(type, field), (help) \
    }
#define ZN_CFG_BOOL_ROW(type, sec, key, field, def, help)                     \
    {                                                                         \
        (sec), (key), ZN_CFG_BOOL, (def), 0, 1, offsetof(type, field), (help) \
    }
#define ZN_CFG_LOGLEVEL_ROW(type, sec, key, field, def, help)                     \
    {                                                                             \
        (sec), (key), ZN_CFG_LOGLEVEL, (def), 0, 4, offsetof(type, field), (help) \
    }
#define ZN_CFG_END                                  \
    {                                               \
        NULL, NULL, ZN_CFG_STR, NULL, 0, 0, 0, NULL \
    }

/* Fill CFG for agent ROLE from OPTS and the command line:
 *   --config PATH          the INI file (default /etc/zinc/ROLE.conf, used only if it exists)
 *   --set SECTION.KEY=VAL  override one option (repeatable, applied after the file)
 *   --help, --help-config  print usage or an example file with every option, then return ZN_EDONE
 * Returns 0; ZN_EDONE when help was printed; ZN_EUSAGE for a bad command line; ZN_ECONFIG for an
 * unknown key, bad value or value out of bounds, after printing "PATH:LINE: what" to stderr.
 * On error CFG holds nothing that needs releasing. */
ZN_MUST_CHECK int zn_cfg_load(void *cfg, const zn_cfg_opt_t *opts, const char *role, int argc,
                              const char *const *argv);

/* Set every option of CFG, treated as uninitialised, to its default. */
void zn_cfg_defaults(void *cfg, const zn_cfg_opt_t *opts);

/* Apply the INI file at PATH over CFG. Returns 0, -ENOENT when it cannot be opened, or ZN_ECONFIG
 * with FAULT saying "PATH:LINE: what". */
ZN_MUST_CHECK int zn_cfg_apply_file(void *cfg, const zn_cfg_opt_t *opts, const char *path,
                                    zn_fault_t *fault);

/* Apply LEN bytes of INI text over CFG, naming it NAME in errors (for tests and fuzzing).
 * Returns 0 or ZN_ECONFIG with FAULT as zn_cfg_apply_file. */
ZN_MUST_CHECK int zn_cfg_apply_text(void *cfg, const zn_cfg_opt_t *opts, const char *name,
                                    const char *text, size_t len, zn_fault_t *fault);

/* Apply one "section.key=value" assignment. Returns 0 or ZN_ECONFIG with FAULT filled. */
ZN_MUST_CHECK int zn_cfg_apply_assignment(void *cfg, const zn_cfg_opt_t *opts,
                                          const char *assignment, zn_fault_t *fault);

/* Free the strings CFG owns and reset them to NULL. Safe to call twice. */
void zn_cfg_release(void *cfg, const zn_cfg_opt_t *opts);

/* Write an example INI file for ROLE: every option, commented out at its default, with help. */
void zn_cfg_write_example(FILE *out, const zn_cfg_opt_t *opts, const char *role);

/* The process exit code for RC from startup: 0 for 0 and ZN_EDONE, 64 (EX_USAGE) for ZN_EUSAGE,
 * 78 (EX_CONFIG) for ZN_ECONFIG, 1 otherwise. systemd is told not to restart on 64 and 78. */
int zn_exit_code(int rc);

#endif
