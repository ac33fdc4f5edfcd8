/* SPDX-License-Identifier: Apache-2.0 */
/* zinc-compute: the agent on each hypervisor node. */
#include <stdlib.h>

#include <czmq.h>

#include "zn_cfg.h"
#include "zn_compute.h"
#include "zn_log.h"
#include "zn_sig.h"

int
main(int argc, char **argv)
{
    zsys_handler_set(NULL); /* signals come through our loop, not czmq */
    zn_signals_block();     /* before any thread exists */

    zn_compute_cfg_t cfg;
    int rc = zn_cfg_load(&cfg, zn_compute_options, "compute", argc, (const char *const *)argv);
    if (rc < 0) {
        return zn_exit_code(rc); /* 64 usage, 78 config: not restarted */
    }
    zn_log_open("compute", cfg.common.log_level);

    zn_compute_t *compute = NULL;
    rc = zn_compute_open(&compute, &cfg);
    if (rc == 0) {
        rc = zn_compute_run(compute);
    }
    zn_compute_destroy(&compute);
    zn_cfg_release(&cfg, zn_compute_options);
    return rc < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
