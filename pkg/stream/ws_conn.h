/* One WebSocket server connection after the handshake: messages in (fragments reassembled,
 * PING answered, CLOSE answered), messages out, and the k8s channel framing on top:
 * "channel.k8s.io" binary messages prefixed by a channel byte, "base64.channel.k8s.io" text
 * messages prefixed by '0'+channel with a base64 body. */
#pragma once

#include <stdbool.h>

#include "util/buf.h"
#include "stream/http.h"
#include "util/err.h"

struct ws_conn {
    int fd;
    bool base64; /* the negotiated protocol is a base64 variant */
    struct crisp_buf in, msg;
    uint8_t msg_opcode;
    bool in_message;
    bool eof;        /* the socket reached EOF */
    bool close_seen; /* the client sent CLOSE (and we answered) */
};

struct ws_message {
    int channel; /* -1: no message yet */
    const uint8_t *data;
    size_t len;
    uint8_t *owned; /* decoded base64, freed by the next call */
};

/* Chooses the protocol (the client's first that is in `supported`; none asked = "") and
 * answers the handshake. Failures answer the HTTP error themselves and return < 0. */
int ws_handshake(int fd, const struct crisp_http_request *http, const char *const *supported,
                 const char **protocol, struct crisp_err *err);

void ws_conn_init(struct ws_conn *c, int fd, bool base64, const void *initial, size_t n);
void ws_conn_free(struct ws_conn *c);
int ws_conn_fill(struct ws_conn *c, struct crisp_err *err);
/* The next channel message from buffered input (m->channel -1 when none). Violations and
 * undecodable messages are errors. */
int ws_conn_next(struct ws_conn *c, struct ws_message *m, struct crisp_err *err);
int ws_conn_send(struct ws_conn *c, int channel, const void *data, size_t len,
                 struct crisp_err *err);
/* Sends CLOSE (1000 normal, or 1011 with reason), then waits briefly for the client's. */
void ws_conn_close(struct ws_conn *c, uint16_t code, const char *reason);
