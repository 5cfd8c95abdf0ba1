/* The gRPC server: grpc C core on a unix socket, a pool of worker threads,
 * a route table from method path to handler built from protobuf-c service
 * descriptors. Methods without a handler answer UNIMPLEMENTED; unknown
 * methods too; undecodable requests INVALID_ARGUMENT. Knows nothing of CRI. */
#pragma once

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>

#include "server/call.h"
#include "util/err.h"

/* Unary: fill *resp (allocated in the call's arena) and return 0, or fill
 * err and return a negative errno. */
typedef int (*crisp_unary_fn)(struct crisp_call *call, const ProtobufCMessage *req,
                              ProtobufCMessage **resp, struct crisp_err *err);
/* Server-streaming: send with crisp_call_send, then return 0 or an error. */
typedef int (*crisp_stream_fn)(struct crisp_call *call, const ProtobufCMessage *req,
                               struct crisp_err *err);

struct crisp_handler {
    const char *method; /* short method name, unique across the services */
    crisp_unary_fn unary;
    crisp_stream_fn stream;
    /* A stream that lives as long as the client wants (events): served on a
     * thread of its own so it never holds a worker. */
    bool own_thread;
    /* Cheap and never blocking (no disk, no locks held by slow code): run on
     * the event loop itself, saving the hand-off to a worker. */
    bool inline_ok;
};

struct crisp_server_options {
    const char *socket_path;
    long long workers;
    long long max_recv_message_size;
    long long shutdown_timeout_seconds;
    const ProtobufCServiceDescriptor *const *services;
    size_t n_services;
    const struct crisp_handler *handlers;
    size_t n_handlers;
    void *app; /* handed to handlers through crisp_call_app */
};

struct crisp_server;

/* Takes the socket (refusing when a live server holds it), binds, and starts
 * the workers. */
int crisp_server_start(const struct crisp_server_options *opts, struct crisp_server **out,
                       struct crisp_err *err);

/* Stops taking calls, lets in-flight ones finish within the shutdown timeout,
 * cancels the rest, removes the socket and frees the server. */
void crisp_server_stop(struct crisp_server *srv);
