/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for zn_http's streaming (what zinc-image's uploads and downloads stand on): a body
 * streamed to a sink past the buffered-body limit, a sink that refuses the rest, a client that
 * goes away mid-body, an answer given from on_headers, and a file sent from a descriptor. A real
 * server on a zloop, a real client in a second thread over loopback TCP. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <czmq.h>

#include "zn_http.h"
#include "zn_mem.h"

#define S_BODY_MAX ((size_t)1024)

typedef struct s_server {
    zn_http_t *http;
    zloop_t *loop;
    size_t streamed;     /* bytes the sink took */
    uint32_t sum;        /* a running checksum of them */
    size_t refuse_after; /* the sink refuses once it holds this many; 0: never */
    int aborts;
    bool refused;
    int handled;
    char file_path[64];
} s_server_t;

static int
s_sink_write(void *arg, const char *data, size_t len)
{
    s_server_t *s = arg;
    if (s->refuse_after > 0 && s->streamed + len > s->refuse_after) {
        s->refused = true;
        return -EFBIG;
    }
    for (size_t i = 0; i < len; i++) {
        s->sum = s->sum * 31u + (uint8_t)data[i];
    }
    s->streamed += len;
    return 0;
}

static void
s_sink_abort(void *arg)
{
    s_server_t *s = arg;
    s->aborts++;
}

static void
s_on_headers(void *arg, zn_http_req_t *req)
{
    s_server_t *s = arg;
    const char *path = zn_http_path(req);
    if (strcmp(path, "/deny") == 0) {
        zn_http_respond(req, 401, "text/plain", "no", 2);
    } else if (strcmp(path, "/upload") == 0) {
        zn_http_sink_t sink = {s_sink_write, s_sink_abort, s};
        zn_http_stream_body(req, &sink);
    }
}

static void
s_handler(void *arg, zn_http_req_t *req)
{
    s_server_t *s = arg;
    s->handled++;
    const char *path = zn_http_path(req);
    char text[64];
    if (strcmp(path, "/upload") == 0) {
        int n = snprintf(text, sizeof(text), "%zu %u %lld", s->streamed, s->sum,
                         (long long)zn_http_content_length(req));
        zn_http_respond(req, s->refused ? 413 : 200, "text/plain", text, (size_t)n);
    } else if (strcmp(path, "/file") == 0) {
        int fd = open(s->file_path, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        zn_http_respond_fd(req, 200, "application/octet-stream", fd, 10, 100000);
    } else {
        size_t len = 0;
        (void)zn_http_body(req, &len);
        int n = snprintf(text, sizeof(text), "%zu", len);
        zn_http_respond(req, 200, "text/plain", text, (size_t)n);
    }
}

/* ---- the client: one request on a fresh connection, from a czmq actor ------------------- */

typedef struct s_client {
    uint16_t port;
    const char *method;
    const char *path;
    size_t declared; /* Content-Length */
    size_t sent;     /* bytes actually sent; fewer than declared: hang up */
    char answer[256 * 1024];
    size_t answer_len;
    int status;
} s_client_t;

static void
s_send_body(int fd, size_t count)
{
    char chunk[8192];
    for (size_t i = 0; i < sizeof(chunk); i++) {
        chunk[i] = (char)('a' + i % 26);
    }
    size_t done = 0;
    while (done < count) {
        size_t n = count - done < sizeof(chunk) ? count - done : sizeof(chunk);
        ssize_t w = send(fd, chunk, n, MSG_NOSIGNAL);
        if (w <= 0) {
            return; /* the server answered early and closed: fine */
        }
        done += (size_t)w;
    }
}

static void
s_client_run(s_client_t *c)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(c->port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    char head[256];
    int n =
        snprintf(head, sizeof(head),
                 "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n",
                 c->method, c->path, c->declared);
    assert_int_equal(send(fd, head, (size_t)n, MSG_NOSIGNAL), n);
    s_send_body(fd, c->sent);
    if (c->sent < c->declared) {
        (void)close(fd); /* hang up mid-body */
        return;
    }
    ssize_t r = 0;
    while ((r = recv(fd, c->answer + c->answer_len, sizeof(c->answer) - 1 - c->answer_len, 0)) >
           0) {
        c->answer_len += (size_t)r;
    }
    c->answer[c->answer_len] = '\0';
    (void)sscanf(c->answer, "HTTP/1.1 %d", &c->status);
    (void)close(fd);
}

static void
s_client_actor(zsock_t *pipe, void *arg)
{
    zsock_signal(pipe, 0);
    s_client_run(arg);
    zsock_signal(pipe, 0);
    char *term = zstr_recv(pipe); /* $TERM from zactor_destroy */
    zstr_free(&term);
}

typedef struct s_run {
    s_server_t *server;
    bool client_done;
    bool wait_abort; /* also serve until the server saw the hang-up */
    int64_t ticks;
} s_run_t;

static int
s_on_client_done(zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    s_run_t *run = arg;
    (void)zsock_wait(reader);
    run->client_done = true;
    return 0;
}

static int
s_on_tick(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    s_run_t *run = arg;
    run->ticks++;
    bool done = run->client_done && (!run->wait_abort || run->server->aborts > 0);
    return done || run->ticks > 1000 ? -1 : 0; /* ten seconds at most */
}

/* Serve until the client has finished (and, with WAIT_ABORT, until the server saw it go). */
static void
s_roundtrip(s_server_t *s, s_client_t *c, bool wait_abort)
{
    zloop_t *loop = s->loop;
    c->port = zn_http_port(s->http);
    s_run_t run = {.server = s, .wait_abort = wait_abort};
    zactor_t *client = zactor_new(s_client_actor, c);
    assert_int_equal(zloop_reader(loop, zactor_sock(client), s_on_client_done, &run), 0);
    int timer_id = zloop_timer(loop, 10, 0, s_on_tick, &run);
    assert_true(timer_id >= 0);
    (void)zloop_start(loop);
    assert_true(run.client_done);
    zloop_timer_end(loop, timer_id);
    zloop_reader_end(loop, zactor_sock(client));
    zactor_destroy(&client);
}

static s_server_t *
s_server_new(void)
{
    s_server_t *s = zn_calloc(1, sizeof(*s));
    zn_http_opts_t opts = {
        .endpoint = "127.0.0.1:0", .body_max_bytes = S_BODY_MAX, .on_headers = s_on_headers};
    assert_int_equal(zn_http_open(&s->http, &opts, s_handler, s, NULL), 0);
    s->loop = zloop_new();
    assert_int_equal(zn_http_attach(s->http, s->loop), 0);
    return s;
}

static void
s_server_destroy(s_server_t **s_p)
{
    zn_http_destroy(&(*s_p)->http);
    zloop_destroy(&(*s_p)->loop);
    zn_free(*s_p);
    *s_p = NULL;
}

static s_client_t *
s_client_new(const char *method, const char *path, size_t declared, size_t sent)
{
    s_client_t *c = zn_calloc(1, sizeof(*c));
    *c = (s_client_t){.method = method, .path = path, .declared = declared, .sent = sent};
    return c;
}

static void
test_image_http_example(void **state)
{
    (void)state;
    s_server_t *s = s_server_new();
    /* A megabyte streams through although buffered bodies stop at a kilobyte. */
    s_client_t *c = s_client_new("PUT", "/upload", 1 << 20, 1 << 20);
    s_roundtrip(s, c, false);
    assert_int_equal(c->status, 200);
    assert_int_equal(s->streamed, 1 << 20);
    char want[64];
    (void)snprintf(want, sizeof(want), "%d %u %d", 1 << 20, s->sum, 1 << 20);
    assert_non_null(strstr(c->answer, want));
    assert_int_equal(s->aborts, 0);
    zn_free(c);
    s_server_destroy(&s);
}

static void
test_image_http_buffered_limit_still_holds(void **state)
{
    (void)state;
    s_server_t *s = s_server_new();
    s_client_t *c = s_client_new("POST", "/other", 2 * S_BODY_MAX, 2 * S_BODY_MAX);
    s_roundtrip(s, c, false);
    assert_int_equal(c->status, 413);
    assert_int_equal(s->handled, 0);
    zn_free(c);
    c = s_client_new("POST", "/other", S_BODY_MAX, S_BODY_MAX);
    s_roundtrip(s, c, false);
    assert_int_equal(c->status, 200);
    assert_non_null(strstr(c->answer, "\r\n\r\n1024"));
    zn_free(c);
    s_server_destroy(&s);
}

static void
test_image_http_sink_refuses_the_rest(void **state)
{
    (void)state;
    s_server_t *s = s_server_new();
    s->refuse_after = 100000;
    s_client_t *c = s_client_new("PUT", "/upload", 300000, 300000);
    s_roundtrip(s, c, false);
    assert_int_equal(c->status, 413); /* the handler still ran, at the end */
    assert_true(s->streamed <= 100000);
    assert_int_equal(s->handled, 1);
    zn_free(c);
    s_server_destroy(&s);
}

static void
test_image_http_client_gone_mid_body(void **state)
{
    (void)state;
    s_server_t *s = s_server_new();
    s_client_t *c = s_client_new("PUT", "/upload", 1 << 20, 65536);
    s_roundtrip(s, c, true);
    assert_int_equal(s->aborts, 1);
    assert_int_equal(s->handled, 0);
    assert_true(s->streamed <= 65536);
    zn_free(c);
    s_server_destroy(&s);
}

static void
test_image_http_answer_from_headers(void **state)
{
    (void)state;
    s_server_t *s = s_server_new();
    s_client_t *c = s_client_new("PUT", "/deny", 4096, 4096);
    s_roundtrip(s, c, false);
    assert_int_equal(c->status, 401);
    assert_int_equal(s->handled, 0);
    zn_free(c);
    s_server_destroy(&s);
}

static void
test_image_http_respond_fd(void **state)
{
    (void)state;
    s_server_t *s = s_server_new();
    (void)snprintf(s->file_path, sizeof(s->file_path), "/tmp/zn-http-fd-XXXXXX");
    int fd = mkstemp(s->file_path);
    assert_true(fd >= 0);
    char *data = zn_malloc(100010);
    for (size_t i = 0; i < 100010; i++) {
        data[i] = (char)('A' + i % 23);
    }
    assert_int_equal(write(fd, data, 100010), 100010);
    (void)close(fd);
    s_client_t *c = s_client_new("GET", "/file", 0, 0);
    s_roundtrip(s, c, false);
    assert_int_equal(c->status, 200);
    const char *body = strstr(c->answer, "\r\n\r\n");
    assert_non_null(body);
    body += 4;
    assert_int_equal(c->answer_len - (size_t)(body - c->answer), 100000);
    assert_memory_equal(body, data + 10, 100000);
    assert_non_null(strstr(c->answer, "Content-Length: 100000"));
    (void)unlink(s->file_path);
    zn_free(data);
    zn_free(c);
    s_server_destroy(&s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_image_http_example),
        cmocka_unit_test(test_image_http_buffered_limit_still_holds),
        cmocka_unit_test(test_image_http_sink_refuses_the_rest),
        cmocka_unit_test(test_image_http_client_gone_mid_body),
        cmocka_unit_test(test_image_http_answer_from_headers),
        cmocka_unit_test(test_image_http_respond_fd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
