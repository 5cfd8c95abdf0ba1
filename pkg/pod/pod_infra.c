#define _GNU_SOURCE
#include "pod/pod_infra.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/close_range.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pod/pod_ns.h"
#include "util/cleanup.h"
#include "util/deadline.h"
#include "util/fs.h"
#include "util/mem.h"

#define INFRA_GO_FD        3
#define INFRA_LOW_FD       10 /* the children's pipe ends sit above the fds they set up */
#define INFRA_REPORT_MS    10000
#define INFRA_EXIT_WAIT_MS 10000

/* What the helper and the infra's fork tell crispd over the report pipe. */
struct infra_report {
    int32_t pid; /* the infra's pid (helper), 0 on failure */
    int32_t errnum;
    int32_t step; /* index into step_names */
};

enum { STEP_NONE, STEP_CGROUP, STEP_SETSID, STEP_UNSHARE, STEP_FORK, STEP_EXEC, STEP_COUNT };

static const char *const step_names[STEP_COUNT] = {
    "",
    "join the pod cgroup",
    "setsid",
    "unshare the PID namespace",
    "fork the infra process",
    "execute crisp-monitor --pod-init",
};

/* Everything the children need, made before fork (they may only make
 * async-signal-safe calls: crispd has threads). */
struct infra_exec {
    const struct crisp_pod_infra_request *req;
    char *const *argv;
    int report_fd, go_fd, null_fd; /* all >= INFRA_LOW_FD, close-on-exec */
};

static void report(int fd, int32_t pid, int errnum, int step)
{
    struct infra_report r = {pid, errnum, step};
    if (write(fd, &r, sizeof(r)) != sizeof(r)) {
        /* crispd is gone: nobody to tell */
    }
}

/* The infra's side before execve. The report pipe stays close-on-exec: its
 * EOF tells crispd the exec happened. */
static __attribute__((noreturn)) void exec_infra(const struct infra_exec *x)
{
    static char *const envp[] = {
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", NULL};
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (dup2(x->go_fd, INFRA_GO_FD) == INFRA_GO_FD && dup2(x->null_fd, 0) == 0 &&
        dup2(x->null_fd, 1) == 1 &&
        syscall(SYS_close_range, INFRA_GO_FD + 1, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
        execve(x->req->monitor_path, x->argv, envp);
    report(x->report_fd, 0, errno, STEP_EXEC);
    _exit(127);
}

static __attribute__((noreturn)) void helper_fail(int fd, int step)
{
    report(fd, 0, errno, step);
    _exit(1);
}

/* The helper: the cgroup, a session, the namespace, the infra's fork, its
 * pid. Never returns. */
static __attribute__((noreturn)) void helper(const struct infra_exec *x)
{
    const struct crisp_pod_infra_request *req = x->req;
    for (size_t i = 0; i < req->n_cgroup_procs_files; i++) {
        int fd = open(req->cgroup_procs_files[i], O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, "0", 1) != 1)
            helper_fail(x->report_fd, STEP_CGROUP);
        close(fd);
    }
    if (setsid() < 0)
        helper_fail(x->report_fd, STEP_SETSID);
    if (unshare(CLONE_NEWPID) < 0)
        helper_fail(x->report_fd, STEP_UNSHARE);
    pid_t pid = fork();
    if (pid < 0)
        helper_fail(x->report_fd, STEP_FORK);
    if (pid == 0)
        exec_infra(x);
    report(x->report_fd, pid, 0, STEP_NONE);
    _exit(0);
}

/* One report within the deadline: 1, 0 at EOF, -errno (-ETIMEDOUT). */
static int read_report(int fd, struct infra_report *r, int64_t deadline)
{
    for (;;) {
        int pr = crisp_poll_until(fd, POLLIN, deadline);
        if (pr < 0)
            return pr;
        ssize_t n = read(fd, r, sizeof(*r));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        return n == (ssize_t)sizeof(*r) ? 1 : 0;
    }
}

static int report_error(const struct infra_report *r, struct crisp_err *err)
{
    int step = r->step > 0 && r->step < STEP_COUNT ? r->step : STEP_EXEC;
    return crisp_syserrf(err, r->errnum ? r->errnum : EIO, "pod infra process: %s",
                         step_names[step]);
}

/* Reads the helper's report (the infra's pid), then waits for the exec. */
static int collect(int fd, pid_t *pid, struct crisp_err *err)
{
    int64_t deadline = crisp_monotonic_ms() + INFRA_REPORT_MS;
    struct infra_report r;
    int n = read_report(fd, &r, deadline);
    if (n < 0)
        return crisp_syserrf(err, -n, "pod infra process: wait for its pid");
    if (n == 0)
        return crisp_errorf(err, GRPC_STATUS_INTERNAL, EIO,
                            "pod infra process: the helper died without reporting");
    if (r.pid <= 0)
        return report_error(&r, err);
    *pid = r.pid;
    n = read_report(fd, &r, deadline);
    if (n == 0)
        return 0; /* EOF: exec'd */
    return n < 0 ? crisp_syserrf(err, -n, "pod infra process: wait for its exec")
                 : report_error(&r, err);
}

/* Pipe ends for the children, moved above the fds they set up. */
static int high_pipe(int fds[2], struct crisp_err *err)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return crisp_syserrf(err, errno, "pipe");
    for (int i = 0; i < 2; i++) {
        fds[i] = fcntl(p[i], F_DUPFD_CLOEXEC, INFRA_LOW_FD);
        close(p[i]);
    }
    if (fds[0] < 0 || fds[1] < 0) {
        int e = errno;
        if (fds[0] >= 0)
            close(fds[0]);
        if (fds[1] >= 0)
            close(fds[1]);
        return crisp_syserrf(err, e, "pipe");
    }
    return 0;
}

static int spawn(const struct crisp_pod_infra_request *req, int go_rd, pid_t *pid,
                 struct crisp_err *err)
{
    char *const argv[] = {"crisp-monitor", "--pod-init", NULL};
    int rep[2];
    int r = high_pipe(rep, err);
    if (r < 0)
        return r;
    _cleanup_close_ int rd = rep[0];
    int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    int null_high = null_fd < 0 ? -1 : fcntl(null_fd, F_DUPFD_CLOEXEC, INFRA_LOW_FD);
    if (null_fd >= 0)
        close(null_fd);
    if (null_high < 0) {
        close(rep[1]);
        return crisp_syserrf(err, errno, "open /dev/null");
    }
    struct infra_exec x = {
        .req = req, .argv = argv, .report_fd = rep[1], .go_fd = go_rd, .null_fd = null_high};
    pid_t child = fork();
    if (child == 0)
        helper(&x);
    int fork_errno = errno;
    close(rep[1]);
    close(null_high);
    if (child < 0)
        return crisp_syserrf(err, fork_errno, "fork pod infra helper");
    r = collect(rd, pid, err);
    while (waitpid(child, NULL, 0) < 0 && errno == EINTR) {
    }
    return r;
}

/* A pidfd of pid when it is the init of the namespace pinned in ns_dir, else
 * -1. The pidfd is taken first, so a pid recycled after the check is never
 * the one signalled. */
static int open_infra(pid_t pid, const char *ns_dir)
{
    if (pid <= 1)
        return -1;
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd < 0)
        return -1;
    char proc[64];
    snprintf(proc, sizeof(proc), "/proc/%d/ns/pid", (int)pid);
    _cleanup_free_ char *pinned = crisp_xasprintf("%s/pid", ns_dir);
    struct stat a, b;
    if (stat(proc, &a) < 0 || stat(pinned, &b) < 0 || a.st_ino != b.st_ino ||
        a.st_dev != b.st_dev) {
        close(pidfd);
        return -1;
    }
    return pidfd;
}

bool crisp_pod_infra_alive(pid_t pid, const char *ns_dir)
{
    int fd = open_infra(pid, ns_dir);
    if (fd < 0)
        return false;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    bool exited = poll(&p, 1, 0) > 0;
    close(fd);
    return !exited;
}

int crisp_pod_infra_kill(pid_t pid, const char *ns_dir, struct crisp_err *err)
{
    _cleanup_close_ int fd = open_infra(pid, ns_dir);
    if (fd < 0)
        return 0; /* gone, or not ours */
    if (syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0) < 0 && errno != ESRCH)
        return crisp_syserrf(err, errno, "kill pod infra process %d", (int)pid);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int n;
    while ((n = poll(&p, 1, INFRA_EXIT_WAIT_MS)) < 0 && errno == EINTR) {
    }
    if (n < 0)
        return crisp_syserrf(err, errno, "wait for pod infra process %d", (int)pid);
    if (n == 0)
        return crisp_errorf(err, GRPC_STATUS_DEADLINE_EXCEEDED, ETIMEDOUT,
                            "pod infra process %d did not exit %d s after SIGKILL", (int)pid,
                            INFRA_EXIT_WAIT_MS / 1000);
    return 0;
}

int crisp_pod_infra_start(const struct crisp_pod_infra_request *req, pid_t *pid_out,
                          struct crisp_err *err)
{
    if (access(req->monitor_path, X_OK) < 0)
        return crisp_syserrf(err, errno, "pod infra process: crisp-monitor %s", req->monitor_path);
    int r = crisp_mkdir_p(req->ns_dir, 0700, err);
    if (r < 0)
        return r;
    int go[2];
    r = high_pipe(go, err);
    if (r < 0)
        return r;
    _cleanup_close_ int go_wr = go[1];
    pid_t pid = 0;
    r = spawn(req, go[0], &pid, err);
    close(go[0]);
    if (r == 0)
        r = crisp_pod_ns_pin(pid, req->ns_dir, "pid", err);
    if (r == 0)
        r = req->persist(req->ctx, pid, err);
    if (r == 0 && write(go_wr, "g", 1) != 1)
        r = crisp_syserrf(err, errno, "pod infra process %d: send the go-ahead", (int)pid);
    if (r == 0)
        *pid_out = pid;
    return r; /* on failure go_wr closes unsent: the infra sees EOF and exits */
}
