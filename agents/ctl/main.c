/* SPDX-License-Identifier: Apache-2.0 */
/* zincctl: the admin tool. */
#include <czmq.h>

#include "zn_ctl.h"

int
main(int argc, char **argv)
{
    zsys_handler_set(NULL); /* Ctrl-C ends the tool at once */
    return zn_ctl_main(argc, (const char *const *)argv);
}
