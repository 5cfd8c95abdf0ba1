#include "container/stdin_queue.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

void crisp_stdin_queue_init(struct crisp_stdin_queue *q, int fd, bool owned)
{
    *q = (struct crisp_stdin_queue){.fd = fd, .owned = owned};
    if (fd >= 0)
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static void close_now(struct crisp_stdin_queue *q)
{
    if (q->owned && q->fd >= 0)
        close(q->fd);
    q->fd = -1;
    q->buf.len = 0;
}

/* Writes from p as much as the fd takes; returns the bytes written or a negative errno. */
static ssize_t write_some(struct crisp_stdin_queue *q, const void *p, size_t len)
{
    ssize_t n;
    do
        n = write(q->fd, p, len);
    while (n < 0 && errno == EINTR);
    if (n >= 0)
        return n;
    if (errno == EAGAIN)
        return 0;
    return -errno;
}

int crisp_stdin_queue_write(struct crisp_stdin_queue *q, const void *data, size_t len,
                            struct crisp_err *err)
{
    if (q->fd < 0 || q->close_pending || len == 0)
        return 0;
    ssize_t n = q->buf.len ? 0 : write_some(q, data, len);
    if (n == -EPIPE || n == -EIO) {
        close_now(q); /* the process no longer reads its stdin */
        return 0;
    }
    if (n < 0)
        return crisp_syserrf(err, (int)-n, "stdin: write");
    crisp_buf_put(&q->buf, (const char *)data + n, len - (size_t)n);
    return 0;
}

int crisp_stdin_queue_flush(struct crisp_stdin_queue *q, struct crisp_err *err)
{
    if (q->fd < 0)
        return 0;
    ssize_t n = q->buf.len ? write_some(q, q->buf.data, q->buf.len) : 0;
    if (n == -EPIPE || n == -EIO) {
        close_now(q);
        return 0;
    }
    if (n < 0)
        return crisp_syserrf(err, (int)-n, "stdin: write");
    crisp_buf_consume(&q->buf, (size_t)n);
    if (q->close_pending && q->buf.len == 0)
        close_now(q);
    return 0;
}

bool crisp_stdin_queue_pending(const struct crisp_stdin_queue *q)
{
    return q->fd >= 0 && q->buf.len > 0;
}

bool crisp_stdin_queue_full(const struct crisp_stdin_queue *q)
{
    return q->fd >= 0 && q->buf.len >= CRISP_STDIN_QUEUE_MAX;
}

void crisp_stdin_queue_close(struct crisp_stdin_queue *q)
{
    q->close_pending = true;
    if (q->buf.len == 0)
        close_now(q);
}

void crisp_stdin_queue_free(struct crisp_stdin_queue *q)
{
    close_now(q);
    crisp_buf_free(&q->buf);
}
