/* SPDX-License-Identifier: Apache-2.0 */
/* zn_zap.h - the process's ZAP handler: which CURVE clients each server domain accepts. */
#ifndef ZN_ZAP_H
#define ZN_ZAP_H

#include "zn_common.h"
#include "zn_err.h"
#include "zn_keys.h"

/* libzmq asks one ZAP handler per process (inproc://zeromq.zap.01) to authenticate every CURVE
 * handshake, naming the server socket's ZAP domain. zinc keeps one handler per process, started
 * by the first registration and stopped by the last, and answers per domain from its allow-list,
 * so that several agents can share one process in tests and each enforce its own list.
 *
 * Register DOMAIN with the keys it accepts before binding a CURVE server socket with that domain:
 * libzmq accepts every client when no handler runs. Takes *allow_p (sink). Returns 0, -EEXIST
 * when DOMAIN is registered already, or -EIO when the handler cannot start. Any thread. */
ZN_MUST_CHECK int zn_zap_register(const char *domain, zn_allow_t **allow_p);

/* Forget DOMAIN; stops the handler after the last domain goes. Unknown domains are ignored. */
void zn_zap_unregister(const char *domain);

/* Handshakes refused since the handler started, for metrics and tests. */
unsigned long zn_zap_refused(void);

#endif
