#define _GNU_SOURCE
#include "attach_server.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "monitor/sock.h"
#include "util/log.h"
#include "util/mem.h"

#define RECORDS_PER_WAKE 16        /* per client and wakeup: others get a turn */
#define CLIENT_SNDBUF    (4 << 20) /* asked for; the kernel caps it at net.core.wmem_max */
#define NO_RECORD        ((enum crisp_attach_kind)255)

void crisp_attach_server_init(struct crisp_attach_server *s)
{
    memset(s, 0, sizeof(*s));
    s->ident = "";
    s->stdin_fd = s->pty_fd = s->listen_fd = -1;
    for (size_t i = 0; i < CRISP_ATTACH_CLIENTS; i++)
        s->clients[i].fd = -1;
}

int crisp_attach_server_listen(struct crisp_attach_server *s, const char *dir,
                               struct crisp_err *err)
{
    if (s->stdin_fd >= 0) {
        int fl = fcntl(s->stdin_fd, F_GETFL);
        if (fl < 0 || fcntl(s->stdin_fd, F_SETFL, fl | O_NONBLOCK) < 0)
            return crisp_syserrf(err, errno, "fcntl O_NONBLOCK on the container's stdin");
    }
    int fd = crisp_monitor_sock_listen(dir, CRISP_ATTACH_SOCK_NAME, SOCK_SEQPACKET, err);
    if (fd < 0)
        return fd;
    s->listen_fd = fd;
    s->dir = crisp_xstrdup(dir);
    return 0;
}

/* ---- the container's stdin ---- */

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* End of input: a pipe is closed; a pty gets its VEOF character (the master cannot be closed:
 * it carries the output too). */
static void close_container_stdin(struct crisp_attach_server *s)
{
    if (s->stdin_fd < 0)
        return;
    if (s->pty_fd >= 0) {
        struct termios t;
        unsigned char eof = 4; /* ^D, unless the terminal says otherwise */
        if (tcgetattr(s->pty_fd, &t) == 0 && t.c_cc[VEOF] != _POSIX_VDISABLE)
            eof = t.c_cc[VEOF];
        if (write(s->stdin_fd, &eof, 1) < 0)
            log_warn("monitor", "container %s: end of stdin on the pty: %s", s->ident,
                     strerror(errno));
    }
    close_fd(&s->stdin_fd);
    log_info("monitor", "container %s: stdin closed (stdin_once)", s->ident);
}

/* Writes what it can of the pending stdin; a container that closed its stdin loses it. */
static void flush_pending(struct crisp_attach_server *s)
{
    while (s->pending_off < s->pending_len && s->stdin_fd >= 0) {
        ssize_t n =
            write(s->stdin_fd, s->pending + s->pending_off, s->pending_len - s->pending_off);
        if (n > 0) {
            s->pending_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n < 0 && errno != EPIPE && errno != EIO)
            log_warn("monitor", "container %s: write to stdin: %s", s->ident, strerror(errno));
        break;
    }
    s->pending_off = s->pending_len = 0;
    if (s->close_pending) {
        s->close_pending = false;
        close_container_stdin(s);
    }
}

/* A client that had stdin is done with it: with stdin_once, the first one ends the stdin. */
static void client_stdin_done(struct crisp_attach_server *s, struct crisp_attach_client *cl)
{
    if (!cl->has_stdin || !s->stdin_once || s->stdin_done)
        return;
    s->stdin_done = true;
    if (s->pending_len > 0)
        s->close_pending = true; /* what it sent before goes first */
    else
        close_container_stdin(s);
}

/* ---- clients ---- */

static void client_drop(struct crisp_attach_server *s, struct crisp_attach_client *cl)
{
    if (cl->fd < 0)
        return;
    client_stdin_done(s, cl);
    close_fd(&cl->fd);
    cl->has_stdin = false;
}

static void resize(struct crisp_attach_server *s, const char *payload)
{
    if (s->pty_fd < 0)
        return;
    uint16_t wh[2];
    memcpy(wh, payload, sizeof(wh));
    struct winsize ws = {.ws_col = wh[0], .ws_row = wh[1]};
    if (ioctl(s->pty_fd, TIOCSWINSZ, &ws) < 0)
        log_warn("monitor", "container %s: resize the pty to %ux%u: %s", s->ident, wh[0], wh[1],
                 strerror(errno));
}

/* One record from a client; false when the client must go. */
static bool handle_record(struct crisp_attach_server *s, struct crisp_attach_client *cl,
                          enum crisp_attach_kind kind, size_t len)
{
    switch (kind) {
    case CRISP_ATTACH_STDIN:
        cl->has_stdin = true;
        if (len == 0 || s->stdin_fd < 0)
            return true; /* an announcement, or a container without stdin (any more) */
        s->pending_off = 0;
        s->pending_len = len;
        flush_pending(s);
        return true;
    case CRISP_ATTACH_STDIN_CLOSE:
        cl->has_stdin = true;
        client_stdin_done(s, cl);
        return true;
    case CRISP_ATTACH_RESIZE:
        if (len != 2 * sizeof(uint16_t))
            break;
        resize(s, s->pending);
        return true;
    default:
        break;
    }
    log_warn("monitor",
             "container %s: attach client sent a bad record (kind %d, %zu bytes): "
             "dropped",
             s->ident, (int)kind, len);
    return false;
}

static void client_input(struct crisp_attach_server *s, struct crisp_attach_client *cl)
{
    if (!s->pending)
        s->pending = crisp_xmalloc(CRISP_ATTACH_PAYLOAD_MAX);
    for (int i = 0; i < RECORDS_PER_WAKE && cl->fd >= 0 && s->pending_len == 0; i++) {
        enum crisp_attach_kind kind = NO_RECORD;
        struct crisp_err err;
        ssize_t n = crisp_attach_recv(cl->fd, &kind, s->pending, CRISP_ATTACH_PAYLOAD_MAX, &err);
        if (n == -EAGAIN)
            return;
        if (n < 0)
            log_warn("monitor", "container %s: attach client: %s: dropped", s->ident, err.msg);
        if (n < 0 || kind == NO_RECORD || !handle_record(s, cl, kind, (size_t)n))
            client_drop(s, cl);
    }
}

/* The client's buffer: SO_SNDBUFFORCE (CAP_NET_ADMIN) makes it the same on every host; without
 * the capability SO_SNDBUF gets what net.core.wmem_max allows. */
static void set_send_buffer(struct crisp_attach_server *s, int fd)
{
    int size = CRISP_ATTACH_CLIENT_BUFFER;
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) == 0)
        return;
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size)) < 0)
        log_warn("monitor", "container %s: SO_SNDBUF on an attach client: %s", s->ident,
                 strerror(errno));
}

static void accept_clients(struct crisp_attach_server *s)
{
    for (;;) {
        int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                log_warn("monitor", "container %s: accept on %s: %s", s->ident,
                         CRISP_ATTACH_SOCK_NAME, strerror(errno));
            return;
        }
        struct crisp_attach_client *slot = NULL;
        for (size_t i = 0; i < CRISP_ATTACH_CLIENTS && !slot; i++)
            if (s->clients[i].fd < 0)
                slot = &s->clients[i];
        if (!slot) {
            log_warn("monitor", "container %s: %d attach clients already: one more refused",
                     s->ident, CRISP_ATTACH_CLIENTS);
            close(fd);
            continue;
        }
        set_send_buffer(s, fd);
        *slot = (struct crisp_attach_client){.fd = fd};
    }
}

/* ---- the poll loop ---- */

/* Layout: [listener][client 0..N-1][container stdin]; unused entries have fd -1. Clients are
 * not read while stdin is pending (and not polled at all, so a hangup cannot spin the loop). */
size_t crisp_attach_server_pollfds(const struct crisp_attach_server *s, struct pollfd *fds)
{
    if (s->listen_fd < 0)
        return 0;
    bool pending = s->pending_len > 0;
    fds[0] = (struct pollfd){.fd = s->listen_fd, .events = POLLIN};
    for (size_t i = 0; i < CRISP_ATTACH_CLIENTS; i++)
        fds[1 + i] = (struct pollfd){.fd = pending ? -1 : s->clients[i].fd, .events = POLLIN};
    fds[1 + CRISP_ATTACH_CLIENTS] =
        (struct pollfd){.fd = pending ? s->stdin_fd : -1, .events = POLLOUT};
    return CRISP_ATTACH_POLLFDS;
}

void crisp_attach_server_dispatch(struct crisp_attach_server *s, const struct pollfd *fds, size_t n)
{
    if (n != CRISP_ATTACH_POLLFDS)
        return;
    if (fds[1 + CRISP_ATTACH_CLIENTS].revents && s->pending_len > 0)
        flush_pending(s);
    for (size_t i = 0; i < CRISP_ATTACH_CLIENTS; i++) {
        struct crisp_attach_client *cl = &s->clients[i];
        if (cl->fd >= 0 && fds[1 + i].fd == cl->fd && fds[1 + i].revents)
            client_input(s, cl);
    }
    if (s->listen_fd >= 0 && (fds[0].revents & POLLIN))
        accept_clients(s);
}

/* ---- output and the end ---- */

static void send_to_all(struct crisp_attach_server *s, enum crisp_attach_kind kind,
                        const char *data, size_t len)
{
    for (size_t i = 0; i < CRISP_ATTACH_CLIENTS; i++) {
        struct crisp_attach_client *cl = &s->clients[i];
        if (cl->fd < 0)
            continue;
        struct crisp_err err;
        int r = crisp_attach_send(cl->fd, kind, data, len, &err);
        if (r == -EAGAIN)
            log_warn("monitor", "container %s: attach client does not keep up: dropped", s->ident);
        if (r < 0)
            client_drop(s, cl);
    }
}

void crisp_attach_server_output(struct crisp_attach_server *s, enum crisp_attach_kind kind,
                                const char *data, size_t len)
{
    while (len > 0) {
        size_t chunk = len < CRISP_ATTACH_PAYLOAD_MAX ? len : CRISP_ATTACH_PAYLOAD_MAX;
        send_to_all(s, kind, data, chunk);
        data += chunk;
        len -= chunk;
    }
}

void crisp_attach_server_exit(struct crisp_attach_server *s, int32_t code)
{
    send_to_all(s, CRISP_ATTACH_EXIT, (const char *)&code, sizeof(code));
    crisp_attach_server_close(s);
}

void crisp_attach_server_close(struct crisp_attach_server *s)
{
    for (size_t i = 0; i < CRISP_ATTACH_CLIENTS; i++)
        close_fd(&s->clients[i].fd);
    close_fd(&s->listen_fd);
    close_fd(&s->stdin_fd);
    close_fd(&s->pty_fd);
    if (s->dir) {
        char *path = crisp_xasprintf("%s/%s", s->dir, CRISP_ATTACH_SOCK_NAME);
        unlink(path);
        free(path);
        free(s->dir);
        s->dir = NULL;
    }
    free(s->pending);
    s->pending = NULL;
    s->pending_off = s->pending_len = 0;
}
