/* Starting crisp-monitor from crispd:
 *
 *     crispd ──posix_spawn, setsid──▶ crisp-monitor --detach --dir <dir> ──fork──▶ monitor
 *                                      (the first process exits at once)
 *
 * The monitor is an orphan (reparented to init or the nearest subreaper) in its own session, so
 * it survives crispd restarts. Its fd 3 is the write end of a pipe on which it reports exactly
 * one line once the container is created (or creating it failed):
 *
 *     ok <container pid>\n                | error <grpc code> <message>\n
 *
 * stdin and stdout are /dev/null; stderr is the caller's (the monitor logs there); every other
 * fd is closed, the signal mask is emptied and the environment is PATH only. <dir> must hold
 * spec.json (monitor/spec.h); the monitor writes <dir>/monitor.pid first thing, then <dir>/pid
 * and <dir>/monitor.sock before it reports ok. Safe to call from a multi-threaded process
 * (posix_spawn: nothing runs between the vfork and the execve but the fd and signal set-up). */
#pragma once

#include <sys/types.h>

#include "util/err.h"

#define CRISP_MONITOR_SPAWN_TIMEOUT_MS 30000

/* Spawns the monitor and waits (at most CRISP_MONITOR_SPAWN_TIMEOUT_MS) for its report: 0 and
 * *container_pid, or the monitor's error (its code and message; the return value is the
 * negative crisp_monitor_code_errno of the code, e.g. -ENOENT for NOT_FOUND). On a timeout the
 * monitor (found through <dir>/monitor.pid) is killed with SIGKILL, which ends a container still
 * being set up, and DEADLINE_EXCEEDED is returned. */
int crisp_monitor_spawn(const char *monitor_path, const char *dir, pid_t *container_pid,
                        struct crisp_err *err);

/* Same, with the timeout given (tests). */
int crisp_monitor_spawn_timeout(const char *monitor_path, const char *dir, int timeout_ms,
                                pid_t *container_pid, struct crisp_err *err);
