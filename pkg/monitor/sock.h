/* The address of a monitor's control socket, <dir>/monitor.sock (a file-system socket, never an
 * abstract one), shared by the monitor (bind) and its clients (connect). */
#pragma once

#include <sys/socket.h>
#include <sys/un.h>

#include "util/err.h"

#define CRISP_MONITOR_SOCK_NAME "monitor.sock"

struct crisp_monitor_sock_addr {
    struct sockaddr_un addr;
    socklen_t len;
    /* When <dir>/monitor.sock does not fit in sun_path, the address is
     * /proc/self/fd/<dirfd>/monitor.sock and dirfd (O_PATH) must stay open until bind or
     * connect is done; -1 otherwise. */
    int dirfd;
};

int crisp_monitor_sock_addr(const char *dir, struct crisp_monitor_sock_addr *a,
                            struct crisp_err *err);

/* Closes dirfd (when one was opened). */
void crisp_monitor_sock_addr_done(struct crisp_monitor_sock_addr *a);
