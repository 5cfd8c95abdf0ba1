#define _GNU_SOURCE
#include "container.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/namespaces.h"
#include "runtime/process.h"
#include "runtime/spawn.h"

struct exec_arg {
    pid_t container_pid;
    const struct crisp_exec_spec *spec;
};

static int exec_enter(const void *arg, const char *born_in, unsigned long *clone_flags,
                      struct crisp_err *err)
{
    (void)born_in; /* crispd is multi-threaded: never born_in */
    const struct exec_arg *a = arg;
    *clone_flags = 0; /* every namespace is joined, none created */
    return crisp_rt_enter_container(a->container_pid, a->spec->cgroup_procs_files,
                                    a->spec->n_cgroup_procs_files, err);
}

static int exec_run(int sync_fd, const void *arg, struct crisp_err *err)
{
    const struct crisp_process *p = &((const struct exec_arg *)arg)->spec->process;
    if (setsid() < 0)
        return crisp_syserrf(err, errno, "setsid");
    crisp_rt_signals_reset();
    struct crisp_rt_stdio stdio;
    int r = crisp_rt_stdio_save(p, &stdio, err);
    if (r == 0)
        r = crisp_rt_become_process(p, &stdio, sync_fd, err);
    if (r == 0)
        r = crisp_rt_exec(p, err);
    return r;
}

int crisp_container_exec(pid_t container_pid, const struct crisp_exec_spec *spec,
                         struct crisp_exec_result *out, struct crisp_err *err)
{
    if (container_pid <= 0 || (spec->n_cgroup_procs_files && !spec->cgroup_procs_files))
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "exec: bad container pid or cgroup files");
    int r = crisp_rt_process_validate(&spec->process, err);
    if (r < 0)
        return r;
    const struct exec_arg arg = {.container_pid = container_pid, .spec = spec};
    const struct crisp_process *p = &spec->process;
    const struct crisp_rt_spawn s = {
        .enter = exec_enter,
        .run = exec_run,
        .arg = &arg,
        .keep_fds = {p->stdin_fd, p->stdout_fd, p->stderr_fd},
        .share_memory = true,
    };
    struct crisp_rt_child child;
    r = crisp_rt_spawn(&s, &child, err);
    if (r < 0)
        return r;
    out->pid = child.pid;
    out->pty_master = child.pty_master;
    return 0;
}
