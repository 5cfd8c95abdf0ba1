#include "stream/ws_frame.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

static int violation(struct crisp_err *err, const char *what)
{
    return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EPROTO, "websocket: %s", what);
}

static bool known_opcode(uint8_t op)
{
    return op <= WS_BINARY || (op >= WS_CLOSE && op <= WS_PONG);
}

long ws_frame_parse(uint8_t *buf, size_t len, struct ws_frame *f, struct crisp_err *err)
{
    if (len < 2)
        return 0;
    f->fin = buf[0] & 0x80;
    f->opcode = buf[0] & 0x0f;
    bool masked = buf[1] & 0x80;
    uint64_t plen = buf[1] & 0x7f;
    if (buf[0] & 0x70)
        return violation(err, "reserved bits set (no extension was negotiated)");
    if (!known_opcode(f->opcode))
        return violation(err, "reserved opcode");
    if (!masked)
        return violation(err, "client frame is not masked");
    if (f->opcode >= WS_CLOSE && (!f->fin || plen > 125))
        return violation(err, "control frame fragmented or longer than 125 bytes");
    size_t at = 2;
    if (plen == 126 || plen == 127) {
        size_t n = plen == 126 ? 2 : 8;
        if (len < at + n)
            return 0;
        plen = 0;
        for (size_t i = 0; i < n; i++)
            plen = plen << 8 | buf[at + i];
        at += n;
    }
    if (plen > WS_MAX_MESSAGE)
        return crisp_errorf(err, GRPC_STATUS_RESOURCE_EXHAUSTED, EMSGSIZE,
                            "websocket: frame of %llu bytes, at most %u accepted",
                            (unsigned long long)plen, WS_MAX_MESSAGE);
    if (len < at + 4 + plen)
        return 0;
    const uint8_t *mask = buf + at;
    at += 4;
    for (uint64_t i = 0; i < plen; i++)
        buf[at + i] ^= mask[i % 4];
    f->payload = buf + at;
    f->len = (size_t)plen;
    return (long)(at + plen);
}

void ws_put_frame(struct crisp_buf *b, uint8_t opcode, const void *payload, size_t len)
{
    crisp_buf_put_u8(b, 0x80 | opcode);
    if (len < 126) {
        crisp_buf_put_u8(b, (uint8_t)len);
    } else if (len <= 0xffff) {
        crisp_buf_put_u8(b, 126);
        crisp_buf_put_u16(b, (uint16_t)len);
    } else {
        crisp_buf_put_u8(b, 127);
        crisp_buf_put_u32(b, (uint32_t)((uint64_t)len >> 32));
        crisp_buf_put_u32(b, (uint32_t)len);
    }
    crisp_buf_put(b, payload, len);
}

void ws_accept_key(const char *key, char out[29])
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char digest[20];
    unsigned int n = 0;
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) ||
        !EVP_DigestUpdate(ctx, key, strlen(key)) ||
        !EVP_DigestUpdate(ctx, guid, sizeof(guid) - 1) || !EVP_DigestFinal_ex(ctx, digest, &n))
        abort(); /* only allocation can fail here */
    EVP_MD_CTX_free(ctx);
    EVP_EncodeBlock((unsigned char *)out, digest, 20);
}
