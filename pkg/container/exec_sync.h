/* ExecSync: a command run to completion inside a running container, with the
 * container's namespaces, cgroups, user, environment and working directory;
 * its stdout and stderr collected (each capped), its exit code returned. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "container/lifecycle.h"

#define CRISP_EXEC_OUTPUT_MAX (16u << 20) /* per stream, as the kubelet caps it */

struct crisp_exec_output {
    char *out, *err; /* malloc'd */
    size_t out_len, err_len;
    int exit_code;
};

/* timeout: seconds, 0 = none; past it the command is killed and the call
 * fails with DEADLINE_EXCEEDED (the kubelet's probe timeout). A command that
 * cannot be executed answers exit code 126 or 127 with the reason on stderr. */
int crisp_ctr_exec_sync(const struct crisp_ctr_env *env, const char *id, char *const *argv,
                        int64_t timeout, struct crisp_exec_output *out, struct crisp_err *err);
void crisp_exec_output_free(struct crisp_exec_output *o);
