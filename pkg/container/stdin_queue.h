/* A process's stdin as the streaming server feeds it: the fd (a pipe or a pty master) is
 * non-blocking and what it does not take at once is queued and written when poll says it
 * can be, so a process that writes without reading never deadlocks with crispd. Past
 * CRISP_STDIN_QUEUE_MAX queued bytes the caller stops reading its client (backpressure). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"
#include "util/err.h"

#define CRISP_STDIN_QUEUE_MAX (256u << 10)

struct crisp_stdin_queue {
    int fd;     /* -1: no stdin (or closed) */
    bool owned; /* closed by the queue (a pipe); a pty master belongs to its owner */
    struct crisp_buf buf;
    bool close_pending;
};

void crisp_stdin_queue_init(struct crisp_stdin_queue *q, int fd, bool owned);
/* Writes what the fd takes now and queues the rest; input for a process that stopped
 * reading (EPIPE, EIO) is dropped, as a pipe would. */
int crisp_stdin_queue_write(struct crisp_stdin_queue *q, const void *data, size_t len,
                            struct crisp_err *err);
/* After poll reported POLLOUT: writes queued bytes; closes a pending close once drained. */
int crisp_stdin_queue_flush(struct crisp_stdin_queue *q, struct crisp_err *err);
bool crisp_stdin_queue_pending(const struct crisp_stdin_queue *q);
bool crisp_stdin_queue_full(const struct crisp_stdin_queue *q);
/* Closes the fd (owned) once everything queued is written. */
void crisp_stdin_queue_close(struct crisp_stdin_queue *q);
void crisp_stdin_queue_free(struct crisp_stdin_queue *q);
