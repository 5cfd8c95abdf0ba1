/* What the remote-command protocols (exec, attach) share across SPDY and WebSocket: the
 * protocol version, the exit status written on the error stream, terminal size messages. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "container/stream_io.h"
#include "util/err.h"

/* 5 for "v5.channel.k8s.io" ... 2 for "v2.channel.k8s.io", 1 for "channel.k8s.io" (the base64
 * variants too). */
int crisp_rc_version(const char *protocol);

/* The error stream's final message (malloc'd), or NULL when nothing is to be written.
 * v4 and later: a metav1.Status as JSON, Success, or Failure with reason NonZeroExitCode and
 * an ExitCode cause (or InternalError with the message of `failure`); earlier versions:
 * plain text, only on failure. */
char *crisp_rc_status(int version, int exit_code, const struct crisp_err *failure);

/* Terminal sizes arrive as concatenated JSON objects {"Width":W,"Height":H}, possibly split
 * across frames. */
struct crisp_resize_parser {
    char buf[1024];
    size_t len;
    bool pending; /* a size that came before the backend existed */
    uint16_t width, height;
};

/* Feeds bytes; applies each complete size to io (or keeps the last one while io is NULL).
 * A malformed message fails (protocol error). */
int crisp_resize_feed(struct crisp_resize_parser *p, const void *data, size_t len,
                      struct crisp_stream_io *io, struct crisp_err *err);
/* Applies the size kept before the backend started. */
void crisp_resize_apply_pending(struct crisp_resize_parser *p, struct crisp_stream_io *io);

struct crisp_stream_session;

/* How the shared run loop talks to one transport (SPDY, WebSocket). */
struct crisp_rc_transport {
    /* Reads what the client sent and acts on it (stdin, resize); *gone once it left. */
    int (*read_client)(void *ctx, bool *gone, struct crisp_err *err);
    crisp_stream_out_fn output; /* stdout/stderr to the client */
    void *ctx;
};

/* Pumps the backend and the client until the process ends (1, *exit_code set), or the client
 * leaves, the server stops or the session idles out (0). */
int crisp_rc_run(const struct crisp_stream_session *s, struct crisp_stream_io *io,
                 const struct crisp_rc_transport *t, int *exit_code, struct crisp_err *err);
