#define _GNU_SOURCE
#include "mounts.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "runtime/resolve.h"
#include "util/cleanup.h"

int crisp_rt_remount_ro(int fd, const char *what, struct crisp_err *err)
{
    static const struct {
        unsigned long st, ms;
    } keep[] = {
        {ST_NOSUID, MS_NOSUID},   {ST_NODEV, MS_NODEV},           {ST_NOEXEC, MS_NOEXEC},
        {ST_NOATIME, MS_NOATIME}, {ST_NODIRATIME, MS_NODIRATIME}, {ST_RELATIME, MS_RELATIME},
    };
    struct statvfs sv;
    if (fstatvfs(fd, &sv) < 0)
        return crisp_syserrf(err, errno, "statvfs %s", what);
    unsigned long flags = MS_REMOUNT | MS_BIND | MS_RDONLY;
    for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
        if (sv.f_flag & keep[i].st)
            flags |= keep[i].ms;
    char path[32];
    if (mount(NULL, crisp_rt_fd_path(fd, path, sizeof(path)), NULL, flags, NULL) < 0)
        return crisp_syserrf(err, errno, "remount %s read-only", what);
    return 0;
}

static int open_source(const char *source, struct stat *st, struct crisp_err *err)
{
    int fd = open(source, O_PATH | O_CLOEXEC);
    if (fd < 0)
        return crisp_errorf(err, errno == ENOENT ? GRPC_STATUS_NOT_FOUND : GRPC_STATUS_INTERNAL,
                            errno, "bind mount source \"%s\": %s", source, strerror(errno));
    if (fstat(fd, st) < 0) {
        int r = crisp_syserrf(err, errno, "bind mount source \"%s\": stat", source);
        close(fd);
        return r;
    }
    return fd;
}

static unsigned long propagation_flags(enum crisp_mount_propagation p)
{
    switch (p) {
    case CRISP_PROP_RSLAVE:
        return MS_REC | MS_SLAVE;
    case CRISP_PROP_RSHARED:
        return MS_REC | MS_SHARED;
    case CRISP_PROP_PRIVATE:
    default:
        return MS_REC | MS_PRIVATE;
    }
}

/* Read-only and propagation, applied to the new mount (re-resolved: the fd of the mount point
 * is beneath it). */
static int finish_bind(int rootfd, const struct crisp_bind_mount *m, struct crisp_err *err)
{
    _cleanup_close_ int top = crisp_rt_open_in_root(rootfd, m->destination, O_PATH, 0);
    if (top < 0)
        return crisp_syserrf(err, -top, "bind mount on %s: reopen", m->destination);
    if (m->readonly) {
        int r = crisp_rt_remount_ro(top, m->destination, err);
        if (r < 0)
            return r;
    }
    char path[32];
    if (mount(NULL, crisp_rt_fd_path(top, path, sizeof(path)), NULL,
              propagation_flags(m->propagation), NULL) < 0)
        return crisp_syserrf(err, errno, "set propagation of %s", m->destination);
    return 0;
}

int crisp_rt_bind_mount(int rootfd, const struct crisp_bind_mount *m, struct crisp_err *err)
{
    struct stat st;
    _cleanup_close_ int src = open_source(m->source, &st, err);
    if (src < 0)
        return src;
    _cleanup_close_ int dst =
        crisp_rt_mkpath_in_root(rootfd, m->destination, S_ISDIR(st.st_mode), 0, err);
    if (dst < 0)
        return dst;
    char src_path[32], dst_path[32];
    if (mount(crisp_rt_fd_path(src, src_path, sizeof(src_path)),
              crisp_rt_fd_path(dst, dst_path, sizeof(dst_path)), NULL, MS_BIND | MS_REC, NULL) < 0)
        return crisp_syserrf(err, errno, "bind mount %s on %s", m->source, m->destination);
    return finish_bind(rootfd, m, err);
}

int crisp_rt_bind_mounts(int rootfd, const struct crisp_bind_mount *mounts, size_t n,
                         struct crisp_err *err)
{
    for (size_t i = 0; i < n; i++) {
        int r = crisp_rt_bind_mount(rootfd, &mounts[i], err);
        if (r < 0)
            return r;
    }
    return 0;
}

/* Compares two paths ignoring repeated and trailing slashes. */
static bool same_path(const char *a, const char *b)
{
    for (;;) {
        while (*a == '/' && (a[1] == '/' || a[1] == '\0'))
            a++;
        while (*b == '/' && (b[1] == '/' || b[1] == '\0'))
            b++;
        if (*a != *b)
            return false;
        if (*a == '\0')
            return true;
        a++;
        b++;
    }
}

bool crisp_rt_mounts_have_destination(const struct crisp_bind_mount *mounts, size_t n,
                                      const char *dest)
{
    for (size_t i = 0; i < n; i++)
        if (same_path(mounts[i].destination, dest))
            return true;
    return false;
}

/* An existing path in the root: an O_PATH fd, 0 when it does not exist (*fd < 0; ENOTDIR: a
 * component is not a directory, so the path cannot exist either). */
static int open_existing(int rootfd, const char *path, const char *what, int *fd,
                         struct crisp_err *err)
{
    *fd = crisp_rt_open_in_root(rootfd, path, O_PATH, 0);
    if (*fd >= 0 || *fd == -ENOENT || *fd == -ENOTDIR)
        return 0;
    return crisp_syserrf(err, -*fd, "%s %s: resolve in the container", what, path);
}

static int readonly_path(int rootfd, const char *path, struct crisp_err *err)
{
    _cleanup_close_ int fd = -1;
    int r = open_existing(rootfd, path, "read-only path", &fd, err);
    if (r < 0 || fd < 0)
        return r;
    char p[32];
    crisp_rt_fd_path(fd, p, sizeof(p));
    if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) < 0)
        return crisp_syserrf(err, errno, "read-only path %s: bind mount on itself", path);
    /* the new mount is on top of fd's: re-resolve to reach it */
    _cleanup_close_ int top = crisp_rt_open_in_root(rootfd, path, O_PATH, 0);
    if (top < 0)
        return crisp_syserrf(err, -top, "read-only path %s: reopen", path);
    return crisp_rt_remount_ro(top, path, err);
}

int crisp_rt_readonly_paths(int rootfd, const char *const *paths, size_t n, struct crisp_err *err)
{
    for (size_t i = 0; i < n; i++) {
        int r = readonly_path(rootfd, paths[i], err);
        if (r < 0)
            return r;
    }
    return 0;
}

/* The root's /dev/null, checked to be the null device (never a symlink: CVE-2025-31133). */
static int open_dev_null(int rootfd, struct crisp_err *err)
{
    int fd = crisp_rt_open_in_root(rootfd, "/dev/null", O_PATH | O_NOFOLLOW, RESOLVE_NO_SYMLINKS);
    if (fd < 0)
        return crisp_syserrf(err, -fd, "open /dev/null of the container");
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3)) {
        close(fd);
        return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, EPERM,
                            "/dev/null of the container is not the null device: cannot mask "
                            "paths with it");
    }
    return fd;
}

static int mask_path(int rootfd, int *dev_null, const char *path, struct crisp_err *err)
{
    _cleanup_close_ int fd = -1;
    int r = open_existing(rootfd, path, "masked path", &fd, err);
    if (r < 0 || fd < 0)
        return r;
    struct stat st;
    if (fstat(fd, &st) < 0)
        return crisp_syserrf(err, errno, "masked path %s: stat", path);
    char target[32], source[32];
    crisp_rt_fd_path(fd, target, sizeof(target));
    if (S_ISDIR(st.st_mode)) {
        if (mount("tmpfs", target, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                  "mode=555") < 0)
            return crisp_syserrf(err, errno, "masked path %s: mount an empty tmpfs", path);
        return 0;
    }
    if (*dev_null < 0 && (*dev_null = open_dev_null(rootfd, err)) < 0)
        return *dev_null;
    if (mount(crisp_rt_fd_path(*dev_null, source, sizeof(source)), target, NULL, MS_BIND, NULL) < 0)
        return crisp_syserrf(err, errno, "masked path %s: bind /dev/null over it", path);
    return 0;
}

int crisp_rt_mask_paths(int rootfd, const char *const *paths, size_t n, struct crisp_err *err)
{
    _cleanup_close_ int dev_null = -1;
    for (size_t i = 0; i < n; i++) {
        int r = mask_path(rootfd, &dev_null, paths[i], err);
        if (r < 0)
            return r;
    }
    return 0;
}
