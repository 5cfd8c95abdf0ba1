/* The addresses of a monitor's sockets in its container dir, <dir>/monitor.sock (control) and
 * <dir>/attach.sock (attach), file-system sockets, never abstract ones; shared by the monitor
 * (bind) and its clients (connect). */
#pragma once

#include <sys/socket.h>
#include <sys/un.h>

#include "util/err.h"

#define CRISP_MONITOR_SOCK_NAME "monitor.sock"

struct crisp_monitor_sock_addr {
    struct sockaddr_un addr;
    socklen_t len;
    /* When <dir>/<name> does not fit in sun_path, the address is /proc/self/fd/<dirfd>/<name>
     * and dirfd (O_PATH) must stay open until bind or connect is done; -1 otherwise. */
    int dirfd;
};

/* The address of <dir>/<name>. */
int crisp_monitor_sock_addr_of(const char *dir, const char *name, struct crisp_monitor_sock_addr *a,
                               struct crisp_err *err);

/* The control socket's address: crisp_monitor_sock_addr_of(dir, CRISP_MONITOR_SOCK_NAME). */
int crisp_monitor_sock_addr(const char *dir, struct crisp_monitor_sock_addr *a,
                            struct crisp_err *err);

/* Closes dirfd (when one was opened). */
void crisp_monitor_sock_addr_done(struct crisp_monitor_sock_addr *a);

/* A non-blocking, close-on-exec socket of type (SOCK_STREAM, SOCK_SEQPACKET) bound to
 * <dir>/<name> with mode 0600 (a stale file there is replaced) and listening: the fd. */
int crisp_monitor_sock_listen(const char *dir, const char *name, int type, struct crisp_err *err);
