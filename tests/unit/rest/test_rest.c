/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for zn_rest against a real identity agent in-process: routing, token validation (cache
 * and deferred), policy (admin, reader, scope), deferred answers and the error body styles. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <czmq.h>

#include "id_fixture.h"
#include "zn_idclient.h"
#include "zn_mem.h"
#include "zn_rest.h"
#include "zn_server.h"
#include "zn_str.h"

#define S_RESPONSE_MAX 65536

/* ---- a small REST service on its own loop ------------------------------------------------ */

typedef struct s_service {
    zloop_t *loop;
    zn_rest_req_t *later; /* a deferred request the timer answers */
} s_service_t;

static int
s_version(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    (void)arg;
    (void)fault;
    zn_rest_reply(req, 200, json_pack("{s:s}", "version", "v1"));
    return 0;
}

static int
s_thing(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    (void)arg;
    if (strcmp(zn_rest_capture(req, 0), "missing") == 0) {
        return zn_fault_set(fault, -ENOENT, "thing missing could not be found");
    }
    zn_ctx_t ctx;
    zn_rest_ctx(req, &ctx);
    zn_rest_reply(req, 200,
                  json_pack("{s:s,s:s,s:s,s:b}", "id", zn_rest_capture(req, 0), "project",
                            zn_rest_project_id(req), "roles", ctx.roles, "token",
                            ctx.token.len > 0));
    return 0;
}

static int
s_create(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    (void)arg;
    (void)fault;
    json_t *name = json_object_get(zn_rest_json(req), "name");
    zn_rest_reply(req, 201, json_pack("{s:O}", "created", name != NULL ? name : json_null()));
    return 0;
}

static int
s_admin(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    (void)arg;
    (void)fault;
    zn_rest_reply(req, 204, NULL);
    return 0;
}

static int
s_on_later(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    s_service_t *service = arg;
    zn_rest_reply(service->later, 200, json_pack("{s:s}", "answer", "later"));
    service->later = NULL;
    return 0;
}

static int
s_later(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    (void)fault;
    s_service_t *service = arg;
    service->later = req;
    (void)zloop_timer(service->loop, 20, 1, s_on_later, service);
    return ZN_DEFERRED;
}

static int
s_silent(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    (void)arg;
    (void)req;
    (void)fault;
    return 0; /* a bug: the router must answer 500 for it */
}

static const zn_rest_route_t s_routes[] = {
    {"GET", "/v1", s_version, ZN_REST_NO_TOKEN},
    {"GET", "/v1/things/*", s_thing, 0},
    {"POST", "/v1/things", s_create, ZN_REST_JSON},
    {"DELETE", "/v1/admin", s_admin, ZN_REST_ADMIN},
    {"GET", "/v1/later", s_later, 0},
    {"GET", "/v1/silent", s_silent, 0},
    {NULL, NULL, NULL, 0},
};

typedef struct s_config {
    const char *identity;
    zn_rest_style_t style;
} s_config_t;

static int
s_on_pipe(zloop_t *loop, zsock_t *pipe, void *arg)
{
    (void)loop;
    (void)arg;
    char *command = zstr_recv(pipe);
    zstr_free(&command); /* $TERM is the only message */
    return -1;
}

static void
s_actor(zsock_t *pipe, void *arg)
{
    const s_config_t *config = arg;
    s_service_t service = {.loop = zloop_new()};
    zn_idclient_opts_t id_opts = {.endpoints = &config->identity, .endpoint_count = 1};
    zn_idclient_t *idclient = NULL;
    zn_rest_t *rest = NULL;
    zn_metrics_t *metrics = zn_metrics_new();
    zn_trace_t *trace = zn_trace_new(0);
    zn_rest_opts_t opts = {
        .metrics = metrics,
        .trace = trace,
        .service = "test",
        .endpoint = "127.0.0.1:0",
        .url_prefix = "/svc/",
        .style = config->style,
        .routes = s_routes,
        .arg = &service,
    };
    if (zn_idclient_open(&idclient, &id_opts, NULL) != 0 ||
        zn_idclient_attach(idclient, service.loop) != 0) {
        abort();
    }
    opts.idclient = idclient;
    if (zn_rest_open(&rest, &opts, NULL) != 0 || zn_rest_attach(rest, service.loop) != 0) {
        abort();
    }
    (void)zloop_reader(service.loop, pipe, s_on_pipe, NULL);
    zsock_signal(pipe, 0);
    zsock_send(pipe, "i", (int)zn_rest_port(rest));
    (void)zloop_start(service.loop);
    zn_idclient_destroy(&idclient); /* first: pending validations are answered, then freed */
    zn_rest_destroy(&rest);
    zloop_destroy(&service.loop);
    zn_trace_destroy(&trace);
    zn_metrics_destroy(&metrics);
}

/* ---- fixture ----------------------------------------------------------------------------- */

typedef struct s_state {
    id_fixture_t *fix;
    s_config_t config;
    zactor_t *actor;
    uint16_t port;
    char admin[2048];
    char response[S_RESPONSE_MAX];
} s_state_t;

static void
s_start_service(s_state_t *s, zn_rest_style_t style)
{
    s->config.identity = id_fixture_call_endpoint(s->fix);
    s->config.style = style;
    s->actor = zactor_new(s_actor, &s->config);
    int port = 0;
    assert_int_equal(zsock_recv(s->actor, "i", &port), 0);
    s->port = (uint16_t)port;
}

static int
s_setup(void **state)
{
    s_state_t *s = zn_calloc(1, sizeof(*s));
    s->fix = id_fixture_start("test");
    assert_int_equal(id_fixture_login(s->fix, "admin", "secret", "admin", s->admin, 2048), 201);
    s_start_service(s, ZN_REST_STYLE_NOVA);
    *state = s;
    return 0;
}

static int
s_teardown(void **state)
{
    s_state_t *s = *state;
    zactor_destroy(&s->actor);
    id_fixture_stop(&s->fix);
    zn_free(s);
    return 0;
}

static int
s_call(s_state_t *s, const char *method, const char *path, const char *token, const char *body)
{
    return id_fixture_http_at(s->port, method, path, token, body, s->response, sizeof(s->response));
}

static const char *
s_body(const s_state_t *s)
{
    const char *at = strstr(s->response, "\r\n\r\n");
    return at != NULL ? at + 4 : "";
}

/* ---- tests ------------------------------------------------------------------------------- */

static void
test_rest_example(void **state)
{
    s_state_t *s = *state;
    assert_int_equal(s_call(s, "GET", "/v1/things/abc", s->admin, NULL), 200);
    assert_non_null(strstr(s_body(s), "\"id\":\"abc\""));
    assert_non_null(strstr(s_body(s), "\"token\":true"));
    assert_non_null(strstr(s->response, "X-Openstack-Request-Id: req-"));
    /* The second request is answered from the idclient's cache, with the same result. */
    assert_int_equal(s_call(s, "GET", "/svc/v1/things/xyz", s->admin, NULL), 200);
    assert_non_null(strstr(s_body(s), "\"id\":\"xyz\""));
    assert_non_null(strstr(s_body(s), "admin"));
}

static void
test_rest_no_token_routes(void **state)
{
    s_state_t *s = *state;
    assert_int_equal(s_call(s, "GET", "/svc/v1", NULL, NULL), 200);
    assert_int_equal(s_call(s, "GET", "/v1/", NULL, NULL), 200);
    assert_non_null(strstr(s_body(s), "\"version\":\"v1\""));
}

static void
test_rest_auth_refused(void **state)
{
    s_state_t *s = *state;
    assert_int_equal(s_call(s, "GET", "/v1/things/abc", NULL, NULL), 401);
    assert_non_null(strstr(s_body(s), "\"unauthorized\""));
    assert_int_equal(s_call(s, "GET", "/v1/things/abc", "not-a-token", NULL), 401);
    char tampered[2048];
    (void)snprintf(tampered, sizeof(tampered), "%s", s->admin);
    tampered[10] = tampered[10] == 'A' ? 'B' : 'A';
    assert_int_equal(s_call(s, "GET", "/v1/things/abc", tampered, NULL), 401);
}

static void
test_rest_routing_errors(void **state)
{
    s_state_t *s = *state;
    assert_int_equal(s_call(s, "GET", "/v1/nothing", s->admin, NULL), 404);
    assert_non_null(strstr(s_body(s), "{\"itemNotFound\":{\"code\":404,\"message\":"));
    assert_int_equal(s_call(s, "PUT", "/v1/things/abc", s->admin, NULL), 405);
    assert_int_equal(s_call(s, "GET", "/v1/things/missing", s->admin, NULL), 404);
    assert_non_null(strstr(s_body(s), "thing missing could not be found"));
    assert_int_equal(s_call(s, "GET", "/v1/silent", s->admin, NULL), 500);
    assert_non_null(strstr(s_body(s), "computeFault"));
}

static void
test_rest_json_bodies(void **state)
{
    s_state_t *s = *state;
    assert_int_equal(s_call(s, "POST", "/v1/things", s->admin, "{\"name\":\"n1\"}"), 201);
    assert_non_null(strstr(s_body(s), "\"created\":\"n1\""));
    assert_int_equal(s_call(s, "POST", "/v1/things", s->admin, "{\"name\":"), 400);
    assert_non_null(strstr(s_body(s), "badRequest"));
    assert_int_equal(s_call(s, "POST", "/v1/things", s->admin, "[1,2]"), 400);
    assert_int_equal(s_call(s, "POST", "/v1/things", s->admin, ""), 400);
}

static void
test_rest_deferred_answer(void **state)
{
    s_state_t *s = *state;
    assert_int_equal(s_call(s, "GET", "/v1/later", s->admin, NULL), 200);
    assert_non_null(strstr(s_body(s), "\"answer\":\"later\""));
}

/* A user of the admin project with only the reader role: reads pass, changes and admin
 * routes are refused. */
static void
test_rest_policy_reader(void **state)
{
    s_state_t *s = *state;
    char out[S_RESPONSE_MAX];
    int status =
        id_fixture_http_at(id_fixture_http_port(s->fix), "POST", "/v3/users", s->admin,
                           "{\"user\":{\"name\":\"rita\",\"password\":\"pw\"}}", out, sizeof(out));
    assert_int_equal(status, 201);
    char user_id[64];
    char role_id[64];
    assert_int_equal(sscanf(strstr(out, "\"id\":\"") + 6, "%63[^\"]", user_id), 1);
    assert_int_equal(id_fixture_http_at(id_fixture_http_port(s->fix), "GET",
                                        "/v3/roles?name=reader", s->admin, NULL, out, sizeof(out)),
                     200);
    assert_int_equal(sscanf(strstr(out, "\"id\":\"") + 6, "%63[^\"]", role_id), 1);
    /* The admin project's id: from the admin token's validation through the service. */
    assert_int_equal(s_call(s, "GET", "/v1/things/p", s->admin, NULL), 200);
    char project_id[64];
    assert_int_equal(sscanf(strstr(s_body(s), "\"project\":\"") + 11, "%63[^\"]", project_id), 1);
    char *path = zn_asprintf("/v3/projects/%s/users/%s/roles/%s", project_id, user_id, role_id);
    assert_int_equal(
        id_fixture_http_at(id_fixture_http_port(s->fix), "PUT", path, s->admin, NULL, NULL, 0),
        204);
    zn_str_free(&path);
    char reader[2048];
    assert_int_equal(id_fixture_login(s->fix, "rita", "pw", "admin", reader, sizeof(reader)), 201);
    assert_int_equal(s_call(s, "GET", "/v1/things/abc", reader, NULL), 200);
    assert_int_equal(s_call(s, "POST", "/v1/things", reader, "{\"name\":\"n\"}"), 403);
    assert_non_null(strstr(s_body(s), "\"forbidden\""));
    assert_int_equal(s_call(s, "DELETE", "/v1/admin", reader, NULL), 403);
    assert_int_equal(s_call(s, "DELETE", "/v1/admin", s->admin, NULL), 204);
}

static void
test_rest_neutron_style(void **state)
{
    s_state_t *s = *state;
    zactor_destroy(&s->actor);
    s_start_service(s, ZN_REST_STYLE_NEUTRON);
    assert_int_equal(s_call(s, "GET", "/v1/things/missing", s->admin, NULL), 404);
    assert_non_null(strstr(s_body(s), "{\"NeutronError\":{\"type\":\"NotFound\""));
    zactor_destroy(&s->actor);
    s_start_service(s, ZN_REST_STYLE_KEYSTONE);
    assert_int_equal(s_call(s, "GET", "/v1/things/missing", s->admin, NULL), 404);
    assert_non_null(strstr(s_body(s), "\"title\":\"Not Found\""));
}

static void
test_rest_prometheus_metrics(void **state)
{
    s_state_t *s = *state;
    assert_int_equal(s_call(s, "GET", "/v1/things/abc", s->admin, NULL), 200);
    assert_int_equal(s_call(s, "GET", "/metrics", NULL, NULL), 200);
    assert_non_null(strstr(s->response, "Content-Type: text/plain"));
    assert_non_null(strstr(s_body(s), "zinc_test_http_requests"));
}

static void
test_rest_status_table(void **state)
{
    (void)state;
    assert_int_equal(zn_rest_status(-EINVAL), 400);
    assert_int_equal(zn_rest_status(ZN_EAUTH), 401);
    assert_int_equal(zn_rest_status(ZN_EQUOTA), 403);
    assert_int_equal(zn_rest_status(-ENOENT), 404);
    assert_int_equal(zn_rest_status(ZN_ECONFLICT), 409);
    assert_int_equal(zn_rest_status(ZN_EUNAVAIL), 503);
    assert_int_equal(zn_rest_status(-EIO), 500);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rest_example),       cmocka_unit_test(test_rest_no_token_routes),
        cmocka_unit_test(test_rest_auth_refused),  cmocka_unit_test(test_rest_routing_errors),
        cmocka_unit_test(test_rest_json_bodies),   cmocka_unit_test(test_rest_deferred_answer),
        cmocka_unit_test(test_rest_policy_reader), cmocka_unit_test(test_rest_prometheus_metrics),
        cmocka_unit_test(test_rest_neutron_style), cmocka_unit_test(test_rest_status_table),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
