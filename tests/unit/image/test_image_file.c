/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for zn_imgfile, zinc-image's filesystem store: an upload streamed in chunks and
 * committed off the loop with both digests, the size limit, names that are not ours refused
 * (no path ever leaves the store), staging leftovers cleared at start, and uncommitted uploads
 * leaving nothing; digests of large interleaved uploads, taken behind the writer in spans, equal
 * the digests of the whole bytes. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <czmq.h>

#include "zn_imgfile.h"
#include "zn_mem.h"

#define S_ID "11111111-2222-4333-8444-555555555555"

typedef struct {
    char dir[64];
    zn_imgfile_t *files;
    zloop_t *loop;
    int rc;
    bool done;
    char location[64];
    char md5[64];
    char sha512[160];
} s_state_t;

static int
s_setup(void **state)
{
    s_state_t *s = zn_calloc(1, sizeof(*s));
    (void)snprintf(s->dir, sizeof(s->dir), "/tmp/zn-imgfile-XXXXXX");
    assert_non_null(mkdtemp(s->dir));
    assert_int_equal(zn_imgfile_open(&s->files, s->dir, true, NULL), 0);
    s->loop = zloop_new();
    assert_int_equal(zn_imgfile_attach(s->files, s->loop), 0);
    *state = s;
    return 0;
}

static int
s_teardown(void **state)
{
    s_state_t *s = *state;
    zn_imgfile_destroy(&s->files);
    zloop_destroy(&s->loop);
    char *rm = zn_asprintf("rm -rf %s", s->dir);
    assert_int_equal(system(rm), 0);
    zn_str_free(&rm);
    zn_free(s);
    return 0;
}

static void
s_on_commit(void *arg, int rc, const char *location, const char *md5, const char *sha512)
{
    s_state_t *s = arg;
    s->rc = rc;
    s->done = true;
    (void)snprintf(s->location, sizeof(s->location), "%s", location != NULL ? location : "");
    (void)snprintf(s->md5, sizeof(s->md5), "%s", md5 != NULL ? md5 : "");
    (void)snprintf(s->sha512, sizeof(s->sha512), "%s", sha512 != NULL ? sha512 : "");
}

static int
s_on_tick(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    s_state_t *s = arg;
    return s->done ? -1 : 0;
}

/* Serve the loop until the commit's callback ran (ten seconds at most). */
static void
s_wait_commit(s_state_t *s)
{
    int timer = zloop_timer(s->loop, 5, 2000, s_on_tick, s);
    assert_true(timer >= 0);
    (void)zloop_start(s->loop);
    zloop_timer_end(s->loop, timer);
    assert_true(s->done);
}

static size_t
s_count(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t count = 0;
    struct dirent *entry = NULL;
    while ((entry = readdir(d)) != NULL) {
        count += entry->d_name[0] != '.' && strcmp(entry->d_name, "tmp") != 0;
    }
    (void)closedir(d);
    return count;
}

static void
test_image_file_example(void **state)
{
    s_state_t *s = *state;
    zn_imgfile_upload_t *up = NULL;
    assert_int_equal(zn_imgfile_upload_open(s->files, S_ID, 1 << 20, &up, NULL), 0);
    assert_int_equal(zn_imgfile_upload_write(up, "hello ", 6), 0);
    assert_int_equal(zn_imgfile_upload_write(up, "world", 5), 0);
    assert_int_equal(zn_imgfile_upload_size(up), 11);
    assert_int_equal(zn_imgfile_upload_commit(s->files, &up, s_on_commit, s), 0);
    assert_null(up);
    s_wait_commit(s);
    assert_int_equal(s->rc, 0);
    assert_string_equal(s->md5, "5eb63bbbe01eeed093cb22bb8f5acdc3"); /* md5("hello world") */
    assert_int_equal(strncmp(s->sha512, "309ecc489c12d6eb4cc40f50c902f2b4", 32), 0);
    assert_int_equal(strncmp(s->location, S_ID ".", strlen(S_ID) + 1), 0);
    uint8_t buf[16];
    assert_int_equal(zn_imgfile_read(s->files, s->location, 6, buf, sizeof(buf)), 5);
    assert_memory_equal(buf, "world", 5);
    assert_int_equal(zn_imgfile_read(s->files, s->location, 11, buf, sizeof(buf)), 0);
    assert_int_equal(zn_imgfile_remove(s->files, s->location), 0);
    assert_int_equal(zn_imgfile_open_read(s->files, s->location), -ENOENT);
}

/* Hex digest of LEN bytes of DATA with MD, in one call: what the spans must add up to. */
static void
s_digest_hex(const EVP_MD *md, const uint8_t *data, size_t len, char *out)
{
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    assert_int_equal(EVP_Digest(data, len, digest, &n, md, NULL), 1);
    for (unsigned i = 0; i < n; i++) {
        (void)snprintf(out + 2 * i, 3, "%02x", digest[i]);
    }
}

/* Two uploads written in turns, in odd chunks, each more spans long than the hashers may lag:
 * the digests of each are those of its own bytes. */
static void
test_image_file_interleaved_spans(void **state)
{
    s_state_t *s = *state;
    const size_t len = ((size_t)37 << 20) + 3;
    const size_t chunk = 65537;
    uint8_t *data[2] = {zn_malloc(len), zn_malloc(len)};
    for (size_t i = 0; i < len; i++) {
        data[0][i] = (uint8_t)(i * 31 + (i >> 13));
        data[1][i] = (uint8_t)(i * 17 + 5);
    }
    const char *ids[2] = {S_ID, "11111111-2222-4333-8444-666666666666"};
    zn_imgfile_upload_t *ups[2] = {NULL, NULL};
    for (size_t u = 0; u < 2; u++) {
        assert_int_equal(zn_imgfile_upload_open(s->files, ids[u], len, &ups[u], NULL), 0);
    }
    for (size_t off = 0; off < len; off += chunk) {
        size_t n = len - off < chunk ? len - off : chunk;
        for (size_t u = 0; u < 2; u++) {
            assert_int_equal(zn_imgfile_upload_write(ups[u], data[u] + off, n), 0);
        }
    }
    for (size_t u = 0; u < 2; u++) {
        s->done = false;
        assert_int_equal(zn_imgfile_upload_commit(s->files, &ups[u], s_on_commit, s), 0);
        s_wait_commit(s);
        assert_int_equal(s->rc, 0);
        char md5[2 * EVP_MAX_MD_SIZE + 1] = "";
        char sha512[2 * EVP_MAX_MD_SIZE + 1] = "";
        s_digest_hex(EVP_md5(), data[u], len, md5);
        s_digest_hex(EVP_sha512(), data[u], len, sha512);
        assert_string_equal(s->md5, md5);
        assert_string_equal(s->sha512, sha512);
        assert_int_equal(zn_imgfile_remove(s->files, s->location), 0);
        zn_free(data[u]);
    }
}

static void
test_image_file_refuses_foreign_names(void **state)
{
    s_state_t *s = *state;
    const char *names[] = {"../../etc/passwd", "",        "tmp",        S_ID "/../x",
                           S_ID ".abc/de",     S_ID "..", "not-a-uuid", S_ID ".ab$cde"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        assert_int_equal(zn_imgfile_open_read(s->files, names[i]), -ENOENT);
        uint8_t byte;
        assert_int_equal(zn_imgfile_read(s->files, names[i], 0, &byte, 1), -ENOENT);
        assert_int_equal(zn_imgfile_remove(s->files, names[i]), 0); /* nothing to do */
    }
    zn_imgfile_upload_t *up = NULL;
    assert_int_equal(zn_imgfile_upload_open(s->files, "../x", 10, &up, NULL), -ENOENT);
    assert_null(up);
}

static void
test_image_file_limit_and_leftovers(void **state)
{
    s_state_t *s = *state;
    char *tmp = zn_asprintf("%s/tmp", s->dir);
    zn_imgfile_upload_t *up = NULL;
    assert_int_equal(zn_imgfile_upload_open(s->files, S_ID, 8, &up, NULL), 0);
    assert_int_equal(zn_imgfile_upload_write(up, "12345", 5), 0);
    assert_int_equal(zn_imgfile_upload_write(up, "6789", 4), ZN_ETOOBIG);
    assert_int_equal(zn_imgfile_upload_write(up, "x", 1), ZN_ETOOBIG); /* stays failed */
    assert_int_equal(s_count(tmp), 1);
    /* A failed upload's commit is refused at once and leaves nothing. */
    assert_int_equal(zn_imgfile_upload_commit(s->files, &up, s_on_commit, s), ZN_ETOOBIG);
    assert_false(s->done);
    assert_int_equal(s_count(tmp), 0);
    /* An upload dropped half way leaves nothing either. */
    assert_int_equal(zn_imgfile_upload_open(s->files, S_ID, 8, &up, NULL), 0);
    assert_int_equal(zn_imgfile_upload_write(up, "12", 2), 0);
    zn_imgfile_upload_destroy(&up);
    assert_int_equal(s_count(tmp), 0);
    assert_int_equal(s_count(s->dir), 0);
    /* A crash's leftovers in tmp/ are gone when the store opens again. */
    char *stale = zn_asprintf("%s/" S_ID ".AbC123", tmp);
    int fd = open(stale, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    (void)close(fd);
    zn_imgfile_t *again = NULL;
    assert_int_equal(zn_imgfile_open(&again, s->dir, false, NULL), 0);
    assert_int_equal(s_count(tmp), 0);
    zn_imgfile_destroy(&again);
    zn_str_free(&stale);
    zn_str_free(&tmp);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_image_file_example, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_image_file_interleaved_spans, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_image_file_refuses_foreign_names, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_image_file_limit_and_leftovers, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
