/* SPDX-License-Identifier: Apache-2.0 */
/* zn_image_int.h - what zinc-image's files share (agents/image only). */
#ifndef ZN_IMAGE_INT_H
#define ZN_IMAGE_INT_H

#include <czmq.h>

#include "zn_agent.h"
#include "zn_idclient.h"
#include "zn_image.h"
#include "zn_imgdb.h"
#include "zn_imgfile.h"
#include "zn_rest.h"
#include "zn_sclient.h"
#include "zn_server.h"

#define ZN_IMAGE_READ_MAX_BYTES 4194304 /* image_read's largest chunk: 4 MiB */

struct zn_image {
    const zn_image_cfg_t *cfg;
    const zn_secure_t *secure; /* the agent's, borrowed */
    zn_agent_t *agent;
    zn_sclient_t *sclient;
    zn_idclient_t *idclient;
    zn_imgdb_t *db;
    zn_imgfile_t *files;
    zn_rest_t *rest;
    zn_server_t *server;
    zhashx_t *uploads; /* request id -> upload job (zn_image_rest.c) */
    size_t writes;     /* store writes in flight */
    bool closing;      /* zn_image_destroy runs: the store client is gone */
};

/* The REST routes and the stream opener (zn_image_rest.c), and the RPC methods
 * (zn_image_rpc.c). */
extern const zn_rest_route_t zn__image_routes[];
int zn__image_open_stream(void *arg, zn_rest_req_t *req, zn_fault_t *fault);
extern const zn_method_t zn__image_methods[];

/* Free every upload still in flight (shutdown). */
void zn__image_uploads_clear(zn_image_t *self);

#endif
