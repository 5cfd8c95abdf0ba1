/* /dev of a container: a fresh tmpfs (mode 755, nosuid, 64 MiB) with the standard character
 * devices made with mknod (null, zero, full, random, urandom, tty: crisp runs as root in the
 * initial user namespace, so no host nodes are bind-mounted), a private devpts instance
 * (newinstance, ptmxmode=0666, mode=0620, gid=5) with /dev/ptmx -> pts/ptmx, /dev/shm (tmpfs
 * 1777, nosuid/nodev/noexec, unless a bind mount provides it), /dev/mqueue (mqueue of the
 * container's ipc namespace) and the fd, stdin, stdout, stderr, core symlinks into /proc.
 * Nothing the container controls exists in that tmpfs yet, and every step uses *at() calls on
 * its fd without following symlinks. */
#pragma once

#include <stdbool.h>

#include "util/err.h"

int crisp_rt_mount_dev(int rootfd, bool private_shm, struct crisp_err *err);
