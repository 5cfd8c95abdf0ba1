/* One gRPC call as a handler sees it. Memory from the call's arena lives
 * until the call has been answered. */
#pragma once

#include <protobuf-c/protobuf-c.h>
#include <grpc/status.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/arena.h"
#include "util/err.h"

struct crisp_call;

void *crisp_call_app(struct crisp_call *call);
struct crisp_arena *crisp_call_arena(struct crisp_call *call);
/* Short method name, e.g. "Version". */
const char *crisp_call_method(struct crisp_call *call);
/* True once the client has cancelled or gone away. */
bool crisp_call_cancelled(struct crisp_call *call);
/* Sends one message of a server stream; fails (CANCELLED) when the client is gone. */
int crisp_call_send(struct crisp_call *call, const ProtobufCMessage *msg, struct crisp_err *err);
/* Sends one already packed message of a server stream. */
int crisp_call_send_packed(struct crisp_call *call, const uint8_t *bytes, size_t len,
                           struct crisp_err *err);
/* Ends the call now with code and message, from any thread (a send in
 * progress fails). For a stream whose client cannot keep up. */
void crisp_call_abort(struct crisp_call *call, grpc_status_code code, const char *message);

/* Called once per handled call with the route's index in the table, the
 * short method name, the status code and the handler's wall time. Must be
 * cheap and thread-safe (metrics). Set before the server starts. */
typedef void (*crisp_call_observer)(size_t route, const char *method, grpc_status_code code,
                                    int64_t ns);
void crisp_call_set_observer(crisp_call_observer fn);
