/* SPDX-License-Identifier: Apache-2.0 */
/* zinc-image: the image service (Glance v2 subset) and image_get/image_read for compute. */
#include <stdlib.h>

#include <czmq.h>

#include "zn_cfg.h"
#include "zn_image.h"
#include "zn_log.h"
#include "zn_sig.h"

int
main(int argc, char **argv)
{
    zsys_handler_set(NULL); /* signals come through our loop, not czmq */
    zn_signals_block();     /* before any thread exists */

    zn_image_cfg_t cfg;
    int rc = zn_cfg_load(&cfg, zn_image_options, "image", argc, (const char *const *)argv);
    if (rc < 0) {
        return zn_exit_code(rc); /* 64 usage, 78 config: not restarted */
    }
    zn_log_open("image", cfg.common.log_level);

    zn_image_t *image = NULL;
    rc = zn_image_open(&image, &cfg);
    if (rc == 0) {
        rc = zn_image_run(image);
    }
    zn_image_destroy(&image);
    zn_cfg_release(&cfg, zn_image_options);
    return rc < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
