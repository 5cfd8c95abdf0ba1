/* Building CRI response messages in a call's arena. */
#pragma once

#include "api.pb-c.h"
#include "util/arena.h"

/* A message of the given type, initialised with its protobuf-c INIT value. */
#define crisp_msg_new(arena, type, init)                                                           \
    ({                                                                                             \
        type *msg_ = crisp_arena_new((arena), type);                                               \
        *msg_ = (type)init;                                                                        \
        msg_;                                                                                      \
    })

/* Request and response views of the generic handler arguments. */
#define crisp_req(type, generic) ((const type *)(generic))
#define crisp_resp(generic_out)  ((ProtobufCMessage **)(generic_out))
