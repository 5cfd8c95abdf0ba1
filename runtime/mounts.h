/* Bind mounts into a container root that is not pivoted yet (sources are host paths). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "runtime/container.h"
#include "util/err.h"

/* Mounts m into the root at rootfd (see struct crisp_bind_mount for the rules). */
int crisp_rt_bind_mount(int rootfd, const struct crisp_bind_mount *m, struct crisp_err *err);

/* All of them, in order; the error names the failing mount. */
int crisp_rt_bind_mounts(int rootfd, const struct crisp_bind_mount *mounts, size_t n,
                         struct crisp_err *err);

/* Whether one of mounts has destination dest (compared without duplicate or trailing '/'). */
bool crisp_rt_mounts_have_destination(const struct crisp_bind_mount *mounts, size_t n,
                                      const char *dest);

/* Remounts the mount at fd read-only, keeping its nosuid/nodev/noexec/atime flags. */
int crisp_rt_remount_ro(int fd, const char *what, struct crisp_err *err);

/* Each of paths (inside the root at rootfd, symlinks resolved inside it; missing ones skipped)
 * bind-mounted on itself, recursively, and remounted read-only (crisp_rt_remount_ro). */
int crisp_rt_readonly_paths(int rootfd, const char *const *paths, size_t n, struct crisp_err *err);

/* Each of paths (resolved as above; missing ones skipped) masked: a directory by an empty
 * read-only tmpfs, anything else by the root's /dev/null bound over it. /dev/null must be the
 * null character device (not a symlink, not something a bind mount put there):
 * FAILED_PRECONDITION otherwise. */
int crisp_rt_mask_paths(int rootfd, const char *const *paths, size_t n, struct crisp_err *err);
