/* SPDX-License-Identifier: Apache-2.0 */
/* zn_uuid.h - random (version 4) UUIDs in their canonical text form, and request ids. */
#ifndef ZN_UUID_H
#define ZN_UUID_H

#include <stdbool.h>

#define ZN_UUID_LEN   36 /* "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" */
#define ZN_REQ_ID_LEN 40 /* "req-" + UUID */

typedef struct zn_uuid {
    char str[ZN_UUID_LEN + 1];
} zn_uuid_t;

/* A fresh random UUID from libsodium's CSPRNG. */
zn_uuid_t zn_uuid_generate(void);

/* Write "req-<uuid>" (ZN_REQ_ID_LEN + 1 bytes) into OUT, as OpenStack request ids look. */
void zn_uuid_request_id(char out[ZN_REQ_ID_LEN + 1]);

/* True when TEXT is a canonical UUID (8-4-4-4-12 hex digits, any case). */
bool zn_uuid_is_valid(const char *text);

#endif
