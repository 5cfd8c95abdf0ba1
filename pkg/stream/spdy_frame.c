#include "stream/spdy_frame.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

static int protocol_error(struct crisp_err *err, const char *what)
{
    return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EPROTO, "spdy: %s", what);
}

long spdy_frame_parse(const uint8_t *buf, size_t len, struct spdy_frame *f, struct crisp_err *err)
{
    if (len < 8)
        return 0;
    memset(f, 0, sizeof(*f));
    f->control = buf[0] & 0x80;
    f->flags = buf[4];
    f->len = crisp_get_u24(buf + 5);
    if (f->control) {
        uint16_t version = (uint16_t)((buf[0] & 0x7f) << 8 | buf[1]);
        if (version != SPDY_VERSION)
            return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EPROTO,
                                "spdy: control frame of version %u, expected 3", version);
        f->type = (uint16_t)(buf[2] << 8 | buf[3]);
    } else {
        f->type = SPDY_DATA;
        f->stream_id = crisp_get_u32(buf) & 0x7fffffffu;
    }
    if (f->len > SPDY_MAX_FRAME)
        return crisp_errorf(err, GRPC_STATUS_RESOURCE_EXHAUSTED, EMSGSIZE,
                            "spdy: frame of %u bytes, at most %u accepted", f->len, SPDY_MAX_FRAME);
    if (len < 8 + (size_t)f->len)
        return 0;
    f->payload = buf + 8;
    return 8 + (long)f->len;
}

int spdy_zlib_init(struct spdy_zlib *z, struct crisp_err *err)
{
    memset(z, 0, sizeof(*z));
    if (inflateInit(&z->in) != Z_OK)
        return crisp_errorf(err, GRPC_STATUS_INTERNAL, ENOMEM, "spdy: inflateInit failed");
    z->in_ready = true;
    if (deflateInit(&z->out, Z_DEFAULT_COMPRESSION) != Z_OK ||
        deflateSetDictionary(&z->out, spdy_dictionary(), SPDY_DICT_LEN) != Z_OK) {
        spdy_zlib_free(z);
        return crisp_errorf(err, GRPC_STATUS_INTERNAL, ENOMEM, "spdy: deflateInit failed");
    }
    z->out_ready = true;
    return 0;
}

void spdy_zlib_free(struct spdy_zlib *z)
{
    if (z->in_ready)
        inflateEnd(&z->in);
    if (z->out_ready)
        deflateEnd(&z->out);
    z->in_ready = z->out_ready = false;
}

/* Inflates a whole block (bounded) into out; the dictionary is supplied when asked. */
static int inflate_block(struct spdy_zlib *z, const uint8_t *block, size_t len, uint8_t *out,
                         size_t *out_len, struct crisp_err *err)
{
    z->in.next_in = (Bytef *)block;
    z->in.avail_in = (uInt)len;
    z->in.next_out = out;
    z->in.avail_out = SPDY_MAX_HEADER_BLOCK;
    while (z->in.avail_in > 0) {
        int r = inflate(&z->in, Z_SYNC_FLUSH);
        if (r == Z_NEED_DICT) {
            if (inflateSetDictionary(&z->in, spdy_dictionary(), SPDY_DICT_LEN) != Z_OK)
                return protocol_error(err, "header block needs another dictionary");
            continue;
        }
        if (r == Z_BUF_ERROR && z->in.avail_out == 0)
            return crisp_errorf(err, GRPC_STATUS_RESOURCE_EXHAUSTED, EMSGSIZE,
                                "spdy: header block over %d bytes", SPDY_MAX_HEADER_BLOCK);
        if (r != Z_OK && r != Z_BUF_ERROR)
            return protocol_error(err, "header block is not valid zlib data");
        if (r == Z_BUF_ERROR)
            break;
    }
    if (z->in.avail_in > 0)
        return protocol_error(err, "header block does not inflate completely");
    *out_len = SPDY_MAX_HEADER_BLOCK - z->in.avail_out;
    return 0;
}

/* Reads a uint32 length and that many bytes; NULL when the block is too short. */
static const uint8_t *take_string(const uint8_t **p, const uint8_t *end, uint32_t *n)
{
    if (end - *p < 4)
        return NULL;
    *n = crisp_get_u32(*p);
    *p += 4;
    if ((size_t)(end - *p) < *n)
        return NULL;
    const uint8_t *s = *p;
    *p += *n;
    return s;
}

static bool valid_name(const uint8_t *s, uint32_t n)
{
    if (n == 0)
        return false;
    for (uint32_t i = 0; i < n; i++)
        if (isupper(s[i]) || s[i] == 0)
            return false;
    return true;
}

static int parse_block(const uint8_t *p, const uint8_t *end, struct spdy_headers *out,
                       struct crisp_err *err)
{
    if (end - p < 4)
        return protocol_error(err, "header block without a pair count");
    uint32_t count = crisp_get_u32(p);
    p += 4;
    if (count > SPDY_MAX_HEADERS)
        return protocol_error(err, "too many headers in a block");
    for (uint32_t i = 0; i < count; i++) {
        uint32_t nn, vn;
        const uint8_t *name = take_string(&p, end, &nn);
        const uint8_t *value = name ? take_string(&p, end, &vn) : NULL;
        if (!value)
            return protocol_error(err, "header block is truncated");
        if (!valid_name(name, nn))
            return protocol_error(err, "header name empty or not lowercase");
        struct spdy_header *h = &out->h[out->n++];
        h->name = crisp_xmalloc(nn + 1);
        memcpy(h->name, name, nn);
        h->name[nn] = '\0';
        h->value = crisp_xmalloc(vn + 1);
        memcpy(h->value, value, vn);
        h->value[vn] = '\0';
    }
    if (p != end)
        return protocol_error(err, "trailing bytes after the header block");
    return 0;
}

int spdy_headers_decode(struct spdy_zlib *z, const uint8_t *block, size_t len,
                        struct spdy_headers *out, struct crisp_err *err)
{
    memset(out, 0, sizeof(*out));
    uint8_t *plain = crisp_xmalloc(SPDY_MAX_HEADER_BLOCK);
    size_t plain_len = 0;
    int r = len ? inflate_block(z, block, len, plain, &plain_len, err)
                : protocol_error(err, "empty header block");
    if (r == 0)
        r = parse_block(plain, plain + plain_len, out, err);
    free(plain);
    if (r < 0)
        spdy_headers_free(out);
    return r;
}

const char *spdy_header_get(const struct spdy_headers *hs, const char *name)
{
    for (size_t i = 0; i < hs->n; i++)
        if (strcmp(hs->h[i].name, name) == 0)
            return hs->h[i].value;
    return NULL;
}

void spdy_headers_free(struct spdy_headers *hs)
{
    for (size_t i = 0; i < hs->n; i++) {
        free(hs->h[i].name);
        free(hs->h[i].value);
    }
    hs->n = 0;
}

static void put_control_header(struct crisp_buf *b, uint16_t type, uint8_t flags, uint32_t len)
{
    crisp_buf_put_u16(b, 0x8000 | SPDY_VERSION);
    crisp_buf_put_u16(b, type);
    crisp_buf_put_u32(b, (uint32_t)flags << 24 | len);
}

static void put_string(struct crisp_buf *b, const char *s)
{
    crisp_buf_put_u32(b, (uint32_t)strlen(s));
    crisp_buf_put(b, s, strlen(s));
}

/* Compresses a name/value block with the connection's deflate stream (sync flush). */
static void compress_block(struct spdy_zlib *z, struct crisp_buf *out, const char *const *names,
                           const char *const *values, size_t n)
{
    struct crisp_buf plain = {0};
    crisp_buf_put_u32(&plain, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        put_string(&plain, names[i]);
        put_string(&plain, values[i]);
    }
    z->out.next_in = plain.data;
    z->out.avail_in = (uInt)plain.len;
    do {
        crisp_buf_reserve(out, 256);
        z->out.next_out = out->data + out->len;
        z->out.avail_out = (uInt)(out->cap - out->len);
        deflate(&z->out, Z_SYNC_FLUSH); /* Z_BUF_ERROR only means no progress was possible */
        out->len = out->cap - z->out.avail_out;
    } while (z->out.avail_out == 0);
    crisp_buf_free(&plain);
}

static void put_headers_frame(struct spdy_zlib *z, struct crisp_buf *b, uint16_t type,
                              uint32_t stream_id, bool fin, const char *const *names,
                              const char *const *values, size_t n)
{
    struct crisp_buf block = {0};
    compress_block(z, &block, names, values, n);
    uint32_t fixed = type == SPDY_SYN_STREAM ? 10 : 4;
    put_control_header(b, type, fin ? SPDY_FLAG_FIN : 0, fixed + (uint32_t)block.len);
    crisp_buf_put_u32(b, stream_id & 0x7fffffffu);
    if (type == SPDY_SYN_STREAM) {
        crisp_buf_put_u32(b, 0); /* associated stream */
        crisp_buf_put_u16(b, 0); /* priority, slot */
    }
    crisp_buf_put(b, block.data, block.len);
    crisp_buf_free(&block);
}

void spdy_put_syn_reply(struct spdy_zlib *z, struct crisp_buf *b, uint32_t stream_id, bool fin)
{
    put_headers_frame(z, b, SPDY_SYN_REPLY, stream_id, fin, NULL, NULL, 0);
}

void spdy_put_syn_stream(struct spdy_zlib *z, struct crisp_buf *b, uint32_t stream_id, bool fin,
                         const char *const *names, const char *const *values, size_t n)
{
    put_headers_frame(z, b, SPDY_SYN_STREAM, stream_id, fin, names, values, n);
}

void spdy_put_data(struct crisp_buf *b, uint32_t stream_id, const void *data, size_t len, bool fin)
{
    crisp_buf_put_u32(b, stream_id & 0x7fffffffu);
    crisp_buf_put_u32(b, (uint32_t)(fin ? SPDY_FLAG_FIN : 0) << 24 | (uint32_t)len);
    crisp_buf_put(b, data, len);
}

void spdy_put_rst_stream(struct crisp_buf *b, uint32_t stream_id, uint32_t status)
{
    put_control_header(b, SPDY_RST_STREAM, 0, 8);
    crisp_buf_put_u32(b, stream_id & 0x7fffffffu);
    crisp_buf_put_u32(b, status);
}

void spdy_put_ping(struct crisp_buf *b, uint32_t id)
{
    put_control_header(b, SPDY_PING, 0, 4);
    crisp_buf_put_u32(b, id);
}

void spdy_put_goaway(struct crisp_buf *b, uint32_t last_good_stream_id, uint32_t status)
{
    put_control_header(b, SPDY_GOAWAY, 0, 8);
    crisp_buf_put_u32(b, last_good_stream_id & 0x7fffffffu);
    crisp_buf_put_u32(b, status);
}

void spdy_put_window_update(struct crisp_buf *b, uint32_t stream_id, uint32_t delta)
{
    put_control_header(b, SPDY_WINDOW_UPDATE, 0, 8);
    crisp_buf_put_u32(b, stream_id & 0x7fffffffu);
    crisp_buf_put_u32(b, delta & 0x7fffffffu);
}
