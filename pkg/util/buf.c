#include "util/buf.h"

#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

void crisp_buf_reserve(struct crisp_buf *b, size_t more)
{
    if (b->len + more <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more)
        cap *= 2;
    b->data = crisp_xrealloc(b->data, cap);
    b->cap = cap;
}

void crisp_buf_put(struct crisp_buf *b, const void *p, size_t n)
{
    if (!n)
        return;
    crisp_buf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void crisp_buf_put_u8(struct crisp_buf *b, uint8_t v)
{
    crisp_buf_put(b, &v, 1);
}

void crisp_buf_put_u16(struct crisp_buf *b, uint16_t v)
{
    uint8_t p[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    crisp_buf_put(b, p, 2);
}

void crisp_buf_put_u32(struct crisp_buf *b, uint32_t v)
{
    uint8_t p[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    crisp_buf_put(b, p, 4);
}

void crisp_buf_consume(struct crisp_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

void crisp_buf_free(struct crisp_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}
