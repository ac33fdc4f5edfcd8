/* SPDX-License-Identifier: Apache-2.0 */
/* fixture.c - shared helpers for the store tests. */
#include "fixture.h"

#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "zn_mem.h"

char *
fixture_tmpdir(void)
{
    char *dir = zn_strdup("/tmp/zn-store-test-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return dir;
}

static int
s_remove(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void
fixture_rmdir(char **dir_p)
{
    if (*dir_p == NULL) {
        return;
    }
    (void)nftw(*dir_p, s_remove, 16, FTW_DEPTH | FTW_PHYS);
    zn_str_free(dir_p);
}

/* Find FIELD's value in RECORD ("a=1;b=2"). */
static bool
s_field(zn_buf_t record, const char *field, zn_buf_t *out)
{
    size_t flen = strlen(field);
    size_t pos = 0;
    while (pos < record.len) {
        const uint8_t *start = record.ptr + pos;
        const uint8_t *semi = memchr(start, ';', record.len - pos);
        size_t len = semi ? (size_t)(semi - start) : record.len - pos;
        if (len > flen && memcmp(start, field, flen) == 0 && start[flen] == '=') {
            out->ptr = start + flen + 1;
            out->len = len - flen - 1;
            return true;
        }
        pos += len + 1;
    }
    return false;
}

static int
s_extract_one(zn_buf_t record, uint32_t version, zn_store_keys_t *keys, void *arg)
{
    (void)version;
    zn_buf_t value;
    if (!s_field(record, arg, &value)) {
        return 0;
    }
    return zn_store_keys_add(keys, value);
}

/* tags=a,b,c: one index value per tag. */
static int
s_extract_tags(zn_buf_t record, uint32_t version, zn_store_keys_t *keys, void *arg)
{
    (void)version;
    (void)arg;
    zn_buf_t tags;
    if (!s_field(record, "tags", &tags)) {
        return 0;
    }
    size_t pos = 0;
    while (pos <= tags.len) {
        const uint8_t *start = tags.ptr + pos;
        const uint8_t *comma = memchr(start, ',', tags.len - pos);
        zn_buf_t one = {start, comma ? (size_t)(comma - start) : tags.len - pos};
        int rc = one.len > 0 ? zn_store_keys_add(keys, one) : 0;
        if (rc < 0) {
            return rc;
        }
        pos += one.len + 1;
    }
    return 0;
}

static char s_project[] = "project";
static char s_host[] = "host";
static char s_state[] = "state";

static const zn_store_index_def_t s_indexes[] = {
    {"by_project", s_extract_one, s_project},
    {"by_host", s_extract_one, s_host},
    {"by_state", s_extract_one, s_state},
    {"by_tag", s_extract_tags, NULL},
};

const zn_store_table_def_t fixture_instances = {
    .name = "instances",
    .record_version = 1,
    .indexes = s_indexes,
    .index_count = ZN_ARRAY_COUNT(s_indexes),
};

zn_store_t *
fixture_open(const char *dir)
{
    zn_store_opts_t opts = {.path = dir, .tables = &fixture_instances, .table_count = 1};
    zn_store_t *store = NULL;
    zn_fault_t fault;
    int rc = zn_store_open(&store, &opts, &fault);
    if (rc != 0) {
        fprintf(stderr, "open: %s\n", zn_fault_message(&fault));
    }
    assert_int_equal(rc, 0);
    return store;
}

int
fixture_put(zn_store_t *store, const char *key, const char *value, uint64_t expect_gen)
{
    zn_batch_t *batch = zn_batch_new();
    int rc = zn_batch_put(batch, "instances", zn_batch_str(key), zn_batch_str(value), expect_gen);
    assert_int_equal(rc, 0);
    rc = zn_store_apply(store, zn_batch_bytes(batch), 0, NULL);
    zn_batch_destroy(&batch);
    return rc;
}

/* How many index values RECORD yields for index I, and whether it yields VALUE. */
static size_t
s_expected(zn_buf_t record, size_t i, zn_buf_t value, bool *has)
{
    zn_buf_t field;
    const char *names[] = {"project", "host", "state", "tags"};
    *has = false;
    if (!s_field(record, names[i], &field)) {
        return 0;
    }
    size_t count = 0;
    size_t pos = 0;
    while (pos <= field.len) {
        const uint8_t *start = field.ptr + pos;
        const uint8_t *comma = i == 3 ? memchr(start, ',', field.len - pos) : NULL;
        size_t len = comma ? (size_t)(comma - start) : field.len - pos;
        count += len > 0 || i != 3;
        *has = *has || (len == value.len && memcmp(start, value.ptr, len) == 0);
        pos += len + 1;
    }
    return count;
}

static long
s_count_records(zn_store_read_t *txn, const zn_store_table_t *table, size_t expect[4])
{
    zn_store_record_t page[100];
    zn_buf_t marker = {NULL, 0};
    long total = 0;
    char last[256];
    for (;;) {
        int n = zn_store_scan(txn, table, marker, page, 100);
        if (n <= 0) {
            return n < 0 ? -1 : total;
        }
        for (int r = 0; r < n; r++) {
            for (size_t i = 0; i < 4; i++) {
                bool has;
                expect[i] += s_expected(page[r].value, i, page[r].key, &has);
            }
        }
        total += n;
        memcpy(last, page[n - 1].key.ptr, page[n - 1].key.len);
        marker.ptr = (const uint8_t *)last;
        marker.len = page[n - 1].key.len;
    }
}

/* Walk every entry of index I: each must lead to a record that yields its value. */
static long
s_count_entries(zn_store_read_t *txn, const zn_store_index_t *index, size_t i)
{
    zn_store_record_t page[100];
    zn_store_index_query_t query = {.match = ZN_STORE_MATCH_PREFIX};
    char last_key[256];
    char last_value[256];
    long total = 0;
    for (;;) {
        int n = zn_store_index_scan(txn, index, &query, page, 100);
        if (n <= 0) {
            return n < 0 ? -1 : total;
        }
        for (int r = 0; r < n; r++) {
            bool has;
            (void)s_expected(page[r].value, i, page[r].index_value, &has);
            if (!has) {
                return -1;
            }
        }
        total += n;
        memcpy(last_key, page[n - 1].key.ptr, page[n - 1].key.len);
        memcpy(last_value, page[n - 1].index_value.ptr, page[n - 1].index_value.len);
        query.marker_key = (zn_buf_t){(const uint8_t *)last_key, page[n - 1].key.len};
        query.marker_value = (zn_buf_t){(const uint8_t *)last_value, page[n - 1].index_value.len};
    }
}

long
fixture_check_consistent(zn_store_t *store)
{
    const zn_store_table_t *table = zn_store_table(store, "instances");
    const char *names[] = {"by_project", "by_host", "by_state", "by_tag"};
    zn_store_read_t *txn = NULL;
    assert_int_equal(zn_store_read_begin(store, &txn), 0);
    size_t expect[4] = {0, 0, 0, 0};
    long records = s_count_records(txn, table, expect);
    for (size_t i = 0; records >= 0 && i < 4; i++) {
        long entries = s_count_entries(txn, zn_store_index(table, names[i]), i);
        if (entries < 0 || (size_t)entries != expect[i]) {
            fprintf(stderr, "index %s: %ld entries, want %zu\n", names[i], entries, expect[i]);
            records = -1;
        }
    }
    zn_store_read_end(&txn);
    return records;
}
