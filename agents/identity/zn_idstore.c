/* SPDX-License-Identifier: Apache-2.0 */
/* zn_idstore.c - identity records over zn_store tables and indexes. */
#include "zn_idstore.h"

#include <errno.h>
#include <string.h>

#include "zn_batch.h"
#include "zn_mem.h"
#include "zn_sclient.h"
#include "zn_secure.h"
#include "zn_store.h"
#include "zn_tables.h"
#include "zn_uuid.h"

#define S_PAGE 128

#define S_STR(type, name, max)                                  \
    {                                                           \
#name, ZN_FT_STR, 0, offsetof(type, name), 0, max, NULL \
    }
#define S_REQ(type, name, max)                                              \
    {                                                                       \
#name, ZN_FT_STR, ZN_F_REQUIRED, offsetof(type, name), 0, max, NULL \
    }
#define S_BOOL(type, name)                                     \
    {                                                          \
#name, ZN_FT_BOOL, 0, offsetof(type, name), 0, 0, NULL \
    }
#define S_I64(type, name)                                     \
    {                                                         \
#name, ZN_FT_I64, 0, offsetof(type, name), 0, 0, NULL \
    }

static const zn_field_t s_domain_fields[] = {
    S_REQ(zn_id_domain_t, id, ZN_ID_ID_MAX), S_REQ(zn_id_domain_t, name, ZN_ID_NAME_MAX),
    S_STR(zn_id_domain_t, description, 4096), S_BOOL(zn_id_domain_t, enabled)};
static const zn_field_t s_project_fields[] = {
    S_REQ(zn_id_project_t, id, ZN_ID_ID_MAX), S_REQ(zn_id_project_t, name, ZN_ID_NAME_MAX),
    S_REQ(zn_id_project_t, domain_id, ZN_ID_ID_MAX), S_STR(zn_id_project_t, description, 4096),
    S_BOOL(zn_id_project_t, enabled)};
static const zn_field_t s_user_fields[] = {S_REQ(zn_id_user_t, id, ZN_ID_ID_MAX),
                                           S_REQ(zn_id_user_t, name, ZN_ID_NAME_MAX),
                                           S_REQ(zn_id_user_t, domain_id, ZN_ID_ID_MAX),
                                           S_STR(zn_id_user_t, default_project_id, ZN_ID_ID_MAX),
                                           S_STR(zn_id_user_t, email, 255),
                                           S_STR(zn_id_user_t, description, 4096),
                                           S_STR(zn_id_user_t, password_hash, 255),
                                           S_BOOL(zn_id_user_t, enabled),
                                           S_I64(zn_id_user_t, password_changed_ms)};
static const zn_field_t s_role_fields[] = {S_REQ(zn_id_role_t, id, ZN_ID_ID_MAX),
                                           S_REQ(zn_id_role_t, name, ZN_ID_NAME_MAX)};
static const zn_field_t s_assignment_fields[] = {
    S_REQ(zn_id_assignment_t, id, 200), S_REQ(zn_id_assignment_t, project_id, ZN_ID_ID_MAX),
    S_REQ(zn_id_assignment_t, user_id, ZN_ID_ID_MAX),
    S_REQ(zn_id_assignment_t, role_id, ZN_ID_ID_MAX)};
static const zn_field_t s_service_fields[] = {
    S_REQ(zn_id_service_t, id, ZN_ID_ID_MAX), S_REQ(zn_id_service_t, type, ZN_ID_NAME_MAX),
    S_STR(zn_id_service_t, name, ZN_ID_NAME_MAX), S_STR(zn_id_service_t, description, 4096),
    S_BOOL(zn_id_service_t, enabled)};
static const zn_field_t s_endpoint_fields[] = {
    S_REQ(zn_id_endpoint_t, id, ZN_ID_ID_MAX), S_REQ(zn_id_endpoint_t, service_id, ZN_ID_ID_MAX),
    S_REQ(zn_id_endpoint_t, interface, 16),    S_STR(zn_id_endpoint_t, region, ZN_ID_NAME_MAX),
    S_REQ(zn_id_endpoint_t, url, 1024),        S_BOOL(zn_id_endpoint_t, enabled)};
static const zn_field_t s_revocation_fields[] = {
    S_REQ(zn_id_revocation_t, id, ZN_ID_ID_MAX),
    S_STR(zn_id_revocation_t, audit_id, 32),
    S_STR(zn_id_revocation_t, user_id, ZN_ID_ID_MAX),
    S_STR(zn_id_revocation_t, project_id, ZN_ID_ID_MAX),
    S_I64(zn_id_revocation_t, issued_before_ms),
    S_I64(zn_id_revocation_t, expires_at_ms)};

#define S_SCHEMA(name, type, fields)                          \
    {                                                         \
        name, 1, fields, ZN_ARRAY_COUNT(fields), sizeof(type) \
    }

static const zn_schema_t s_schemas[ZN_ID_KIND_COUNT] = {
    [ZN_ID_DOMAIN] = S_SCHEMA("domain", zn_id_domain_t, s_domain_fields),
    [ZN_ID_PROJECT] = S_SCHEMA("project", zn_id_project_t, s_project_fields),
    [ZN_ID_USER] = S_SCHEMA("user", zn_id_user_t, s_user_fields),
    [ZN_ID_ROLE] = S_SCHEMA("role", zn_id_role_t, s_role_fields),
    [ZN_ID_ASSIGNMENT] = S_SCHEMA("assignment", zn_id_assignment_t, s_assignment_fields),
    [ZN_ID_SERVICE] = S_SCHEMA("service", zn_id_service_t, s_service_fields),
    [ZN_ID_ENDPOINT] = S_SCHEMA("endpoint", zn_id_endpoint_t, s_endpoint_fields),
    [ZN_ID_REVOCATION] = S_SCHEMA("revocation", zn_id_revocation_t, s_revocation_fields),
};

/* How each kind is stored: its table, and where the fields that its indexes use live
 * (SIZE_MAX: none). A name index value is "DOMAIN/NAME" for domain-owned kinds. */
typedef struct s_kind {
    const char *table;
    size_t name_offset;
    size_t domain_offset;
} s_kind_t;

static const s_kind_t s_kinds[ZN_ID_KIND_COUNT] = {
    [ZN_ID_DOMAIN] = {ZN_TABLE_ID_DOMAINS, offsetof(zn_id_domain_t, name), SIZE_MAX},
    [ZN_ID_PROJECT] = {ZN_TABLE_ID_PROJECTS, offsetof(zn_id_project_t, name),
                       offsetof(zn_id_project_t, domain_id)},
    [ZN_ID_USER] = {ZN_TABLE_ID_USERS, offsetof(zn_id_user_t, name),
                    offsetof(zn_id_user_t, domain_id)},
    [ZN_ID_ROLE] = {ZN_TABLE_ID_ROLES, offsetof(zn_id_role_t, name), SIZE_MAX},
    [ZN_ID_ASSIGNMENT] = {ZN_TABLE_ID_ASSIGNMENTS, SIZE_MAX, SIZE_MAX},
    [ZN_ID_SERVICE] = {ZN_TABLE_ID_SERVICES, SIZE_MAX, SIZE_MAX},
    [ZN_ID_ENDPOINT] = {ZN_TABLE_ID_ENDPOINTS, SIZE_MAX, SIZE_MAX},
    [ZN_ID_REVOCATION] = {ZN_TABLE_ID_REVOCATIONS, SIZE_MAX, SIZE_MAX},
};

struct zn_idstore {
    zn_store_t *store;   /* local mode */
    zn_sclient_t *sc;    /* replicated mode */
    zn_secure_t *secure; /* replicated mode: our keys for the conductors */
    bool resolved;       /* the table handles below are set */
    const zn_store_table_t *tables[ZN_ID_KIND_COUNT];
    const zn_store_index_t *by_name[ZN_ID_KIND_COUNT];
    const zn_store_index_t *by_user;
    const zn_store_index_t *by_project;
};

static const char *
s_field(const void *obj, size_t offset)
{
    return zn_idstore_str(obj, offset);
}

static char *
s_name_key(zn_id_kind_t kind, const char *domain_id, const char *name)
{
    if (s_kinds[kind].domain_offset == SIZE_MAX) {
        return zn_strdup(name);
    }
    return zn_asprintf("%s/%s", domain_id != NULL ? domain_id : "", name);
}

/* Look the tables up once the store can be read (in replicated mode the conductor creates
 * the replica, possibly after identity started). */
static int
s_resolve(zn_idstore_t *self)
{
    if (self->resolved) {
        return 0;
    }
    for (int kind = 0; kind < ZN_ID_KIND_COUNT; kind++) {
        self->tables[kind] = self->store != NULL ? zn_store_table(self->store, s_kinds[kind].table)
                                                 : zn_sclient_table(self->sc, s_kinds[kind].table);
        if (self->tables[kind] == NULL) {
            return -EIO;
        }
        self->by_name[kind] = s_kinds[kind].name_offset != SIZE_MAX
                                  ? zn_store_index(self->tables[kind], "by_name")
                                  : NULL;
    }
    self->by_user = zn_store_index(self->tables[ZN_ID_ASSIGNMENT], "by_user");
    self->by_project = zn_store_index(self->tables[ZN_ID_ASSIGNMENT], "by_project");
    self->resolved = true;
    return 0;
}

static int
s_read_begin(zn_idstore_t *self, zn_store_read_t **txn)
{
    *txn = NULL;
    if (s_resolve(self) < 0) {
        return -EIO;
    }
    int rc = self->store != NULL ? zn_store_read_begin(self->store, txn)
                                 : zn_sclient_read_begin(self->sc, txn, NULL);
    return rc < 0 ? -EIO : 0;
}

/* Commit BATCH: in place (local) or through the conductors (replicated). */
static int
s_apply(zn_idstore_t *self, const zn_batch_t *batch, zn_fault_t *fault)
{
    if (self->store != NULL) {
        return zn_store_apply(self->store, zn_batch_bytes(batch), 0, fault);
    }
    return zn_sclient_write_sync(self->sc, NULL, batch, ZN_SCLIENT_WRITE_TIMEOUT_MS, fault);
}

static int
s_open_local(zn_idstore_t *self, const zn_idstore_opts_t *opts, zn_fault_t *fault)
{
    size_t count = 0;
    const zn_store_table_def_t *tables = zn_tables(&count);
    zn_store_opts_t sopts = {
        .path = opts->path,
        .tables = tables,
        .table_count = count,
        .map_initial_bytes = 16u << 20,
    };
    int rc = zn_store_open(&self->store, &sopts, fault);
    return rc < 0 ? rc : s_resolve(self);
}

static int
s_open_replicated(zn_idstore_t *self, const zn_idstore_opts_t *opts, zn_fault_t *fault)
{
    int rc = zn_secure_open(&self->secure, opts->curve, opts->keys_dir, opts->key_name, fault);
    char conductor_public[ZN_KEY_Z85_LEN + 1];
    if (rc == 0) {
        rc = zn_secure_peer_public(self->secure, "conductor", conductor_public, fault);
    }
    if (rc < 0) {
        return rc;
    }
    zn_sclient_opts_t sopts = {
        .data_dir = opts->replica_dir,
        .conductor_call = opts->conductor_call,
        .keys = zn_secure_keys(self->secure),
        .conductor_public = zn_secure_public_or_null(self->secure, conductor_public),
    };
    return zn_sclient_open(&self->sc, &sopts, fault);
}

int
zn_idstore_open(zn_idstore_t **out, const zn_idstore_opts_t *opts, zn_fault_t *fault)
{
    *out = NULL;
    zn_idstore_t *self = zn_calloc(1, sizeof(*self));
    bool replicated = opts->conductor_call != NULL && opts->conductor_call[0] != '\0';
    int rc = replicated ? s_open_replicated(self, opts, fault) : s_open_local(self, opts, fault);
    if (rc < 0) {
        zn_idstore_destroy(&self);
        return rc;
    }
    *out = self;
    return 0;
}

void
zn_idstore_destroy(zn_idstore_t **self_p)
{
    zn_idstore_t *self = *self_p;
    if (self == NULL) {
        return;
    }
    zn_store_destroy(&self->store);
    zn_sclient_destroy(&self->sc);
    zn_secure_destroy(&self->secure);
    zn_free(self);
    *self_p = NULL;
}

const zn_schema_t *
zn_idstore_schema(zn_id_kind_t kind)
{
    return &s_schemas[kind];
}

void *
zn_idstore_record_new(zn_id_kind_t kind)
{
    return zn_calloc(1, s_schemas[kind].size);
}

void
zn_idstore_record_free(zn_id_kind_t kind, void **obj_p)
{
    if (*obj_p == NULL) {
        return;
    }
    zn_schema_release(&s_schemas[kind], *obj_p);
    zn_free(*obj_p);
    *obj_p = NULL;
}

void
zn_idstore_release(zn_id_kind_t kind, void *obj)
{
    zn_schema_release(&s_schemas[kind], obj);
}

static int
s_decode(zn_id_kind_t kind, const zn_store_record_t *record, void *obj)
{
    return zn_schema_decode(&s_schemas[kind], record->value, obj, NULL, NULL) < 0 ? -EBADMSG : 0;
}

int
zn_idstore_get(zn_idstore_t *self, zn_id_kind_t kind, const char *id, void *obj)
{
    memset(obj, 0, s_schemas[kind].size);
    if (id == NULL || id[0] == '\0' || strlen(id) > ZN_STORE_KEY_MAX_BYTES) {
        return -ENOENT;
    }
    zn_store_read_t *txn = NULL;
    int rc = s_read_begin(self, &txn);
    if (rc < 0) {
        return -EIO;
    }
    zn_store_record_t record;
    rc = zn_store_get(txn, self->tables[kind], zn_batch_str(id), &record);
    if (rc == 0) {
        rc = s_decode(kind, &record, obj);
    }
    zn_store_read_end(&txn);
    return rc;
}

int
zn_idstore_find(zn_idstore_t *self, zn_id_kind_t kind, const char *domain_id, const char *name,
                void *obj)
{
    memset(obj, 0, s_schemas[kind].size);
    (void)s_resolve(self); /* failing, the lookup below finds nothing */
    if (self->by_name[kind] == NULL || name == NULL || strlen(name) > ZN_ID_NAME_MAX) {
        return -ENOENT;
    }
    char *value = s_name_key(kind, domain_id, name);
    zn_store_index_query_t query = {.value = zn_batch_str(value), .match = ZN_STORE_MATCH_EXACT};
    zn_store_read_t *txn = NULL;
    int rc = s_read_begin(self, &txn);
    if (rc == 0) {
        zn_store_record_t record;
        rc = zn_store_index_scan(txn, self->by_name[kind], &query, &record, 1);
        rc = rc == 1 ? s_decode(kind, &record, obj) : (rc == 0 ? -ENOENT : rc);
        zn_store_read_end(&txn);
    }
    zn_str_free(&value);
    return rc == -EINVAL ? -ENOENT : rc;
}

typedef struct s_page {
    zn_idstore_t *self;
    zn_id_kind_t kind;
    const zn_store_index_t *index;
    const char *value;
    uint8_t marker[ZN_STORE_KEY_MAX_BYTES];
    size_t marker_len;
} s_page_t;

/* One page of a listing: up to S_PAGE records after the marker, each handed to FN. Returns
 * the number read (< S_PAGE at the end), FN's stop value as a positive ZN_EDONE-style code
 * through *stop, or a negative errno. */
static int
s_each_page(s_page_t *page, zn_idstore_each_fn *fn, void *arg, int *stop)
{
    zn_store_record_t records[S_PAGE];
    zn_store_read_t *txn = NULL;
    if (s_read_begin(page->self, &txn) < 0) {
        return -EIO;
    }
    zn_buf_t marker = {page->marker, page->marker_len};
    int count = 0;
    if (page->index != NULL) {
        zn_store_index_query_t query = {.value = zn_batch_str(page->value),
                                        .marker_value = zn_batch_str(page->value),
                                        .marker_key = marker};
        count = zn_store_index_scan(txn, page->index, &query, records, S_PAGE);
    } else {
        count = zn_store_scan(txn, page->self->tables[page->kind], marker, records, S_PAGE);
    }
    void *obj = zn_idstore_record_new(page->kind);
    for (int i = 0; i < count && *stop == 0; i++) {
        if (s_decode(page->kind, &records[i], obj) == 0) {
            *stop = fn(arg, obj);
            zn_idstore_release(page->kind, obj);
        }
    }
    if (count > 0) {
        page->marker_len = records[count - 1].key.len;
        memcpy(page->marker, records[count - 1].key.ptr, page->marker_len);
    }
    zn_idstore_record_free(page->kind, &obj);
    zn_store_read_end(&txn);
    return count;
}

int
zn_idstore_each(zn_idstore_t *self, zn_id_kind_t kind, const char *user_id, const char *project_id,
                zn_idstore_each_fn *fn, void *arg)
{
    if (s_resolve(self) < 0) {
        return -EIO;
    }
    s_page_t page = {.self = self, .kind = kind};
    if (kind == ZN_ID_ASSIGNMENT && user_id != NULL) {
        page.index = self->by_user;
        page.value = user_id;
    } else if (kind == ZN_ID_ASSIGNMENT && project_id != NULL) {
        page.index = self->by_project;
        page.value = project_id;
    }
    if (page.value != NULL && (page.value[0] == '\0' || strlen(page.value) > ZN_ID_ID_MAX)) {
        return 0; /* no record can match */
    }
    int stop = 0;
    int count = S_PAGE;
    while (count == S_PAGE && stop == 0) {
        count = s_each_page(&page, fn, arg, &stop);
    }
    return count < 0 ? count : stop;
}

/* -EEXIST when another record of KIND than OBJ already has OBJ's name in its domain. */
static int
s_check_name(zn_idstore_t *self, zn_id_kind_t kind, const void *obj, zn_fault_t *fault)
{
    const s_kind_t *k = &s_kinds[kind];
    if (k->name_offset == SIZE_MAX) {
        return 0;
    }
    const char *name = s_field(obj, k->name_offset);
    const char *domain = k->domain_offset != SIZE_MAX ? s_field(obj, k->domain_offset) : NULL;
    void *other = zn_idstore_record_new(kind);
    int rc = zn_idstore_find(self, kind, domain, name, other);
    bool taken = rc == 0 && strcmp(s_field(other, 0), s_field(obj, 0)) != 0;
    zn_idstore_record_free(kind, &other);
    if (taken) {
        return zn_fault_set(fault, -EEXIST, "a %s named %s already exists", s_schemas[kind].name,
                            name);
    }
    return rc == -ENOENT || rc == 0 ? 0 : rc;
}

static int
s_put(zn_idstore_t *self, zn_id_kind_t kind, const void *obj, uint64_t expect_gen,
      zn_fault_t *fault)
{
    zn_pack_t *pack = zn_pack_new();
    zn_schema_encode(&s_schemas[kind], obj, pack);
    zn_batch_t *batch = zn_batch_new();
    int rc = zn_batch_put(batch, s_kinds[kind].table, zn_batch_str(s_field(obj, 0)),
                          zn_pack_buf(pack), expect_gen);
    if (rc == 0) {
        rc = s_apply(self, batch, fault);
    }
    if (rc == ZN_ECONFLICT) {
        rc = zn_fault_set(fault, expect_gen == ZN_BATCH_GEN_ABSENT ? -EEXIST : -ENOENT, "%s %s: %s",
                          s_schemas[kind].name, s_field(obj, 0),
                          expect_gen == ZN_BATCH_GEN_ABSENT ? "already exists" : "not found");
    } else if (rc < 0) {
        rc = zn_fault_set(fault, rc == -EINVAL ? -EINVAL : -EIO, "%s %s: cannot store: %s",
                          s_schemas[kind].name, s_field(obj, 0), zn_strerror(rc));
    }
    zn_batch_destroy(&batch);
    zn_pack_destroy(&pack);
    return rc;
}

int
zn_idstore_create(zn_idstore_t *self, zn_id_kind_t kind, const void *obj, zn_fault_t *fault)
{
    int rc = s_check_name(self, kind, obj, fault);
    return rc < 0 ? rc : s_put(self, kind, obj, ZN_BATCH_GEN_ABSENT, fault);
}

int
zn_idstore_update(zn_idstore_t *self, zn_id_kind_t kind, const void *obj, zn_fault_t *fault)
{
    zn_store_read_t *txn = NULL;
    uint64_t generation = 0;
    if (s_read_begin(self, &txn) < 0) {
        return zn_fault_set(fault, -EIO, "cannot read the identity store");
    }
    int rc = zn_store_get_generation(txn, self->tables[kind], zn_batch_str(s_field(obj, 0)),
                                     &generation);
    zn_store_read_end(&txn);
    if (rc < 0) {
        return zn_fault_set(fault, -ENOENT, "%s %s: not found", s_schemas[kind].name,
                            s_field(obj, 0));
    }
    rc = s_check_name(self, kind, obj, fault);
    return rc < 0 ? rc : s_put(self, kind, obj, generation, fault);
}

int
zn_idstore_delete(zn_idstore_t *self, zn_id_kind_t kind, const char *id, zn_fault_t *fault)
{
    void *obj = zn_idstore_record_new(kind);
    int rc = zn_idstore_get(self, kind, id, obj);
    zn_idstore_record_free(kind, &obj);
    if (rc < 0) {
        return zn_fault_set(fault, -ENOENT, "%s %s: not found", s_schemas[kind].name, id);
    }
    zn_batch_t *batch = zn_batch_new();
    rc = zn_batch_delete(batch, s_kinds[kind].table, zn_batch_str(id), ZN_BATCH_GEN_ANY);
    if (rc == 0) {
        rc = s_apply(self, batch, fault);
    }
    zn_batch_destroy(&batch);
    return rc < 0 ? zn_fault_set(fault, -EIO, "%s %s: cannot delete", s_schemas[kind].name, id) : 0;
}

bool
zn_idstore_has_role(zn_idstore_t *self, const char *project_id, const char *user_id,
                    const char *role_id)
{
    char *id = zn_idstore_assignment_id(project_id, user_id, role_id);
    zn_store_read_t *txn = NULL;
    uint64_t generation = 0;
    bool found = false;
    if (strlen(id) <= ZN_STORE_KEY_MAX_BYTES && s_read_begin(self, &txn) == 0) {
        found = zn_store_get_generation(txn, self->tables[ZN_ID_ASSIGNMENT], zn_batch_str(id),
                                        &generation) == 0;
        zn_store_read_end(&txn);
    }
    zn_str_free(&id);
    return found;
}

void
zn_idstore_new_id(char out[33])
{
    zn_uuid_t uuid = zn_uuid_generate();
    size_t n = 0;
    for (size_t i = 0; uuid.str[i] != '\0'; i++) {
        if (uuid.str[i] != '-') {
            out[n++] = uuid.str[i]; /* zn_uuid is lowercase hex already */
        }
    }
    out[n] = '\0';
}

const char *
zn_idstore_str(const void *obj, size_t offset)
{
    const char *value = NULL;
    memcpy(&value, (const uint8_t *)obj + offset, sizeof(value)); /* no alignment assumed */
    return value;
}

void
zn_idstore_set_str(void *obj, size_t offset, char *owned)
{
    char *old = NULL;
    memcpy(&old, (uint8_t *)obj + offset, sizeof(old));
    zn_free(old);
    memcpy((uint8_t *)obj + offset, &owned, sizeof(owned));
}

bool
zn_idstore_bool(const void *obj, size_t offset)
{
    bool value = false;
    memcpy(&value, (const uint8_t *)obj + offset, sizeof(value));
    return value;
}

void
zn_idstore_set_bool(void *obj, size_t offset, bool value)
{
    memcpy((uint8_t *)obj + offset, &value, sizeof(value));
}

char *
zn_idstore_assignment_id(const char *project_id, const char *user_id, const char *role_id)
{
    return zn_asprintf("%s/%s/%s", project_id, user_id, role_id);
}
