/* SPDX-License-Identifier: Apache-2.0 */
/* zinc-conductor: serves compute agents and keeps the service registry. */
#include <stdlib.h>

#include <czmq.h>

#include "zn_cfg.h"
#include "zn_conductor.h"
#include "zn_log.h"
#include "zn_sig.h"

int
main(int argc, char **argv)
{
    zsys_handler_set(NULL); /* signals come through our loop, not czmq */
    zn_signals_block();     /* before any thread exists */

    zn_conductor_cfg_t cfg;
    int rc = zn_cfg_load(&cfg, zn_conductor_options, "conductor", argc, (const char *const *)argv);
    if (rc < 0) {
        return zn_exit_code(rc); /* 64 usage, 78 config: not restarted */
    }
    zn_log_open("conductor", cfg.common.log_level);

    zn_conductor_t *conductor = NULL;
    rc = zn_conductor_open(&conductor, &cfg);
    if (rc == 0) {
        rc = zn_conductor_run(conductor);
    }
    zn_conductor_destroy(&conductor);
    zn_cfg_release(&cfg, zn_conductor_options);
    return rc < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
