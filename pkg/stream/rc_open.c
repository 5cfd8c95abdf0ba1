/* The backend of a remote-command session: exec (a new process) or attach (the container's
 * own stdio through its monitor). */
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
