#define _GNU_SOURCE
#include "fds.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "runtime/sync.h"
#include "util/cleanup.h"

int crisp_rt_stdio_save(const struct crisp_process *p, struct crisp_rt_stdio *s,
                        struct crisp_err *err)
{
    const int src[3] = {p->stdin_fd, p->stdout_fd, p->stderr_fd};
    for (int i = 0; i < 3; i++)
        s->fd[i] = -1;
    for (int i = 0; i < 3; i++) {
        if (p->tty || src[i] < 0)
            continue;
        s->fd[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 3);
        if (s->fd[i] < 0)
            return crisp_syserrf(err, errno, "stdio: fd %d", src[i]);
    }
    return 0;
}

/* The container's /dev/null, checked: on exec the container may have replaced it. */
static int open_dev_null(struct crisp_err *err)
{
    int fd = open("/dev/null", O_RDWR | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return crisp_syserrf(err, errno, "open /dev/null");
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3)) {
        close(fd);
        return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, EPERM,
                            "/dev/null in the container is not the null device");
    }
    int moved = crisp_rt_fd_above_stdio(fd);
    if (moved < 0) {
        close(fd);
        return crisp_syserrf(err, -moved, "move the /dev/null fd");
    }
    return moved;
}

int crisp_rt_stdio_apply(const struct crisp_rt_stdio *s, int tty_slave, struct crisp_err *err)
{
    _cleanup_close_ int null_fd = -1;
    for (int i = 0; i < 3; i++) {
        int src = tty_slave >= 0 ? tty_slave : s->fd[i];
        if (src < 0) {
            if (null_fd < 0)
                null_fd = open_dev_null(err);
            if (null_fd < 0)
                return null_fd;
            src = null_fd;
        }
        if (dup2(src, i) < 0)
            return crisp_syserrf(err, errno, "dup2 %d -> %d", src, i);
    }
    if (tty_slave >= 0 && ioctl(0, TIOCSCTTY, 0) < 0)
        return crisp_syserrf(err, errno, "set the controlling terminal");
    return 0;
}

static int close_range_fallback(unsigned first, unsigned last)
{
    struct rlimit rl;
    unsigned max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 1u << 20
                       ? (unsigned)rl.rlim_cur
                       : 1u << 20;
    for (unsigned fd = first; fd <= last && fd < max; fd++)
        close((int)fd);
    return 0;
}

static int close_between(unsigned first, unsigned last)
{
    if (first > last)
        return 0;
    if (close_range(first, last, 0) == 0)
        return 0;
    if (errno == ENOSYS)
        return close_range_fallback(first, last);
    return -errno;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

int crisp_rt_close_fds_except(const int *keep, size_t n, struct crisp_err *err)
{
    int sorted[8];
    size_t m = 0;
    for (size_t i = 0; i < n && m < sizeof(sorted) / sizeof(sorted[0]); i++)
        if (keep[i] >= 3)
            sorted[m++] = keep[i];
    qsort(sorted, m, sizeof(int), cmp_int);
    unsigned next = 3;
    int r = 0;
    for (size_t i = 0; i < m && r == 0; i++) {
        if ((unsigned)sorted[i] > next)
            r = close_between(next, (unsigned)sorted[i] - 1);
        next = (unsigned)sorted[i] + 1;
    }
    if (r == 0)
        r = close_between(next, ~0U);
    if (r < 0)
        return crisp_syserrf(err, -r, "close inherited fds");
    return 0;
}

int crisp_rt_close_fds(int keep, struct crisp_err *err)
{
    return crisp_rt_close_fds_except(&keep, 1, err);
}
