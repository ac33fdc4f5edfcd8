/* SPDX-License-Identifier: Apache-2.0 */
/* repl_util.c - helpers for the replication tests. */
#include "repl_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture.h"

uint16_t
repl_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    socklen_t len = sizeof(addr);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
    close(fd);
    return ntohs(addr.sin_port);
}

static uint64_t
s_fnv(uint64_t hash, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        hash = (hash ^ p[i]) * 1099511628211u;
    }
    return hash;
}

repl_digest_t
repl_digest(zn_store_t *store)
{
    const zn_store_table_t *table = zn_store_table(store, "instances");
    repl_digest_t d = {0, 14695981039346656037u};
    zn_store_read_t *txn = NULL;
    assert_int_equal(zn_store_read_begin(store, &txn), 0);
    zn_store_record_t page[256];
    uint8_t marker[ZN_STORE_KEY_MAX_BYTES];
    zn_buf_t mark = {marker, 0};
    for (;;) {
        int n = zn_store_scan(txn, table, mark, page, 256);
        assert_true(n >= 0);
        for (int i = 0; i < n; i++) {
            d.hash = s_fnv(d.hash, page[i].key.ptr, page[i].key.len);
            d.hash = s_fnv(d.hash, (const uint8_t *)&page[i].generation, 8);
            d.hash = s_fnv(d.hash, page[i].value.ptr, page[i].value.len);
            d.count++;
        }
        if (n < 256) {
            break;
        }
        memcpy(marker, page[n - 1].key.ptr, page[n - 1].key.len);
        mark.len = page[n - 1].key.len;
    }
    zn_store_read_end(&txn);
    return d;
}

void
repl_create_batch(zn_batch_t *batch, int i)
{
    char key[32];
    char value[96];
    (void)snprintf(key, sizeof(key), "k%06d", i);
    (void)snprintf(value, sizeof(value), "project=p%d;host=h%d;state=ACTIVE;tags=t%d", i % 10,
                   i % 7, i % 3);
    zn_batch_reset(batch);
    assert_int_equal(zn_batch_put(batch, "instances", zn_batch_str(key), zn_batch_str(value),
                                  ZN_BATCH_GEN_ABSENT),
                     0);
}

int
repl_has_key(zn_store_t *store, int i)
{
    char key[32];
    (void)snprintf(key, sizeof(key), "k%06d", i);
    zn_store_read_t *txn = NULL;
    assert_int_equal(zn_store_read_begin(store, &txn), 0);
    uint64_t gen = 0;
    int rc =
        zn_store_get_generation(txn, zn_store_table(store, "instances"), zn_batch_str(key), &gen);
    zn_store_read_end(&txn);
    return rc == 0;
}
