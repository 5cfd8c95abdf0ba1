/* An interactive process's stdio as the streaming server drives it (Exec and Attach): the
 * server polls the fds the backend names, lets it pump what is ready to the client, and
 * forwards the client's stdin, stdin close and terminal resizes. One owner (the connection's
 * thread); destroy ends what is still running. */
#pragma once

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

enum crisp_stream_channel { CRISP_CH_STDIN = 0, CRISP_CH_STDOUT = 1, CRISP_CH_STDERR = 2 };

/* Delivers output to the client; a negative return stops the pump. */
typedef int (*crisp_stream_out_fn)(void *ctx, enum crisp_stream_channel ch, const void *buf,
                                   size_t len, struct crisp_err *err);

struct crisp_stream_io;

struct crisp_stream_io_ops {
    /* Fills at most cap entries to poll for POLLIN; returns how many. */
    size_t (*poll_fds)(struct crisp_stream_io *io, struct pollfd *p, size_t cap);
    /* After poll (p as filled, with revents): moves ready output to out. Returns 1 once the
     * process has ended and its output is delivered (*exit_code set), 0 to go on, or a
     * negative errno. */
    int (*pump)(struct crisp_stream_io *io, const struct pollfd *p, size_t n,
                crisp_stream_out_fn out, void *ctx, int *exit_code, struct crisp_err *err);
    int (*write_stdin)(struct crisp_stream_io *io, const void *buf, size_t len,
                       struct crisp_err *err);
    /* True while the process has so much unwritten stdin that the server should stop
     * reading its client (backpressure). */
    bool (*input_full)(struct crisp_stream_io *io);
    void (*close_stdin)(struct crisp_stream_io *io);
    void (*resize)(struct crisp_stream_io *io, uint16_t width, uint16_t height);
    /* Kills and reaps an exec'd process still running; closes everything. */
    void (*destroy)(struct crisp_stream_io *io);
};

struct crisp_stream_io {
    const struct crisp_stream_io_ops *ops;
};
