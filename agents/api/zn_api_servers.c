/* SPDX-License-Identifier: Apache-2.0 */
/* zn_api_servers.c - not written yet. */
#include <errno.h>

#include "zn_api_int.h"

int
zn__api_server_list(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    (void)arg;
    (void)req;
    return zn_fault_set(fault, -EOPNOTSUPP, "not implemented yet");
}

int
zn__api_server_detail(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    (void)arg;
    (void)req;
    return zn_fault_set(fault, -EOPNOTSUPP, "not implemented yet");
}

int
zn__api_server_show(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    (void)arg;
    (void)req;
    return zn_fault_set(fault, -EOPNOTSUPP, "not implemented yet");
}

int
zn__api_server_update(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    (void)arg;
    (void)req;
    return zn_fault_set(fault, -EOPNOTSUPP, "not implemented yet");
}

int
zn__api_server_delete(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    (void)arg;
    (void)req;
    return zn_fault_set(fault, -EOPNOTSUPP, "not implemented yet");
}
