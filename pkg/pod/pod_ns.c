#define _GNU_SOURCE
#include "pod/pod_ns.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/mem.h"

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

/* Created here: net, ipc, uts; pinned by pod_infra.c: pid. */
static const char *const ns_types[] = {"net", "ipc", "uts", "pid"};

static int loopback_up(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct ifreq ifr = {0};
    strcpy(ifr.ifr_name, "lo");
    int r = 0;
    if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
        r = -errno;
    } else {
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
            r = -errno;
    }
    close(fd);
    return r;
}

static void close_fds_between(unsigned first, unsigned last)
{
    if (first > last)
        return;
    if (syscall(SYS_close_range, first, last, 0) == 0)
        return;
    for (unsigned fd = first; fd <= last && fd < 65536; fd++) /* no close_range (< 5.9) */
        close((int)fd);
}

/* Closes every fd >= 3 but a and b. The wait for the parent's EOF needs it: a
 * helper that another thread forks at the same moment inherits this one's pipe
 * ends (close-on-exec does not apply, nothing execs), and this one inherits
 * its ends; each would wait for the other forever. */
static void close_fds_but(int a, int b)
{
    unsigned lo = (unsigned)(a < b ? a : b), hi = (unsigned)(a < b ? b : a);
    close_fds_between(3, lo - 1);
    close_fds_between(lo + 1, hi - 1);
    close_fds_between(hi + 1, ~0U);
}

/* Runs in the forked child: only async-signal-safe calls. Reports a step
 * number and errno through the pipe, then waits until the parent has pinned
 * the namespaces (it closes its end). */
static __attribute__((noreturn)) void child_main(const struct crisp_pod_ns_request *req,
                                                 int report_fd, int wait_fd)
{
    close_fds_but(report_fd, wait_fd); /* among them the parent's ends of both pipes */
    int flags = (req->net ? CLONE_NEWNET : 0) | (req->ipc ? CLONE_NEWIPC : 0) |
                (req->uts ? CLONE_NEWUTS : 0);
    int result[2] = {0, 0};
    if (unshare(flags) < 0)
        result[0] = 1, result[1] = errno;
    else if (req->uts && sethostname(req->hostname, strlen(req->hostname)) < 0)
        result[0] = 2, result[1] = errno;
    else if (req->net && (result[1] = -loopback_up()) != 0)
        result[0] = 3;
    if (write(report_fd, result, sizeof(result)) != sizeof(result))
        _exit(1);
    char c;
    while (read(wait_fd, &c, 1) < 0 && errno == EINTR) {
    }
    _exit(0);
}

int crisp_pod_ns_pin(pid_t pid, const char *dir, const char *type, struct crisp_err *err)
{
    _cleanup_free_ char *src = crisp_xasprintf("/proc/%d/ns/%s", (int)pid, type);
    _cleanup_free_ char *dst = crisp_xasprintf("%s/%s", dir, type);
    int fd = open(dst, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0444);
    if (fd < 0)
        return crisp_syserrf(err, errno, "create %s", dst);
    close(fd);
    if (mount(src, dst, NULL, MS_BIND, NULL) < 0)
        return crisp_syserrf(err, errno, "bind mount %s on %s", src, dst);
    return 0;
}

static const char *const step_names[] = {"", "unshare", "sethostname", "bring loopback up"};

static int pin_all(const struct crisp_pod_ns_request *req, pid_t pid, int report_fd,
                   struct crisp_err *err)
{
    int result[2];
    ssize_t n;
    while ((n = read(report_fd, result, sizeof(result))) < 0 && errno == EINTR) {
    }
    if (n != sizeof(result))
        return crisp_errorf(err, GRPC_STATUS_INTERNAL, EIO,
                            "pod namespace helper died before reporting");
    if (result[0])
        return crisp_syserrf(err, result[1], "pod namespaces: %s", step_names[result[0]]);
    bool want[] = {req->net, req->ipc, req->uts};
    for (size_t i = 0; i < 3; i++) {
        int r = want[i] ? crisp_pod_ns_pin(pid, req->dir, ns_types[i], err) : 0;
        if (r < 0)
            return r;
    }
    return 0;
}

int crisp_pod_ns_create(const struct crisp_pod_ns_request *req, struct crisp_err *err)
{
    int r = crisp_mkdir_p(req->dir, 0700, err);
    if (r < 0)
        return r;
    int report[2], hold[2];
    if (pipe2(report, O_CLOEXEC) < 0)
        return crisp_syserrf(err, errno, "pipe");
    if (pipe2(hold, O_CLOEXEC) < 0) {
        close(report[0]);
        close(report[1]);
        return crisp_syserrf(err, errno, "pipe");
    }
    pid_t pid = fork();
    if (pid == 0)
        child_main(req, report[1], hold[0]);
    close(report[1]);
    close(hold[0]);
    r = pid < 0 ? crisp_syserrf(err, errno, "fork pod namespace helper")
                : pin_all(req, pid, report[0], err);
    close(report[0]);
    close(hold[1]); /* lets the child exit */
    if (pid > 0)
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
        }
    if (r < 0) {
        struct crisp_err ignored;
        crisp_pod_ns_remove(req->dir, &ignored);
    }
    return r;
}

bool crisp_pod_ns_pinned(const char *dir, const char *type)
{
    _cleanup_free_ char *path = crisp_xasprintf("%s/%s", dir, type);
    struct statfs sfs;
    return statfs(path, &sfs) == 0 && sfs.f_type == NSFS_MAGIC;
}

int crisp_pod_ns_remove(const char *dir, struct crisp_err *err)
{
    int result = 0;
    for (size_t i = 0; i < sizeof(ns_types) / sizeof(ns_types[0]); i++) {
        _cleanup_free_ char *path = crisp_xasprintf("%s/%s", dir, ns_types[i]);
        if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
            result = crisp_syserrf(err, errno, "unmount %s", path);
        if (unlink(path) < 0 && errno != ENOENT)
            result = crisp_syserrf(err, errno, "remove %s", path);
    }
    if (rmdir(dir) < 0 && errno != ENOENT)
        result = crisp_syserrf(err, errno, "remove %s", dir);
    return result;
}
