/* The "container spec -> launcher exec" step shared by ExecSync and streaming Exec: looks up
 * the running container, reads the process settings its monitor runs with (user, groups,
 * env, cwd, capabilities, no_new_privs, seccomp, cgroups) and runs argv in it through
 * crisp_container_exec. */
#pragma once

#include <stdbool.h>

#include "container/lifecycle.h"
#include "runtime/container.h"

struct crisp_exec_stdio {
    int stdin_fd, stdout_fd, stderr_fd; /* -1: the container's /dev/null; ignored with tty */
    bool tty;                           /* a pty: res->pty_master */
    uint16_t tty_width, tty_height;     /* its size from the start; 0x0: unknown */
};

/* method names the CRI call in errors ("ExecSync", "Exec"). A command that could not be
 * executed sets *not_runnable and fails with the launcher's message (-ENOENT when it does not
 * exist): an answer about the command, not about the call; crisp_exec_failed_code maps it to
 * the shell's 127/126. */
int crisp_ctr_exec_start(const struct crisp_ctr_env *env, const char *id, const char *method,
                         char *const *argv, const struct crisp_exec_stdio *stdio,
                         struct crisp_exec_result *res, bool *not_runnable, struct crisp_err *err);

/* 127 for a command not found, 126 otherwise (what a shell answers). */
int crisp_exec_failed_code(int r);
