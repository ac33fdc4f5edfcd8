/* SPDX-License-Identifier: Apache-2.0 */
/* zn_compute_build.c - one build, on a worker thread: take the instance from the conductor,
 * fetch its image into the cache, bind its ports, attach its volumes, create its disk, define
 * and start the domain, report; and on any failure undo what was done, in reverse, and say
 * which step failed (docs/flow.md steps 14-28). */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zn_cellrec.h"
#include "zn_clock.h"
#include "zn_compute_int.h"
#include "zn_domxml.h"
#include "zn_failpoint.h"
#include "zn_log.h"
#include "zn_mem.h"
#include "zn_schema.h"

#define S_PORTS_MAX       16
#define S_VOLUMES_MAX     16
#define S_CHUNK_BYTES     4194304u /* 4 MiB, image_read's limit */
#define S_TAKE_ATTEMPTS   5
#define S_TAKE_BACKOFF_MS 20 /* doubled each time: 20, 40, 80, 160 */
#define S_IMAGE_MAX_BYTES (64LL * 1024 * 1024 * 1024)

extern char **environ;

/* ---- peers' answers ------------------------------------------------------------------------ */

typedef struct {
    char *id;
    char *status;
    int64_t size;
    char *checksum;
    char *os_hash_algo;
    char *os_hash_value;
    char *disk_format;
} s_image_t;

#define S_IF(name, type, max)                                   \
    {                                                           \
#name, type, 0, offsetof(s_image_t, name), 0, max, NULL \
    }
static const zn_field_t s_image_fields[] = {
    S_IF(id, ZN_FT_STR, 255),          S_IF(status, ZN_FT_STR, 63),
    S_IF(size, ZN_FT_I64, 0),          S_IF(checksum, ZN_FT_STR, 64),
    S_IF(os_hash_algo, ZN_FT_STR, 63), S_IF(os_hash_value, ZN_FT_STR, 256),
    S_IF(disk_format, ZN_FT_STR, 63),
};
#undef S_IF
static const zn_schema_t s_image_schema = {"image", 1, s_image_fields,
                                           ZN_ARRAY_COUNT(s_image_fields), sizeof(s_image_t)};

typedef struct {
    zn_bytes_t data;
    bool eof;
} s_chunk_t;

static const zn_field_t s_chunk_fields[] = {
    {"data", ZN_FT_BIN, 0, offsetof(s_chunk_t, data), 0, S_CHUNK_BYTES, NULL},
    {"eof", ZN_FT_BOOL, 0, offsetof(s_chunk_t, eof), 0, 0, NULL},
};
static const zn_schema_t s_chunk_schema = {"image_chunk", 1, s_chunk_fields,
                                           ZN_ARRAY_COUNT(s_chunk_fields), sizeof(s_chunk_t)};

typedef struct {
    char *subnet_id;
    char *ip_address;
} s_fixed_ip_t;

static const zn_field_t s_fixed_ip_fields[] = {
    {"subnet_id", ZN_FT_STR, 0, offsetof(s_fixed_ip_t, subnet_id), 0, 255, NULL},
    {"ip_address", ZN_FT_STR, 0, offsetof(s_fixed_ip_t, ip_address), 0, 64, NULL},
};
static const zn_schema_t s_fixed_ip_schema = {
    "fixed_ip", 1, s_fixed_ip_fields, ZN_ARRAY_COUNT(s_fixed_ip_fields), sizeof(s_fixed_ip_t)};

typedef struct {
    char *port_id;
    char *mac;
    char *network_id;
    char *bridge;
    int64_t mtu;
    s_fixed_ip_t *fixed_ips;
    size_t fixed_ip_count;
} s_port_t;

static const zn_field_t s_port_fields[] = {
    {"port_id", ZN_FT_STR, ZN_F_REQUIRED, offsetof(s_port_t, port_id), 0, 255, NULL},
    {"mac", ZN_FT_STR, ZN_F_REQUIRED, offsetof(s_port_t, mac), 0, 32, NULL},
    {"network_id", ZN_FT_STR, 0, offsetof(s_port_t, network_id), 0, 255, NULL},
    {"bridge", ZN_FT_STR, ZN_F_REQUIRED, offsetof(s_port_t, bridge), 0, 64, NULL},
    {"mtu", ZN_FT_I64, 0, offsetof(s_port_t, mtu), 0, 0, NULL},
    {"fixed_ips", ZN_FT_OBJLIST, 0, offsetof(s_port_t, fixed_ips),
     offsetof(s_port_t, fixed_ip_count), 16, &s_fixed_ip_schema},
};
static const zn_schema_t s_port_schema = {"port", 1, s_port_fields, ZN_ARRAY_COUNT(s_port_fields),
                                          sizeof(s_port_t)};

typedef struct {
    char *volume_id;
    char *device;
    char *driver;
    char *path;
    char *format;
} s_volume_t;

static const zn_field_t s_volume_fields[] = {
    {"volume_id", ZN_FT_STR, 0, offsetof(s_volume_t, volume_id), 0, 255, NULL},
    {"device", ZN_FT_STR, 0, offsetof(s_volume_t, device), 0, 64, NULL},
    {"driver", ZN_FT_STR, 0, offsetof(s_volume_t, driver), 0, 32, NULL},
    {"path", ZN_FT_STR, ZN_F_REQUIRED, offsetof(s_volume_t, path), 0, 4096, NULL},
    {"format", ZN_FT_STR, 0, offsetof(s_volume_t, format), 0, 32, NULL},
};
static const zn_schema_t s_volume_schema = {"volume_attachment", 1, s_volume_fields,
                                            ZN_ARRAY_COUNT(s_volume_fields), sizeof(s_volume_t)};

/* ---- one build ------------------------------------------------------------------------------ */

typedef struct {
    zn_cworker_t *w;
    zn_job_t *job;
    zn_pack_t *pack;
    zn_cell_instance_t inst;
    char *dir;
    char *base;        /* the image, hard-linked into the instance's directory; NULL: none */
    char *base_format; /* "raw", "qcow2" */
    char *disk;
    const char *disk_format;
    s_port_t ports[S_PORTS_MAX];
    size_t port_count;
    s_volume_t volumes[S_VOLUMES_MAX];
    size_t volume_count;
    bool touched_ports; /* port_bind was tried: release on failure */
    bool touched_dir;
    bool defined;
    bool reschedule; /* the failure is this host's: another may succeed */
    int64_t started_us;
} s_build_t;

static int
s_fail_user(s_build_t *b, int rc)
{
    b->reschedule = false;
    return rc;
}

static int
s_fail_host(s_build_t *b, int rc)
{
    b->reschedule = true;
    return rc;
}

static void
s_kv(zn_pack_t *p, const char *key, const char *value)
{
    zn_pack_str(p, key);
    zn_pack_str(p, value);
}

static int
s_decode(const zn_schema_t *schema, zn_reply_t *reply, void *out, zn_fault_t *fault)
{
    return zn_schema_decode(schema, zn_reply_env(reply)->body, out, NULL, fault);
}

/* ---- take ---- */

static int
s_step_take(s_build_t *b, zn_fault_t *fault)
{
    zn_reply_t *reply = NULL;
    int rc = ZN_EUNAVAIL;
    /* Taking is idempotent for the same host: a call whose answer was lost (a busy or failing
     * over conductor) is simply asked again, and so is a "not found" for a while. */
    for (int attempt = 0; attempt < S_TAKE_ATTEMPTS; attempt++) {
        zn_pack_map(b->pack, 3);
        s_kv(b->pack, "instance_id", b->job->instance_id);
        s_kv(b->pack, "host", zn__cworker_env(b->w)->cfg->common.host);
        zn_pack_str(b->pack, "take");
        zn_pack_bool(b->pack, true);
        rc = zn__cworker_call(b->w, ZN_PEER_CONDUCTOR, b->job, "instance_get", b->pack, &reply,
                              fault);
        if (rc == -ENOENT && attempt + 1 < S_TAKE_ATTEMPTS) {
            /* A conductor whose replica trails the leader by a few milliseconds does not know
             * an instance the api just created: give it a moment. */
            usleep((useconds_t)(S_TAKE_BACKOFF_MS << attempt) * 1000);
            continue;
        }
        if (rc != -ETIMEDOUT && rc != ZN_EUNAVAIL) {
            break;
        }
    }
    if (rc == 0) {
        rc = s_decode(&zn_cell_instance_schema, reply, &b->inst, fault);
    }
    zn_reply_destroy(&reply);
    if (rc == 0 && (b->inst.id == NULL || strcmp(b->inst.id, b->job->instance_id) != 0)) {
        rc = zn_fault_set(fault, -EPROTO, "the conductor answered for another instance");
    }
    return rc;
}

/* ---- image ---- */

typedef struct {
    s_build_t *b;
    const char *image_id;
} s_fetch_t;

static int
s_fetch(void *arg, zn_imgcache_sink_t *sink, zn_fault_t *fault)
{
    s_fetch_t *f = arg;
    for (;;) {
        zn_pack_map(f->b->pack, 3);
        s_kv(f->b->pack, "image_id", f->image_id);
        zn_pack_str(f->b->pack, "offset");
        zn_pack_i64(f->b->pack, zn_imgcache_sink_offset(sink));
        zn_pack_str(f->b->pack, "length");
        zn_pack_i64(f->b->pack, S_CHUNK_BYTES);
        zn_reply_t *reply = NULL;
        s_chunk_t chunk;
        memset(&chunk, 0, sizeof(chunk));
        int rc = zn__cworker_call(f->b->w, ZN_PEER_IMAGE, f->b->job, "image_read", f->b->pack,
                                  &reply, fault);
        if (rc == 0) {
            rc = s_decode(&s_chunk_schema, reply, &chunk, fault);
        }
        zn_reply_destroy(&reply);
        if (rc == 0 && chunk.data.len > 0) {
            rc = zn_imgcache_sink_write(sink, chunk.data.ptr, chunk.data.len);
            if (rc < 0) {
                zn_fault_set(fault, rc, "image %s: cannot store a chunk: %s", f->image_id,
                             zn_strerror(rc));
            }
        }
        bool done = rc < 0 || chunk.eof || chunk.data.len == 0;
        zn_schema_release(&s_chunk_schema, &chunk);
        if (done) {
            return rc;
        }
    }
}

static int
s_image_from_agent(s_build_t *b, zn_fault_t *fault)
{
    zn_pack_map(b->pack, 1);
    s_kv(b->pack, "image_id", b->inst.image_id);
    zn_reply_t *reply = NULL;
    s_image_t image;
    memset(&image, 0, sizeof(image));
    int rc = zn__cworker_call(b->w, ZN_PEER_IMAGE, b->job, "image_get", b->pack, &reply, fault);
    if (rc == 0) {
        rc = s_decode(&s_image_schema, reply, &image, fault);
    }
    zn_reply_destroy(&reply);
    if (rc == 0 && (image.status == NULL || strcmp(image.status, "active") != 0)) {
        rc = zn_fault_set(fault, -ENOENT, "image %s is not active (%s)", b->inst.image_id,
                          image.status != NULL ? image.status : "no status");
    }
    if (rc == 0) {
        bool sha512 = image.os_hash_algo == NULL || strcmp(image.os_hash_algo, "sha512") == 0;
        zn_imgcache_want_t want = {b->inst.image_id, image.checksum,
                                   sha512 ? image.os_hash_value : NULL, image.size};
        if (image.size > S_IMAGE_MAX_BYTES) {
            want.size = -1;
        }
        s_fetch_t fetch = {b, b->inst.image_id};
        b->base = zn__cworker_path(b->w, b->job->instance_id, "base");
        bool fetched = false;
        rc = zn_imgcache_get(zn__cworker_env(b->w)->cache, &want, s_fetch, &fetch, b->base,
                             &fetched, fault);
        if (rc == 0 && fetched) {
            zn_log_info(b->job->req_id, "image %s downloaded into the cache (%" PRId64 " bytes)",
                        b->inst.image_id, image.size);
        }
        b->base_format = zn_strdup(image.disk_format != NULL ? image.disk_format : "raw");
    }
    zn_schema_release(&s_image_schema, &image);
    /* Only a local failure (cache disk) is the host's. */
    return rc == -EIO ? s_fail_host(b, rc) : s_fail_user(b, rc);
}

static bool
s_is_plain_name(const char *name)
{
    return name[0] != '\0' && name[0] != '.' && strchr(name, '/') == NULL;
}

/* Without an image agent, an operator may keep images as files named by id in a directory. */
static int
s_image_from_dir(s_build_t *b, const char *dir, zn_fault_t *fault)
{
    if (!s_is_plain_name(b->inst.image_id)) {
        return s_fail_user(b, zn_fault_set(fault, -EINVAL, "bad image id"));
    }
    char *source = zn_asprintf("%s/%s", dir, b->inst.image_id);
    b->base = zn__cworker_path(b->w, b->job->instance_id, "base");
    b->base_format = zn_strdup("raw");
    int rc = 0;
    if (access(source, R_OK) < 0) {
        rc = s_fail_user(
            b, zn_fault_set(fault, -ENOENT, "image %s not found in %s", b->inst.image_id, dir));
    } else if (link(source, b->base) < 0 && symlink(source, b->base) < 0) {
        rc = s_fail_host(b,
                         zn_fault_set(fault, -EIO, "cannot link %s: %s", b->base, strerror(errno)));
    }
    zn_str_free(&source);
    return rc;
}

static int
s_step_image(s_build_t *b, zn_fault_t *fault)
{
    b->dir = zn__cworker_path(b->w, b->job->instance_id, NULL);
    b->touched_dir = true;
    if (mkdir(b->dir, 0750) < 0 && errno != EEXIST) {
        return s_fail_host(
            b, zn_fault_set(fault, -EIO, "cannot create %s: %s", b->dir, strerror(errno)));
    }
    int rc = ZN_FAILPOINT("compute.image");
    if (rc < 0) {
        return s_fail_user(b, zn_fault_set(fault, rc, "injected failure"));
    }
    const zn_cworker_env_t *env = zn__cworker_env(b->w);
    if (b->inst.image_id == NULL || b->inst.image_id[0] == '\0') {
        return 0; /* boots from a volume, or from an empty disk */
    }
    if (zn__cworker_has(b->w, ZN_PEER_IMAGE)) {
        return s_image_from_agent(b, fault);
    }
    if (env->cfg->local_images_dir[0] != '\0') {
        return s_image_from_dir(b, env->cfg->local_images_dir, fault);
    }
    return 0;
}

/* ---- network ---- */

static int
s_bind_port(s_build_t *b, const zn_cell_nic_t *nic, zn_fault_t *fault)
{
    if (b->port_count == S_PORTS_MAX) {
        return zn_fault_set(fault, ZN_ETOOBIG, "more than %d ports", S_PORTS_MAX);
    }
    const char *network_id = nic != NULL ? nic->network_id : NULL;
    const char *port_id = nic != NULL ? nic->port_id : NULL;
    zn_pack_map(b->pack, 3 + (network_id != NULL) + (port_id != NULL));
    if (network_id != NULL) {
        s_kv(b->pack, "network_id", network_id);
    }
    if (port_id != NULL) {
        s_kv(b->pack, "port_id", port_id);
    }
    s_kv(b->pack, "device_id", b->job->instance_id);
    s_kv(b->pack, "host", zn__cworker_env(b->w)->cfg->common.host);
    s_kv(b->pack, "project_id", b->inst.project_id);
    zn_reply_t *reply = NULL;
    b->touched_ports = true;
    int rc = zn__cworker_call(b->w, ZN_PEER_NETWORK, b->job, "port_bind", b->pack, &reply, fault);
    if (rc == 0) {
        rc = s_decode(&s_port_schema, reply, &b->ports[b->port_count], fault);
    }
    zn_reply_destroy(&reply);
    if (rc == 0) {
        b->port_count++;
    }
    return rc;
}

static int
s_step_network(s_build_t *b, zn_fault_t *fault)
{
    int rc = ZN_FAILPOINT("compute.network");
    if (rc < 0) {
        b->touched_ports = true;
        return s_fail_user(b, zn_fault_set(fault, rc, "injected failure"));
    }
    if (!zn__cworker_has(b->w, ZN_PEER_NETWORK)) {
        return 0;
    }
    for (size_t i = 0; rc == 0 && i < b->inst.nic_count; i++) {
        rc = s_bind_port(b, &b->inst.nics[i], fault);
    }
    if (rc == 0 && b->inst.nic_count == 0 && b->inst.nics_auto) {
        rc = s_bind_port(b, NULL, fault);
        if (rc == -ENOENT) {
            /* No network the project may use: as Nova 2.1, the server boots without a NIC. */
            zn_log_info(b->job->req_id, "instance %s: no network to plug, none plugged",
                        b->job->instance_id);
            zn_fault_clear(fault);
            rc = 0;
        }
    }
    return s_fail_user(b, rc);
}

/* ---- volumes ---- */

/* volume_attach VOLUME_ID (as DEVICE, may be NULL) to JOB's instance into *out; checks that the
 * connection is one this agent can plug (a file). */
static int
s_call_attach(zn_cworker_t *w, const zn_job_t *job, zn_pack_t *pack, const char *volume_id,
              const char *device, s_volume_t *out, zn_fault_t *fault)
{
    zn_pack_map(pack, 3 + (device != NULL));
    s_kv(pack, "volume_id", volume_id);
    s_kv(pack, "instance_id", job->instance_id);
    s_kv(pack, "host", zn__cworker_env(w)->cfg->common.host);
    if (device != NULL) {
        s_kv(pack, "device", device);
    }
    zn_reply_t *reply = NULL;
    int rc = zn__cworker_call(w, ZN_PEER_VOLUME, job, "volume_attach", pack, &reply, fault);
    if (rc == 0) {
        rc = s_decode(&s_volume_schema, reply, out, fault);
    }
    zn_reply_destroy(&reply);
    if (rc == 0 &&
        (out->path[0] != '/' || (out->driver != NULL && strcmp(out->driver, "file") != 0))) {
        rc = zn_fault_set(fault, -EPROTO, "volume %s: unsupported connection (%s)", volume_id,
                          out->driver != NULL ? out->driver : "?");
    }
    return rc;
}

static int
s_attach(s_build_t *b, const zn_cell_bdm_t *bdm, zn_fault_t *fault)
{
    if (bdm->volume_id == NULL || !s_is_plain_name(bdm->volume_id) ||
        b->volume_count == S_VOLUMES_MAX) {
        return zn_fault_set(fault, -EINVAL, "bad volume mapping");
    }
    int rc = zn__cworker_note_volume(b->w, b->job->instance_id, bdm->volume_id, fault);
    if (rc < 0) {
        return s_fail_host(b, rc);
    }
    s_volume_t *v = &b->volumes[b->volume_count];
    rc = s_call_attach(b->w, b->job, b->pack, bdm->volume_id, bdm->device, v, fault);
    if (rc == 0 || v->path != NULL) {
        b->volume_count++; /* decoded: released with the build */
    }
    return s_fail_user(b, rc);
}

static int
s_step_volume(s_build_t *b, zn_fault_t *fault)
{
    int rc = ZN_FAILPOINT("compute.volume");
    if (rc < 0) {
        return s_fail_user(b, zn_fault_set(fault, rc, "injected failure"));
    }
    if (b->inst.bdm_count == 0) {
        return 0;
    }
    if (!zn__cworker_has(b->w, ZN_PEER_VOLUME)) {
        zn_log_warn(b->job->req_id,
                    "instance %s asks for %zu volume(s) but no volume agent is "
                    "configured: skipped",
                    b->job->instance_id, b->inst.bdm_count);
        return 0;
    }
    for (size_t i = 0; rc == 0 && i < b->inst.bdm_count; i++) {
        rc = s_attach(b, &b->inst.bdms[i], fault);
    }
    return rc;
}

/* ---- disk ---- */

static int
s_run_qemu_img(const char *qemu_img, char *const argv[], zn_fault_t *fault)
{
    pid_t pid = 0;
    int rc = posix_spawnp(&pid, qemu_img, NULL, NULL, argv, environ);
    if (rc != 0) {
        return zn_fault_set(fault, -rc, "cannot run %s: %s", qemu_img, strerror(rc));
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            return zn_fault_set(fault, -ECHILD, "%s: %s", qemu_img, strerror(errno));
        }
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        return zn_fault_set(fault, -EIO, "%s create failed (status %d)", qemu_img, status);
    }
    return 0;
}

static int
s_make_qcow2(s_build_t *b, zn_fault_t *fault)
{
    const zn_cworker_env_t *env = zn__cworker_env(b->w);
    b->disk = zn__cworker_path(b->w, b->job->instance_id, "disk");
    b->disk_format = "qcow2";
    int64_t gb = b->inst.flavor.disk_gb;
    char size[32];
    (void)snprintf(size, sizeof(size), "%" PRId64 "G", gb > 0 ? gb : 1);
    char *argv[12];
    size_t n = 0;
    argv[n++] = env->cfg->qemu_img;
    argv[n++] = (char *)(uintptr_t) "create";
    argv[n++] = (char *)(uintptr_t) "-q";
    argv[n++] = (char *)(uintptr_t) "-f";
    argv[n++] = (char *)(uintptr_t) "qcow2";
    if (b->base != NULL) {
        argv[n++] = (char *)(uintptr_t) "-F";
        argv[n++] = b->base_format;
        argv[n++] = (char *)(uintptr_t) "-b";
        argv[n++] = b->base;
    }
    argv[n++] = b->disk;
    if (b->base == NULL || gb > 0) {
        argv[n++] = size;
    }
    argv[n] = NULL;
    return s_run_qemu_img(env->cfg->qemu_img, argv, fault);
}

static int
s_step_disk(s_build_t *b, zn_fault_t *fault)
{
    int rc = ZN_FAILPOINT("compute.disk");
    if (rc < 0) {
        return s_fail_host(b, zn_fault_set(fault, rc, "injected failure"));
    }
    if (zn__cworker_env(b->w)->disk_qcow2) {
        rc = s_make_qcow2(b, fault);
    } else if (b->base != NULL) {
        /* The test driver reads no disk: the cached image itself stands in. */
        b->disk = zn_strdup(b->base);
        b->disk_format = b->base_format;
    } else {
        b->disk = zn__cworker_path(b->w, b->job->instance_id, "disk");
        b->disk_format = "raw";
        int fd = open(b->disk, O_WRONLY | O_CREAT | O_CLOEXEC, 0640);
        rc = fd < 0 ? zn_fault_set(fault, -EIO, "cannot create %s: %s", b->disk, strerror(errno))
                    : 0;
        if (fd >= 0) {
            close(fd);
        }
    }
    /* Fast builds skip the progress write: the user would never see it, and the store would
     * pay for it. */
    int64_t after_us = zn__cworker_env(b->w)->cfg->progress_after_ms * 1000;
    if (rc == 0 && zn_clock_mono_us() - b->started_us >= after_us) {
        zn_fault_t ignored;
        if (zn__cworker_update(b->w, b->job, NULL, "spawning", -1, NULL, NULL, &ignored) < 0) {
            zn_log_debug(b->job->req_id, "progress: %s", zn_fault_message(&ignored));
        }
    }
    return s_fail_host(b, rc);
}

/* ---- define, start ---- */

static const char *
s_target_of(const char *device, size_t index, char *buf, size_t cap)
{
    if (device != NULL && strncmp(device, "/dev/vd", 7) == 0) {
        return device + 5;
    }
    (void)snprintf(buf, cap, "vd%c", (char)('b' + (index % 25)));
    return buf;
}

static zn_domxml_disk_t
s_volume_disk(const s_volume_t *v, size_t index, char *target, size_t cap)
{
    return (zn_domxml_disk_t){v->path, v->format != NULL ? v->format : "raw",
                              s_target_of(v->device, index, target, cap)};
}

/* Keep the <disk> element of volume V, for a detach later. */
static void
s_save_volume_disk(zn_cworker_t *w, const zn_job_t *job, const s_volume_t *v, size_t index)
{
    char target[8];
    zn_domxml_disk_t disk = s_volume_disk(v, index, target, sizeof(target));
    char *xml = NULL;
    zn_fault_t fault;
    if (zn_domxml_render_disk(&disk, &xml, &fault) == 0) {
        zn__cworker_save_disk(w, job->instance_id, v->volume_id, xml);
    }
    zn_str_free(&xml);
}

static int
s_render(s_build_t *b, char **xml, zn_fault_t *fault)
{
    const zn_cworker_env_t *env = zn__cworker_env(b->w);
    zn_domxml_disk_t disks[1 + S_VOLUMES_MAX];
    char targets[S_VOLUMES_MAX][8];
    size_t disk_count = 0;
    disks[disk_count++] = (zn_domxml_disk_t){b->disk, b->disk_format, "vda"};
    for (size_t i = 0; i < b->volume_count; i++) {
        const s_volume_t *v = &b->volumes[i];
        disks[disk_count++] =
            (zn_domxml_disk_t){v->path, v->format != NULL ? v->format : "raw",
                               s_target_of(v->device, i, targets[i], sizeof(targets[i]))};
    }
    zn_domxml_nic_t nics[S_PORTS_MAX];
    for (size_t i = 0; i < b->port_count; i++) {
        nics[i] = (zn_domxml_nic_t){b->ports[i].mac, b->ports[i].bridge, b->ports[i].mtu};
    }
    char name[64];
    (void)snprintf(name, sizeof(name), ZN_VIRT_NAME_PREFIX "%s", b->job->instance_id);
    char *console = zn__cworker_path(b->w, b->job->instance_id, "console.log");
    zn_domxml_t dom = {
        .type = env->domain_type,
        .name = name,
        .uuid = b->job->instance_id,
        .title = b->inst.name,
        .flavor = b->inst.flavor.name,
        .project_id = b->inst.project_id,
        .arch = "x86_64",
        .machine = env->cfg->machine[0] != '\0' ? env->cfg->machine : NULL,
        .console_path = console,
        .vcpus = b->inst.flavor.vcpus > 0 ? b->inst.flavor.vcpus : 1,
        .memory_mb = b->inst.flavor.ram_mb > 0 ? b->inst.flavor.ram_mb : 64,
        .disks = disks,
        .disk_count = disk_count,
        .nics = nics,
        .nic_count = b->port_count,
    };
    int rc = zn_domxml_render(&dom, xml, fault);
    zn_str_free(&console);
    return rc;
}

static int
s_step_define(s_build_t *b, zn_fault_t *fault)
{
    char *xml = NULL;
    int rc = s_render(b, &xml, fault);
    if (rc < 0) {
        return s_fail_user(b, rc);
    }
    b->defined = true;
    rc = zn_virt_define(zn__cworker_env(b->w)->virt, xml, fault);
    zn_str_free(&xml);
    for (size_t i = 0; rc == 0 && i < b->volume_count; i++) {
        s_save_volume_disk(b->w, b->job, &b->volumes[i], i);
    }
    return s_fail_host(b, rc);
}

static int
s_step_start(s_build_t *b, zn_fault_t *fault)
{
    return s_fail_host(b, zn_virt_start(zn__cworker_env(b->w)->virt, b->job->instance_id, fault));
}

/* ---- report ---- */

static void
s_pack_ports(s_build_t *b)
{
    zn_pack_str(b->pack, "ports");
    zn_pack_array(b->pack, (uint32_t)b->port_count);
    for (size_t i = 0; i < b->port_count; i++) {
        const s_port_t *p = &b->ports[i];
        zn_pack_map(b->pack, 4);
        s_kv(b->pack, "port_id", p->port_id);
        s_kv(b->pack, "mac", p->mac);
        s_kv(b->pack, "ip", p->fixed_ip_count > 0 ? p->fixed_ips[0].ip_address : NULL);
        s_kv(b->pack, "network_id", p->network_id);
    }
}

static int
s_result(s_build_t *b, bool ok, const char *step, const char *message, zn_fault_t *fault)
{
    zn_pack_map(b->pack, ok ? 6 : 7);
    s_kv(b->pack, "instance_id", b->job->instance_id);
    s_kv(b->pack, "host", zn__cworker_env(b->w)->cfg->common.host);
    zn_pack_str(b->pack, "ok");
    zn_pack_bool(b->pack, ok);
    zn_pack_str(b->pack, "reschedule");
    zn_pack_bool(b->pack, !ok && b->reschedule);
    zn_pack_str(b->pack, "power_state");
    zn_pack_i64(b->pack, ok ? ZN_POWER_RUNNING : ZN_POWER_NOSTATE);
    if (ok) {
        s_pack_ports(b);
    } else {
        s_kv(b->pack, "step", step);
        s_kv(b->pack, "message", message);
    }
    zn_reply_t *reply = NULL;
    int rc =
        zn__cworker_call(b->w, ZN_PEER_CONDUCTOR, b->job, "build_result", b->pack, &reply, fault);
    zn_reply_destroy(&reply);
    return rc;
}

static int
s_step_report(s_build_t *b, zn_fault_t *fault)
{
    int rc = s_result(b, true, NULL, NULL, fault);
    if (rc == -ETIMEDOUT) {
        /* Lost on the way or answered too late: ask once more. A conflict then means the first
         * one was applied (the instance is no longer building), so the domain stays. */
        rc = s_result(b, true, NULL, NULL, fault);
        if (rc == ZN_ECONFLICT) {
            return 0;
        }
    }
    return s_fail_host(b, rc);
}

/* ---- the pipeline ---- */

typedef int(s_step_fn)(s_build_t *b, zn_fault_t *fault);

static s_step_fn *const s_steps[ZN_STEP_COUNT] = {
    s_step_take, s_step_image,  s_step_network, s_step_volume,
    s_step_disk, s_step_define, s_step_start,   s_step_report,
};

/* Undo, in reverse order, what the steps before FAILED did. */
static void
s_rollback(s_build_t *b)
{
    zn_fault_t fault;
    const zn_cworker_env_t *env = zn__cworker_env(b->w);
    if (b->defined && zn_virt_remove(env->virt, b->job->instance_id, &fault) < 0) {
        zn_log_warn(b->job->req_id, "instance %s: undo define: %s", b->job->instance_id,
                    zn_fault_message(&fault));
    }
    if (b->touched_ports || b->volume_count > 0 || b->inst.bdm_count > 0) {
        (void)zn__cworker_release(b->w, b->job); /* logged there */
    }
    if (b->touched_dir) {
        zn__cworker_remove_dir(b->w, b->job->instance_id);
    }
}

static void
s_build_free(s_build_t *b)
{
    zn_schema_release(&zn_cell_instance_schema, &b->inst);
    for (size_t i = 0; i < b->port_count; i++) {
        zn_schema_release(&s_port_schema, &b->ports[i]);
    }
    for (size_t i = 0; i < b->volume_count; i++) {
        zn_schema_release(&s_volume_schema, &b->volumes[i]);
    }
    zn_str_free(&b->dir);
    zn_str_free(&b->base);
    zn_str_free(&b->base_format);
    zn_str_free(&b->disk);
}

static void
s_failed(s_build_t *b, zn_build_step_t step, const zn_fault_t *fault)
{
    zn_job_t *job = b->job;
    job->rc = fault->code;
    job->fault = *fault;
    if (step == ZN_STEP_TAKE) {
        /* Not ours (rescheduled, deleted) or the conductor is unreachable: nothing was done,
         * and the conductor's watchdog owns what happens next. */
        zn_log(fault->code == ZN_ECONFLICT ? ZN_LOG_I : ZN_LOG_W, job->req_id,
               "instance %s: build dropped: %s", job->instance_id, zn_fault_message(fault));
        return;
    }
    zn_log_warn(job->req_id, "instance %s: build failed at step %s: %s%s", job->instance_id,
                zn__compute_step_name(step), zn_fault_message(fault),
                b->reschedule ? " (host failure: reschedule)" : "");
    s_rollback(b);
    if (step == ZN_STEP_REPORT) {
        return; /* the conductor refused the result: the instance is no longer ours */
    }
    zn_fault_t report;
    if (s_result(b, false, zn__compute_step_name(step), zn_fault_message(fault), &report) < 0) {
        zn_log_warn(job->req_id, "instance %s: build_result: %s", job->instance_id,
                    zn_fault_message(&report));
    }
}

void
zn__cworker_build(zn_cworker_t *w, zn_job_t *job)
{
    s_build_t b;
    memset(&b, 0, sizeof(b));
    b.w = w;
    b.job = job;
    b.pack = zn_pack_new();
    b.started_us = zn_clock_mono_us();
    zn_fault_t fault;
    zn_fault_clear(&fault);
    for (int step = 0; step < ZN_STEP_COUNT; step++) {
        int64_t started = zn_clock_mono_us();
        int rc = s_steps[step](&b, &fault);
        job->step_us[step] = zn_clock_mono_us() - started;
        if (rc < 0) {
            if (fault.code == 0) {
                zn_fault_set(&fault, rc, "%s", zn_strerror(rc));
            }
            s_failed(&b, (zn_build_step_t)step, &fault);
            s_build_free(&b);
            zn_pack_destroy(&b.pack);
            return;
        }
    }
    job->built = true;
    job->power_state = ZN_POWER_RUNNING;
    zn_log_info(job->req_id, "instance %s: built and running", job->instance_id);
    s_build_free(&b);
    zn_pack_destroy(&b.pack);
}

/* ---- attach_volume, detach_volume ----------------------------------------------------------- */

static void
s_volume_result(zn_cworker_t *w, zn_job_t *job, int rc, const zn_fault_t *fault)
{
    job->rc = rc;
    if (rc < 0) {
        job->fault = *fault;
        zn_log_warn(job->req_id, "instance %s: %s volume %s: %s", job->instance_id,
                    job->kind == ZN_JOB_ATTACH ? "attach" : "detach", job->volume_id,
                    zn_fault_message(fault));
    }
    zn_fault_t report;
    if (zn__cworker_update(w, job, NULL, NULL, -1, rc == 0 ? "Success" : "Error",
                           rc == 0 ? NULL : zn_fault_message(fault), &report) < 0) {
        zn_log_warn(job->req_id, "instance %s: instance_update: %s", job->instance_id,
                    zn_fault_message(&report));
    }
}

static void
s_detach_call(zn_cworker_t *w, const zn_job_t *job, zn_pack_t *pack)
{
    zn_pack_map(pack, 2);
    s_kv(pack, "volume_id", job->volume_id);
    s_kv(pack, "instance_id", job->instance_id);
    zn_reply_t *reply = NULL;
    zn_fault_t fault;
    if (zn__cworker_call(w, ZN_PEER_VOLUME, job, "volume_detach", pack, &reply, &fault) < 0) {
        zn_log_warn(job->req_id, "instance %s: volume_detach %s: %s", job->instance_id,
                    job->volume_id, zn_fault_message(&fault));
    }
    zn_reply_destroy(&reply);
}

/* Plug the attached volume V into the domain; keep its element for the detach. */
static int
s_plug(zn_cworker_t *w, zn_job_t *job, const s_volume_t *v, zn_fault_t *fault)
{
    const char *device = job->device[0] != '\0' ? job->device : v->device;
    if (device == NULL || strncmp(device, "/dev/vd", 7) != 0) {
        return zn_fault_set(fault, -EINVAL, "volume %s: no virtio device name", job->volume_id);
    }
    zn_domxml_disk_t disk = {v->path, v->format != NULL ? v->format : "raw", device + 5};
    char *xml = NULL;
    int rc = zn_domxml_render_disk(&disk, &xml, fault);
    if (rc == 0) {
        rc = zn_virt_device(zn__cworker_env(w)->virt, job->instance_id, xml, true, fault);
    }
    if (rc == 0) {
        zn__cworker_save_disk(w, job->instance_id, job->volume_id, xml);
    }
    zn_str_free(&xml);
    return rc;
}

void
zn__cworker_attach(zn_cworker_t *w, zn_job_t *job)
{
    zn_fault_t fault;
    zn_fault_clear(&fault);
    zn_pack_t *pack = zn_pack_new();
    s_volume_t v;
    memset(&v, 0, sizeof(v));
    int rc = 0;
    if (!zn__cworker_has(w, ZN_PEER_VOLUME) || !s_is_plain_name(job->volume_id)) {
        rc = zn_fault_set(&fault, ZN_EUNAVAIL, "no volume agent configured, or a bad volume id");
    }
    if (rc == 0) {
        rc = zn__cworker_note_volume(w, job->instance_id, job->volume_id, &fault);
    }
    if (rc == 0) {
        rc = s_call_attach(w, job, pack, job->volume_id,
                           job->device[0] != '\0' ? job->device : NULL, &v, &fault);
        rc = rc == 0 ? s_plug(w, job, &v, &fault) : rc;
        if (rc < 0) {
            s_detach_call(w, job, pack); /* undo: idempotent when nothing was attached */
            zn__cworker_forget_volume(w, job->instance_id, job->volume_id);
        }
    }
    s_volume_result(w, job, rc, &fault);
    zn_schema_release(&s_volume_schema, &v);
    zn_pack_destroy(&pack);
}

void
zn__cworker_detach(zn_cworker_t *w, zn_job_t *job)
{
    zn_fault_t fault;
    zn_fault_clear(&fault);
    int rc = 0;
    char *xml = zn__cworker_load_disk(w, job->instance_id, job->volume_id);
    if (xml != NULL) {
        rc = zn_virt_device(zn__cworker_env(w)->virt, job->instance_id, xml, false, &fault);
        rc = rc == -ENOENT ? 0 : rc; /* no domain: nothing to unplug */
    }
    zn_str_free(&xml);
    if (rc == 0) {
        zn_pack_t *pack = zn_pack_new();
        if (zn__cworker_has(w, ZN_PEER_VOLUME)) {
            s_detach_call(w, job, pack);
        }
        zn__cworker_forget_volume(w, job->instance_id, job->volume_id);
        zn_pack_destroy(&pack);
    }
    s_volume_result(w, job, rc, &fault);
}
