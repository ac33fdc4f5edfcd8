/* SPDX-License-Identifier: Apache-2.0 */
/* zinc-network: the network agent (Neutron v2.0 subset with IPAM). */
#include <stdlib.h>

#include <czmq.h>

#include "zn_cfg.h"
#include "zn_log.h"
#include "zn_network.h"
#include "zn_sig.h"

int
main(int argc, char **argv)
{
    zsys_handler_set(NULL); /* signals come through our loop, not czmq */
    zn_signals_block();     /* before any thread exists */

    zn_network_cfg_t cfg;
    int rc = zn_cfg_load(&cfg, zn_network_options, "network", argc, (const char *const *)argv);
    if (rc < 0) {
        return zn_exit_code(rc); /* 64 usage, 78 config: not restarted */
    }
    zn_log_open("network", cfg.common.log_level);

    zn_network_t *network = NULL;
    rc = zn_network_open(&network, &cfg);
    if (rc == 0) {
        rc = zn_network_run(network);
    }
    zn_network_destroy(&network);
    zn_cfg_release(&cfg, zn_network_options);
    return rc < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
