/* SPDX-License-Identifier: Apache-2.0 */
/* zn_buf.h - a borrowed view of bytes, passed by value. */
#ifndef ZN_BUF_H
#define ZN_BUF_H

#include <stddef.h>
#include <stdint.h>

/* Borrowed bytes: whoever hands one out says how long PTR stays valid. */
typedef struct zn_buf {
    const uint8_t *ptr;
    size_t len;
} zn_buf_t;

#endif
