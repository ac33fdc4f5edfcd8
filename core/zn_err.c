/* SPDX-License-Identifier: Apache-2.0 */
/* zn_err.c - zinc's error codes and faults. */
#include "zn_err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zn_log.h"

typedef struct {
    int code;
    const char *name;
    const char *text;
} s_err_row_t;

static const s_err_row_t s_zn_errors[] = {
#define ZN_ERR_ROW(name, value, text) {value, #name, text},
    ZN_ERR_TABLE(ZN_ERR_ROW)
#undef ZN_ERR_ROW
};

/* The errno values zinc returns, by name, so that logs and error replies can say "ENOENT". */
static const s_err_row_t s_errnos[] = {
    {-EPERM, "EPERM", NULL},
    {-ENOENT, "ENOENT", NULL},
    {-EIO, "EIO", NULL},
    {-ENOMEM, "ENOMEM", NULL},
    {-EACCES, "EACCES", NULL},
    {-EBUSY, "EBUSY", NULL},
    {-EEXIST, "EEXIST", NULL},
    {-EINVAL, "EINVAL", NULL},
    {-ENOSPC, "ENOSPC", NULL},
    {-EPIPE, "EPIPE", NULL},
    {-ERANGE, "ERANGE", NULL},
    {-EAGAIN, "EAGAIN", NULL},
    {-EPROTO, "EPROTO", NULL},
    {-EMSGSIZE, "EMSGSIZE", NULL},
    {-ENOTSUP, "ENOTSUP", NULL},
    {-ECONNREFUSED, "ECONNREFUSED", NULL},
    {-ETIMEDOUT, "ETIMEDOUT", NULL},
    {-EHOSTUNREACH, "EHOSTUNREACH", NULL},
    {-ECANCELED, "ECANCELED", NULL},
    {-ESHUTDOWN, "ESHUTDOWN", NULL},
    {-EBADMSG, "EBADMSG", NULL},
    {-E2BIG, "E2BIG", NULL},
    {-ENOTCONN, "ENOTCONN", NULL},
    {-EALREADY, "EALREADY", NULL},
};

void
zn_assert_fail(const char *cond, const char *file, int line)
{
    zn_log(ZN_LOG_E, NULL, "assertion failed: %s at %s:%d", cond, file, line);
    abort();
}

const char *
zn_strerror(int rc)
{
    if (rc == 0) {
        return "success";
    }
    for (size_t i = 0; i < ZN_ARRAY_COUNT(s_zn_errors); i++) {
        if (s_zn_errors[i].code == rc) {
            return s_zn_errors[i].text;
        }
    }
    if (rc < 0 && rc > -4096) {
        return strerror(-rc);
    }
    return "unknown error";
}

const char *
zn_errname(int rc)
{
    for (size_t i = 0; i < ZN_ARRAY_COUNT(s_zn_errors); i++) {
        if (s_zn_errors[i].code == rc) {
            return s_zn_errors[i].name;
        }
    }
    for (size_t i = 0; i < ZN_ARRAY_COUNT(s_errnos); i++) {
        if (s_errnos[i].code == rc) {
            return s_errnos[i].name;
        }
    }
    return "E?";
}

int
zn_errcode(const char *name)
{
    for (size_t i = 0; i < ZN_ARRAY_COUNT(s_zn_errors); i++) {
        if (strcmp(s_zn_errors[i].name, name) == 0) {
            return s_zn_errors[i].code;
        }
    }
    for (size_t i = 0; i < ZN_ARRAY_COUNT(s_errnos); i++) {
        if (strcmp(s_errnos[i].name, name) == 0) {
            return s_errnos[i].code;
        }
    }
    return 0;
}

int
zn_fault_set(zn_fault_t *fault, int code, const char *fmt, ...)
{
    if (fault == NULL) {
        return code;
    }
    fault->code = code;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(fault->message, sizeof(fault->message), fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof(fault->message)) {
        memcpy(fault->message + sizeof(fault->message) - 4, "...", 4);
    }
    return code;
}

void
zn_fault_clear(zn_fault_t *fault)
{
    fault->code = 0;
    fault->message[0] = '\0';
}

const char *
zn_fault_message(const zn_fault_t *fault)
{
    if (fault->message[0] != '\0') {
        return fault->message;
    }
    return zn_strerror(fault->code);
}
