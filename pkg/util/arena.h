/* A bump allocator for per-call memory: decoded requests and built responses
 * live in one arena and are released together when the call ends, so handler
 * code never frees message parts one by one. Not thread-safe: one per call. */
#pragma once

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

struct crisp_arena_block;

struct crisp_arena {
    struct crisp_arena_block *head;
    ProtobufCAllocator pb_allocator; /* for protobuf_c_message_unpack */
};

void crisp_arena_init(struct crisp_arena *arena);
/* Zeroed memory aligned for any type; lives until crisp_arena_release. */
void *crisp_arena_alloc(struct crisp_arena *arena, size_t size);
char *crisp_arena_strdup(struct crisp_arena *arena, const char *s);
char *crisp_arena_printf(struct crisp_arena *arena, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Frees everything; the arena can be used again afterwards. */
void crisp_arena_release(struct crisp_arena *arena);

/* Typed helpers: an array of n elements / one element of a type. */
#define crisp_arena_new(arena, type)      ((type *)crisp_arena_alloc((arena), sizeof(type)))
#define crisp_arena_array(arena, type, n) ((type *)crisp_arena_alloc((arena), sizeof(type) * (n)))
