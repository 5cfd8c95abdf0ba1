/* GetContainerEvents: the event hub's messages as a server stream, and the
 * builder that turns a queued event into a ContainerEventResponse carrying
 * the pod's status and its containers' statuses (what the evented PLEG
 * puts in its cache). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cri/handlers.h"
#include "cri/msg.h"
#include "cri/runtime.h"
#include "cri/status.h"
#include "events/events.h"
#include "util/log.h"
#include "util/mem.h"

#define POLL_MS 200 /* how often a waiting stream checks for a gone client */

uint8_t *cri_build_event(void *ctx, const struct crisp_event *ev, size_t *len)
{
    struct crisp_runtime *rt = ctx;
    struct crisp_arena a;
    crisp_arena_init(&a);
    Runtime__V1__ContainerEventResponse msg = RUNTIME__V1__CONTAINER_EVENT_RESPONSE__INIT;
    msg.container_id = (char *)ev->id;
    msg.container_event_type = (Runtime__V1__ContainerEventType)ev->kind;
    msg.created_at = ev->at;
    struct crisp_pod *pod;
    struct crisp_err err;
    if (crisp_pod_store_get(&rt->pods, ev->pod_id, &pod, &err) == 0) {
        msg.pod_sandbox_status = cri_pod_status(&a, rt, pod);
        crisp_pod_put(&rt->pods, pod);
    } /* a removed pod: the event carries no pod status */
    msg.containers_statuses =
        cri_pod_container_statuses(rt, &a, ev->pod_id, &msg.n_containers_statuses);
    *len = protobuf_c_message_get_packed_size(&msg.base);
    uint8_t *bytes = crisp_xmalloc(*len ? *len : 1);
    protobuf_c_message_pack(&msg.base, bytes);
    crisp_arena_release(&a);
    return bytes;
}

#define OVERFLOW_MESSAGE                                                                           \
    "GetContainerEvents: the client fell too far behind and missed events; list containers "       \
    "and pod sandboxes again, then subscribe again"

static void abort_overflowed(void *ctx)
{
    crisp_call_abort(ctx, GRPC_STATUS_RESOURCE_EXHAUSTED, OVERFLOW_MESSAGE);
}

int cri_get_container_events(struct crisp_call *call, const ProtobufCMessage *req,
                             struct crisp_err *err)
{
    (void)req;
    struct crisp_event_sub *sub = crisp_events_subscribe(abort_overflowed, call);
    int r = 0;
    while (r == 0 && !crisp_call_cancelled(call)) {
        uint8_t *msg;
        size_t len;
        int got = crisp_events_next(sub, POLL_MS, &msg, &len);
        if (got == 1) {
            r = crisp_call_send_packed(call, msg, len, err);
            free(msg);
        } else if (got == -ENOBUFS) {
            r = -ENOBUFS;
        } else if (got == -ESHUTDOWN) {
            r = crisp_errorf(err, GRPC_STATUS_UNAVAILABLE, ESHUTDOWN,
                             "GetContainerEvents: crispd is shutting down");
        }
    }
    bool overflowed = crisp_events_overflowed(sub);
    crisp_events_unsubscribe(sub);
    if (overflowed) /* a send failed because the hub aborted the call, or none was tried */
        return crisp_errorf(err, GRPC_STATUS_RESOURCE_EXHAUSTED, ENOBUFS, OVERFLOW_MESSAGE);
    return r;
}
