/* Paths inside a container's root, resolved by the kernel with openat2(RESOLVE_IN_ROOT |
 * RESOLVE_NO_MAGICLINKS): "..", absolute symlinks and relative ones all stay inside the root,
 * even if the tree is changed concurrently (CVE-2021-30465 class). Mount points are returned as
 * O_PATH fds and mounted on through /proc/self/fd/N, never by path. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/err.h"

/* openat2(rootfd, path, oflags | O_CLOEXEC, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | resolve).
 * path is taken inside the root whether it starts with '/' or not. Returns an fd or -errno. */
int crisp_rt_open_in_root(int rootfd, const char *path, int oflags, uint64_t resolve);

/* mkdir -p of path inside the root (missing directories made with mode, as the caller);
 * returns an O_PATH fd of the directory, or -errno with err filled. */
int crisp_rt_mkdir_in_root(int rootfd, const char *path, mode_t mode, uint64_t resolve,
                           struct crisp_err *err);

/* A mount point: path when it exists (following symlinks inside the root), else created with
 * its parents: a directory when dir, else an empty 0644 file. Returns an O_PATH fd or -errno. */
int crisp_rt_mkpath_in_root(int rootfd, const char *path, bool dir, uint64_t resolve,
                            struct crisp_err *err);

/* "/proc/self/fd/<fd>" into buf (at least 32 bytes). */
const char *crisp_rt_fd_path(int fd, char *buf, size_t size);
