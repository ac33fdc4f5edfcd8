/* SPDX-License-Identifier: Apache-2.0 */
/* zinc-scheduler: chooses a host for each new instance and claims its resources. */
#include <stdlib.h>

#include <czmq.h>

#include "zn_cfg.h"
#include "zn_log.h"
#include "zn_scheduler.h"
#include "zn_sig.h"

int
main(int argc, char **argv)
{
    zsys_handler_set(NULL); /* signals come through our loop, not czmq */
    zn_signals_block();     /* before any thread exists */

    zn_scheduler_cfg_t cfg;
    int rc = zn_cfg_load(&cfg, zn_scheduler_options, "scheduler", argc, (const char *const *)argv);
    if (rc < 0) {
        return zn_exit_code(rc); /* 64 usage, 78 config: not restarted */
    }
    zn_log_open("scheduler", cfg.common.log_level);

    zn_scheduler_t *scheduler = NULL;
    rc = zn_scheduler_open(&scheduler, &cfg);
    if (rc == 0) {
        rc = zn_scheduler_run(scheduler);
    }
    zn_scheduler_destroy(&scheduler);
    zn_cfg_release(&cfg, zn_scheduler_options);
    return rc < 0 ? zn_exit_code(rc) : EXIT_SUCCESS; /* a bad policy value is 78 too */
}
