/* SPDX-License-Identifier: Apache-2.0 */
/* zn_sig.c - signalfd plumbing. */
#include "zn_sig.h"

#include <errno.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

static void
s_term_set(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
}

void
zn_signals_block(void)
{
    sigset_t set;
    s_term_set(&set);
    (void)pthread_sigmask(SIG_BLOCK, &set, NULL);
    /* A peer that goes away must give EPIPE on write, not kill the agent. */
    (void)signal(SIGPIPE, SIG_IGN);
}

int
zn_signals_fd_open(void)
{
    sigset_t set;
    s_term_set(&set);
    int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int
zn_signals_fd_read(int fd)
{
    struct signalfd_siginfo info;
    ssize_t n = read(fd, &info, sizeof(info));
    if (n < 0) {
        return errno == EAGAIN ? 0 : -errno;
    }
    return n == (ssize_t)sizeof(info) ? (int)info.ssi_signo : -EIO;
}
