#define _GNU_SOURCE
#include "process.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "runtime/capabilities.h"
#include "runtime/fds.h"
#include "runtime/pty.h"
#include "runtime/seccomp.h"
#include "runtime/sync.h"
#include "util/cleanup.h"

void crisp_rt_signals_reset(void)
{
    struct sigaction sa = {.sa_handler = SIG_DFL};
    sigemptyset(&sa.sa_mask);
    for (int sig = 1; sig < _NSIG; sig++)
        sigaction(sig, &sa, NULL); /* SIGKILL, SIGSTOP and libc's own refuse: fine */
}

static const char *rlimit_name(int resource, char *buf, size_t size)
{
    snprintf(buf, size, "rlimit %d", resource);
    return buf;
}

static int set_oom_score_adj(int value, struct crisp_err *err)
{
    /* exec: /proc is the container's; make sure it is a procfs (and never block on a FIFO) */
    _cleanup_close_ int fd =
        open("/proc/self/oom_score_adj", O_WRONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return crisp_syserrf(err, errno, "open /proc/self/oom_score_adj");
    struct statfs sfs;
    if (fstatfs(fd, &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC)
        return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, EPERM,
                            "/proc of the container is not a procfs");
    char buf[16];
    int len = snprintf(buf, sizeof(buf), "%d", value);
    if (write(fd, buf, (size_t)len) == len)
        return 0;
    if (errno == EACCES)
        return crisp_errorf(err, GRPC_STATUS_PERMISSION_DENIED, EACCES,
                            "set oom_score_adj %d: not allowed to lower it (no "
                            "CAP_SYS_RESOURCE)",
                            value);
    return crisp_syserrf(err, errno, "set oom_score_adj %d", value);
}

int crisp_rt_set_limits(const struct crisp_process *p, struct crisp_err *err)
{
    for (size_t i = 0; i < p->n_rlimits; i++) {
        const struct crisp_rlimit *l = &p->rlimits[i];
        struct rlimit rl = {.rlim_cur = l->soft, .rlim_max = l->hard};
        if (setrlimit((__rlimit_resource_t)l->resource, &rl) < 0) {
            char name[32];
            return crisp_errorf(
                err, errno == EINVAL ? GRPC_STATUS_INVALID_ARGUMENT : GRPC_STATUS_PERMISSION_DENIED,
                errno, "set %s to %llu/%llu: %s", rlimit_name(l->resource, name, sizeof(name)),
                (unsigned long long)l->soft, (unsigned long long)l->hard, strerror(errno));
        }
    }
    if (p->set_oom_score_adj)
        return set_oom_score_adj(p->oom_score_adj, err);
    return 0;
}

int crisp_rt_set_user(const struct crisp_process *p, struct crisp_err *err)
{
    if (setgroups(p->n_groups, p->n_groups ? p->groups : NULL) < 0)
        return crisp_syserrf(err, errno, "setgroups (%zu groups)", p->n_groups);
    if (setresgid(p->gid, p->gid, p->gid) < 0)
        return crisp_syserrf(err, errno, "setresgid %u", (unsigned)p->gid);
    if (setresuid(p->uid, p->uid, p->uid) < 0)
        return crisp_syserrf(err, errno, "setresuid %u", (unsigned)p->uid);
    return 0;
}

int crisp_rt_enter_cwd(const char *cwd, struct crisp_err *err)
{
    if (!cwd)
        cwd = "/";
    if (chdir(cwd) < 0)
        return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, errno, "chdir to cwd %s: %s", cwd,
                            strerror(errno));
    char buf[PATH_MAX];
    if (!getcwd(buf, sizeof(buf)) || buf[0] != '/')
        return crisp_errorf(err, GRPC_STATUS_PERMISSION_DENIED, EPERM,
                            "cwd %s is outside the container's root", cwd);
    return 0;
}

/* With tty: a pty in the container's devpts; the master goes to the caller. */
static int open_tty(const struct crisp_process *p, int sync_fd, int *slave, struct crisp_err *err)
{
    *slave = -1;
    if (!p->tty)
        return 0;
    int master;
    int r = crisp_rt_pty_open(p->uid, &master, slave, err);
    if (r < 0)
        return r;
    struct winsize size = {.ws_col = p->tty_width, .ws_row = p->tty_height};
    if ((size.ws_col || size.ws_row) && ioctl(master, TIOCSWINSZ, &size) < 0) {
        r = crisp_syserrf(err, errno, "set the terminal size");
        close(master);
        return r;
    }
    r = crisp_rt_sync_send(sync_fd, CRISP_RT_MSG_PTY, 0, master);
    close(master);
    if (r < 0)
        return crisp_syserrf(err, -r, "send the pty master");
    return 0;
}

int crisp_rt_become_process(const struct crisp_process *p, const struct crisp_rt_stdio *stdio,
                            int sync_fd, struct crisp_err *err)
{
    int slave;
    int r = open_tty(p, sync_fd, &slave, err);
    if (r == 0)
        r = crisp_rt_set_limits(p, err);
    if (r == 0)
        r = crisp_rt_caps_bound(p, err); /* needs CAP_SETPCAP: before the ids change */
    if (r == 0) /* without no_new_privs, only while CAP_SYS_ADMIN is still held */
        r = crisp_rt_seccomp_apply(p, CRISP_RT_SECCOMP_PRIVILEGED, err);
    if (r == 0)
        r = crisp_rt_set_user(p, err);
    if (r == 0)
        r = crisp_rt_stdio_apply(stdio, slave, err);
    if (r == 0)
        r = crisp_rt_close_fds(sync_fd, err); /* the slave's and stdio's copies too */
    else if (slave >= 0)
        close(slave);
    if (r == 0)
        r = crisp_rt_enter_cwd(p->cwd, err);
    if (r == 0)
        r = crisp_rt_caps_apply(p, err); /* last: nothing after it needs a privilege */
    return r;
}

int crisp_rt_process_validate(const struct crisp_process *p, struct crisp_err *err)
{
    const char *bad = NULL;
    if (!p->argv || !p->argv[0] || !p->argv[0][0])
        bad = "argv is empty";
    else if (p->cwd && p->cwd[0] != '/')
        bad = "cwd is not an absolute path";
    else if (!p->tty && (p->stdin_fd < -1 || p->stdout_fd < -1 || p->stderr_fd < -1))
        bad = "a stdio fd is invalid";
    else if ((p->n_groups && !p->groups) || (p->n_rlimits && !p->rlimits))
        bad = "groups or rlimits missing";
    if (bad)
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL, "process: %s", bad);
    int r = crisp_rt_caps_validate(p, err);
    if (r == 0)
        r = crisp_seccomp_validate(p->seccomp, p, err);
    return r;
}
