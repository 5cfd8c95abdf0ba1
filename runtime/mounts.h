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
