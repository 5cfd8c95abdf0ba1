/* The last steps before execve, shared by a container's init and by exec'd processes. Each runs
 * in the new process, in this order: crisp_rt_signals_reset and crisp_rt_stdio_save (fds.h)
 * first, then (after namespaces and mounts) crisp_rt_become_process, and finally crisp_rt_exec
 * (execve.h). */
#pragma once

#include "runtime/container.h"
#include "runtime/execve.h"
#include "runtime/fds.h"
#include "util/err.h"

/* Every signal back to SIG_DFL (execve keeps ignored signals ignored). The mask is kept until
 * crisp_rt_exec. */
void crisp_rt_signals_reset(void);

/* rlimits, then oom_score_adj (-EACCES / PERMISSION_DENIED when lowering it is not allowed). */
int crisp_rt_set_limits(const struct crisp_process *p, struct crisp_err *err);

/* setgroups, setresgid, setresuid. */
int crisp_rt_set_user(const struct crisp_process *p, struct crisp_err *err);

/* chdir(cwd) ("/" when NULL), then checks that the result is inside the root (getcwd fails
 * for a directory outside it: CVE-2024-21626). */
int crisp_rt_enter_cwd(const char *cwd, struct crisp_err *err);

/* Everything between the namespaces/mounts and the wait for start (or exec): with p->tty a pty
 * whose master is sent over sync_fd (PTY message), then set_limits, the bounding set
 * (crisp_rt_caps_bound), set_user, stdio_apply, close_fds(sync_fd), enter_cwd, and last the
 * capability sets (crisp_rt_caps_apply). */
int crisp_rt_become_process(const struct crisp_process *p, const struct crisp_rt_stdio *stdio,
                            int sync_fd, struct crisp_err *err);

/* Checks p before anything is spawned: argv, cwd absolute, fds, arrays, capability numbers.
 * INVALID_ARGUMENT. */
int crisp_rt_process_validate(const struct crisp_process *p, struct crisp_err *err);
