/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_network_body - zinc-network's untrusted inputs: Neutron request bodies (JSON) through
 * every create and update parser, as an admin and as a member, with the records they produce
 * rendered back and round-tripped through their store schema; the same bytes as the
 * MessagePack bodies of network_get, port_bind and port_release. */
#include <stdint.h>
#include <string.h>

#include "zn_ipam.h"
#include "zn_json.h"
#include "zn_mem.h"
#include "zn_mp.h"
#include "zn_netbody.h"
#include "zn_netrec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Encode OBJ with SCHEMA, decode it back, and release both: the record must survive. */
static void
s_round_trip(const zn_schema_t *schema, const void *obj)
{
    zn_pack_t *pack = zn_pack_new();
    zn_schema_encode(schema, obj, pack);
    void *copy = zn_calloc(1, schema->size);
    int rc = zn_schema_decode(schema, zn_pack_buf(pack), copy, NULL, NULL);
    ZN_ASSERT(rc == 0);
    zn_schema_release(schema, copy);
    zn_free(copy);
    zn_pack_destroy(&pack);
}

static void
s_render(const zn_schema_t *schema, const void *obj)
{
    json_t *view = NULL;
    if (schema == &zn_net_network_schema) {
        view = zn_netrec_network_json(obj, NULL, 0);
    } else if (schema == &zn_net_subnet_schema) {
        view = zn_netrec_subnet_json(obj);
    } else {
        view = zn_netrec_port_json(obj);
    }
    ZN_ASSERT(view != NULL);
    char *text = zn_json_dump_steal(view);
    zn_str_free(&text);
    s_round_trip(schema, obj);
}

static void
s_bodies(const json_t *root, const zn_netbody_ctx_t *ctx)
{
    zn_net_network_t net;
    zn_net_subnet_t subnet;
    zn_net_port_t port;
    zn_netbody_ips_t ips;
    zn_fault_t fault;

    memset(&net, 0, sizeof(net));
    if (zn_netbody_network_create(root, ctx, &net, &fault) == 0) {
        s_render(&zn_net_network_schema, &net);
        if (zn_netbody_network_update(root, ctx, &net, &fault) == 0) {
            s_render(&zn_net_network_schema, &net);
        }
    }
    zn_schema_release(&zn_net_network_schema, &net);

    memset(&subnet, 0, sizeof(subnet));
    if (zn_netbody_subnet_create(root, ctx, &subnet, &fault) == 0) {
        s_render(&zn_net_subnet_schema, &subnet);
        zn_cidr_t cidr;
        ZN_ASSERT(zn_cidr_parse(subnet.cidr, &cidr, NULL) == 0);
        if (zn_netbody_subnet_update(root, ctx, &subnet, &fault) == 0) {
            s_render(&zn_net_subnet_schema, &subnet);
        }
    }
    zn_schema_release(&zn_net_subnet_schema, &subnet);

    memset(&port, 0, sizeof(port));
    if (zn_netbody_port_create(root, ctx, &port, &ips, &fault) == 0) {
        ZN_ASSERT(ips.count <= ZN_NET_IPS_MAX);
        s_render(&zn_net_port_schema, &port);
        if (zn_netbody_port_update(root, ctx, &port, &fault) == 0) {
            s_render(&zn_net_port_schema, &port);
        }
    }
    zn_schema_release(&zn_net_port_schema, &port);
}

static void
s_rpc_bodies(const uint8_t *data, size_t size)
{
    const zn_schema_t *schemas[] = {&zn_net_get_req_schema,     &zn_net_bind_req_schema,
                                    &zn_net_release_req_schema, &zn_net_bind_reply_schema,
                                    &zn_net_get_reply_schema,   &zn_net_port_schema};
    zn_buf_t bytes = {data, size};
    for (size_t i = 0; i < sizeof(schemas) / sizeof(schemas[0]); i++) {
        void *obj = zn_calloc(1, schemas[i]->size);
        if (zn_schema_decode(schemas[i], bytes, obj, NULL, NULL) == 0) {
            s_round_trip(schemas[i], obj);
        }
        zn_schema_release(schemas[i], obj);
        zn_free(obj);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    s_rpc_bodies(data, size);
    json_t *root = NULL;
    if (zn_json_parse((const char *)data, size, &root, NULL) < 0) {
        return 0;
    }
    zn_netbody_ctx_t member = {.project_id = "p1",
                               .default_bridge = "br-zinc",
                               .mappings = "physnet1:br-ex,physnet2:br-vlan",
                               .default_mtu = 1500};
    zn_netbody_ctx_t admin = member;
    admin.is_admin = true;
    s_bodies(root, &member);
    s_bodies(root, &admin);
    json_decref(root);
    return 0;
}
