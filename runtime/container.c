#define _GNU_SOURCE
#include "container.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/init.h"
#include "runtime/namespaces.h"
#include "runtime/process.h"
#include "runtime/spawn.h"
#include "runtime/sync.h"
#include "util/mem.h"

struct crisp_container {
    pid_t pid;
    int sync_fd;    /* the caller's end until start */
    int pty_master; /* tty, until taken */
    bool started;
};

static int invalid(struct crisp_err *err, const char *what)
{
    return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL, "container spec: %s", what);
}

static const char *check_namespaces(const struct crisp_container_spec *s)
{
    if ((s->host_pid && s->pidns) || (s->host_net && s->netns) || (s->host_ipc && s->ipcns) ||
        (s->host_uts && s->utsns))
        return "a namespace is both joined and the host's";
    if (s->hostname && (s->host_uts || s->utsns))
        return "hostname needs a new uts namespace";
    return NULL;
}

static bool absolute_paths(const char *const *paths, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!paths || !paths[i] || paths[i][0] != '/')
            return false;
    return true;
}

static const char *check_rootfs(const struct crisp_container_spec *s)
{
    if (!s->rootfs || s->rootfs[0] != '/')
        return "rootfs is not an absolute path";
    if (s->n_lowerdirs == 0 && (s->upperdir || s->workdir))
        return "upperdir/workdir without lowerdirs";
    if (s->n_lowerdirs && (!s->lowerdirs || !s->upperdir != !s->workdir))
        return "lowerdirs missing, or upperdir without workdir";
    for (size_t i = 0; i < s->n_mounts; i++)
        if (!s->mounts[i].source || !s->mounts[i].destination || s->mounts[i].destination[0] != '/')
            return "a mount has no source or a relative destination";
    if (s->n_cgroup_procs_files && !s->cgroup_procs_files)
        return "cgroup_procs_files missing";
    if (!absolute_paths(s->masked_paths, s->n_masked_paths) ||
        !absolute_paths(s->readonly_paths, s->n_readonly_paths))
        return "a masked or read-only path is missing or not absolute";
    return NULL;
}

static int validate(const struct crisp_container_spec *spec, struct crisp_err *err)
{
    const char *bad = check_namespaces(spec);
    if (!bad)
        bad = check_rootfs(spec);
    if (bad)
        return invalid(err, bad);
    return crisp_rt_process_validate(&spec->process, err);
}

static int enter_for_create(const void *arg, const char *born_in, unsigned long *clone_flags,
                            struct crisp_err *err)
{
    return crisp_rt_enter_for_create(arg, born_in, clone_flags, err);
}

int crisp_container_create(const struct crisp_container_spec *spec, struct crisp_container **out,
                           struct crisp_err *err)
{
    int r = validate(spec, err);
    if (r < 0)
        return r;
    const struct crisp_rt_spawn s = {
        .enter = enter_for_create,
        .run = crisp_rt_init_run,
        .arg = spec,
        .until_ready = true,
        .keep_fds = {spec->process.stdin_fd, spec->process.stdout_fd, spec->process.stderr_fd},
        .born_in =
            crisp_rt_cgroup2_procs_file(spec->cgroup_procs_files, spec->n_cgroup_procs_files),
    };
    struct crisp_rt_child child;
    r = crisp_rt_spawn(&s, &child, err);
    if (r < 0)
        return r;
    struct crisp_container *c = crisp_xcalloc(1, sizeof(*c));
    c->pid = child.pid;
    c->sync_fd = child.sync_fd;
    c->pty_master = child.pty_master;
    *out = c;
    return 0;
}

/* After START: EOF means the execve happened; an ERROR is the exec failure. */
static int await_exec(struct crisp_container *c, struct crisp_err *err)
{
    struct crisp_rt_msg msg;
    int r = crisp_rt_sync_recv(c->sync_fd, &msg, NULL);
    if (r == 0)
        return 0;
    if (r == 1 && msg.type == CRISP_RT_MSG_ERROR)
        r = crisp_rt_msg_to_err(&msg, err);
    else if (r == 1)
        r = crisp_errorf(err, GRPC_STATUS_INTERNAL, EPROTO, "start: unexpected message %u",
                         msg.type);
    else
        r = crisp_syserrf(err, -r, "start: read from the container process");
    crisp_rt_kill_reap(c->pid);
    return r;
}

int crisp_container_start(struct crisp_container *c, struct crisp_err *err)
{
    if (c->started)
        return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, EALREADY,
                            "container process %d was already started", (int)c->pid);
    c->started = true;
    int r = crisp_rt_sync_send(c->sync_fd, CRISP_RT_MSG_START, 0, -1);
    if (r < 0) {
        char how[64];
        int status = crisp_rt_reap(c->pid);
        r = crisp_errorf(err, GRPC_STATUS_INTERNAL, -r, "start: container process %s",
                         status < 0 ? "vanished" : crisp_rt_status_str(status, how, sizeof(how)));
    } else {
        r = await_exec(c, err);
    }
    close(c->sync_fd);
    c->sync_fd = -1;
    return r;
}

pid_t crisp_container_pid(const struct crisp_container *c)
{
    return c->pid;
}

int crisp_container_take_pty(struct crisp_container *c)
{
    int fd = c->pty_master;
    c->pty_master = -1;
    return fd;
}

void crisp_container_free(struct crisp_container *c)
{
    if (!c)
        return;
    if (c->sync_fd >= 0)
        close(c->sync_fd);
    if (c->pty_master >= 0)
        close(c->pty_master);
    free(c);
}
