/* The exit record: <container dir>/exit.json, written atomically by crisp-monitor once the
 * container process is gone and its output is drained (so the log is complete when the file
 * appears), read by crispd.
 *
 *   {"exit_code": 3, "signal": 0, "started_at": <ns>, "finished_at": <ns>, "oom_killed": false}
 *   plus, when start failed: "reason": "StartError", "message": "<the start error>"
 *
 * exit_code: the exit status, or 128 + the signal that killed the process (signal then names
 * it, else 0). started_at: when start succeeded, 0 if it never did. finished_at: when the
 * monitor reaped the process. Times are nanoseconds since the epoch (CLOCK_REALTIME).
 * Special cases: a failed start is exit_code 128 with reason StartError (containerd's
 * convention); a monitor stopped by SIGTERM/SIGINT kills the container with SIGKILL, so it
 * reads exit_code 137, signal 9 (started_at 0 when it never ran). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"

#define CRISP_MONITOR_START_ERROR_EXIT_CODE 128

struct crisp_monitor_exit {
    int exit_code;
    int signal;
    int64_t started_at, finished_at;
    bool oom_killed;
    char reason[32];                 /* "" or "StartError" */
    char message[CRISP_ERR_MSG_MAX]; /* "" unless reason is set */
};

int crisp_monitor_exit_write(const char *path, const struct crisp_monitor_exit *e,
                             struct crisp_err *err);

/* -ENOENT (err filled) while the container has not exited (or its monitor died first). */
int crisp_monitor_exit_read(const char *path, struct crisp_monitor_exit *e, struct crisp_err *err);
