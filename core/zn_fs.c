/* SPDX-License-Identifier: Apache-2.0 */
/* zn_fs.c - filesystem helpers. */
#include "zn_fs.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "zn_mem.h"

static int
s_mkdir_one(const char *path, mode_t mode)
{
    if (mkdir(path, mode) == 0) {
        return 0;
    }
    int err = errno;
    struct stat st;
    if (err == EEXIST && stat(path, &st) == 0) {
        return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
    }
    return -err;
}

int
zn_fs_mkdir_p(const char *path, mode_t mode)
{
    char *copy = zn_strdup(path);
    int rc = 0;
    for (char *p = copy + 1; rc == 0 && *p != '\0'; p++) {
        if (*p == '/') {
            *p = '\0';
            rc = s_mkdir_one(copy, mode);
            *p = '/';
        }
    }
    if (rc == 0) {
        rc = s_mkdir_one(copy, mode);
    }
    zn_str_free(&copy);
    return rc;
}
