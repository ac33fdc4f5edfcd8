/* SPDX-License-Identifier: Apache-2.0 */
/* bench_boot.c - the boot storm's load generator (bench/boot.sh starts the cloud and runs it):
 * fires COUNT "create server" requests through the compute API over CONCURRENCY keep-alive
 * connections, waits until every server is ACTIVE (or ERROR), reads each instance's launch time
 * from the store replica to get REST-to-ACTIVE latency, then deletes them all and waits until
 * no record is left. Progress is read from the replica, not by listing servers over REST, which
 * would load the api it measures. Prints the figures and a last line
 * `bootstorm: servers_per_s=X p50_ms=Y p90_ms=Z p99_ms=W max_ms=V deletes_per_s=U errors=E`.
 *
 * usage: bench_boot URL TOKEN FLAVOR IMAGE NETWORK COUNT CONCURRENCY REPLICA_DIR [SAMPLES]
 * (URL like http://127.0.0.1:8774/v2.1; NETWORK "none" or "auto" or an id; SAMPLES: a file that
 * gets "SECONDS_SINCE_START LATENCY_MS REQUEST_ID" per server, for the plot and traces).
 * ZN_BOOT_RATE in the environment paces the creates (so many a second at most, open loop). */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "zn_cellrec.h"
#include "zn_clock.h"
#include "zn_mem.h"
#include "zn_sclient.h"
#include "zn_str.h"
#include "zn_tables.h"

#define S_RESPONSE_MAX ((size_t)4 * 1024 * 1024)
#define S_WAIT_MS      600000

typedef struct {
    const char *host;
    uint16_t port;
    const char *base_path; /* "/v2.1" */
    const char *token;
} s_api_t;

/* One keep-alive connection with at most one request in flight. */
typedef struct {
    int fd;
    char *out;
    size_t out_len;
    size_t out_sent;
    char *in;
    size_t in_len;
    size_t index; /* the request it carries */
    bool busy;
} s_conn_t;

/* Creates a second (RATE > 0: an open-loop pace, one request every 1/RATE s at most; 0: as
 * fast as the connections allow), from START_US. */
typedef struct {
    double rate;
    int64_t start_us;
} s_pace_t;

static int64_t
s_wall_ms(void)
{
    return zn_clock_wall_ms();
}

static int
s_connect(const s_api_t *api)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(api->port)};
    if (fd < 0 || inet_pton(AF_INET, api->host, &addr.sin_addr) != 1 ||
        connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
        (void)fprintf(stderr, "bench_boot: cannot connect to %s:%u: %s\n", api->host, api->port,
                      strerror(errno));
        exit(1);
    }
    return fd;
}

static char *
s_request(const s_api_t *api, const char *method, const char *path, const char *body)
{
    return zn_asprintf("%s %s%s HTTP/1.1\r\nHost: %s:%u\r\nX-Auth-Token: %s\r\n"
                       "X-OpenStack-Nova-API-Version: 2.1\r\nAccept: application/json\r\n"
                       "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                       method, api->base_path, path, api->host, api->port, api->token,
                       body != NULL ? strlen(body) : 0, body != NULL ? body : "");
}

/* Bytes of a complete response in IN (headers and Content-Length body), or 0 when incomplete. */
static size_t
s_complete(const char *in, size_t len)
{
    const char *end = memmem(in, len, "\r\n\r\n", 4);
    if (end == NULL) {
        return 0;
    }
    size_t head = (size_t)(end - in) + 4;
    const char *cl = strcasestr(in, "\r\nContent-Length:");
    size_t body = 0;
    if (cl != NULL && cl < end) {
        body = (size_t)strtoull(cl + strlen("\r\nContent-Length:"), NULL, 10);
    }
    return len >= head + body ? head + body : 0;
}

static const char *
s_body_of(const char *response)
{
    const char *at = strstr(response, "\r\n\r\n");
    return at != NULL ? at + 4 : "";
}

/* ---- the storm: many requests over a pool of connections --------------------------------- */

typedef char *(s_make_fn)(const s_api_t *api, size_t index, void *arg);
/* RESPONSE: the whole answer (status line, headers, body), NUL-terminated. */
typedef void(s_done_fn)(size_t index, int status, const char *response, void *arg);

static void
s_conn_start(s_conn_t *conn, const s_api_t *api, size_t index, s_make_fn *make, void *arg)
{
    conn->out = make(api, index, arg);
    conn->out_len = strlen(conn->out);
    conn->out_sent = 0;
    conn->in_len = 0;
    conn->index = index;
    conn->busy = true;
}

static void
s_conn_io(s_conn_t *conn, short revents, s_done_fn *done, void *arg)
{
    if ((revents & POLLOUT) && conn->out_sent < conn->out_len) {
        ssize_t n = write(conn->fd, conn->out + conn->out_sent, conn->out_len - conn->out_sent);
        conn->out_sent += n > 0 ? (size_t)n : 0;
    }
    if (revents & (POLLIN | POLLHUP)) {
        ssize_t n = read(conn->fd, conn->in + conn->in_len, S_RESPONSE_MAX - conn->in_len);
        if (n <= 0) {
            (void)fprintf(stderr, "bench_boot: connection closed by the API\n");
            exit(1);
        }
        conn->in_len += (size_t)n;
        conn->in[conn->in_len] = '\0';
        if (s_complete(conn->in, conn->in_len) > 0) {
            int status = 0;
            if (sscanf(conn->in, "HTTP/1.1 %d", &status) != 1) {
                status = -1;
            }
            done(conn->index, status, conn->in, arg);
            zn_str_free(&conn->out);
            conn->busy = false;
        }
    }
}

/* When request INDEX may be sent: at once, or on the pace's schedule from START_US. */
static int64_t
s_due_us(const s_pace_t *pace, size_t index)
{
    return pace->rate > 0 ? pace->start_us + (int64_t)((double)index * 1e6 / pace->rate) : 0;
}

/* Give every idle connection the next request (while any is left and it is due) and fill the
 * poll set. */
static void
s_storm_arm(s_conn_t *conns, struct pollfd *fds, size_t concurrency, size_t count, size_t *next,
            const s_api_t *api, const s_pace_t *pace, s_make_fn *make, void *arg)
{
    for (size_t i = 0; i < concurrency; i++) {
        if (!conns[i].busy && *next < count && zn_clock_mono_us() >= s_due_us(pace, *next)) {
            s_conn_start(&conns[i], api, (*next)++, make, arg);
        }
        short events = 0;
        if (conns[i].busy) {
            events = (short)(POLLIN | (conns[i].out_sent < conns[i].out_len ? POLLOUT : 0));
        }
        fds[i] = (struct pollfd){.fd = conns[i].fd, .events = events};
    }
}

/* How long poll may wait: until the next paced request is due, else 10 s for an answer. */
static int
s_poll_ms(const s_pace_t *pace, size_t next, size_t count)
{
    if (pace->rate <= 0 || next >= count) {
        return 10000;
    }
    int64_t wait_us = s_due_us(pace, next) - zn_clock_mono_us();
    return wait_us <= 0 ? 0 : (int)((wait_us + 999) / 1000);
}

/* Run COUNT requests made by MAKE over CONCURRENCY connections, at most PACE->rate a second
 * when it is set; DONE sees each answer. */
static void
s_storm(const s_api_t *api, size_t count, size_t concurrency, s_pace_t pace, s_make_fn *make,
        s_done_fn *done, void *arg)
{
    pace.start_us = zn_clock_mono_us();
    s_conn_t *conns = zn_calloc(concurrency, sizeof(*conns));
    struct pollfd *fds = zn_calloc(concurrency, sizeof(*fds));
    for (size_t i = 0; i < concurrency; i++) {
        conns[i].fd = s_connect(api);
        conns[i].in = zn_malloc(S_RESPONSE_MAX + 1);
    }
    size_t next = 0;
    size_t finished = 0;
    while (finished < count) {
        s_storm_arm(conns, fds, concurrency, count, &next, api, &pace, make, arg);
        int timeout_ms = s_poll_ms(&pace, next, count);
        int ready = poll(fds, concurrency, timeout_ms);
        if (ready < 0 || (ready == 0 && timeout_ms == 10000)) {
            (void)fprintf(stderr, "bench_boot: no answer from the API within 10 s\n");
            exit(1);
        }
        for (size_t i = 0; i < concurrency; i++) {
            if (fds[i].revents != 0 && conns[i].busy) {
                s_conn_io(&conns[i], fds[i].revents, done, arg);
                finished += conns[i].busy ? 0 : 1;
            }
        }
    }
    for (size_t i = 0; i < concurrency; i++) {
        close(conns[i].fd);
        zn_free(conns[i].in);
    }
    zn_free(fds);
    zn_free(conns);
}

/* ---- the benchmark ----------------------------------------------------------------------- */

typedef struct {
    const char *flavor;
    const char *image;
    const char *network;
    char **ids;
    int64_t *sent_ms;
    char **request_ids;  /* X-Openstack-Request-Id of each create, for zincctl trace */
    size_t errors;       /* requests not answered as expected */
    size_t build_errors; /* instances that ended in ERROR */
} s_run_t;

static char *
s_make_create(const s_api_t *api, size_t index, void *arg)
{
    s_run_t *run = arg;
    char *networks = strcmp(run->network, "none") == 0 || strcmp(run->network, "auto") == 0
                         ? zn_asprintf("\"%s\"", run->network)
                         : zn_asprintf("[{\"uuid\":\"%s\"}]", run->network);
    char *body = zn_asprintf("{\"server\":{\"name\":\"storm-%zu\",\"flavorRef\":\"%s\","
                             "\"imageRef\":\"%s\",\"networks\":%s}}",
                             index, run->flavor, run->image, networks);
    char *req = s_request(api, "POST", "/servers", body);
    run->sent_ms[index] = s_wall_ms();
    zn_str_free(&body);
    zn_str_free(&networks);
    return req;
}

/* The value of header NAME (with its colon) in RESPONSE, or NULL. */
static char *
s_header(const char *response, const char *name)
{
    const char *end = strstr(response, "\r\n\r\n");
    const char *at = strcasestr(response, name);
    if (at == NULL || (end != NULL && at > end)) {
        return NULL;
    }
    at += strlen(name);
    at += strspn(at, " ");
    return zn_strndup(at, strcspn(at, "\r\n"));
}

static void
s_created(size_t index, int status, const char *response, void *arg)
{
    s_run_t *run = arg;
    const char *body = s_body_of(response);
    json_t *root = json_loads(body, 0, NULL);
    const char *id = json_string_value(json_object_get(json_object_get(root, "server"), "id"));
    if (status != 202 || id == NULL) {
        run->errors++;
        (void)fprintf(stderr, "bench_boot: create %zu answered %d: %.200s\n", index, status, body);
    } else {
        run->ids[index] = zn_strdup(id);
        run->request_ids[index] = s_header(response, "\r\nX-Openstack-Request-Id:");
    }
    json_decref(root);
}

static char *
s_make_delete(const s_api_t *api, size_t index, void *arg)
{
    s_run_t *run = arg;
    char *path = zn_asprintf("/servers/%s", run->ids[index] != NULL ? run->ids[index] : "none");
    char *req = s_request(api, "DELETE", path, NULL);
    zn_str_free(&path);
    return req;
}

static void
s_deleted(size_t index, int status, const char *response, void *arg)
{
    s_run_t *run = arg;
    const char *body = s_body_of(response);
    if (status != 204 && run->ids[index] != NULL) {
        run->errors++;
        (void)fprintf(stderr, "bench_boot: delete %zu answered %d: %.200s\n", index, status, body);
    }
}

static int
s_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a;
    int64_t y = *(const int64_t *)b;
    return x < y ? -1 : x > y ? 1 : 0;
}

/* What the replica says about the storm's instances at one moment. */
typedef struct {
    size_t active; /* vm_state active with a launch time */
    size_t error;  /* vm_state error */
} s_tally_t;

/* Read every instance of the run from the store replica (an LMDB read: no load on the api,
 * unlike listing 1,000 servers over REST every few ms). With LAT, the REST-to-ACTIVE latency of
 * each active one, launched_ms (set by the conductor when the build succeeded) minus the
 * client's send time, goes to LAT[i] (-1 when not active) and *last_ms gets the latest launch. */
static int
s_tally(zn_sclient_t *client, const s_run_t *run, size_t count, s_tally_t *tally, int64_t *lat,
        int64_t *last_ms)
{
    zn_store_read_t *txn = NULL;
    zn_fault_t fault;
    *tally = (s_tally_t){0};
    if (zn_sclient_read_begin(client, &txn, &fault) < 0) {
        (void)fprintf(stderr, "bench_boot: replica: %s\n", zn_fault_message(&fault));
        return -1;
    }
    const zn_store_table_t *table = zn_sclient_table(client, ZN_TABLE_INSTANCES);
    for (size_t i = 0; i < count; i++) {
        zn_cell_instance_t inst;
        if (lat != NULL) {
            lat[i] = -1;
        }
        if (run->ids[i] == NULL || zn_sclient_get(txn, table, run->ids[i], &zn_cell_instance_schema,
                                                  &inst, NULL, &fault) < 0) {
            continue;
        }
        const char *vm = inst.vm_state != NULL ? inst.vm_state : "";
        if (strcmp(vm, "active") == 0 && inst.launched_ms > 0) {
            tally->active++;
            if (lat != NULL) {
                lat[i] = inst.launched_ms - run->sent_ms[i];
                *last_ms = inst.launched_ms > *last_ms ? inst.launched_ms : *last_ms;
            }
        } else if (strcmp(vm, "error") == 0) {
            tally->error++;
        }
        zn_schema_release(&zn_cell_instance_schema, &inst);
    }
    zn_store_read_end(&txn);
    return 0;
}

/* Whether instance I has settled: active or in error (WANT_GONE: no record left). */
static bool
s_settled(zn_store_read_t *txn, const zn_store_table_t *table, const s_run_t *run, size_t i,
          bool want_gone)
{
    zn_cell_instance_t inst;
    zn_fault_t fault;
    if (run->ids[i] == NULL || zn_sclient_get(txn, table, run->ids[i], &zn_cell_instance_schema,
                                              &inst, NULL, &fault) < 0) {
        return true; /* never created, or gone */
    }
    const char *vm = inst.vm_state != NULL ? inst.vm_state : "";
    bool settled = !want_gone && ((strcmp(vm, "active") == 0 && inst.launched_ms > 0) ||
                                  strcmp(vm, "error") == 0);
    zn_schema_release(&zn_cell_instance_schema, &inst);
    return settled;
}

/* Poll the replica until every instance has settled (active or in error; WANT_GONE: until
 * none exists any more), for at most S_WAIT_MS. Only the instances not settled yet are read
 * again (a settled one stays so: the storm neither stops nor deletes them meanwhile), so the
 * load generator takes little of the CPU it shares with the cloud it measures. */
static bool
s_wait_replica(zn_sclient_t *client, const s_run_t *run, size_t count, bool want_gone)
{
    bool *done = zn_calloc(count, sizeof(*done));
    size_t left = count;
    const zn_store_table_t *table = zn_sclient_table(client, ZN_TABLE_INSTANCES);
    int64_t deadline = zn_clock_mono_ms() + S_WAIT_MS;
    int64_t next_report = zn_clock_mono_ms() + 2000;
    while (left > 0 && zn_clock_mono_ms() < deadline) {
        zn_store_read_t *txn = NULL;
        zn_fault_t fault;
        if (zn_sclient_read_begin(client, &txn, &fault) < 0) {
            (void)fprintf(stderr, "bench_boot: replica: %s\n", zn_fault_message(&fault));
            break;
        }
        for (size_t i = 0; i < count; i++) {
            if (!done[i] && s_settled(txn, table, run, i, want_gone)) {
                done[i] = true;
                left--;
            }
        }
        zn_store_read_end(&txn);
        if (zn_clock_mono_ms() >= next_report) {
            (void)fprintf(stderr, "bench_boot: waiting for %zu of %zu to %s\n", left, count,
                          want_gone ? "go" : "settle");
            next_report += 2000;
        }
        if (left > 0) {
            (void)usleep(5000);
        }
    }
    zn_free(done);
    return left == 0;
}

static bool
s_parse_url(const char *url, char *host, size_t cap, uint16_t *port, const char **path)
{
    unsigned p = 0;
    int consumed = 0;
    if (strncmp(url, "http://", 7) != 0 ||
        sscanf(url + 7, "%63[^:]:%u%n", host, &p, &consumed) != 2 || cap < 64 || p > 65535) {
        return false;
    }
    *port = (uint16_t)p;
    *path = url + 7 + consumed;
    return true;
}

/* Keep the latencies of the active ones (LAT[i] >= 0), in request order, into OUT; write
 * "SECONDS_SINCE_FIRST_REQUEST LATENCY_MS REQUEST_ID" per server to SAMPLES (the storm's plot,
 * and the request to trace). */
static size_t
s_collect(const s_run_t *run, size_t count, const int64_t *lat, int64_t first_ms, int64_t *out,
          const char *samples)
{
    FILE *f = samples != NULL ? fopen(samples, "w") : NULL;
    size_t got = 0;
    for (size_t i = 0; i < count; i++) {
        if (lat[i] < 0) {
            continue;
        }
        out[got++] = lat[i];
        if (f != NULL) {
            (void)fprintf(f, "%.3f %" PRId64 " %s\n", (double)(run->sent_ms[i] - first_ms) / 1000.0,
                          lat[i], run->request_ids[i] != NULL ? run->request_ids[i] : "-");
        }
    }
    if (f != NULL) {
        (void)fclose(f);
    }
    return got;
}

static void
s_report(const s_run_t *run, size_t count, int64_t *lat, size_t got, int64_t first_ms,
         int64_t last_ms, double deletes_per_s)
{
    qsort(lat, got, sizeof(*lat), s_cmp_i64);
    double secs = (double)(last_ms - first_ms) / 1000.0;
    double per_s = secs > 0 ? (double)got / secs : 0;
    int64_t p50 = got > 0 ? lat[got / 2] : -1;
    int64_t p90 = got > 0 ? lat[(got * 90) / 100] : -1;
    int64_t p99 = got > 0 ? lat[(got * 99) / 100 < got ? (got * 99) / 100 : got - 1] : -1;
    int64_t max = got > 0 ? lat[got - 1] : -1;
    size_t errors = run->errors + run->build_errors;
    (void)printf("servers created: %zu, ACTIVE with a launch time: %zu, ERROR: %zu, request "
                 "errors: %zu\n",
                 count, got, run->build_errors, run->errors);
    (void)printf("first request to last ACTIVE: %.3f s (%.0f servers/s)\n", secs, per_s);
    (void)printf("REST-to-ACTIVE latency ms: p50 %" PRId64 "  p90 %" PRId64 "  p99 %" PRId64
                 "  max %" PRId64 "\n",
                 p50, p90, p99, max);
    (void)printf("deletes: %.0f servers/s (first request to the last record gone)\n",
                 deletes_per_s);
    (void)printf("bootstorm: servers_per_s=%.0f p50_ms=%" PRId64 " p90_ms=%" PRId64
                 " p99_ms=%" PRId64 " max_ms=%" PRId64 " deletes_per_s=%.0f errors=%zu\n",
                 per_s, p50, p90, p99, max, deletes_per_s, errors);
}

static zn_sclient_t *
s_replica_open(const char *replica_dir)
{
    zn_sclient_opts_t opts = {.data_dir = replica_dir, .conductor_call = "tcp://127.0.0.1:1"};
    zn_sclient_t *client = NULL;
    zn_fault_t fault;
    if (zn_sclient_open(&client, &opts, &fault) < 0) {
        (void)fprintf(stderr, "bench_boot: replica %s: %s\n", replica_dir,
                      zn_fault_message(&fault));
        exit(1);
    }
    return client;
}

/* The storm itself: creates, every one active or in error, latencies, deletes, all gone. */
static bool
s_run(const s_api_t *api, s_run_t *run, size_t count, size_t concurrency, zn_sclient_t *client,
      const char *samples)
{
    int64_t first_ms = s_wall_ms();
    const char *rate = getenv("ZN_BOOT_RATE");
    s_pace_t pace = {.rate = rate != NULL ? strtod(rate, NULL) : 0};
    s_storm(api, count, concurrency, pace, s_make_create, s_created, run);
    size_t created = count - run->errors;
    (void)fprintf(stderr, "bench_boot: %zu creates accepted in %.3f s\n", created,
                  (double)(s_wall_ms() - first_ms) / 1000.0);
    bool settled = s_wait_replica(client, run, count, false);
    int64_t *lat = zn_calloc(count, sizeof(*lat));
    int64_t *sorted = zn_calloc(count, sizeof(*sorted));
    int64_t last_ms = first_ms;
    s_tally_t t = {0};
    if (s_tally(client, run, count, &t, lat, &last_ms) < 0) {
        settled = false;
    }
    run->build_errors = t.error;
    size_t got = s_collect(run, count, lat, first_ms, sorted, samples);
    int64_t delete_start = s_wall_ms();
    s_storm(api, count, concurrency, (s_pace_t){0}, s_make_delete, s_deleted, run);
    bool emptied = s_wait_replica(client, run, count, true);
    double delete_secs = (double)(s_wall_ms() - delete_start) / 1000.0;
    s_report(run, count, sorted, got, first_ms, last_ms,
             delete_secs > 0 ? (double)created / delete_secs : 0);
    zn_free(lat);
    zn_free(sorted);
    return settled && emptied;
}

int
main(int argc, char **argv)
{
    if (argc != 9 && argc != 10) {
        (void)fprintf(stderr, "usage: bench_boot URL TOKEN FLAVOR IMAGE NETWORK COUNT "
                              "CONCURRENCY REPLICA_DIR [SAMPLES_FILE]\n");
        return 64;
    }
    char host[64];
    s_api_t api = {.host = host, .token = argv[2]};
    size_t count = (size_t)strtoull(argv[6], NULL, 10);
    size_t concurrency = (size_t)strtoull(argv[7], NULL, 10);
    if (!s_parse_url(argv[1], host, sizeof(host), &api.port, &api.base_path) || count == 0 ||
        concurrency == 0) {
        (void)fprintf(stderr, "bench_boot: bad URL, count or concurrency\n");
        return 64;
    }
    concurrency = concurrency < count ? concurrency : count;
    s_run_t run = {.flavor = argv[3], .image = argv[4], .network = argv[5]};
    run.ids = zn_calloc(count, sizeof(*run.ids));
    run.sent_ms = zn_calloc(count, sizeof(*run.sent_ms));
    run.request_ids = zn_calloc(count, sizeof(*run.request_ids));
    zn_sclient_t *client = s_replica_open(argv[8]);
    bool ok = s_run(&api, &run, count, concurrency, client, argc == 10 ? argv[9] : NULL);
    zn_sclient_destroy(&client);
    for (size_t i = 0; i < count; i++) {
        zn_str_free(&run.ids[i]);
        zn_str_free(&run.request_ids[i]);
    }
    zn_free(run.request_ids);
    zn_free(run.ids);
    zn_free(run.sent_ms);
    return ok && run.errors == 0 && run.build_errors == 0 ? 0 : 1;
}
