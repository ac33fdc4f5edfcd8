/* SPDX-License-Identifier: Apache-2.0 */
/* zn_log.c - structured log lines. The sink and level are the one mutable global we allow. */
#include "zn_log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "zn_clock.h"

#define S_LINE_MAX 2048

static char s_role[32] = "zinc";
static atomic_int s_level = ZN_LOG_N;
static FILE *_Atomic s_sink = NULL;

static const char s_level_chars[] = {'E', 'W', 'N', 'I', 'D'};
static const char *const s_level_names[] = {"error", "warn", "notice", "info", "debug"};

void
zn_log_open(const char *role, zn_log_level_t level)
{
    (void)snprintf(s_role, sizeof(s_role), "%s", role);
    zn_log_set_level(level);
}

void
zn_log_set_level(zn_log_level_t level)
{
    atomic_store(&s_level, (int)level);
}

zn_log_level_t
zn_log_level(void)
{
    return (zn_log_level_t)atomic_load(&s_level);
}

int
zn_log_level_parse(const char *text, zn_log_level_t *out)
{
    for (int i = 0; i <= ZN_LOG_D; i++) {
        bool by_char = text[0] != '\0' && text[1] == '\0' && text[0] == s_level_chars[i];
        if (by_char || strcasecmp(text, s_level_names[i]) == 0) {
            *out = (zn_log_level_t)i;
            return 0;
        }
    }
    return -EINVAL;
}

void
zn_log_set_sink(FILE *sink)
{
    atomic_store(&s_sink, sink);
}

bool
zn_log_enabled(zn_log_level_t level)
{
    return (int)level <= atomic_load(&s_level);
}

static size_t
s_format_prefix(char *line, size_t cap, zn_log_level_t level, const char *req_id)
{
    char stamp[32];
    zn_clock_format_iso(zn_clock_wall_ms(), stamp, sizeof(stamp));
    int n;
    if (req_id != NULL && req_id[0] != '\0') {
        n = snprintf(line, cap, "%s %c %s req=%s ", stamp, s_level_chars[level], s_role, req_id);
    } else {
        n = snprintf(line, cap, "%s %c %s ", stamp, s_level_chars[level], s_role);
    }
    return n < 0 ? 0 : ((size_t)n < cap ? (size_t)n : cap - 1);
}

void
zn_log(zn_log_level_t level, const char *req_id, const char *fmt, ...)
{
    if (!zn_log_enabled(level)) {
        return;
    }
    char line[S_LINE_MAX];
    size_t len = s_format_prefix(line, sizeof(line) - 1, level, req_id);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line + len, sizeof(line) - 1 - len, fmt, ap);
    va_end(ap);
    size_t body = n < 0 ? 0 : (size_t)n;
    if (len + body > sizeof(line) - 2) {
        body = sizeof(line) - 2 - len;
    }
    /* One event, one line: a newline inside a message (from a peer's text) must not split it. */
    for (size_t i = len; i < len + body; i++) {
        if (line[i] == '\n' || line[i] == '\r') {
            line[i] = ' ';
        }
    }
    len += body;
    line[len++] = '\n';
    FILE *sink = atomic_load(&s_sink);
    /* A single fwrite keeps concurrent lines from interleaving. */
    (void)fwrite(line, 1, len, sink != NULL ? sink : stderr);
    if (sink != NULL) {
        (void)fflush(sink);
    }
}
