/* SPDX-License-Identifier: Apache-2.0 */
/* bench_compute - one zinc-compute agent on libvirt's test driver, with a real conductor and
 * store in the same process and a warm image cache (images linked from local_images_dir):
 * build+delete cycles per second. Each round seeds N instances as the api would (not timed),
 * then casts N builds, waits for all to be ACTIVE in the store, casts N deletes and waits for
 * the records to be gone. min/median/max over rounds, then the share of build time per step
 * (the agent's own histograms). Last line:
 *   compute: builds_per_s=X */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

#include "comp_fixture.h"
#include "zn_clock.h"
#include "zn_fs.h"
#include "zn_mem.h"
#include "zn_mp.h"

#define S_ROUNDS          5
#define S_COUNT           1000
#define S_SEED_STEP       500
#define S_IMAGE_ID        "bench-image"
#define S_WORKERS_TEXT    "128"
#define S_WORKERS_SETTING "compute.build_workers=128"

static int
s_compare(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;
    return (x > y) - (x < y);
}

static void
s_wait_all(comp_fixture_t *fix, char (*ids)[40], int count, const char *vm_state)
{
    for (int i = 0; i < count; i++) {
        if (!comp_fixture_wait(fix, ids[i], vm_state, 60000)) {
            (void)fprintf(stderr, "bench_compute: instance %s never reached %s\n", ids[i],
                          vm_state != NULL ? vm_state : "deleted");
            exit(1);
        }
    }
}

static double
s_round(comp_fixture_t *fix, char (*ids)[40])
{
    for (int i = 0; i < S_COUNT; i++) {
        comp_fixture_uuid(ids[i]);
    }
    for (int i = 0; i < S_COUNT; i += S_SEED_STEP) {
        comp_fixture_seed_many(fix, ids + i, S_SEED_STEP, S_IMAGE_ID);
    }
    int64_t started = zn_clock_mono_us();
    for (int i = 0; i < S_COUNT; i++) {
        if (comp_fixture_cast(fix, "build", ids[i], false, "bench-token") != 0) {
            exit(1);
        }
    }
    s_wait_all(fix, ids, S_COUNT, "active");
    for (int i = 0; i < S_COUNT; i++) {
        if (comp_fixture_cast(fix, "delete", ids[i], false, "bench-token") != 0) {
            exit(1);
        }
    }
    s_wait_all(fix, ids, S_COUNT, NULL);
    double seconds = (double)(zn_clock_mono_us() - started) / 1e6;
    return S_COUNT / seconds;
}

/* The value of FIELD in histogram NAME of the metrics JSON, or 0. */
static double
s_metric(const char *json, const char *name, const char *field)
{
    char *key = zn_asprintf("\"%s\":{", name);
    const char *at = strstr(json, key);
    zn_str_free(&key);
    if (at == NULL) {
        return 0;
    }
    char *fkey = zn_asprintf("\"%s\":", field);
    const char *v = strstr(at, fkey);
    double value = v != NULL ? strtod(v + strlen(fkey), NULL) : 0;
    zn_str_free(&fkey);
    return value;
}

static void
s_print_steps(comp_fixture_t *fix)
{
    zn_reply_t *reply = NULL;
    zn_fault_t fault;
    zn_buf_t none = {NULL, 0};
    char *json = NULL;
    if (zn_client_call_sync(comp_fixture_admin_client(fix), "metrics", NULL, none, 5000, &reply,
                            &fault) != 0 ||
        zn_mp_to_json(zn_reply_env(reply)->body, &json, &fault) != 0) {
        (void)fprintf(stderr, "bench_compute: no metrics: %s\n", fault.message);
        zn_reply_destroy(&reply);
        return;
    }
    const char *steps[] = {"build_take_us",   "build_image_us",  "build_network_us",
                           "build_volume_us", "build_disk_us",   "build_define_us",
                           "build_start_us",  "build_report_us", NULL};
    double total = s_metric(json, "build_us", "sum_us");
    double count = s_metric(json, "build_us", "count");
    printf("  share of build time per step (%.0f builds, mean %.0f us each):\n", count,
           count > 0 ? total / count : 0);
    for (int i = 0; steps[i] != NULL; i++) {
        double sum = s_metric(json, steps[i], "sum_us");
        printf("    %-18s %5.1f%%  p50=%6.0f us\n", steps[i] + 6,
               total > 0 ? 100.0 * sum / total : 0, s_metric(json, steps[i], "p50_us"));
    }
    printf("  queue wait p50=%.0f us p99=%.0f us\n", s_metric(json, "job_wait_us", "p50_us"),
           s_metric(json, "job_wait_us", "p99_us"));
    zn_str_free(&json);
    zn_reply_destroy(&reply);
}

int
main(void)
{
    char dir[] = "/tmp/zn-bench-compute.XXXXXX";
    if (mkdtemp(dir) == NULL || zn_fs_mkdir_p(dir, 0755) != 0) {
        return 1;
    }
    char *image = zn_asprintf("%s/" S_IMAGE_ID, dir);
    FILE *f = fopen(image, "w");
    if (f == NULL || fputs("a warm image\n", f) < 0 || fclose(f) != 0) {
        return 1;
    }
    char *local = zn_asprintf("compute.local_images_dir=%s", dir);
    const char *settings[] = {local,
                              "agent.log_level=error",
                              S_WORKERS_SETTING,
                              "compute.power_sync_interval_ms=1000",
                              "compute.progress_after_ms=1000",
                              NULL};
    const char *cond_settings[] = {"agent.log_level=error", NULL};
    comp_fixture_t *fix = comp_fixture_start("bench-node", settings, cond_settings);
    char(*ids)[40] = zn_calloc(S_COUNT, sizeof(*ids));
    double rates[S_ROUNDS];
    printf("compute: %d build+delete cycles per round, %d rounds, " S_WORKERS_TEXT
           " workers, test:///default\n",
           S_COUNT, S_ROUNDS);
    for (int r = 0; r < S_ROUNDS; r++) {
        rates[r] = s_round(fix, ids);
    }
    qsort(rates, S_ROUNDS, sizeof(rates[0]), s_compare);
    printf("  %-26s min=%10.1f median=%10.1f max=%10.1f cycles/s\n", "build+delete", rates[0],
           rates[S_ROUNDS / 2], rates[S_ROUNDS - 1]);
    s_print_steps(fix);
    comp_fixture_stop(&fix);
    zn_free(ids);
    char *cmd = zn_asprintf("rm -rf '%s'", dir);
    if (system(cmd) != 0) {
        (void)fprintf(stderr, "bench_compute: cannot remove %s\n", dir);
    }
    zn_str_free(&cmd);
    zn_str_free(&local);
    zn_str_free(&image);
    printf("compute: builds_per_s=%.0f\n", rates[S_ROUNDS / 2]);
    return 0;
}
