/* SPDX-License-Identifier: Apache-2.0 */
/* zn_hasher.c - the Argon2id worker actor and its pipe protocol:
 *   parent -> worker  "V" job password hash   |  "H" job password
 *   worker -> parent  job match(0/1) hash-or-empty */
#include "zn_hasher.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "zn_log.h"
#include "zn_mem.h"

struct zn_hasher {
    zactor_t *actor;
    zloop_t *loop;
    zn_hasher_done_fn *fn;
    void *arg;
    size_t pending;
};

typedef struct s_worker {
    zn_password_cost_t cost;
    char *dummy_hash;
} s_worker_t;

static void
s_frame_wipe_destroy(zframe_t **frame_p)
{
    if (*frame_p != NULL) {
        sodium_memzero(zframe_data(*frame_p), zframe_size(*frame_p));
        zframe_destroy(frame_p);
    }
}

static void
s_handle(s_worker_t *worker, zsock_t *pipe, zmsg_t *msg)
{
    zframe_t *kind = zmsg_pop(msg);
    zframe_t *job = zmsg_pop(msg);
    zframe_t *password = zmsg_pop(msg);
    char *hash = zmsg_popstr(msg);
    bool match = false;
    char *made = NULL;
    const char *text = password != NULL ? (const char *)zframe_data(password) : "";
    size_t len = password != NULL ? zframe_size(password) : 0;
    if (kind != NULL && zframe_streq(kind, "V")) {
        match = zn_password_verify(hash != NULL && hash[0] != '\0' ? hash : NULL,
                                   worker->dummy_hash, text, len);
    } else if (zn_password_hash(text, len, worker->cost, &made) < 0) {
        made = NULL;
    }
    zmsg_t *reply = zmsg_new();
    zmsg_append(reply, &job);
    zmsg_addstr(reply, match ? "1" : "0");
    zmsg_addstr(reply, made != NULL ? made : "");
    if (zmsg_send(&reply, pipe) != 0) {
        zmsg_destroy(&reply);
    }
    s_frame_wipe_destroy(&password);
    zframe_destroy(&kind);
    zframe_destroy(&job);
    zstr_free(&hash);
    zn_str_free(&made);
}

static void
s_worker(zsock_t *pipe, void *arg)
{
    s_worker_t worker = {.cost = (zn_password_cost_t)(uintptr_t)arg};
    if (zn_password_hash("zinc-dummy", 10, worker.cost, &worker.dummy_hash) < 0) {
        zn_log_error(NULL, "hasher: cannot make the dummy hash");
    }
    zsock_signal(pipe, 0);
    while (true) {
        zmsg_t *msg = zmsg_recv(pipe);
        if (msg == NULL) {
            break;
        }
        char *command = zmsg_size(msg) == 1 ? zmsg_popstr(msg) : NULL;
        bool term = command != NULL && strcmp(command, "$TERM") == 0;
        zstr_free(&command);
        if (term) {
            zmsg_destroy(&msg);
            break;
        }
        if (worker.dummy_hash != NULL) {
            s_handle(&worker, pipe, msg);
        }
        zmsg_destroy(&msg);
    }
    zn_str_free(&worker.dummy_hash);
}

zn_hasher_t *
zn_hasher_new(zn_password_cost_t cost)
{
    zn_hasher_t *self = zn_calloc(1, sizeof(*self));
    self->actor = zactor_new(s_worker, (void *)(uintptr_t)cost);
    ZN_ASSERT(self->actor != NULL); /* thread creation fails only when out of resources */
    return self;
}

void
zn_hasher_destroy(zn_hasher_t **self_p)
{
    zn_hasher_t *self = *self_p;
    if (self == NULL) {
        return;
    }
    if (self->loop != NULL) {
        zloop_reader_end(self->loop, zactor_sock(self->actor));
    }
    zactor_destroy(&self->actor);
    zn_free(self);
    *self_p = NULL;
}

static int
s_on_result(zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    zn_hasher_t *self = arg;
    zmsg_t *msg = zmsg_recv(reader);
    if (msg == NULL) {
        return 0;
    }
    zframe_t *job = zmsg_pop(msg);
    char *match = zmsg_popstr(msg);
    char *hash = zmsg_popstr(msg);
    if (job != NULL && zframe_size(job) == sizeof(uint64_t) && match != NULL && hash != NULL) {
        uint64_t id = 0;
        memcpy(&id, zframe_data(job), sizeof(id));
        self->pending--;
        self->fn(self->arg, id, match[0] == '1', hash[0] != '\0' ? hash : NULL);
    }
    zframe_destroy(&job);
    zstr_free(&match);
    zstr_free(&hash);
    zmsg_destroy(&msg);
    return 0;
}

int
zn_hasher_attach(zn_hasher_t *self, zloop_t *loop, zn_hasher_done_fn *fn, void *arg)
{
    self->fn = fn;
    self->arg = arg;
    if (zloop_reader(loop, zactor_sock(self->actor), s_on_result, self) != 0) {
        return -EINVAL;
    }
    self->loop = loop;
    return 0;
}

static int
s_send(zn_hasher_t *self, const char *kind, uint64_t job, const char *password, size_t len,
       const char *hash)
{
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, kind);
    zmsg_addmem(msg, &job, sizeof(job));
    zmsg_addmem(msg, password, len);
    zmsg_addstr(msg, hash != NULL ? hash : "");
    if (zmsg_send(&msg, zactor_sock(self->actor)) != 0) {
        zmsg_destroy(&msg);
        return -EIO;
    }
    self->pending++;
    return 0;
}

int
zn_hasher_verify(zn_hasher_t *self, uint64_t job, const char *hash, const char *password,
                 size_t len)
{
    return s_send(self, "V", job, password, len, hash);
}

int
zn_hasher_hash(zn_hasher_t *self, uint64_t job, const char *password, size_t len)
{
    return s_send(self, "H", job, password, len, NULL);
}

size_t
zn_hasher_pending(const zn_hasher_t *self)
{
    return self->pending;
}
