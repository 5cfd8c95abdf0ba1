/* SPDY/3.1 framing (the kubelet-to-runtime hop of exec, attach and port-forward):
 * frame headers, the control frames crisp sends, and zlib-compressed header blocks.
 * Pure functions over buffers: no sockets, so malformed input is unit-testable.
 *
 * Control frame: 1 bit control (1), 15 bits version (3), 16 bits type, 8 bits flags,
 * 24 bits length, payload. Data frame: 1 bit control (0), 31 bits stream id, 8 bits flags,
 * 24 bits length, payload. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

#include "util/buf.h"
#include "util/err.h"

#define SPDY_VERSION        3
#define SPDY_DICT_LEN       1423
#define SPDY_FLAG_FIN       0x01
#define SPDY_INITIAL_WINDOW 65536
/* Bounds on what a peer can make crispd hold. */
#define SPDY_MAX_FRAME        (1u << 20) /* payload bytes */
#define SPDY_MAX_HEADERS      32         /* name/value pairs per block */
#define SPDY_MAX_HEADER_BLOCK 16384      /* inflated bytes per block */

enum spdy_type {
    SPDY_DATA = 0, /* not a control type: data frames have none */
    SPDY_SYN_STREAM = 1,
    SPDY_SYN_REPLY = 2,
    SPDY_RST_STREAM = 3,
    SPDY_SETTINGS = 4,
    SPDY_PING = 6,
    SPDY_GOAWAY = 7,
    SPDY_HEADERS = 8,
    SPDY_WINDOW_UPDATE = 9,
};

enum spdy_rst_status {
    SPDY_RST_PROTOCOL_ERROR = 1,
    SPDY_RST_INVALID_STREAM = 2,
    SPDY_RST_REFUSED_STREAM = 3,
    SPDY_RST_CANCEL = 5,
    SPDY_RST_INTERNAL_ERROR = 6,
    SPDY_RST_STREAM_IN_USE = 8,
};

struct spdy_frame {
    bool control;
    uint16_t type; /* enum spdy_type; SPDY_DATA for data frames */
    uint8_t flags;
    uint32_t stream_id; /* data frames; control frames that name a stream (parsed later) */
    const uint8_t *payload;
    uint32_t len;
};

/* The SPDY/3 zlib dictionary (SPDY_DICT_LEN bytes). */
const uint8_t *spdy_dictionary(void);

/* Parses the frame at the start of buf. Returns the frame's total size (header + payload)
 * when it is complete, 0 when more bytes are needed, or a negative errno (a control frame of
 * another SPDY version, a payload over SPDY_MAX_FRAME) with err saying what was wrong. */
long spdy_frame_parse(const uint8_t *buf, size_t len, struct spdy_frame *f, struct crisp_err *err);

/* One connection's header compression: a persistent inflate and deflate context each, primed
 * with the dictionary (SPDY compresses all of a connection's header blocks as one stream). */
struct spdy_zlib {
    z_stream in, out;
    bool in_ready, out_ready;
};

int spdy_zlib_init(struct spdy_zlib *z, struct crisp_err *err);
void spdy_zlib_free(struct spdy_zlib *z);

struct spdy_header {
    char *name, *value; /* malloc'd, NUL-terminated; several values are NUL-separated */
};

struct spdy_headers {
    struct spdy_header h[SPDY_MAX_HEADERS];
    size_t n;
};

/* Inflates and parses a name/value block: uint32 count, then per pair uint32 length + name,
 * uint32 length + value. Names must be non-empty lowercase; errors are protocol errors. */
int spdy_headers_decode(struct spdy_zlib *z, const uint8_t *block, size_t len,
                        struct spdy_headers *out, struct crisp_err *err);
/* The first value of name, or NULL. */
const char *spdy_header_get(const struct spdy_headers *hs, const char *name);
void spdy_headers_free(struct spdy_headers *hs);

/* Frame writers: append one complete frame to b. */
void spdy_put_syn_reply(struct spdy_zlib *z, struct crisp_buf *b, uint32_t stream_id, bool fin);
void spdy_put_data(struct crisp_buf *b, uint32_t stream_id, const void *data, size_t len, bool fin);
void spdy_put_rst_stream(struct crisp_buf *b, uint32_t stream_id, uint32_t status);
void spdy_put_ping(struct crisp_buf *b, uint32_t id);
void spdy_put_goaway(struct crisp_buf *b, uint32_t last_good_stream_id, uint32_t status);
void spdy_put_window_update(struct crisp_buf *b, uint32_t stream_id, uint32_t delta);
/* A SYN_STREAM with headers (clients and tests). */
void spdy_put_syn_stream(struct spdy_zlib *z, struct crisp_buf *b, uint32_t stream_id, bool fin,
                         const char *const *names, const char *const *values, size_t n);
