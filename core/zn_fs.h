/* SPDX-License-Identifier: Apache-2.0 */
/* zn_fs.h - filesystem helpers agents need at startup. */
#ifndef ZN_FS_H
#define ZN_FS_H

#include <sys/types.h>

#include "zn_common.h"

/* Create PATH and any missing parents with MODE, like `mkdir -p`. An existing directory is
 * fine. Returns 0 or a negative errno (-ENOTDIR when a component is a file). */
ZN_MUST_CHECK int zn_fs_mkdir_p(const char *path, mode_t mode);

#endif
