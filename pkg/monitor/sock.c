#define _GNU_SOURCE
#include "sock.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int crisp_monitor_sock_addr_of(const char *dir, const char *name, struct crisp_monitor_sock_addr *a,
                               struct crisp_err *err)
{
    memset(a, 0, sizeof(*a));
    a->dirfd = -1;
    a->addr.sun_family = AF_UNIX;
    int n = snprintf(a->addr.sun_path, sizeof(a->addr.sun_path), "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= sizeof(a->addr.sun_path)) {
        a->dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (a->dirfd < 0)
            return crisp_syserrf(err, errno, "open %s", dir);
        n = snprintf(a->addr.sun_path, sizeof(a->addr.sun_path), "/proc/self/fd/%d/%s", a->dirfd,
                     name);
        if (n < 0 || (size_t)n >= sizeof(a->addr.sun_path)) {
            crisp_monitor_sock_addr_done(a);
            return crisp_errorf(err, GRPC_STATUS_INTERNAL, ENAMETOOLONG, "socket name %s too long",
                                name);
        }
    }
    a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (size_t)n + 1);
    return 0;
}

int crisp_monitor_sock_addr(const char *dir, struct crisp_monitor_sock_addr *a,
                            struct crisp_err *err)
{
    return crisp_monitor_sock_addr_of(dir, CRISP_MONITOR_SOCK_NAME, a, err);
}

void crisp_monitor_sock_addr_done(struct crisp_monitor_sock_addr *a)
{
    if (a->dirfd >= 0)
        close(a->dirfd);
    a->dirfd = -1;
}

int crisp_monitor_sock_listen(const char *dir, const char *name, int type, struct crisp_err *err)
{
    struct crisp_monitor_sock_addr a;
    int r = crisp_monitor_sock_addr_of(dir, name, &a, err);
    if (r < 0)
        return r;
    int fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        r = crisp_syserrf(err, errno, "socket");
        goto out;
    }
    unlink(a.addr.sun_path);
    mode_t old = umask(0177); /* the socket is born 0600: no window with a wider mode */
    r = bind(fd, (struct sockaddr *)&a.addr, a.len);
    int bind_errno = errno;
    umask(old);
    if (r < 0) {
        r = crisp_syserrf(err, bind_errno, "bind %s/%s", dir, name);
        close(fd);
        goto out;
    }
    if (listen(fd, 16) < 0) {
        r = crisp_syserrf(err, errno, "listen on %s/%s", dir, name);
        unlink(a.addr.sun_path);
        close(fd);
        goto out;
    }
    r = fd;
out:
    crisp_monitor_sock_addr_done(&a);
    return r;
}
