/* SPDX-License-Identifier: Apache-2.0 */
/* zn_agent_cfg.h - the configuration every agent shares: its identity, logging, admin socket,
 * keys and the conductor it reports to. Each agent's cfg struct embeds zn_agent_cfg_t as
 * `common` and its option table starts with ZN_AGENT_CFG_ROWS. */
#ifndef ZN_AGENT_CFG_H
#define ZN_AGENT_CFG_H

#include <stdbool.h>
#include <stdint.h>

#include "zn_cfg.h"
#include "zn_log.h"

/* Well-known ports (docs/architecture.md has the table). 7100+n calls, 7200+n admin, 7300+n casts.
 */
#define ZN_PORT_CONDUCTOR_CALL "7104"
#define ZN_PORT_CONDUCTOR_CAST "7304"

typedef struct zn_agent_cfg {
    char *host;
    zn_log_level_t log_level;
    char *admin_endpoint;
    int64_t shutdown_grace_ms;
    bool curve;
    char *keys_dir;
    char *key_name;
    char *conductor_call;
    char *conductor_cast;
    int64_t heartbeat_interval_ms;
} zn_agent_cfg_t;

/* The common rows for agent cfg struct TYPE (which has `zn_agent_cfg_t common`), with ROLE's
 * admin port as the default admin endpoint. */
#define ZN_AGENT_CFG_ROWS(type, role, admin_port)                                                \
    ZN_CFG_STR_ROW(type, "agent", "host", common.host, "localhost",                              \
                   "this node's name, as the scheduler and operators see it"),                   \
        ZN_CFG_LOGLEVEL_ROW(type, "agent", "log_level", common.log_level, "notice",              \
                            "error, warn, notice, info (a line per request) or debug"),          \
        ZN_CFG_STR_ROW(type, "agent", "admin_endpoint", common.admin_endpoint,                   \
                       "tcp://127.0.0.1:" admin_port, "ZeroMQ endpoint of the admin socket"),    \
        ZN_CFG_INT_ROW(type, "agent", "shutdown_grace_ms", common.shutdown_grace_ms, "5000", 0,  \
                       600000, "how long in-flight work may finish after SIGTERM"),              \
        ZN_CFG_BOOL_ROW(type, "security", "curve", common.curve, "false",                        \
                        "encrypt and authenticate every link with CURVE (needs keys_dir)"),      \
        ZN_CFG_STR_ROW(type, "security", "keys_dir", common.keys_dir, "/etc/zinc/keys",          \
                       "directory of NAME.key pairs and the NAME.key.pub keys accepted"),        \
        ZN_CFG_STR_ROW(type, "security", "key_name", common.key_name, role,                      \
                       "this agent's key is keys_dir/key_name.key"),                             \
        ZN_CFG_STR_ROW(type, "peers", "conductor_call", common.conductor_call,                   \
                       "tcp://127.0.0.1:" ZN_PORT_CONDUCTOR_CALL,                                \
                       "the conductor's call endpoint(s), comma-separated"),                     \
        ZN_CFG_STR_ROW(                                                                          \
            type, "peers", "conductor_cast", common.conductor_cast,                              \
            "tcp://127.0.0.1:" ZN_PORT_CONDUCTOR_CAST,                                           \
            "every conductor's cast endpoint, comma-separated: each one hears every heartbeat"), \
        ZN_CFG_INT_ROW(type, "peers", "heartbeat_interval_ms", common.heartbeat_interval_ms,     \
                       "1000", 50, 60000, "how often this agent tells the conductor it is alive")

#endif
