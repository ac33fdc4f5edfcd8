/* SPDX-License-Identifier: Apache-2.0 */
/* zn_sig.h - termination signals delivered through the agent's event loop, never by handler. */
#ifndef ZN_SIG_H
#define ZN_SIG_H

#include "zn_common.h"

/* Block SIGTERM, SIGINT and SIGHUP in the calling thread and every thread it creates later, and
 * ignore SIGPIPE. Call in main before any thread exists. */
void zn_signals_block(void);

/* A signalfd that becomes readable on SIGTERM, SIGINT or SIGHUP (which must be blocked).
 * Returns the fd (the caller closes it) or a negative errno. */
ZN_MUST_CHECK int zn_signals_fd_open(void);

/* Read one pending signal from FD: its number, 0 when none is pending, or a negative errno. */
ZN_MUST_CHECK int zn_signals_fd_read(int fd);

#endif
