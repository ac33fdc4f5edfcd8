/* SPDX-License-Identifier: Apache-2.0 */
/* zn_domxml.h - a libvirt domain described as typed data and rendered as XML, with every string
 * escaped and every identifier (UUID, MAC, bridge name) checked, so that nothing a user typed
 * (an instance name, a flavor name) can change the structure of the document. */
#ifndef ZN_DOMXML_H
#define ZN_DOMXML_H

#include <stddef.h>
#include <stdint.h>

#include "zn_err.h"

/* One virtio disk: the instance's root disk or an attached volume. */
typedef struct zn_domxml_disk {
    const char *path;   /* a file on this host */
    const char *format; /* "qcow2" or "raw" */
    const char *target; /* "vda", "vdb", ... */
} zn_domxml_disk_t;

/* One virtio NIC on a Linux bridge, as the network agent's port describes it. */
typedef struct zn_domxml_nic {
    const char *mac;    /* "fa:16:3e:xx:xx:xx" */
    const char *bridge; /* the bridge to plug into */
    int64_t mtu;        /* 0: the bridge's */
} zn_domxml_nic_t;

typedef struct zn_domxml {
    const char *type;         /* libvirt domain type: "kvm", "qemu" or "test" */
    const char *name;         /* libvirt's domain name (zinc's, never the user's) */
    const char *uuid;         /* the instance id */
    const char *title;        /* the user's instance name, shown by virsh; may be NULL */
    const char *flavor;       /* the flavor's name, kept in zinc's metadata; may be NULL */
    const char *project_id;   /* kept in zinc's metadata; may be NULL */
    const char *arch;         /* "x86_64" */
    const char *machine;      /* "pc", "q35"; NULL: libvirt's default */
    const char *console_path; /* the serial console's log file; NULL: no serial console */
    int64_t vcpus;
    int64_t memory_mb;
    const zn_domxml_disk_t *disks;
    size_t disk_count;
    const zn_domxml_nic_t *nics;
    size_t nic_count;
} zn_domxml_t;

/* The XML namespace of zinc's <metadata> element in every domain it defines. */
#define ZN_DOMXML_NS "https://zinc.dev/xmlns/compute/1"

/* Render DOM as libvirt domain XML into *out (the caller's, zn_str_free). Returns 0, or -EINVAL
 * with FAULT naming the bad field (missing name/uuid/type, a UUID, MAC or bridge name that is
 * not well formed, vcpus or memory out of range, a disk target that is not vdX). */
ZN_MUST_CHECK int zn_domxml_render(const zn_domxml_t *dom, char **out, zn_fault_t *fault);

/* Render one disk as a <disk> element (for hot-plugging a volume) into *out (zn_str_free).
 * Returns 0 or -EINVAL with FAULT as zn_domxml_render. */
ZN_MUST_CHECK int zn_domxml_render_disk(const zn_domxml_disk_t *disk, char **out,
                                        zn_fault_t *fault);

/* TEXT escaped for XML text and attribute values: &<>'" become entities, and control characters
 * other than tab and newline (which XML 1.0 cannot carry) become '?'. The caller's (zn_str_free).
 */
char *zn_domxml_escape(const char *text);

#endif
