/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_env - zn_env_decode on arbitrary frames; whatever decodes must re-encode to the same. */
#include <stdint.h>
#include <string.h>

#include "zn_env.h"
#include "zn_mp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A decoded envelope, encoded again, must decode to the same fields and body. */
static void
s_round_trip(const zn_env_t *env)
{
    zn_pack_t *pack = zn_pack_new();
    zn_env_encode(env, pack);
    zn_env_t again;
    zn_fault_t fault = {0};
    ZN_ASSERT(zn_env_decode(&again, zn_pack_buf(pack), &fault) == 0);
    ZN_ASSERT(again.kind == env->kind && again.err_code == env->err_code);
    ZN_ASSERT(memcmp(again.id.bytes, env->id.bytes, sizeof(env->id.bytes)) == 0);
    ZN_ASSERT(strcmp(again.method, env->method) == 0);
    ZN_ASSERT(strcmp(again.ctx.req_id, env->ctx.req_id) == 0);
    ZN_ASSERT(strcmp(again.ctx.roles, env->ctx.roles) == 0);
    ZN_ASSERT(strcmp(again.err_message, env->err_message) == 0);
    ZN_ASSERT(again.ctx.token.len == env->ctx.token.len);
    ZN_ASSERT((again.ctx.deadline_ms != 0) == (env->ctx.deadline_ms != 0));
    ZN_ASSERT(again.body.len == env->body.len);
    ZN_ASSERT(env->body.len == 0 || memcmp(again.body.ptr, env->body.ptr, env->body.len) == 0);
    zn_pack_destroy(&pack);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    zn_env_t env;
    zn_fault_t fault = {0};
    int rc = zn_env_decode(&env, (zn_buf_t){data, size}, &fault);
    if (rc == 0) {
        s_round_trip(&env);
    } else {
        ZN_ASSERT(fault.code == rc && fault.message[0] != '\0');
    }
    return 0;
}
