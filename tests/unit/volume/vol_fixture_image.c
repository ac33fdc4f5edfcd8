/* SPDX-License-Identifier: Apache-2.0 */
/* vol_fixture_image.c - vol_fixture with a real zinc-image beside it (kept apart so that the
 * volume agent's other tests do not need the image agent to build). */
#include <stdlib.h>

#include "img_fixture.h"
#include "vol_fixture.h"
#include "zn_mem.h"

static void
s_stop_image(void *extra)
{
    img_fixture_t *img = extra;
    img_fixture_stop(&img);
}

vol_fixture_t *
vol_fixture_start_image(const char *const *settings)
{
    vol_fixture_t *fix = vol_fixture_new();
    const char *const image_settings[] = {"agent.log_level=warn", NULL};
    img_fixture_t *img =
        img_fixture_start(vol_fixture_conductor_call(fix), vol_fixture_store_dir(fix),
                          vol_fixture_identity_call(fix), image_settings);
    vol_fixture_set_extra(fix, img, s_stop_image);
    char *image_call = zn_asprintf("peers.image_call=%s", img_fixture_call(img));
    size_t count = 0;
    while (settings != NULL && settings[count] != NULL) {
        count++;
    }
    const char **all = zn_calloc(count + 2, sizeof(*all));
    all[0] = image_call;
    for (size_t i = 0; i < count; i++) {
        all[i + 1] = settings[i];
    }
    vol_fixture_run(fix, all);
    zn_free(all);
    zn_free(image_call);
    return fix;
}

uint16_t
vol_fixture_image_port(const vol_fixture_t *fix)
{
    return img_fixture_http_port(vol_fixture_extra(fix));
}
