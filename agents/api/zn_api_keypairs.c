/* SPDX-License-Identifier: Apache-2.0 */
/* zn_api_keypairs.c - key pairs (table keypairs, key "USER_ID/NAME"): imported public keys, or
 * ed25519 pairs generated here (libsodium) whose private half goes to the caller once, in
 * OpenSSH's format, and is never stored. */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "zn_api_int.h"
#include "zn_clock.h"
#include "zn_mem.h"
#include "zn_str.h"
#include "zn_tables.h"

#define S_KEYPAIRS_MAX 100 /* Nova's key_pairs quota per user */
#define S_KEY_MAX      16384
#define S_COMMENT      "Generated-by-zinc"

/* ---- OpenSSH encodings -------------------------------------------------------------------- */

/* Append the SSH wire "string" (u32 length, bytes) to BUF at *len (BUF has room). */
static void
s_put_string(uint8_t *buf, size_t *len, const void *data, size_t data_len)
{
    buf[(*len)++] = (uint8_t)(data_len >> 24);
    buf[(*len)++] = (uint8_t)(data_len >> 16);
    buf[(*len)++] = (uint8_t)(data_len >> 8);
    buf[(*len)++] = (uint8_t)data_len;
    memcpy(buf + *len, data, data_len);
    *len += data_len;
}

static char *
s_base64(const uint8_t *data, size_t len)
{
    size_t cap = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
    char *out = zn_malloc(cap);
    (void)sodium_bin2base64(out, cap, data, len, sodium_base64_VARIANT_ORIGINAL);
    return out;
}

/* "SHA256:..." of the key blob, as `ssh-keygen -l` prints it. */
static char *
s_fingerprint(const uint8_t *blob, size_t len)
{
    uint8_t hash[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(hash, blob, len);
    size_t cap = sodium_base64_encoded_len(sizeof(hash), sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
    char *b64 = zn_malloc(cap);
    (void)sodium_bin2base64(b64, cap, hash, sizeof(hash),
                            sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
    char *out = zn_asprintf("SHA256:%s", b64);
    zn_free(b64);
    return out;
}

/* The private-key file text of the pair (PK, SK), in OpenSSH's unencrypted format. */
static char *
s_private_pem(const uint8_t *blob, size_t blob_len, const uint8_t *pk, const uint8_t *sk)
{
    uint8_t priv[256];
    size_t priv_len = 0;
    uint32_t check = randombytes_random();
    memcpy(priv, &check, 4);
    memcpy(priv + 4, &check, 4);
    priv_len = 8;
    s_put_string(priv, &priv_len, "ssh-ed25519", 11);
    s_put_string(priv, &priv_len, pk, crypto_sign_PUBLICKEYBYTES);
    s_put_string(priv, &priv_len, sk, crypto_sign_SECRETKEYBYTES);
    s_put_string(priv, &priv_len, S_COMMENT, strlen(S_COMMENT));
    for (uint8_t pad = 1; priv_len % 8 != 0; pad++) {
        priv[priv_len++] = pad;
    }
    uint8_t file[512];
    size_t len = 0;
    memcpy(file, "openssh-key-v1", 15); /* with its NUL */
    len = 15;
    s_put_string(file, &len, "none", 4);
    s_put_string(file, &len, "none", 4);
    s_put_string(file, &len, "", 0);
    const uint8_t one[4] = {0, 0, 0, 1};
    memcpy(file + len, one, 4);
    len += 4;
    s_put_string(file, &len, blob, blob_len);
    s_put_string(file, &len, priv, priv_len);
    sodium_memzero(priv, sizeof(priv));
    char *b64 = s_base64(file, len);
    sodium_memzero(file, sizeof(file));
    size_t b64_len = strlen(b64);
    char *pem = zn_malloc(b64_len + b64_len / 70 + 96);
    size_t at = (size_t)snprintf(pem, 40, "-----BEGIN OPENSSH PRIVATE KEY-----\n");
    for (size_t i = 0; i < b64_len; i += 70) {
        size_t n = b64_len - i < 70 ? b64_len - i : 70;
        memcpy(pem + at, b64 + i, n);
        at += n;
        pem[at++] = '\n';
    }
    (void)snprintf(pem + at, 40, "-----END OPENSSH PRIVATE KEY-----\n");
    sodium_memzero(b64, b64_len);
    zn_free(b64);
    return pem;
}

/* Generate an ed25519 pair: KP gets the public key and fingerprint, *private_out the file. */
static void
s_generate(zn_cell_keypair_t *kp, char **private_out)
{
    uint8_t pk[crypto_sign_PUBLICKEYBYTES];
    uint8_t *sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    crypto_sign_keypair(pk, sk);
    uint8_t blob[64];
    size_t blob_len = 0;
    s_put_string(blob, &blob_len, "ssh-ed25519", 11);
    s_put_string(blob, &blob_len, pk, sizeof(pk));
    char *b64 = s_base64(blob, blob_len);
    kp->public_key = zn_asprintf("ssh-ed25519 %s %s", b64, S_COMMENT);
    kp->fingerprint = s_fingerprint(blob, blob_len);
    *private_out = s_private_pem(blob, blob_len, pk, sk);
    zn_free(b64);
    sodium_free(sk);
}

/* Check an imported "TYPE BASE64 [comment]" key and take its fingerprint. */
static int
s_import(zn_cell_keypair_t *kp, const char *text, zn_fault_t *fault)
{
    static const char *const types[] = {
        "ssh-ed25519",        "ssh-rsa", "ssh-dss", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521"};
    size_t type_len = strcspn(text, " ");
    const char *b64 = text + type_len + (text[type_len] == ' ' ? 1 : 0);
    size_t b64_len = strcspn(b64, " \r\n");
    bool known = false;
    for (size_t i = 0; i < ZN_ARRAY_COUNT(types) && !known; i++) {
        known = strlen(types[i]) == type_len && strncmp(text, types[i], type_len) == 0;
    }
    uint8_t *blob = zn_malloc(b64_len + 1);
    size_t blob_len = 0;
    int rc = 0;
    if (!known || b64_len == 0 ||
        sodium_base642bin(blob, b64_len + 1, b64, b64_len, NULL, &blob_len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        blob_len < 4 + type_len || memcmp(blob + 4, text, type_len) != 0) {
        rc =
            zn_fault_set(fault, -EINVAL, "Keypair data is invalid: failed to generate fingerprint");
    } else {
        kp->public_key = zn_strdup(text);
        kp->fingerprint = s_fingerprint(blob, blob_len);
    }
    zn_free(blob);
    return rc;
}

/* ---- handlers ----------------------------------------------------------------------------- */

static int
s_key(const zn_rest_req_t *req, const char *name, char *out, size_t cap, zn_fault_t *fault)
{
    const char *user = zn_rest_user_id(req);
    int n = user != NULL ? snprintf(out, cap, "%s/%s", user, name) : -1;
    if (n < 0 || (size_t)n >= cap) {
        return zn_fault_set(fault, -EINVAL, "Keypair data is invalid: name too long");
    }
    return 0;
}

static json_t *
s_view(const zn_cell_keypair_t *kp, bool full)
{
    json_t *v = json_pack("{s:s,s:s?,s:s?}", "name", kp->name, "public_key", kp->public_key,
                          "fingerprint", kp->fingerprint);
    if (full) {
        char created[32];
        zn__api_iso(kp->created_ms, created);
        (void)json_object_set_new(v, "user_id", json_string(kp->user_id));
        (void)json_object_set_new(v, "created_at", json_string(created));
        (void)json_object_set_new(v, "updated_at", json_null());
        (void)json_object_set_new(v, "deleted_at", json_null());
        (void)json_object_set_new(v, "deleted", json_false());
        /* 2.1 shows an integer id; a stable one derived from the name will do. */
        uint32_t h = 5381;
        for (const char *p = kp->name; *p != '\0'; p++) {
            h = h * 33 + (uint8_t)*p;
        }
        (void)json_object_set_new(v, "id", json_integer(h & 0x7fffffff));
    }
    return v;
}

typedef struct {
    json_t *items;
    size_t count;
} s_list_t;

static int
s_collect(void *arg, const zn_store_record_t *rec)
{
    s_list_t *list = arg;
    zn_cell_keypair_t kp;
    if (zn_schema_decode(&zn_cell_keypair_schema, rec->value, &kp, NULL, NULL) == 0) {
        if (list->items != NULL) {
            (void)json_array_append_new(list->items,
                                        json_pack("{s:o}", "keypair", s_view(&kp, false)));
        }
        list->count++;
        zn_schema_release(&zn_cell_keypair_schema, &kp);
    }
    return 0;
}

static int
s_scan_user(zn_api_t *self, const char *user_id, s_list_t *list, zn_fault_t *fault)
{
    zn_store_read_t *txn = NULL;
    int rc = zn__api_read_begin(self, &txn, fault);
    if (rc == 0) {
        rc = zn__api_scan(self, txn, ZN_TABLE_KEYPAIRS, "user_id", user_id, s_collect, list);
        zn_store_read_end(&txn);
    }
    return rc;
}

int
zn__api_keypair_list(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    s_list_t list = {json_array(), 0};
    int rc = s_scan_user(arg, zn_rest_user_id(req), &list, fault);
    if (rc == 0) {
        zn_rest_reply(req, 200, json_pack("{s:O}", "keypairs", list.items));
    }
    json_decref(list.items);
    return rc;
}

static int
s_read(zn_api_t *self, zn_rest_req_t *req, zn_cell_keypair_t *kp, uint64_t *gen, zn_fault_t *fault)
{
    char key[ZN_API_ID_MAX + 256 + 2];
    const char *name = zn_rest_capture(req, 0);
    int rc = s_key(req, name, key, sizeof(key), fault);
    zn_store_read_t *txn = NULL;
    if (rc == 0) {
        rc = zn__api_read_begin(self, &txn, fault);
    }
    if (rc == 0) {
        rc =
            zn__api_get(self, txn, ZN_TABLE_KEYPAIRS, key, &zn_cell_keypair_schema, kp, gen, fault);
        zn_store_read_end(&txn);
    }
    if (rc == -ENOENT) {
        return zn_fault_set(fault, -ENOENT, "Keypair %s not found for user %s", name,
                            zn_rest_user_id(req));
    }
    return rc;
}

int
zn__api_keypair_show(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    zn_cell_keypair_t kp;
    int rc = s_read(arg, req, &kp, NULL, fault);
    if (rc == 0) {
        zn_rest_reply(req, 200, json_pack("{s:o}", "keypair", s_view(&kp, true)));
        zn_schema_release(&zn_cell_keypair_schema, &kp);
    }
    return rc;
}

int
zn__api_keypair_delete(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    zn_api_t *self = arg;
    zn_cell_keypair_t kp;
    uint64_t gen = 0;
    int rc = s_read(self, req, &kp, &gen, fault);
    if (rc < 0) {
        return rc;
    }
    char key[ZN_API_ID_MAX + 256 + 2];
    rc = s_key(req, kp.name, key, sizeof(key), fault);
    zn_batch_t *batch = zn_batch_new();
    if (rc == 0) {
        rc = zn_batch_delete(batch, ZN_TABLE_KEYPAIRS, zn_batch_str(key), gen);
    }
    if (rc == 0) {
        rc = zn__api_write_reply(self, req, batch, 202, NULL, "the key pair changed meanwhile",
                                 fault);
    }
    zn_batch_destroy(&batch);
    zn_schema_release(&zn_cell_keypair_schema, &kp);
    return rc;
}

static int
s_check_name(const char *name, zn_fault_t *fault)
{
    size_t len = name != NULL ? strlen(name) : 0;
    const char *ok = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_ ";
    if (len == 0 || len > 255 || strspn(name, ok) != len || name[0] == ' ' ||
        name[len - 1] == ' ') {
        return zn_fault_set(fault, -EINVAL,
                            "Keypair data is invalid: Keypair name contains unsafe characters "
                            "or is not 1 to 255 characters long");
    }
    return 0;
}

/* The new key pair of BODY into KP (*private_out when generated). */
static int
s_build(zn_api_t *self, zn_rest_req_t *req, const json_t *body, zn_cell_keypair_t *kp,
        char **private_out, zn_fault_t *fault)
{
    const char *name = json_string_value(json_object_get(body, "name"));
    const char *public_key = json_string_value(json_object_get(body, "public_key"));
    json_t *type = json_object_get(body, "type");
    int rc = s_check_name(name, fault);
    if (rc == 0 && type != NULL && !json_is_null(type)) {
        rc = zn_fault_set(fault, -EINVAL,
                          "Invalid input for field/attribute keypair. "
                          "Additional properties are not allowed ('type' was "
                          "unexpected)");
    }
    if (rc == 0 && json_object_get(body, "public_key") != NULL &&
        (public_key == NULL || strlen(public_key) > S_KEY_MAX)) {
        rc = zn_fault_set(fault, -EINVAL, "Keypair data is invalid: public_key");
    }
    s_list_t count = {NULL, 0};
    if (rc == 0) {
        rc = s_scan_user(self, zn_rest_user_id(req), &count, fault);
    }
    if (rc == 0 && count.count >= S_KEYPAIRS_MAX) {
        rc = zn_fault_set(fault, ZN_EQUOTA, "Quota exceeded, too many key pairs.");
    }
    if (rc < 0) {
        return rc;
    }
    kp->user_id = zn_strdup(zn_rest_user_id(req));
    kp->name = zn_strdup(name);
    kp->type = zn_strdup("ssh");
    kp->created_ms = zn_clock_wall_ms();
    if (public_key != NULL) {
        return s_import(kp, public_key, fault);
    }
    s_generate(kp, private_out);
    return 0;
}

int
zn__api_keypair_create(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    zn_api_t *self = arg;
    json_t *body = json_object_get(zn_rest_json(req), "keypair");
    if (!json_is_object(body)) {
        return zn_fault_set(fault, -EINVAL,
                            "Invalid input for field/attribute keypair. "
                            "'keypair' is a required property.");
    }
    zn_cell_keypair_t kp = {0};
    char *private_key = NULL;
    int rc = s_build(self, req, body, &kp, &private_key, fault);
    char key[ZN_API_ID_MAX + 256 + 2];
    if (rc == 0) {
        rc = s_key(req, kp.name, key, sizeof(key), fault);
    }
    zn_batch_t *batch = zn_batch_new();
    if (rc == 0) {
        rc = zn_sclient_put(batch, ZN_TABLE_KEYPAIRS, key, &zn_cell_keypair_schema, &kp,
                            ZN_BATCH_GEN_ABSENT);
    }
    if (rc == 0) {
        json_t *view = json_pack("{s:s,s:s,s:s,s:s}", "name", kp.name, "public_key", kp.public_key,
                                 "fingerprint", kp.fingerprint, "user_id", kp.user_id);
        if (private_key != NULL) {
            (void)json_object_set_new(view, "private_key", json_string(private_key));
        }
        char *conflict = zn_asprintf("Key pair '%s' already exists.", kp.name);
        rc = zn__api_write_reply(self, req, batch, 200, json_pack("{s:o}", "keypair", view),
                                 conflict, fault);
        zn_str_free(&conflict);
    }
    if (private_key != NULL) {
        sodium_memzero(private_key, strlen(private_key));
        zn_free(private_key);
    }
    zn_batch_destroy(&batch);
    zn_schema_release(&zn_cell_keypair_schema, &kp);
    return rc;
}
