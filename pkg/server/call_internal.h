/* The call object shared by the worker loop (server.c) and the per-call
 * protocol (call.c). */
#pragma once

#include <grpc/grpc.h>
#include <stdatomic.h>

#include "server/call.h"
#include "server/routes.h"

struct crisp_call {
    grpc_call *call;
    grpc_completion_queue *cq; /* bound to this call only */
    grpc_call_details details;
    grpc_metadata_array request_metadata;
    const struct crisp_route *route;
    void *app;
    struct crisp_arena arena;
    int close_tag;            /* address used as the RECV_CLOSE_ON_SERVER tag */
    bool close_pending;       /* that batch is posted and not yet completed */
    int client_cancelled;     /* filled by RECV_CLOSE_ON_SERVER */
    atomic_bool send_failed;  /* a batch failed: the client is gone */
};

void crisp_call_init(struct crisp_call *c, grpc_completion_queue *cq, void *app);
/* Answers the call (c->route set, NULL for an unknown method) and releases
 * everything but the cq. */
void crisp_call_serve(struct crisp_call *c);
