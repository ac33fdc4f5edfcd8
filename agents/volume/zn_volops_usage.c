/* SPDX-License-Identifier: Apache-2.0 */
/* zn_volops_usage.c - one writer at a time per project's usage record inside this agent: steps
 * that change a project's usage wait in that project's queue, and creates waiting together go
 * as one batch (one usage update and several volumes), which is what lets creates in one
 * project run at the store's group-commit speed instead of losing generation races in turn. */
#include <string.h>

#include "zn_mem.h"
#include "zn_volops_int.h"

#define S_GROUP_MAX 256

typedef struct {
    zn_volops_t *owner;
    char *project;
    zlistx_t *waiting; /* zn_volop_t *, borrowed */
    bool busy;
    int timer_id;
} s_queue_t;

static void
s_queue_free(void **item)
{
    s_queue_t *q = *item;
    if (q == NULL) {
        return;
    }
    if (q->timer_id >= 0) {
        zloop_timer_end(q->owner->loop, q->timer_id);
    }
    zlistx_destroy(&q->waiting);
    zn_free(q->project);
    zn_free(q);
    *item = NULL;
}

zhashx_t *
zn__volops_queues_new(void)
{
    zhashx_t *queues = zhashx_new();
    zhashx_set_destructor(queues, s_queue_free);
    return queues;
}

static s_queue_t *
s_queue(zn_volops_t *self, const char *project)
{
    s_queue_t *q = zhashx_lookup(self->usage_queues, project);
    if (q == NULL) {
        q = zn_calloc(1, sizeof(*q));
        q->owner = self;
        q->project = zn_strdup(project);
        q->waiting = zlistx_new();
        q->timer_id = -1;
        (void)zhashx_insert(self->usage_queues, project, q);
    }
    return q;
}

/* Take the steps of the same kind (creates, or the last steps of deletes) queued right behind
 * LEADER into its group. */
static void
s_gather(s_queue_t *q, zn_volop_t *leader)
{
    size_t cap = zlistx_size(q->waiting) < S_GROUP_MAX ? zlistx_size(q->waiting) : S_GROUP_MAX;
    if (!leader->groups || cap == 0) {
        return;
    }
    /* An array of pointers to operations, not of operations. */
    leader->group = zn_calloc(cap, sizeof(*leader->group)); // NOLINT(bugprone-sizeof-expression)
    zn_volop_t *next = zlistx_first(q->waiting);
    while (next != NULL && next->groups && next->build == leader->build &&
           leader->group_count < cap) {
        leader->group[leader->group_count++] = zlistx_detach(q->waiting, NULL);
        next = zlistx_first(q->waiting);
    }
}

/* Let the first waiting step go, or drop the idle queue. */
static void
s_next(s_queue_t *q)
{
    zn_volops_t *self = q->owner;
    zn_volop_t *op = zlistx_detach(q->waiting, NULL);
    if (op == NULL) {
        zhashx_delete(self->usage_queues, q->project); /* frees Q */
        return;
    }
    q->busy = true;
    op->holds_usage = true;
    s_gather(q, op);
    zn__volop_run(op, op->build, op->then);
}

static int
s_on_free(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    s_queue_t *q = arg;
    q->timer_id = -1;
    if (!q->busy && !q->owner->closing) {
        s_next(q);
    }
    return 0;
}

void
zn__volop_run_usage(zn_volop_t *op, zn_volop_build_fn *build, zn_volop_then_fn *then)
{
    zn_volops_t *self = op->self;
    if (self->closing) {
        zn__volop_free(op);
        return;
    }
    op->build = build;
    op->then = then;
    s_queue_t *q = s_queue(self, zn__volop_project(op));
    (void)zlistx_add_end(q->waiting, op);
    if (!q->busy && q->timer_id < 0) {
        s_next(q);
    }
}

static int
s_on_turn(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    zn_volop_t *op = arg;
    op->timer_id = -1;
    zn__volop_run_usage(op, op->build, op->then);
    return 0;
}

void
zn__volop_start_usage(zn_volop_t *op, zn_volop_build_fn *build, zn_volop_then_fn *then)
{
    op->build = build;
    op->then = then;
    op->timer_id = zloop_timer(op->self->loop, 0, 1, s_on_turn, op);
}

void
zn__volop_usage_release(zn_volop_t *op)
{
    if (!op->holds_usage) {
        return;
    }
    op->holds_usage = false;
    s_queue_t *q = zhashx_lookup(op->self->usage_queues, zn__volop_project(op));
    if (q == NULL) {
        return;
    }
    q->busy = false;
    /* The next step starts on the next loop turn, never inside this one's callback chain. */
    if (q->timer_id < 0) {
        q->timer_id = zloop_timer(op->self->loop, 0, 1, s_on_free, q);
    }
}
