/* One SPDY/3.1 server connection over a socket: buffered input, frames parsed into events,
 * streams opened by the client (odd ids, ascending), PING echoed, SETTINGS and the peer's
 * WINDOW_UPDATEs taken in, our WINDOW_UPDATEs sent as data is consumed.
 *
 * Flow control: crisp grants the client more window as it consumes DATA (per stream and for
 * the session, SPDY/3.1). Its own sending does not wait for the client's window: the Go
 * client the kubelet and kubectl use (moby/spdystream) never sends WINDOW_UPDATE, so a
 * server that waited would stall every stream after 64 KiB. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "util/buf.h"
#include "stream/spdy_frame.h"

#define SPDY_MAX_STREAMS 256

struct spdy_stream {
    uint32_t id;
    struct spdy_headers headers;
    bool remote_fin;  /* the client will send no more data */
    bool local_fin;   /* we sent FIN */
    uint32_t unacked; /* bytes received and not yet granted back */
    void *user;       /* the protocol's per-stream state */
    struct spdy_stream *next;
};

enum spdy_event_kind {
    SPDY_EV_NONE,   /* need more input */
    SPDY_EV_STREAM, /* a new stream (already answered with SYN_REPLY) */
    SPDY_EV_DATA,   /* data and/or FIN on a stream */
    SPDY_EV_RESET,  /* the client reset the stream; release it */
    SPDY_EV_GOAWAY, /* the client is done with the session */
};

struct spdy_event {
    enum spdy_event_kind kind;
    struct spdy_stream *stream;
    const uint8_t *data; /* valid until the next spdy_conn_next */
    size_t len;
    bool fin;
};

struct spdy_conn {
    int fd;
    struct crisp_buf in, out;
    struct spdy_zlib z;
    struct spdy_stream *streams;
    size_t n_streams;
    uint32_t last_id;
    uint32_t session_unacked;
    size_t pending_consume; /* bytes of the last event's frame still in `in` */
    bool eof;
};

/* fd: a connected socket (the conn does not own it). initial: bytes already read past the
 * HTTP upgrade, which belong to SPDY. */
int spdy_conn_init(struct spdy_conn *c, int fd, const void *initial, size_t n,
                   struct crisp_err *err);
void spdy_conn_free(struct spdy_conn *c);
/* One read(2) into the input buffer (after poll said readable); c->eof at EOF. */
int spdy_conn_fill(struct spdy_conn *c, struct crisp_err *err);
/* The next event from buffered input. Errors are fatal protocol errors (send GOAWAY). */
int spdy_conn_next(struct spdy_conn *c, struct spdy_event *ev, struct crisp_err *err);
int spdy_conn_send(struct spdy_conn *c, struct spdy_stream *s, const void *data, size_t len,
                   bool fin, struct crisp_err *err);
int spdy_conn_reset(struct spdy_conn *c, struct spdy_stream *s, uint32_t status,
                    struct crisp_err *err);
int spdy_conn_goaway(struct spdy_conn *c, uint32_t status, struct crisp_err *err);
/* Forgets a stream (after both sides are done, or a reset). */
void spdy_conn_release(struct spdy_conn *c, struct spdy_stream *s);
