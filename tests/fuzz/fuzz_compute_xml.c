/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_compute_xml - what users and peers put into a compute agent's domain XML: the instance
 * name, flavor and project (users' words) and a port's MAC and bridge (the network agent's
 * answer), as NUL-separated pieces of the input. Whatever they hold, the rendered document has
 * exactly the markup of the same domain with plain words in their place: nothing a user typed
 * becomes an element or an attribute. */
#include <stdint.h>
#include <string.h>

#include "zn_common.h"
#include "zn_domxml.h"
#include "zn_mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define S_PIECES 5

static size_t
s_count(const char *text, char c)
{
    size_t n = 0;
    for (const char *p = text; *p != '\0'; p++) {
        n += *p == c;
    }
    return n;
}

static int
s_render(const char *const *pieces, char **out)
{
    zn_domxml_disk_t disk = {"/var/lib/zinc/compute/instances/x/disk", "qcow2", "vda"};
    zn_domxml_nic_t nic = {pieces[3], pieces[4], 1450};
    zn_domxml_t dom = {
        .type = "kvm",
        .name = "zinc-6f1f6c3a-0d6e-4b7e-9d59-2c1b5e0b8e11",
        .uuid = "6f1f6c3a-0d6e-4b7e-9d59-2c1b5e0b8e11",
        .title = pieces[0],
        .flavor = pieces[1],
        .project_id = pieces[2],
        .arch = "x86_64",
        .console_path = "/var/lib/zinc/compute/instances/x/console.log",
        .vcpus = 1,
        .memory_mb = 64,
        .disks = &disk,
        .disk_count = 1,
        .nics = &nic,
        .nic_count = 1,
    };
    zn_fault_t fault;
    return zn_domxml_render(&dom, out, &fault);
}

/* Render with PIECES; when that succeeds, compare its markup with plain words in place of the
 * users' strings. */
static void
s_check(char *const *pieces)
{
    char *xml = NULL;
    if (s_render((const char *const *)pieces, &xml) != 0) {
        return;
    }
    const char *plain[S_PIECES] = {"a", "b", "c", pieces[3], pieces[4]};
    char *reference = NULL;
    ZN_ASSERT(s_render(plain, &reference) == 0);
    ZN_ASSERT(s_count(xml, '<') == s_count(reference, '<'));
    ZN_ASSERT(s_count(xml, '>') == s_count(reference, '>'));
    ZN_ASSERT(s_count(xml, '\'') == s_count(reference, '\''));
    zn_str_free(&reference);
    zn_str_free(&xml);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *pieces[S_PIECES] = {NULL};
    size_t at = 0;
    for (int i = 0; i < S_PIECES; i++) {
        size_t len = at < size ? strnlen((const char *)data + at, size - at) : 0;
        pieces[i] = zn_strndup(at < size ? (const char *)data + at : "", len);
        at += len + 1;
    }
    s_check(pieces);
    for (int i = 0; i < S_PIECES; i++) {
        zn_free(pieces[i]);
    }
    return 0;
}
