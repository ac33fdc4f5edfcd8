/* SPDX-License-Identifier: Apache-2.0 */
/* zinc-identity: the identity agent, plus its `bootstrap` and `rotate-keys` commands. */
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

#include "zn_cfg.h"
#include "zn_identity.h"
#include "zn_log.h"
#include "zn_sig.h"

int
main(int argc, char **argv)
{
    zsys_handler_set(NULL); /* signals come through our loop, not czmq */
    zn_signals_block();     /* before any thread exists */

    /* An optional first word picks a command; the options that follow are the agent's. */
    const char *command = argc > 1 && argv[1][0] != '-' ? argv[1] : "serve";
    int skip = strcmp(command, "serve") == 0 ? 0 : 1;
    zn_identity_cfg_t cfg;
    int rc = zn_cfg_load(&cfg, zn_identity_options, "identity", argc - skip,
                         (const char *const *)argv + skip);
    if (rc < 0) {
        return zn_exit_code(rc); /* 64 usage, 78 config: not restarted */
    }
    zn_log_open("identity", cfg.common.log_level);

    if (strcmp(command, "bootstrap") == 0) {
        rc = zn_identity_bootstrap(&cfg);
    } else if (strcmp(command, "rotate-keys") == 0) {
        rc = zn_identity_rotate_keys(&cfg);
    } else if (strcmp(command, "serve") == 0) {
        zn_identity_t *identity = NULL;
        rc = zn_identity_open(&identity, &cfg);
        if (rc == 0) {
            rc = zn_identity_run(identity);
        }
        zn_identity_destroy(&identity);
    } else {
        zn_log_error(NULL, "unknown command %s (bootstrap, rotate-keys, or none)", command);
        rc = ZN_EUSAGE;
    }
    zn_cfg_release(&cfg, zn_identity_options);
    return rc == ZN_EUSAGE ? zn_exit_code(rc) : (rc < 0 ? EXIT_FAILURE : EXIT_SUCCESS);
}
