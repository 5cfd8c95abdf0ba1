/* WebSocket framing (RFC 6455) for the server side: client frames are masked, ours are not;
 * no extensions. Pure functions over buffers, so malformed input is unit-testable. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/err.h"

#define WS_MAX_MESSAGE (1u << 20) /* bytes per frame and per reassembled message */

enum ws_opcode {
    WS_CONTINUATION = 0x0,
    WS_TEXT = 0x1,
    WS_BINARY = 0x2,
    WS_CLOSE = 0x8,
    WS_PING = 0x9,
    WS_PONG = 0xA,
};

struct ws_frame {
    bool fin;
    uint8_t opcode;
    const uint8_t *payload; /* unmasked in place */
    size_t len;
};

/* Parses (and unmasks, in buf) the frame at the start of buf. Returns its total size when
 * complete, 0 when more bytes are needed, a negative errno for a protocol violation: reserved
 * bits or opcodes, an unmasked client frame, a fragmented or oversized control frame, a
 * payload over WS_MAX_MESSAGE. */
long ws_frame_parse(uint8_t *buf, size_t len, struct ws_frame *f, struct crisp_err *err);
/* Appends one unmasked, final frame. */
void ws_put_frame(struct crisp_buf *b, uint8_t opcode, const void *payload, size_t len);

/* The Sec-WebSocket-Accept value for a Sec-WebSocket-Key (base64 of SHA-1 of key+GUID). */
void ws_accept_key(const char *key, char out[29]);
