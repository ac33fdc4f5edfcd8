/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_token - token text from the network: prefix, length and base64 checks and AEAD opening
 * under a fixed key repository; then the claims decoder that runs on what a key opened. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zn_mem.h"
#include "zn_token.h"
#include "zn_tokenkeys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static zn_tokenkeys_t *s_repo;
static char s_dir[] = "/tmp/zn-fuzz-token.XXXXXX";

static void
s_remove_keys(void)
{
    zn_tokenkeys_destroy(&s_repo);
    char *cmd = zn_asprintf("rm -rf '%s'", s_dir);
    int rc = system(cmd);
    zn_str_free(&cmd);
    ZN_ASSERT(rc != -1); /* a stray temp dir is harmless, a failed fork is not expected */
}

/* One repository for the whole run (a fuzzer process), made on first use, removed at exit. */
static zn_tokenkeys_t *
s_keys(void)
{
    if (s_repo == NULL) {
        ZN_ASSERT(mkdtemp(s_dir) != NULL);
        ZN_ASSERT(zn_tokenkeys_open(&s_repo, s_dir, NULL) == 0);
        ZN_ASSERT(atexit(s_remove_keys) == 0);
    }
    return s_repo;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = zn_strndup((const char *)data, size);
    zn_token_claims_t claims;
    int rc = zn_token_open(text, s_keys(), 0, &claims);
    ZN_ASSERT(rc == -EINVAL || rc == -EACCES || rc == -EBADMSG || rc == -ETIMEDOUT || rc == 0);
    zn_schema_release(&zn_token_claims_schema, &claims);
    zn_str_free(&text);
    zn_buf_t bytes = {data, size};
    if (zn_schema_decode(&zn_token_claims_schema, bytes, &claims, NULL, NULL) == 0) {
        ZN_ASSERT(claims.user_id != NULL && claims.audit_id != NULL);
        zn_schema_release(&zn_token_claims_schema, &claims);
    }
    return 0;
}
