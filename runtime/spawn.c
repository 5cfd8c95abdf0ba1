#define _GNU_SOURCE
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/process.h"
#include "runtime/sync.h"
#include "util/cleanup.h"
#include "util/mem.h"

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

/* struct clone_args of clone3(2) up to its cgroup member (CLONE_ARGS_SIZE_VER2). */
struct clone3_args {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
        set_tid_size, cgroup;
};

#define CHILD_STACK_SIZE (8u << 20) /* only the pages it touches are allocated */

/* ASan cannot follow a task on a stack it did not see created (it warns that false positives
 * may follow): sanitizer builds copy the memory instead. */
#if defined(__SANITIZE_ADDRESS__)
#define SHARED_CHILD_OK 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SHARED_CHILD_OK 0
#endif
#endif
#ifndef SHARED_CHILD_OK
#define SHARED_CHILD_OK 1
#endif

int crisp_rt_reap(pid_t pid)
{
    int status;
    for (;;) {
        if (waitpid(pid, &status, __WALL) >= 0)
            return status;
        if (errno != EINTR)
            return -errno;
    }
}

void crisp_rt_kill_reap(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGKILL);
    crisp_rt_reap(pid);
}

const char *crisp_rt_status_str(int status, char *buf, size_t size)
{
    if (WIFEXITED(status))
        snprintf(buf, size, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, size, "killed by signal %d", WTERMSIG(status));
    else
        snprintf(buf, size, "wait status 0x%x", (unsigned)status);
    return buf;
}

/* The child: never returns. */
static void child_main(const struct crisp_rt_spawn *s, int sync_fd)
{
    struct crisp_err err = {0};
    int r = s->run(sync_fd, s->arg, &err);
    crisp_rt_sync_send_error(sync_fd, r < 0 ? -r : EIO, &err);
    _exit(1);
}

struct child_start {
    const struct crisp_rt_spawn *s;
    int sync_fd;
};

static int child_trampoline(void *arg)
{
    const struct child_start *c = arg;
    child_main(c->s, c->sync_fd);
    return 1;
}

/* The child on a stack of its own, sharing our memory; we resume at its execve or exit. The
 * stack is not unmapped: the helper exits right after. */
static long clone_shared(const struct crisp_rt_spawn *s, int sync_fd, unsigned long flags)
{
    void *stack = mmap(NULL, CHILD_STACK_SIZE, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED)
        return -1;
    struct child_start c = {.s = s, .sync_fd = sync_fd};
    return clone(child_trampoline, (char *)stack + CHILD_STACK_SIZE,
                 (int)(flags | CLONE_VM | CLONE_VFORK | CLONE_PARENT | SIGCHLD), &c);
}

static void helper_fail(int sync_fd, int r, struct crisp_err *err)
{
    crisp_rt_sync_send_error(sync_fd, -r, err);
    _exit(1);
}

/* The helper: never returns. born_in: the cgroup.procs file whose cgroup it was created in. */
static void helper_main(const struct crisp_rt_spawn *s, int sync_fd, const char *born_in)
{
    struct crisp_err err = {0};
    /* Not dumpable: processes already in a joined pid ns cannot open /proc/<pid>/exe (the
     * runtime binary: CVE-2019-5736) or our memory. The clone inherits it; execve resets it. */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
        helper_fail(sync_fd, crisp_syserrf(&err, errno, "prctl(PR_SET_DUMPABLE)"), &err);
    const int keep[] = {sync_fd, s->keep_fds[0], s->keep_fds[1], s->keep_fds[2]};
    int r = crisp_rt_close_fds_except(keep, 4, &err);
    if (r < 0)
        helper_fail(sync_fd, r, &err);
    unsigned long flags = 0;
    r = s->enter(s->arg, born_in, &flags, &err);
    if (r < 0)
        helper_fail(sync_fd, r, &err);
    long pid = SHARED_CHILD_OK && s->share_memory && !s->until_ready
                   ? clone_shared(s, sync_fd, flags)
                   : syscall(SYS_clone, flags | CLONE_PARENT | SIGCHLD, NULL, NULL, NULL, NULL);
    if (pid < 0)
        helper_fail(sync_fd, crisp_syserrf(&err, errno, "clone"), &err);
    if (pid == 0)
        child_main(s, sync_fd);
    if (crisp_rt_sync_send(sync_fd, CRISP_RT_MSG_PID, (int32_t)pid, -1) < 0) {
        kill((pid_t)pid, SIGKILL); /* nobody can reap it now: the caller is gone */
        _exit(1);
    }
    _exit(0);
}

struct collect {
    pid_t pid;
    int pty;
    bool ready;
    int failed; /* the -errno of the first ERROR, 0 when none */
};

/* Reads the channel until READY (when asked) and the pid are in, or EOF. */
static int collect(const struct crisp_rt_spawn *s, int fd, struct collect *c, struct crisp_err *err)
{
    for (;;) {
        struct crisp_rt_msg msg;
        int passfd = -1;
        int r = crisp_rt_sync_recv(fd, &msg, &passfd);
        if (r < 0)
            return crisp_syserrf(err, -r, "read from container setup");
        if (r == 0)
            return 0;
        if (msg.type == CRISP_RT_MSG_PTY && c->pty < 0) {
            c->pty = passfd;
            passfd = -1;
        }
        if (passfd >= 0)
            close(passfd);
        if (msg.type == CRISP_RT_MSG_PID)
            c->pid = msg.value;
        else if (msg.type == CRISP_RT_MSG_READY)
            c->ready = true;
        else if (msg.type == CRISP_RT_MSG_ERROR && !c->failed)
            c->failed = crisp_rt_msg_to_err(&msg, err);
        if (s->until_ready && c->ready && c->pid > 0 && !c->failed)
            return 0;
    }
}

/* Turns what was collected and the helper's status into a result. */
static int outcome(const struct crisp_rt_spawn *s, struct collect *c, int helper_status,
                   struct crisp_err *err)
{
    char how[64];
    if (c->failed)
        return c->failed;
    if (helper_status < 0)
        return crisp_syserrf(err, -helper_status, "wait for the container setup helper");
    if (!WIFEXITED(helper_status) || WEXITSTATUS(helper_status) != 0)
        return crisp_errorf(err, GRPC_STATUS_INTERNAL, EIO, "container setup helper %s",
                            crisp_rt_status_str(helper_status, how, sizeof(how)));
    if (c->pid <= 0)
        return crisp_errorf(err, GRPC_STATUS_INTERNAL, EPROTO,
                            "container setup helper sent no pid");
    if (s->until_ready && !c->ready) {
        int status = crisp_rt_reap(c->pid);
        c->pid = -1;
        return crisp_errorf(err, GRPC_STATUS_INTERNAL, EIO, "container process %s during setup",
                            status < 0 ? "vanished"
                                       : crisp_rt_status_str(status, how, sizeof(how)));
    }
    return 0;
}

/* A fork whose child starts in the cgroup of s->born_in; -1 with errno when the kernel refuses. */
static pid_t fork_into_cgroup(const struct crisp_rt_spawn *s)
{
    _cleanup_free_ char *dir = crisp_xstrdup(s->born_in);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    _cleanup_close_ int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct clone3_args args = {
        .flags = CLONE_INTO_CGROUP, .exit_signal = SIGCHLD, .cgroup = (uint64_t)fd};
    return (pid_t)syscall(SYS_clone3, &args, sizeof(args));
}

/* Forks the helper, in s->born_in's cgroup when asked and possible (*born_in then set). */
static pid_t fork_helper(const struct crisp_rt_spawn *s, const char **born_in)
{
    *born_in = NULL;
    if (s->born_in) {
        pid_t pid = fork_into_cgroup(s);
        if (pid >= 0) {
            *born_in = s->born_in;
            return pid;
        }
    }
    return fork();
}

int crisp_rt_spawn(const struct crisp_rt_spawn *s, struct crisp_rt_child *out,
                   struct crisp_err *err)
{
    int fds[2];
    int r = crisp_rt_sync_pair(fds, err);
    if (r < 0)
        return r;
    const char *born_in;
    pid_t helper = fork_helper(s, &born_in);
    if (helper < 0) {
        r = crisp_syserrf(err, errno, "fork");
        close(fds[0]);
        close(fds[1]);
        return r;
    }
    if (helper == 0) {
        close(fds[0]);
        helper_main(s, fds[1], born_in);
    }
    close(fds[1]);
    struct collect c = {.pid = -1, .pty = -1};
    r = collect(s, fds[0], &c, err);
    int helper_status = crisp_rt_reap(helper);
    if (r == 0)
        r = outcome(s, &c, helper_status, err);
    if (r < 0) {
        if (c.pty >= 0)
            close(c.pty);
        crisp_rt_kill_reap(c.pid);
        close(fds[0]);
        return r;
    }
    out->pid = c.pid;
    out->pty_master = c.pty;
    out->sync_fd = fds[0];
    if (!s->until_ready) {
        close(fds[0]);
        out->sync_fd = -1;
    }
    return 0;
}
