#define _GNU_SOURCE
#include "devices.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "runtime/resolve.h"
#include "util/cleanup.h"

static const struct {
    const char *name;
    unsigned major, minor;
} dev_nodes[] = {
    {"null", 1, 3},   {"zero", 1, 5},    {"full", 1, 7},
    {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
};

static const struct {
    const char *name, *target;
} dev_links[] = {
    {"ptmx", "pts/ptmx"},          {"fd", "/proc/self/fd"},       {"stdin", "/proc/self/fd/0"},
    {"stdout", "/proc/self/fd/1"}, {"stderr", "/proc/self/fd/2"}, {"core", "/proc/kcore"},
};

static int make_nodes(int dev, struct crisp_err *err)
{
    for (size_t i = 0; i < sizeof(dev_nodes) / sizeof(dev_nodes[0]); i++) {
        const char *name = dev_nodes[i].name;
        if (mknodat(dev, name, S_IFCHR | 0666, makedev(dev_nodes[i].major, dev_nodes[i].minor)) < 0)
            return crisp_syserrf(err, errno, "mknod /dev/%s", name);
        /* our fresh tmpfs: nothing there can be a symlink */
        if (fchmodat(dev, name, 0666, 0) < 0)
            return crisp_syserrf(err, errno, "chmod /dev/%s", name);
    }
    return 0;
}

static int make_links(int dev, struct crisp_err *err)
{
    for (size_t i = 0; i < sizeof(dev_links) / sizeof(dev_links[0]); i++)
        if (symlinkat(dev_links[i].target, dev, dev_links[i].name) < 0)
            return crisp_syserrf(err, errno, "symlink /dev/%s", dev_links[i].name);
    return 0;
}

/* mkdir dev/name and mount a file system of type on it. */
static int mount_sub(int dev, const char *name, mode_t mode, const char *type, unsigned long flags,
                     const char *data, struct crisp_err *err)
{
    if (mkdirat(dev, name, mode) < 0)
        return crisp_syserrf(err, errno, "mkdir /dev/%s", name);
    _cleanup_close_ int fd = openat(dev, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return crisp_syserrf(err, errno, "open /dev/%s", name);
    char path[32];
    if (mount(type, crisp_rt_fd_path(fd, path, sizeof(path)), type, flags, data) < 0)
        return crisp_syserrf(err, errno, "mount %s on /dev/%s", type, name);
    return 0;
}

static int populate(int dev, bool private_shm, struct crisp_err *err)
{
    int r = make_nodes(dev, err);
    if (r == 0)
        r = mount_sub(dev, "pts", 0755, "devpts", MS_NOSUID | MS_NOEXEC,
                      "newinstance,ptmxmode=0666,mode=0620,gid=5", err);
    if (r == 0 && private_shm)
        r = mount_sub(dev, "shm", 01777, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                      "mode=1777,size=65536k", err);
    if (r == 0)
        r = mount_sub(dev, "mqueue", 0755, "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, err);
    if (r == 0)
        r = make_links(dev, err);
    return r;
}

int crisp_rt_mount_dev(int rootfd, bool private_shm, struct crisp_err *err)
{
    _cleanup_close_ int mp = crisp_rt_mkdir_in_root(rootfd, "/dev", 0755, RESOLVE_NO_SYMLINKS, err);
    if (mp < 0)
        return mp;
    char path[32];
    if (mount("tmpfs", crisp_rt_fd_path(mp, path, sizeof(path)), "tmpfs",
              MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k") < 0)
        return crisp_syserrf(err, errno, "mount tmpfs on /dev");
    _cleanup_close_ int dev =
        crisp_rt_open_in_root(rootfd, "/dev", O_PATH | O_DIRECTORY, RESOLVE_NO_SYMLINKS);
    if (dev < 0)
        return crisp_syserrf(err, -dev, "open /dev");
    return populate(dev, private_shm, err);
}
