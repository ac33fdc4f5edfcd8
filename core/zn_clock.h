/* SPDX-License-Identifier: Apache-2.0 */
/* zn_clock.h - monotonic time for deadlines, wall time for records and logs. */
#ifndef ZN_CLOCK_H
#define ZN_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* Monotonic milliseconds and microseconds: for deadlines and durations, never for records. */
int64_t zn_clock_mono_ms(void);
int64_t zn_clock_mono_us(void);

/* Milliseconds since the Unix epoch: for records, tokens and logs, never for deadlines. */
int64_t zn_clock_wall_ms(void);

/* Format WALL_MS as "2026-03-01T10:22:04.118Z" into BUF (at least 25 bytes). */
void zn_clock_format_iso(int64_t wall_ms, char *buf, size_t cap);

#endif
