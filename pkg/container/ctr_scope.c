#define _GNU_SOURCE
#include "container/ctr_scope.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "container/ctr_cgroup.h"
#include "runtime/cgroup_systemd.h"
#include "util/cleanup.h"
#include "util/mem.h"
#include "util/spawnattr.h"

/* `crisp-monitor --placeholder <crispd's pid>`: a small static process that only waits to be
 * killed (and dies with crispd), posix_spawned: a fork of crispd would copy its whole address
 * space for a process that never uses it. */
static int spawn_holder(const char *monitor_path, pid_t *pid, struct crisp_err *err)
{
    char ppid[16];
    snprintf(ppid, sizeof(ppid), "%d", (int)getpid());
    char *const argv[] = {"crisp-monitor", "--placeholder", ppid, NULL};
    static char *const envp[] = {NULL};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDWR, 0);
    posix_spawn_file_actions_adddup2(&fa, 0, 1);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3); /* it holds no pipe of another thread */
    crisp_spawnattr_init_clean(&at, 0);
    int r = posix_spawn(pid, monitor_path, &fa, &at, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (r != 0)
        return crisp_syserrf(err, r, "start the systemd scope's placeholder %s", monitor_path);
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

int crisp_ctr_scope_setup(const struct crisp_cgroup_root *root, const char *monitor_path,
                          const char *slice, const char *id,
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
        r = spawn_holder(monitor_path, &pid, err);
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
