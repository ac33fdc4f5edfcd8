/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_replay - run a fuzz target over every file of the given corpus directories, without
 * libFuzzer, so that the ordinary (sanitizer) test run replays the committed corpus. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "zn_mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Feed the file at PATH to the target; return 1 when it was run, 0 when skipped, -1 on error. */
static int
s_replay_file(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
        return 0;
    }
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        fprintf(stderr, "fuzz_replay: cannot open %s\n", path);
        return -1;
    }
    size_t size = (size_t)st.st_size;
    uint8_t *data = zn_malloc(size);
    size_t got = fread(data, 1, size, file);
    fclose(file);
    if (got != size) {
        zn_free(data);
        fprintf(stderr, "fuzz_replay: short read on %s\n", path);
        return -1;
    }
    (void)LLVMFuzzerTestOneInput(data, size); /* a finding aborts through the sanitizers */
    zn_free(data);
    return 1;
}

static int
s_replay_dir(const char *dir_path, size_t *count)
{
    DIR *dir = opendir(dir_path);
    if (dir == NULL) {
        fprintf(stderr, "fuzz_replay: cannot open directory %s\n", dir_path);
        return -1;
    }
    int rc = 0;
    for (struct dirent *entry = readdir(dir); entry != NULL && rc >= 0; entry = readdir(dir)) {
        char *path = zn_asprintf("%s/%s", dir_path, entry->d_name);
        rc = s_replay_file(path);
        *count += rc > 0 ? 1u : 0u;
        zn_str_free(&path);
    }
    closedir(dir);
    return rc < 0 ? -1 : 0;
}

int
main(int argc, char **argv)
{
    size_t count = 0;
    for (int i = 1; i < argc; i++) {
        if (s_replay_dir(argv[i], &count) < 0) {
            return EXIT_FAILURE;
        }
    }
    printf("fuzz_replay: %zu inputs replayed\n", count);
    return count > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
