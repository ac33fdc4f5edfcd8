/* SPDX-License-Identifier: Apache-2.0 */
/* zn_ctl_int.h - what zincctl's command modules share: the tool's state, calls to agents and the
 * conductor's registry, and reporting. agents/ctl only. */
#ifndef ZN_CTL_INT_H
#define ZN_CTL_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "zn_client.h"
#include "zn_err.h"
#include "zn_keys.h"
#include "zn_secure.h"

typedef struct {
    char *conductor;
    int64_t timeout_ms;
    bool curve;
    char *keys_dir;
    char *key_name;
} zn__ctl_cfg_t;

typedef struct {
    zn__ctl_cfg_t cfg;
    bool json;
    const char *server_key; /* for a target given as an endpoint */
    const char *timeout;    /* --timeout, applied over the configuration */
    zn_secure_t *secure;
} zn__ctl_t;

/* One row of `services`, as the conductor packs it. */
typedef struct {
    char *role;
    char *host;
    char *version;
    char *admin_endpoint;
    char *public_key;
    bool up;
    int64_t age_ms;
} zn__ctl_row_t;

/* The list of services from the conductor, decoded. */
typedef struct {
    zn__ctl_row_t *rows;
    size_t count;
} zn__ctl_rows_t;

/* A target names one agent: an admin endpoint ("tcp://..."), or ROLE or ROLE/HOST looked up in
 * the conductor's registry. */
typedef struct {
    char endpoint[256];
    char public_key[ZN_KEY_Z85_LEN + 1];
    char label[128];
} zn__ctl_target_t;

void zn__ctl_rows_release(zn__ctl_rows_t *rows);

/* The exit code for RC; and print FAULT for WHAT first when RC failed. */
int zn__ctl_exit_for(int rc);
int zn__ctl_report(int rc, const char *what, const zn_fault_t *fault);

/* Call METHOD with BODY on ENDPOINTS (comma-separated) whose public key is SERVER_PUBLIC. */
int zn__ctl_call(zn__ctl_t *ctl, const char *endpoints_text, const char *server_public,
                 const char *method, zn_buf_t body, zn_reply_t **reply, zn_fault_t *fault);

/* The conductor's service table; *reply owns the bytes the rows were decoded from. */
int zn__ctl_fetch_services(zn__ctl_t *ctl, zn__ctl_rows_t *rows, zn_reply_t **reply,
                           zn_fault_t *fault);

int zn__ctl_resolve(zn__ctl_t *ctl, const char *text, zn__ctl_target_t *out, zn_fault_t *fault);

/* Call admin METHOD with BODY on the agent TEXT names and print the answer. Returns an exit code.
 */
int zn__ctl_admin_call(zn__ctl_t *ctl, const char *text, const char *method, zn_buf_t body);

/* The same for a target already resolved. */
int zn__ctl_admin_call_target(zn__ctl_t *ctl, const zn__ctl_target_t *target, const char *method,
                              zn_buf_t body);

/* Call METHOD with BODY on the configured conductors (zn_ctl_store.c). */
int zn__ctl_conductor_call(zn__ctl_t *ctl, const char *method, zn_buf_t body, zn_reply_t **reply,
                           zn_fault_t *fault);

/* Send BATCH to the conductors' store_write and report "WHAT: committed" or the error. Returns an
 * exit code. */
struct zn_batch;
int zn__ctl_write_batch(zn__ctl_t *ctl, const struct zn_batch *batch, const char *what);

/* `zincctl hosts`, `host enable|disable`, `instance show`, `trace` (zn_ctl_cloud.c). */
int zn__ctl_hosts(zn__ctl_t *ctl, int argc, const char *const *argv);
int zn__ctl_host(zn__ctl_t *ctl, int argc, const char *const *argv);
int zn__ctl_instance(zn__ctl_t *ctl, int argc, const char *const *argv);
int zn__ctl_trace(zn__ctl_t *ctl, int argc, const char *const *argv);

/* `zincctl store ...` (zn_ctl_store.c). */
int zn__ctl_store(zn__ctl_t *ctl, int argc, const char *const *argv);

#endif
