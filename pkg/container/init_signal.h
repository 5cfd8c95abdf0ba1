/* The kernel drops, rather than queues, a signal sent to the init of a PID namespace (a
 * container's first process) that has no handler for it (SIGKILL and SIGSTOP aside). A stop
 * right after a start can come before the process installed its SIGTERM handler: the signal is
 * lost and the container would only die at the SIGKILL after the whole grace period. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

/* True when pid is the init of its PID namespace and does not catch sig now, so sig sent now
 * is dropped. False when it would be delivered, or when that cannot be told (pid gone). */
bool crisp_init_drops_signal(pid_t pid, int sig);
