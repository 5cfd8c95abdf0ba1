/* Exclusive ownership of the CRI socket path: a lock file next to the socket
 * (flock, held for crispd's lifetime) so two daemons never serve one path,
 * and a check that no other program is listening there. */
#pragma once

#include "util/err.h"

/* Creates the socket's directory (0700) if missing, takes "<socket>.lock",
 * refuses when another process holds it or answers on the socket, and
 * removes a stale socket file. Returns the lock fd (>= 0) or a negative errno. */
int crisp_listen_lock(const char *socket_path, struct crisp_err *err);

/* Removes the socket file and drops the lock. */
void crisp_listen_unlock(const char *socket_path, int lock_fd);
