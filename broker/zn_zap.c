/* SPDX-License-Identifier: Apache-2.0 */
/* zn_zap.c - a ZAP (RFC 27) handler actor with per-domain allow-lists.
 *
 * The handler is process-wide by libzmq's design, so its actor pointer is the one piece of
 * shared state here; a mutex guards only start/stop. Domains are added and removed by messages
 * to the actor, which owns the table: no lock on the authentication path. */
#include "zn_zap.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include <czmq.h>

#include "zn_log.h"
#include "zn_mem.h"

#define S_ZAP_ENDPOINT "inproc://zeromq.zap.01"

static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static zactor_t *s_actor;
static int s_domains;
static atomic_ulong s_refused;

typedef struct {
    zhashx_t *domains; /* domain -> zn_allow_t * */
    zsock_t *handler;
    zsock_t *pipe;
} s_zap_t;

static void
s_allow_free(void **item)
{
    zn_allow_destroy((zn_allow_t **)item);
}

/* Answer one ZAP request: version, request id, domain, address, identity, mechanism, key. */
static void
s_zap_answer(s_zap_t *self)
{
    zmsg_t *req = zmsg_recv(self->handler);
    if (req == NULL) {
        return;
    }
    char *version = zmsg_popstr(req);
    char *request_id = zmsg_popstr(req);
    char *domain = zmsg_popstr(req);
    char *address = zmsg_popstr(req);
    zframe_t *identity = zmsg_pop(req);
    char *mechanism = zmsg_popstr(req);
    zframe_t *key = zmsg_pop(req);
    const char *name = NULL;
    if (domain != NULL && mechanism != NULL && strcmp(mechanism, "CURVE") == 0 && key != NULL &&
        zframe_size(key) == 32) {
        zn_allow_t *allow = zhashx_lookup(self->domains, domain);
        name = allow != NULL ? zn_allow_name_of(allow, zframe_data(key)) : NULL;
    }
    bool ok = name != NULL;
    if (!ok) {
        atomic_fetch_add(&s_refused, 1);
        zn_log_warn(NULL, "curve handshake refused domain=%s address=%s mechanism=%s",
                    domain ? domain : "-", address ? address : "-", mechanism ? mechanism : "-");
    }
    /* The user id is the key's name: libzmq attaches it to every message of the connection as
     * "User-Id", which is how a server knows who is calling (zn_call_peer). */
    zsock_send(self->handler, "ssssss", "1.0", request_id ? request_id : "", ok ? "200" : "400",
               ok ? "OK" : "client key not allowed", ok ? name : "", "");
    zstr_free(&version);
    zstr_free(&request_id);
    zstr_free(&domain);
    zstr_free(&address);
    zstr_free(&mechanism);
    zframe_destroy(&identity);
    zframe_destroy(&key);
    zmsg_destroy(&req);
}

/* Commands on the pipe: ADD domain allow-pointer, DEL domain, $TERM. Each ADD/DEL is answered
 * with a signal so that registration is complete before the caller binds. */
static bool
s_zap_command(s_zap_t *self)
{
    char *cmd = NULL;
    char *domain = NULL;
    void *allow = NULL;
    if (zsock_recv(self->pipe, "ssp", &cmd, &domain, &allow) < 0 || cmd == NULL) {
        return false;
    }
    bool go_on = true;
    if (strcmp(cmd, "ADD") == 0) {
        int rc = zhashx_insert(self->domains, domain, allow);
        if (rc != 0) {
            zn_allow_destroy((zn_allow_t **)&allow);
        }
        zsock_signal(self->pipe, rc == 0 ? 0 : 1);
    } else if (strcmp(cmd, "DEL") == 0) {
        bool known = zhashx_lookup(self->domains, domain) != NULL;
        zhashx_delete(self->domains, domain);
        zsock_signal(self->pipe, known ? 0 : 1);
    } else {
        go_on = false; /* $TERM */
    }
    zstr_free(&cmd);
    zstr_free(&domain);
    return go_on;
}

static void
s_zap_actor(zsock_t *pipe, void *arg)
{
    (void)arg;
    s_zap_t self = {zhashx_new(), zsock_new(ZMQ_REP), pipe};
    zhashx_set_destructor(self.domains, s_allow_free);
    int rc = zsock_bind(self.handler, S_ZAP_ENDPOINT);
    /* zactor_new consumes the first signal; the bind result follows as a message. */
    zsock_signal(pipe, 0);
    zsock_send(pipe, "i", rc);
    zpoller_t *poller = zpoller_new(pipe, self.handler, NULL);
    while (rc == 0) {
        void *which = zpoller_wait(poller, -1);
        if (which == self.handler) {
            s_zap_answer(&self);
        } else if (which != pipe || !s_zap_command(&self)) {
            break;
        }
    }
    zpoller_destroy(&poller);
    zsock_destroy(&self.handler);
    zhashx_destroy(&self.domains);
}

int
zn_zap_register(const char *domain, zn_allow_t **allow_p)
{
    zn_allow_t *allow = *allow_p;
    *allow_p = NULL;
    pthread_mutex_lock(&s_lock);
    if (s_actor == NULL) {
        s_actor = zactor_new(s_zap_actor, NULL);
        int bound = -1;
        if (s_actor == NULL || zsock_recv(s_actor, "i", &bound) < 0 || bound != 0) {
            zactor_destroy(&s_actor);
            pthread_mutex_unlock(&s_lock);
            zn_allow_destroy(&allow);
            return -EIO;
        }
    }
    zsock_send(s_actor, "ssp", "ADD", domain, (void *)allow);
    int rc = zsock_wait(s_actor) == 0 ? 0 : -EEXIST;
    if (rc == 0) {
        s_domains++;
    }
    pthread_mutex_unlock(&s_lock);
    return rc;
}

void
zn_zap_unregister(const char *domain)
{
    pthread_mutex_lock(&s_lock);
    if (s_actor != NULL) {
        zsock_send(s_actor, "ssp", "DEL", domain, NULL);
        bool known = zsock_wait(s_actor) == 0;
        s_domains -= known ? 1 : 0;
        if (s_domains == 0) {
            zactor_destroy(&s_actor);
        }
    }
    pthread_mutex_unlock(&s_lock);
}

unsigned long
zn_zap_refused(void)
{
    return atomic_load(&s_refused);
}
