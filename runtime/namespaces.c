#define _GNU_SOURCE
#include "namespaces.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/mem.h"

int crisp_rt_join_cgroups(const char *const *procs_files, size_t n, const char *joined,
                          struct crisp_err *err)
{
    for (size_t i = 0; i < n; i++) {
        if (joined && strcmp(procs_files[i], joined) == 0)
            continue;
        _cleanup_close_ int fd = open(procs_files[i], O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
            return crisp_syserrf(err, errno, "join cgroup: open %s", procs_files[i]);
        if (write(fd, "0", 1) != 1)
            return crisp_syserrf(err, errno, "join cgroup: write %s", procs_files[i]);
    }
    return 0;
}

struct ns_choice {
    const char *kind; /* for messages */
    int type;         /* CLONE_NEW* */
    const char *path;
    bool host;
};

static int join_ns(const struct ns_choice *ns, struct crisp_err *err)
{
    _cleanup_close_ int fd = open(ns->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return crisp_errorf(err, errno == ENOENT ? GRPC_STATUS_NOT_FOUND : GRPC_STATUS_INTERNAL,
                            errno, "open %s namespace %s: %s", ns->kind, ns->path, strerror(errno));
    if (setns(fd, ns->type) < 0)
        return crisp_errorf(err,
                            errno == EINVAL ? GRPC_STATUS_INVALID_ARGUMENT : GRPC_STATUS_INTERNAL,
                            errno, "join %s namespace %s: %s", ns->kind, ns->path, strerror(errno));
    return 0;
}

const char *crisp_rt_cgroup2_procs_file(const char *const *procs_files, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *dir = crisp_xstrdup(procs_files[i]);
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = '\0';
        struct statfs fs;
        if (statfs(dir, &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC)
            return procs_files[i];
    }
    return NULL;
}

int crisp_rt_enter_for_create(const struct crisp_container_spec *spec, const char *born_in,
                              unsigned long *clone_flags, struct crisp_err *err)
{
    const struct ns_choice all[] = {
        {"pid", CLONE_NEWPID, spec->pidns, spec->host_pid},
        {"network", CLONE_NEWNET, spec->netns, spec->host_net},
        {"ipc", CLONE_NEWIPC, spec->ipcns, spec->host_ipc},
        {"uts", CLONE_NEWUTS, spec->utsns, spec->host_uts},
    };
    int r =
        crisp_rt_join_cgroups(spec->cgroup_procs_files, spec->n_cgroup_procs_files, born_in, err);
    if (r < 0)
        return r;
    unsigned long flags = CLONE_NEWNS | CLONE_NEWCGROUP;
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        if (all[i].host)
            continue;
        if (!all[i].path) {
            flags |= (unsigned long)all[i].type;
            continue;
        }
        r = join_ns(&all[i], err);
        if (r < 0)
            return r;
    }
    *clone_flags = flags;
    return 0;
}

int crisp_rt_enter_container(pid_t pid, const char *const *procs_files, size_t n,
                             struct crisp_err *err)
{
    int r = crisp_rt_join_cgroups(procs_files, n, NULL, err);
    if (r < 0)
        return r;
    _cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd < 0)
        return crisp_errorf(err, errno == ESRCH ? GRPC_STATUS_NOT_FOUND : GRPC_STATUS_INTERNAL,
                            errno, "container process %d: %s", (int)pid, strerror(errno));
    int types =
        CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP;
    if (setns(pidfd, types) < 0)
        return crisp_syserrf(err, errno, "join the namespaces of container process %d", (int)pid);
    return 0;
}
