/* The backend of a remote-command session: exec (a new process) or attach (the container's
 * own stdio through its monitor). */
#include <errno.h>

#include "container/attach_stream.h"
#include "container/exec_stream.h"
#include "stream/session.h"

int crisp_rc_open(const struct crisp_stream_session *s, uint16_t width, uint16_t height,
                  struct crisp_stream_io **io, struct crisp_err *err)
{
    const struct crisp_stream_request *r = s->req;
    if (r->kind == CRISP_STREAM_EXEC) {
        const struct crisp_exec_stream_opts o = {.tty = r->tty,
                                                 .want_stdin = r->want_stdin,
                                                 .want_stdout = r->want_stdout,
                                                 .want_stderr = r->want_stderr,
                                                 .tty_width = width,
                                                 .tty_height = height};
        return crisp_ctr_exec_stream(s->env, r->id, r->cmd, &o, io, err);
    }
    return crisp_ctr_attach_stream(s->env, r->id, r->want_stdin, r->tty, io, err);
}

#define MAX_EARLY_STDIN (1u << 20)

int crisp_rc_early_stdin_put(struct crisp_rc_early_stdin *e, const void *data, size_t len,
                             struct crisp_err *err)
{
    if (e->data.len + len > MAX_EARLY_STDIN)
        return crisp_errorf(err, GRPC_STATUS_RESOURCE_EXHAUSTED, ENOBUFS,
                            "stdin before the command started exceeds %u bytes", MAX_EARLY_STDIN);
    crisp_buf_put(&e->data, data, len);
    return 0;
}

int crisp_rc_start(const struct crisp_stream_session *s, struct crisp_resize_parser *resize,
                   struct crisp_rc_early_stdin *e, struct crisp_stream_io **io,
                   struct crisp_err *err)
{
    bool sized = resize->pending;
    int r = crisp_rc_open(s, sized ? resize->width : 0, sized ? resize->height : 0, io, err);
    if (r == 0) {
        crisp_resize_apply_pending(resize, *io);
        if (e->data.len)
            r = (*io)->ops->write_stdin(*io, e->data.data, e->data.len, err);
        if (r == 0 && e->closed)
            (*io)->ops->close_stdin(*io);
    }
    crisp_buf_free(&e->data);
    return r;
}
