/* SPDX-License-Identifier: Apache-2.0 */
/* test_compute_peers.c - zinc-compute with the real image, network and volume agents (and
 * identity and a conductor), all in-process, libvirt's test driver: a build that downloads
 * the image into the cache, binds a port and attaches a volume with the user's token; its
 * delete giving everything back; and the user's failures (image missing, no IP left, volume
 * attach refused) ending in ERROR, not rescheduled, with nothing left behind. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <libvirt/libvirt.h>

#include "comp_fixture.h"
#include "img_fixture.h"
#include "net_fixture.h"
#include "vol_fixture.h"
#include "zn_mem.h"
#include "zn_schema.h"

#define S_WAIT_MS 15000
#define S_BODY    262144

typedef struct {
    vol_fixture_t *vol;
    net_fixture_t *net;
    comp_fixture_t *comp;
    virConnectPtr conn;
    char token[2048];
    char project[64];
    char image_id[64];
    char *body;
} s_env_t;

static void
s_upload_image(s_env_t *env)
{
    json_t *json = NULL;
    uint16_t port = vol_fixture_image_port(env->vol);
    assert_int_equal(vol_fixture_http(port, "POST", "/v2/images", vol_fixture_admin_token(env->vol),
                                      "{\"name\": \"cirros\", \"disk_format\": \"raw\", "
                                      "\"container_format\": \"bare\", \"visibility\": \"public\"}",
                                      &json, NULL, 0),
                     201);
    (void)snprintf(env->image_id, sizeof(env->image_id), "%s",
                   json_string_value(json_object_get(json, "id")));
    json_decref(json);
    char *path = zn_asprintf("/v2/images/%s/file", env->image_id);
    const char data[] = "not really a disk, but its checksums are checked all the same";
    assert_int_equal(
        vol_fixture_upload(port, path, vol_fixture_admin_token(env->vol), data, strlen(data)), 204);
    zn_str_free(&path);
}

static int
s_setup(void **state)
{
    s_env_t *env = zn_calloc(1, sizeof(*env));
    env->body = zn_malloc(S_BODY);
    env->vol = vol_fixture_start_image(NULL);
    vol_fixture_user(env->vol, "demo", "alice", env->token, sizeof(env->token), env->project);
    env->net =
        net_fixture_start(vol_fixture_conductor_call(env->vol), vol_fixture_store_dir(env->vol),
                          vol_fixture_identity_call(env->vol), NULL);
    s_upload_image(env);
    char *image = zn_asprintf("peers.image_call=%s", img_fixture_call(vol_fixture_extra(env->vol)));
    char *network = zn_asprintf("peers.network_call=%s", net_fixture_call(env->net));
    char *volume = zn_asprintf("peers.volume_call=%s", vol_fixture_call(env->vol));
    const char *settings[] = {image, network, volume, NULL};
    /* No cast endpoint of that conductor is known here: this test needs none (no heartbeats
     * reach it, and nothing is rescheduled). */
    env->comp = comp_fixture_start_on("node-p", settings, vol_fixture_conductor_call(env->vol),
                                      "tcp://127.0.0.1:9", vol_fixture_store_dir(env->vol));
    zn_str_free(&image);
    zn_str_free(&network);
    zn_str_free(&volume);
    env->conn = virConnectOpen("test:///default");
    assert_non_null(env->conn);
    *state = env;
    return 0;
}

static int
s_teardown(void **state)
{
    s_env_t *env = *state;
    virConnectClose(env->conn);
    comp_fixture_stop(&env->comp);
    net_fixture_stop(&env->net);
    vol_fixture_stop(&env->vol);
    zn_free(env->body);
    zn_free(env);
    return 0;
}

/* POST BODY to the network agent as the user; the new record's id into ID (64 bytes). */
static void
s_net_create(s_env_t *env, const char *path, const char *kind, const char *body, char *id)
{
    int status = net_fixture_http(env->net, "POST", path, env->token, body, env->body, S_BODY);
    if (status != 201) {
        (void)fprintf(stderr, "POST %s: %d %s\n", path, status, env->body);
    }
    assert_int_equal(status, 201);
    json_t *root = json_loads(env->body, 0, NULL);
    (void)snprintf(id, 64, "%s",
                   json_string_value(json_object_get(json_object_get(root, kind), "id")));
    json_decref(root);
}

static void
s_network(s_env_t *env, const char *cidr, char *net_id)
{
    s_net_create(env, "/v2.0/networks", "network", "{\"network\": {\"name\": \"n\"}}", net_id);
    char *body = zn_asprintf("{\"subnet\": {\"network_id\": \"%s\", \"cidr\": \"%s\", "
                             "\"ip_version\": 4}}",
                             net_id, cidr);
    char subnet_id[64];
    s_net_create(env, "/v2.0/subnets", "subnet", body, subnet_id);
    zn_str_free(&body);
}

static size_t
s_ports_of(s_env_t *env, const char *device_id)
{
    char *path = zn_asprintf("/v2.0/ports?device_id=%s", device_id);
    assert_int_equal(net_fixture_http(env->net, "GET", path, env->token, NULL, env->body, S_BODY),
                     200);
    zn_str_free(&path);
    json_t *root = json_loads(env->body, 0, NULL);
    size_t count = json_array_size(json_object_get(root, "ports"));
    json_decref(root);
    return count;
}

static char *
s_volume_status(s_env_t *env, const char *id)
{
    char *path = zn_asprintf("/v3/%s/volumes/%s", env->project, id);
    json_t *json = NULL;
    int code =
        vol_fixture_http(vol_fixture_port(env->vol), "GET", path, env->token, NULL, &json, NULL, 0);
    zn_str_free(&path);
    const char *status =
        json_string_value(json_object_get(json_object_get(json, "volume"), "status"));
    char *out = zn_strdup(code == 200 && status != NULL ? status : "none");
    json_decref(json);
    return out;
}

static bool
s_volume_is(s_env_t *env, const char *id, const char *want)
{
    for (int i = 0; i < 1500; i++) {
        char *status = s_volume_status(env, id);
        bool same = strcmp(status, want) == 0;
        zn_str_free(&status);
        if (same) {
            return true;
        }
        usleep(10000);
    }
    return false;
}

static void
s_volume(s_env_t *env, char *id)
{
    char *path = zn_asprintf("/v3/%s/volumes", env->project);
    json_t *json = NULL;
    assert_int_equal(vol_fixture_http(vol_fixture_port(env->vol), "POST", path, env->token,
                                      "{\"volume\": {\"size\": 1, \"name\": \"data\"}}", &json,
                                      NULL, 0),
                     202);
    (void)snprintf(id, 64, "%s",
                   json_string_value(json_object_get(json_object_get(json, "volume"), "id")));
    json_decref(json);
    zn_str_free(&path);
    assert_true(s_volume_is(env, id, "available"));
}

static size_t
s_cached_images(s_env_t *env)
{
    char *path = zn_asprintf("%s/images", comp_fixture_state_dir(env->comp));
    DIR *dir = opendir(path);
    zn_str_free(&path);
    size_t count = 0;
    struct dirent *ent;
    while (dir != NULL && (ent = readdir(dir)) != NULL) {
        count += strlen(ent->d_name) == 128; /* named by sha512 */
    }
    if (dir != NULL) {
        closedir(dir);
    }
    return count;
}

static void
s_build(s_env_t *env, const char *id, const comp_seed_t *seed, const char *outcome)
{
    comp_fixture_seed(env->comp, id, seed);
    assert_int_equal(comp_fixture_cast(env->comp, "build", id, false, env->token), 0);
    assert_true(comp_fixture_wait(env->comp, id, outcome, S_WAIT_MS));
}

static void
test_compute_peers_example(void **state)
{
    s_env_t *env = *state;
    char net_id[64];
    char vol_id[64];
    s_network(env, "10.9.0.0/24", net_id);
    s_volume(env, vol_id);
    const char *networks[] = {net_id, NULL};
    const char *volumes[] = {vol_id, NULL};
    comp_seed_t seed = {.image_id = env->image_id,
                        .project_id = env->project,
                        .networks = networks,
                        .volumes = volumes};
    char id[40];
    comp_fixture_uuid(id);
    s_build(env, id, &seed, "active");

    zn_cell_instance_t inst;
    assert_int_equal(comp_fixture_instance(env->comp, id, &inst), 0);
    assert_int_equal(inst.nic_count, 1);
    assert_non_null(inst.nics[0].mac);
    assert_int_equal(strncmp(inst.access_ipv4, "10.9.0.", 7), 0);
    virDomainPtr dom = virDomainLookupByUUIDString(env->conn, id);
    assert_non_null(dom);
    char *xml = virDomainGetXMLDesc(dom, 0);
    char *mac = zn_asprintf("<mac address='%s'/>", inst.nics[0].mac);
    assert_non_null(strstr(xml, mac));
    assert_non_null(strstr(xml, "<target dev='vdb' bus='virtio'/>"));
    zn_str_free(&mac);
    free(xml);
    virDomainFree(dom);
    zn_schema_release(&zn_cell_instance_schema, &inst);
    assert_true(s_volume_is(env, vol_id, "in-use"));
    assert_int_equal(s_ports_of(env, id), 1);
    assert_int_equal(s_cached_images(env), 1);

    /* A second instance of the same image: no second download, one cache entry. */
    char second[40];
    comp_fixture_uuid(second);
    comp_seed_t plain = {.image_id = env->image_id, .project_id = env->project};
    s_build(env, second, &plain, "active");
    assert_int_equal(s_cached_images(env), 1);

    /* A volume attached to the running instance, then detached again. */
    char vol2[64];
    s_volume(env, vol2);
    assert_int_equal(
        comp_fixture_cast_volume(env->comp, "attach_volume", id, vol2, "/dev/vdc", env->token), 0);
    assert_true(s_volume_is(env, vol2, "in-use"));
    char *saved =
        zn_asprintf("%s/instances/%s/vol-%s.xml", comp_fixture_state_dir(env->comp), id, vol2);
    for (int i = 0; i < 500 && access(saved, R_OK) != 0; i++) {
        usleep(10000);
    }
    assert_int_equal(access(saved, R_OK), 0);
    assert_int_equal(
        comp_fixture_cast_volume(env->comp, "detach_volume", id, vol2, NULL, env->token), 0);
    assert_true(s_volume_is(env, vol2, "available"));
    for (int i = 0; i < 500 && access(saved, F_OK) == 0; i++) {
        usleep(10000);
    }
    assert_int_equal(access(saved, F_OK), -1);
    zn_str_free(&saved);

    /* An attach that fails (vol_id is in use by the first instance) gives back the mapping the
     * api recorded for it, in the write that ends the action. */
    comp_fixture_add_bdm(env->comp, second, vol_id, "/dev/vdb");
    assert_int_equal(comp_fixture_cast_volume(env->comp, "attach_volume", second, vol_id,
                                              "/dev/vdb", env->token),
                     0);
    bool dropped = false;
    for (int i = 0; i < 500 && !dropped; i++) {
        zn_cell_instance_t two;
        assert_int_equal(comp_fixture_instance(env->comp, second, &two), 0);
        dropped = two.bdm_count == 0;
        zn_schema_release(&zn_cell_instance_schema, &two);
        if (!dropped) {
            usleep(10000);
        }
    }
    assert_true(dropped);
    assert_true(s_volume_is(env, vol_id, "in-use")); /* still the first instance's */

    /* The delete gives everything back. */
    assert_int_equal(comp_fixture_cast(env->comp, "delete", id, false, env->token), 0);
    assert_true(comp_fixture_wait(env->comp, id, NULL, S_WAIT_MS));
    assert_true(s_volume_is(env, vol_id, "available"));
    assert_int_equal(s_ports_of(env, id), 0);
    assert_null(virDomainLookupByUUIDString(env->conn, id));
}

static void
s_expect_fault(s_env_t *env, const char *id, const char *step)
{
    zn_cell_instance_t inst;
    assert_int_equal(comp_fixture_instance(env->comp, id, &inst), 0);
    char *words = zn_asprintf("step %s on host node-p", step);
    assert_non_null(strstr(inst.fault.message, words));
    assert_null(strstr(inst.fault.message, "no more hosts")); /* the user's: not rescheduled */
    zn_str_free(&words);
    zn_schema_release(&zn_cell_instance_schema, &inst);
    assert_int_equal(s_ports_of(env, id), 0);
    assert_null(virDomainLookupByUUIDString(env->conn, id));
}

static void
test_compute_peers_user_failures_roll_back(void **state)
{
    s_env_t *env = *state;
    char net_id[64];
    s_network(env, "10.7.0.0/24", net_id);
    const char *networks[] = {net_id, NULL};

    /* Image missing. */
    char missing[40];
    comp_fixture_uuid(missing);
    comp_seed_t no_image = {.image_id = "6f1f6c3a-0d6e-4b7e-9d59-2c1b5e0b8e11",
                            .project_id = env->project,
                            .networks = networks};
    s_build(env, missing, &no_image, "error");
    s_expect_fault(env, missing, "image");

    /* The volume cannot be attached: the port bound before it is released. */
    char bad_volume[40];
    comp_fixture_uuid(bad_volume);
    const char *volumes[] = {"00000000-0000-4000-8000-000000000000", NULL};
    comp_seed_t seed = {.image_id = env->image_id,
                        .project_id = env->project,
                        .networks = networks,
                        .volumes = volumes};
    s_build(env, bad_volume, &seed, "error");
    s_expect_fault(env, bad_volume, "volume");

    /* No IP left: a /30 has room for one instance beside its gateway. */
    char tiny[64];
    s_network(env, "10.6.0.0/30", tiny);
    const char *tiny_networks[] = {tiny, NULL};
    comp_seed_t on_tiny = {
        .image_id = env->image_id, .project_id = env->project, .networks = tiny_networks};
    char first[40];
    comp_fixture_uuid(first);
    s_build(env, first, &on_tiny, "active");
    char full[40];
    comp_fixture_uuid(full);
    s_build(env, full, &on_tiny, "error");
    s_expect_fault(env, full, "network");
}

/* networks "auto" in a project with no network: the server boots without a NIC (Nova 2.1);
 * once the project has one, "auto" plugs into it. */
static void
test_compute_peers_auto_network(void **state)
{
    s_env_t *env = *state;
    comp_seed_t seed = {.image_id = env->image_id, .project_id = env->project, .nics_auto = true};
    char bare[40];
    comp_fixture_uuid(bare);
    s_build(env, bare, &seed, "active");
    zn_cell_instance_t inst;
    assert_int_equal(comp_fixture_instance(env->comp, bare, &inst), 0);
    assert_int_equal(inst.nic_count, 0);
    zn_schema_release(&zn_cell_instance_schema, &inst);
    assert_int_equal(s_ports_of(env, bare), 0);

    char net_id[64];
    s_network(env, "10.5.0.0/24", net_id);
    char plugged[40];
    comp_fixture_uuid(plugged);
    s_build(env, plugged, &seed, "active");
    assert_int_equal(comp_fixture_instance(env->comp, plugged, &inst), 0);
    assert_int_equal(inst.nic_count, 1);
    zn_schema_release(&zn_cell_instance_schema, &inst);
    assert_int_equal(s_ports_of(env, plugged), 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_compute_peers_example, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_compute_peers_auto_network, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_compute_peers_user_failures_roll_back, s_setup,
                                        s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
