#define _GNU_SOURCE
#include "rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime/device_nodes.h"
#include "runtime/devices.h"
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
    if (fchdir(rootfd) < 0)
        return crisp_syserrf(err, errno, "chdir into the rootfs");
    if (syscall(SYS_pivot_root, ".", ".") < 0)
        return crisp_syserrf(err, errno, "pivot_root");
    /* The old root is stacked on "." now; "/" is rslave so this does not reach the host. */
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

int crisp_rt_rootfs_setup(const struct crisp_container_spec *spec, struct crisp_err *err)
{
    if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
        return crisp_syserrf(err, errno, "make / rslave");
    int r = mount_root(spec, err);
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
