/* The remote-command run loop shared by SPDY and WebSocket: one poll over the client socket,
 * the server's stop pipe and the backend's fds. */
#include <errno.h>
#include <poll.h>

#include "stream/remote_command.h"
#include "stream/session.h"

#define MAX_BACKEND_FDS 6

int crisp_rc_run(const struct crisp_stream_session *s, struct crisp_stream_io *io,
                 const struct crisp_rc_transport *t, int *exit_code, struct crisp_err *err)
{
    /* The first round does not wait: a backend may be done before any fd is ready (a command
     * that could not start). */
    for (int timeout = 0;; timeout = s->idle_timeout_ms) {
        /* Backpressure: while the process does not take its stdin, the client is not read
         * (a hangup is still reported). */
        short client_events = io->ops->input_full(io) ? 0 : POLLIN;
        struct pollfd p[2 + MAX_BACKEND_FDS] = {{.fd = s->fd, .events = client_events},
                                                {.fd = s->stop_fd, .events = POLLIN}};
        size_t n = 2 + io->ops->poll_fds(io, p + 2, MAX_BACKEND_FDS);
        int ready = poll(p, n, timeout);
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready < 0)
            return crisp_syserrf(err, errno, "poll");
        if ((ready == 0 && timeout != 0) || p[1].revents)
            return 0; /* idle, or the server is stopping */
        if (p[0].revents) {
            bool gone = false;
            int r = t->read_client(t->ctx, &gone, err);
            if (r < 0 || gone)
                return r;
        }
        int r = io->ops->pump(io, p + 2, n - 2, t->output, t->ctx, exit_code, err);
        if (r != 0)
            return r;
    }
}
