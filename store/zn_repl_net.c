/* SPDX-License-Identifier: Apache-2.0 */
/* zn_repl_net.c - libraft's TCP transport wrapped so that a test can partition a node. */
#include <string.h>
#include <sys/socket.h>

#include "zn_mem.h"
#include "zn_repl_int.h"

/* A connect request on its way through the wrapper. */
typedef struct s_connect {
    struct raft_uv_connect inner;
    struct raft_uv_connect *outer;
    raft_uv_connect_cb outer_cb;
    zn__repl_net_t *net;
} s_connect_t;

static zn__repl_net_t *
s_net(struct raft_uv_transport *t)
{
    return t->impl;
}

/* Streams handed over by the TCP transport are allocated with raft's heap. */
static void
s_free_handle(uv_handle_t *handle)
{
    raft_free(handle);
}

static int
s_init(struct raft_uv_transport *t, raft_id id, const char *address)
{
    zn__repl_net_t *net = s_net(t);
    int rc = net->tcp.init(&net->tcp, id, address);
    if (rc != 0) {
        memcpy(t->errmsg, net->tcp.errmsg, sizeof(t->errmsg));
    }
    return rc;
}

static void
s_accepted(struct raft_uv_transport *tcp, raft_id id, const char *address,
           struct uv_stream_s *stream)
{
    zn__repl_net_t *net = tcp->data;
    if (net->isolated) {
        uv_close((uv_handle_t *)stream, s_free_handle);
        return;
    }
    net->accept_cb(&net->outer, id, address, stream);
}

static int
s_listen(struct raft_uv_transport *t, raft_uv_accept_cb cb)
{
    zn__repl_net_t *net = s_net(t);
    net->accept_cb = cb;
    int rc = net->tcp.listen(&net->tcp, s_accepted);
    if (rc != 0) {
        memcpy(t->errmsg, net->tcp.errmsg, sizeof(t->errmsg));
    }
    return rc;
}

static void
s_connected(struct raft_uv_connect *req, struct uv_stream_s *stream, int status)
{
    s_connect_t *c = req->data;
    if (status == 0 && c->net->isolated) {
        uv_close((uv_handle_t *)stream, s_free_handle);
        stream = NULL;
        status = RAFT_NOCONNECTION;
    }
    c->outer_cb(c->outer, stream, status);
    zn_free(c);
}

static int
s_connect(struct raft_uv_transport *t, struct raft_uv_connect *req, raft_id id, const char *address,
          raft_uv_connect_cb cb)
{
    zn__repl_net_t *net = s_net(t);
    s_connect_t *c = zn_calloc(1, sizeof(*c));
    c->inner.data = c;
    c->outer = req;
    c->outer_cb = cb;
    c->net = net;
    int rc = net->tcp.connect(&net->tcp, &c->inner, id, address, s_connected);
    if (rc != 0) {
        memcpy(t->errmsg, net->tcp.errmsg, sizeof(t->errmsg));
        zn_free(c);
    }
    return rc;
}

static void
s_closed(struct raft_uv_transport *tcp)
{
    zn__repl_net_t *net = tcp->data;
    if (net->close_cb != NULL) {
        net->close_cb(&net->outer);
    }
}

static void
s_close(struct raft_uv_transport *t, raft_uv_transport_close_cb cb)
{
    zn__repl_net_t *net = s_net(t);
    net->close_cb = cb;
    net->tcp.close(&net->tcp, s_closed);
}

int
zn__repl_net_init(zn__repl_net_t *net, uv_loop_t *loop)
{
    memset(net, 0, sizeof(*net));
    net->loop = loop;
    int rc = raft_uv_tcp_init(&net->tcp, loop);
    if (rc != 0) {
        return rc;
    }
    net->tcp.data = net;
    /* raft_uv_init takes OUTER's data for itself; the wrapper finds NET through TCP's. */
    net->outer.impl = net;
    net->outer.init = s_init;
    net->outer.listen = s_listen;
    net->outer.connect = s_connect;
    net->outer.close = s_close;
    return 0;
}

void
zn__repl_net_release(zn__repl_net_t *net)
{
    if (net->tcp.impl != NULL) {
        raft_uv_tcp_close(&net->tcp);
    }
}

/* Shut down one established TCP stream; listening sockets stay. */
static void
s_cut(uv_handle_t *handle, void *arg)
{
    (void)arg;
    uv_os_fd_t fd;
    if (handle->type != UV_TCP || uv_is_closing(handle) || uv_fileno(handle, &fd) != 0) {
        return;
    }
    int listening = 0;
    socklen_t len = sizeof(listening);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 && listening == 0) {
        (void)shutdown(fd, SHUT_RDWR); /* libraft sees EOF or EPIPE and closes the stream */
    }
}

void
zn__repl_net_set_isolated(zn__repl_net_t *net, bool isolated)
{
    net->isolated = isolated;
    if (isolated) {
        uv_walk(net->loop, s_cut, NULL);
    }
}
