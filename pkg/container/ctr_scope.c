#define _GNU_SOURCE
#include "container/ctr_scope.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "container/ctr_cgroup.h"
#include "runtime/cgroup_systemd.h"
#include "util/cleanup.h"
#include "util/mem.h"

/* A child that only waits to be killed (async-signal-safe: crispd has threads). */
static int spawn_holder(pid_t *pid, struct crisp_err *err)
{
    pid_t parent = getpid();
    pid_t p = fork();
    if (p < 0)
        return crisp_syserrf(err, errno, "fork the systemd scope's placeholder");
    if (p == 0) { /* dies with crispd, should crispd die mid-create */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != parent)
            _exit(1);
        /* It never execs: without this it would hold, until killed, every pipe end another
         * thread had open at the fork (a CNI plugin's stdin would never reach EOF). */
        syscall(SYS_close_range, 3, ~0U, 0);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        for (;;)
            pause();
    }
    *pid = p;
    return 0;
}

void crisp_ctr_scope_release_holder(pid_t holder)
{
    if (holder <= 0)
        return;
    kill(holder, SIGKILL);
    while (waitpid(holder, NULL, 0) < 0 && errno == EINTR) {
    }
}

static int start_scope(const struct crisp_cgroup_root *root, const char *slice, const char *unit,
                       const Runtime__V1__LinuxContainerResources *res, pid_t holder,
                       struct crisp_err *err)
{
    struct crisp_cgroup_resources limits;
    crisp_ctr_cgroup_map_resources(res, &limits);
    struct crisp_systemd_scope scope = {
        .unit = unit, .slice = slice, .pid = holder, .mode = root->mode, .res = &limits};
    int r = crisp_systemd_start_scope(&scope, err);
    free(limits.hugepages);
    free(limits.unified);
    return r;
}

int crisp_ctr_scope_setup(const struct crisp_cgroup_root *root, const char *slice, const char *id,
                          const Runtime__V1__LinuxContainerResources *res,
                          struct crisp_monitor_spec *spec, char **path, pid_t *holder,
                          struct crisp_err *err)
{
    if (!*slice)
        slice = CRISP_DEFAULT_SLICE;
    _cleanup_free_ char *slice_path = NULL;
    _cleanup_free_ char *unit = crisp_systemd_scope_name(id);
    int r = crisp_systemd_slice_path(slice, &slice_path, err);
    pid_t pid = -1;
    if (r == 0)
        r = spawn_holder(&pid, err);
    if (r == 0)
        r = start_scope(root, slice, unit, res, pid, err);
    struct crisp_cgroup *cg = NULL;
    /* systemd made the directories in the hierarchies it manages; the others
     * (v1 cpuset, freezer, hugetlb) are crisp's to create, as runc does. */
    if (r == 0)
        r = crisp_cgroup_create(root, slice_path, unit, &cg, err);
    if (r == 0)
        r = crisp_ctr_cgroup_fill(root, cg, res, spec, path, err);
    if (r < 0) {
        crisp_ctr_scope_release_holder(pid);
        struct crisp_err ignored;
        crisp_systemd_stop_unit(unit, &ignored);
        return r;
    }
    *holder = pid;
    return 0;
}

int crisp_ctr_scope_stop(const char *path, struct crisp_err *err)
{
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    size_t len = strlen(name);
    if (strncmp(name, "crisp-", 6) != 0 || len < 12 || strcmp(name + len - 6, ".scope") != 0)
        return 0;
    return crisp_systemd_stop_unit(name, err);
}
