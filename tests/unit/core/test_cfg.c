/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for zn_cfg: defaults, file, --set precedence, and every way a config can be wrong. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "zn_cfg.h"
#include "zn_log.h"

typedef struct {
    char *bind;
    int64_t workers;
    bool curve;
    zn_log_level_t log_level;
} s_cfg_t;

static const zn_cfg_opt_t s_opts[] = {
    ZN_CFG_STR_ROW(s_cfg_t, "rpc", "bind", bind, "tcp://127.0.0.1:0", "endpoint to bind"),
    ZN_CFG_INT_ROW(s_cfg_t, "rpc", "workers", workers, "4", 1, 64, "worker count"),
    ZN_CFG_BOOL_ROW(s_cfg_t, "security", "curve", curve, "false", "encrypt links"),
    ZN_CFG_LOGLEVEL_ROW(s_cfg_t, "log", "level", log_level, "notice", "log level"),
    ZN_CFG_END,
};

static char *
s_write_file(const char *text)
{
    char *path = strdup("/tmp/zn_cfg_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void
test_cfg_example(void **state)
{
    (void)state;
    char *path = s_write_file("[rpc]\nworkers = 8\n[security]\ncurve = yes\n");
    const char *argv[] = {"zinc-test", "--config", path, "--set", "rpc.workers=16", NULL};
    s_cfg_t cfg;
    assert_int_equal(zn_cfg_load(&cfg, s_opts, "test", 5, argv), 0);
    assert_string_equal(cfg.bind, "tcp://127.0.0.1:0"); /* default */
    assert_int_equal(cfg.workers, 16);                  /* --set beats the file */
    assert_true(cfg.curve);                             /* from the file */
    assert_int_equal(cfg.log_level, ZN_LOG_N);
    zn_cfg_release(&cfg, s_opts);
    zn_cfg_release(&cfg, s_opts); /* twice is harmless */
    unlink(path);
    free(path);
}

static void
test_cfg_unknown_key_names_line(void **state)
{
    (void)state;
    char *path = s_write_file("[rpc]\nworkers = 2\n\nbogus = 1\n");
    s_cfg_t cfg;
    zn_cfg_defaults(&cfg, s_opts);
    zn_fault_t fault;
    assert_int_equal(zn_cfg_apply_file(&cfg, s_opts, path, &fault), ZN_ECONFIG);
    assert_non_null(strstr(fault.message, ":4: unknown option [rpc] bogus"));
    zn_cfg_release(&cfg, s_opts);
    unlink(path);
    free(path);
}

static void
test_cfg_bad_values(void **state)
{
    (void)state;
    s_cfg_t cfg;
    zn_cfg_defaults(&cfg, s_opts);
    zn_fault_t fault;
    assert_int_equal(zn_cfg_apply_assignment(&cfg, s_opts, "rpc.workers=65", &fault), ZN_ECONFIG);
    assert_non_null(strstr(fault.message, "out of bounds"));
    assert_int_equal(zn_cfg_apply_assignment(&cfg, s_opts, "rpc.workers=4x", &fault), ZN_ECONFIG);
    assert_int_equal(zn_cfg_apply_assignment(&cfg, s_opts, "security.curve=maybe", &fault),
                     ZN_ECONFIG);
    assert_int_equal(zn_cfg_apply_assignment(&cfg, s_opts, "log.level=loud", &fault), ZN_ECONFIG);
    assert_int_equal(zn_cfg_apply_assignment(&cfg, s_opts, "nodot", &fault), ZN_ECONFIG);
    assert_int_equal(cfg.workers, 4); /* a rejected value leaves the old one */
    zn_cfg_release(&cfg, s_opts);
}

static void
test_cfg_command_line(void **state)
{
    (void)state;
    s_cfg_t cfg;
    const char *missing[] = {"zinc-test", "--config", "/nonexistent/zinc.conf", NULL};
    assert_int_equal(zn_cfg_load(&cfg, s_opts, "test", 3, missing), ZN_ECONFIG);
    const char *bad[] = {"zinc-test", "--frobnicate", NULL};
    assert_int_equal(zn_cfg_load(&cfg, s_opts, "test", 2, bad), ZN_EUSAGE);
    assert_int_equal(zn_exit_code(ZN_EUSAGE), 64);
    assert_int_equal(zn_exit_code(ZN_ECONFIG), 78);
    /* No file at all: the default path is optional, so an agent comes up on defaults. */
    const char *none[] = {"zinc-test", NULL};
    assert_int_equal(zn_cfg_load(&cfg, s_opts, "test-nonexistent-role", 1, none), 0);
    assert_int_equal(cfg.workers, 4);
    zn_cfg_release(&cfg, s_opts);
}

static void
test_cfg_syntax_error(void **state)
{
    (void)state;
    char *path = s_write_file("[rpc\nworkers = 2\n");
    s_cfg_t cfg;
    zn_cfg_defaults(&cfg, s_opts);
    zn_fault_t fault;
    assert_int_equal(zn_cfg_apply_file(&cfg, s_opts, path, &fault), ZN_ECONFIG);
    assert_non_null(strstr(fault.message, ":1:"));
    zn_cfg_release(&cfg, s_opts);
    unlink(path);
    free(path);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cfg_example),      cmocka_unit_test(test_cfg_unknown_key_names_line),
        cmocka_unit_test(test_cfg_bad_values),   cmocka_unit_test(test_cfg_command_line),
        cmocka_unit_test(test_cfg_syntax_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
