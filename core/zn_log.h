/* SPDX-License-Identifier: Apache-2.0 */
/* zn_log.h - one structured line per event on stderr, carrying the request id. */
#ifndef ZN_LOG_H
#define ZN_LOG_H

#include <stdbool.h>
#include <stdio.h>

#include "zn_common.h"

/* E: the agent is failing. W: one request failed or a dependency is flaky. N: lifecycle.
 * I: one line per request (off by default). D: diagnostics. */
typedef enum {
    ZN_LOG_E = 0,
    ZN_LOG_W = 1,
    ZN_LOG_N = 2,
    ZN_LOG_I = 3,
    ZN_LOG_D = 4,
} zn_log_level_t;

/* Name this process's lines ROLE (copied; at most 31 bytes) and log up to LEVEL. Call once in main
 * before threads start; later calls only change the role and level. */
void zn_log_open(const char *role, zn_log_level_t level);

/* Change the level at run time (the admin socket does this). Any thread. */
void zn_log_set_level(zn_log_level_t level);

zn_log_level_t zn_log_level(void);

/* Parse "error|warn|notice|info|debug" (or E/W/N/I/D) into *out. Returns 0 or -EINVAL. */
ZN_MUST_CHECK int zn_log_level_parse(const char *text, zn_log_level_t *out);

/* Send lines to SINK instead of stderr (tests capture them); NULL restores stderr. */
void zn_log_set_sink(FILE *sink);

/* True when a line at LEVEL would be written: guard expensive argument building with it. */
bool zn_log_enabled(zn_log_level_t level);

/* Write one line: time, level, role, req=REQ_ID (omitted when NULL or empty), message.
 * Newlines in the message are replaced so that one event stays one line. Any thread. */
void zn_log(zn_log_level_t level, const char *req_id, const char *fmt, ...) ZN_PRINTF(3, 4);

#define zn_log_error(req_id, ...)  zn_log(ZN_LOG_E, (req_id), __VA_ARGS__)
#define zn_log_warn(req_id, ...)   zn_log(ZN_LOG_W, (req_id), __VA_ARGS__)
#define zn_log_notice(req_id, ...) zn_log(ZN_LOG_N, (req_id), __VA_ARGS__)
#define zn_log_info(req_id, ...)   zn_log(ZN_LOG_I, (req_id), __VA_ARGS__)
#define zn_log_debug(req_id, ...)  zn_log(ZN_LOG_D, (req_id), __VA_ARGS__)

#endif
