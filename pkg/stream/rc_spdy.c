/* Remote command (exec, attach) over SPDY/3.1: the client opens one stream per channel,
 * named by its "streamtype" header (error, stdin, stdout, stderr, resize); crisp waits for
 * the ones the request implies, runs the backend, writes the exit status on the error stream
 * and ends every stream with FIN. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "stream/net_io.h"
#include "stream/remote_command.h"
#include "stream/session.h"
#include "stream/spdy_conn.h"
#include "stream/token.h"
#include "util/deadline.h"
#include "util/log.h"
#include "util/mem.h"

#define STREAM_CREATION_TIMEOUT_MS 30000
#define FIRST_SIZE_WAIT_MS         1000

enum slot { SLOT_ERROR, SLOT_STDIN, SLOT_STDOUT, SLOT_STDERR, SLOT_RESIZE, N_SLOTS };
static const char *const slot_names[N_SLOTS] = {"error", "stdin", "stdout", "stderr", "resize"};

struct rc_spdy {
    struct crisp_stream_session *s;
    struct spdy_conn c;
    struct spdy_stream *slots[N_SLOTS];
    bool expected[N_SLOTS];
    int version;
    struct crisp_stream_io *io;
    struct crisp_rc_early_stdin early; /* stdin that came before the backend started */
    bool stdin_closed;
    struct crisp_resize_parser resize;
    bool client_gone;
};

static void expect_streams(struct rc_spdy *rc)
{
    const struct crisp_stream_request *r = rc->s->req;
    rc->expected[SLOT_ERROR] = true;
    rc->expected[SLOT_STDIN] = r->want_stdin;
    rc->expected[SLOT_STDOUT] = r->want_stdout;
    rc->expected[SLOT_STDERR] = r->want_stderr && !r->tty;
    rc->expected[SLOT_RESIZE] = r->tty && rc->version >= 3;
}

static bool all_streams_here(const struct rc_spdy *rc)
{
    for (int i = 0; i < N_SLOTS; i++)
        if (rc->expected[i] && !rc->slots[i])
            return false;
    return true;
}

static int on_new_stream(struct rc_spdy *rc, struct spdy_stream *st, struct crisp_err *err)
{
    const char *type = spdy_header_get(&st->headers, "streamtype");
    for (int i = 0; type && i < N_SLOTS; i++) {
        if (strcmp(type, slot_names[i]) == 0 && !rc->slots[i]) {
            rc->slots[i] = st;
            return 0;
        }
    }
    log_debug("stream", "refusing a %s stream", type ? type : "typeless");
    int r = spdy_conn_reset(&rc->c, st, SPDY_RST_PROTOCOL_ERROR, err);
    spdy_conn_release(&rc->c, st);
    return r;
}

static void close_stdin(struct rc_spdy *rc)
{
    if (rc->io && !rc->stdin_closed)
        rc->io->ops->close_stdin(rc->io);
    if (!rc->io)
        rc->early.closed = true; /* applied once the backend has started */
    rc->stdin_closed = true;
}

static int on_stdin(struct rc_spdy *rc, const struct spdy_event *ev, struct crisp_err *err)
{
    if (rc->stdin_closed)
        return 0;
    int r = 0;
    if (!rc->io) {
        r = crisp_rc_early_stdin_put(&rc->early, ev->data, ev->len, err);
    } else if (ev->len) {
        r = rc->io->ops->write_stdin(rc->io, ev->data, ev->len, err);
    }
    if (r == 0 && ev->fin)
        close_stdin(rc);
    return r;
}

static int on_event(struct rc_spdy *rc, const struct spdy_event *ev, struct crisp_err *err)
{
    switch (ev->kind) {
    case SPDY_EV_STREAM:
        return on_new_stream(rc, ev->stream, err);
    case SPDY_EV_DATA:
        if (ev->stream == rc->slots[SLOT_STDIN])
            return on_stdin(rc, ev, err);
        if (ev->stream == rc->slots[SLOT_RESIZE])
            return crisp_resize_feed(&rc->resize, ev->data, ev->len, rc->io, err);
        return 0;
    case SPDY_EV_RESET:
        if (ev->stream == rc->slots[SLOT_STDIN])
            close_stdin(rc);
        for (int i = 0; i < N_SLOTS; i++)
            if (rc->slots[i] == ev->stream)
                rc->slots[i] = NULL;
        spdy_conn_release(&rc->c, ev->stream);
        return 0;
    case SPDY_EV_GOAWAY:
        rc->client_gone = true;
        return 0;
    default:
        return 0;
    }
}

/* Reads what the socket has and handles every complete frame. */
static int read_client(struct rc_spdy *rc, struct crisp_err *err)
{
    int r = spdy_conn_fill(&rc->c, err);
    struct spdy_event ev;
    while (r == 0 && (r = spdy_conn_next(&rc->c, &ev, err)) == 0 && ev.kind != SPDY_EV_NONE)
        r = on_event(rc, &ev, err);
    if (rc->c.eof)
        rc->client_gone = true;
    return r;
}

/* Reads the client until done(rc) holds: 0, or 1 when time_ms passed (or the server is
 * stopping) first. */
static int read_until(struct rc_spdy *rc, bool (*done)(const struct rc_spdy *), int time_ms,
                      struct crisp_err *err)
{
    int64_t deadline = crisp_monotonic_ms() + time_ms;
    while (!done(rc)) {
        int64_t left = deadline - crisp_monotonic_ms();
        struct pollfd p[2] = {{.fd = rc->s->fd, .events = POLLIN},
                              {.fd = rc->s->stop_fd, .events = POLLIN}};
        int n = left > 0 ? poll(p, 2, (int)left) : 0;
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || p[1].revents)
            return 1;
        int r = read_client(rc, err);
        if (r < 0)
            return r;
        if (rc->client_gone)
            return crisp_errorf(err, GRPC_STATUS_CANCELLED, ECONNRESET,
                                "the client left before the command started");
    }
    return 0;
}

static int wait_streams(struct rc_spdy *rc, struct crisp_err *err)
{
    int r = read_until(rc, all_streams_here, STREAM_CREATION_TIMEOUT_MS, err);
    if (r == 1)
        return crisp_errorf(err, GRPC_STATUS_DEADLINE_EXCEEDED, ETIMEDOUT,
                            "timed out waiting for the client's streams");
    return r;
}

static bool has_first_size(const struct rc_spdy *rc)
{
    const struct spdy_stream *st = rc->slots[SLOT_RESIZE];
    return !st || st->remote_fin || rc->resize.pending;
}

/* A tty client sends its terminal's size right after opening the resize stream: waiting a
 * moment for it starts the command with the right size instead of 0x0 (a shell's first
 * prompt, `stty size`). */
static int wait_first_size(struct rc_spdy *rc, struct crisp_err *err)
{
    int r = read_until(rc, has_first_size, FIRST_SIZE_WAIT_MS, err);
    return r < 0 ? r : 0;
}

static int output(void *ctx, enum crisp_stream_channel ch, const void *buf, size_t len,
                  struct crisp_err *err)
{
    struct rc_spdy *rc = ctx;
    struct spdy_stream *st = rc->slots[ch == CRISP_CH_STDERR ? SLOT_STDERR : SLOT_STDOUT];
    return st ? spdy_conn_send(&rc->c, st, buf, len, false, err) : 0;
}

static int read_client_cb(void *ctx, bool *gone, struct crisp_err *err)
{
    struct rc_spdy *rc = ctx;
    int r = read_client(rc, err);
    *gone = rc->client_gone;
    return r;
}

/* Ends the session politely: status, FIN on every stream, GOAWAY, then waits (briefly) for
 * the client to close so nothing it has not read is lost to a reset. */
static void finish(struct rc_spdy *rc, int exit_code, const struct crisp_err *failure)
{
    struct crisp_err err;
    char *status = crisp_rc_status(rc->version, exit_code, failure);
    if (status && rc->slots[SLOT_ERROR])
        spdy_conn_send(&rc->c, rc->slots[SLOT_ERROR], status, strlen(status), false, &err);
    free(status);
    for (int i = 0; i < N_SLOTS; i++)
        if (rc->slots[i])
            spdy_conn_send(&rc->c, rc->slots[i], "", 0, true, &err);
    spdy_conn_goaway(&rc->c, 0, &err);
    crisp_linger_close(rc->s->fd, 2000);
}

int crisp_rc_spdy_serve(struct crisp_stream_session *s)
{
    struct rc_spdy rc = {.s = s, .version = crisp_rc_version(s->protocol)};
    struct crisp_err err;
    if (spdy_conn_init(&rc.c, s->fd, s->http->extra, s->http->n_extra, &err) < 0) {
        log_error("stream", "%s", err.msg);
        return -1;
    }
    expect_streams(&rc);
    int exit_code = 0;
    int r = wait_streams(&rc, &err);
    if (r == 0)
        r = wait_first_size(&rc, &err);
    if (r == 0)
        r = crisp_rc_start(s, &rc.resize, &rc.early, &rc.io, &err);
    const struct crisp_rc_transport t = {
        .read_client = read_client_cb, .output = output, .ctx = &rc};
    if (r == 0)
        r = crisp_rc_run(s, rc.io, &t, &exit_code, &err);
    if (r < 0)
        log_info("stream", "%s %s: %s", crisp_stream_kind_route(s->req->kind), s->req->id, err.msg);
    if (rc.io)
        rc.io->ops->destroy(rc.io); /* kills a process the client left behind */
    if (r != 0 && !rc.client_gone)
        finish(&rc, exit_code, r < 0 ? &err : NULL);
    crisp_buf_free(&rc.early.data);
    spdy_conn_free(&rc.c);
    return r < 0 ? r : 0;
}
