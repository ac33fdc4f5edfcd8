/* SPDX-License-Identifier: Apache-2.0 */
/* zn_volops_attach.c - attach and detach: two conditioned writes each, so that of two
 * instances racing for one volume exactly one wins (the other's write loses the generation
 * race, is decided again from a fresh read, and is refused). */
#include <errno.h>
#include <string.h>

#include "zn_clock.h"
#include "zn_mem.h"
#include "zn_uuid.h"
#include "zn_volops_int.h"

static bool
s_same(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

static int
s_build_attach(zn_volop_t *op, zn_store_read_t *txn, zn_batch_t *batch, zn_fault_t *fault)
{
    int rc = zn__volop_read(op, txn, fault);
    if (rc < 0) {
        return rc;
    }
    zn_vol_status_t status = zn_vol_status(&op->vol);
    if (s_same(op->vol.instance_id, op->instance_id) &&
        (status == ZN_VOL_IN_USE || status == ZN_VOL_ATTACHING)) {
        op->already = status == ZN_VOL_IN_USE;
        return 1; /* a retry: finish (attaching) or answer again (in-use) */
    }
    if (op->vol.instance_id != NULL || status == ZN_VOL_ATTACHING || status == ZN_VOL_IN_USE ||
        status == ZN_VOL_DETACHING) {
        return zn_fault_set(fault, ZN_ECONFLICT,
                            "Invalid volume: volume %s is %s and attached to another instance",
                            op->volume_id, zn_vol_status_name(status));
    }
    if (status != ZN_VOL_AVAILABLE) {
        return zn_fault_set(fault, -EINVAL,
                            "Invalid volume: volume %s status must be available to attach, but "
                            "current status is: %s.",
                            op->volume_id, zn_vol_status_name(status));
    }
    zn_uuid_t attachment = zn_uuid_generate();
    zn_vol_set_str(&op->vol.instance_id, op->instance_id);
    zn_vol_set_str(&op->vol.attach_host, op->host);
    zn_vol_set_str(&op->vol.device, op->device);
    zn_vol_set_str(&op->vol.attachment_id, attachment.str);
    zn_vol_set_status(&op->vol, ZN_VOL_ATTACHING, zn_clock_wall_ms());
    return zn__volop_put(op, batch, fault);
}

static void
s_then_attaching(zn_volop_t *op, const zn_fault_t *fault)
{
    if (fault->code < 0 || op->already) {
        zn__volop_then_answer(op, fault);
        return;
    }
    /* The file driver has nothing to export; a network backend would make its target here
     * and roll back to available on failure. */
    op->expect = ZN_VOL_ATTACHING;
    op->target = ZN_VOL_IN_USE;
    zn__volop_run(op, zn__volop_set_status, zn__volop_then_answer);
}

static int
s_check_id(const char *what, const char *value, size_t max, zn_fault_t *fault)
{
    if (value == NULL || value[0] == '\0' || strlen(value) > max) {
        return zn_fault_set(fault, -EINVAL, "%s: missing or longer than %zu bytes", what, max);
    }
    return 0;
}

int
zn_volops_attach(zn_volops_t *self, const zn_ctx_t *ctx, const zn_volops_who_t *who, const char *id,
                 const char *instance_id, const char *host, const char *device, zn_volops_fn *fn,
                 void *arg, zn_fault_t *fault)
{
    int rc = s_check_id("instance_id", instance_id, 64, fault);
    if (rc == 0) {
        rc = s_check_id("host", host, 255, fault);
    }
    if (rc == 0 && device != NULL) {
        rc = s_check_id("device", device, 64, fault);
    }
    if (rc < 0) {
        return rc;
    }
    zn_volop_t *op = zn__volop_new(self, ctx, who, id, fn, arg);
    op->instance_id = zn_strdup(instance_id);
    op->host = zn_strdup(host);
    op->device = device != NULL ? zn_strdup(device) : NULL;
    zn__volop_start(op, s_build_attach, s_then_attaching);
    return 0;
}

static int
s_build_detach(zn_volop_t *op, zn_store_read_t *txn, zn_batch_t *batch, zn_fault_t *fault)
{
    int rc = zn__volop_read(op, txn, fault);
    if (rc < 0) {
        return rc;
    }
    if (!s_same(op->vol.instance_id, op->instance_id)) {
        op->already = true; /* not attached to this instance (any more): nothing to do */
        return 1;
    }
    zn_vol_status_t status = zn_vol_status(&op->vol);
    if (status == ZN_VOL_DETACHING) {
        return 1;
    }
    if (!zn_vol_can_move(status, ZN_VOL_DETACHING)) {
        return zn_fault_set(fault, -EINVAL, "Invalid volume: volume %s is %s: cannot detach",
                            op->volume_id, zn_vol_status_name(status));
    }
    zn_vol_set_status(&op->vol, ZN_VOL_DETACHING, zn_clock_wall_ms());
    return zn__volop_put(op, batch, fault);
}

static void
s_then_detaching(zn_volop_t *op, const zn_fault_t *fault)
{
    if (fault->code < 0 || op->already) {
        zn__volop_then_answer(op, fault);
        return;
    }
    op->expect = ZN_VOL_DETACHING;
    op->target = ZN_VOL_AVAILABLE;
    zn__volop_run(op, zn__volop_set_status, zn__volop_then_answer);
}

int
zn_volops_detach(zn_volops_t *self, const zn_ctx_t *ctx, const zn_volops_who_t *who, const char *id,
                 const char *instance_id, zn_volops_fn *fn, void *arg, zn_fault_t *fault)
{
    int rc = s_check_id("instance_id", instance_id, 64, fault);
    if (rc < 0) {
        return rc;
    }
    zn_volop_t *op = zn__volop_new(self, ctx, who, id, fn, arg);
    op->instance_id = zn_strdup(instance_id);
    zn__volop_start(op, s_build_detach, s_then_detaching);
    return 0;
}
