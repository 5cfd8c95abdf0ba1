/* File descriptors of a process about to become a container process: its stdio and closing
 * everything else (CVE-2024-21626: no host fd may reach the container). */
#pragma once

#include <stddef.h>

#include "runtime/container.h"
#include "util/err.h"

/* Copies (>= 3, close-on-exec) of the caller's stdio fds; -1 stands for /dev/null. */
struct crisp_rt_stdio {
    int fd[3];
};

/* Taken first thing in the new process, while the caller's fds are still there. */
int crisp_rt_stdio_save(const struct crisp_process *p, struct crisp_rt_stdio *s,
                        struct crisp_err *err);

/* fds 0, 1, 2 from s (or /dev/null of the current root), or all three from tty_slave >= 0,
 * which also becomes the controlling terminal (the process must be a session leader). */
int crisp_rt_stdio_apply(const struct crisp_rt_stdio *s, int tty_slave, struct crisp_err *err);

/* Closes every fd >= 3 but keep. */
int crisp_rt_close_fds(int keep, struct crisp_err *err);

/* Closes every fd >= 3 but those in keep (at most 8; negative ones ignored). */
int crisp_rt_close_fds_except(const int *keep, size_t n, struct crisp_err *err);
