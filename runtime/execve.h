/* The final execve of a container or exec'd process. */
#pragma once

#include "runtime/container.h"
#include "util/err.h"

/* Unblocks signals, sets umask 022, sets no_new_privs when p asks for it and execs p->argv (PATH
 * search in p->env when argv[0] has no '/'). Returns only on failure: FAILED_PRECONDITION "exec
 * \"foo\": ...". */
int crisp_rt_exec(const struct crisp_process *p, struct crisp_err *err);
