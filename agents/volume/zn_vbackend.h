/* SPDX-License-Identifier: Apache-2.0 */
/* zn_vbackend.h - where volumes live: a small driver interface (create, delete, extend,
 * connection info, and the import of an image's bytes) so that LVM, iSCSI or Ceph RBD can plug
 * in beside the file driver that ships today. docs/volume.md says how to add one.
 *
 * The file driver keeps each volume as a sparse file named after the volume's id in one
 * directory: raw (ftruncate) or qcow2 (qemu-img create). Its connection info is the file's
 * path, which a compute agent on the same node (or a shared filesystem) turns into a libvirt
 * <disk type='file'>. qcow2 and image conversion run qemu-img and so block for tens of
 * milliseconds; raw volumes never block beyond a few system calls. Loop thread. */
#ifndef ZN_VBACKEND_H
#define ZN_VBACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "zn_err.h"

#define ZN_VBACKEND_PATH_MAX 1024
#define ZN_VBACKEND_GB       ((int64_t)1 << 30)

/* How a hypervisor reaches a volume: what volume_attach answers (docs/flow.md). */
typedef struct zn_vbackend_conn {
    char driver[16]; /* "file" (later "iscsi", "rbd") */
    char path[ZN_VBACKEND_PATH_MAX];
    char format[16]; /* "raw" or "qcow2" */
} zn_vbackend_conn_t;

typedef struct zn_vbackend_opts {
    const char *driver;   /* "file" */
    const char *dir;      /* the file driver's directory, created when missing */
    const char *format;   /* "raw" or "qcow2" */
    const char *qemu_img; /* the qemu-img program, for qcow2 and image conversion */
} zn_vbackend_opts_t;

/* A driver: how a new backend plugs in. Every function returns 0 or a negative errno with
 * FAULT; ID is a volume id (a UUID, checked before any call). STATE is what open made. */
typedef struct zn_vbackend_driver {
    const char *name;
    int (*open)(void **state, const zn_vbackend_opts_t *opts, zn_fault_t *fault);
    void (*close)(void *state);
    /* Make an empty volume of SIZE_GB; -EEXIST when one exists. */
    int (*create)(void *state, const char *id, int64_t size_gb, zn_fault_t *fault);
    /* Remove the volume and any partial import; a missing volume is not an error. */
    int (*remove)(void *state, const char *id, zn_fault_t *fault);
    /* Grow the volume to SIZE_GB (never shrinks). */
    int (*extend)(void *state, const char *id, int64_t size_gb, zn_fault_t *fault);
    /* Fill OUT with how a hypervisor reaches the volume. */
    int (*connection)(void *state, const char *id, zn_vbackend_conn_t *out, zn_fault_t *fault);
    /* Image import: LEN bytes of the image at OFFSET into a staging area... */
    int (*import_write)(void *state, const char *id, uint64_t offset, const void *data, size_t len,
                        zn_fault_t *fault);
    /* ...then turn the staged image of format SRC_FORMAT into the volume of SIZE_GB. */
    int (*import_finish)(void *state, const char *id, const char *src_format, int64_t size_gb,
                         zn_fault_t *fault);
} zn_vbackend_driver_t;

typedef struct zn_vbackend zn_vbackend_t;

/* Open the driver OPTS->driver names. Returns 0, or -EINVAL (unknown driver or format) or the
 * driver's open error, with FAULT. */
ZN_MUST_CHECK int zn_vbackend_open(zn_vbackend_t **out, const zn_vbackend_opts_t *opts,
                                   zn_fault_t *fault);

void zn_vbackend_destroy(zn_vbackend_t **self_p);

/* The driver's name ("file") and the format new volumes get ("raw"). Borrowed. */
const char *zn_vbackend_name(const zn_vbackend_t *self);
const char *zn_vbackend_format(const zn_vbackend_t *self);

/* The driver's operations, with ID checked to be a UUID first (-EINVAL otherwise), SIZE_GB
 * checked positive, and failpoints "volume.backend_create", "volume.backend_remove",
 * "volume.backend_extend", "volume.backend_import" in test builds. */
ZN_MUST_CHECK int zn_vbackend_create(zn_vbackend_t *self, const char *id, int64_t size_gb,
                                     zn_fault_t *fault);
ZN_MUST_CHECK int zn_vbackend_remove(zn_vbackend_t *self, const char *id, zn_fault_t *fault);
ZN_MUST_CHECK int zn_vbackend_extend(zn_vbackend_t *self, const char *id, int64_t size_gb,
                                     zn_fault_t *fault);
ZN_MUST_CHECK int zn_vbackend_connection(zn_vbackend_t *self, const char *id,
                                         zn_vbackend_conn_t *out, zn_fault_t *fault);
ZN_MUST_CHECK int zn_vbackend_import_write(zn_vbackend_t *self, const char *id, uint64_t offset,
                                           const void *data, size_t len, zn_fault_t *fault);
ZN_MUST_CHECK int zn_vbackend_import_finish(zn_vbackend_t *self, const char *id,
                                            const char *src_format, int64_t size_gb,
                                            zn_fault_t *fault);

/* The file driver (for tests and for a future registry of drivers). */
extern const zn_vbackend_driver_t zn_vbackend_file_driver;

#endif
