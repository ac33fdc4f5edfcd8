/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_cfg - agent configuration text through inih and zinc's option table: every outcome is 0
 * or ZN_ECONFIG with a message, and the struct stays releasable. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "zn_cfg.h"
#include "zn_log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    char *endpoint;
    int64_t workers;
    bool curve;
    zn_log_level_t level;
} s_cfg_t;

static const zn_cfg_opt_t s_opts[] = {
    ZN_CFG_STR_ROW(s_cfg_t, "rpc", "endpoint", endpoint, "tcp://127.0.0.1:7104", "endpoint"),
    ZN_CFG_INT_ROW(s_cfg_t, "rpc", "workers", workers, "4", 1, 64, "workers"),
    ZN_CFG_BOOL_ROW(s_cfg_t, "security", "curve", curve, "false", "curve"),
    ZN_CFG_LOGLEVEL_ROW(s_cfg_t, "agent", "log_level", level, "notice", "level"),
    ZN_CFG_END,
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    s_cfg_t cfg;
    zn_cfg_defaults(&cfg, s_opts);
    zn_fault_t fault = {0};
    int rc = zn_cfg_apply_text(&cfg, s_opts, "fuzz.conf", (const char *)data, size, &fault);
    ZN_ASSERT(rc == 0 || (rc == ZN_ECONFIG && fault.message[0] != '\0'));
    ZN_ASSERT(cfg.workers >= 1 && cfg.workers <= 64);
    ZN_ASSERT(cfg.endpoint != NULL);
    zn_cfg_release(&cfg, s_opts);
    return 0;
}
