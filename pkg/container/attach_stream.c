#define _GNU_SOURCE
#include "container/attach_stream.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "container/attach.h"
#include "monitor/attach.h"
#include "util/mem.h"

struct attach_io {
    struct crisp_stream_io io;
    int fd;
    bool exited;
    uint8_t buf[CRISP_ATTACH_PAYLOAD_MAX];
};

static size_t attach_poll_fds(struct crisp_stream_io *io, struct pollfd *p, size_t cap)
{
    struct attach_io *a = (struct attach_io *)io;
    if (cap == 0)
        return 0;
    p[0] = (struct pollfd){.fd = a->fd, .events = POLLIN};
    return 1;
}

/* One record per call: poll says it is there, so recv does not block. */
static int attach_pump(struct crisp_stream_io *io, const struct pollfd *p, size_t n,
                       crisp_stream_out_fn out, void *ctx, int *exit_code, struct crisp_err *err)
{
    struct attach_io *a = (struct attach_io *)io;
    if (n == 0 || !(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
        return 0;
    enum crisp_attach_kind kind;
    ssize_t len = crisp_attach_recv(a->fd, &kind, a->buf, sizeof(a->buf), err);
    if (len < 0)
        return (int)len;
    if (len == 0) { /* EOF: after EXIT, or the monitor is gone */
        if (!a->exited)
            return crisp_errorf(err, GRPC_STATUS_UNAVAILABLE, ECONNRESET,
                                "Attach: the container's monitor closed the connection");
        *exit_code = 0; /* the kubelet reports an attach that ended with its container as
                           Success, whatever the container's exit code */
        return 1;
    }
    switch (kind) {
    case CRISP_ATTACH_STDOUT:
    case CRISP_ATTACH_STDERR:
        return out(ctx, kind == CRISP_ATTACH_STDOUT ? CRISP_CH_STDOUT : CRISP_CH_STDERR, a->buf,
                   (size_t)len, err);
    case CRISP_ATTACH_EXIT:
        a->exited = true;
        return 0;
    default:
        return 0; /* nothing else comes from the monitor */
    }
}

static int attach_write_stdin(struct crisp_stream_io *io, const void *buf, size_t len,
                              struct crisp_err *err)
{
    struct attach_io *a = (struct attach_io *)io;
    const uint8_t *p = buf;
    while (len > 0) {
        size_t n = len > CRISP_ATTACH_PAYLOAD_MAX ? CRISP_ATTACH_PAYLOAD_MAX : len;
        int r = crisp_attach_send(a->fd, CRISP_ATTACH_STDIN, p, n, err);
        if (r < 0)
            return r;
        p += n;
        len -= n;
    }
    return 0;
}

static bool attach_input_full(struct crisp_stream_io *io)
{
    (void)io; /* records go to the monitor, which always reads its clients at once */
    return false;
}

static void attach_close_stdin(struct crisp_stream_io *io)
{
    struct attach_io *a = (struct attach_io *)io;
    struct crisp_err err;
    crisp_attach_send(a->fd, CRISP_ATTACH_STDIN_CLOSE, NULL, 0, &err); /* gone: nothing to do */
}

static void attach_resize(struct crisp_stream_io *io, uint16_t width, uint16_t height)
{
    struct attach_io *a = (struct attach_io *)io;
    uint16_t size[2] = {width, height};
    struct crisp_err err;
    crisp_attach_send(a->fd, CRISP_ATTACH_RESIZE, size, sizeof(size), &err);
}

static void attach_destroy(struct crisp_stream_io *io)
{
    struct attach_io *a = (struct attach_io *)io;
    close(a->fd);
    free(a);
}

static const struct crisp_stream_io_ops attach_ops = {
    .poll_fds = attach_poll_fds,
    .pump = attach_pump,
    .write_stdin = attach_write_stdin,
    .input_full = attach_input_full,
    .close_stdin = attach_close_stdin,
    .resize = attach_resize,
    .destroy = attach_destroy,
};

int crisp_ctr_attach_stream(const struct crisp_ctr_env *env, const char *id, bool want_stdin,
                            bool tty, struct crisp_stream_io **out, struct crisp_err *err)
{
    int fd;
    int r = crisp_ctr_attach(env, id, want_stdin, tty, &fd, err);
    if (r < 0)
        return r;
    struct attach_io *a = crisp_xcalloc(1, sizeof(*a));
    a->io.ops = &attach_ops;
    a->fd = fd;
    *out = &a->io;
    return 0;
}
