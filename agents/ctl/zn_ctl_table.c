/* SPDX-License-Identifier: Apache-2.0 */
/* zn_ctl_table.c - text rendering for zincctl. */
#include "zn_ctl_table.h"

#include <inttypes.h>
#include <string.h>

#include "zn_mem.h"
#include "zn_mp.h"
#include "zn_mpread.h"

#define S_PATH_MAX 256

struct zn_ctl_table {
    const char *const *headers;
    size_t columns;
    char **cells; /* rows * columns */
    size_t rows;
};

zn_ctl_table_t *
zn_ctl_table_new(const char *const *headers, size_t count)
{
    ZN_ASSERT(count <= ZN_CTL_TABLE_MAX_COLUMNS);
    zn_ctl_table_t *self = zn_calloc(1, sizeof(*self));
    self->headers = headers;
    self->columns = count;
    return self;
}

void
zn_ctl_table_destroy(zn_ctl_table_t **self_p)
{
    zn_ctl_table_t *self = *self_p;
    if (self == NULL) {
        return;
    }
    for (size_t i = 0; i < self->rows * self->columns; i++) {
        zn_free(self->cells[i]);
    }
    zn_free(self->cells);
    zn_free(self);
    *self_p = NULL;
}

void
zn_ctl_table_add(zn_ctl_table_t *self, const char *const *cells)
{
    self->cells = zn_realloc(self->cells, (self->rows + 1) * self->columns * sizeof(char *));
    for (size_t c = 0; c < self->columns; c++) {
        self->cells[self->rows * self->columns + c] = zn_strdup(cells[c] ? cells[c] : "-");
    }
    self->rows++;
}

void
zn_ctl_table_print(const zn_ctl_table_t *self, FILE *out)
{
    size_t width[ZN_CTL_TABLE_MAX_COLUMNS];
    for (size_t c = 0; c < self->columns; c++) {
        width[c] = strlen(self->headers[c]);
        for (size_t r = 0; r < self->rows; r++) {
            size_t len = strlen(self->cells[r * self->columns + c]);
            width[c] = len > width[c] ? len : width[c];
        }
    }
    for (size_t r = 0; r <= self->rows; r++) {
        for (size_t c = 0; c < self->columns; c++) {
            const char *cell = r == 0 ? self->headers[c] : self->cells[(r - 1) * self->columns + c];
            if (c + 1 == self->columns) {
                (void)fprintf(out, "%s\n", cell);
            } else {
                (void)fprintf(out, "%-*s  ", (int)width[c], cell);
            }
        }
    }
}

static int s_flat_value(zn_mpread_t *reader, char *path, size_t path_len, FILE *out,
                        zn_fault_t *fault);

/* Print a scalar token at PATH. Strings print raw: they are ours or a peer's words. */
static void
s_flat_scalar(const zn_mpval_t *v, const char *path, FILE *out)
{
    (void)fprintf(out, "%s = ", path[0] ? path : "value");
    switch (v->type) {
    case ZN_MPT_NIL:
        (void)fprintf(out, "-\n");
        break;
    case ZN_MPT_BOOL:
        (void)fprintf(out, "%s\n", v->v.b ? "true" : "false");
        break;
    case ZN_MPT_UINT:
        (void)fprintf(out, "%" PRIu64 "\n", v->v.u);
        break;
    case ZN_MPT_INT:
        (void)fprintf(out, "%" PRId64 "\n", v->v.i);
        break;
    case ZN_MPT_F64:
        (void)fprintf(out, "%g\n", v->v.f);
        break;
    case ZN_MPT_STR:
        (void)fprintf(out, "%.*s\n", (int)v->v.bytes.len, (const char *)v->v.bytes.ptr);
        break;
    default:
        (void)fprintf(out, "<%zu bytes>\n", v->v.bytes.len);
        break;
    }
}

/* Print COUNT entries of a map (or elements of an array when IS_MAP is false) under PATH. */
static int
s_flat_container(zn_mpread_t *reader, uint32_t count, bool is_map, char *path, size_t path_len,
                 FILE *out, zn_fault_t *fault)
{
    for (uint32_t i = 0; i < count; i++) {
        char *tail = path + path_len;
        size_t room = S_PATH_MAX - path_len;
        const char *dot = path_len > 0 ? "." : "";
        if (is_map) {
            zn_mpval_t key;
            int rc = zn_mpread_next(reader, &key, fault);
            if (rc < 0) {
                return rc;
            }
            if (key.type == ZN_MPT_STR) {
                (void)snprintf(tail, room, "%s%.*s", dot, (int)key.v.bytes.len,
                               (const char *)key.v.bytes.ptr);
            } else {
                (void)snprintf(tail, room, "%s?", dot);
                rc = zn_mpread_skip_contents(reader, &key, fault);
            }
            if (rc < 0) {
                return rc;
            }
        } else {
            (void)snprintf(tail, room, "[%u]", i);
        }
        int rc = s_flat_value(reader, path, strlen(path), out, fault);
        path[path_len] = '\0';
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

static int
s_flat_value(zn_mpread_t *reader, char *path, size_t path_len, FILE *out, zn_fault_t *fault)
{
    zn_mpval_t v;
    int rc = zn_mpread_next(reader, &v, fault);
    if (rc < 0) {
        return rc;
    }
    if (v.type == ZN_MPT_MAP || v.type == ZN_MPT_ARRAY) {
        return s_flat_container(reader, v.v.count, v.type == ZN_MPT_MAP, path, path_len, out,
                                fault);
    }
    s_flat_scalar(&v, path, out);
    return 0;
}

int
zn_ctl_print_flat(zn_buf_t bytes, FILE *out, zn_fault_t *fault)
{
    /* zn_mp_check bounds the depth, so the recursion below is bounded too. */
    int rc = zn_mp_check(bytes, NULL, fault);
    if (rc < 0) {
        return rc;
    }
    char path[S_PATH_MAX] = "";
    zn_mpread_t reader;
    zn_mpread_init(&reader, bytes);
    return s_flat_value(&reader, path, 0, out, fault);
}
