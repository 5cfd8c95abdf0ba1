/* One gRPC call as a handler sees it. Memory from the call's arena lives
 * until the call has been answered. */
#pragma once

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>

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
