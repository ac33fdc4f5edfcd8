/* SPDX-License-Identifier: Apache-2.0 */
/* zn_uuid.c - UUID generation and checking. */
#include "zn_uuid.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

zn_uuid_t
zn_uuid_generate(void)
{
    uint8_t b[16];
    if (sodium_init() < 0) {
        abort(); /* no entropy source: nothing in zinc can be trusted to be unique */
    }
    randombytes_buf(b, sizeof(b));
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    zn_uuid_t u;
    (void)snprintf(u.str, sizeof(u.str),
                   "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
                   b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
                   b[14], b[15]);
    return u;
}

void
zn_uuid_request_id(char out[ZN_REQ_ID_LEN + 1])
{
    zn_uuid_t u = zn_uuid_generate();
    (void)snprintf(out, ZN_REQ_ID_LEN + 1, "req-%s", u.str);
}

bool
zn_uuid_is_valid(const char *text)
{
    for (int i = 0; i < ZN_UUID_LEN; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? text[i] != '-' : !isxdigit((unsigned char)text[i])) {
            return false;
        }
    }
    return text[ZN_UUID_LEN] == '\0';
}
