/* The event hub: a queue of raw events, a builder thread, subscribers with
 * bounded buffers. */
#define _GNU_SOURCE
#include "events/events.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/ids.h"
#include "util/log.h"
#include "util/mem.h"

struct packed {
    uint8_t *bytes;
    size_t len;
};

struct crisp_event_sub {
    struct packed ring[CRISP_EVENTS_SUB_BUFFER];
    size_t head, count;
    bool overflowed;
    void (*on_overflow)(void *ctx);
    void *ctx;
    struct crisp_event_sub *next;
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t queued; /* the hub waits for events */
    pthread_cond_t posted; /* subscribers wait for messages */
    struct crisp_event queue[CRISP_EVENTS_QUEUE];
    size_t head, count;
    struct crisp_event_sub *subs;
    atomic_size_t n_subs;
    bool running, stopping;
    pthread_t thread;
    crisp_event_build_fn build;
    void *ctx;
} hub = {.lock = PTHREAD_MUTEX_INITIALIZER};

void crisp_event_emit(enum crisp_event_kind kind, const char *id, const char *pod_id)
{
    if (atomic_load(&hub.n_subs) == 0)
        return; /* nobody listens: the kubelet re-lists when it subscribes */
    struct crisp_event ev = {.kind = kind, .at = crisp_now_ns()};
    snprintf(ev.id, sizeof(ev.id), "%s", id);
    snprintf(ev.pod_id, sizeof(ev.pod_id), "%s", pod_id);
    pthread_mutex_lock(&hub.lock);
    if (hub.running && hub.count < CRISP_EVENTS_QUEUE) {
        hub.queue[(hub.head + hub.count++) % CRISP_EVENTS_QUEUE] = ev;
        pthread_cond_signal(&hub.queued);
    } else if (hub.running) {
        log_warn("events", "queue of %d full: an event of %.12s dropped", CRISP_EVENTS_QUEUE, id);
    }
    pthread_mutex_unlock(&hub.lock);
}

/* Caller holds hub.lock. */
static void overflow(struct crisp_event_sub *s)
{
    s->overflowed = true;
    log_warn("events", "a subscriber fell %d events behind; ending its stream",
             CRISP_EVENTS_SUB_BUFFER);
    if (s->on_overflow)
        s->on_overflow(s->ctx);
}

/* Caller holds hub.lock. */
static void deliver(const struct packed *p)
{
    for (struct crisp_event_sub *s = hub.subs; s; s = s->next) {
        if (s->overflowed)
            continue;
        if (s->count == CRISP_EVENTS_SUB_BUFFER) {
            overflow(s);
            continue;
        }
        struct packed copy = {.bytes = crisp_xmalloc(p->len ? p->len : 1), .len = p->len};
        memcpy(copy.bytes, p->bytes, p->len);
        s->ring[(s->head + s->count++) % CRISP_EVENTS_SUB_BUFFER] = copy;
    }
    pthread_cond_broadcast(&hub.posted);
}

static void *hub_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&hub.lock);
    for (;;) {
        while (!hub.stopping && hub.count == 0)
            pthread_cond_wait(&hub.queued, &hub.lock);
        if (hub.stopping)
            break;
        struct crisp_event ev = hub.queue[hub.head];
        hub.head = (hub.head + 1) % CRISP_EVENTS_QUEUE;
        hub.count--;
        pthread_mutex_unlock(&hub.lock);
        struct packed p = {0};
        p.bytes = hub.build(hub.ctx, &ev, &p.len);
        pthread_mutex_lock(&hub.lock);
        if (p.bytes)
            deliver(&p);
        free(p.bytes);
    }
    pthread_mutex_unlock(&hub.lock);
    return NULL;
}

int crisp_events_start(crisp_event_build_fn build, void *ctx, struct crisp_err *err)
{
    pthread_mutex_lock(&hub.lock);
    hub.build = build;
    hub.ctx = ctx;
    hub.head = hub.count = 0;
    hub.stopping = false;
    pthread_cond_init(&hub.queued, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&hub.posted, &attr);
    pthread_condattr_destroy(&attr);
    int r = pthread_create(&hub.thread, NULL, hub_main, NULL);
    hub.running = r == 0;
    pthread_mutex_unlock(&hub.lock);
    if (r != 0)
        return crisp_syserrf(err, r, "start the event hub thread");
    return 0;
}

void crisp_events_stop(void)
{
    pthread_mutex_lock(&hub.lock);
    if (!hub.running) {
        pthread_mutex_unlock(&hub.lock);
        return;
    }
    hub.stopping = true;
    pthread_cond_broadcast(&hub.queued);
    pthread_cond_broadcast(&hub.posted);
    pthread_mutex_unlock(&hub.lock);
    pthread_join(hub.thread, NULL);
    pthread_mutex_lock(&hub.lock);
    hub.running = false;
    pthread_mutex_unlock(&hub.lock);
}

struct crisp_event_sub *crisp_events_subscribe(void (*on_overflow)(void *ctx), void *ctx)
{
    struct crisp_event_sub *s = crisp_xcalloc(1, sizeof(*s));
    s->on_overflow = on_overflow;
    s->ctx = ctx;
    pthread_mutex_lock(&hub.lock);
    s->next = hub.subs;
    hub.subs = s;
    atomic_fetch_add(&hub.n_subs, 1);
    pthread_mutex_unlock(&hub.lock);
    return s;
}

static void deadline_in(struct timespec *ts, int timeout_ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += timeout_ms / 1000;
    ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

int crisp_events_next(struct crisp_event_sub *s, int timeout_ms, uint8_t **msg, size_t *len)
{
    struct timespec until;
    deadline_in(&until, timeout_ms);
    pthread_mutex_lock(&hub.lock);
    int r = 0;
    while (!s->overflowed && s->count == 0 && hub.running && !hub.stopping)
        if (pthread_cond_timedwait(&hub.posted, &hub.lock, &until) == ETIMEDOUT)
            break;
    if (s->overflowed) {
        r = -ENOBUFS;
    } else if (s->count > 0) {
        *msg = s->ring[s->head].bytes;
        *len = s->ring[s->head].len;
        s->head = (s->head + 1) % CRISP_EVENTS_SUB_BUFFER;
        s->count--;
        r = 1;
    } else if (!hub.running || hub.stopping) {
        r = -ESHUTDOWN;
    }
    pthread_mutex_unlock(&hub.lock);
    return r;
}

bool crisp_events_overflowed(struct crisp_event_sub *s)
{
    pthread_mutex_lock(&hub.lock);
    bool overflowed = s->overflowed;
    pthread_mutex_unlock(&hub.lock);
    return overflowed;
}

void crisp_events_unsubscribe(struct crisp_event_sub *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&hub.lock);
    for (struct crisp_event_sub **p = &hub.subs; *p; p = &(*p)->next) {
        if (*p == s) {
            *p = s->next;
            break;
        }
    }
    atomic_fetch_sub(&hub.n_subs, 1);
    pthread_mutex_unlock(&hub.lock);
    for (size_t i = 0; i < s->count; i++)
        free(s->ring[(s->head + i) % CRISP_EVENTS_SUB_BUFFER].bytes);
    free(s);
}

size_t crisp_events_subscribers(void)
{
    return atomic_load(&hub.n_subs);
}
