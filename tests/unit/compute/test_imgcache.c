/* SPDX-License-Identifier: Apache-2.0 */
/* test_imgcache.c - the image cache on real files: verified downloads, a corrupted download
 * never used, one download for concurrent builds, eviction that spares linked images. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <czmq.h>

#include "zn_clock.h"
#include "zn_imgcache.h"
#include "zn_mem.h"

#define S_DATA  "hello zinc\n"
#define S_DATA2 "second image\n"

typedef struct {
    const char *data;
    size_t chunk;
    int calls;
} s_source_t;

static int
s_fetch(void *arg, zn_imgcache_sink_t *sink, zn_fault_t *fault)
{
    (void)fault;
    s_source_t *src = arg;
    __atomic_add_fetch(&src->calls, 1, __ATOMIC_SEQ_CST);
    size_t len = strlen(src->data);
    for (size_t off = 0; off < len; off += src->chunk) {
        size_t n = len - off < src->chunk ? len - off : src->chunk;
        int rc = zn_imgcache_sink_write(sink, src->data + off, n);
        if (rc < 0) {
            return rc;
        }
        zclock_sleep(1); /* a slow download, so that concurrent builds overlap */
    }
    return 0;
}

typedef struct {
    char dir[64];
    char md5[33];
    char sha512[129];
    zn_imgcache_t *cache;
} s_env_t;

/* Hash TEXT with the system's tools, so the test does not trust the code it checks. */
static void
s_hash(const char *tool, const char *text, char *out, size_t cap)
{
    char *cmd = zn_asprintf("printf '%%s' '%s' | %s", text, tool);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    assert_non_null(fgets(out, (int)cap, p));
    out[strcspn(out, " ")] = '\0';
    pclose(p);
    zn_str_free(&cmd);
}

static int
s_setup(void **state)
{
    s_env_t *env = zn_calloc(1, sizeof(*env));
    (void)snprintf(env->dir, sizeof(env->dir), "/tmp/zn-imgcache.XXXXXX");
    assert_non_null(mkdtemp(env->dir));
    s_hash("md5sum", S_DATA, env->md5, sizeof(env->md5));
    s_hash("sha512sum", S_DATA, env->sha512, sizeof(env->sha512));
    char *cache_dir = zn_asprintf("%s/images", env->dir);
    zn_fault_t fault;
    assert_int_equal(zn_imgcache_open(&env->cache, cache_dir, 0, 0, &fault), 0);
    zn_str_free(&cache_dir);
    *state = env;
    return 0;
}

static int
s_teardown(void **state)
{
    s_env_t *env = *state;
    zn_imgcache_destroy(&env->cache);
    char *cmd = zn_asprintf("rm -rf '%s'", env->dir);
    assert_int_equal(system(cmd), 0);
    zn_str_free(&cmd);
    zn_free(env);
    return 0;
}

static char *
s_read(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return NULL;
    }
    char buf[256] = "";
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    (void)fclose(f);
    return zn_strndup(buf, n);
}

static void
test_imgcache_example(void **state)
{
    s_env_t *env = *state;
    s_source_t src = {S_DATA, 4, 0};
    zn_imgcache_want_t want = {"img-1", env->md5, env->sha512, (int64_t)strlen(S_DATA)};
    char *link_path = zn_asprintf("%s/base", env->dir);
    bool fetched = false;
    zn_fault_t fault;
    assert_int_equal(zn_imgcache_get(env->cache, &want, s_fetch, &src, link_path, &fetched, &fault),
                     0);
    assert_true(fetched);
    char *got = s_read(link_path);
    assert_string_equal(got, S_DATA);
    zn_str_free(&got);
    /* Content-addressed: the entry is named by its sha512. */
    char *entry = zn_asprintf("%s/images/%s", env->dir, env->sha512);
    assert_int_equal(access(entry, R_OK), 0);
    /* A second build of the same image downloads nothing. */
    assert_int_equal(zn_imgcache_get(env->cache, &want, s_fetch, &src, link_path, &fetched, &fault),
                     0);
    assert_false(fetched);
    assert_int_equal(src.calls, 1);
    zn_str_free(&entry);
    zn_str_free(&link_path);
}

static void
test_imgcache_corrupted_download_never_used(void **state)
{
    s_env_t *env = *state;
    s_source_t bad = {"hello zinc?\n", 5, 0}; /* one byte flipped */
    zn_imgcache_want_t want = {"img-2", env->md5, env->sha512, -1};
    char *link_path = zn_asprintf("%s/base2", env->dir);
    zn_fault_t fault;
    assert_int_equal(zn_imgcache_get(env->cache, &want, s_fetch, &bad, link_path, NULL, &fault),
                     -EBADMSG);
    assert_non_null(strstr(fault.message, "checksum mismatch"));
    assert_int_equal(access(link_path, F_OK), -1);
    char *entry = zn_asprintf("%s/images/%s", env->dir, env->sha512);
    assert_int_equal(access(entry, F_OK), -1);
    /* md5 alone also catches it, and a size that does not match too. */
    zn_imgcache_want_t md5_only = {"img-2", env->md5, NULL, -1};
    assert_int_equal(zn_imgcache_get(env->cache, &md5_only, s_fetch, &bad, link_path, NULL, &fault),
                     -EBADMSG);
    s_source_t good = {S_DATA, 64, 0};
    zn_imgcache_want_t sized = {"img-2", env->md5, env->sha512, 3};
    assert_int_equal(zn_imgcache_get(env->cache, &sized, s_fetch, &good, link_path, NULL, &fault),
                     ZN_ETOOBIG);
    /* No temporary file is left behind. */
    assert_int_equal(zn_imgcache_size_bytes(env->cache), 0);
    /* Checksums that are not hex never become a path. */
    zn_imgcache_want_t evil = {"img-3", "../../etc/passwd", NULL, -1};
    assert_int_equal(zn_imgcache_get(env->cache, &evil, s_fetch, &good, link_path, NULL, &fault),
                     -EINVAL);
    zn_str_free(&entry);
    zn_str_free(&link_path);
}

typedef struct {
    s_env_t *env;
    s_source_t *src;
    int index;
    int rc;
} s_racer_t;

static void *
s_racer(void *arg)
{
    s_racer_t *r = arg;
    zn_imgcache_want_t want = {"img-4", r->env->md5, r->env->sha512, -1};
    char *link_path = zn_asprintf("%s/race-%d", r->env->dir, r->index);
    zn_fault_t fault;
    r->rc = zn_imgcache_get(r->env->cache, &want, s_fetch, r->src, link_path, NULL, &fault);
    zn_str_free(&link_path);
    return NULL;
}

static void
test_imgcache_one_download_for_concurrent_builds(void **state)
{
    s_env_t *env = *state;
    s_source_t src = {S_DATA, 1, 0}; /* 11 chunks of 1 ms each */
    pthread_t threads[6];
    s_racer_t racers[6];
    for (int i = 0; i < 6; i++) {
        racers[i] = (s_racer_t){env, &src, i, -1};
        assert_int_equal(pthread_create(&threads[i], NULL, s_racer, &racers[i]), 0);
    }
    for (int i = 0; i < 6; i++) {
        assert_int_equal(pthread_join(threads[i], NULL), 0);
        assert_int_equal(racers[i].rc, 0);
    }
    assert_int_equal(src.calls, 1);
}

static void
s_age(const char *path, int64_t age_s)
{
    struct timespec times[2];
    clock_gettime(CLOCK_REALTIME, &times[0]);
    times[0].tv_sec -= age_s;
    times[1] = times[0];
    assert_int_equal(utimensat(AT_FDCWD, path, times, 0), 0);
}

static void
test_imgcache_eviction_spares_linked_images(void **state)
{
    s_env_t *env = *state;
    char *cache_dir = zn_asprintf("%s/images", env->dir);
    zn_imgcache_t *cache = NULL;
    zn_fault_t fault;
    assert_int_equal(zn_imgcache_open(&cache, cache_dir, 0, 60000, &fault), 0);
    s_source_t src = {S_DATA, 64, 0};
    zn_imgcache_want_t want = {"img-5", env->md5, env->sha512, -1};
    char *link_path = zn_asprintf("%s/instance-base", env->dir);
    assert_int_equal(zn_imgcache_get(cache, &want, s_fetch, &src, link_path, NULL, &fault), 0);
    char *entry = zn_asprintf("%s/%s", cache_dir, env->sha512);
    s_age(entry, 3600);
    /* Old, but an instance boots from it: it stays. */
    assert_int_equal(zn_imgcache_evict(cache, zn_clock_wall_ms()), 0);
    assert_int_equal(access(entry, R_OK), 0);
    /* The instance is gone: now it goes; the instance's own link was never touched. */
    assert_int_equal(unlink(link_path), 0);
    assert_int_equal(zn_imgcache_evict(cache, zn_clock_wall_ms()), 1);
    assert_int_equal(access(entry, F_OK), -1);
    zn_imgcache_destroy(&cache);

    /* By size: the oldest unused entry goes first, until the rest fits. */
    assert_int_equal(zn_imgcache_open(&cache, cache_dir, 20, 0, &fault), 0);
    assert_int_equal(zn_imgcache_get(cache, &want, s_fetch, &src, link_path, NULL, &fault), 0);
    assert_int_equal(unlink(link_path), 0);
    s_age(entry, 100);
    char md5[33];
    char sha512[129];
    s_hash("md5sum", S_DATA2, md5, sizeof(md5));
    s_hash("sha512sum", S_DATA2, sha512, sizeof(sha512));
    s_source_t src2 = {S_DATA2, 64, 0};
    zn_imgcache_want_t want2 = {"img-6", md5, sha512, -1};
    assert_int_equal(zn_imgcache_get(cache, &want2, s_fetch, &src2, link_path, NULL, &fault), 0);
    assert_int_equal(unlink(link_path), 0);
    assert_int_equal(zn_imgcache_size_bytes(cache), (int64_t)(strlen(S_DATA) + strlen(S_DATA2)));
    assert_int_equal(zn_imgcache_evict(cache, zn_clock_wall_ms()), 1);
    assert_int_equal(access(entry, F_OK), -1);
    assert_int_equal(zn_imgcache_size_bytes(cache), (int64_t)strlen(S_DATA2));
    zn_str_free(&entry);
    zn_str_free(&link_path);
    zn_str_free(&cache_dir);
    zn_imgcache_destroy(&cache);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_imgcache_example, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_imgcache_corrupted_download_never_used, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_imgcache_one_download_for_concurrent_builds, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_imgcache_eviction_spares_linked_images, s_setup,
                                        s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
