/* SPDX-License-Identifier: Apache-2.0 */
/* zn_api_actions.c - not written yet. */
#include <errno.h>

#include "zn_api_int.h"

int
zn__api_server_action(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    (void)arg;
    (void)req;
    return zn_fault_set(fault, -EOPNOTSUPP, "not implemented yet");
}

int
zn__api_action_list(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    (void)arg;
    (void)req;
    return zn_fault_set(fault, -EOPNOTSUPP, "not implemented yet");
}

int
zn__api_action_show(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    (void)arg;
    (void)req;
    return zn_fault_set(fault, -EOPNOTSUPP, "not implemented yet");
}

int
zn__api_attachment_list(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    (void)arg;
    (void)req;
    return zn_fault_set(fault, -EOPNOTSUPP, "not implemented yet");
}

int
zn__api_attachment_create(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    (void)arg;
    (void)req;
    return zn_fault_set(fault, -EOPNOTSUPP, "not implemented yet");
}

int
zn__api_attachment_show(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    (void)arg;
    (void)req;
    return zn_fault_set(fault, -EOPNOTSUPP, "not implemented yet");
}

int
zn__api_attachment_delete(void *arg, zn_rest_req_t *req, zn_fault_t *fault)
{
    (void)arg;
    (void)req;
    return zn_fault_set(fault, -EOPNOTSUPP, "not implemented yet");
}
