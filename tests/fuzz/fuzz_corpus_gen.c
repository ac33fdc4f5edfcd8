/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_corpus_gen - write the seed corpus: `fuzz_corpus_gen tests/fuzz/corpus` fills env/ and
 * schema/ with small valid (and a few nearly valid) inputs built by the real encoders. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_schemas.h"
#include "zn_clock.h"
#include "zn_env.h"
#include "zn_mem.h"
#include "zn_mp.h"
#include "zn_schema.h"

static int
s_write(const char *dir, const char *name, zn_buf_t bytes)
{
    char *path = zn_asprintf("%s/%s", dir, name);
    FILE *file = fopen(path, "wb");
    int rc = file != NULL && fwrite(bytes.ptr, 1, bytes.len, file) == bytes.len ? 0 : -1;
    if (file != NULL && fclose(file) != 0) {
        rc = -1;
    }
    if (rc < 0) {
        fprintf(stderr, "fuzz_corpus_gen: cannot write %s\n", path);
    }
    zn_str_free(&path);
    return rc;
}

/* A body in the shape of fuzz_instance_schema, varied by SEED. */
static void
s_pack_instance(zn_pack_t *pack, int seed)
{
    char name[32];
    snprintf(name, sizeof(name), "vm-%d", seed);
    char web[] = "web";
    char db[] = "db";
    char ip4[] = "10.0.0.5";
    char ip6[] = "fd00::5";
    char *tags[] = {web, db, NULL};
    char *ips[] = {ip4, ip6};
    char mac[] = "fa:16:3e:00:00:01";
    char flavor[] = "m1.small";
    fuzz_nic_t nics[2] = {{mac, 1500, ips, 2}, {mac, 9000, NULL, 0}};
    uint8_t user_data[] = {0, 1, 2, 0xff};
    fuzz_instance_t vm = {
        .name = name,
        .vcpus = seed % 2 ? -seed : seed * 1000,
        .memory_mb = (uint64_t)seed << (seed % 40),
        .active = seed % 2 == 0,
        .user_data = {seed % 3 ? user_data : NULL, sizeof(user_data)},
        .tags = tags,
        .tag_count = (size_t)seed % 4,
        .flavor = {flavor, 20, seed / 3.0},
        .nics = nics,
        .nic_count = (size_t)seed % 3,
    };
    zn_schema_encode(&fuzz_instance_schema, &vm, pack);
}

static int
s_env_seed(const char *dir, zn_pack_t *frame, zn_pack_t *body, int seed)
{
    static const char *const methods[] = {"compute.boot", "scheduler.select", "image.get", "x"};
    zn_env_t env;
    zn_env_init(&env, (zn_kind_t)(seed % 4 + 1), methods[seed % 4]);
    snprintf(env.ctx.req_id, sizeof(env.ctx.req_id), "req-%08d", seed);
    if (seed % 3 == 0) {
        snprintf(env.ctx.user_id, sizeof(env.ctx.user_id), "alice");
        snprintf(env.ctx.project_id, sizeof(env.ctx.project_id), "demo");
        snprintf(env.ctx.roles, sizeof(env.ctx.roles), "admin,member");
        env.ctx.token = (zn_buf_t){(const uint8_t *)"gAAAAABtoken", 12};
    }
    if (seed % 2 == 0) {
        env.ctx.deadline_ms = zn_clock_mono_ms() + 1000 * seed;
    }
    if (env.kind == ZN_KIND_ERROR) {
        env.err_code = -20001 - seed % 16;
        snprintf(env.err_message, sizeof(env.err_message), "%s", zn_strerror(env.err_code));
    }
    zn_pack_reset(body);
    if (seed % 5 != 4) {
        s_pack_instance(body, seed);
    }
    env.body = zn_pack_buf(body);
    zn_pack_reset(frame);
    zn_env_encode(&env, frame);
    char name[32];
    snprintf(name, sizeof(name), "seed-%02d", seed);
    return s_write(dir, name, zn_pack_buf(frame));
}

/* Frames valid in form but unusual: unknown keys, string keys, another major, a cut frame. */
static int
s_env_odd_seeds(const char *dir, zn_pack_t *frame)
{
    static const uint8_t id[16] = {0xde, 0xad, 0xbe, 0xef};
    int rc = 0;
    for (uint64_t major = 1; major <= 2; major++) {
        zn_pack_reset(frame);
        zn_pack_map(frame, 7);
        zn_pack_u64(frame, 0);
        zn_pack_u64(frame, major);
        zn_pack_u64(frame, 1);
        zn_pack_u64(frame, 9);
        zn_pack_u64(frame, 2);
        zn_pack_u64(frame, 2);
        zn_pack_u64(frame, 3);
        zn_pack_bin(frame, id, sizeof(id));
        zn_pack_u64(frame, 4);
        zn_pack_str(frame, "network.port_update");
        zn_pack_u64(frame, 77);
        zn_pack_array(frame, 2);
        zn_pack_f64(frame, 0.5);
        zn_pack_i64(frame, -77);
        zn_pack_str(frame, "future");
        zn_pack_map(frame, 1);
        zn_pack_nil(frame);
        zn_pack_bool(frame, true);
        zn_pack_array(frame, 0);
        char name[32];
        snprintf(name, sizeof(name), "odd-major%u", (unsigned)major);
        rc |= s_write(dir, name, zn_pack_buf(frame));
    }
    zn_buf_t cut = zn_pack_buf(frame);
    cut.len /= 2;
    rc |= s_write(dir, "odd-cut", cut);
    return rc;
}

/* Generic documents for the JSON view: every type, odd keys, odd strings. */
static int
s_json_seeds(const char *dir, zn_pack_t *pack)
{
    zn_pack_reset(pack);
    zn_pack_map(pack, 6);
    zn_pack_u64(pack, 1);
    zn_pack_str(pack, "int key");
    zn_pack_array(pack, 1);
    zn_pack_nil(pack);
    zn_pack_bin(pack, "\x00\xff", 2);
    zn_pack_strn(pack, "q\"\\\n\x01\x80\xc3\xa9\xed\xa0\x80", 11);
    zn_pack_f64(pack, -1.25e-300);
    zn_pack_i64(pack, INT64_MIN);
    zn_pack_u64(pack, UINT64_MAX);
    zn_pack_bool(pack, false);
    zn_pack_str(pack, "nested");
    for (int i = 0; i < 15; i++) {
        zn_pack_array(pack, 1);
    }
    zn_pack_map(pack, 0);
    int rc = s_write(dir, "json-types", zn_pack_buf(pack));
    const uint8_t f32[] = {0x92, 0xca, 0x3f, 0xc0, 0x00, 0x00, 0xd0, 0x05};
    rc |= s_write(dir, "json-f32", (zn_buf_t){f32, sizeof(f32)});
    return rc;
}

int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_corpus_gen CORPUS_DIR (with env/ and schema/ in it)\n");
        return EXIT_FAILURE;
    }
    char *env_dir = zn_asprintf("%s/env", argv[1]);
    char *schema_dir = zn_asprintf("%s/schema", argv[1]);
    zn_pack_t *frame = zn_pack_new();
    zn_pack_t *body = zn_pack_new();
    int rc = 0;
    for (int seed = 0; seed < 24; seed++) {
        rc |= s_env_seed(env_dir, frame, body, seed);
        zn_pack_reset(body);
        s_pack_instance(body, seed);
        char name[32];
        snprintf(name, sizeof(name), "instance-%02d", seed);
        rc |= s_write(schema_dir, name, zn_pack_buf(body));
    }
    rc |= s_env_odd_seeds(env_dir, frame);
    rc |= s_json_seeds(schema_dir, body);
    zn_pack_destroy(&body);
    zn_pack_destroy(&frame);
    zn_str_free(&schema_dir);
    zn_str_free(&env_dir);
    return rc == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
