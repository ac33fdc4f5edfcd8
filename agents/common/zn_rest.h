/* SPDX-License-Identifier: Apache-2.0 */
/* zn_rest.h - the REST front every OpenStack-compatible agent shares (api, image, network,
 * volume): a route table (method and path pattern), the X-Auth-Token validated through
 * zn_idclient (cache first; a miss defers the request until identity answers), JSON bodies
 * parsed, one policy rule set (below), and replies and error bodies in the service's own style.
 * Built on http/zn_http. Loop thread.
 *
 * Policy, checked before a handler runs (handlers add per-record checks with zn_rest_may_*):
 * - routes with ZN_REST_NO_TOKEN (version documents) need nothing;
 * - every other route needs a valid, project-scoped token (401 otherwise);
 * - ZN_REST_ADMIN routes need the admin role (403);
 * - methods other than GET and HEAD need the member or admin role: a reader only reads (403).
 * A user sees only its own project's records unless admin (zn_rest_may_read).
 *
 * With metrics, GET /metrics answers the agent's counters and histograms in Prometheus text
 * (no token), besides the routes. */
#ifndef ZN_REST_H
#define ZN_REST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <czmq.h>
#include <jansson.h>

#include "zn_env.h"
#include "zn_err.h"
#include "zn_http.h"
#include "zn_idclient.h"
#include "zn_metrics.h"
#include "zn_trace.h"

#define ZN_REST_CAPTURES 4

/* How error bodies look. Every style has a top-level object carrying "message", which both
 * novaclient and openstacksdk read (../shared/openstack-api.md section 0.6). */
typedef enum {
    ZN_REST_STYLE_NOVA,     /* {"itemNotFound": {"code": 404, "message": "..."}} (Nova, Cinder) */
    ZN_REST_STYLE_NEUTRON,  /* {"NeutronError": {"type": "...", "message": "...", "detail": ""}} */
    ZN_REST_STYLE_KEYSTONE, /* {"error": {"code": 404, "title": "Not Found", "message": "..."}} */
} zn_rest_style_t;

typedef struct zn_rest zn_rest_t;

/* One request from routing until its answer. Borrowed by handlers; valid until answered. */
typedef struct zn_rest_req zn_rest_req_t;

/* Handle REQ. Either answer (zn_rest_reply*, zn_rest_error) and return 0; or return a negative
 * code with FAULT and the router answers with the error body for it; or start asynchronous work
 * and return ZN_DEFERRED: REQ then stays valid until that work answers it (exactly once).
 * ARG is zn_rest_opts_t.arg. */
typedef int(zn_rest_fn)(void *arg, zn_rest_req_t *req, zn_fault_t *fault);

enum {
    ZN_REST_NO_TOKEN = 1u << 0,  /* public: version discovery */
    ZN_REST_JSON = 1u << 1,      /* the body must be a JSON object (400 otherwise) */
    ZN_REST_ADMIN = 1u << 2,     /* the admin role only */
    ZN_REST_ANY_SCOPE = 1u << 3, /* a valid token of any scope will do (not only project) */
    ZN_REST_STREAM = 1u << 4     /* the body is streamed to a sink (opts' open_stream) */
};

/* For ZN_REST_STREAM routes (zn_rest_opts_t.open_stream): called once the request's headers are in,
 * before any body byte, with the captures, query and headers available. The token is not validated
 * yet: zn_rest_auth is the identity cache's answer when it had one, else NULL (fn still runs only
 * after full validation and policy). Give the body a sink with
 * zn_http_stream_body(zn_rest_http(REQ), ..) and return 0; or return a negative code with FAULT to
 * refuse at once (the error is answered and the body never read). The route's fn then runs once the
 * whole body is in. */
typedef int(zn_rest_open_fn)(void *arg, zn_rest_req_t *req, zn_fault_t *fault);

typedef struct zn_rest_route {
    const char *method;  /* "GET", "POST", ...; NULL ends a table */
    const char *pattern; /* "/v2.1/servers/ * /action" without the spaces: '*' captures one
                          * non-empty segment; a trailing '/' on the request is ignored */
    zn_rest_fn *fn;
    uint32_t flags;
} zn_rest_route_t;

typedef struct zn_rest_opts {
    const char *service;           /* "compute", "image", ...: logs and metric names */
    const char *endpoint;          /* "HOST:PORT" to listen on; port 0 picks one */
    const char *url_prefix;        /* stripped from paths when present ("/compute"); may be NULL */
    zn_rest_style_t style;         /* error bodies */
    const zn_rest_route_t *routes; /* borrowed for the life of the server */
    void *arg;                     /* handlers' ARG */
    zn_idclient_t *idclient;       /* borrowed; validates tokens */
    size_t body_max_bytes;         /* 0: ZN_HTTP_BODY_MAX_DEFAULT */
    int64_t validate_timeout_ms;   /* 0: 2000 */
    zn_metrics_t *metrics;         /* borrowed, may be NULL: requests, errors, latency */
    zn_rest_open_fn *open_stream;  /* opens the sink of ZN_REST_STREAM routes; NULL: none */
    zn_trace_t *trace;             /* borrowed, may be NULL: a span per request (zn_agent_trace) */
} zn_rest_opts_t;

/* Listen per OPTS. Returns 0, -EINVAL with FAULT (bad options), or zn_http_open's errors. */
ZN_MUST_CHECK int zn_rest_open(zn_rest_t **out, const zn_rest_opts_t *opts, zn_fault_t *fault);

/* Stop listening and free. Requests still deferred are dropped (their connections closed):
 * cancel the asynchronous work that would answer them first. No-op on NULL. */
void zn_rest_destroy(zn_rest_t **self_p);

/* Serve on LOOP. Returns 0 or -EINVAL. Once, before the loop runs. */
ZN_MUST_CHECK int zn_rest_attach(zn_rest_t *self, zloop_t *loop);

/* The port bound. */
uint16_t zn_rest_port(const zn_rest_t *self);

/* Requests answered so far with a deferred answer still pending (for drain at shutdown). */
size_t zn_rest_pending(const zn_rest_t *self);

/* ---- the request (borrowed strings live as long as the request) ------------------------- */

zn_http_req_t *zn_rest_http(zn_rest_req_t *req);

/* The path below the URL prefix ("/v2.1/servers/abc"). */
const char *zn_rest_path(const zn_rest_req_t *req);

/* Capture INDEX of the route's pattern, or NULL. */
const char *zn_rest_capture(const zn_rest_req_t *req, size_t index);

/* The parsed JSON body on ZN_REST_JSON routes (an object), else NULL. Borrowed. */
json_t *zn_rest_json(const zn_rest_req_t *req);

/* A query argument or NULL. */
const char *zn_rest_query(const zn_rest_req_t *req, const char *name);

/* Who called: NULL on ZN_REST_NO_TOKEN routes. Borrowed. */
const zn_idclient_auth_t *zn_rest_auth(const zn_rest_req_t *req);

/* The token's project (NULL when not project-scoped) and user. */
const char *zn_rest_project_id(const zn_rest_req_t *req);
const char *zn_rest_user_id(const zn_rest_req_t *req);

bool zn_rest_has_role(const zn_rest_req_t *req, const char *role);
bool zn_rest_is_admin(const zn_rest_req_t *req);

/* May the caller read, or change, a record owned by PROJECT_ID? Admin: always; otherwise only
 * its own project's (and changes need member). Answer 404, not 403, for another project's
 * record, so that ids do not leak. */
bool zn_rest_may_read(const zn_rest_req_t *req, const char *project_id);
bool zn_rest_may_write(const zn_rest_req_t *req, const char *project_id);

/* "req-<uuid>", also in the response's X-Openstack-Request-Id header. */
const char *zn_rest_request_id(const zn_rest_req_t *req);

/* "http://HOST[:PORT][PREFIX]" from the Host header, for links and version documents. */
const char *zn_rest_base_url(const zn_rest_req_t *req);

/* The RPC context for calls made on behalf of this request: its request id, the caller's user,
 * project, roles and token (borrowed from REQ: use it before REQ is answered, or copy). */
void zn_rest_ctx(const zn_rest_req_t *req, zn_ctx_t *out);

/* ---- answers: exactly one per request ---------------------------------------------------- */

/* Add a response header (copied). Before answering. */
void zn_rest_add_header(zn_rest_req_t *req, const char *name, const char *value);

/* Answer with STATUS and BODY (stolen; NULL for an empty body) as application/json. */
void zn_rest_reply(zn_rest_req_t *req, unsigned status, json_t *body);

/* Answer with LEN bytes of DATA (copied) of CONTENT_TYPE. */
void zn_rest_reply_raw(zn_rest_req_t *req, unsigned status, const char *content_type,
                       const char *data, size_t len);

/* Answer with SIZE bytes of the file FD from OFFSET, sent from the file as the client reads
 * (zn_http_respond_fd). Takes FD. */
void zn_rest_reply_fd(zn_rest_req_t *req, unsigned status, const char *content_type, int fd,
                      uint64_t offset, uint64_t size);

/* Answer with the service's error body for CODE (a negative errno or zinc code) and MESSAGE. */
void zn_rest_error(zn_rest_req_t *req, int code, const char *message);

/* The same with an explicit STATUS, for the few answers the code table does not decide. */
void zn_rest_error_status(zn_rest_req_t *req, unsigned status, const char *message);

/* The same with the error's kind named: Nova's fault name ("itemNotFound") or Neutron's type
 * ("IpAddressGenerationFailure"); ignored by the keystone style. */
void zn_rest_error_named(zn_rest_req_t *req, unsigned status, const char *name,
                         const char *message);

/* HTTP status for CODE: -EINVAL/-EBADMSG 400, ZN_EAUTH 401, ZN_EFORBIDDEN/-EACCES/ZN_EQUOTA
 * 403, -ENOENT 404, -EOPNOTSUPP 405, -EEXIST/ZN_ECONFLICT 409, ZN_ETOOBIG 413, ZN_EUNAVAIL/
 * ZN_ENOQUORUM 503, -ETIMEDOUT/ZN_EUNKNOWN 504, else 500. */
unsigned zn_rest_status(int code);

#endif
