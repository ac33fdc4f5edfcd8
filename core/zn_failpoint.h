/* SPDX-License-Identifier: Apache-2.0 */
/* zn_failpoint.h - named points where a test build can inject an error (STYLE.md section 12). */
#ifndef ZN_FAILPOINT_H
#define ZN_FAILPOINT_H

#include "zn_common.h"

/* In test builds ZN_FAILPOINT("network.port_alloc") evaluates to the injected error for that name,
 * or 0; in release builds it is the constant 0 and costs nothing. Use it as
 *     int rc = ZN_FAILPOINT("store.commit");
 *     if (rc < 0) { ...fail as the real error would... }  */
#ifdef ZN_ENABLE_FAILPOINTS
#define ZN_FAILPOINT(name) zn_failpoint_check(name)
#else
#define ZN_FAILPOINT(name) 0
#endif

/* The injected error for NAME, or 0. Consumes one of the armed count. Any thread. On first use
 * it also reads the environment variable ZN_FAILPOINTS, a comma-separated list of
 * name=ERRNAME[*count] (for example "store.commit=EIO*1,compute.define=ZN_EINTERNAL"), so that
 * tests can arm failpoints inside agents they start as processes. */
int zn_failpoint_check(const char *name);

/* Arm NAME to return RC for the next COUNT hits (COUNT < 0: every hit). RC 0 disarms it. */
void zn_failpoint_set(const char *name, int rc, int count);

/* Disarm every failpoint. */
void zn_failpoint_clear_all(void);

/* How many times NAME fired since it was armed: tests assert the path was really taken. */
int zn_failpoint_fired(const char *name);

#endif
