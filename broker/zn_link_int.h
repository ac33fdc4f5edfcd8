/* SPDX-License-Identifier: Apache-2.0 */
/* zn_link_int.h - how every zinc socket is set up: limits, heartbeats, CURVE. broker/ only. */
#ifndef ZN_LINK_INT_H
#define ZN_LINK_INT_H

#include <czmq.h>

#include "zn_buf.h"
#include "zn_err.h"
#include "zn_keys.h"

/* ZeroMQ-level liveness: a connection whose peer stops answering pings is dropped after this. */
#define ZN_LINK_HEARTBEAT_IVL_MS     1000
#define ZN_LINK_HEARTBEAT_TIMEOUT_MS 3000

/* Frame limits, heartbeats and linger shared by all sockets. Oversized frames make libzmq drop
 * the connection before any byte reaches our decoder. */
void zn__link_tune(zsock_t *sock, int linger_ms);

/* Make SOCK a CURVE server with KEYS whose clients ZAP checks under DOMAIN (which must already
 * be registered with zn_zap_register). */
void zn__link_secure_server(zsock_t *sock, const zn_keys_t *keys, const char *domain);

/* Make SOCK a CURVE client of the server whose public key is SERVER_PUBLIC (Z85). Returns 0 or
 * -EINVAL when SERVER_PUBLIC is not a key. */
ZN_MUST_CHECK int zn__link_secure_client(zsock_t *sock, const zn_keys_t *keys,
                                         const char *server_public);

/* Bind SOCK to ENDPOINT; on success *bound is the actual endpoint (wildcard port resolved),
 * owned by the caller. Returns 0 or a negative errno with FAULT. */
ZN_MUST_CHECK int zn__link_bind(zsock_t *sock, const char *endpoint, char **bound,
                                zn_fault_t *fault);

/* Send one frame; when ROUTING_ID.len > 0 first send that routing frame (ROUTER sockets).
 * FLAGS are zmq send flags (ZMQ_DONTWAIT). Returns 0 or a negative errno (-EAGAIN when nobody
 * can take it now, -EHOSTUNREACH when a ROUTER no longer knows the peer). */
ZN_MUST_CHECK int zn__link_send(zsock_t *sock, zn_buf_t routing_id, zn_buf_t frame, int flags);

#endif
