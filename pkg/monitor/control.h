/* The monitor's side of the control socket (protocol: monitor/client.h): a listening AF_UNIX
 * stream socket at <dir>/monitor.sock (0600) and up to CRISP_MONITOR_CTL_CLIENTS connected
 * clients, all non-blocking, driven by the monitor's poll loop. When every slot is taken, the
 * least recently active client is dropped for the new one, so clients that connect and never
 * talk cannot lock others out. A line longer than CRISP_MONITOR_CTL_LINE_MAX, a client that
 * does not read its replies, or one that disconnects only cost that client its connection. */
#pragma once

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define CRISP_MONITOR_CTL_CLIENTS   8
#define CRISP_MONITOR_CTL_LINE_MAX  256
#define CRISP_MONITOR_CTL_REPLY_MAX 1100

/* Handles one request line (NUL-terminated, no newline) and writes the reply (no newline). */
typedef void (*crisp_monitor_ctl_handler)(void *arg, char *line, char *reply, size_t size);

struct crisp_monitor_ctl_client {
    int fd;
    size_t len;
    uint64_t active; /* sequence number of the last activity */
    char buf[CRISP_MONITOR_CTL_LINE_MAX];
};

struct crisp_monitor_ctl {
    int listen_fd;
    char *dir; /* owned */
    uint64_t seq;
    struct crisp_monitor_ctl_client clients[CRISP_MONITOR_CTL_CLIENTS];
};

/* Binds <dir>/monitor.sock (a stale file there is replaced) and listens. */
int crisp_monitor_ctl_listen(struct crisp_monitor_ctl *c, const char *dir, struct crisp_err *err);

/* Closes every socket and removes the socket file. Idempotent. */
void crisp_monitor_ctl_close(struct crisp_monitor_ctl *c);

/* Appends the pollfds (listener + clients) to fds; returns how many were added (at most
 * CRISP_MONITOR_CTL_CLIENTS + 1). */
size_t crisp_monitor_ctl_pollfds(const struct crisp_monitor_ctl *c, struct pollfd *fds);

/* Handles poll results for those pollfds. */
void crisp_monitor_ctl_dispatch(struct crisp_monitor_ctl *c, const struct pollfd *fds, size_t n,
                                crisp_monitor_ctl_handler handler, void *arg);
