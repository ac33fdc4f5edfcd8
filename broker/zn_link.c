/* SPDX-License-Identifier: Apache-2.0 */
/* zn_link.c - socket setup shared by servers, clients and casters. */
#include <errno.h>
#include <string.h>

#include "zn_link_int.h"
#include "zn_mp.h"

void
zn__link_tune(zsock_t *sock, int linger_ms)
{
    zsock_set_linger(sock, linger_ms);
    /* A few bytes of slack over the frame limit: the ROUTER/DEALER envelope frames. */
    zsock_set_maxmsgsize(sock, (int)ZN_FRAME_MAX_BYTES + 1024);
    zsock_set_heartbeat_ivl(sock, ZN_LINK_HEARTBEAT_IVL_MS);
    zsock_set_heartbeat_timeout(sock, ZN_LINK_HEARTBEAT_TIMEOUT_MS);
    zsock_set_heartbeat_ttl(sock, ZN_LINK_HEARTBEAT_TIMEOUT_MS);
    zsock_set_sndhwm(sock, 100000);
    zsock_set_rcvhwm(sock, 100000);
}

void
zn__link_secure_server(zsock_t *sock, const zn_keys_t *keys, const char *domain)
{
    zsock_set_zap_domain(sock, domain);
    zsock_set_curve_server(sock, 1);
    zsock_set_curve_secretkey(sock, zn_keys_secret(keys));
}

int
zn__link_secure_client(zsock_t *sock, const zn_keys_t *keys, const char *server_public)
{
    uint8_t bin[32];
    if (server_public == NULL || strlen(server_public) != ZN_KEY_Z85_LEN ||
        zmq_z85_decode(bin, server_public) == NULL) {
        return -EINVAL;
    }
    zsock_set_curve_serverkey(sock, server_public);
    zsock_set_curve_publickey(sock, zn_keys_public(keys));
    zsock_set_curve_secretkey(sock, zn_keys_secret(keys));
    return 0;
}

int
zn__link_bind(zsock_t *sock, const char *endpoint, char **bound, zn_fault_t *fault)
{
    *bound = NULL;
    if (zsock_bind(sock, "%s", endpoint) < 0) {
        int err = zmq_errno();
        return zn_fault_set(fault, -err, "cannot bind %s: %s", endpoint, zmq_strerror(err));
    }
    char *last = zsock_last_endpoint(sock);
    ZN_ASSERT(last != NULL);
    *bound = last;
    return 0;
}

int
zn__link_send(zsock_t *sock, zn_buf_t routing_id, zn_buf_t frame, int flags)
{
    void *handle = zsock_resolve(sock);
    if (routing_id.len > 0 &&
        zmq_send(handle, routing_id.ptr, routing_id.len, ZMQ_SNDMORE | flags) < 0) {
        return -zmq_errno();
    }
    if (zmq_send(handle, frame.ptr, frame.len, flags) < 0) {
        return -zmq_errno();
    }
    return 0;
}
