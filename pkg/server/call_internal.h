/* The call object shared by the event loop (server.c) and the per-call
 * protocol (call.c).
 *
 * Life of a call: the event loop gets it from grpc (TAG_NEW), posts the
 * request receive (TAG_RECV) and the close watch (TAG_CLOSE); when the request
 * has arrived a worker (or a thread of its own) runs the handler and posts the
 * reply (TAG_FINISH). Each posted batch holds one reference; the handler holds
 * the one it inherits from TAG_RECV. A slow or silent client therefore never
 * holds a worker: only handler time does. */
#pragma once

#include <grpc/grpc.h>
#include <pthread.h>
#include <stdatomic.h>

#include "server/call.h"
#include "server/routes.h"

enum call_tag_kind { TAG_NEW, TAG_RECV, TAG_CLOSE, TAG_SEND, TAG_FINISH, TAG_COUNT };

struct call_tag {
    struct crisp_call *call;
    enum call_tag_kind kind;
};

struct crisp_call {
    grpc_call *call;
    grpc_completion_queue *cq;
    grpc_call_details details;
    grpc_metadata_array request_metadata;
    const struct crisp_route *route;
    void *app;
    struct crisp_arena arena;
    grpc_byte_buffer *request;  /* filled by TAG_RECV */
    grpc_byte_buffer *response; /* sent by TAG_FINISH */
    grpc_slice status_details;
    int client_cancelled; /* filled by TAG_CLOSE */
    atomic_int refs;
    atomic_int *live;         /* the server's count of calls not yet freed */
    atomic_bool closed;       /* TAG_CLOSE completed */
    bool headers_sent;        /* initial metadata: with the first message or the status */
    atomic_bool batch_failed; /* a batch failed: the client is gone */
    /* A streaming handler waits here for its TAG_SEND. */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool send_done, send_ok;
    struct call_tag tags[TAG_COUNT];
    struct crisp_call *next; /* work queue link */
};

/* A fresh call holding one reference, for grpc_server_request_call; *live counts it until it
 * is freed. */
struct crisp_call *crisp_call_new(grpc_completion_queue *cq, void *app, atomic_int *live);
void crisp_call_unref(struct crisp_call *c);

/* TAG_NEW succeeded: posts the receive and the close watch. */
void crisp_call_accepted(struct crisp_call *c);
/* True when the request is ready for a handler; otherwise the call has been
 * answered (unknown or unimplemented method) or the client is gone. */
bool crisp_call_received(struct crisp_call *c, bool success);
/* Runs the handler and posts the reply; consumes the handler's reference. */
void crisp_call_run_handler(struct crisp_call *c);
/* Event-loop side of TAG_SEND and TAG_CLOSE. */
void crisp_call_send_completed(struct crisp_call *c, bool success);
void crisp_call_close_completed(struct crisp_call *c);
