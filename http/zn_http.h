/* SPDX-License-Identifier: Apache-2.0 */
/* zn_http.h - an HTTP/1.1 server (libmicrohttpd) driven by an agent's zloop, so that a REST agent
 * stays on one thread. It reads each request body whole (up to a limit), gives every request an
 * OpenStack request id, and lets a handler answer at once or later (after a worker's reply).
 * Depends on core/ and czmq only: any agent may link it. */
#ifndef ZN_HTTP_H
#define ZN_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <czmq.h>

#include "zn_err.h"

#define ZN_HTTP_BODY_MAX_DEFAULT ((size_t)64 * 1024)

typedef struct zn_http zn_http_t;

/* One request, from its headers until its answer is sent. Borrowed by handlers; a deferred
 * request stays valid until zn_http_respond is called for it (or the server is destroyed). */
typedef struct zn_http_req zn_http_req_t;

/* Handle REQ: call zn_http_respond before returning, or zn_http_defer and respond later.
 * ARG is the one given to zn_http_open. Loop thread. */
typedef void(zn_http_handler_fn)(void *arg, zn_http_req_t *req);

typedef struct zn_http_opts {
    const char *endpoint;          /* "HOST:PORT" to listen on; port 0 picks a free one */
    size_t body_max_bytes;         /* larger bodies get 413; 0: ZN_HTTP_BODY_MAX_DEFAULT */
    int timeout_s;                 /* idle connections are closed after this; 0: 30 */
    const char *request_id_header; /* e.g. "X-Openstack-Request-Id"; NULL: that one */
    /* May be NULL. Called once per request as soon as its headers are in, before any body byte
     * (same ARG as the handler): it may call zn_http_stream_body to stream the body to a sink,
     * or zn_http_respond to refuse the request at once (its body is then never read); else the
     * body is read whole as usual. The handler still runs once the body is in. */
    zn_http_handler_fn *on_headers;
} zn_http_opts_t;

/* Listen per OPTS and call HANDLER with ARG for every complete request. Returns 0, -EINVAL with
 * FAULT (bad endpoint), or -EADDRINUSE / another errno when the daemon cannot start. */
ZN_MUST_CHECK int zn_http_open(zn_http_t **out, const zn_http_opts_t *opts,
                               zn_http_handler_fn *handler, void *arg, zn_fault_t *fault);

/* Stop listening, drop connections (deferred requests included) and free. No-op on NULL. */
void zn_http_destroy(zn_http_t **self_p);

/* Serve on LOOP (a poller on the daemon's epoll fd and a housekeeping timer). Returns 0 or
 * -EINVAL. Call once, before the loop runs. */
ZN_MUST_CHECK int zn_http_attach(zn_http_t *self, zloop_t *loop);

/* The port actually bound. */
uint16_t zn_http_port(const zn_http_t *self);

/* ---- requests (loop thread, borrowed strings live as long as the request) ---------------- */

const char *zn_http_method(const zn_http_req_t *req); /* "GET", "POST", ... */
const char *zn_http_path(const zn_http_req_t *req);   /* without the query string */
/* A request header (case-insensitive NAME) or query argument, or NULL. */
const char *zn_http_header(const zn_http_req_t *req, const char *name);
const char *zn_http_query(const zn_http_req_t *req, const char *name);
/* The body read so far (complete when the handler runs); not NUL-terminated. */
const char *zn_http_body(const zn_http_req_t *req, size_t *len);
/* The request id ("req-<uuid>"), also sent back in the response header. */
const char *zn_http_request_id(const zn_http_req_t *req);
/* The client's address as text ("127.0.0.1"), for rate limits and logs. */
const char *zn_http_peer(const zn_http_req_t *req);

/* Add a response header (both strings copied). Before zn_http_respond. */
void zn_http_add_header(zn_http_req_t *req, const char *name, const char *value);

/* Take REQ past its handler: the connection is suspended until zn_http_respond. */
void zn_http_defer(zn_http_req_t *req);

/* True once zn_http_defer was called for REQ. */
bool zn_http_is_deferred(const zn_http_req_t *req);

/* ---- streaming (bodies too large to hold: image uploads and downloads) -------------------- */

/* LEN bytes of a streamed body, in order. Return 0, or a negative code to refuse the rest: the
 * remaining bytes are then read and dropped, and the handler still runs at the end. */
typedef int(zn_http_sink_write_fn)(void *arg, const char *data, size_t len);

/* The request ended before its handler ran (the client went away mid-body, or the server is
 * stopping): the sink's owner drops what it wrote. Called at most once, never after the
 * handler ran. */
typedef void(zn_http_sink_abort_fn)(void *arg);

typedef struct zn_http_sink {
    zn_http_sink_write_fn *write;
    zn_http_sink_abort_fn *abort; /* may be NULL */
    void *arg;                    /* the sink owner's; never freed by zn_http */
} zn_http_sink_t;

/* From on_headers only: deliver REQ's body to SINK (copied) chunk by chunk instead of buffering
 * it. body_max_bytes does not apply (the sink enforces its own limit); zn_http_body is then
 * empty in the handler. */
void zn_http_stream_body(zn_http_req_t *req, const zn_http_sink_t *sink);

/* Run the sink's abort now: for a layer above that answers a streamed request without giving
 * it to the sink's owner (a refused token). At most once per request, whoever calls; nothing
 * for a body that is not streamed. */
void zn_http_stream_abort(zn_http_req_t *req);

/* Attach USER to REQ (a layer above keeps its own request object there from on_headers to the
 * handler). FREE_FN (may be NULL) runs on USER when REQ ends still holding it, e.g. when the
 * client went away before the handler ran; set NULL again once you took USER back. */
void zn_http_set_user(zn_http_req_t *req, void *user, void (*free_fn)(void *user));

/* What zn_http_set_user attached, or NULL. */
void *zn_http_user(const zn_http_req_t *req);

/* The request's Content-Length, or -1 when absent or not a number (chunked uploads). */
int64_t zn_http_content_length(const zn_http_req_t *req);

/* Answer REQ with STATUS and SIZE bytes of the file FD from OFFSET, sent straight from the file
 * (sendfile where possible) as the client reads: nothing is held in memory. Takes FD (closed
 * when the answer is done, also on failure). Exactly once per request, like zn_http_respond. */
void zn_http_respond_fd(zn_http_req_t *req, unsigned status, const char *content_type, int fd,
                        uint64_t offset, uint64_t size);

/* Answer REQ with STATUS and LEN bytes of BODY (copied; may be empty) of CONTENT_TYPE (NULL
 * for none). Exactly once per request. For a deferred request this resumes the connection. */
void zn_http_respond(zn_http_req_t *req, unsigned status, const char *content_type,
                     const char *body, size_t len);

#endif
