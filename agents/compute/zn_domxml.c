/* SPDX-License-Identifier: Apache-2.0 */
/* zn_domxml.c - domain XML from typed data. */
#include "zn_domxml.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "zn_mem.h"
#include "zn_uuid.h"

#define S_VCPUS_MAX     1024
#define S_MEMORY_MB_MAX (16LL * 1024 * 1024) /* 16 TiB */
#define S_BRIDGE_MAX    15                   /* IFNAMSIZ - 1 */

/* A growing string; every append keeps it NUL-terminated. */
typedef struct {
    char *ptr;
    size_t len;
    size_t cap;
} s_buf_t;

static void
s_reserve(s_buf_t *buf, size_t more)
{
    if (buf->len + more + 1 <= buf->cap) {
        return;
    }
    size_t cap = buf->cap == 0 ? 1024 : buf->cap;
    while (cap < buf->len + more + 1) {
        cap *= 2;
    }
    buf->ptr = zn_realloc(buf->ptr, cap);
    buf->cap = cap;
}

static void
s_addn(s_buf_t *buf, const char *text, size_t len)
{
    s_reserve(buf, len);
    memcpy(buf->ptr + buf->len, text, len);
    buf->len += len;
    buf->ptr[buf->len] = '\0';
}

static void
s_add(s_buf_t *buf, const char *text)
{
    s_addn(buf, text, strlen(text));
}

static void ZN_PRINTF(2, 3) s_addf(s_buf_t *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = zn_vasprintf(fmt, ap);
    va_end(ap);
    s_add(buf, text);
    zn_str_free(&text);
}

/* Append TEXT escaped; with FLATTEN, newlines become spaces too (libvirt refuses them in a
 * title). */
static void
s_add_escaped(s_buf_t *buf, const char *text, bool flatten)
{
    for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
        switch (*p) {
        case '&':
            s_add(buf, "&amp;");
            break;
        case '<':
            s_add(buf, "&lt;");
            break;
        case '>':
            s_add(buf, "&gt;");
            break;
        case '\'':
            s_add(buf, "&apos;");
            break;
        case '"':
            s_add(buf, "&quot;");
            break;
        default: {
            char c = (char)*p;
            if (*p == '\n' && flatten) {
                c = ' ';
            } else if (*p < 0x20 && *p != '\t' && *p != '\n') {
                c = '?';
            }
            s_addn(buf, &c, 1);
        }
        }
    }
}

char *
zn_domxml_escape(const char *text)
{
    s_buf_t buf = {NULL, 0, 0};
    s_reserve(&buf, 0);
    buf.ptr[0] = '\0';
    s_add_escaped(&buf, text, false);
    return buf.ptr;
}

/* "fa:16:3e:01:02:03": six pairs of hex digits joined by colons. */
static bool
s_is_mac(const char *mac)
{
    if (strlen(mac) != 17) {
        return false;
    }
    for (size_t i = 0; i < 17; i++) {
        bool ok = (i % 3 == 2) ? mac[i] == ':' : isxdigit((unsigned char)mac[i]) != 0;
        if (!ok) {
            return false;
        }
    }
    return true;
}

/* A Linux interface name: 1-15 bytes of [A-Za-z0-9_.-]. */
static bool
s_is_ifname(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > S_BRIDGE_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!isalnum(c) && c != '_' && c != '.' && c != '-') {
            return false;
        }
    }
    return true;
}

/* "vd" followed by one to three lower-case letters. */
static bool
s_is_target(const char *target)
{
    size_t len = strlen(target);
    if (len < 3 || len > 5 || strncmp(target, "vd", 2) != 0) {
        return false;
    }
    for (size_t i = 2; i < len; i++) {
        if (target[i] < 'a' || target[i] > 'z') {
            return false;
        }
    }
    return true;
}

static bool
s_is_word(const char *text)
{
    if (text == NULL || text[0] == '\0') {
        return false;
    }
    for (const char *p = text; *p != '\0'; p++) {
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' && *p != '.') {
            return false;
        }
    }
    return true;
}

static int
s_check_devices(const zn_domxml_t *dom, zn_fault_t *fault)
{
    for (size_t i = 0; i < dom->disk_count; i++) {
        const zn_domxml_disk_t *d = &dom->disks[i];
        if (d->path == NULL || d->path[0] != '/' || !s_is_word(d->format) || d->target == NULL ||
            !s_is_target(d->target)) {
            return zn_fault_set(fault, -EINVAL, "domain xml: disk %zu is not well formed", i);
        }
    }
    for (size_t i = 0; i < dom->nic_count; i++) {
        const zn_domxml_nic_t *n = &dom->nics[i];
        if (n->mac == NULL || !s_is_mac(n->mac)) {
            return zn_fault_set(fault, -EINVAL, "domain xml: nic %zu: bad MAC address", i);
        }
        if (n->bridge == NULL || !s_is_ifname(n->bridge)) {
            return zn_fault_set(fault, -EINVAL, "domain xml: nic %zu: bad bridge name", i);
        }
        if (n->mtu < 0 || n->mtu > 65535) {
            return zn_fault_set(fault, -EINVAL, "domain xml: nic %zu: bad mtu", i);
        }
    }
    return 0;
}

static int
s_check(const zn_domxml_t *dom, zn_fault_t *fault)
{
    if (!s_is_word(dom->type) || !s_is_word(dom->name) || !s_is_word(dom->arch)) {
        return zn_fault_set(fault, -EINVAL, "domain xml: type, name and arch must be words");
    }
    if (dom->machine != NULL && !s_is_word(dom->machine)) {
        return zn_fault_set(fault, -EINVAL, "domain xml: bad machine type");
    }
    if (dom->uuid == NULL || !zn_uuid_is_valid(dom->uuid)) {
        return zn_fault_set(fault, -EINVAL, "domain xml: the instance id is not a UUID");
    }
    if (dom->vcpus < 1 || dom->vcpus > S_VCPUS_MAX) {
        return zn_fault_set(fault, -EINVAL, "domain xml: vcpus %" PRId64 " out of range",
                            dom->vcpus);
    }
    if (dom->memory_mb < 1 || dom->memory_mb > S_MEMORY_MB_MAX) {
        return zn_fault_set(fault, -EINVAL, "domain xml: memory %" PRId64 " MiB out of range",
                            dom->memory_mb);
    }
    if (dom->console_path != NULL && dom->console_path[0] != '/') {
        return zn_fault_set(fault, -EINVAL, "domain xml: the console path must be absolute");
    }
    return s_check_devices(dom, fault);
}

static void
s_add_element(s_buf_t *buf, const char *indent, const char *tag, const char *text)
{
    if (text == NULL) {
        return;
    }
    s_addf(buf, "%s<%s>", indent, tag);
    s_add_escaped(buf, text, false);
    s_addf(buf, "</%s>\n", tag);
}

static void
s_add_head(s_buf_t *buf, const zn_domxml_t *dom)
{
    s_addf(buf, "<domain type='%s'>\n  <name>%s</name>\n  <uuid>%s</uuid>\n", dom->type, dom->name,
           dom->uuid);
    if (dom->title != NULL) {
        s_add(buf, "  <title>");
        s_add_escaped(buf, dom->title, true);
        s_add(buf, "</title>\n");
    }
    s_add(buf, "  <metadata>\n    <zinc:instance xmlns:zinc='" ZN_DOMXML_NS "'>\n");
    s_add_element(buf, "      ", "zinc:name", dom->title);
    s_add_element(buf, "      ", "zinc:flavor", dom->flavor);
    s_add_element(buf, "      ", "zinc:project", dom->project_id);
    s_add(buf, "    </zinc:instance>\n  </metadata>\n");
    s_addf(buf, "  <memory unit='MiB'>%" PRId64 "</memory>\n  <vcpu>%" PRId64 "</vcpu>\n",
           dom->memory_mb, dom->vcpus);
    s_addf(buf, "  <os>\n    <type arch='%s'", dom->arch);
    if (dom->machine != NULL) {
        s_addf(buf, " machine='%s'", dom->machine);
    }
    s_add(buf, ">hvm</type>\n    <boot dev='hd'/>\n  </os>\n");
    s_add(buf, "  <features>\n    <acpi/>\n  </features>\n");
    s_add(buf, "  <on_poweroff>destroy</on_poweroff>\n  <on_reboot>restart</on_reboot>\n"
               "  <on_crash>destroy</on_crash>\n");
}

static void
s_add_disk(s_buf_t *buf, const zn_domxml_disk_t *d)
{
    s_addf(buf, "    <disk type='file' device='disk'>\n      <driver name='qemu' type='%s'/>\n",
           d->format);
    s_add(buf, "      <source file='");
    s_add_escaped(buf, d->path, false);
    s_addf(buf, "'/>\n      <target dev='%s' bus='virtio'/>\n    </disk>\n", d->target);
}

static void
s_add_devices(s_buf_t *buf, const zn_domxml_t *dom)
{
    s_add(buf, "  <devices>\n");
    for (size_t i = 0; i < dom->disk_count; i++) {
        s_add_disk(buf, &dom->disks[i]);
    }
    for (size_t i = 0; i < dom->nic_count; i++) {
        const zn_domxml_nic_t *n = &dom->nics[i];
        s_addf(buf,
               "    <interface type='bridge'>\n      <mac address='%s'/>\n"
               "      <source bridge='%s'/>\n      <model type='virtio'/>\n",
               n->mac, n->bridge);
        if (n->mtu > 0) {
            s_addf(buf, "      <mtu size='%" PRId64 "'/>\n", n->mtu);
        }
        s_add(buf, "    </interface>\n");
    }
    if (dom->console_path != NULL) {
        s_add(buf, "    <serial type='file'>\n      <source path='");
        s_add_escaped(buf, dom->console_path, false);
        s_add(buf, "' append='on'/>\n      <target port='0'/>\n    </serial>\n");
    }
    s_add(buf, "  </devices>\n</domain>\n");
}

int
zn_domxml_render(const zn_domxml_t *dom, char **out, zn_fault_t *fault)
{
    *out = NULL;
    int rc = s_check(dom, fault);
    if (rc < 0) {
        return rc;
    }
    s_buf_t buf = {NULL, 0, 0};
    s_add_head(&buf, dom);
    s_add_devices(&buf, dom);
    *out = buf.ptr;
    return 0;
}

int
zn_domxml_render_disk(const zn_domxml_disk_t *disk, char **out, zn_fault_t *fault)
{
    *out = NULL;
    zn_domxml_t dom = {.disks = disk, .disk_count = 1};
    int rc = s_check_devices(&dom, fault);
    if (rc < 0) {
        return rc;
    }
    s_buf_t buf = {NULL, 0, 0};
    s_add_disk(&buf, disk);
    *out = buf.ptr;
    return 0;
}
