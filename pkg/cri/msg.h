/* Building CRI response messages in a call's arena. */
#pragma once

#include <stdbool.h>

#include "api.pb-c.h"
#include "server/call.h"
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

/* Every protobuf-c map<string,string> entry has this layout; only the
 * descriptor differs. */
struct crisp_map_entry {
    ProtobufCMessage base;
    char *key;
    char *value;
};

/* Copies a string map (entries of any map type) into the arena as entries of
 * desc; returns the new array of entry pointers. */
void *crisp_msg_copy_map(struct crisp_arena *a, const ProtobufCMessageDescriptor *desc,
                         void *const *src, size_t n);
/* The value for key in a string map, or NULL. */
const char *crisp_map_get(void *const *entries, size_t n, const char *key);
/* Whether every key of selector (a string map) has the same value in labels. */
bool crisp_map_matches(void *const *labels, size_t n_labels, void *const *selector,
                       size_t n_selector);
/* An arena copy of a string array. */
char **crisp_msg_copy_strings(struct crisp_arena *a, char *const *src, size_t n);
/* A deep copy of any message into the arena (through its wire form). */
void *crisp_msg_clone(struct crisp_arena *a, const ProtobufCMessage *m);

/* Sends items as a server stream of desc messages (a Stream* response: one
 * repeated field), at most CRISP_STREAM_CHUNK items per message. */
#define CRISP_STREAM_CHUNK 100
int crisp_send_chunked(struct crisp_call *call, const ProtobufCMessageDescriptor *desc, void *items,
                       size_t n, struct crisp_err *err);
