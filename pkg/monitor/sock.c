#define _GNU_SOURCE
#include "sock.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int crisp_monitor_sock_addr(const char *dir, struct crisp_monitor_sock_addr *a,
                            struct crisp_err *err)
{
    memset(a, 0, sizeof(*a));
    a->dirfd = -1;
    a->addr.sun_family = AF_UNIX;
    int n =
        snprintf(a->addr.sun_path, sizeof(a->addr.sun_path), "%s/%s", dir, CRISP_MONITOR_SOCK_NAME);
    if (n < 0 || (size_t)n >= sizeof(a->addr.sun_path)) {
        a->dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (a->dirfd < 0)
            return crisp_syserrf(err, errno, "open %s", dir);
        n = snprintf(a->addr.sun_path, sizeof(a->addr.sun_path), "/proc/self/fd/%d/%s", a->dirfd,
                     CRISP_MONITOR_SOCK_NAME);
    }
    a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (size_t)n + 1);
    return 0;
}

void crisp_monitor_sock_addr_done(struct crisp_monitor_sock_addr *a)
{
    if (a->dirfd >= 0)
        close(a->dirfd);
    a->dirfd = -1;
}
