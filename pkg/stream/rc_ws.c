/* Remote command (exec, attach) over WebSocket: channels 0 stdin, 1 stdout, 2 stderr,
 * 3 error (the exit status), 4 resize; v5.channel.k8s.io adds channel 255, whose message
 * [channel] half-closes that channel (stdin). As the kubelet does, an empty message on the
 * lowest channel the client reads tells it the session is up. */
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "stream/remote_command.h"
#include "stream/session.h"
#include "stream/ws_conn.h"
#include "util/deadline.h"
#include "util/log.h"

enum { CH_STDIN = 0, CH_STDOUT = 1, CH_STDERR = 2, CH_ERROR = 3, CH_RESIZE = 4, CH_CLOSE = 255 };

static const char *const protocols[] = {"v5.channel.k8s.io",        "v4.channel.k8s.io",
                                        "v4.base64.channel.k8s.io", "channel.k8s.io",
                                        "base64.channel.k8s.io",    NULL};

/* A tty client sends its terminal's size right after connecting: the command waits this long
 * for it, so it starts with the right size instead of 0x0. */
#define FIRST_SIZE_WAIT_MS 1000

struct rc_ws {
    struct crisp_stream_session *s;
    struct ws_conn c;
    struct crisp_stream_io *io;
    struct crisp_resize_parser resize;
    struct crisp_rc_early_stdin early; /* stdin that came before the backend started */
    bool stdin_closed;
};

static int on_message(struct rc_ws *rc, const struct ws_message *m, struct crisp_err *err)
{
    const struct crisp_stream_request *r = rc->s->req;
    bool v5 = crisp_rc_version(rc->s->protocol) >= 5;
    if (m->channel == CH_STDIN && r->want_stdin && !rc->stdin_closed)
        return rc->io ? rc->io->ops->write_stdin(rc->io, m->data, m->len, err)
                      : crisp_rc_early_stdin_put(&rc->early, m->data, m->len, err);
    if (m->channel == CH_RESIZE && r->tty)
        return crisp_resize_feed(&rc->resize, m->data, m->len, rc->io, err);
    if (m->channel == CH_CLOSE && v5 && m->len == 1 && m->data[0] == CH_STDIN &&
        !rc->stdin_closed) {
        rc->stdin_closed = true;
        if (rc->io)
            rc->io->ops->close_stdin(rc->io);
        else
            rc->early.closed = true;
    }
    return 0; /* other channels are not read, as the kubelet ignores them */
}

/* Acts on every complete message read so far. */
static int handle_buffered(struct rc_ws *rc, struct crisp_err *err)
{
    struct ws_message m = {0};
    int r;
    while ((r = ws_conn_next(&rc->c, &m, err)) == 0 && m.channel >= 0 &&
           (r = on_message(rc, &m, err)) == 0) {
    }
    free(m.owned);
    return r;
}

static bool client_gone(const struct rc_ws *rc)
{
    return rc->c.eof || rc->c.close_seen;
}

static int read_client(void *ctx, bool *gone, struct crisp_err *err)
{
    struct rc_ws *rc = ctx;
    int r = ws_conn_fill(&rc->c, err);
    if (r == 0)
        r = handle_buffered(rc, err);
    *gone = client_gone(rc);
    return r;
}

/* For a tty, reads (keeping stdin aside) until the first terminal size, the client leaves or
 * FIRST_SIZE_WAIT_MS pass. */
static int wait_first_size(struct rc_ws *rc, struct crisp_err *err)
{
    if (!rc->s->req->tty)
        return 0;
    int64_t deadline = crisp_monotonic_ms() + FIRST_SIZE_WAIT_MS;
    int r = handle_buffered(rc, err); /* what came with the upgrade request */
    while (r == 0 && !rc->resize.pending && !client_gone(rc)) {
        if (crisp_poll_until(rc->c.fd, POLLIN, deadline) < 0)
            return 0; /* no size: the command starts at 0x0 and gets one when it comes */
        r = ws_conn_fill(&rc->c, err);
        if (r == 0)
            r = handle_buffered(rc, err);
    }
    return r;
}

static int output(void *ctx, enum crisp_stream_channel ch, const void *buf, size_t len,
                  struct crisp_err *err)
{
    struct rc_ws *rc = ctx;
    const struct crisp_stream_request *r = rc->s->req;
    bool wanted = ch == CRISP_CH_STDERR ? r->want_stderr && !r->tty : r->want_stdout;
    if (!wanted) /* an attached container writes both streams whatever the client asked */
        return 0;
    return ws_conn_send(&rc->c, ch == CRISP_CH_STDERR ? CH_STDERR : CH_STDOUT, buf, len, err);
}

static int first_readable_channel(const struct crisp_stream_request *r)
{
    if (r->want_stdout)
        return CH_STDOUT;
    return r->want_stderr && !r->tty ? CH_STDERR : CH_ERROR;
}

int crisp_rc_ws_serve(struct crisp_stream_session *s)
{
    struct rc_ws rc = {.s = s};
    struct crisp_err err;
    if (ws_handshake(s->fd, s->http, protocols, &s->protocol, &err) < 0)
        return -1;
    ws_conn_init(&rc.c, s->fd, strstr(s->protocol, "base64") != NULL, s->http->extra,
                 s->http->n_extra);
    int exit_code = 0;
    int r = ws_conn_send(&rc.c, first_readable_channel(s->req), "", 0, &err);
    if (r == 0)
        r = wait_first_size(&rc, &err);
    if (r == 0)
        r = crisp_rc_start(s, &rc.resize, &rc.early, &rc.io, &err);
    const struct crisp_rc_transport t = {.read_client = read_client, .output = output, .ctx = &rc};
    if (r == 0)
        r = crisp_rc_run(s, rc.io, &t, &exit_code, &err);
    if (r < 0)
        log_info("stream", "%s %s: %s", crisp_stream_kind_route(s->req->kind), s->req->id, err.msg);
    if (rc.io)
        rc.io->ops->destroy(rc.io);
    if (r != 0 && !rc.c.eof) {
        char *status =
            crisp_rc_status(crisp_rc_version(s->protocol), exit_code, r < 0 ? &err : NULL);
        struct crisp_err send_err;
        if (status)
            ws_conn_send(&rc.c, CH_ERROR, status, strlen(status), &send_err);
        free(status);
        ws_conn_close(&rc.c, 1000, NULL);
    }
    crisp_buf_free(&rc.early.data);
    ws_conn_free(&rc.c);
    return r < 0 ? r : 0;
}
