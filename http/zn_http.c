/* SPDX-License-Identifier: Apache-2.0 */
/* zn_http.c - libmicrohttpd in external-loop epoll mode, driven from a zloop. */
#include "zn_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>
#include <sodium.h>

#include "zn_json.h"
#include "zn_log.h"
#include "zn_mem.h"
#include "zn_uuid.h"

#define S_HEADERS_MAX         8
#define S_TICK_MS             250
#define S_FILE_BLOCK_BYTES    ((size_t)256 * 1024)  /* one read of a file answer */
#define S_MEMORY_BYTES        ((size_t)32 * 1024)   /* a connection's memory pool (MHD's default) */
#define S_STREAM_MEMORY_BYTES ((size_t)1024 * 1024) /* the same where bodies are streamed */

struct zn_http {
    struct MHD_Daemon *daemon;
    zn_http_handler_fn *handler;
    zn_http_handler_fn *on_headers;
    void *arg;
    size_t body_max_bytes;
    char *request_id_header;
    zloop_t *loop;
    zmq_pollitem_t item;
    int timer_id;
    int again_id;       /* a one-shot timer while MHD has work left over, else -1 */
    zlistx_t *deferred; /* zn_http_req_t * waiting for their answer */
    bool stopping;
};

struct zn_http_req {
    zn_http_t *server;
    struct MHD_Connection *conn;
    char *method;
    char *path;
    char *body;
    size_t len;
    size_t cap;
    bool too_big;
    bool in_handler;
    bool handled;   /* the handler ran (or an early answer was queued) */
    bool streaming; /* the body goes to SINK, not to BODY */
    int sink_rc;    /* the sink's first refusal; the rest of the body is dropped */
    bool sink_aborted;
    zn_http_sink_t sink;
    zmq_pollitem_t watch; /* a streamed body's socket, while watched */
    bool watching;
    void *user; /* a layer above's, with its destructor */
    void (*user_free)(void *user);
    bool deferred;
    void *deferred_handle;
    struct MHD_Response *response;
    unsigned status;
    char *header_names[S_HEADERS_MAX];
    char *header_values[S_HEADERS_MAX];
    size_t header_count;
    char req_id[ZN_REQ_ID_LEN + 1];
    char peer[INET6_ADDRSTRLEN];
};

static void
s_unwatch(zn_http_req_t *req)
{
    if (req->watching) {
        zloop_poller_end(req->server->loop, &req->watch);
        req->watching = false;
    }
}

static void
s_req_free(zn_http_req_t *req)
{
    s_unwatch(req);
    if (req->user != NULL && req->user_free != NULL) {
        req->user_free(req->user);
    }
    for (size_t i = 0; i < req->header_count; i++) {
        zn_free(req->header_names[i]);
        zn_free(req->header_values[i]);
    }
    if (req->response != NULL) {
        MHD_destroy_response(req->response);
    }
    if (req->body != NULL) {
        sodium_memzero(req->body, req->cap); /* bodies carry passwords */
    }
    zn_free(req->method);
    zn_free(req->path);
    zn_free(req->body);
    zn_free(req);
}

static void
s_peer_text(struct MHD_Connection *conn, char *out, size_t cap)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    out[0] = '\0';
    if (info == NULL || info->client_addr == NULL) {
        return;
    }
    const struct sockaddr *sa = info->client_addr;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in4 = (const void *)sa;
        (void)inet_ntop(AF_INET, &in4->sin_addr, out, (socklen_t)cap); /* cap always fits */
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *)sa;
        (void)inet_ntop(AF_INET6, &in6->sin6_addr, out, (socklen_t)cap);
    }
}

static zn_http_req_t *
s_req_new(zn_http_t *server, struct MHD_Connection *conn, const char *method, const char *url)
{
    zn_http_req_t *req = zn_calloc(1, sizeof(*req));
    req->server = server;
    req->conn = conn;
    req->method = zn_strdup(method);
    req->path = zn_strdup(url);
    zn_uuid_request_id(req->req_id);
    s_peer_text(conn, req->peer, sizeof(req->peer));
    const char *length = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    if (length != NULL && strtoull(length, NULL, 10) > server->body_max_bytes) {
        req->too_big = true;
    }
    return req;
}

static void
s_req_append(zn_http_req_t *req, const char *data, size_t size)
{
    if (req->too_big || size > req->server->body_max_bytes - req->len) {
        req->too_big = true;
        return;
    }
    if (req->len + size > req->cap) {
        /* Grow by copying, not realloc, so that no unwiped copy of a password is left behind. */
        size_t cap = req->len + size > 2 * req->cap ? req->len + size : 2 * req->cap;
        char *body = zn_malloc(cap);
        if (req->body != NULL) {
            memcpy(body, req->body, req->len);
            sodium_memzero(req->body, req->cap);
            zn_free(req->body);
        }
        req->body = body;
        req->cap = cap;
    }
    memcpy(req->body + req->len, data, size);
    req->len += size;
}

static enum MHD_Result
s_queue(zn_http_req_t *req)
{
    enum MHD_Result rc = MHD_queue_response(req->conn, req->status, req->response);
    MHD_destroy_response(req->response);
    req->response = NULL;
    return rc;
}

static enum MHD_Result
s_dispatch(zn_http_req_t *req)
{
    req->handled = true;
    s_unwatch(req);
    if (req->too_big) {
        char *body = zn_json_error_body(413, "request body exceeds the size limit");
        zn_http_respond(req, 413, "application/json", body, strlen(body));
        zn_str_free(&body);
    } else {
        req->in_handler = true;
        req->server->handler(req->server->arg, req);
        req->in_handler = false;
    }
    if (req->response != NULL) {
        return s_queue(req);
    }
    ZN_ASSERT(req->deferred); /* a handler either answers or defers */
    MHD_suspend_connection(req->conn);
    return MHD_YES;
}

/* Give the request to on_headers, which may stream its body or answer at once. */
static enum MHD_Result
s_on_headers(zn_http_req_t *req)
{
    zn_http_t *server = req->server;
    if (server->on_headers == NULL) {
        return MHD_YES;
    }
    server->on_headers(server->arg, req);
    if (req->response == NULL) {
        return MHD_YES;
    }
    req->handled = true;
    s_unwatch(req);
    return s_queue(req);
}

static void
s_req_take(zn_http_req_t *req, const char *data, size_t size)
{
    if (req->handled) {
        return; /* answered early: the body is of no use */
    }
    if (!req->streaming) {
        s_req_append(req, data, size);
        return;
    }
    if (req->sink_rc == 0) {
        req->sink_rc = req->sink.write(req->sink.arg, data, size);
    }
}

static enum MHD_Result
s_on_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
            const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    (void)version;
    zn_http_req_t *req = *con_cls;
    if (req == NULL) {
        req = s_req_new(cls, conn, method, url);
        *con_cls = req;
        return s_on_headers(req);
    }
    if (*upload_data_size > 0) {
        s_req_take(req, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (req->handled && !req->deferred) {
        return MHD_YES; /* answered early from on_headers: the answer is already queued */
    }
    if (req->deferred) {
        /* Resumed: the answer is ready, or this is a spurious wake-up. */
        return req->response != NULL ? s_queue(req) : MHD_YES;
    }
    return s_dispatch(req);
}

static void
s_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
               enum MHD_RequestTerminationCode code)
{
    (void)conn;
    (void)code;
    zn_http_t *self = cls;
    zn_http_req_t *req = *con_cls;
    if (req == NULL) {
        return;
    }
    if (req->deferred_handle != NULL) {
        zlistx_delete(self->deferred, req->deferred_handle);
    }
    if (!req->handled) {
        zn_http_stream_abort(req);
    }
    s_req_free(req);
    *con_cls = NULL;
}

static int
s_parse_endpoint(const char *endpoint, struct sockaddr_in *addr, zn_fault_t *fault)
{
    const char *colon = endpoint != NULL ? strrchr(endpoint, ':') : NULL;
    if (colon == NULL || colon == endpoint || colon - endpoint >= INET_ADDRSTRLEN) {
        return zn_fault_set(fault, -EINVAL, "http endpoint %s: expected HOST:PORT",
                            endpoint != NULL ? endpoint : "(null)");
    }
    char host[INET_ADDRSTRLEN];
    memcpy(host, endpoint, (size_t)(colon - endpoint));
    host[colon - endpoint] = '\0';
    char *end = NULL;
    unsigned long port = strtoul(colon + 1, &end, 10);
    memset(addr, 0, sizeof(*addr));
    addr->sin_family = AF_INET;
    addr->sin_port = htons((uint16_t)port);
    if (*end != '\0' || port > 65535 || inet_pton(AF_INET, host, &addr->sin_addr) != 1) {
        return zn_fault_set(fault, -EINVAL, "http endpoint %s: expected IPV4:PORT", endpoint);
    }
    return 0;
}

int
zn_http_open(zn_http_t **out, const zn_http_opts_t *opts, zn_http_handler_fn *handler, void *arg,
             zn_fault_t *fault)
{
    *out = NULL;
    struct sockaddr_in addr;
    int rc = s_parse_endpoint(opts->endpoint, &addr, fault);
    if (rc < 0) {
        return rc;
    }
    zn_http_t *self = zn_calloc(1, sizeof(*self));
    self->handler = handler;
    self->on_headers = opts->on_headers;
    self->arg = arg;
    self->body_max_bytes = opts->body_max_bytes ? opts->body_max_bytes : ZN_HTTP_BODY_MAX_DEFAULT;
    self->request_id_header =
        zn_strdup(opts->request_id_header ? opts->request_id_header : "X-Openstack-Request-Id");
    self->deferred = zlistx_new();
    self->timer_id = -1;
    self->again_id = -1;
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
    /* Streamed bodies arrive in pieces of half the connection's memory: more memory, fewer and
     * larger reads. MHD's default (32 KiB) stays for servers that do not stream. */
    size_t memory = opts->on_headers != NULL ? S_STREAM_MEMORY_BYTES : S_MEMORY_BYTES;
    self->daemon = MHD_start_daemon(flags, 0, NULL, NULL, s_on_access, self, MHD_OPTION_SOCK_ADDR,
                                    &addr, MHD_OPTION_NOTIFY_COMPLETED, s_on_completed, self,
                                    MHD_OPTION_CONNECTION_TIMEOUT,
                                    (unsigned)(opts->timeout_s > 0 ? opts->timeout_s : 30),
                                    MHD_OPTION_CONNECTION_MEMORY_LIMIT, memory, MHD_OPTION_END);
    if (self->daemon == NULL) {
        int err = errno != 0 ? errno : EADDRINUSE;
        zn_http_destroy(&self);
        return zn_fault_set(fault, -err, "http %s: cannot listen: %s", opts->endpoint,
                            strerror(err));
    }
    *out = self;
    return 0;
}

void
zn_http_destroy(zn_http_t **self_p)
{
    zn_http_t *self = *self_p;
    if (self == NULL) {
        return;
    }
    if (self->loop != NULL) {
        zloop_poller_end(self->loop, &self->item);
        zloop_timer_end(self->loop, self->timer_id);
        if (self->again_id >= 0) {
            zloop_timer_end(self->loop, self->again_id);
        }
    }
    if (self->daemon != NULL) {
        /* MHD refuses to stop with suspended connections: answer them first. */
        self->stopping = true;
        zn_http_req_t *req = NULL;
        while ((req = zlistx_first(self->deferred)) != NULL) {
            zn_http_respond(req, 503, NULL, "", 0); /* takes REQ off the list */
        }
        (void)MHD_run(self->daemon); /* best effort: the daemon stops next anyway */
        MHD_stop_daemon(self->daemon);
    }
    zlistx_destroy(&self->deferred);
    zn_free(self->request_id_header);
    zn_free(self);
    *self_p = NULL;
}

/* Run MHD until it has nothing more to do at once (it reports a zero timeout while work is
 * pending), bounded so that a busy daemon cannot starve the loop. */
static void
s_run_now(zn_http_t *self)
{
    for (int i = 0; i < 8; i++) {
        MHD_UNSIGNED_LONG_LONG timeout_ms = 0;
        (void)MHD_run(self->daemon); /* failures surface on the next run */
        if (MHD_get_timeout(self->daemon, &timeout_ms) != MHD_YES || timeout_ms > 0) {
            break;
        }
    }
}

static int s_on_ready(zloop_t *loop, zmq_pollitem_t *item, void *arg);

static int
s_on_again(zloop_t *loop, int timer_id, void *arg)
{
    (void)timer_id;
    zn_http_t *self = arg;
    self->again_id = -1;
    return s_on_ready(loop, NULL, arg);
}

static int
s_on_ready(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)item;
    zn_http_t *self = arg;
    s_run_now(self);
    /* MHD's epoll is edge-triggered: a connection with more bytes waiting than one run takes
     * (a streamed upload) raises no new event, so come back at once rather than at the tick. */
    MHD_UNSIGNED_LONG_LONG timeout_ms = 1;
    if (self->again_id < 0 && MHD_get_timeout(self->daemon, &timeout_ms) == MHD_YES &&
        timeout_ms == 0) {
        self->again_id = zloop_timer(loop, 1, 1, s_on_again, self);
    }
    return 0;
}

static int
s_on_tick(zloop_t *loop, int timer_id, void *arg)
{
    (void)timer_id;
    return s_on_ready(loop, NULL, arg);
}

int
zn_http_attach(zn_http_t *self, zloop_t *loop)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(self->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    if (info == NULL || self->loop != NULL) {
        return -EINVAL;
    }
    self->item = (zmq_pollitem_t){NULL, info->epoll_fd, ZMQ_POLLIN, 0};
    if (zloop_poller(loop, &self->item, s_on_ready, self) != 0) {
        return -EINVAL;
    }
    self->loop = loop;
    /* MHD's connection timeouts need a periodic run even when no socket is ready. */
    self->timer_id = zloop_timer(loop, S_TICK_MS, 0, s_on_tick, self);
    return self->timer_id < 0 ? -EINVAL : 0;
}

uint16_t
zn_http_port(const zn_http_t *self)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(self->daemon, MHD_DAEMON_INFO_BIND_PORT);
    return info != NULL ? info->port : 0;
}

const char *
zn_http_method(const zn_http_req_t *req)
{
    return req->method;
}

const char *
zn_http_path(const zn_http_req_t *req)
{
    return req->path;
}

const char *
zn_http_header(const zn_http_req_t *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *
zn_http_query(const zn_http_req_t *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *
zn_http_body(const zn_http_req_t *req, size_t *len)
{
    *len = req->len;
    return req->body != NULL ? req->body : "";
}

const char *
zn_http_request_id(const zn_http_req_t *req)
{
    return req->req_id;
}

const char *
zn_http_peer(const zn_http_req_t *req)
{
    return req->peer;
}

void
zn_http_add_header(zn_http_req_t *req, const char *name, const char *value)
{
    ZN_ASSERT(req->header_count < S_HEADERS_MAX);
    req->header_names[req->header_count] = zn_strdup(name);
    req->header_values[req->header_count] = zn_strdup(value);
    req->header_count++;
}

void
zn_http_defer(zn_http_req_t *req)
{
    ZN_ASSERT(req->in_handler && !req->deferred);
    req->deferred = true;
    req->deferred_handle = zlistx_add_end(req->server->deferred, req);
}

bool
zn_http_is_deferred(const zn_http_req_t *req)
{
    return req->deferred;
}

static void
s_respond_with(zn_http_req_t *req, unsigned status, const char *content_type,
               struct MHD_Response *response)
{
    ZN_ASSERT(req->response == NULL);
    for (size_t i = 0; i < req->header_count; i++) {
        (void)MHD_add_response_header(response, req->header_names[i], req->header_values[i]);
    }
    (void)MHD_add_response_header(response, req->server->request_id_header, req->req_id);
    if (content_type != NULL) {
        (void)MHD_add_response_header(response, "Content-Type", content_type);
    }
    req->response = response;
    req->status = status;
    if (req->deferred && !req->in_handler) {
        if (req->deferred_handle != NULL) {
            zlistx_delete(req->server->deferred, req->deferred_handle);
            req->deferred_handle = NULL;
        }
        MHD_resume_connection(req->conn);
        /* In external-loop mode nothing wakes the loop for a resumed connection: run MHD now
         * (we are on the loop, outside any MHD callback) so the answer goes out at once. */
        if (!req->server->stopping) {
            s_run_now(req->server);
        }
    }
}

/* A streamed body's socket is readable. MHD's epoll is edge-triggered and takes a short read
 * for "drained", so a client that sends its last bytes and hangs up at once leaves an end of
 * file that MHD never reads: the upload would hang until the connection timeout. Seeing the
 * end of file here, shut the socket down: that raises the new event MHD needs to close it. */
static int
s_on_stream_fd(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    zn_http_req_t *req = arg;
    zn_http_t *server = req->server;
    char byte;
    if (recv(item->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0) {
        s_unwatch(req);
        (void)shutdown(item->fd, SHUT_RDWR); /* best effort: the timeout still applies */
    }
    s_run_now(server); /* may end REQ */
    return 0;
}

void
zn_http_stream_body(zn_http_req_t *req, const zn_http_sink_t *sink)
{
    ZN_ASSERT(!req->handled && req->len == 0 && sink->write != NULL);
    req->sink = *sink;
    req->streaming = true;
    req->too_big = false; /* the sink enforces its own limit */
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    zloop_t *loop = req->server->loop;
    if (info == NULL || loop == NULL) {
        return;
    }
    req->watch = (zmq_pollitem_t){NULL, info->connect_fd, ZMQ_POLLIN, 0};
    if (zloop_poller(loop, &req->watch, s_on_stream_fd, req) == 0) {
        zloop_poller_set_tolerant(loop, &req->watch);
        req->watching = true;
    }
}

void
zn_http_stream_abort(zn_http_req_t *req)
{
    if (req->streaming && !req->sink_aborted && req->sink.abort != NULL) {
        req->sink_aborted = true;
        req->sink.abort(req->sink.arg);
    }
}

void
zn_http_set_user(zn_http_req_t *req, void *user, void (*free_fn)(void *user))
{
    req->user = user;
    req->user_free = free_fn;
}

void *
zn_http_user(const zn_http_req_t *req)
{
    return req->user;
}

int64_t
zn_http_content_length(const zn_http_req_t *req)
{
    const char *text = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Content-Length");
    if (text == NULL || *text < '0' || *text > '9') {
        return -1;
    }
    char *end = NULL;
    errno = 0;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || value > INT64_MAX) {
        return -1;
    }
    return (int64_t)value;
}

/* A file answer: MHD's own fd responses go out 4 KiB per run in this mode, so read the file
 * ourselves in large blocks (each a bounded pread from the page cache). */
typedef struct s_file_body {
    int fd;
    uint64_t offset;
} s_file_body_t;

static ssize_t
s_file_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    s_file_body_t *file = cls;
    ssize_t n = 0;
    do {
        n = pread(file->fd, buf, max, (off_t)(file->offset + pos));
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    return n == 0 ? MHD_CONTENT_READER_END_OF_STREAM : n;
}

static void
s_file_free(void *cls)
{
    s_file_body_t *file = cls;
    (void)close(file->fd);
    zn_free(file);
}

void
zn_http_respond_fd(zn_http_req_t *req, unsigned status, const char *content_type, int fd,
                   uint64_t offset, uint64_t size)
{
    ZN_ASSERT(req->response == NULL);
    s_file_body_t *file = zn_calloc(1, sizeof(*file));
    file->fd = fd;
    file->offset = offset;
    struct MHD_Response *response =
        MHD_create_response_from_callback(size, S_FILE_BLOCK_BYTES, s_file_read, file, s_file_free);
    ZN_ASSERT(response != NULL); /* only fails on out-of-memory */
    s_respond_with(req, status, content_type, response);
}

void
zn_http_respond(zn_http_req_t *req, unsigned status, const char *content_type, const char *body,
                size_t len)
{
    ZN_ASSERT(req->response == NULL);
    /* MUST_COPY never writes through the pointer; MHD 0.9.75 has no const variant. */
    struct MHD_Response *response =
        MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
    ZN_ASSERT(response != NULL); /* only fails on out-of-memory */
    s_respond_with(req, status, content_type, response);
}
