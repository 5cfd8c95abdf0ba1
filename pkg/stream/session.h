/* One upgraded streaming connection, as the protocol handlers (remote command and
 * port-forward, over SPDY or WebSocket) see it. Owned by the connection's thread. */
#pragma once

#include "container/lifecycle.h"
#include "container/stream_io.h"
#include "stream/http.h"
#include "stream/remote_command.h"
#include "stream/request.h"
#include "util/buf.h"

struct crisp_stream_session {
    int fd;
    int stop_fd;         /* readable once the server is stopping: end at once */
    int idle_timeout_ms; /* no traffic either way this long ends the session; -1 = never */
    const struct crisp_ctr_env *env;
    const struct crisp_stream_request *req;
    struct crisp_http_request *http;
    const char *protocol; /* the negotiated sub-protocol */
};

/* SPDY/3.1 (spdy_*.c): remote command (exec, attach) and port-forward. */
int crisp_rc_spdy_serve(struct crisp_stream_session *s);
int crisp_pf_spdy_serve(struct crisp_stream_session *s);
/* WebSocket: each answers the handshake itself (after checking what must be refused with a
 * plain HTTP error). */
int crisp_rc_ws_serve(struct crisp_stream_session *s);
int crisp_pf_ws_serve(struct crisp_stream_session *s);

/* Opens the remote-command backend the request asks for (exec or attach); errors name what
 * failed, for the client's error stream. width x height: the client's terminal when known
 * (an exec'd command then starts with it), else 0x0. */
int crisp_rc_open(const struct crisp_stream_session *s, uint16_t width, uint16_t height,
                  struct crisp_stream_io **io, struct crisp_err *err);

/* What a client sent before the backend existed (transports wait a moment for a tty client's
 * first terminal size): stdin, bounded, and whether it closed it. */
struct crisp_rc_early_stdin {
    struct crisp_buf data;
    bool closed;
};
/* Keeps stdin for the backend; RESOURCE_EXHAUSTED past 1 MiB. */
int crisp_rc_early_stdin_put(struct crisp_rc_early_stdin *e, const void *data, size_t len,
                             struct crisp_err *err);
/* Opens the backend with the terminal size that came first (0x0 without one), then applies
 * it and hands over the early stdin (and its close). Frees e's buffer. */
int crisp_rc_start(const struct crisp_stream_session *s, struct crisp_resize_parser *resize,
                   struct crisp_rc_early_stdin *e, struct crisp_stream_io **io,
                   struct crisp_err *err);
