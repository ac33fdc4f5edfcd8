/* SPDX-License-Identifier: Apache-2.0 */
/* zn_virt.h - the compute agent's one door to libvirt: open a URI, describe the node, define,
 * start, stop, reboot, destroy and list zinc's domains (named "zinc-<instance id>", UUID = the
 * instance id), and hear lifecycle events. libvirt's codes are translated here and never leave
 * the module. Every call may block: call them from worker threads, never from the agent's loop.
 * A zn_virt_t may be shared by several threads (a libvirt connection is thread-safe). */
#ifndef ZN_VIRT_H
#define ZN_VIRT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zn_err.h"

typedef struct zn_virt zn_virt_t;

/* The prefix of the libvirt names of zinc's domains; other domains are never touched. */
#define ZN_VIRT_NAME_PREFIX "zinc-"
#define ZN_VIRT_UUID_LEN    36

/* What libvirt says about the node, for the resource report. */
typedef struct zn_virt_node {
    int64_t vcpus;
    int64_t ram_mb;
    int64_t hypervisor_version; /* major * 1,000,000 + minor * 1,000 + release */
    char hypervisor_type[32];   /* "QEMU", "TEST" */
    char arch[32];              /* "x86_64" */
} zn_virt_node_t;

/* One of zinc's domains and its power state (zn_cellrec.h's ZN_POWER_*). */
typedef struct zn_virt_dom {
    char uuid[ZN_VIRT_UUID_LEN + 1];
    int power_state;
} zn_virt_dom_t;

/* Open URI ("test:///default", "qemu:///system", "qemu:///embed?root=DIR"). With EVENTS, also
 * run libvirt's event loop on a thread of the module so that lifecycle events reach
 * zn_virt_event_fd. Returns 0, or ZN_EUNAVAIL with FAULT carrying libvirt's words. */
ZN_MUST_CHECK int zn_virt_open(zn_virt_t **out, const char *uri, bool events, zn_fault_t *fault);

/* Close the connection (and stop the event thread). */
void zn_virt_destroy(zn_virt_t **self_p);

/* A file descriptor that becomes readable when a domain of this connection started, stopped,
 * crashed or was undefined (a hint to look again, not the state itself); -1 without events.
 * zn_virt_event_drain empties it. Loop thread. */
int zn_virt_event_fd(const zn_virt_t *self);
void zn_virt_event_drain(zn_virt_t *self);

/* Describe the node into *out [out]. Returns 0 or ZN_EUNAVAIL with FAULT. */
ZN_MUST_CHECK int zn_virt_node_info(zn_virt_t *self, zn_virt_node_t *out, zn_fault_t *fault);

/* Define (or redefine, same UUID) the domain XML. Failpoint "compute.define".
 * Returns 0 or ZN_EINTERNAL with FAULT carrying libvirt's words. */
ZN_MUST_CHECK int zn_virt_define(zn_virt_t *self, const char *xml, zn_fault_t *fault);

/* Start the defined domain UUID; one already running is fine. Failpoint "compute.start".
 * Returns 0, -ENOENT (no such domain) or ZN_EINTERNAL with FAULT. */
ZN_MUST_CHECK int zn_virt_start(zn_virt_t *self, const char *uuid, zn_fault_t *fault);

/* Ask the guest to shut down (ACPI) and wait up to TIMEOUT_MS for it, then pull the plug.
 * A domain already off is fine. Returns 0, -ENOENT or ZN_EINTERNAL with FAULT. */
ZN_MUST_CHECK int zn_virt_stop(zn_virt_t *self, const char *uuid, int64_t timeout_ms,
                               zn_fault_t *fault);

/* Reboot: with HARD, power-cycle at once; else ask the guest to shut down (ACPI), wait up to
 * TIMEOUT_MS for it and boot it again, power-cycling when the guest or the driver does not
 * comply (soft with fallback to hard). A domain that is off is started. Returns 0, -ENOENT or
 * ZN_EINTERNAL with FAULT. */
ZN_MUST_CHECK int zn_virt_reboot(zn_virt_t *self, const char *uuid, bool hard, int64_t timeout_ms,
                                 zn_fault_t *fault);

/* Destroy (power off) and undefine UUID. A domain that does not exist is fine (0): every undo
 * step is idempotent. Returns 0 or ZN_EINTERNAL with FAULT. */
ZN_MUST_CHECK int zn_virt_remove(zn_virt_t *self, const char *uuid, zn_fault_t *fault);

/* Plug (ATTACH) or unplug the device described by XML into domain UUID: into its definition,
 * and into the running guest when it runs. A driver that cannot change devices (the test driver)
 * leaves the domain as it is and counts as success. Failpoint "compute.attach". Returns 0,
 * -ENOENT or ZN_EINTERNAL with FAULT. */
ZN_MUST_CHECK int zn_virt_device(zn_virt_t *self, const char *uuid, const char *xml, bool attach,
                                 zn_fault_t *fault);

/* The power state of UUID into *power [out]. Returns 0, -ENOENT or ZN_EINTERNAL with FAULT. */
ZN_MUST_CHECK int zn_virt_power(zn_virt_t *self, const char *uuid, int *power, zn_fault_t *fault);

/* zinc's domains (name prefix ZN_VIRT_NAME_PREFIX) and their power states: *out is a new array
 * of *count entries (the caller's, zn_free), NULL when there are none. Returns 0 or ZN_EUNAVAIL
 * with FAULT. */
ZN_MUST_CHECK int zn_virt_list(zn_virt_t *self, zn_virt_dom_t **out, size_t *count,
                               zn_fault_t *fault);

/* True when URI is libvirt's in-process test driver. */
bool zn_virt_uri_is_test(const char *uri);

#endif
