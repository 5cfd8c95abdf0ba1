#define _GNU_SOURCE
#include "rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime/device_nodes.h"
#include "runtime/devices.h"
#include "runtime/mount_point.h"
#include "runtime/mounts.h"
#include "runtime/overlay.h"
#include "runtime/resolve.h"
#include "util/cleanup.h"

static int mount_root(const struct crisp_container_spec *spec, struct crisp_err *err)
{
    if (spec->n_lowerdirs == 0) {
        if (mount(spec->rootfs, spec->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
            return crisp_syserrf(err, errno, "bind mount rootfs %s", spec->rootfs);
        return 0;
    }
    const struct crisp_rt_overlay ov = {
        .lowerdirs = spec->lowerdirs,
        .n_lowerdirs = spec->n_lowerdirs,
        .upperdir = spec->upperdir,
        .workdir = spec->workdir,
    };
    return crisp_rt_overlay_mount(&ov, spec->rootfs, err);
}

/* Mounts a kernel file system on a directory of the root (no symlinks on the way). */
static int mount_special(int rootfd, const char *dir, const char *type, unsigned long flags,
                         struct crisp_err *err)
{
    _cleanup_close_ int mp = crisp_rt_mkdir_in_root(rootfd, dir, 0555, RESOLVE_NO_SYMLINKS, err);
    if (mp < 0)
        return mp;
    char path[32];
    if (mount(type, crisp_rt_fd_path(mp, path, sizeof(path)), type, flags, NULL) < 0)
        return crisp_syserrf(err, errno, "mount %s on %s", type, dir);
    return 0;
}

/* sysfs read-only (privileged: read-write); when the kernel refuses a new sysfs here, the
 * host's, bound read-only. */
static int mount_sys(int rootfd, bool writable, struct crisp_err *err)
{
    const unsigned long flags = (writable ? 0 : MS_RDONLY) | MS_NOSUID | MS_NOEXEC | MS_NODEV;
    int r = mount_special(rootfd, "/sys", "sysfs", flags, err);
    if (r != -EPERM && r != -EBUSY)
        return r;
    _cleanup_close_ int mp =
        crisp_rt_open_in_root(rootfd, "/sys", O_PATH | O_DIRECTORY, RESOLVE_NO_SYMLINKS);
    if (mp < 0)
        return crisp_syserrf(err, -mp, "open /sys");
    char path[32];
    if (mount("/sys", crisp_rt_fd_path(mp, path, sizeof(path)), NULL, MS_BIND | MS_REC, NULL) < 0)
        return crisp_syserrf(err, errno, "bind mount the host's /sys");
    if (writable)
        return 0;
    _cleanup_close_ int top = crisp_rt_open_in_root(rootfd, "/sys", O_PATH | O_DIRECTORY, 0);
    if (top < 0)
        return crisp_syserrf(err, -top, "open /sys");
    return crisp_rt_remount_ro(top, "/sys", err);
}

static int pivot(int rootfd, struct crisp_err *err)
{
    _cleanup_close_ int oldroot = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (oldroot < 0)
        return crisp_syserrf(err, errno, "open the old root");
    if (fchdir(rootfd) < 0)
        return crisp_syserrf(err, errno, "chdir into the rootfs");
    if (syscall(SYS_pivot_root, ".", ".") < 0)
        return crisp_syserrf(err, errno, "pivot_root");
    /* The old root is stacked on the new one now. Made rslave from its own directory (a mount
     * call on "." would change the new root below), its unmount cannot reach the host. */
    if (fchdir(oldroot) < 0)
        return crisp_syserrf(err, errno, "chdir into the old root");
    if (mount(NULL, ".", NULL, MS_REC | MS_SLAVE, NULL) < 0)
        return crisp_syserrf(err, errno, "make the old root rslave");
    if (umount2(".", MNT_DETACH) < 0)
        return crisp_syserrf(err, errno, "unmount the old root");
    if (chdir("/") < 0)
        return crisp_syserrf(err, errno, "chdir /");
    return 0;
}

static int populate(const struct crisp_container_spec *spec, int rootfd, struct crisp_err *err)
{
    int r = mount_special(rootfd, "/proc", "proc", MS_NOSUID | MS_NOEXEC | MS_NODEV, err);
    if (r == 0)
        r = mount_sys(rootfd, spec->sys_writable, err);
    if (r == 0)
        r = crisp_rt_mount_dev(
            rootfd, !crisp_rt_mounts_have_destination(spec->mounts, spec->n_mounts, "/dev/shm"),
            err);
    if (r == 0)
        r = crisp_rt_make_devices(rootfd, spec, err);
    if (r == 0)
        r = crisp_rt_bind_mounts(rootfd, spec->mounts, spec->n_mounts, err);
    if (r == 0)
        r = crisp_rt_readonly_paths(rootfd, spec->readonly_paths, spec->n_readonly_paths, err);
    if (r == 0)
        r = crisp_rt_mask_paths(rootfd, spec->masked_paths, spec->n_masked_paths, err);
    return r;
}

static bool has_bidirectional_mount(const struct crisp_container_spec *spec)
{
    for (size_t i = 0; i < spec->n_mounts; i++)
        if (spec->mounts[i].propagation == CRISP_PROP_RSHARED)
            return true;
    return false;
}

/* Without a Bidirectional mount, everything becomes rslave: host mounts appear inside, nothing
 * goes out. With one (as runc's rootfsPropagation rshared), the host's shared mounts stay peers of
 * the host so a volume bound from one propagates both ways; "/" and the mount holding the
 * rootfs (the parents pivot_root needs unshared) become private, so what crisp mounts on the
 * rootfs stays inside. */
static int prepare_propagation(const struct crisp_container_spec *spec, struct crisp_err *err)
{
    if (!has_bidirectional_mount(spec)) {
        if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
            return crisp_syserrf(err, errno, "make / rslave");
        return 0;
    }
    if (mount(NULL, "/", NULL, MS_PRIVATE, NULL) < 0)
        return crisp_syserrf(err, errno, "make / private");
    char parent[PATH_MAX];
    int r = crisp_rt_mount_point_of(spec->rootfs, parent, sizeof(parent), err);
    if (r < 0)
        return r;
    if (mount(NULL, parent, NULL, MS_PRIVATE, NULL) < 0)
        return crisp_syserrf(err, errno, "make %s (holding the rootfs) private", parent);
    return 0;
}

int crisp_rt_rootfs_setup(const struct crisp_container_spec *spec, struct crisp_err *err)
{
    int r = prepare_propagation(spec, err);
    if (r == 0)
        r = mount_root(spec, err);
    if (r < 0)
        return r;
    _cleanup_close_ int rootfd = open(spec->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return crisp_syserrf(err, errno, "open rootfs %s", spec->rootfs);
    r = populate(spec, rootfd, err);
    if (r < 0)
        return r;
    return pivot(rootfd, err);
}

int crisp_rt_rootfs_finish(const struct crisp_container_spec *spec, struct crisp_err *err)
{
    if (!spec->readonly_rootfs)
        return 0;
    _cleanup_close_ int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        return crisp_syserrf(err, errno, "open /");
    return crisp_rt_remount_ro(root, "/", err);
}
