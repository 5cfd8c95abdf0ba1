#define _GNU_SOURCE
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "monitor/client.h"
#include "util/cleanup.h"
#include "util/deadline.h"

#define REPORT_FD  3
#define REPORT_MAX 1200

/* The report for a failed execve: prefix (made before fork) + errno in decimal. */
struct exec_failure {
    char text[PATH_MAX + 64];
    size_t len;
};

static void report_exec_failure(struct exec_failure *f, int errnum)
{
    char digits[16];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + errnum % 10);
        errnum /= 10;
    } while (errnum > 0 && n < sizeof(digits));
    while (n > 0 && f->len < sizeof(f->text) - 2)
        f->text[f->len++] = digits[--n];
    f->text[f->len++] = '\n';
    if (write(REPORT_FD, f->text, f->len) < 0) {
        /* nobody to tell */
    }
}

/* In the grandchild: async-signal-safe calls only (the caller may have threads). */
static void exec_monitor(const char *path, char *const argv[], int report,
                         struct exec_failure *failure)
{
    static char *const envp[] = {
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", NULL};
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* Ignored signals stay ignored across execve; the monitor sets up its own. */
    if (report == REPORT_FD ? fcntl(report, F_SETFD, 0) < 0 : dup2(report, REPORT_FD) < 0)
        _exit(127);
    /* Not close-on-exec: when it lands on 0 or 1 it stays; above 3 close_range takes it. */
    int devnull = open("/dev/null", O_RDWR);
    if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0)
        _exit(127);
    if (report == 2 && dup2(devnull, 2) < 0) /* the caller had no stderr: none for the report */
        _exit(127);
    syscall(SYS_close_range, REPORT_FD + 1, ~0U, 0); /* best effort: the monitor does it too */
    execve(path, argv, envp);
    report_exec_failure(failure, errno);
    _exit(127);
}

/* The intermediate child: a new session, then the monitor's fork; exits at once. */
static void intermediate(const char *path, char *const argv[], int report,
                         struct exec_failure *failure)
{
    if (setsid() < 0)
        _exit(1);
    pid_t pid = fork();
    if (pid < 0)
        _exit(1);
    if (pid == 0)
        exec_monitor(path, argv, report, failure);
    _exit(0);
}

/* Reads one line (or until EOF) within the deadline: 1 line, 0 EOF without a line, -ETIMEDOUT,
 * -errno. */
static int read_report(int fd, char *buf, size_t size, int64_t deadline)
{
    size_t len = 0;
    for (;;) {
        int pr = crisp_poll_until(fd, POLLIN, deadline);
        if (pr < 0)
            return pr;
        ssize_t n = read(fd, buf + len, size - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        buf[len + (size_t)n] = '\0';
        char *nl = memchr(buf + len, '\n', (size_t)n);
        len += (size_t)n;
        if (nl) {
            *nl = '\0';
            return 1;
        }
        if (n == 0 || len == size - 1)
            return 0;
    }
}

/* Kills the monitor named by <dir>/monitor.pid. The pidfd pins the process before its cmdline
 * is checked, so a pid recycled by another program is never hit. */
static void kill_monitor(const char *dir)
{
    char path[PATH_MAX], buf[32] = {0};
    snprintf(path, sizeof(path), "%s/monitor.pid", dir);
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, buf, sizeof(buf) - 1) <= 0)
        return;
    long pid = strtol(buf, NULL, 10);
    if (pid <= 1 || pid > INT_MAX)
        return;
    _cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
    if (pidfd < 0)
        return;
    snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
    _cleanup_close_ int cfd = open(path, O_RDONLY | O_CLOEXEC);
    char cmd[256] = {0};
    if (cfd < 0 || read(cfd, cmd, sizeof(cmd) - 1) <= 0 || !strstr(cmd, "crisp-monitor"))
        return;
    syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
}

static int parse_report(const char *monitor_path, const char *line, pid_t *container_pid,
                        struct crisp_err *err)
{
    char *end;
    if (strncmp(line, "ok ", 3) == 0) {
        long pid = strtol(line + 3, &end, 10);
        if (end != line + 3 && *end == '\0' && pid > 0 && pid <= INT_MAX) {
            *container_pid = (pid_t)pid;
            return 0;
        }
    } else if (strncmp(line, "error ", 6) == 0) {
        long code = strtol(line + 6, &end, 10);
        if (end != line + 6 && code > 0 && code <= GRPC_STATUS_UNAUTHENTICATED) {
            if (*end == ' ')
                end++;
            return crisp_errorf(err, (grpc_status_code)code,
                                crisp_monitor_code_errno((grpc_status_code)code), "%s", end);
        }
    }
    return crisp_errorf(err, GRPC_STATUS_INTERNAL, EPROTO, "%s: unexpected report \"%s\"",
                        monitor_path, line);
}

int crisp_monitor_spawn_timeout(const char *monitor_path, const char *dir, int timeout_ms,
                                pid_t *container_pid, struct crisp_err *err)
{
    /* Everything the children need is prepared before fork. */
    if (access(monitor_path, X_OK) < 0)
        return crisp_syserrf(err, errno, "crisp-monitor %s", monitor_path);
    char *const argv[] = {"crisp-monitor", "--dir", (char *)dir, NULL};
    struct exec_failure failure;
    int n = snprintf(failure.text, sizeof(failure.text) - 20, "error %d execute %s: errno ",
                     GRPC_STATUS_INTERNAL, monitor_path);
    failure.len = n < 0                                    ? 0
                  : (size_t)n >= sizeof(failure.text) - 20 ? sizeof(failure.text) - 21
                                                           : (size_t)n;
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return crisp_syserrf(err, errno, "pipe");
    _cleanup_close_ int rd = p[0];
    pid_t child = fork();
    if (child < 0) {
        int r = crisp_syserrf(err, errno, "fork");
        close(p[1]);
        return r;
    }
    if (child == 0)
        intermediate(monitor_path, argv, p[1], &failure);
    close(p[1]);
    int status = 0;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR)
        ;
    char line[REPORT_MAX];
    int r = read_report(rd, line, sizeof(line), crisp_monotonic_ms() + timeout_ms);
    if (r == -ETIMEDOUT) {
        kill_monitor(dir);
        return crisp_errorf(err, GRPC_STATUS_DEADLINE_EXCEEDED, ETIMEDOUT,
                            "crisp-monitor for %s did not report within %d ms", dir, timeout_ms);
    }
    if (r < 0)
        return crisp_syserrf(err, -r, "read the report of crisp-monitor for %s", dir);
    if (r == 0) {
        if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
            return crisp_errorf(err, GRPC_STATUS_INTERNAL, EIO,
                                "start crisp-monitor for %s: setsid or fork failed", dir);
        return crisp_errorf(err, GRPC_STATUS_INTERNAL, EIO,
                            "crisp-monitor for %s exited without a report", dir);
    }
    return parse_report(monitor_path, line, container_pid, err);
}

int crisp_monitor_spawn(const char *monitor_path, const char *dir, pid_t *container_pid,
                        struct crisp_err *err)
{
    return crisp_monitor_spawn_timeout(monitor_path, dir, CRISP_MONITOR_SPAWN_TIMEOUT_MS,
                                       container_pid, err);
}
