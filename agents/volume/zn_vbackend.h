/* SPDX-License-Identifier: Apache-2.0 */
/* zn_vbackend.h - where volumes live: a small driver interface (create, delete, extend,
 * connection info, and the import of an image's bytes) so that LVM, iSCSI or Ceph RBD can plug
 * in beside the file driver that ships today. docs/volume.md says how to add one.
 *
 * The file driver keeps each volume as a sparse file named after the volume's id in one
 * directory: raw (ftruncate) or qcow2 (qemu-img create). Its connection info is the file's
 * path, which a compute agent on the same node (or a shared filesystem) turns into a libvirt
 * <disk type='file'>.
 *
 * Drivers block (qemu-img runs for tens of milliseconds, an image chunk is megabytes of
 * writes), so an agent runs them on the backend's worker thread with zn_vbackend_submit and
 * hears the result on its loop; the synchronous calls are for tools, tests and start-up.
 * Drivers therefore must not share mutable state with the loop thread. */
#ifndef ZN_VBACKEND_H
#define ZN_VBACKEND_H

#include <stddef.h>
#include <stdint.h>

#include <czmq.h>

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

/* ---- asynchronous use: the worker thread ----------------------------------------------- */

typedef enum {
    ZN_VBACKEND_CREATE,
    ZN_VBACKEND_REMOVE,
    ZN_VBACKEND_EXTEND,
    ZN_VBACKEND_IMPORT_WRITE,
    ZN_VBACKEND_IMPORT_FINISH,
} zn_vbackend_op_t;

/* One job: OP on volume ID with the arguments its synchronous call takes. Strings and DATA
 * are copied by zn_vbackend_submit. */
typedef struct zn_vbackend_job_args {
    zn_vbackend_op_t op;
    const char *id;
    int64_t size_gb;        /* create, extend, import_finish */
    uint64_t offset;        /* import_write */
    const void *data;       /* import_write */
    size_t len;             /* import_write */
    const char *src_format; /* import_finish */
} zn_vbackend_job_args_t;

/* Called on the loop thread when a job ended: FAULT->code 0 or the driver's error. */
typedef void(zn_vbackend_done_fn)(void *arg, const zn_fault_t *fault);

/* Start the worker thread and hear its results on LOOP. Once. Returns 0 or -EINVAL. */
ZN_MUST_CHECK int zn_vbackend_attach(zn_vbackend_t *self, zloop_t *loop);

/* Queue ARGS for the worker (jobs run one at a time, in order); FN(ARG, fault) runs on the
 * loop thread when it is done, never inside this call. Returns 0, or -EINVAL (not attached)
 * and then FN never runs. */
ZN_MUST_CHECK int zn_vbackend_submit(zn_vbackend_t *self, const zn_vbackend_job_args_t *args,
                                     zn_vbackend_done_fn *fn, void *arg);

/* Jobs queued or running whose FN has not run yet. */
size_t zn_vbackend_pending(const zn_vbackend_t *self);

/* Drop the callbacks of every job in flight: they still run to their end, but no FN runs
 * (shutdown: their callers are going away). */
void zn_vbackend_cancel(zn_vbackend_t *self);

/* The file driver (for tests and for a future registry of drivers). */
extern const zn_vbackend_driver_t zn_vbackend_file_driver;

#endif
