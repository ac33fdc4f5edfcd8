/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for zn_token and zn_tokenkeys: seal/open, tampering, rotation, expiry. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "zn_mem.h"
#include "zn_token.h"
#include "zn_tokenkeys.h"

#define S_NOW 1700000000000LL

static char *
s_tempdir(void)
{
    char *dir = zn_strdup("/tmp/zn-tokenkeys.XXXXXX");
    assert_non_null(mkdtemp(dir));
    return dir;
}

static void
s_rmdir(char **dir)
{
    char *cmd = zn_asprintf("rm -rf '%s'", *dir);
    assert_int_equal(system(cmd), 0);
    zn_str_free(&cmd);
    zn_str_free(dir);
}

static zn_tokenkeys_t *
s_keys(const char *dir)
{
    zn_tokenkeys_t *keys = NULL;
    assert_int_equal(zn_tokenkeys_open(&keys, dir, NULL), 0);
    return keys;
}

static char *
s_seal(const zn_tokenkeys_t *keys, int64_t expires_at_ms)
{
    char *roles[] = {(char[]){"r1"}, (char[]){"r2"}, NULL};
    char *methods[] = {(char[]){"password"}, NULL};
    zn_token_claims_t claims = {
        .user_id = (char[]){"u1"},
        .project_id = (char[]){"p1"},
        .role_ids = roles,
        .role_count = 2,
        .methods = methods,
        .method_count = 1,
        .audit_id = (char[]){"audit"},
        .issued_at_ms = S_NOW,
        .expires_at_ms = expires_at_ms,
    };
    char *text = NULL;
    zn_token_seal(&claims, keys, &text);
    return text;
}

static void
test_token_example(void **state)
{
    (void)state;
    char *dir = s_tempdir();
    zn_tokenkeys_t *keys = s_keys(dir);
    char *text = s_seal(keys, S_NOW + 3600000);
    assert_memory_equal(text, "zt1", 3);
    zn_token_claims_t claims;
    assert_int_equal(zn_token_open(text, keys, S_NOW, &claims), 0);
    assert_string_equal(claims.user_id, "u1");
    assert_string_equal(claims.project_id, "p1");
    assert_int_equal(claims.role_count, 2);
    assert_string_equal(claims.role_ids[1], "r2");
    assert_string_equal(claims.audit_id, "audit");
    zn_schema_release(&zn_token_claims_schema, &claims);
    zn_str_free(&text);
    zn_tokenkeys_destroy(&keys);
    s_rmdir(&dir);
}

static void
test_token_every_flipped_bit_is_refused(void **state)
{
    (void)state;
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char *dir = s_tempdir();
    zn_tokenkeys_t *keys = s_keys(dir);
    char *text = s_seal(keys, S_NOW + 3600000);
    for (size_t i = 3; text[i] != '\0'; i++) {
        char saved = text[i];
        size_t at = (size_t)(strchr(alphabet, saved) - alphabet);
        text[i] = alphabet[at ^ 1u];
        zn_token_claims_t claims;
        int rc = zn_token_open(text, keys, S_NOW, &claims);
        assert_true(rc == -EACCES || rc == -EINVAL);
        text[i] = saved;
    }
    zn_str_free(&text);
    zn_tokenkeys_destroy(&keys);
    s_rmdir(&dir);
}

static void
test_token_expired_is_refused(void **state)
{
    (void)state;
    char *dir = s_tempdir();
    zn_tokenkeys_t *keys = s_keys(dir);
    char *text = s_seal(keys, S_NOW + 1000);
    zn_token_claims_t claims;
    assert_int_equal(zn_token_open(text, keys, S_NOW + 999, &claims), 0);
    zn_schema_release(&zn_token_claims_schema, &claims);
    assert_int_equal(zn_token_open(text, keys, S_NOW + 1000, &claims), -ETIMEDOUT);
    assert_null(claims.user_id);
    zn_str_free(&text);
    zn_tokenkeys_destroy(&keys);
    s_rmdir(&dir);
}

static void
test_token_rotation(void **state)
{
    (void)state;
    char *dir = s_tempdir();
    zn_tokenkeys_t *keys = s_keys(dir);
    assert_int_equal(zn_tokenkeys_count(keys), 2);
    assert_int_equal(zn_tokenkeys_primary_number(keys), 1);
    char *old = s_seal(keys, S_NOW + 3600000);
    zn_token_claims_t claims;

    /* One rotation: the old primary is a secondary, still accepted. */
    assert_int_equal(zn_tokenkeys_rotate(dir, 3, NULL), 0);
    assert_int_equal(zn_tokenkeys_refresh(keys, NULL), 1);
    assert_int_equal(zn_tokenkeys_primary_number(keys), 2);
    assert_int_equal(zn_token_open(old, keys, S_NOW, &claims), 0);
    zn_schema_release(&zn_token_claims_schema, &claims);
    assert_int_equal(zn_tokenkeys_refresh(keys, NULL), 0); /* nothing changed */

    /* Two rotations with three keys kept: key 1 is gone and its tokens with it. */
    assert_int_equal(zn_tokenkeys_rotate(dir, 3, NULL), 0);
    assert_int_equal(zn_tokenkeys_refresh(keys, NULL), 1);
    assert_int_equal(zn_tokenkeys_count(keys), 3);
    assert_int_equal(zn_token_open(old, keys, S_NOW, &claims), -EACCES);
    char *fresh = s_seal(keys, S_NOW + 3600000);
    assert_int_equal(zn_token_open(fresh, keys, S_NOW, &claims), 0);
    zn_schema_release(&zn_token_claims_schema, &claims);

    /* A token sealed under the staged key (another node promoted it first) opens. */
    zn_str_free(&old);
    zn_str_free(&fresh);
    zn_tokenkeys_destroy(&keys);
    s_rmdir(&dir);
}

static void
test_token_foreign_key_and_garbage(void **state)
{
    (void)state;
    char *dir_a = s_tempdir();
    char *dir_b = s_tempdir();
    zn_tokenkeys_t *a = s_keys(dir_a);
    zn_tokenkeys_t *b = s_keys(dir_b);
    char *text = s_seal(a, S_NOW + 3600000);
    zn_token_claims_t claims;
    assert_int_equal(zn_token_open(text, b, S_NOW, &claims), -EACCES);
    assert_int_equal(zn_token_open("", a, S_NOW, &claims), -EINVAL);
    assert_int_equal(zn_token_open("zt1", a, S_NOW, &claims), -EINVAL);
    assert_int_equal(zn_token_open("zt1!!!!", a, S_NOW, &claims), -EINVAL);
    assert_int_equal(zn_token_open("xx1AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", a,
                                   S_NOW, &claims),
                     -EINVAL);
    assert_int_equal(zn_token_open(NULL, a, S_NOW, &claims), -EINVAL);
    zn_str_free(&text);
    zn_tokenkeys_destroy(&a);
    zn_tokenkeys_destroy(&b);
    s_rmdir(&dir_a);
    s_rmdir(&dir_b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_example),
        cmocka_unit_test(test_token_every_flipped_bit_is_refused),
        cmocka_unit_test(test_token_expired_is_refused),
        cmocka_unit_test(test_token_rotation),
        cmocka_unit_test(test_token_foreign_key_and_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
