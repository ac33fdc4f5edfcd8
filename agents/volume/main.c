/* SPDX-License-Identifier: Apache-2.0 */
/* zinc-volume: block storage (Cinder v3 subset) and volume attachments for compute agents. */
#include <stdlib.h>

#include <czmq.h>

#include "zn_cfg.h"
#include "zn_log.h"
#include "zn_sig.h"
#include "zn_volume.h"

int
main(int argc, char **argv)
{
    zsys_handler_set(NULL); /* signals come through our loop, not czmq */
    zn_signals_block();     /* before any thread exists */

    zn_volume_cfg_t cfg;
    int rc = zn_cfg_load(&cfg, zn_volume_options, "volume", argc, (const char *const *)argv);
    if (rc < 0) {
        return zn_exit_code(rc); /* 64 usage, 78 config: not restarted */
    }
    zn_log_open("volume", cfg.common.log_level);

    zn_volume_t *volume = NULL;
    rc = zn_volume_open(&volume, &cfg);
    if (rc == 0) {
        rc = zn_volume_run(volume);
    }
    zn_volume_destroy(&volume);
    zn_cfg_release(&cfg, zn_volume_options);
    return rc < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
