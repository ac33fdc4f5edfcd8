/* SPDX-License-Identifier: Apache-2.0 */
/* zn_rest.c - routing, token validation, policy and answers for the REST agents. */
#include "zn_rest.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "zn_clock.h"
#include "zn_common.h"
#include "zn_json.h"
#include "zn_log.h"
#include "zn_mem.h"
#include "zn_server.h"
#include "zn_str.h"

#define S_VALIDATE_TIMEOUT_MS 2000

struct zn_rest {
    char *service;
    char *url_prefix;
    zn_rest_style_t style;
    const zn_rest_route_t *routes;
    void *arg;
    zn_idclient_t *idclient;
    int64_t validate_timeout_ms;
    zn_metrics_t *metrics;
    zn_trace_t *trace;
    zn_rest_open_fn *open_stream;
    zn_http_t *http;
    size_t pending; /* requests past their handler with no answer yet */
};

struct zn_rest_req {
    zn_rest_t *rest;
    zn_http_req_t *http;
    const zn_rest_route_t *route;
    const char *path; /* below the prefix, borrowed from HTTP */
    char *captures[ZN_REST_CAPTURES];
    json_t *body;
    bool has_auth;
    zn_idclient_auth_t auth; /* a copy: the idclient's answer is borrowed only for its call */
    char *base_url;
    bool sync; /* inside a call chain that frees REQ when it returns (so answers must not) */
    bool answered;
    bool pending; /* counted in rest->pending */
    bool stream;  /* a ZN_REST_STREAM request whose sink is open */
    bool ran;     /* the route's fn was called */
    int64_t start_us;
};

/* ---- error bodies ------------------------------------------------------------------------ */

unsigned
zn_rest_status(int code)
{
    switch (code) {
    case -EINVAL:
    case -EBADMSG:
        return 400;
    case ZN_EAUTH:
        return 401;
    case ZN_EFORBIDDEN:
    case -EACCES:
    case -EPERM:
    case ZN_EQUOTA:
        return 403;
    case -ENOENT:
        return 404;
    case -EOPNOTSUPP:
        return 405;
    case -EEXIST:
    case ZN_ECONFLICT:
        return 409;
    case ZN_ETOOBIG:
    case -E2BIG:
        return 413;
    case ZN_EUNAVAIL:
    case ZN_ENOQUORUM:
        return 503;
    case -ETIMEDOUT:
    case ZN_EUNKNOWN:
        return 504;
    default:
        return 500;
    }
}

/* Nova's fault names, which novaclient shows as the error's kind. */
static const char *
s_nova_name(unsigned status)
{
    switch (status) {
    case 400:
        return "badRequest";
    case 401:
        return "unauthorized";
    case 403:
        return "forbidden";
    case 404:
        return "itemNotFound";
    case 405:
        return "badMethod";
    case 406:
        return "notAcceptable";
    case 409:
        return "conflictingRequest";
    case 413:
        return "overLimit";
    case 501:
        return "notImplemented";
    case 503:
        return "serviceUnavailable";
    default:
        return "computeFault";
    }
}

/* Neutron's exception type names, which openstacksdk shows. */
static const char *
s_neutron_type(unsigned status)
{
    switch (status) {
    case 400:
        return "BadRequest";
    case 401:
        return "NotAuthorized";
    case 403:
        return "PolicyNotAuthorized";
    case 404:
        return "NotFound";
    case 409:
        return "Conflict";
    case 413:
        return "OverQuota";
    case 503:
        return "ServiceUnavailable";
    default:
        return "InternalServerError";
    }
}

static json_t *
s_error_json(zn_rest_style_t style, unsigned status, const char *name, const char *message)
{
    switch (style) {
    case ZN_REST_STYLE_NOVA:
        return json_pack("{s:{s:i,s:s}}", name != NULL ? name : s_nova_name(status), "code",
                         (int)status, "message", message);
    case ZN_REST_STYLE_NEUTRON:
        return json_pack("{s:{s:s,s:s,s:s}}", "NeutronError", "type",
                         name != NULL ? name : s_neutron_type(status), "message", message, "detail",
                         "");
    default:
        return json_pack("{s:{s:i,s:s,s:s}}", "error", "code", (int)status, "title",
                         zn_json_title(status), "message", message);
    }
}

/* ---- requests ---------------------------------------------------------------------------- */

static void
s_req_free(zn_rest_req_t **req_p)
{
    zn_rest_req_t *req = *req_p;
    if (req == NULL) {
        return;
    }
    if (req->pending) {
        req->rest->pending--;
    }
    for (size_t i = 0; i < ZN_REST_CAPTURES; i++) {
        zn_str_free(&req->captures[i]);
    }
    json_decref(req->body);
    if (req->has_auth) {
        zn_schema_release(&zn_idclient_auth_schema, &req->auth);
    }
    zn_str_free(&req->base_url);
    zn_free(req);
    *req_p = NULL;
}

/* Count, trace and log REQ's answer of STATUS (which the caller then sends). */
static void
s_account(zn_rest_req_t *req, unsigned status)
{
    ZN_ASSERT(!req->answered); /* exactly one answer per request */
    req->answered = true;
    if (req->stream && !req->ran) {
        /* Refused before its fn (a bad token): the sink's owner cleans up. Before the answer,
         * which may end the HTTP request at once. */
        zn_http_stream_abort(req->http);
    }
    zn_rest_t *rest = req->rest;
    int64_t took_us = zn_clock_mono_us() - req->start_us;
    if (rest->metrics != NULL) {
        zn_metrics_count(rest->metrics, "http_requests", 1);
        if (status >= 400) {
            zn_metrics_count(rest->metrics, status >= 500 ? "http_errors_5xx" : "http_errors_4xx",
                             1);
        }
        zn_metrics_observe_us(rest->metrics, "http_request_us", took_us);
    }
    if (rest->trace != NULL) {
        char step[ZN_TRACE_STEP_MAX + 1];
        char detail[32];
        (void)snprintf(step, sizeof(step), "%s %s", zn_http_method(req->http), req->path);
        (void)snprintf(detail, sizeof(detail), "http %u", status);
        zn_trace_add(rest->trace, zn_http_request_id(req->http), step, detail, req->start_us,
                     took_us, status >= 400 ? -(int)status : 0);
    }
    zn_log_info(zn_http_request_id(req->http), "%s %s status=%u us=%lld peer=%s",
                zn_http_method(req->http), zn_http_path(req->http), status, (long long)took_us,
                zn_http_peer(req->http));
}

static void
s_answer(zn_rest_req_t *req, unsigned status, const char *content_type, const char *data,
         size_t len)
{
    s_account(req, status);
    zn_http_respond(req->http, status, content_type, data, len);
    if (!req->sync) {
        s_req_free(&req); /* a deferred answer: nobody else holds REQ any more */
    }
}

void
zn_rest_reply_fd(zn_rest_req_t *req, unsigned status, const char *content_type, int fd,
                 uint64_t offset, uint64_t size)
{
    s_account(req, status);
    zn_http_respond_fd(req->http, status, content_type, fd, offset, size);
    if (!req->sync) {
        s_req_free(&req);
    }
}

void
zn_rest_reply(zn_rest_req_t *req, unsigned status, json_t *body)
{
    if (body == NULL) {
        s_answer(req, status, NULL, "", 0);
        return;
    }
    char *text = zn_json_dump_steal(body);
    s_answer(req, status, "application/json", text, strlen(text));
    zn_str_free(&text);
}

void
zn_rest_reply_raw(zn_rest_req_t *req, unsigned status, const char *content_type, const char *data,
                  size_t len)
{
    s_answer(req, status, content_type, data, len);
}

static void
s_error(zn_rest_req_t *req, unsigned status, const char *name, const char *message)
{
    if (status >= 500) {
        zn_log_warn(zn_http_request_id(req->http), "%s %s failed status=%u: %s",
                    zn_http_method(req->http), zn_http_path(req->http), status, message);
    }
    zn_rest_reply(req, status, s_error_json(req->rest->style, status, name, message));
}

void
zn_rest_error(zn_rest_req_t *req, int code, const char *message)
{
    s_error(req, zn_rest_status(code), NULL,
            message != NULL && message[0] != '\0' ? message : zn_strerror(code));
}

void
zn_rest_error_status(zn_rest_req_t *req, unsigned status, const char *message)
{
    s_error(req, status, NULL, message);
}

void
zn_rest_error_named(zn_rest_req_t *req, unsigned status, const char *name, const char *message)
{
    s_error(req, status, name, message);
}

void
zn_rest_add_header(zn_rest_req_t *req, const char *name, const char *value)
{
    zn_http_add_header(req->http, name, value);
}

/* ---- routing ----------------------------------------------------------------------------- */

/* Match PATH against PATTERN segment by segment; '*' captures one non-empty segment. */
static bool
s_match(const char *pattern, const char *path, char **captures)
{
    size_t count = 0;
    while (*pattern != '\0' && *path != '\0') {
        if (*pattern == '*') {
            const char *end = strchr(path, '/');
            size_t len = end != NULL ? (size_t)(end - path) : strlen(path);
            if (len == 0 || count >= ZN_REST_CAPTURES) {
                return false;
            }
            captures[count++] = zn_strndup(path, len);
            pattern++;
            path += len;
        } else if (*pattern++ != *path++) {
            return false;
        }
    }
    return *pattern == '\0' && (*path == '\0' || strcmp(path, "/") == 0);
}

static void
s_free_captures(char **captures)
{
    for (size_t i = 0; i < ZN_REST_CAPTURES; i++) {
        zn_str_free(&captures[i]);
    }
}

/* The route for METHOD (HEAD falls back to GET) and REQ's path; *path_known says whether the
 * path exists under another method (405 rather than 404). */
static const zn_rest_route_t *
s_route_for(zn_rest_req_t *req, const char *method, bool *path_known)
{
    for (const zn_rest_route_t *r = req->rest->routes; r->method != NULL; r++) {
        char *captures[ZN_REST_CAPTURES] = {NULL};
        if (!s_match(r->pattern, req->path, captures)) {
            s_free_captures(captures); /* a partial match may have captured */
            continue;
        }
        *path_known = true;
        if (strcmp(r->method, method) == 0) {
            memcpy(req->captures, captures, sizeof(captures));
            return r;
        }
        s_free_captures(captures);
    }
    return NULL;
}

static const zn_rest_route_t *
s_route(zn_rest_req_t *req, bool *path_known)
{
    const char *method = zn_http_method(req->http);
    *path_known = false;
    const zn_rest_route_t *route = s_route_for(req, method, path_known);
    if (route == NULL && strcmp(method, "HEAD") == 0) {
        route = s_route_for(req, "GET", path_known);
    }
    return route;
}

/* ---- policy and dispatch ----------------------------------------------------------------- */

static bool
s_reads_only(const zn_rest_req_t *req)
{
    const char *method = zn_http_method(req->http);
    return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
}

static int
s_authorize(const zn_rest_req_t *req, zn_fault_t *fault)
{
    uint32_t flags = req->route->flags;
    if (!(flags & ZN_REST_ANY_SCOPE) && req->auth.project_id == NULL) {
        return zn_fault_set(fault, ZN_EFORBIDDEN, "a project-scoped token is required");
    }
    if ((flags & ZN_REST_ADMIN) && !zn_rest_is_admin(req)) {
        return zn_fault_set(fault, ZN_EFORBIDDEN, "Policy doesn't allow %s %s to be performed.",
                            zn_http_method(req->http), req->path);
    }
    if (!s_reads_only(req) && !zn_rest_is_admin(req) && !zn_rest_has_role(req, "member")) {
        return zn_fault_set(fault, ZN_EFORBIDDEN, "the member role is needed to make changes");
    }
    return 0;
}

/* Run the handler (after authorization when a token was needed). REQ is answered, or deferred
 * by the handler; the caller (which set REQ->sync) frees it when answered. */
static void
s_run(zn_rest_req_t *req)
{
    zn_fault_t fault;
    zn_fault_clear(&fault);
    int rc = req->has_auth ? s_authorize(req, &fault) : 0;
    if (rc == 0) {
        req->ran = true;
        rc = req->route->fn(req->rest->arg, req, &fault);
    }
    if (req->answered) {
        return;
    }
    if (rc == ZN_DEFERRED) {
        if (!zn_http_is_deferred(req->http)) {
            zn_http_defer(req->http);
        }
        req->pending = true;
        req->rest->pending++;
        return;
    }
    if (rc == 0) {
        rc = zn_fault_set(&fault, ZN_EINTERNAL, "the handler of %s %s did not answer",
                          zn_http_method(req->http), req->path);
    }
    zn_rest_error(req, rc, zn_fault_message(&fault));
}

static void
s_on_validated(void *arg, const zn_idclient_auth_t *auth, const zn_fault_t *fault)
{
    zn_rest_req_t *req = arg;
    req->sync = true;
    if (auth == NULL) {
        int code = fault->code;
        const char *message = code == ZN_EAUTH
                                  ? "The request you have made requires authentication."
                                  : "identity is unreachable: the token cannot be validated now";
        zn_rest_error(req, code == ZN_EAUTH ? ZN_EAUTH : ZN_EUNAVAIL, message);
    } else {
        zn_schema_copy(&zn_idclient_auth_schema, &req->auth, auth);
        req->has_auth = true;
        s_run(req);
    }
    req->sync = false;
    if (req->answered) {
        s_req_free(&req);
    }
}

/* Validate REQ's token from the cache, or ask identity and defer REQ. */
static void
s_authenticate(zn_rest_req_t *req)
{
    zn_rest_t *rest = req->rest;
    const char *token = zn_http_header(req->http, "X-Auth-Token");
    if (token == NULL || token[0] == '\0') {
        s_error(req, 401, NULL, "The request you have made requires authentication.");
        return;
    }
    zn_buf_t buf = {(const uint8_t *)token, strlen(token)};
    if (req->has_auth) { /* a streamed request's early look: validate afresh now */
        zn_schema_release(&zn_idclient_auth_schema, &req->auth);
        req->has_auth = false;
    }
    const zn_idclient_auth_t *cached = zn_idclient_lookup(rest->idclient, buf);
    if (cached != NULL) {
        zn_schema_copy(&zn_idclient_auth_schema, &req->auth, cached);
        req->has_auth = true;
        s_run(req);
        return;
    }
    zn_ctx_t ctx;
    memset(&ctx, 0, sizeof(ctx));
    (void)snprintf(ctx.req_id, sizeof(ctx.req_id), "%s", zn_http_request_id(req->http));
    int rc = zn_idclient_validate(rest->idclient, &ctx, buf, rest->validate_timeout_ms,
                                  s_on_validated, req);
    if (rc < 0) {
        s_error(req, 503, NULL, "identity is unreachable: the token cannot be validated now");
        return;
    }
    zn_http_defer(req->http); /* s_on_validated answers it */
}

/* GET /metrics: the agent's counters and histograms in Prometheus text, for scrapers. No token
 * (Prometheus does not log in); it says how busy the agent is, never whose data it holds. */
static bool
s_serve_metrics(zn_rest_req_t *req)
{
    zn_rest_t *rest = req->rest;
    if (rest->metrics == NULL || strcmp(req->path, "/metrics") != 0 ||
        strcmp(zn_http_method(req->http), "GET") != 0) {
        return false;
    }
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    ZN_ASSERT(out != NULL); /* only fails on out-of-memory */
    zn_metrics_write_prometheus(rest->metrics, rest->service, out);
    (void)fclose(out);
    s_answer(req, 200, "text/plain; version=0.0.4", text, len);
    free(text); /* open_memstream's buffer comes from the C library's allocator */
    return true;
}

static void
s_dispatch(zn_rest_req_t *req)
{
    if (s_serve_metrics(req)) {
        return;
    }
    bool path_known = false;
    req->route = s_route(req, &path_known);
    if (req->route == NULL) {
        if (path_known) {
            s_error(req, 405, NULL, "The method is not allowed for the requested URL.");
        } else {
            s_error(req, 404, NULL, "The resource could not be found.");
        }
        return;
    }
    if (req->route->flags & ZN_REST_JSON) {
        zn_fault_t fault;
        zn_fault_clear(&fault);
        size_t len = 0;
        const char *body = zn_http_body(req->http, &len);
        if (zn_json_parse(body, len, &req->body, &fault) < 0) {
            s_error(req, 400, NULL, zn_fault_message(&fault));
            return;
        }
    }
    if (req->route->flags & ZN_REST_NO_TOKEN) {
        s_run(req);
        return;
    }
    s_authenticate(req);
}

static zn_rest_req_t *
s_req_new(zn_rest_t *self, zn_http_req_t *http)
{
    zn_rest_req_t *req = zn_calloc(1, sizeof(*req));
    req->rest = self;
    req->http = http;
    req->start_us = zn_clock_mono_us();
    req->path = zn_http_path(http);
    size_t prefix_len = strlen(self->url_prefix);
    if (prefix_len > 0 && strncmp(req->path, self->url_prefix, prefix_len) == 0 &&
        (req->path[prefix_len] == '/' || req->path[prefix_len] == '\0')) {
        req->path += prefix_len;
    }
    const char *host = zn_http_header(http, "Host");
    req->base_url = zn_asprintf("http://%s%s", host != NULL ? host : "127.0.0.1", self->url_prefix);
    return req;
}

static void
s_on_http(void *arg, zn_http_req_t *http)
{
    zn_rest_t *self = arg;
    zn_rest_req_t *req = zn_http_user(http);
    if (req != NULL) {
        zn_http_set_user(http, NULL, NULL); /* a streamed request, routed from its headers */
        req->sync = true;
        s_authenticate(req);
    } else {
        req = s_req_new(self, http);
        req->sync = true;
        s_dispatch(req);
    }
    req->sync = false;
    if (req->answered) {
        s_req_free(&req);
    }
}

static void
s_req_free_user(void *user)
{
    zn_rest_req_t *req = user;
    s_req_free(&req);
}

/* Route a request as soon as its headers are in; a ZN_REST_STREAM route opens its sink now
 * and keeps its request object on the HTTP request until the body is in. */
static void
s_on_headers(void *arg, zn_http_req_t *http)
{
    zn_rest_req_t *req = s_req_new(arg, http);
    bool path_known = false;
    req->route = s_route(req, &path_known);
    if (req->route == NULL || !(req->route->flags & ZN_REST_STREAM)) {
        s_req_free(&req); /* routed again, with its body, by s_on_http */
        return;
    }
    const char *token = zn_http_header(http, "X-Auth-Token");
    const zn_idclient_auth_t *cached =
        token != NULL ? zn_idclient_lookup(req->rest->idclient,
                                           (zn_buf_t){(const uint8_t *)token, strlen(token)})
                      : NULL;
    if (cached != NULL) {
        zn_schema_copy(&zn_idclient_auth_schema, &req->auth, cached);
        req->has_auth = true;
    }
    zn_fault_t fault;
    zn_fault_clear(&fault);
    req->sync = true;
    int rc = req->rest->open_stream(req->rest->arg, req, &fault);
    if (rc < 0 && !req->answered) {
        zn_rest_error(req, rc, zn_fault_message(&fault));
    }
    req->sync = false;
    if (req->answered) {
        s_req_free(&req);
        return;
    }
    req->stream = true;
    zn_http_set_user(http, req, s_req_free_user);
}

/* ---- the server -------------------------------------------------------------------------- */

int
zn_rest_open(zn_rest_t **out, const zn_rest_opts_t *opts, zn_fault_t *fault)
{
    *out = NULL;
    bool needs_tokens = false;
    for (const zn_rest_route_t *r = opts->routes; r != NULL && r->method != NULL; r++) {
        needs_tokens = needs_tokens || !(r->flags & ZN_REST_NO_TOKEN);
    }
    if (opts->routes == NULL || opts->endpoint == NULL ||
        (needs_tokens && opts->idclient == NULL)) {
        return zn_fault_set(fault, -EINVAL,
                            "%s: REST needs routes, an endpoint and an identity client",
                            opts->service != NULL ? opts->service : "rest");
    }
    zn_rest_t *self = zn_calloc(1, sizeof(*self));
    self->service = zn_strdup(opts->service != NULL ? opts->service : "rest");
    const char *prefix = opts->url_prefix != NULL ? opts->url_prefix : "";
    size_t prefix_len = strlen(prefix);
    while (prefix_len > 0 && prefix[prefix_len - 1] == '/') {
        prefix_len--; /* "/compute/" and "/compute" strip the same */
    }
    self->url_prefix = zn_strndup(prefix, prefix_len);
    self->style = opts->style;
    self->routes = opts->routes;
    self->arg = opts->arg;
    self->idclient = opts->idclient;
    self->validate_timeout_ms =
        opts->validate_timeout_ms > 0 ? opts->validate_timeout_ms : S_VALIDATE_TIMEOUT_MS;
    self->metrics = opts->metrics;
    self->trace = opts->trace;
    self->open_stream = opts->open_stream;
    zn_http_opts_t http_opts = {
        .endpoint = opts->endpoint,
        .body_max_bytes = opts->body_max_bytes,
        .on_headers = opts->open_stream != NULL ? s_on_headers : NULL,
    };
    int rc = zn_http_open(&self->http, &http_opts, s_on_http, self, fault);
    if (rc < 0) {
        zn_rest_destroy(&self);
        return rc;
    }
    *out = self;
    return 0;
}

void
zn_rest_destroy(zn_rest_t **self_p)
{
    zn_rest_t *self = *self_p;
    if (self == NULL) {
        return;
    }
    /* zn_http answers what is still deferred with 503 and frees its side; requests of ours
     * still pending then are the caller's bug (header), so only their count is logged. */
    if (self->pending > 0) {
        zn_log_warn(NULL, "%s: %zu requests still unanswered at shutdown", self->service,
                    self->pending);
    }
    zn_http_destroy(&self->http);
    zn_str_free(&self->service);
    zn_str_free(&self->url_prefix);
    zn_free(self);
    *self_p = NULL;
}

int
zn_rest_attach(zn_rest_t *self, zloop_t *loop)
{
    return zn_http_attach(self->http, loop);
}

uint16_t
zn_rest_port(const zn_rest_t *self)
{
    return zn_http_port(self->http);
}

size_t
zn_rest_pending(const zn_rest_t *self)
{
    return self->pending;
}

/* ---- request accessors ------------------------------------------------------------------- */

zn_http_req_t *
zn_rest_http(zn_rest_req_t *req)
{
    return req->http;
}

const char *
zn_rest_path(const zn_rest_req_t *req)
{
    return req->path;
}

const char *
zn_rest_capture(const zn_rest_req_t *req, size_t index)
{
    return index < ZN_REST_CAPTURES ? req->captures[index] : NULL;
}

json_t *
zn_rest_json(const zn_rest_req_t *req)
{
    return req->body;
}

const char *
zn_rest_query(const zn_rest_req_t *req, const char *name)
{
    return zn_http_query(req->http, name);
}

const zn_idclient_auth_t *
zn_rest_auth(const zn_rest_req_t *req)
{
    return req->has_auth ? &req->auth : NULL;
}

const char *
zn_rest_project_id(const zn_rest_req_t *req)
{
    return req->has_auth ? req->auth.project_id : NULL;
}

const char *
zn_rest_user_id(const zn_rest_req_t *req)
{
    return req->has_auth ? req->auth.user_id : NULL;
}

bool
zn_rest_has_role(const zn_rest_req_t *req, const char *role)
{
    if (!req->has_auth) {
        return false;
    }
    for (size_t i = 0; i < req->auth.role_count; i++) {
        if (strcmp(req->auth.roles[i], role) == 0) {
            return true;
        }
    }
    return false;
}

bool
zn_rest_is_admin(const zn_rest_req_t *req)
{
    return zn_rest_has_role(req, "admin");
}

bool
zn_rest_may_read(const zn_rest_req_t *req, const char *project_id)
{
    if (zn_rest_is_admin(req)) {
        return true;
    }
    const char *own = zn_rest_project_id(req);
    return own != NULL && project_id != NULL && strcmp(own, project_id) == 0;
}

bool
zn_rest_may_write(const zn_rest_req_t *req, const char *project_id)
{
    if (zn_rest_is_admin(req)) {
        return true;
    }
    return zn_rest_may_read(req, project_id) && zn_rest_has_role(req, "member");
}

const char *
zn_rest_request_id(const zn_rest_req_t *req)
{
    return zn_http_request_id(req->http);
}

const char *
zn_rest_base_url(const zn_rest_req_t *req)
{
    return req->base_url;
}

void
zn_rest_ctx(const zn_rest_req_t *req, zn_ctx_t *out)
{
    memset(out, 0, sizeof(*out));
    (void)snprintf(out->req_id, sizeof(out->req_id), "%s", zn_http_request_id(req->http));
    if (req->has_auth) {
        (void)snprintf(out->user_id, sizeof(out->user_id), "%s", req->auth.user_id);
        if (req->auth.project_id != NULL) {
            (void)snprintf(out->project_id, sizeof(out->project_id), "%s", req->auth.project_id);
        }
        size_t used = 0;
        for (size_t i = 0; i < req->auth.role_count; i++) {
            size_t len = strlen(req->auth.roles[i]);
            if (used + len + 2 > sizeof(out->roles)) {
                break; /* roles beyond the context's room: the callee validates the token */
            }
            if (used > 0) {
                out->roles[used++] = ',';
            }
            memcpy(out->roles + used, req->auth.roles[i], len + 1);
            used += len;
        }
    }
    const char *token = zn_http_header(req->http, "X-Auth-Token");
    if (token != NULL) {
        out->token = (zn_buf_t){(const uint8_t *)token, strlen(token)};
    }
}
