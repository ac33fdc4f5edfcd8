/* SPDX-License-Identifier: Apache-2.0 */
/* zn_ctl.h - zincctl, the operator's tool: talks to agents' admin sockets and the conductor's
 * registry over ZeroMQ. */
#ifndef ZN_CTL_H
#define ZN_CTL_H

/* Exit codes scripts can rely on. */
enum {
    ZN_CTL_OK = 0,
    ZN_CTL_FAILED = 1,      /* the agent answered with an error */
    ZN_CTL_UNREACHABLE = 3, /* no answer: agent down, wrong endpoint or key refused */
    ZN_CTL_USAGE = 64,
    ZN_CTL_CONFIG = 78,
};

/* Run zincctl with ARGV (ARGV[0] is the program name). Returns an exit code from the enum. */
int zn_ctl_main(int argc, const char *const *argv);

#endif
