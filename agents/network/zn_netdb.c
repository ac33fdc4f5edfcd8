/* SPDX-License-Identifier: Apache-2.0 */
/* zn_netdb.c - records, conditional writes and IP allocation over the replicated store. */
#include "zn_netdb.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

#include "zn_clock.h"
#include "zn_failpoint.h"
#include "zn_ipam.h"
#include "zn_log.h"
#include "zn_mem.h"
#include "zn_str.h"
#include "zn_tables.h"

#define S_PAGE           256
#define S_UPDATE_RETRIES 8

/* What this agent knows of one subnet's addresses. */
typedef struct {
    zn_ipam_t *ipam;
    zn_cidr_t cidr;
    bool loaded; /* marks reflect the replica (plus writes in flight) */
    int64_t loaded_ms;
} s_tracker_t;

typedef struct s_port_op s_port_op_t;

struct zn_netdb {
    zn_sclient_t *sclient;
    int64_t write_timeout_ms;
    zhashx_t *trackers; /* subnet id -> s_tracker_t */
    s_port_op_t *ops;   /* port creations in flight (a list through next/prev) */
    size_t op_count;
    bool closing;          /* zn_netdb_shutdown: no more writes */
    zn_metrics_t *metrics; /* borrowed, may be NULL */
};

static const char *const s_tables[] = {ZN_TABLE_NETWORKS, ZN_TABLE_SUBNETS, ZN_TABLE_PORTS};
static const char *const s_labels[] = {"Network", "Subnet", "Port"};

static void
s_tracker_free(void **item_p)
{
    s_tracker_t *tracker = *item_p;
    if (tracker != NULL) {
        zn_ipam_destroy(&tracker->ipam);
        zn_free(tracker);
        *item_p = NULL;
    }
}

zn_netdb_t *
zn_netdb_new(zn_sclient_t *sclient, int64_t write_timeout_ms)
{
    zn_netdb_t *self = zn_calloc(1, sizeof(*self));
    self->sclient = sclient;
    self->write_timeout_ms = write_timeout_ms;
    self->trackers = zhashx_new();
    zhashx_set_destructor(self->trackers, s_tracker_free);
    return self;
}

static void s_op_free(s_port_op_t **op_p);

void
zn_netdb_destroy(zn_netdb_t **self_p)
{
    zn_netdb_t *self = *self_p;
    if (self == NULL) {
        return;
    }
    zhashx_destroy(&self->trackers);
    zn_free(self);
    *self_p = NULL;
}

static void s_wake_parked(zn_netdb_t *self);

void
zn_netdb_set_metrics(zn_netdb_t *self, zn_metrics_t *metrics)
{
    self->metrics = metrics;
}

static void
s_count(const zn_netdb_t *self, const char *name)
{
    if (self->metrics != NULL) {
        zn_metrics_count(self->metrics, name, 1);
    }
}

void
zn_netdb_shutdown(zn_netdb_t *self)
{
    self->closing = true;
    s_wake_parked(self); /* each attempt now fails with ZN_EUNAVAIL and ends */
}

size_t
zn_netdb_pending(const zn_netdb_t *self)
{
    return self->op_count;
}

/* ---- reads --------------------------------------------------------------------------------- */

const zn_schema_t *
zn_netdb_schema(zn_netdb_kind_t kind)
{
    static const zn_schema_t *const schemas[] = {&zn_net_network_schema, &zn_net_subnet_schema,
                                                 &zn_net_port_schema};
    return schemas[kind];
}

void
zn_netdb_release(zn_netdb_kind_t kind, void *obj)
{
    zn_schema_release(zn_netdb_schema(kind), obj);
}

static int
s_table(zn_netdb_t *self, const char *name, const zn_store_table_t **out, zn_fault_t *fault)
{
    *out = zn_sclient_table(self->sclient, name);
    if (*out == NULL) {
        return zn_fault_set(fault, ZN_EUNAVAIL, "the store replica is not readable yet");
    }
    return 0;
}

int
zn_netdb_get(zn_netdb_t *self, zn_netdb_kind_t kind, const char *id, void *obj,
             uint64_t *generation, zn_fault_t *fault)
{
    memset(obj, 0, zn_netdb_schema(kind)->size);
    const zn_store_table_t *table = NULL;
    zn_store_read_t *txn = NULL;
    int rc = s_table(self, s_tables[kind], &table, fault);
    if (rc == 0) {
        rc = zn_sclient_read_begin(self->sclient, &txn, fault);
    }
    if (rc == 0 && (id == NULL || id[0] == '\0' || strlen(id) > ZN_STORE_KEY_MAX_BYTES)) {
        rc = -ENOENT;
    } else if (rc == 0) {
        rc = zn_sclient_get(txn, table, id, zn_netdb_schema(kind), obj, generation, fault);
    }
    zn_store_read_end(&txn);
    if (rc == -ENOENT) {
        return zn_fault_set(fault, rc, "%s %s could not be found.", s_labels[kind],
                            id != NULL ? id : "");
    }
    return rc;
}

static int
s_visit_page(zn_netdb_kind_t kind, const zn_store_record_t *recs, int count,
             zn_netdb_visit_fn *visit, void *arg, bool *stop)
{
    int visited = 0;
    for (int i = 0; i < count && !*stop; i++) {
        union {
            zn_net_network_t network;
            zn_net_subnet_t subnet;
            zn_net_port_t port;
        } rec;

        if (zn_schema_decode(zn_netdb_schema(kind), recs[i].value, &rec, NULL, NULL) < 0) {
            continue; /* a damaged record must not hide the others */
        }
        *stop = !visit(arg, &rec);
        zn_netdb_release(kind, &rec);
        visited++;
    }
    return visited;
}

static int
s_scan_page(zn_store_read_t *txn, const zn_store_table_t *table, const char *index,
            const char *value, const zn_store_record_t *last, zn_store_record_t *recs,
            zn_fault_t *fault)
{
    if (index == NULL) {
        zn_buf_t marker = last != NULL ? last->key : (zn_buf_t){NULL, 0};
        return zn_store_scan(txn, table, marker, recs, S_PAGE);
    }
    const zn_store_index_t *idx = zn_store_index(table, index);
    if (idx == NULL) {
        return zn_fault_set(fault, -EINVAL, "no index %s", index);
    }
    zn_store_index_query_t query = {.value = zn_batch_str(value), .match = ZN_STORE_MATCH_EXACT};
    if (last != NULL) {
        query.marker_value = last->index_value;
        query.marker_key = last->key;
    }
    return zn_store_index_scan(txn, idx, &query, recs, S_PAGE);
}

int
zn_netdb_list(zn_netdb_t *self, zn_netdb_kind_t kind, const char *index, const char *value,
              zn_netdb_visit_fn *visit, void *arg, zn_fault_t *fault)
{
    const zn_store_table_t *table = NULL;
    zn_store_read_t *txn = NULL;
    int rc = s_table(self, s_tables[kind], &table, fault);
    if (rc == 0) {
        rc = zn_sclient_read_begin(self->sclient, &txn, fault);
    }
    if (rc < 0) {
        return rc;
    }
    if (index != NULL &&
        (value == NULL || value[0] == '\0' || strlen(value) > ZN_STORE_INDEX_VALUE_MAX_BYTES)) {
        zn_store_read_end(&txn);
        return 0; /* nothing is indexed under an empty or oversized value */
    }
    zn_store_record_t *recs = zn_calloc(S_PAGE, sizeof(*recs));
    int total = 0;
    bool stop = false;
    const zn_store_record_t *last = NULL;
    while (!stop) {
        int count = s_scan_page(txn, table, index, value, last, recs, fault);
        if (count < 0) {
            total = zn_fault_set(fault, count, "listing failed: %s", zn_strerror(count));
            break;
        }
        total += s_visit_page(kind, recs, count, visit, arg, &stop);
        if (count < S_PAGE) {
            break;
        }
        last = &recs[count - 1]; /* still valid: the transaction is open */
    }
    zn_free(recs);
    zn_store_read_end(&txn);
    return total;
}

typedef struct {
    zn_net_subnet_t *items;
    size_t count;
    size_t cap;
} s_subnet_list_t;

static bool
s_collect_subnet(void *arg, const void *record)
{
    s_subnet_list_t *list = arg;
    if (list->count == list->cap) {
        list->cap = list->cap == 0 ? 4 : list->cap * 2;
        list->items = zn_realloc(list->items, list->cap * sizeof(*list->items));
    }
    zn_schema_copy(&zn_net_subnet_schema, &list->items[list->count++], record);
    return true;
}

static int
s_subnet_age(const void *a, const void *b)
{
    const zn_net_subnet_t *x = a;
    const zn_net_subnet_t *y = b;
    if (x->created_ms != y->created_ms) {
        return x->created_ms < y->created_ms ? -1 : 1;
    }
    return strcmp(x->id, y->id);
}

int
zn_netdb_subnets(zn_netdb_t *self, const char *network_id, zn_net_subnet_t **out, size_t *count,
                 zn_fault_t *fault)
{
    s_subnet_list_t list = {NULL, 0, 0};
    int rc = zn_netdb_list(self, ZN_NETDB_SUBNET, "network_id", network_id, s_collect_subnet, &list,
                           fault);
    if (rc < 0) {
        zn_netdb_subnets_free(&list.items, list.count);
        return rc;
    }
    if (list.count > 1) {
        qsort(list.items, list.count, sizeof(*list.items), s_subnet_age);
    }
    *out = list.items;
    *count = list.count;
    return 0;
}

void
zn_netdb_subnets_free(zn_net_subnet_t **subnets_p, size_t count)
{
    zn_net_subnet_t *subnets = *subnets_p;
    for (size_t i = 0; subnets != NULL && i < count; i++) {
        zn_schema_release(&zn_net_subnet_schema, &subnets[i]);
    }
    zn_free(subnets);
    *subnets_p = NULL;
}

/* ---- plain writes -------------------------------------------------------------------------- */

typedef struct {
    zn_netdb_done_fn *done;
    void *arg;
} s_write_t;

static void
s_on_plain(void *arg, const zn_fault_t *fault)
{
    s_write_t *write = arg;
    write->done(write->arg, fault);
    zn_free(write);
}

/* Send BATCH; DONE runs once with the outcome. */
static int
s_write(zn_netdb_t *self, const zn_ctx_t *ctx, const zn_batch_t *batch, zn_netdb_done_fn *done,
        void *arg)
{
    if (self->closing) {
        return ZN_EUNAVAIL;
    }
    s_write_t *write = zn_calloc(1, sizeof(*write));
    write->done = done;
    write->arg = arg;
    int rc = zn_sclient_write(self->sclient, ctx, batch, self->write_timeout_ms, s_on_plain, write);
    if (rc < 0) {
        zn_free(write);
    }
    return rc;
}

int
zn_netdb_put(zn_netdb_t *self, const zn_ctx_t *ctx, zn_netdb_kind_t kind, const void *obj,
             uint64_t expect_gen, zn_netdb_done_fn *done, void *arg)
{
    zn_batch_t *batch = zn_batch_new();
    const char *id = *(char *const *)obj; /* every record starts with its id */
    int rc = zn_sclient_put(batch, s_tables[kind], id, zn_netdb_schema(kind), obj, expect_gen);
    if (rc == 0) {
        rc = s_write(self, ctx, batch, done, arg);
    }
    zn_batch_destroy(&batch);
    return rc;
}

/* ---- read-modify-write --------------------------------------------------------------------- */

typedef struct {
    zn_netdb_t *self;
    zn_ctx_t ctx;
    zn_netdb_kind_t kind;
    char *id;
    zn_netdb_apply_fn *apply;
    void *apply_arg;
    zn_netdb_record_fn *done;
    void *arg;
    int attempts;

    union {
        zn_net_network_t network;
        zn_net_subnet_t subnet;
        zn_net_port_t port;
    } rec;
} s_update_t;

static void
s_update_free(s_update_t **update_p)
{
    s_update_t *update = *update_p;
    zn_netdb_release(update->kind, &update->rec);
    zn_free(update->id);
    zn_free(update);
    *update_p = NULL;
}

static void s_on_updated(void *arg, const zn_fault_t *fault);

static int
s_update_try(s_update_t *update, zn_fault_t *fault)
{
    zn_netdb_release(update->kind, &update->rec);
    uint64_t gen = 0;
    int rc = zn_netdb_get(update->self, update->kind, update->id, &update->rec, &gen, fault);
    if (rc == 0) {
        rc = update->apply(update->apply_arg, &update->rec, fault);
    }
    if (rc == 0) {
        rc = zn_netdb_put(update->self, &update->ctx, update->kind, &update->rec, gen, s_on_updated,
                          update);
        if (rc < 0) {
            zn_fault_set(fault, rc, "store write not sent: %s", zn_strerror(rc));
        }
    }
    return rc;
}

static void
s_on_updated(void *arg, const zn_fault_t *fault)
{
    s_update_t *update = arg;
    if (fault->code == ZN_ECONFLICT && ++update->attempts < S_UPDATE_RETRIES) {
        zn_fault_t why;
        zn_fault_clear(&why);
        if (s_update_try(update, &why) == 0) {
            return;
        }
        update->done(update->arg, NULL, &why);
        s_update_free(&update);
        return;
    }
    update->done(update->arg, fault->code == 0 ? &update->rec : NULL, fault);
    s_update_free(&update);
}

int
zn_netdb_update(zn_netdb_t *self, const zn_ctx_t *ctx, zn_netdb_kind_t kind, const char *id,
                zn_netdb_apply_fn *apply, void *apply_arg, zn_netdb_record_fn *done, void *arg,
                zn_fault_t *fault)
{
    s_update_t *update = zn_calloc(1, sizeof(*update));
    update->self = self;
    if (ctx != NULL) {
        zn_ctx_copy(&update->ctx, ctx);
    }
    update->kind = kind;
    update->id = zn_strdup(id);
    update->apply = apply;
    update->apply_arg = apply_arg;
    update->done = done;
    update->arg = arg;
    int rc = s_update_try(update, fault);
    if (rc < 0) {
        s_update_free(&update);
    }
    return rc;
}

/* ---- deletes ------------------------------------------------------------------------------- */

static bool
s_count_one(void *arg, const void *record)
{
    (void)record;
    (*(int *)arg)++;
    return false;
}

static int
s_add_delete(zn_batch_t *batch, const char *table, const char *key, uint64_t gen)
{
    return zn_batch_delete(batch, table, zn_batch_str(key), gen);
}

int
zn_netdb_network_delete(zn_netdb_t *self, const zn_ctx_t *ctx, const char *id,
                        zn_netdb_done_fn *done, void *arg, zn_fault_t *fault)
{
    zn_net_network_t net;
    uint64_t gen = 0;
    int rc = zn_netdb_get(self, ZN_NETDB_NETWORK, id, &net, &gen, fault);
    if (rc < 0) {
        return rc;
    }
    zn_netdb_release(ZN_NETDB_NETWORK, &net);
    int ports = 0;
    rc = zn_netdb_list(self, ZN_NETDB_PORT, "network_id", id, s_count_one, &ports, fault);
    if (rc >= 0 && ports > 0) {
        rc = zn_fault_set(fault, ZN_ECONFLICT,
                          "Unable to complete operation on network %s. There are one or more "
                          "ports still in use on the network.",
                          id);
    }
    zn_net_subnet_t *subnets = NULL;
    size_t count = 0;
    if (rc >= 0) {
        rc = zn_netdb_subnets(self, id, &subnets, &count, fault);
    }
    zn_batch_t *batch = zn_batch_new();
    if (rc >= 0) {
        rc = s_add_delete(batch, ZN_TABLE_NETWORKS, id, gen);
    }
    for (size_t i = 0; rc >= 0 && i < count; i++) {
        rc = s_add_delete(batch, ZN_TABLE_SUBNETS, subnets[i].id, ZN_BATCH_GEN_ANY);
        zhashx_delete(self->trackers, subnets[i].id);
    }
    if (rc >= 0) {
        rc = s_write(self, ctx, batch, done, arg);
        rc = rc < 0 ? zn_fault_set(fault, rc, "store write not sent") : 0;
    }
    zn_batch_destroy(&batch);
    zn_netdb_subnets_free(&subnets, count);
    return rc;
}

/* True when any ip_allocs key of SUBNET_ID exists. */
static int
s_subnet_in_use(zn_netdb_t *self, const char *subnet_id, bool *in_use, zn_fault_t *fault)
{
    const zn_store_table_t *table = NULL;
    zn_store_read_t *txn = NULL;
    int rc = s_table(self, ZN_TABLE_IPS, &table, fault);
    if (rc == 0) {
        rc = zn_sclient_read_begin(self->sclient, &txn, fault);
    }
    if (rc < 0) {
        return rc;
    }
    char *prefix = zn_asprintf("%s/", subnet_id);
    zn_store_record_t rec;
    rc = zn_store_scan(txn, table, zn_batch_str(prefix), &rec, 1);
    *in_use =
        rc == 1 && rec.key.len > strlen(prefix) && memcmp(rec.key.ptr, prefix, strlen(prefix)) == 0;
    zn_str_free(&prefix);
    zn_store_read_end(&txn);
    return rc < 0 ? zn_fault_set(fault, rc, "store scan failed") : 0;
}

int
zn_netdb_subnet_delete(zn_netdb_t *self, const zn_ctx_t *ctx, const char *id,
                       zn_netdb_done_fn *done, void *arg, zn_fault_t *fault)
{
    zn_net_subnet_t subnet;
    uint64_t gen = 0;
    int rc = zn_netdb_get(self, ZN_NETDB_SUBNET, id, &subnet, &gen, fault);
    if (rc < 0) {
        return rc;
    }
    zn_netdb_release(ZN_NETDB_SUBNET, &subnet);
    bool in_use = false;
    rc = s_subnet_in_use(self, id, &in_use, fault);
    if (rc == 0 && in_use) {
        return zn_fault_set(fault, ZN_ECONFLICT,
                            "Unable to complete operation on subnet %s: One or more ports have an "
                            "IP allocation from this subnet.",
                            id);
    }
    zn_batch_t *batch = zn_batch_new();
    if (rc == 0) {
        rc = s_add_delete(batch, ZN_TABLE_SUBNETS, id, gen);
    }
    if (rc == 0) {
        rc = s_write(self, ctx, batch, done, arg);
        rc = rc < 0 ? zn_fault_set(fault, rc, "store write not sent") : 0;
    }
    zn_batch_destroy(&batch);
    zhashx_delete(self->trackers, id);
    return rc;
}

/* ---- trackers ------------------------------------------------------------------------------ */

static s_tracker_t *
s_tracker_make(const zn_net_subnet_t *subnet)
{
    zn_ipam_range_t pools[ZN_IPAM_POOLS_MAX];
    size_t count = 0;
    for (size_t i = 0; i < subnet->pool_count && count < ZN_IPAM_POOLS_MAX; i++) {
        if (zn_ipaddr_parse(subnet->pools[i].start, &pools[count].start) == 0 &&
            zn_ipaddr_parse(subnet->pools[i].end, &pools[count].end) == 0) {
            count++;
        }
    }
    s_tracker_t *tracker = zn_calloc(1, sizeof(*tracker));
    tracker->ipam = zn_ipam_new(pools, count);
    if (zn_cidr_parse(subnet->cidr, &tracker->cidr, NULL) < 0) {
        memset(&tracker->cidr, 0, sizeof(tracker->cidr)); /* checked at create: cannot happen */
    }
    return tracker;
}

static void s_mark_in_flight(zn_netdb_t *self, const char *subnet_id, s_tracker_t *tracker);

/* Mark the addresses of RECS (ip_allocs records) while their keys start with PREFIX; returns
 * how many did. */
static int
s_mark_page(s_tracker_t *tracker, const zn_store_record_t *recs, int count, const char *prefix,
            size_t prefix_len)
{
    for (int i = 0; i < count; i++) {
        const zn_store_record_t *r = &recs[i];
        if (r->key.len <= prefix_len || memcmp(r->key.ptr, prefix, prefix_len) != 0) {
            return i;
        }
        char text[ZN_IPADDR_TEXT_MAX];
        size_t len = r->key.len - prefix_len;
        zn_ipaddr_t addr;
        if (len < sizeof(text)) {
            memcpy(text, r->key.ptr + prefix_len, len);
            text[len] = '\0';
            if (zn_ipaddr_parse(text, &addr) == 0) {
                (void)zn_ipam_mark(tracker->ipam, &addr); /* outside the pools: untracked */
            }
        }
    }
    return count;
}

/* Mark every address the replica holds for SUBNET_ID, and those of writes in flight. */
static int
s_tracker_load(zn_netdb_t *self, const char *subnet_id, s_tracker_t *tracker, zn_fault_t *fault)
{
    const zn_store_table_t *table = NULL;
    zn_store_read_t *txn = NULL;
    int rc = s_table(self, ZN_TABLE_IPS, &table, fault);
    if (rc == 0) {
        rc = zn_sclient_read_begin(self->sclient, &txn, fault);
    }
    if (rc < 0) {
        return rc;
    }
    zn_ipam_clear(tracker->ipam);
    char *prefix = zn_asprintf("%s/", subnet_id);
    size_t prefix_len = strlen(prefix);
    zn_store_record_t *recs = zn_calloc(S_PAGE, sizeof(*recs));
    zn_buf_t marker = zn_batch_str(prefix);
    for (;;) {
        int count = zn_store_scan(txn, table, marker, recs, S_PAGE);
        int inside = s_mark_page(tracker, recs, count, prefix, prefix_len);
        if (count < S_PAGE || inside < count) {
            break;
        }
        marker = recs[count - 1].key; /* valid while the transaction is open */
    }
    zn_free(recs);
    zn_str_free(&prefix);
    zn_store_read_end(&txn);
    s_mark_in_flight(self, subnet_id, tracker);
    tracker->loaded = true;
    tracker->loaded_ms = zn_clock_mono_ms();
    s_count(self, "ip_tracker_loads");
    return 0;
}

static s_tracker_t *
s_tracker(zn_netdb_t *self, const zn_net_subnet_t *subnet, zn_fault_t *fault)
{
    s_tracker_t *tracker = zhashx_lookup(self->trackers, subnet->id);
    if (tracker == NULL) {
        tracker = s_tracker_make(subnet);
        (void)zhashx_insert(self->trackers, subnet->id, tracker); /* absent: checked above */
    }
    if (!tracker->loaded && s_tracker_load(self, subnet->id, tracker, fault) < 0) {
        return NULL;
    }
    return tracker;
}

/* ---- port creation ------------------------------------------------------------------------- */

typedef struct {
    char subnet_id[ZN_NET_ID_MAX + 1];
    bool given;    /* the address was requested: never changed on retry */
    bool has_addr; /* ADDR holds this attempt's address */
    zn_ipaddr_t addr;
} s_slot_t;

struct s_port_op {
    zn_netdb_t *self;
    zn_ctx_t ctx;
    zn_net_port_t *port;
    s_slot_t slots[ZN_NET_IPS_MAX];
    size_t slot_count;
    bool mac_given;
    bool parked; /* waiting for other creations on a full subnet to settle */
    int attempts;
    int64_t start_us;
    zn_netdb_record_fn *done;
    void *arg;
    s_port_op_t *next;
    s_port_op_t *prev;
};

static void
s_mark_in_flight(zn_netdb_t *self, const char *subnet_id, s_tracker_t *tracker)
{
    for (s_port_op_t *op = self->ops; op != NULL; op = op->next) {
        for (size_t i = 0; i < op->slot_count; i++) {
            if (op->slots[i].has_addr && strcmp(op->slots[i].subnet_id, subnet_id) == 0) {
                (void)zn_ipam_mark(tracker->ipam, &op->slots[i].addr);
            }
        }
    }
}

static void
s_op_free(s_port_op_t **op_p)
{
    s_port_op_t *op = *op_p;
    if (op == NULL) {
        return;
    }
    if (op->port != NULL) {
        zn_schema_release(&zn_net_port_schema, op->port);
        zn_free(op->port);
    }
    zn_free(op);
    *op_p = NULL;
}

static void
s_op_unlink(s_port_op_t *op)
{
    zn_netdb_t *self = op->self;
    if (op->prev != NULL) {
        op->prev->next = op->next;
    } else if (self->ops == op) {
        self->ops = op->next;
    } else {
        return; /* never linked */
    }
    if (op->next != NULL) {
        op->next->prev = op->prev;
    }
    op->next = NULL;
    op->prev = NULL;
    self->op_count--;
}

/* Find the subnet of ADDR_TEXT among SUBNETS, or check that SUBNET_ID is one of them. */
static int
s_slot_resolve(s_slot_t *slot, const zn_netdb_ip_req_t *ip, const zn_net_subnet_t *subnets,
               size_t count, zn_fault_t *fault)
{
    zn_ipaddr_t addr;
    if (ip->ip_address != NULL && zn_ipaddr_parse(ip->ip_address, &addr) < 0) {
        return zn_fault_set(fault, -EINVAL,
                            "Invalid input for fixed_ips: '%s' is not an IP "
                            "address",
                            ip->ip_address);
    }
    for (size_t i = 0; i < count; i++) {
        zn_cidr_t cidr;
        if (zn_cidr_parse(subnets[i].cidr, &cidr, NULL) < 0) {
            continue;
        }
        bool same = ip->subnet_id != NULL && strcmp(ip->subnet_id, subnets[i].id) == 0;
        bool holds = ip->ip_address != NULL && zn_cidr_contains(&cidr, &addr);
        if ((ip->subnet_id != NULL && !same) || (ip->subnet_id == NULL && !holds)) {
            continue;
        }
        if (ip->ip_address != NULL && !zn_ipam_is_host(&cidr, &addr)) {
            return zn_fault_set(fault, -EINVAL,
                                "IP address %s is not a valid IP for the "
                                "specified subnet.",
                                ip->ip_address);
        }
        (void)snprintf(slot->subnet_id, sizeof(slot->subnet_id), "%s", subnets[i].id);
        slot->given = ip->ip_address != NULL;
        slot->has_addr = slot->given;
        slot->addr = addr;
        return 0;
    }
    if (ip->subnet_id != NULL) {
        return zn_fault_set(fault, -EINVAL, "Subnet %s is not a subnet of the port's network",
                            ip->subnet_id);
    }
    return zn_fault_set(fault, -EINVAL, "IP address %s is on none of the network's subnets",
                        ip->ip_address != NULL ? ip->ip_address : "");
}

static int
s_plan_slots(s_port_op_t *op, const zn_netdb_port_req_t *req, const zn_net_subnet_t *subnets,
             size_t count, zn_fault_t *fault)
{
    if (req->ip_count > ZN_NET_IPS_MAX) {
        return zn_fault_set(fault, -EINVAL, "at most %d fixed IPs per port", ZN_NET_IPS_MAX);
    }
    for (size_t i = 0; i < req->ip_count; i++) {
        const zn_netdb_ip_req_t *ip = &req->ips[i];
        if (ip->subnet_id == NULL && ip->ip_address == NULL) {
            return zn_fault_set(fault, -EINVAL, "a fixed IP needs subnet_id or ip_address");
        }
        int rc = s_slot_resolve(&op->slots[op->slot_count], ip, subnets, count, fault);
        if (rc < 0) {
            return rc;
        }
        op->slot_count++;
    }
    if (req->ip_count > 0 || req->ips_given) {
        return 0;
    }
    /* By default one address from the oldest subnet of each IP version. */
    bool has_v4 = false;
    bool has_v6 = false;
    for (size_t i = 0; i < count; i++) {
        bool *seen = subnets[i].ip_version == 6 ? &has_v6 : &has_v4;
        if (!*seen) {
            *seen = true;
            (void)snprintf(op->slots[op->slot_count].subnet_id, ZN_NET_ID_MAX + 1, "%s",
                           subnets[i].id);
            op->slot_count++;
        }
    }
    return 0;
}

static const zn_net_subnet_t *
s_subnet_in(const zn_net_subnet_t *subnets, size_t count, const char *id)
{
    for (size_t i = 0; i < count; i++) {
        if (strcmp(subnets[i].id, id) == 0) {
            return &subnets[i];
        }
    }
    return NULL;
}

/* An answer of s_take_addresses: the subnet looks full, but creations of ours in flight hold
 * some of its addresses and may yet fail (having lost a race), so wait for them. */
#define S_PARKED 1

/* True when another creation in flight (not itself waiting) holds an address of SUBNET_ID. */
static bool
s_subnet_busy(const s_port_op_t *op, const char *subnet_id)
{
    for (const s_port_op_t *other = op->self->ops; other != NULL; other = other->next) {
        for (size_t i = 0; other != op && !other->parked && i < other->slot_count; i++) {
            if (other->slots[i].has_addr && strcmp(other->slots[i].subnet_id, subnet_id) == 0) {
                return true;
            }
        }
    }
    return false;
}

/* Pick this attempt's automatic addresses (S_PARKED: wait and try again). */
static int
s_take_addresses(s_port_op_t *op, const zn_net_subnet_t *subnets, size_t count, zn_fault_t *fault)
{
    for (size_t i = 0; i < op->slot_count; i++) {
        s_slot_t *slot = &op->slots[i];
        if (slot->given || slot->has_addr) {
            continue;
        }
        const zn_net_subnet_t *subnet = s_subnet_in(subnets, count, slot->subnet_id);
        s_tracker_t *tracker = subnet != NULL ? s_tracker(op->self, subnet, fault) : NULL;
        if (tracker == NULL) {
            return subnet != NULL ? fault->code
                                  : zn_fault_set(fault, -ENOENT, "Subnet %s could not be found.",
                                                 slot->subnet_id);
        }
        int rc = zn_ipam_take(tracker->ipam, &slot->addr);
        if (rc == -ENOSPC) {
            /* Full here: other agents may have released addresses since we last looked. */
            rc = s_tracker_load(op->self, slot->subnet_id, tracker, fault);
            rc = rc == 0 ? zn_ipam_take(tracker->ipam, &slot->addr) : rc;
        }
        if (rc == -ENOSPC && s_subnet_busy(op, slot->subnet_id)) {
            return S_PARKED;
        }
        if (rc == -ENOSPC) {
            s_count(op->self, "ip_pool_exhausted");
            return zn_fault_set(fault, -ENOSPC, "No more IP addresses available on network %s.",
                                op->port->network_id);
        }
        if (rc < 0) {
            return rc;
        }
        slot->has_addr = true;
    }
    return 0;
}

static int
s_fill_port(s_port_op_t *op)
{
    zn_net_port_t *port = op->port;
    for (size_t i = 0; i < port->fixed_ip_count; i++) {
        zn_free(port->fixed_ips[i].subnet_id);
        zn_free(port->fixed_ips[i].ip_address);
    }
    zn_free(port->fixed_ips);
    port->fixed_ips = zn_calloc(op->slot_count > 0 ? op->slot_count : 1, sizeof(*port->fixed_ips));
    port->fixed_ip_count = op->slot_count;
    for (size_t i = 0; i < op->slot_count; i++) {
        char text[ZN_IPADDR_TEXT_MAX];
        zn_ipaddr_format(&op->slots[i].addr, text);
        port->fixed_ips[i].subnet_id = zn_strdup(op->slots[i].subnet_id);
        port->fixed_ips[i].ip_address = zn_strdup(text);
    }
    if (!op->mac_given) {
        char mac[ZN_MAC_TEXT_MAX];
        zn_mac_random(mac);
        zn_free(port->mac_address);
        port->mac_address = zn_strdup(mac);
    }
    return 0;
}

static int
s_port_batch(const zn_net_port_t *port, zn_batch_t *batch)
{
    int rc = zn_sclient_put(batch, ZN_TABLE_PORTS, port->id, &zn_net_port_schema, port,
                            ZN_BATCH_GEN_ABSENT);
    for (size_t i = 0; rc == 0 && i < port->fixed_ip_count; i++) {
        char *key = zn_netrec_ip_key(port->fixed_ips[i].subnet_id, port->fixed_ips[i].ip_address);
        rc = zn_batch_put(batch, ZN_TABLE_IPS, zn_batch_str(key), zn_batch_str(port->id),
                          ZN_BATCH_GEN_ABSENT);
        zn_str_free(&key);
    }
    if (rc == 0) {
        rc = zn_batch_put(batch, ZN_TABLE_MACS, zn_batch_str(port->mac_address),
                          zn_batch_str(port->id), ZN_BATCH_GEN_ABSENT);
    }
    return rc;
}

static void s_on_port_written(void *arg, const zn_fault_t *fault);

static int
s_attempt(s_port_op_t *op, zn_fault_t *fault)
{
    if (op->self->closing) {
        return zn_fault_set(fault, ZN_EUNAVAIL, "zinc-network is stopping");
    }
    zn_net_subnet_t *subnets = NULL;
    size_t count = 0;
    int rc = zn_netdb_subnets(op->self, op->port->network_id, &subnets, &count, fault);
    if (rc == 0) {
        rc = s_take_addresses(op, subnets, count, fault);
    }
    zn_netdb_subnets_free(&subnets, count);
    op->parked = rc == S_PARKED;
    if (op->parked) {
        return 0; /* s_wake_parked tries again when a creation in flight settles */
    }
    if (rc == 0) {
        rc = ZN_FAILPOINT("network.port_alloc");
        rc = rc < 0 ? zn_fault_set(fault, rc, "failpoint network.port_alloc") : 0;
    }
    zn_batch_t *batch = zn_batch_new();
    if (rc == 0) {
        rc = s_fill_port(op);
        rc = rc == 0 ? s_port_batch(op->port, batch) : rc;
    }
    if (rc == 0) {
        rc = zn_sclient_write(op->self->sclient, &op->ctx, batch, op->self->write_timeout_ms,
                              s_on_port_written, op);
        rc = rc < 0 ? zn_fault_set(fault, rc, "store write not sent: %s", zn_strerror(rc)) : 0;
    }
    zn_batch_destroy(&batch);
    return rc;
}

/* Give back this attempt's automatic addresses: the write certainly did not commit. */
static void
s_unmark_auto(s_port_op_t *op)
{
    for (size_t i = 0; i < op->slot_count; i++) {
        s_slot_t *slot = &op->slots[i];
        s_tracker_t *tracker = zhashx_lookup(op->self->trackers, slot->subnet_id);
        if (!slot->given && slot->has_addr && tracker != NULL) {
            zn_ipam_unmark(tracker->ipam, &slot->addr);
        }
        slot->has_addr = slot->given;
    }
}

static bool
s_key_exists(zn_netdb_t *self, const char *table_name, const char *key)
{
    const zn_store_table_t *table = zn_sclient_table(self->sclient, table_name);
    zn_store_read_t *txn = NULL;
    if (table == NULL || zn_sclient_read_begin(self->sclient, &txn, NULL) < 0) {
        return false;
    }
    uint64_t gen = 0;
    bool exists = zn_store_get_generation(txn, table, zn_batch_str(key), &gen) == 0;
    zn_store_read_end(&txn);
    return exists;
}

/* After a conflict: which condition failed that a retry cannot fix? 0 when a retry may do. */
static int
s_conflict_cause(s_port_op_t *op, zn_fault_t *fault)
{
    const zn_net_port_t *port = op->port;
    if (s_key_exists(op->self, ZN_TABLE_PORTS, port->id)) {
        return zn_fault_set(fault, -EEXIST, "port %s exists", port->id);
    }
    if (op->mac_given && s_key_exists(op->self, ZN_TABLE_MACS, port->mac_address)) {
        return zn_fault_set(fault, -EEXIST,
                            "Unable to complete operation for network %s. The mac address %s "
                            "is in use.",
                            port->network_id, port->mac_address);
    }
    for (size_t i = 0; i < op->slot_count; i++) {
        char *key = zn_netrec_ip_key(port->fixed_ips[i].subnet_id, port->fixed_ips[i].ip_address);
        bool taken = op->slots[i].given && s_key_exists(op->self, ZN_TABLE_IPS, key);
        zn_str_free(&key);
        if (taken) {
            return zn_fault_set(fault, -EADDRINUSE, "IP address %s already allocated in subnet %s",
                                port->fixed_ips[i].ip_address, port->fixed_ips[i].subnet_id);
        }
    }
    return 0;
}

/* Another agent took an address we offered: learn what it holds (not too often) and move away
 * from where it allocates. */
static void
s_after_race(zn_netdb_t *self, const char *subnet_id)
{
    s_tracker_t *tracker = zhashx_lookup(self->trackers, subnet_id);
    if (tracker == NULL) {
        return;
    }
    if (zn_clock_mono_ms() - tracker->loaded_ms >= ZN_NETDB_RELOAD_MIN_MS) {
        tracker->loaded = false; /* reloaded by the next attempt */
    }
    zn_ipam_scatter(tracker->ipam);
}

static void
s_op_finish(s_port_op_t *op, const zn_fault_t *fault)
{
    if (fault->code == 0 && op->self->metrics != NULL) {
        zn_metrics_count(op->self->metrics, "ports_created", 1);
        zn_metrics_observe_us(op->self->metrics, "port_create_us",
                              zn_clock_mono_us() - op->start_us);
    }
    s_op_unlink(op);
    op->done(op->arg, fault->code == 0 ? op->port : NULL, fault);
    s_op_free(&op);
}

/* Try the parked creations again: one in flight settled, which may have freed an address. */
static void
s_wake_parked(zn_netdb_t *self)
{
    size_t count = 0;
    for (const s_port_op_t *op = self->ops; op != NULL; op = op->next) {
        count += op->parked ? 1 : 0;
    }
    if (count == 0) {
        return; /* the usual case: nothing waits */
    }
    s_port_op_t **parked = zn_calloc(count, sizeof(s_port_op_t *));
    count = 0;
    for (s_port_op_t *op = self->ops; op != NULL; op = op->next) {
        if (op->parked) {
            parked[count++] = op;
        }
    }
    for (size_t i = 0; i < count; i++) {
        zn_fault_t why;
        zn_fault_clear(&why);
        if (s_attempt(parked[i], &why) < 0) {
            s_unmark_auto(parked[i]);
            s_op_finish(parked[i], &why);
        }
    }
    zn_free(parked);
}

static void s_on_conflict(s_port_op_t *op);

static void
s_on_port_written(void *arg, const zn_fault_t *fault)
{
    s_port_op_t *op = arg;
    zn_netdb_t *self = op->self;
    if (fault->code == ZN_ECONFLICT) {
        s_on_conflict(op);
    } else {
        if (fault->code != 0 && fault->code != -ETIMEDOUT && fault->code != ZN_EUNKNOWN) {
            s_unmark_auto(op);
        }
        s_op_finish(op, fault);
    }
    s_wake_parked(self);
}

static void
s_on_conflict(s_port_op_t *op)
{
    s_count(op->self, "ip_races_lost");
    /* Another writer holds one of our keys. The automatic addresses stay marked (one of them
     * is probably taken) and the next attempt picks new ones and a new MAC. */
    zn_fault_t why;
    zn_fault_clear(&why);
    int rc = s_conflict_cause(op, &why);
    if (rc == 0 && ++op->attempts >= ZN_NETDB_ATTEMPTS_MAX) {
        rc = zn_fault_set(&why, ZN_ECONFLICT,
                          "no free address after %d attempts: too much "
                          "contention",
                          op->attempts);
    }
    for (size_t i = 0; rc == 0 && i < op->slot_count; i++) {
        op->slots[i].has_addr = op->slots[i].given;
        s_after_race(op->self, op->slots[i].subnet_id);
    }
    if (rc == 0) {
        rc = s_attempt(op, &why);
    }
    if (rc < 0) {
        s_unmark_auto(op);
        s_op_finish(op, &why);
    }
}

int
zn_netdb_port_create(zn_netdb_t *self, const zn_ctx_t *ctx, zn_net_port_t **port_p,
                     const zn_netdb_port_req_t *req, zn_netdb_record_fn *done, void *arg,
                     zn_fault_t *fault)
{
    s_port_op_t *op = zn_calloc(1, sizeof(*op));
    op->self = self;
    op->start_us = zn_clock_mono_us();
    op->port = *port_p;
    *port_p = NULL;
    if (ctx != NULL) {
        zn_ctx_copy(&op->ctx, ctx);
    }
    op->mac_given = op->port->mac_address != NULL;
    op->done = done;
    op->arg = arg;
    zn_net_subnet_t *subnets = NULL;
    size_t count = 0;
    int rc = zn_netdb_subnets(self, op->port->network_id, &subnets, &count, fault);
    if (rc == 0) {
        rc = s_plan_slots(op, req, subnets, count, fault);
    }
    zn_netdb_subnets_free(&subnets, count);
    /* Linked before the first attempt so that a tracker reload keeps our marks. */
    op->next = self->ops;
    if (self->ops != NULL) {
        self->ops->prev = op;
    }
    self->ops = op;
    self->op_count++;
    if (rc == 0) {
        rc = s_attempt(op, fault);
    }
    if (rc < 0) {
        s_unmark_auto(op);
        s_op_unlink(op);
        s_op_free(&op);
    }
    return rc;
}

/* ---- port delete --------------------------------------------------------------------------- */

typedef struct {
    zn_netdb_t *self;
    zn_net_port_t port;
    zn_netdb_done_fn *done;
    void *arg;
} s_port_del_t;

static void
s_on_port_deleted(void *arg, const zn_fault_t *fault)
{
    s_port_del_t *del = arg;
    for (size_t i = 0; fault->code == 0 && i < del->port.fixed_ip_count; i++) {
        s_tracker_t *tracker = zhashx_lookup(del->self->trackers, del->port.fixed_ips[i].subnet_id);
        zn_ipaddr_t addr;
        if (tracker != NULL && zn_ipaddr_parse(del->port.fixed_ips[i].ip_address, &addr) == 0) {
            zn_ipam_unmark(tracker->ipam, &addr);
        }
    }
    del->done(del->arg, fault);
    zn_schema_release(&zn_net_port_schema, &del->port);
    zn_free(del);
}

static int
s_port_delete_batch(const zn_net_port_t *port, uint64_t gen, zn_batch_t *batch)
{
    int rc = s_add_delete(batch, ZN_TABLE_PORTS, port->id, gen);
    for (size_t i = 0; rc == 0 && i < port->fixed_ip_count; i++) {
        char *key = zn_netrec_ip_key(port->fixed_ips[i].subnet_id, port->fixed_ips[i].ip_address);
        rc = s_add_delete(batch, ZN_TABLE_IPS, key, ZN_BATCH_GEN_ANY);
        zn_str_free(&key);
    }
    if (rc == 0 && port->mac_address != NULL) {
        rc = s_add_delete(batch, ZN_TABLE_MACS, port->mac_address, ZN_BATCH_GEN_ANY);
    }
    return rc;
}

int
zn_netdb_port_delete(zn_netdb_t *self, const zn_ctx_t *ctx, const char *id, zn_netdb_done_fn *done,
                     void *arg, zn_fault_t *fault)
{
    s_port_del_t *del = zn_calloc(1, sizeof(*del));
    del->self = self;
    del->done = done;
    del->arg = arg;
    uint64_t gen = 0;
    int rc = zn_netdb_get(self, ZN_NETDB_PORT, id, &del->port, &gen, fault);
    zn_batch_t *batch = zn_batch_new();
    if (rc == 0) {
        rc = s_port_delete_batch(&del->port, gen, batch);
    }
    if (rc == 0 && self->closing) {
        rc = zn_fault_set(fault, ZN_EUNAVAIL, "zinc-network is stopping");
    } else if (rc == 0) {
        rc = zn_sclient_write(self->sclient, ctx, batch, self->write_timeout_ms, s_on_port_deleted,
                              del);
        rc = rc < 0 ? zn_fault_set(fault, rc, "store write not sent: %s", zn_strerror(rc)) : 0;
    }
    zn_batch_destroy(&batch);
    if (rc < 0) {
        zn_schema_release(&zn_net_port_schema, &del->port);
        zn_free(del);
    }
    return rc;
}
