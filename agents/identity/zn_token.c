/* SPDX-License-Identifier: Apache-2.0 */
/* zn_token.c - claims <-> sealed token text. */
#include "zn_token.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "zn_mem.h"
#include "zn_mp.h"

#define S_NONCE_BYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define S_TAG_BYTES   crypto_aead_xchacha20poly1305_ietf_ABYTES
#define S_BIN_MAX     1536
#define S_PREFIX_LEN  (sizeof(ZN_TOKEN_PREFIX) - 1)

static const uint8_t s_ad[] = {'z', 't', 1};

#define S_F(name, type, flags, max)                                         \
    {                                                                       \
#name, type, flags, offsetof(zn_token_claims_t, name), 0, max, NULL \
    }
#define S_L(name, count, max)                                       \
    {                                                               \
#name, ZN_FT_STRLIST, 0, offsetof(zn_token_claims_t, name), \
            offsetof(zn_token_claims_t, count), max, NULL           \
    }

static const zn_field_t s_fields[] = {
    S_F(user_id, ZN_FT_STR, ZN_F_REQUIRED, 64),
    S_F(project_id, ZN_FT_STR, 0, 64),
    S_F(domain_id, ZN_FT_STR, 0, 64),
    S_L(role_ids, role_count, 16),
    S_L(methods, method_count, 4),
    S_F(audit_id, ZN_FT_STR, ZN_F_REQUIRED, 32),
    S_F(audit_chain_id, ZN_FT_STR, 0, 32),
    S_F(issued_at_ms, ZN_FT_I64, ZN_F_REQUIRED, 0),
    S_F(expires_at_ms, ZN_FT_I64, ZN_F_REQUIRED, 0),
};

const zn_schema_t zn_token_claims_schema = {
    "token", 1, s_fields, ZN_ARRAY_COUNT(s_fields), sizeof(zn_token_claims_t),
};

void
zn_token_seal(const zn_token_claims_t *claims, const zn_tokenkeys_t *keys, char **out)
{
    zn_pack_t *pack = zn_pack_new();
    zn_schema_encode(&zn_token_claims_schema, claims, pack);
    zn_buf_t plain = zn_pack_buf(pack);
    size_t bin_len = S_NONCE_BYTES + plain.len + S_TAG_BYTES;
    uint8_t *bin = zn_malloc(bin_len);
    randombytes_buf(bin, S_NONCE_BYTES);
    unsigned long long sealed_len = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(bin + S_NONCE_BYTES, &sealed_len, plain.ptr,
                                               plain.len, s_ad, sizeof(s_ad), NULL, bin,
                                               zn_tokenkeys_key(keys, 0));
    size_t text_cap =
        S_PREFIX_LEN + sodium_base64_ENCODED_LEN(bin_len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *text = zn_malloc(text_cap);
    memcpy(text, ZN_TOKEN_PREFIX, S_PREFIX_LEN);
    sodium_bin2base64(text + S_PREFIX_LEN, text_cap - S_PREFIX_LEN, bin, bin_len,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    zn_free(bin);
    zn_pack_destroy(&pack);
    *out = text;
}

/* Try every accepted key on BIN; the plaintext lands in PLAIN. Returns its length or -EACCES. */
static long
s_unseal(const uint8_t *bin, size_t bin_len, const zn_tokenkeys_t *keys, uint8_t *plain)
{
    for (size_t i = 0; i < zn_tokenkeys_count(keys); i++) {
        unsigned long long plain_len = 0;
        if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &plain_len, NULL, bin + S_NONCE_BYTES,
                                                       bin_len - S_NONCE_BYTES, s_ad, sizeof(s_ad),
                                                       bin, zn_tokenkeys_key(keys, i)) == 0) {
            return (long)plain_len;
        }
    }
    return -EACCES;
}

int
zn_token_open(const char *text, const zn_tokenkeys_t *keys, int64_t now_wall_ms,
              zn_token_claims_t *claims)
{
    memset(claims, 0, sizeof(*claims));
    size_t len = text != NULL ? strnlen(text, ZN_TOKEN_TEXT_MAX + 1) : 0;
    if (len <= S_PREFIX_LEN || len > ZN_TOKEN_TEXT_MAX ||
        memcmp(text, ZN_TOKEN_PREFIX, S_PREFIX_LEN) != 0) {
        return -EINVAL;
    }
    uint8_t bin[S_BIN_MAX];
    size_t bin_len = 0;
    if (sodium_base642bin(bin, sizeof(bin), text + S_PREFIX_LEN, len - S_PREFIX_LEN, NULL, &bin_len,
                          NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        bin_len < S_NONCE_BYTES + S_TAG_BYTES) {
        return -EINVAL;
    }
    uint8_t plain[S_BIN_MAX];
    long plain_len = s_unseal(bin, bin_len, keys, plain);
    if (plain_len < 0) {
        return (int)plain_len;
    }
    zn_buf_t bytes = {plain, (size_t)plain_len};
    if (zn_schema_decode(&zn_token_claims_schema, bytes, claims, NULL, NULL) < 0) {
        return -EBADMSG;
    }
    if (claims->expires_at_ms <= now_wall_ms) {
        zn_schema_release(&zn_token_claims_schema, claims);
        return -ETIMEDOUT;
    }
    return 0;
}

void
zn_token_audit_id(char out[23])
{
    uint8_t raw[16];
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2base64(out, 23, raw, sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}
