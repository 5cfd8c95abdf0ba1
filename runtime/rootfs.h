/* The container's file system, built by its init process in its new mount namespace:
 *   1. "/" made rslave recursively: nothing mounted here ever propagates to the host;
 *   2. the rootfs: overlay (runtime/overlay.h) or, without layers, rootfs bound on itself;
 *   3. /proc (proc, nosuid noexec nodev), /sys (sysfs read-only; a read-only recursive bind of
 *      the host's /sys if sysfs cannot be mounted), /dev (runtime/devices.h); their mount
 *      points must be real directories (symlinks refused, created when missing);
 *   4. the bind mounts (runtime/mounts.h);
 *   5. the read-only paths, then the masked paths (runtime/mounts.h);
 *   6. pivot_root(".", ".") and a lazy unmount of the old root.
 * Then crisp_rt_rootfs_finish: the read-only remount of "/" when asked, after the caller made
 * what still had to be written (the cwd). */
#pragma once

#include "runtime/container.h"
#include "util/err.h"

int crisp_rt_rootfs_setup(const struct crisp_container_spec *spec, struct crisp_err *err);

int crisp_rt_rootfs_finish(const struct crisp_container_spec *spec, struct crisp_err *err);
