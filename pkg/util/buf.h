/* A growable byte buffer for building frames and holding unparsed input. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct crisp_buf {
    uint8_t *data; /* malloc'd */
    size_t len, cap;
};

void crisp_buf_reserve(struct crisp_buf *b, size_t more);
void crisp_buf_put(struct crisp_buf *b, const void *p, size_t n);
void crisp_buf_put_u8(struct crisp_buf *b, uint8_t v);
void crisp_buf_put_u16(struct crisp_buf *b, uint16_t v); /* big endian */
void crisp_buf_put_u32(struct crisp_buf *b, uint32_t v); /* big endian */
/* Drops the first n bytes. */
void crisp_buf_consume(struct crisp_buf *b, size_t n);
void crisp_buf_free(struct crisp_buf *b);

static inline uint32_t crisp_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint32_t crisp_get_u24(const uint8_t *p)
{
    return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}
