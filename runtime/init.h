/* The container's init process, from the clone to execve (the run() of runtime/spawn.h for
 * crisp_container_create): sets everything up, sends READY, waits for START, execs. */
#pragma once

#include "util/err.h"

/* arg: the const struct crisp_container_spec *. Returns only on failure. */
int crisp_rt_init_run(int sync_fd, const void *arg, struct crisp_err *err);
