/* SPDX-License-Identifier: Apache-2.0 */
/* zn_clock.c - monotonic and wall time. */
#include "zn_clock.h"

#include <stdio.h>
#include <time.h>

static int64_t
s_now_us(clockid_t id)
{
    struct timespec ts;
    (void)clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
zn_clock_mono_ms(void)
{
    return s_now_us(CLOCK_MONOTONIC) / 1000;
}

int64_t
zn_clock_mono_us(void)
{
    return s_now_us(CLOCK_MONOTONIC);
}

int64_t
zn_clock_wall_ms(void)
{
    return s_now_us(CLOCK_REALTIME) / 1000;
}

void
zn_clock_format_iso(int64_t wall_ms, char *buf, size_t cap)
{
    time_t secs = (time_t)(wall_ms / 1000);
    struct tm tm;
    (void)gmtime_r(&secs, &tm);
    (void)snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                   tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                   (int)(wall_ms % 1000));
}
