#pragma once

#include <stddef.h>

#include "util/err.h"

/* Writes into out the mount point of the mount that holds path (symlinks in path resolved):
 * path itself when it is a mount point, else its highest ancestor on the same mount. */
int crisp_rt_mount_point_of(const char *path, char *out, size_t size, struct crisp_err *err);
