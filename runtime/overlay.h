/* The container's root: an overlay of image layers plus a writable upper layer.
 *
 * Overlay's mount(2) option string must fit in one page (4 KiB; longer strings are cut), which
 * holds about 45 layers at /var/lib/crisp/layers/<64 hex>. So:
 *   1. the new mount API (fsopen/fsconfig/fsmount/move_mount) with one "lowerdir+" per layer
 *      (Linux 6.8+): no limit but overlay's own (500 layers); each path < 256 bytes;
 *   2. else mount(2) with absolute paths when the string fits in a page;
 *   3. else mount(2) from the layers' common parent directory with relative lowerdir paths
 *      (what containerd does); E2BIG (INVALID_ARGUMENT) if even that does not fit.
 * Paths containing ',' ':' or '\' are refused on the mount(2) paths (they are separators there).
 * The calling process's mount namespace gets the mount: only the container's init calls this. */
#pragma once

#include <stddef.h>

#include "util/err.h"

/* lowerdirs: bottom layer first. upper/work: both or neither (neither: a read-only overlay). */
struct crisp_rt_overlay {
    const char *const *lowerdirs;
    size_t n_lowerdirs;
    const char *upperdir, *workdir;
};

/* Mounts ov at target, by the first method above that the kernel supports. */
int crisp_rt_overlay_mount(const struct crisp_rt_overlay *ov, const char *target,
                           struct crisp_err *err);

/* Method 1 only: -EOPNOTSUPP (err untouched) when the kernel or the paths do not allow it. */
int crisp_rt_overlay_mount_new_api(const struct crisp_rt_overlay *ov, const char *target,
                                   struct crisp_err *err);

/* Methods 2 and 3 only (for kernels without "lowerdir+"; tests call it directly). */
int crisp_rt_overlay_mount_legacy(const struct crisp_rt_overlay *ov, const char *target,
                                  struct crisp_err *err);
