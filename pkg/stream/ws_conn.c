#define _GNU_SOURCE
#include "stream/ws_conn.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stream/net_io.h"
#include "stream/ws_frame.h"
#include "util/mem.h"

static int refuse(int fd, int status, const char *headers, const char *msg, struct crisp_err *err)
{
    crisp_http_respond(fd, status, headers, msg);
    return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EPROTO, "websocket: %s", msg);
}

static const char *choose(const struct crisp_http_request *http, const char *const *supported,
                          bool *asked)
{
    char buf[2048];
    const char *client[32];
    size_t n =
        crisp_http_header_values(http, "Sec-WebSocket-Protocol", buf, sizeof(buf), client, 32);
    *asked = n > 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; supported[j]; j++)
            if (strcmp(client[i], supported[j]) == 0)
                return supported[j];
    return n ? NULL : "";
}

int ws_handshake(int fd, const struct crisp_http_request *http, const char *const *supported,
                 const char **protocol, struct crisp_err *err)
{
    const char *version = crisp_http_header(http, "Sec-WebSocket-Version");
    const char *key = crisp_http_header(http, "Sec-WebSocket-Key");
    if (!version || strcmp(version, "13") != 0)
        return refuse(fd, 426, "Sec-WebSocket-Version: 13\r\n",
                      "expected Sec-WebSocket-Version: 13", err);
    if (!key || strlen(key) != 24)
        return refuse(fd, 400, NULL, "expected a Sec-WebSocket-Key of 16 base64-encoded bytes",
                      err);
    bool asked;
    *protocol = choose(http, supported, &asked);
    if (!*protocol)
        return refuse(fd, 403, NULL, "none of the requested subprotocols is supported", err);
    char accept[29];
    ws_accept_key(key, accept);
    char *reply = crisp_xasprintf("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                  "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s%s%s\r\n",
                                  accept, asked ? "Sec-WebSocket-Protocol: " : "", *protocol,
                                  asked ? "\r\n" : "");
    int r = crisp_write_all(fd, reply, strlen(reply), err);
    free(reply);
    return r;
}

void ws_conn_init(struct ws_conn *c, int fd, bool base64, const void *initial, size_t n)
{
    memset(c, 0, sizeof(*c));
    c->fd = fd;
    c->base64 = base64;
    crisp_buf_put(&c->in, initial, n);
}

void ws_conn_free(struct ws_conn *c)
{
    crisp_buf_free(&c->in);
    crisp_buf_free(&c->msg);
}

int ws_conn_fill(struct ws_conn *c, struct crisp_err *err)
{
    crisp_buf_reserve(&c->in, 65536);
    ssize_t n = read(c->fd, c->in.data + c->in.len, 65536);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return 0;
    if (n < 0)
        return crisp_syserrf(err, errno, "websocket: read");
    c->eof = n == 0;
    c->in.len += (size_t)n;
    return 0;
}

static int send_frame(struct ws_conn *c, uint8_t opcode, const void *data, size_t len,
                      struct crisp_err *err)
{
    struct crisp_buf b = {0};
    ws_put_frame(&b, opcode, data, len);
    int r = crisp_write_all(c->fd, b.data, b.len, err);
    crisp_buf_free(&b);
    return r;
}

/* Splits a complete message into channel and body (base64-decoded for the base64 codec). */
static int to_channel_message(struct ws_conn *c, struct ws_message *m, struct crisp_err *err)
{
    const uint8_t *d = c->msg.data;
    size_t n = c->msg.len;
    if (n == 0)
        return 0; /* an empty message carries nothing, not even a channel */
    if (!c->base64) {
        *m = (struct ws_message){.channel = d[0], .data = d + 1, .len = n - 1};
        return 0;
    }
    if (d[0] < '0' || d[0] > '9' || (n - 1) % 4 != 0)
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EPROTO,
                            "websocket: base64 message without a channel digit or of bad length");
    m->owned = crisp_xmalloc(n);
    int len = n > 1 ? EVP_DecodeBlock(m->owned, d + 1, (int)(n - 1)) : 0;
    /* EVP_DecodeBlock counts padding as zero bytes; more than two '=' is not base64 */
    int pad = n > 1 && d[n - 1] == '=' ? (n > 2 && d[n - 2] == '=' ? 2 : 1) : 0;
    if (len < 0 || len < pad || (n > 3 && d[n - 3] == '=' && pad == 2))
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EPROTO,
                            "websocket: message is not base64");
    len -= pad;
    m->channel = d[0] - '0';
    m->data = m->owned;
    m->len = (size_t)len;
    return 0;
}

/* One frame: control frames handled here, data frames appended to the message. Returns 1 when
 * a message is complete. */
static int on_frame(struct ws_conn *c, const struct ws_frame *f, struct crisp_err *err)
{
    switch (f->opcode) {
    case WS_PING:
        return send_frame(c, WS_PONG, f->payload, f->len, err);
    case WS_PONG:
        return 0;
    case WS_CLOSE:
        c->close_seen = true;
        return send_frame(c, WS_CLOSE, f->payload, f->len >= 2 ? 2 : 0, err);
    case WS_CONTINUATION:
        if (!c->in_message)
            return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EPROTO,
                                "websocket: continuation without a message");
        break;
    default:
        if (c->in_message)
            return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EPROTO,
                                "websocket: new message inside a fragmented one");
        c->in_message = true;
        c->msg.len = 0;
    }
    if (c->msg.len + f->len > WS_MAX_MESSAGE)
        return crisp_errorf(err, GRPC_STATUS_RESOURCE_EXHAUSTED, EMSGSIZE,
                            "websocket: message over %u bytes", WS_MAX_MESSAGE);
    crisp_buf_put(&c->msg, f->payload, f->len);
    if (!f->fin)
        return 0;
    c->in_message = false;
    return 1;
}

int ws_conn_next(struct ws_conn *c, struct ws_message *m, struct crisp_err *err)
{
    free(m->owned);
    *m = (struct ws_message){.channel = -1};
    while (!c->close_seen) {
        struct ws_frame f;
        long n = ws_frame_parse(c->in.data, c->in.len, &f, err);
        if (n <= 0)
            return (int)n;
        int r = on_frame(c, &f, err);
        crisp_buf_consume(&c->in, (size_t)n); /* the message was copied into c->msg */
        if (r < 0)
            return r;
        if (r == 1) {
            r = to_channel_message(c, m, err);
            if (r < 0 || m->channel >= 0)
                return r;
        }
    }
    return 0;
}

int ws_conn_send(struct ws_conn *c, int channel, const void *data, size_t len,
                 struct crisp_err *err)
{
    if (!c->base64) {
        uint8_t *frame = crisp_xmalloc(len + 1);
        frame[0] = (uint8_t)channel;
        if (len)
            memcpy(frame + 1, data, len);
        int r = send_frame(c, WS_BINARY, frame, len + 1, err);
        free(frame);
        return r;
    }
    size_t enc = 4 * ((len + 2) / 3);
    char *text = crisp_xmalloc(enc + 2);
    text[0] = (char)('0' + channel);
    EVP_EncodeBlock((unsigned char *)text + 1, data, (int)len);
    int r = send_frame(c, WS_TEXT, text, enc + 1, err);
    free(text);
    return r;
}

void ws_conn_close(struct ws_conn *c, uint16_t code, const char *reason)
{
    struct crisp_err err;
    uint8_t payload[125] = {(uint8_t)(code >> 8), (uint8_t)code};
    size_t n = reason ? strnlen(reason, sizeof(payload) - 2) : 0;
    if (n)
        memcpy(payload + 2, reason, n);
    if (!c->close_seen && send_frame(c, WS_CLOSE, payload, n + 2, &err) < 0)
        return;
    crisp_linger_close(c->fd, 2000);
}
