/* SPDX-License-Identifier: Apache-2.0 */
/* zinc-api: the compute API (Nova v2.1 subset). */
#include <stdlib.h>

#include <czmq.h>

#include "zn_api.h"
#include "zn_cfg.h"
#include "zn_log.h"
#include "zn_sig.h"

int
main(int argc, char **argv)
{
    zsys_handler_set(NULL); /* signals come through our loop, not czmq */
    zn_signals_block();     /* before any thread exists */

    zn_api_cfg_t cfg;
    int rc = zn_cfg_load(&cfg, zn_api_options, "api", argc, (const char *const *)argv);
    if (rc < 0) {
        return zn_exit_code(rc); /* 64 usage, 78 config: not restarted */
    }
    zn_log_open("api", cfg.common.log_level);

    zn_api_t *api = NULL;
    rc = zn_api_open(&api, &cfg);
    if (rc == 0) {
        rc = zn_api_run(api);
    }
    zn_api_destroy(&api);
    zn_cfg_release(&cfg, zn_api_options);
    return rc < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
