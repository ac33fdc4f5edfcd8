/* SPDX-License-Identifier: Apache-2.0 */
/* zn_api_admin.c - not written yet. */
#include <errno.h>

#include "zn_api_int.h"

int
zn__api_service_list(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    (void)arg;
    (void)req;
    return zn_fault_set(fault, -EOPNOTSUPP, "not implemented yet");
}

int
zn__api_service_update(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    (void)arg;
    (void)req;
    return zn_fault_set(fault, -EOPNOTSUPP, "not implemented yet");
}

int
zn__api_hypervisor_list(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    (void)arg;
    (void)req;
    return zn_fault_set(fault, -EOPNOTSUPP, "not implemented yet");
}

int
zn__api_hypervisor_detail(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    (void)arg;
    (void)req;
    return zn_fault_set(fault, -EOPNOTSUPP, "not implemented yet");
}

int
zn__api_hypervisor_show(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    (void)arg;
    (void)req;
    return zn_fault_set(fault, -EOPNOTSUPP, "not implemented yet");
}

int
zn__api_hypervisor_stats(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    (void)arg;
    (void)req;
    return zn_fault_set(fault, -EOPNOTSUPP, "not implemented yet");
}

int
zn__api_zone_list(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    (void)arg;
    (void)req;
    return zn_fault_set(fault, -EOPNOTSUPP, "not implemented yet");
}

int
zn__api_zone_detail(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    (void)arg;
    (void)req;
    return zn_fault_set(fault, -EOPNOTSUPP, "not implemented yet");
}

int
zn__api_limits(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    (void)arg;
    (void)req;
    return zn_fault_set(fault, -EOPNOTSUPP, "not implemented yet");
}

int
zn__api_quota_show(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    (void)arg;
    (void)req;
    return zn_fault_set(fault, -EOPNOTSUPP, "not implemented yet");
}

int
zn__api_quota_defaults(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    (void)arg;
    (void)req;
    return zn_fault_set(fault, -EOPNOTSUPP, "not implemented yet");
}

int
zn__api_quota_detail(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    (void)arg;
    (void)req;
    return zn_fault_set(fault, -EOPNOTSUPP, "not implemented yet");
}

int
zn__api_quota_update(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    (void)arg;
    (void)req;
    return zn_fault_set(fault, -EOPNOTSUPP, "not implemented yet");
}

int
zn__api_quota_delete(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    (void)arg;
    (void)req;
    return zn_fault_set(fault, -EOPNOTSUPP, "not implemented yet");
}
