/* SPDX-License-Identifier: Apache-2.0 */
/* bench_image - zinc-image's upload and download throughput against a plain file copy on the
 * same disk. A real image agent runs in-process with a real conductor (the store) and identity;
 * a client on loopback TCP uploads a file of SIZE MiB (PUT .../file, streamed) and downloads it
 * again into a file. The baselines copy the same file with read/write in 1 MiB blocks: with
 * fdatasync for the upload (zinc-image syncs each image before it becomes active), without it
 * for the download. A third baseline is the ceiling the upload's digests set: the md5 and the
 * sha512 of the file (in memory) on two threads at once, as zinc-image takes them; neither
 * digest can be split over cores, so no upload outruns the slower of the two. Prints
 * min/median/max of REPS runs and, last,
 * `image: upload_ratio=X download_ratio=Y upload_vs_digests=Z` (median MB/s over median MB/s).
 * Usage: bench_image [SIZE_MIB (default 128)] [REPS (default 3)] */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>

#include "cond_fixture.h"
#include "id_fixture.h"
#include "img_fixture.h"
#include "zn_clock.h"
#include "zn_mem.h"

#define S_BLOCK    ((size_t)1 << 20)
#define S_REPS_MAX 16

typedef struct {
    cond_fixture_t *cond;
    id_fixture_t *id;
    img_fixture_t *img;
    char token[2048];
    char dir[64];
    char src[96];
    char dst[96];
    size_t bytes;
    char *block;
    uint8_t *whole; /* the source file in memory, for the digest ceiling */
} s_bench_t;

typedef struct {
    const EVP_MD *md;
    const uint8_t *data;
    size_t len;
} s_digest_t;

static void
s_die(const char *what)
{
    (void)fprintf(stderr, "bench_image: %s\n", what);
    exit(1);
}

static void
s_make_source(s_bench_t *b)
{
    int fd = open(b->src, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        s_die("cannot create the source file");
    }
    for (size_t done = 0; done < b->bytes; done += S_BLOCK) {
        for (size_t i = 0; i < S_BLOCK; i += 8) {
            uint64_t word = (uint64_t)(done + i) * 0x9e3779b97f4a7c15ull;
            memcpy(b->block + i, &word, sizeof(word));
        }
        if (write(fd, b->block, S_BLOCK) != (ssize_t)S_BLOCK) {
            s_die("cannot write the source file");
        }
    }
    (void)fsync(fd);
    (void)close(fd);
}

static void *
s_digest_thread(void *arg)
{
    const s_digest_t *d = arg;
    uint8_t out[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    if (EVP_Digest(d->data, d->len, out, &n, d->md, NULL) != 1) {
        s_die("digest failed");
    }
    return NULL;
}

/* The md5 and the sha512 of the whole file, each on a thread of its own. Returns MB/s. */
static double
s_digests(s_bench_t *b)
{
    s_digest_t jobs[2] = {{EVP_md5(), b->whole, b->bytes}, {EVP_sha512(), b->whole, b->bytes}};
    pthread_t threads[2];
    int64_t start = zn_clock_mono_us();
    for (size_t i = 0; i < 2; i++) {
        if (pthread_create(&threads[i], NULL, s_digest_thread, &jobs[i]) != 0) {
            s_die("cannot start a digest thread");
        }
    }
    for (size_t i = 0; i < 2; i++) {
        (void)pthread_join(threads[i], NULL);
    }
    double secs = (double)(zn_clock_mono_us() - start) / 1e6;
    return (double)b->bytes / 1e6 / secs;
}

static void
s_load_source(s_bench_t *b)
{
    b->whole = zn_malloc(b->bytes);
    int fd = open(b->src, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, b->whole, b->bytes) != (ssize_t)b->bytes) {
        s_die("cannot read the source file");
    }
    (void)close(fd);
}

/* Copy src to dst as cp does; with SYNC, fdatasync at the end. Returns MB/s. */
static double
s_copy(s_bench_t *b, bool sync)
{
    int64_t start = zn_clock_mono_us();
    int in = open(b->src, O_RDONLY | O_CLOEXEC);
    int out = open(b->dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (in < 0 || out < 0) {
        s_die("cannot open for the copy");
    }
    ssize_t n = 0;
    while ((n = read(in, b->block, S_BLOCK)) > 0) {
        if (write(out, b->block, (size_t)n) != n) {
            s_die("copy write failed");
        }
    }
    if (sync) {
        (void)fdatasync(out);
    }
    (void)close(in);
    (void)close(out);
    double secs = (double)(zn_clock_mono_us() - start) / 1e6;
    (void)unlink(b->dst);
    return (double)b->bytes / 1e6 / secs;
}

static int
s_connect(s_bench_t *b)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET,
                               .sin_port = htons(img_fixture_http_port(b->img))};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        s_die("cannot connect");
    }
    return fd;
}

/* Read the response head into BUF; returns the status, and the head's length in *head_len. */
static int
s_read_head(int fd, char *buf, size_t cap, size_t *got, size_t *head_len)
{
    *got = 0;
    char *end = NULL;
    while (end == NULL) {
        ssize_t n = recv(fd, buf + *got, cap - 1 - *got, 0);
        if (n <= 0) {
            s_die("connection closed before the answer");
        }
        *got += (size_t)n;
        buf[*got] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    *head_len = (size_t)(end - buf) + 4;
    int status = 0;
    (void)sscanf(buf, "HTTP/1.1 %d", &status);
    return status;
}

static char *
s_create_image(s_bench_t *b)
{
    char *body = zn_malloc(65536);
    int status = img_fixture_http(b->img, "POST", "/v2/images", b->token,
                                  "{\"name\": \"bench\", \"disk_format\": \"raw\", "
                                  "\"container_format\": \"bare\"}",
                                  body, 65536);
    json_t *root = json_loads(body, 0, NULL);
    if (status != 201 || root == NULL) {
        s_die("cannot create an image");
    }
    char *id = zn_strdup(json_string_value(json_object_get(root, "id")));
    json_decref(root);
    zn_free(body);
    return id;
}

/* PUT the source file as image ID's data. Returns MB/s. */
static double
s_upload(s_bench_t *b, const char *id)
{
    int64_t start = zn_clock_mono_us();
    int fd = s_connect(b);
    char head[4096];
    int n = snprintf(head, sizeof(head),
                     "PUT /image/v2/images/%s/file HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "X-Auth-Token: %s\r\nContent-Type: application/octet-stream\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                     id, b->token, b->bytes);
    if (send(fd, head, (size_t)n, MSG_NOSIGNAL) != n) {
        s_die("upload head");
    }
    /* The client sends with sendfile, as a fast client would: the benchmark measures the
     * server, on a machine whose two cores the client shares. */
    int in = open(b->src, O_RDONLY | O_CLOEXEC);
    off_t offset = 0;
    while ((size_t)offset < b->bytes) {
        if (sendfile(fd, in, &offset, b->bytes - (size_t)offset) <= 0) {
            s_die("upload send");
        }
    }
    (void)close(in);
    size_t got = 0;
    size_t head_len = 0;
    if (s_read_head(fd, head, sizeof(head), &got, &head_len) != 204) {
        s_die("upload refused");
    }
    (void)close(fd);
    double secs = (double)(zn_clock_mono_us() - start) / 1e6;
    return (double)b->bytes / 1e6 / secs;
}

/* GET image ID's data into the destination file. Returns MB/s. */
static double
s_download(s_bench_t *b, const char *id)
{
    int64_t start = zn_clock_mono_us();
    int fd = s_connect(b);
    char head[4096];
    int n = snprintf(head, sizeof(head),
                     "GET /image/v2/images/%s/file HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "X-Auth-Token: %s\r\nConnection: close\r\n\r\n",
                     id, b->token);
    if (send(fd, head, (size_t)n, MSG_NOSIGNAL) != n) {
        s_die("download head");
    }
    int out = open(b->dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    size_t got = 0;
    size_t head_len = 0;
    if (s_read_head(fd, b->block, S_BLOCK, &got, &head_len) != 200) {
        s_die("download refused");
    }
    size_t total = got - head_len;
    if (write(out, b->block + head_len, total) != (ssize_t)total) {
        s_die("download write");
    }
    ssize_t r = 0;
    while ((r = recv(fd, b->block, S_BLOCK, 0)) > 0) {
        if (write(out, b->block, (size_t)r) != r) {
            s_die("download write");
        }
        total += (size_t)r;
    }
    (void)close(out);
    (void)close(fd);
    if (total != b->bytes) {
        s_die("download short");
    }
    double secs = (double)(zn_clock_mono_us() - start) / 1e6;
    (void)unlink(b->dst);
    return (double)b->bytes / 1e6 / secs;
}

static int
s_cmp(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;
    return (x > y) - (x < y);
}

static double
s_report(const char *what, double *runs, int reps)
{
    qsort(runs, (size_t)reps, sizeof(*runs), s_cmp);
    printf("%-22s MB/s min %8.1f  median %8.1f  max %8.1f\n", what, runs[0], runs[reps / 2],
           runs[reps - 1]);
    return runs[reps / 2];
}

static void
s_start(s_bench_t *b)
{
    (void)snprintf(b->dir, sizeof(b->dir), "/var/tmp/zn-bench-image-XXXXXX");
    if (mkdtemp(b->dir) == NULL) {
        s_die("cannot make a temp dir");
    }
    (void)snprintf(b->src, sizeof(b->src), "%s/source", b->dir);
    (void)snprintf(b->dst, sizeof(b->dst), "%s/copy", b->dir);
    b->cond = cond_fixture_start(NULL);
    b->id = id_fixture_start("test");
    char *store = zn_asprintf("image.store_dir=%s/store", b->dir);
    const char *fsync =
        getenv("ZN_BENCH_IMAGE_NOSYNC") != NULL ? "image.fsync=false" : "image.fsync=true";
    const char *settings[] = {store, "image.max_image_bytes=68719476736",
                              "image.project_quota_bytes=0", fsync, NULL};
    b->img = img_fixture_start(cond_fixture_call(b->cond), cond_fixture_store_dir(b->cond),
                               id_fixture_call_endpoint(b->id), settings);
    zn_str_free(&store);
    if (id_fixture_login(b->id, "admin", "secret", "admin", b->token, sizeof(b->token)) != 201) {
        s_die("cannot log in");
    }
}

int
main(int argc, char **argv)
{
    s_bench_t b;
    memset(&b, 0, sizeof(b));
    long mib = argc > 1 ? strtol(argv[1], NULL, 10) : 128;
    long reps_arg = argc > 2 ? strtol(argv[2], NULL, 10) : 3;
    int reps = reps_arg < 1 ? 1 : reps_arg > S_REPS_MAX ? S_REPS_MAX : (int)reps_arg;
    b.bytes = (size_t)(mib < 1 ? 1 : mib) * S_BLOCK;
    b.block = zn_malloc(S_BLOCK + 1);
    s_start(&b);
    s_make_source(&b);
    s_load_source(&b);
    double runs[5][S_REPS_MAX];
    for (int i = 0; i < reps; i++) {
        /* Each step starts with no dirty pages of the one before, so that none pays for
         * another's write-back. */
        sync();
        runs[0][i] = s_copy(&b, true);
        char *id = s_create_image(&b);
        sync();
        runs[1][i] = s_upload(&b, id);
        sync();
        runs[2][i] = s_copy(&b, false);
        sync();
        runs[3][i] = s_download(&b, id);
        runs[4][i] = s_digests(&b);
        char path[128];
        (void)snprintf(path, sizeof(path), "/v2/images/%s", id);
        (void)img_fixture_http(b.img, "DELETE", path, b.token, NULL, NULL, 0);
        zn_free(id);
    }
    printf("image: %ld MiB, %d runs (store in %s)\n", mib, reps, b.dir);
    double copy_sync = s_report("copy + fdatasync", runs[0], reps);
    double upload = s_report("upload (PUT, synced)", runs[1], reps);
    double copy = s_report("copy", runs[2], reps);
    double download = s_report("download (GET)", runs[3], reps);
    double digests = s_report("md5 | sha512 (memory)", runs[4], reps);
    img_fixture_stop(&b.img);
    id_fixture_stop(&b.id);
    cond_fixture_stop(&b.cond);
    (void)unlink(b.src);
    char *rm = zn_asprintf("rm -rf %s", b.dir);
    if (system(rm) != 0) {
        (void)fprintf(stderr, "bench_image: %s left behind\n", b.dir);
    }
    zn_str_free(&rm);
    zn_free(b.block);
    zn_free(b.whole);
    printf("image: upload_ratio=%.2f download_ratio=%.2f upload_vs_digests=%.2f\n",
           upload / copy_sync, download / copy, upload / digests);
    return 0;
}
