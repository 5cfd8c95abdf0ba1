#define _GNU_SOURCE
#include "pty.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include "runtime/sync.h"
#include "util/cleanup.h"

/* The container may have replaced /dev/pts/ptmx (exec into a running container). */
static int check_ptmx(int fd, struct crisp_err *err)
{
    struct stat st;
    struct statfs sfs;
    if (fstat(fd, &st) < 0 || fstatfs(fd, &sfs) < 0)
        return crisp_syserrf(err, errno, "stat /dev/pts/ptmx");
    if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != 5 || minor(st.st_rdev) != 2 ||
        sfs.f_type != DEVPTS_SUPER_MAGIC)
        return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, EPERM,
                            "/dev/pts/ptmx in the container is not a devpts ptmx");
    return 0;
}

int crisp_rt_pty_open(uid_t uid, int *master, int *slave, struct crisp_err *err)
{
    _cleanup_close_ int m = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC);
    if (m < 0)
        return crisp_syserrf(err, errno, "open /dev/pts/ptmx");
    int r = check_ptmx(m, err);
    if (r < 0)
        return r;
    if (unlockpt(m) < 0)
        return crisp_syserrf(err, errno, "unlockpt");
    int s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (s < 0)
        return crisp_syserrf(err, errno, "open the pty slave");
    /* Above 2, so that dup2 onto 0-2 always makes a fresh, inheritable fd. */
    s = crisp_rt_fd_above_stdio(s);
    if (s < 0)
        return crisp_syserrf(err, -s, "move the pty slave fd");
    if (fchown(s, uid, (gid_t)-1) < 0) {
        r = crisp_syserrf(err, errno, "chown the pty slave");
        close(s);
        return r;
    }
    *slave = s;
    *master = crisp_steal_fd(m);
    return 0;
}
