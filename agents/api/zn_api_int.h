/* SPDX-License-Identifier: Apache-2.0 */
/* zn_api_int.h - what the api agent's files share: the agent struct, the route handlers (one
 * file per resource), and the helpers for the store, the JSON views and the peers. */
#ifndef ZN_API_INT_H
#define ZN_API_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <czmq.h>
#include <jansson.h>

#include "zn_agent.h"
#include "zn_api.h"
#include "zn_batch.h"
#include "zn_cellrec.h"
#include "zn_client.h"
#include "zn_idclient.h"
#include "zn_rest.h"
#include "zn_sclient.h"
#include "zn_secure.h"
#include "zn_store.h"

/* The microversions served: 2.1 only (../shared/openstack-api.md section 0.1). */
#define ZN_API_VERSION_MIN "2.1"
#define ZN_API_VERSION_MAX "2.1"

#define ZN_API_ID_MAX   64
#define ZN_API_HOST_MAX 255
#define ZN_API_TRIES    16 /* conditional writes retried after a conflict */

struct zn_api {
    const zn_api_cfg_t *cfg;
    const zn_secure_t *secure; /* the agent's, borrowed */
    zn_agent_t *agent;
    zn_rest_t *rest;
    zn_idclient_t *idclient;
    zn_sclient_t *sclient;
    zn_client_t *conductor; /* instance_delete, services */
    zn_client_t *scheduler; /* NULL: [peers] scheduler_call empty */
    zn_client_t *image;     /* NULL: images are not checked */
    zn_client_t *network;   /* NULL: networks are not checked */
    zn_client_t *volume;    /* NULL: volumes are not checked */
    zhashx_t *peers;        /* "cast HOST" / "call HOST" -> zn__api_peer_t */
    zhashx_t *lanes;        /* project id -> its creates waiting to commit (zn_api_create.c) */
    size_t pending;         /* asynchronous work in flight */
};

/* ---- route handlers (zn_rest_fn with the api as ARG) -------------------------------------- */

/* Version documents (no token, no microversion check). */
#define ZN_API_VERSION_HANDLERS(X) X(versions) X(version_v20) X(version_v21)

/* Everything else (behind the microversion check). */
/* clang-format off */
#define ZN_API_HANDLERS(X) \
    X(flavor_list) X(flavor_detail) X(flavor_show) X(flavor_create) \
    X(flavor_delete) X(extra_specs_list) X(extra_specs_create) X(extra_spec_show) \
    X(extra_spec_update) X(extra_spec_delete) X(keypair_list) X(keypair_create) \
    X(keypair_show) X(keypair_delete) X(server_list) X(server_detail) \
    X(server_create) X(server_show) X(server_update) X(server_delete) \
    X(server_action) X(metadata_list) X(metadata_replace) X(metadata_update) \
    X(action_list) X(action_show) X(attachment_list) X(attachment_create) \
    X(attachment_show) X(attachment_delete) X(service_list) X(service_update) \
    X(hypervisor_list) X(hypervisor_detail) X(hypervisor_show) X(hypervisor_stats) \
    X(zone_list) X(zone_detail) X(limits) X(quota_show) \
    X(quota_defaults) X(quota_detail) X(quota_update) X(quota_delete) \
    X(group_list) X(group_create) X(group_show) X(group_delete) \
    X(ips_list) X(ips_show)
/* clang-format on */
#define ZN_API_DECLARE(name) int zn__api_##name(void *arg, zn_rest_req_t *req, zn_fault_t *fault);
ZN_API_VERSION_HANDLERS(ZN_API_DECLARE)
ZN_API_HANDLERS(ZN_API_DECLARE)
#undef ZN_API_DECLARE

/* ---- the store (zn_api_store.c) ----------------------------------------------------------- */

/* A read transaction on the local replica (end it with zn_store_read_end). */
ZN_MUST_CHECK int zn__api_read_begin(zn_api_t *self, zn_store_read_t **out, zn_fault_t *fault);

/* TABLE of the replica, or NULL before the conductor created it. */
const zn_store_table_t *zn__api_table(zn_api_t *self, const char *table);

/* Read TABLE/KEY into OBJ with SCHEMA; *gen (optional) its generation. Returns 0, -ENOENT or a
 * decode error, with FAULT. */
ZN_MUST_CHECK int zn__api_get(zn_api_t *self, zn_store_read_t *txn, const char *table,
                              const char *key, const zn_schema_t *schema, void *obj, uint64_t *gen,
                              zn_fault_t *fault);

/* Visit every record of TABLE (or, with INDEX, those whose INDEX value is VALUE): FN gets the
 * raw record and returns 0 to go on or a negative code to stop with it. */
typedef int(zn__api_visit_fn)(void *arg, const zn_store_record_t *rec);
ZN_MUST_CHECK int zn__api_scan(zn_api_t *self, zn_store_read_t *txn, const char *table,
                               const char *index, const char *value, zn__api_visit_fn *fn,
                               void *arg);

/* Visit every record of TABLE whose key starts with PREFIX, in key order. */
ZN_MUST_CHECK int zn__api_scan_prefix(zn_api_t *self, zn_store_read_t *txn, const char *table,
                                      const char *prefix, zn__api_visit_fn *fn, void *arg);

/* Send BATCH through the conductor; FN(ARG, fault) runs once on the loop thread. Counts as
 * pending work. Returns 0 or a negative errno (FN never runs). */
ZN_MUST_CHECK int zn__api_write(zn_api_t *self, const zn_ctx_t *ctx, const zn_batch_t *batch,
                                zn_sclient_done_fn *fn, void *arg);

/* Write BATCH through the conductor and, once committed, answer REQ with STATUS and BODY
 * (stolen; NULL for none); a refused condition (ZN_ECONFLICT) is answered 409 with
 * CONFLICT_WORDS (copied), any other failure with its error. Returns ZN_DEFERRED, or a negative
 * code with FAULT when nothing was sent (BODY freed). */
ZN_MUST_CHECK int zn__api_write_reply(zn_api_t *self, zn_rest_req_t *req, const zn_batch_t *batch,
                                      unsigned status, json_t *body, const char *conflict_words,
                                      zn_fault_t *fault);

/* The context of a call made on behalf of REQ (the token borrowed from REQ). */
void zn__api_ctx(const zn_rest_req_t *req, zn_ctx_t *out);

/* A read-modify-write of one instance, conditioned on its generation and retried on conflict.
 * MUTATE changes INST (and may add writes to BATCH): it returns 0 to write INST back, ZN_EDONE
 * to write nothing (DONE then sees code 0), or a negative code with FAULT. DONE gets the
 * instance as written (or as read, for ZN_EDONE; NULL on failure) and the outcome. */
typedef int(zn__api_mutate_fn)(void *arg, zn_store_read_t *txn, zn_cell_instance_t *inst,
                               zn_batch_t *batch, zn_fault_t *fault);
typedef void(zn__api_done_fn)(void *arg, const zn_cell_instance_t *inst, const zn_fault_t *fault);
void zn__api_inst_update(zn_api_t *self, const zn_ctx_t *ctx, const char *instance_id,
                         zn__api_mutate_fn *mutate, zn__api_done_fn *done, void *arg);

/* Start a new action of INST (create, stop, delete, ...): the next event row goes into BATCH
 * and INST's event_seq moves on, so that the conductor finishes that event. */
ZN_MUST_CHECK int zn__api_event_start(zn_batch_t *batch, zn_cell_instance_t *inst,
                                      const zn_ctx_t *ctx, const char *action, const char *event);

/* Finish INST's current action event with RESULT ("Success", "Error") and MESSAGE: the updated
 * row goes into BATCH (nothing when the row is gone). */
ZN_MUST_CHECK int zn__api_event_finish(zn_api_t *self, zn_store_read_t *txn,
                                       const zn_cell_instance_t *inst, zn_batch_t *batch,
                                       const char *result, const char *message);

/* Give back the claim of INSTANCE_ID if one is left (its instance is gone): the claim goes and
 * its host's usage shrinks, in one conditional write. Fire and forget (logged). */
void zn__api_release_orphan_claim(zn_api_t *self, const zn_ctx_t *ctx, const char *instance_id);

/* Replace *FIELD with a copy of VALUE (NULL or "" clear it). */
void zn__api_set_str(char **field, const char *value);

/* ---- views and checks (zn_api.c) ---------------------------------------------------------- */

/* "2026-03-01T10:22:04Z" (Nova's timestamps) into OUT (32 bytes); "" for 0. */
void zn__api_iso(int64_t wall_ms, char out[32]);

/* [{rel self, href BASE/v2.1/COLLECTION/ID}, {rel bookmark, href BASE/COLLECTION/ID}]. */
json_t *zn__api_links(const zn_rest_req_t *req, const char *collection, const char *id);

/* The instance ID readable by REQ's caller, into INST (release with zn_schema_release).
 * Returns 0 or -ENOENT "Instance ID could not be found." (another project's too). */
ZN_MUST_CHECK int zn__api_instance_get(zn_api_t *self, zn_rest_req_t *req, const char *id,
                                       zn_cell_instance_t *inst, zn_fault_t *fault);

/* The flavor ID (release with zn_schema_release). -ENOENT "Flavor ID could not be found." */
ZN_MUST_CHECK int zn__api_flavor_get(zn_api_t *self, zn_store_read_t *txn, const char *id,
                                     zn_cell_flavor_t *flavor, zn_fault_t *fault);

/* The 2.1 server document of INST for REQ's caller (admin fields for admins). */
json_t *zn__api_server_view(zn_api_t *self, zn_rest_req_t *req, zn_store_read_t *txn,
                            const zn_cell_instance_t *inst);

/* A project's limits (quotas row or the defaults) and usage (quota_usage row or zero; *gen
 * ZN_BATCH_GEN_ABSENT when none). */
ZN_MUST_CHECK int zn__api_quota_read(zn_api_t *self, zn_store_read_t *txn, const char *project_id,
                                     zn_cell_quota_t *limits, zn_cell_quota_t *usage, uint64_t *gen,
                                     zn_fault_t *fault);

/* ---- peers (zn_api.c) --------------------------------------------------------------------- */

/* Cast METHOD {instance_id, ...BODY's other pairs} to the compute agent of HOST (its cast
 * endpoint from the hosts table). Returns 0, or a negative code with FAULT when no live
 * connection took it (the caller falls back). */
ZN_MUST_CHECK int zn__api_cast(zn_api_t *self, const char *host, const char *method,
                               const zn_ctx_t *ctx, zn_buf_t body, zn_fault_t *fault);

/* Call METHOD on the compute agent of HOST (its call endpoint from the hosts table). Returns 0
 * (FN runs later) or a negative code with FAULT (FN never runs). */
ZN_MUST_CHECK int zn__api_compute_call(zn_api_t *self, const char *host, const char *method,
                                       const zn_ctx_t *ctx, zn_buf_t body, zn_reply_fn *fn,
                                       void *arg, zn_fault_t *fault);

/* Answer REQ with the error of a failed peer call: the peer's words, with 404/409/400 kept and
 * everything else a 503 naming the peer. */
void zn__api_peer_error(zn_rest_req_t *req, const char *peer, const zn_fault_t *fault);

/* Nova's 400 words for volume ID whose volume_get REPLY does not say "available" (Nova attaches
 * and boots only from available volumes), or NULL when it does or says nothing; free them. */
char *zn__api_volume_unavailable(const char *id, const zn_env_t *reply);

/* Add IDS (COUNT instance ids, borrowed until DONE runs) to server group GROUP_ID of CTX's
 * project, conditioned on the group's generation and retried on conflict; DONE(ARG, fault)
 * runs once: code 0, or -EINVAL (no such group in the project), ZN_EQUOTA (full), or the
 * write's error. */
typedef void(zn__api_joined_fn)(void *arg, const zn_fault_t *fault);
void zn__api_group_join(zn_api_t *self, const zn_ctx_t *ctx, const char *group_id, char **ids,
                        size_t count, zn__api_joined_fn *done, void *arg);

/* Take INSTANCE_ID out of server group GROUP_ID's members (a deleted server); fire and forget
 * (a group gone meanwhile is fine). */
void zn__api_group_leave(zn_api_t *self, const zn_ctx_t *ctx, const char *group_id,
                         const char *instance_id);

/* Answer every create still waiting for its write (503) and free the lanes (shutdown). */
void zn__api_lanes_destroy(zn_api_t *self);

/* Pending asynchronous work: count up when it starts, down when it ends. */
void zn__api_hold(zn_api_t *self);
void zn__api_release(zn_api_t *self);

#endif
