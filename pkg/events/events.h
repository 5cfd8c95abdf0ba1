/* Container and pod sandbox lifecycle events for GetContainerEvents.
 *
 * Emitting (crisp_event_emit) only queues the kind and the ids, so it is safe
 * under any lock and costs nothing without subscribers. A hub thread turns
 * each queued event into a packed ContainerEventResponse with the builder
 * (which may take container and pod locks) and appends it to every
 * subscriber's bounded buffer. A subscriber whose buffer is full is
 * overflowed: its on_overflow callback runs (under the hub's lock) and it
 * gets no more events; its stream ends with RESOURCE_EXHAUSTED so the kubelet
 * re-lists. Nothing ever waits for a subscriber. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define CRISP_EVENTS_SUB_BUFFER 1024 /* events a subscriber may fall behind */
#define CRISP_EVENTS_QUEUE      8192 /* events waiting for the hub thread */

/* The values of CRI's ContainerEventType. */
enum crisp_event_kind {
    CRISP_EVENT_CREATED = 0,
    CRISP_EVENT_STARTED = 1,
    CRISP_EVENT_STOPPED = 2,
    CRISP_EVENT_DELETED = 3,
};

struct crisp_event {
    enum crisp_event_kind kind;
    char id[65];     /* the container's, or the pod's for a pod sandbox event */
    char pod_id[65]; /* the pod it belongs to (== id for a pod event) */
    int64_t at;      /* ns since the epoch */
};

/* Packs the message for ev into a malloc'd buffer; NULL drops the event. */
typedef uint8_t *(*crisp_event_build_fn)(void *ctx, const struct crisp_event *ev, size_t *len);

/* Starts the hub thread (once per process). */
int crisp_events_start(crisp_event_build_fn build, void *ctx, struct crisp_err *err);
/* Stops the hub; subscribers still attached see the end of the events. */
void crisp_events_stop(void);

/* The hooks. pod_id may equal id (a pod sandbox event). */
void crisp_event_emit(enum crisp_event_kind kind, const char *id, const char *pod_id);
#define crisp_event_pod(kind, pod_id) crisp_event_emit((kind), (pod_id), (pod_id))

struct crisp_event_sub;

struct crisp_event_sub *crisp_events_subscribe(void (*on_overflow)(void *ctx), void *ctx);
/* The next message for s, waiting up to timeout_ms: 1 with *msg (malloc'd,
 * the caller frees it) and *len, 0 on timeout, -ENOBUFS once s overflowed,
 * -ESHUTDOWN once the hub stopped. */
int crisp_events_next(struct crisp_event_sub *s, int timeout_ms, uint8_t **msg, size_t *len);
bool crisp_events_overflowed(struct crisp_event_sub *s);
void crisp_events_unsubscribe(struct crisp_event_sub *s);
/* How many subscribers are attached (metrics). */
size_t crisp_events_subscribers(void);
