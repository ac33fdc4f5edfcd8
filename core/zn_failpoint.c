/* SPDX-License-Identifier: Apache-2.0 */
/* zn_failpoint.c - failpoint registry; a small fixed table behind a mutex (test builds only). */
#include "zn_failpoint.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zn_err.h"

#define S_SLOTS    64
#define S_NAME_MAX 64

typedef struct {
    char name[S_NAME_MAX];
    int rc;
    int remaining; /* < 0: forever */
    int fired;
} s_slot_t;

static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static s_slot_t s_slots[S_SLOTS];
static int s_env_loaded;

static s_slot_t *
s_find(const char *name, int create)
{
    s_slot_t *empty = NULL;
    for (int i = 0; i < S_SLOTS; i++) {
        if (s_slots[i].name[0] == '\0') {
            empty = empty ? empty : &s_slots[i];
        } else if (strcmp(s_slots[i].name, name) == 0) {
            return &s_slots[i];
        }
    }
    size_t len = strlen(name);
    /* A name that does not fit is never armed: better than matching a cut-off prefix. */
    if (create && empty != NULL && len < sizeof(empty->name)) {
        memcpy(empty->name, name, len + 1);
        return empty;
    }
    return NULL;
}

static void
s_arm_locked(const char *name, int rc, int count)
{
    s_slot_t *slot = s_find(name, 1);
    if (slot != NULL) {
        slot->rc = rc;
        slot->remaining = count;
        slot->fired = 0;
    }
}

/* Parse one "name=ERRNAME[*count]" item of ZN_FAILPOINTS. */
static void
s_load_item(char *item)
{
    char *eq = strchr(item, '=');
    if (eq == NULL) {
        return;
    }
    *eq = '\0';
    char *star = strchr(eq + 1, '*');
    int count = -1;
    if (star != NULL) {
        *star = '\0';
        count = (int)strtol(star + 1, NULL, 10);
    }
    int rc = zn_errcode(eq + 1);
    if (rc != 0) {
        s_arm_locked(item, rc, count);
    }
}

static void
s_load_env_locked(void)
{
    s_env_loaded = 1;
    const char *env = getenv("ZN_FAILPOINTS");
    if (env == NULL || env[0] == '\0') {
        return;
    }
    char buf[1024];
    (void)snprintf(buf, sizeof(buf), "%s", env);
    char *item = buf;
    while (item != NULL) {
        char *comma = strchr(item, ',');
        if (comma != NULL) {
            *comma = '\0';
        }
        s_load_item(item);
        item = comma != NULL ? comma + 1 : NULL;
    }
}

int
zn_failpoint_check(const char *name)
{
    int rc = 0;
    pthread_mutex_lock(&s_lock);
    if (!s_env_loaded) {
        s_load_env_locked();
    }
    s_slot_t *slot = s_find(name, 0);
    if (slot != NULL && slot->rc != 0 && slot->remaining != 0) {
        rc = slot->rc;
        slot->fired++;
        if (slot->remaining > 0) {
            slot->remaining--;
        }
    }
    pthread_mutex_unlock(&s_lock);
    return rc;
}

void
zn_failpoint_set(const char *name, int rc, int count)
{
    pthread_mutex_lock(&s_lock);
    s_env_loaded = 1;
    s_arm_locked(name, rc, count);
    pthread_mutex_unlock(&s_lock);
}

void
zn_failpoint_clear_all(void)
{
    pthread_mutex_lock(&s_lock);
    memset(s_slots, 0, sizeof(s_slots));
    s_env_loaded = 1;
    pthread_mutex_unlock(&s_lock);
}

int
zn_failpoint_fired(const char *name)
{
    pthread_mutex_lock(&s_lock);
    s_slot_t *slot = s_find(name, 0);
    int fired = slot != NULL ? slot->fired : 0;
    pthread_mutex_unlock(&s_lock);
    return fired;
}
