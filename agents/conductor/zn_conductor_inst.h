/* SPDX-License-Identifier: Apache-2.0 */
/* zn_conductor_inst.h - the conductor's side of the instance lifecycle (steps 14-18 and 28):
 * the calls compute agents make instead of touching the store (instance_get, instance_update,
 * build_result, delete_done, host_instances, resource_report, power_report), the api's
 * instance_delete, rescheduling a failed build, and the watchdog that keeps any instance from
 * staying in a task forever. docs/flow.md is the contract. Loop thread. */
#ifndef ZN_CONDUCTOR_INST_H
#define ZN_CONDUCTOR_INST_H

#include <stdint.h>

#include <czmq.h>

#include "zn_cfg.h"
#include "zn_conductor_store.h"
#include "zn_err.h"
#include "zn_metrics.h"
#include "zn_registry.h"
#include "zn_secure.h"
#include "zn_server.h"

typedef struct zn_conductor_build_cfg {
    int64_t take_timeout_ms;   /* a cast build not taken up by then is rescheduled */
    int64_t build_timeout_ms;  /* a taken build not finished by then is rescheduled */
    int64_t action_timeout_ms; /* stop/start/reboot/delete not answered by then fail */
    int64_t max_attempts;      /* hosts one build may try */
    int64_t watchdog_interval_ms;
    char *scheduler_call; /* the schedulers' call endpoints; empty: no rescheduling */
    char *network_call;   /* the network agents': instance_delete frees ports there */
    char *volume_call;    /* the volume agents': instance_delete detaches volumes there */
} zn_conductor_build_cfg_t;

#define ZN_CONDUCTOR_BUILD_CFG_ROWS(type)                                                         \
    ZN_CFG_INT_ROW(type, "build", "take_timeout_ms", build.take_timeout_ms, "5000", 100, 3600000, \
                   "a build cast that no compute agent took up by then is rescheduled"),          \
        ZN_CFG_INT_ROW(type, "build", "build_timeout_ms", build.build_timeout_ms, "300000", 100,  \
                       86400000, "a build still unfinished after this is rescheduled"),           \
        ZN_CFG_INT_ROW(type, "build", "action_timeout_ms", build.action_timeout_ms, "60000", 100, \
                       86400000,                                                                  \
                       "stop/start/reboot/delete unanswered after this end with a fault"),        \
        ZN_CFG_INT_ROW(type, "build", "max_attempts", build.max_attempts, "3", 1, 100,            \
                       "hosts one build may try before it ends in ERROR"),                        \
        ZN_CFG_INT_ROW(type, "build", "watchdog_interval_ms", build.watchdog_interval_ms, "1000", \
                       50, 600000, "how often the watchdog looks for overdue tasks"),             \
        ZN_CFG_STR_ROW(                                                                           \
            type, "peers", "scheduler_call", build.scheduler_call, "",                            \
            "the schedulers' call endpoints, comma-separated; empty: failed builds end in "       \
            "ERROR instead of being rescheduled"),                                                \
        ZN_CFG_STR_ROW(type, "peers", "network_call", build.network_call, "",                     \
                       "the network agents' call endpoints: deleting an instance no compute "     \
                       "agent can reach frees its ports there; empty: none to free"),             \
        ZN_CFG_STR_ROW(type, "peers", "volume_call", build.volume_call, "",                       \
                       "the volume agents' call endpoints: such a delete detaches the "           \
                       "instance's volumes there; empty: none to detach")

typedef struct zn_conductor_inst zn_conductor_inst_t;

typedef struct zn_conductor_inst_opts {
    const zn_conductor_build_cfg_t *cfg; /* borrowed, outlives the module */
    zn_conductor_store_t *store;         /* borrowed */
    zn_registry_t *registry;             /* borrowed: which compute agents are alive, where */
    const zn_secure_t *secure;           /* borrowed: keys for the scheduler and compute links */
    zloop_t *loop;
    zn_metrics_t *metrics;
} zn_conductor_inst_opts_t;

/* Start the module: scheduler client and watchdog timer on OPTS->loop. Returns 0 or a negative
 * errno with FAULT. */
ZN_MUST_CHECK int zn_conductor_inst_open(zn_conductor_inst_t **out,
                                         const zn_conductor_inst_opts_t *opts, zn_fault_t *fault);

void zn_conductor_inst_destroy(zn_conductor_inst_t **self_p);

/* Handlers with zn_handler_fn's contract and the module as SELF; the conductor's method table
 * wraps them. Bodies and answers: docs/flow.md. */
#define ZN_CONDUCTOR_INST_HANDLERS(X) \
    X(instance_get)                   \
    X(instance_update)                \
    X(build_result)                   \
    X(delete_done) X(instance_delete) X(host_instances) X(resource_report) X(power_report)
#define ZN_CONDUCTOR_INST_DECLARE(name)                                                        \
    int zn_conductor_inst_##name(zn_conductor_inst_t *self, zn_call_t *call, zn_pack_t *reply, \
                                 zn_fault_t *fault);
ZN_CONDUCTOR_INST_HANDLERS(ZN_CONDUCTOR_INST_DECLARE)
#undef ZN_CONDUCTOR_INST_DECLARE

/* Operations in flight (for the agent's drained callback). */
size_t zn_conductor_inst_pending(const zn_conductor_inst_t *self);

#endif
