#define _GNU_SOURCE
#include "control.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "monitor/sock.h"
#include "util/log.h"
#include "util/mem.h"

static void client_drop(struct crisp_monitor_ctl_client *cl)
{
    if (cl->fd >= 0)
        close(cl->fd);
    cl->fd = -1;
    cl->len = 0;
}

int crisp_monitor_ctl_listen(struct crisp_monitor_ctl *c, const char *dir, struct crisp_err *err)
{
    memset(c, 0, sizeof(*c));
    c->listen_fd = -1;
    for (size_t i = 0; i < CRISP_MONITOR_CTL_CLIENTS; i++)
        c->clients[i].fd = -1;
    int fd = crisp_monitor_sock_listen(dir, CRISP_MONITOR_SOCK_NAME, SOCK_STREAM, err);
    if (fd < 0)
        return fd;
    c->listen_fd = fd;
    c->dir = crisp_xstrdup(dir);
    return 0;
}

void crisp_monitor_ctl_close(struct crisp_monitor_ctl *c)
{
    for (size_t i = 0; i < CRISP_MONITOR_CTL_CLIENTS; i++)
        client_drop(&c->clients[i]);
    if (c->listen_fd >= 0) {
        close(c->listen_fd);
        c->listen_fd = -1;
    }
    if (c->dir) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", c->dir, CRISP_MONITOR_SOCK_NAME);
        unlink(path);
        free(c->dir);
        c->dir = NULL;
    }
}

size_t crisp_monitor_ctl_pollfds(const struct crisp_monitor_ctl *c, struct pollfd *fds)
{
    size_t n = 0;
    if (c->listen_fd < 0)
        return 0;
    fds[n++] = (struct pollfd){.fd = c->listen_fd, .events = POLLIN};
    for (size_t i = 0; i < CRISP_MONITOR_CTL_CLIENTS; i++)
        fds[n++] = (struct pollfd){.fd = c->clients[i].fd, .events = POLLIN};
    return n;
}

static void accept_clients(struct crisp_monitor_ctl *c)
{
    for (;;) {
        int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                log_warn("monitor", "accept on %s/%s: %s", c->dir, CRISP_MONITOR_SOCK_NAME,
                         strerror(errno));
            return;
        }
        struct crisp_monitor_ctl_client *slot = NULL;
        for (size_t i = 0; i < CRISP_MONITOR_CTL_CLIENTS; i++) {
            struct crisp_monitor_ctl_client *cl = &c->clients[i];
            if (cl->fd < 0) {
                slot = cl;
                break;
            }
            if (!slot || cl->active < slot->active)
                slot = cl;
        }
        client_drop(slot); /* a free slot, or the least recently active client */
        slot->fd = fd;
        slot->active = ++c->seq;
    }
}

static bool send_reply(struct crisp_monitor_ctl_client *cl, const char *reply)
{
    char line[CRISP_MONITOR_CTL_REPLY_MAX + 1];
    size_t len = strnlen(reply, CRISP_MONITOR_CTL_REPLY_MAX - 1);
    memcpy(line, reply, len);
    for (size_t i = 0; i < len; i++)
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    line[len++] = '\n';
    /* Replies are small: a client whose socket buffer is full is not reading; drop it. */
    ssize_t n = send(cl->fd, line, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    return n == (ssize_t)len;
}

/* Handles every complete line in the buffer; false when the client must go. */
static bool handle_lines(struct crisp_monitor_ctl_client *cl, crisp_monitor_ctl_handler handler,
                         void *arg)
{
    char *nl;
    while ((nl = memchr(cl->buf, '\n', cl->len))) {
        *nl = '\0';
        size_t used = (size_t)(nl - cl->buf) + 1;
        if (nl > cl->buf && nl[-1] == '\r')
            nl[-1] = '\0';
        char reply[CRISP_MONITOR_CTL_REPLY_MAX];
        reply[0] = '\0';
        handler(arg, cl->buf, reply, sizeof(reply));
        if (!send_reply(cl, reply))
            return false;
        memmove(cl->buf, cl->buf + used, cl->len - used);
        cl->len -= used;
    }
    if (cl->len == sizeof(cl->buf)) {
        send_reply(cl, "error 3 command too long");
        return false;
    }
    return true;
}

static void client_input(struct crisp_monitor_ctl *c, struct crisp_monitor_ctl_client *cl,
                         crisp_monitor_ctl_handler handler, void *arg)
{
    ssize_t n = recv(cl->fd, cl->buf + cl->len, sizeof(cl->buf) - cl->len, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        client_drop(cl);
        return;
    }
    cl->len += (size_t)n;
    cl->active = ++c->seq;
    if (!handle_lines(cl, handler, arg))
        client_drop(cl);
}

void crisp_monitor_ctl_dispatch(struct crisp_monitor_ctl *c, const struct pollfd *fds, size_t n,
                                crisp_monitor_ctl_handler handler, void *arg)
{
    if (n == 0)
        return;
    for (size_t i = 1; i < n && i <= CRISP_MONITOR_CTL_CLIENTS; i++) {
        struct crisp_monitor_ctl_client *cl = &c->clients[i - 1];
        if (cl->fd < 0 || cl->fd != fds[i].fd || !fds[i].revents)
            continue;
        if (fds[i].revents & (POLLIN | POLLHUP | POLLERR))
            client_input(c, cl, handler, arg);
        else
            client_drop(cl);
    }
    if (c->listen_fd >= 0 && fds[0].fd == c->listen_fd && (fds[0].revents & POLLIN))
        accept_clients(c);
}
