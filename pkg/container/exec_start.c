#define _GNU_SOURCE
#include "container/exec_start.h"

#include <errno.h>

#include "monitor/spec.h"
#include "util/cleanup.h"
#include "util/mem.h"

static int load_running(const struct crisp_ctr_env *env, const char *id, const char *method,
                        pid_t *pid, struct crisp_monitor_spec *spec, struct crisp_err *err)
{
    struct crisp_ctr *c;
    int r = crisp_ctr_get_running(env->ctrs, id, method, &c, err);
    if (r < 0)
        return r;
    *pid = c->pid;
    _cleanup_free_ char *path = crisp_xasprintf("%s/spec.json", c->dir);
    r = crisp_monitor_spec_read(path, spec, err);
    crisp_ctr_unlock_put(env->ctrs, c);
    return r;
}

int crisp_ctr_exec_start(const struct crisp_ctr_env *env, const char *id, const char *method,
                         char *const *argv, const struct crisp_exec_stdio *stdio,
                         struct crisp_exec_result *res, bool *not_runnable, struct crisp_err *err)
{
    *not_runnable = false;
    struct crisp_monitor_spec spec;
    pid_t ctr_pid;
    int r = load_running(env, id, method, &ctr_pid, &spec, err);
    if (r < 0)
        return r;
    struct crisp_exec_spec es = {.process = {.argv = argv,
                                             .env = spec.env,
                                             .cwd = spec.cwd,
                                             .uid = spec.uid,
                                             .gid = spec.gid,
                                             .groups = spec.groups,
                                             .n_groups = spec.n_groups,
                                             .stdin_fd = stdio->stdin_fd,
                                             .stdout_fd = stdio->stdout_fd,
                                             .stderr_fd = stdio->stderr_fd,
                                             .tty = stdio->tty,
                                             .tty_width = stdio->tty_width,
                                             .tty_height = stdio->tty_height,
                                             .caps = spec.caps,
                                             .n_caps = spec.n_caps,
                                             .caps_set = spec.caps_set,
                                             .no_new_privs = spec.no_new_privs,
                                             .seccomp = spec.seccomp_set ? &spec.seccomp : NULL},
                                 .cgroup_procs_files = (const char *const *)spec.cgroup_procs_files,
                                 .n_cgroup_procs_files = spec.n_cgroup_procs_files};
    r = crisp_container_exec(ctr_pid, &es, res, err);
    *not_runnable = r < 0 && err->code == GRPC_STATUS_FAILED_PRECONDITION;
    crisp_monitor_spec_free(&spec);
    return r;
}

int crisp_exec_failed_code(int r)
{
    return r == -ENOENT ? 127 : 126;
}
