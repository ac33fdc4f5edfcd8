/* SPDX-License-Identifier: Apache-2.0 */
/* zn_virt.c - libvirt for the compute agent. */
#include "zn_virt.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "zn_cellrec.h"
#include "zn_clock.h"
#include "zn_failpoint.h"
#include "zn_log.h"
#include "zn_mem.h"

#define S_STOP_POLL_MS 20

struct zn_virt {
    virConnectPtr conn;
    int event_fd;    /* eventfd, -1 without events */
    int callback_id; /* lifecycle callback, -1 without events */
};

/* libvirt prints every error on stderr unless told otherwise; zinc reports them itself, once,
 * where they are handled. */
static void
s_quiet(void *arg, virErrorPtr err)
{
    (void)arg;
    (void)err;
}

/* libvirt's event loop is process-wide: registered once and run by one thread for the life of
 * the process (libvirt offers no way to unregister it). */
static pthread_once_t s_events_once = PTHREAD_ONCE_INIT;

static void *
s_event_thread(void *arg)
{
    (void)arg;
    for (;;) {
        if (virEventRunDefaultImpl() < 0) {
            zn_log_warn(NULL, "libvirt event loop: %s", virGetLastErrorMessage());
        }
    }
    return NULL;
}

static void
s_events_start(void)
{
    virSetErrorFunc(NULL, s_quiet);
    if (virEventRegisterDefaultImpl() < 0) {
        zn_log_warn(NULL, "libvirt events unavailable: %s", virGetLastErrorMessage());
        return;
    }
    pthread_t thread;
    if (pthread_create(&thread, NULL, s_event_thread, NULL) != 0 || pthread_detach(thread) != 0) {
        zn_log_warn(NULL, "cannot start the libvirt event thread");
    }
}

static int
s_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *arg)
{
    (void)conn;
    (void)event;
    (void)detail;
    zn_virt_t *self = arg;
    const char *name = virDomainGetName(dom);
    if (name != NULL && strncmp(name, ZN_VIRT_NAME_PREFIX, strlen(ZN_VIRT_NAME_PREFIX)) == 0) {
        uint64_t one = 1;
        (void)!write(self->event_fd, &one, sizeof(one)); /* a full counter still wakes the loop */
    }
    return 0;
}

static int
s_fail(zn_fault_t *fault, int code, const char *what)
{
    return zn_fault_set(fault, code, "libvirt %s: %s", what, virGetLastErrorMessage());
}

static void
s_register_events(zn_virt_t *self)
{
    self->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (self->event_fd < 0) {
        return;
    }
    self->callback_id =
        virConnectDomainEventRegisterAny(self->conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                         VIR_DOMAIN_EVENT_CALLBACK(s_lifecycle), self, NULL);
    if (self->callback_id < 0) {
        zn_log_notice(NULL, "libvirt lifecycle events unavailable: %s", virGetLastErrorMessage());
        close(self->event_fd);
        self->event_fd = -1;
    }
}

int
zn_virt_open(zn_virt_t **out, const char *uri, bool events, zn_fault_t *fault)
{
    *out = NULL;
    /* The event implementation must exist before the first connection opens. */
    if (events) {
        (void)pthread_once(&s_events_once, s_events_start);
    }
    virSetErrorFunc(NULL, s_quiet);
    zn_virt_t *self = zn_calloc(1, sizeof(*self));
    self->event_fd = -1;
    self->callback_id = -1;
    self->conn = virConnectOpen(uri);
    if (self->conn == NULL) {
        int rc = zn_fault_set(fault, ZN_EUNAVAIL, "cannot open libvirt %s: %s", uri,
                              virGetLastErrorMessage());
        zn_free(self);
        return rc;
    }
    if (events) {
        s_register_events(self);
    }
    *out = self;
    return 0;
}

void
zn_virt_destroy(zn_virt_t **self_p)
{
    zn_virt_t *self = *self_p;
    if (self == NULL) {
        return;
    }
    if (self->callback_id >= 0) {
        (void)virConnectDomainEventDeregisterAny(self->conn, self->callback_id);
    }
    (void)virConnectClose(self->conn);
    if (self->event_fd >= 0) {
        close(self->event_fd);
    }
    zn_free(self);
    *self_p = NULL;
}

int
zn_virt_event_fd(const zn_virt_t *self)
{
    return self->event_fd;
}

void
zn_virt_event_drain(zn_virt_t *self)
{
    uint64_t count = 0;
    if (self->event_fd >= 0) {
        (void)!read(self->event_fd, &count, sizeof(count));
    }
}

int
zn_virt_node_info(zn_virt_t *self, zn_virt_node_t *out, zn_fault_t *fault)
{
    memset(out, 0, sizeof(*out));
    virNodeInfo info;
    if (virNodeGetInfo(self->conn, &info) < 0) {
        return s_fail(fault, ZN_EUNAVAIL, "node info");
    }
    out->vcpus = info.cpus;
    out->ram_mb = (int64_t)(info.memory / 1024);
    (void)snprintf(out->arch, sizeof(out->arch), "%s", info.model);
    const char *type = virConnectGetType(self->conn);
    (void)snprintf(out->hypervisor_type, sizeof(out->hypervisor_type), "%s",
                   type != NULL ? type : "unknown");
    unsigned long version = 0;
    if (virConnectGetVersion(self->conn, &version) == 0) {
        out->hypervisor_version = (int64_t)version;
    }
    return 0;
}

int
zn_virt_define(zn_virt_t *self, const char *xml, zn_fault_t *fault)
{
    int rc = ZN_FAILPOINT("compute.define");
    if (rc < 0) {
        return zn_fault_set(fault, ZN_EINTERNAL, "libvirt define: injected %s", zn_errname(rc));
    }
    virDomainPtr dom = virDomainDefineXML(self->conn, xml);
    if (dom == NULL) {
        return s_fail(fault, ZN_EINTERNAL, "define");
    }
    (void)virDomainFree(dom);
    return 0;
}

/* Look UUID up: NULL with -ENOENT in *rc when there is no such domain. */
static virDomainPtr
s_lookup(zn_virt_t *self, const char *uuid, int *rc, zn_fault_t *fault)
{
    virDomainPtr dom = virDomainLookupByUUIDString(self->conn, uuid);
    if (dom != NULL) {
        *rc = 0;
        return dom;
    }
    virErrorPtr err = virGetLastError();
    if (err != NULL && err->code == VIR_ERR_NO_DOMAIN) {
        *rc = zn_fault_set(fault, -ENOENT, "no domain %s", uuid);
    } else {
        *rc = s_fail(fault, ZN_EINTERNAL, "lookup");
    }
    return NULL;
}

int
zn_virt_start(zn_virt_t *self, const char *uuid, zn_fault_t *fault)
{
    int rc = ZN_FAILPOINT("compute.start");
    if (rc < 0) {
        return zn_fault_set(fault, ZN_EINTERNAL, "libvirt start: injected %s", zn_errname(rc));
    }
    virDomainPtr dom = s_lookup(self, uuid, &rc, fault);
    if (dom == NULL) {
        return rc;
    }
    if (virDomainIsActive(dom) != 1 && virDomainCreate(dom) < 0) {
        rc = s_fail(fault, ZN_EINTERNAL, "start");
    }
    (void)virDomainFree(dom);
    return rc;
}

static int
s_power_of(virDomainPtr dom, int *power)
{
    int state = VIR_DOMAIN_NOSTATE;
    int reason = 0;
    if (virDomainGetState(dom, &state, &reason, 0) < 0) {
        return -1;
    }
    switch (state) {
    case VIR_DOMAIN_RUNNING:
    case VIR_DOMAIN_BLOCKED:
    case VIR_DOMAIN_SHUTDOWN: /* still running while the guest shuts down */
        *power = ZN_POWER_RUNNING;
        break;
    case VIR_DOMAIN_PAUSED:
        *power = ZN_POWER_PAUSED;
        break;
    case VIR_DOMAIN_SHUTOFF:
        *power = ZN_POWER_SHUTDOWN;
        break;
    case VIR_DOMAIN_CRASHED:
        *power = ZN_POWER_CRASHED;
        break;
    case VIR_DOMAIN_PMSUSPENDED:
        *power = ZN_POWER_SUSPENDED;
        break;
    default:
        *power = ZN_POWER_NOSTATE;
    }
    return 0;
}

/* Wait up to TIMEOUT_MS for DOM to be off. */
static bool
s_wait_off(virDomainPtr dom, int64_t timeout_ms)
{
    int64_t deadline = zn_clock_mono_ms() + timeout_ms;
    for (;;) {
        if (virDomainIsActive(dom) == 0) {
            return true;
        }
        if (zn_clock_mono_ms() >= deadline) {
            return false;
        }
        usleep(S_STOP_POLL_MS * 1000);
    }
}

int
zn_virt_stop(zn_virt_t *self, const char *uuid, int64_t timeout_ms, zn_fault_t *fault)
{
    int rc = 0;
    virDomainPtr dom = s_lookup(self, uuid, &rc, fault);
    if (dom == NULL) {
        return rc;
    }
    if (virDomainIsActive(dom) == 1) {
        /* A guest that ignores ACPI, or a driver that cannot ask, gets its plug pulled. */
        bool asked = timeout_ms > 0 && virDomainShutdown(dom) == 0;
        if ((!asked || !s_wait_off(dom, timeout_ms)) && virDomainDestroy(dom) < 0 &&
            virDomainIsActive(dom) == 1) {
            rc = s_fail(fault, ZN_EINTERNAL, "destroy");
        }
    }
    (void)virDomainFree(dom);
    return rc;
}

/* Power-cycle DOM: off at once, then on. */
static int
s_power_cycle(virDomainPtr dom, zn_fault_t *fault)
{
    if ((virDomainDestroy(dom) < 0 && virDomainIsActive(dom) == 1) || virDomainCreate(dom) < 0) {
        return s_fail(fault, ZN_EINTERNAL, "hard reboot");
    }
    return 0;
}

int
zn_virt_reboot(zn_virt_t *self, const char *uuid, bool hard, int64_t timeout_ms, zn_fault_t *fault)
{
    int rc = 0;
    virDomainPtr dom = s_lookup(self, uuid, &rc, fault);
    if (dom == NULL) {
        return rc;
    }
    if (virDomainIsActive(dom) != 1) {
        if (virDomainCreate(dom) < 0) {
            rc = s_fail(fault, ZN_EINTERNAL, "start");
        }
    } else if (hard) {
        rc = s_power_cycle(dom, fault);
    } else if (virDomainShutdown(dom) == 0 && s_wait_off(dom, timeout_ms)) {
        /* As Nova does: the guest shut itself down cleanly; now boot it again. */
        if (virDomainCreate(dom) < 0) {
            rc = s_fail(fault, ZN_EINTERNAL, "start after a soft reboot");
        }
    } else {
        zn_log_notice(NULL,
                      "domain %s: the guest did not shut down within %" PRId64 " ms: power-cycling",
                      uuid, timeout_ms);
        rc = s_power_cycle(dom, fault);
    }
    (void)virDomainFree(dom);
    return rc;
}

int
zn_virt_remove(zn_virt_t *self, const char *uuid, zn_fault_t *fault)
{
    int rc = 0;
    virDomainPtr dom = s_lookup(self, uuid, &rc, fault);
    if (dom == NULL) {
        if (rc == -ENOENT) {
            zn_fault_clear(fault);
            return 0;
        }
        return rc;
    }
    if (virDomainIsActive(dom) == 1 && virDomainDestroy(dom) < 0 && virDomainIsActive(dom) == 1) {
        rc = s_fail(fault, ZN_EINTERNAL, "destroy");
    }
    if (rc == 0 && virDomainUndefine(dom) < 0) {
        virErrorPtr err = virGetLastError();
        if (err == NULL || err->code != VIR_ERR_NO_DOMAIN) {
            rc = s_fail(fault, ZN_EINTERNAL, "undefine");
        }
    }
    (void)virDomainFree(dom);
    return rc;
}

int
zn_virt_device(zn_virt_t *self, const char *uuid, const char *xml, bool attach, zn_fault_t *fault)
{
    int rc = ZN_FAILPOINT("compute.attach");
    if (rc < 0) {
        return zn_fault_set(fault, ZN_EINTERNAL, "libvirt attach: injected %s", zn_errname(rc));
    }
    virDomainPtr dom = s_lookup(self, uuid, &rc, fault);
    if (dom == NULL) {
        return rc;
    }
    unsigned flags = VIR_DOMAIN_AFFECT_CONFIG;
    if (virDomainIsActive(dom) == 1) {
        flags |= VIR_DOMAIN_AFFECT_LIVE;
    }
    int done = attach ? virDomainAttachDeviceFlags(dom, xml, flags)
                      : virDomainDetachDeviceFlags(dom, xml, flags);
    if (done < 0) {
        virErrorPtr err = virGetLastError();
        bool unsupported = err != NULL && err->code == VIR_ERR_NO_SUPPORT;
        if (!unsupported) {
            rc = s_fail(fault, ZN_EINTERNAL, attach ? "attach device" : "detach device");
        }
    }
    (void)virDomainFree(dom);
    return rc;
}

int
zn_virt_power(zn_virt_t *self, const char *uuid, int *power, zn_fault_t *fault)
{
    int rc = 0;
    virDomainPtr dom = s_lookup(self, uuid, &rc, fault);
    if (dom == NULL) {
        return rc;
    }
    if (s_power_of(dom, power) < 0) {
        rc = s_fail(fault, ZN_EINTERNAL, "state");
    }
    (void)virDomainFree(dom);
    return rc;
}

/* Append zinc's domains among those libvirt lists with FLAGS to *list (grown as needed): with
 * POWER >= 0 that is their state, else each one is asked. Returns the count or -1. */
static int
s_list_some(virConnectPtr conn, unsigned flags, int power, zn_virt_dom_t **list, size_t *used)
{
    virDomainPtr *doms = NULL;
    int n = virConnectListAllDomains(conn, &doms, flags);
    if (n < 0) {
        return -1;
    }
    *list = zn_realloc(*list, (*used + (size_t)n + 1) * sizeof(**list));
    for (int i = 0; i < n; i++) {
        const char *name = virDomainGetName(doms[i]);
        zn_virt_dom_t *d = &(*list)[*used];
        d->power_state = power;
        if (name != NULL && strncmp(name, ZN_VIRT_NAME_PREFIX, strlen(ZN_VIRT_NAME_PREFIX)) == 0 &&
            virDomainGetUUIDString(doms[i], d->uuid) == 0 &&
            (power >= 0 || s_power_of(doms[i], &d->power_state) == 0)) {
            (*used)++;
        }
        (void)virDomainFree(doms[i]);
    }
    free(doms); /* libvirt's allocation */
    return n;
}

int
zn_virt_list(zn_virt_t *self, zn_virt_dom_t **out, size_t *count, zn_fault_t *fault)
{
    *out = NULL;
    *count = 0;

    /* One listing per state rather than one state query per domain: with thousands of domains
     * the per-domain calls would hold the driver's locks against the builds. */
    static const struct {
        unsigned flags;
        int power;
    } groups[] = {
        {VIR_CONNECT_LIST_DOMAINS_RUNNING, ZN_POWER_RUNNING},
        {VIR_CONNECT_LIST_DOMAINS_PAUSED, ZN_POWER_PAUSED},
        {VIR_CONNECT_LIST_DOMAINS_SHUTOFF, ZN_POWER_SHUTDOWN},
        {VIR_CONNECT_LIST_DOMAINS_OTHER, -1},
    };

    zn_virt_dom_t *list = NULL;
    size_t used = 0;
    for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
        if (s_list_some(self->conn, groups[g].flags, groups[g].power, &list, &used) < 0) {
            zn_free(list);
            return s_fail(fault, ZN_EUNAVAIL, "list domains");
        }
    }
    if (used == 0) {
        zn_free(list);
        list = NULL;
    }
    *out = list;
    *count = used;
    return 0;
}

bool
zn_virt_uri_is_test(const char *uri)
{
    return strncmp(uri, "test:", 5) == 0;
}
