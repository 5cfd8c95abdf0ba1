#include "arena.h"

#include <stdalign.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mem.h"

#define ARENA_BLOCK_SIZE 4096

struct crisp_arena_block {
    struct crisp_arena_block *next;
    size_t used;
    size_t cap;
    alignas(max_align_t) unsigned char data[];
};

static void *pb_alloc(void *data, size_t size)
{
    return crisp_arena_alloc(data, size);
}

static void pb_free(void *data, void *p)
{
    (void)data;
    (void)p; /* released with the arena */
}

void crisp_arena_init(struct crisp_arena *arena)
{
    arena->head = NULL;
    arena->pb_allocator.alloc = pb_alloc;
    arena->pb_allocator.free = pb_free;
    arena->pb_allocator.allocator_data = arena;
}

static struct crisp_arena_block *new_block(size_t min_size)
{
    size_t cap = min_size > ARENA_BLOCK_SIZE ? min_size : ARENA_BLOCK_SIZE;
    struct crisp_arena_block *b = crisp_xmalloc(sizeof(*b) + cap);
    b->next = NULL;
    b->used = 0;
    b->cap = cap;
    return b;
}

void *crisp_arena_alloc(struct crisp_arena *arena, size_t size)
{
    const size_t align = alignof(max_align_t);
    if (size > SIZE_MAX / 2) {
        log_error("arena", "allocation of %zu bytes is impossible", size);
        abort();
    }
    size = (size + align - 1) & ~(align - 1);
    struct crisp_arena_block *b = arena->head;
    if (!b || b->cap - b->used < size) {
        b = new_block(size);
        b->next = arena->head;
        arena->head = b;
    }
    void *p = b->data + b->used;
    b->used += size;
    memset(p, 0, size);
    return p;
}

size_t crisp_arena_array_size(size_t size, size_t n)
{
    size_t total;
    if (__builtin_mul_overflow(size, n, &total)) {
        log_error("arena", "array of %zu x %zu bytes overflows", n, size);
        abort();
    }
    return total;
}

char *crisp_arena_strdup(struct crisp_arena *arena, const char *s)
{
    size_t n = strlen(s) + 1;
    char *copy = crisp_arena_alloc(arena, n);
    memcpy(copy, s, n);
    return copy;
}

char *crisp_arena_printf(struct crisp_arena *arena, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *out = crisp_arena_alloc(arena, (size_t)(n < 0 ? 0 : n) + 1);
    va_start(ap, fmt);
    vsnprintf(out, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return out;
}

void crisp_arena_release(struct crisp_arena *arena)
{
    struct crisp_arena_block *b = arena->head;
    while (b) {
        struct crisp_arena_block *next = b->next;
        free(b);
        b = next;
    }
    arena->head = NULL;
}
