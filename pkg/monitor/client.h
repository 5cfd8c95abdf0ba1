/* A client of crisp-monitor's control socket, <dir>/monitor.sock (for crispd and the tests).
 *
 * Protocol: line based, one request line, one reply line each, several requests per connection
 * allowed; lines are at most 255 bytes (a request) / 1100 bytes (a reply):
 *
 *   start          -> "ok" | "error <grpc code> <message>"   execve the created container
 *   kill <signum>  -> "ok" | "error ..."    signal the container process (through a pidfd; a
 *                                           process that already exited is "ok")
 *   reopen         -> "ok" | "error ..."    reopen the CRI log file (ReopenContainerLog)
 *   state          -> "created" | "running" | "exited"
 *   anything else  -> "error 3 unknown command ..."
 *
 * The socket is removed when the monitor exits (after exit.json is written). */
#pragma once

#include <stddef.h>

#include "util/err.h"

/* Sends cmd (no newline) to the monitor of dir and reads the reply line within timeout_ms.
 * Returns 0 and the reply (NUL-terminated, without the newline, truncated to size) for
 * anything but "error ..."; an "error <code> <msg>" reply returns a negative errno (derived
 * from the code) with err = that code and message (and the raw line in reply). Transport
 * failures: -ENOENT / -ECONNREFUSED (no monitor listening) and -ECONNRESET (it closed without
 * replying: it exited) with code UNAVAILABLE, -ETIMEDOUT with DEADLINE_EXCEEDED. */
int crisp_monitor_request(const char *dir, const char *cmd, char *reply, size_t size,
                          int timeout_ms, struct crisp_err *err);

/* The negative errno these calls return for an error of that gRPC code, as a positive value:
 * INVALID_ARGUMENT EINVAL, NOT_FOUND ENOENT, ALREADY_EXISTS EEXIST, PERMISSION_DENIED EACCES,
 * FAILED_PRECONDITION EPERM, DEADLINE_EXCEEDED ETIMEDOUT, UNIMPLEMENTED ENOSYS,
 * RESOURCE_EXHAUSTED ENOSPC, anything else EIO. */
int crisp_monitor_code_errno(grpc_status_code code);
