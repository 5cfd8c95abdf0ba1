#define _GNU_SOURCE
#include "pod/pod_ns.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/thread.h"

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

/* Bind-mounts <src_dir>/<type> (a /proc ns dir) onto a new file dir/<type>. */
static int pin_from(const char *src_dir, const char *dir, const char *type, struct crisp_err *err)
{
    _cleanup_free_ char *src = crisp_xasprintf("%s/%s", src_dir, type);
    _cleanup_free_ char *dst = crisp_xasprintf("%s/%s", dir, type);
    int fd = open(dst, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0444);
    if (fd < 0)
        return crisp_syserrf(err, errno, "create %s", dst);
    close(fd);
    if (mount(src, dst, NULL, MS_BIND, NULL) < 0)
        return crisp_syserrf(err, errno, "bind mount %s on %s", src, dst);
    return 0;
}

int crisp_pod_ns_pin(pid_t pid, const char *dir, const char *type, struct crisp_err *err)
{
    _cleanup_free_ char *src_dir = crisp_xasprintf("/proc/%d/ns", (int)pid);
    return pin_from(src_dir, dir, type, err);
}

struct ns_thread {
    const struct crisp_pod_ns_request *req;
    struct crisp_err err;
    int result;
};

/* A thread of its own unshares the namespaces (net, ipc and uts are per
 * thread), fills them and pins them from /proc/thread-self, then ends: no
 * other thread of crispd ever runs in them, and no fork of crispd's whole
 * address space is needed (a fork + exit cost milliseconds here). */
static void *ns_thread_main(void *arg)
{
    struct ns_thread *t = arg;
    const struct crisp_pod_ns_request *req = t->req;
    int flags = (req->net ? CLONE_NEWNET : 0) | (req->ipc ? CLONE_NEWIPC : 0) |
                (req->uts ? CLONE_NEWUTS : 0);
    int r;
    if (unshare(flags) < 0)
        r = crisp_syserrf(&t->err, errno, "pod namespaces: unshare");
    else if (req->uts && sethostname(req->hostname, strlen(req->hostname)) < 0)
        r = crisp_syserrf(&t->err, errno, "pod namespaces: sethostname \"%s\"", req->hostname);
    else if (req->net && (r = loopback_up()) < 0)
        r = crisp_syserrf(&t->err, -r, "pod namespaces: bring loopback up");
    else
        r = 0;
    bool want[] = {req->net, req->ipc, req->uts};
    for (size_t i = 0; i < 3 && r == 0; i++)
        if (want[i])
            r = pin_from("/proc/thread-self/ns", req->dir, ns_types[i], &t->err);
    t->result = r;
    return NULL;
}

int crisp_pod_ns_create(const struct crisp_pod_ns_request *req, struct crisp_err *err)
{
    int r = crisp_mkdir_p(req->dir, 0700, err);
    if (r < 0)
        return r;
    struct ns_thread t = {.req = req};
    r = crisp_run_on_own_thread(ns_thread_main, &t, "make the pod's namespaces", err);
    if (r < 0)
        return r;
    if (t.result < 0) {
        *err = t.err;
        struct crisp_err ignored;
        crisp_pod_ns_remove(req->dir, &ignored);
    }
    return t.result;
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
