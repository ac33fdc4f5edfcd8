/* SPDX-License-Identifier: Apache-2.0 */
/* zn_secure.h - an agent's CURVE material from its key directory: its own pair, the keys it
 * accepts, and the public key of each peer it calls. */
#ifndef ZN_SECURE_H
#define ZN_SECURE_H

#include <stdbool.h>

#include <czmq.h>

#include "zn_client.h"
#include "zn_err.h"
#include "zn_keys.h"
#include "zn_metrics.h"

/* Layout of a key directory (one per node, distributed by the deploy tooling):
 *   NAME.key       the key pair of agent NAME (mode 0600; only on NAME's node)
 *   NAME.key.pub   its public half; every *.pub file here is on the allow-list of the agents'
 *                  service sockets, and admin*.key.pub files alone on their admin sockets
 * NAME is the role for controllers ("conductor"), "compute-HOST" for compute agents, "admin"
 * for zincctl. */
typedef struct zn_secure zn_secure_t;

/* With ENABLED false, a plaintext setup: every accessor returns NULL and connections are not
 * encrypted (loopback development only). With ENABLED true, load KEYS_DIR/OWN_NAME.key and the
 * allow-list from KEYS_DIR. Returns 0 or a negative errno with FAULT naming the file. */
ZN_MUST_CHECK int zn_secure_open(zn_secure_t **out, bool enabled, const char *keys_dir,
                                 const char *own_name, zn_fault_t *fault);

void zn_secure_destroy(zn_secure_t **self_p);

/* Our key pair, or NULL in plaintext mode. Borrowed from SELF. */
const zn_keys_t *zn_secure_keys(const zn_secure_t *self);

/* The public keys we accept, or NULL in plaintext mode. Borrowed from SELF. */
const zn_allow_t *zn_secure_allow(const zn_secure_t *self);

/* The operator keys (admin*.key.pub) accepted on admin sockets, or NULL in plaintext mode. */
const zn_allow_t *zn_secure_admin_allow(const zn_secure_t *self);

/* The public key (Z85) of peer NAME, read from KEYS_DIR/NAME.key.pub, into OUT. In plaintext
 * mode OUT is empty and 0 is returned. Returns 0 or a negative errno with FAULT. */
ZN_MUST_CHECK int zn_secure_peer_public(const zn_secure_t *self, const char *name,
                                        char out[ZN_KEY_Z85_LEN + 1], zn_fault_t *fault);

/* True when NAME, a key's name, belongs to a controller or an operator rather than to a
 * hypervisor node ("compute-HOST"): methods flagged ZN_M_CONTROLLER accept only these. */
bool zn_secure_name_is_controller(const char *name);

/* OUT when a key was found, NULL in plaintext mode: for the server_public options. */
const char *zn_secure_public_or_null(const zn_secure_t *self, const char *out);

/* Open a client of the service NAME whose replicas listen on ENDPOINTS (comma-separated),
 * authenticated with SELF's pair against the public key of KEY_NAME (plaintext when SELF is),
 * counting into METRICS (may be NULL), attached to LOOP. With ENDPOINTS NULL or empty, *out is
 * NULL and the answer 0: the caller goes without that service. Returns 0, or a negative errno
 * with FAULT (the peer's key missing, bad endpoints). */
ZN_MUST_CHECK int zn_secure_client_open(const zn_secure_t *self, const char *name,
                                        const char *key_name, const char *endpoints,
                                        zn_metrics_t *metrics, zloop_t *loop, zn_client_t **out,
                                        zn_fault_t *fault);

#endif
