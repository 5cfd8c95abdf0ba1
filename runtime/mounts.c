#define _GNU_SOURCE
#include "mounts.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
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
