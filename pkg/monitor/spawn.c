#define _GNU_SOURCE
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
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
#include "util/spawnattr.h"

#define REPORT_FD  3
#define REPORT_MAX 1200

/* posix_spawn (a vfork: no copy of crispd's address space, which costs milliseconds) of the
 * monitor in a new session with default signal dispositions and an empty mask; fd 3 the report
 * pipe, 0 and 1 /dev/null, 2 the caller's (or /dev/null when the pipe is 2), nothing else. */
static int spawn_monitor(const char *path, char *const argv[], int report, pid_t *pid,
                         struct crisp_err *err)
{
    static char *const envp[] = {
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", NULL};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, report, REPORT_FD); /* clears close-on-exec */
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDWR, 0);
    posix_spawn_file_actions_adddup2(&fa, 0, 1);
    if (report == 2)
        posix_spawn_file_actions_adddup2(&fa, 0, 2);
    posix_spawn_file_actions_addclosefrom_np(&fa, REPORT_FD + 1);
    crisp_spawnattr_init_clean(&at, POSIX_SPAWN_SETSID);
    int r = posix_spawn(pid, path, &fa, &at, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (r != 0)
        return crisp_syserrf(err, r, "execute crisp-monitor %s", path);
    return 0;
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

/* A report pipe end that is not fd 3 itself, so dup2 onto 3 clears its close-on-exec. */
static int report_pipe(int p[2], struct crisp_err *err)
{
    if (pipe2(p, O_CLOEXEC) < 0)
        return crisp_syserrf(err, errno, "pipe");
    if (p[1] != REPORT_FD)
        return 0;
    int moved = fcntl(p[1], F_DUPFD_CLOEXEC, REPORT_FD + 1);
    int e = errno;
    close(p[1]);
    p[1] = moved;
    if (moved >= 0)
        return 0;
    close(p[0]);
    return crisp_syserrf(err, e, "pipe");
}

int crisp_monitor_spawn_timeout(const char *monitor_path, const char *dir, int timeout_ms,
                                pid_t *container_pid, struct crisp_err *err)
{
    char *const argv[] = {"crisp-monitor", "--detach", "--dir", (char *)dir, NULL};
    int p[2];
    int r = report_pipe(p, err);
    if (r < 0)
        return r;
    _cleanup_close_ int rd = p[0];
    pid_t child;
    r = spawn_monitor(monitor_path, argv, p[1], &child, err);
    close(p[1]);
    if (r < 0)
        return r;
    /* --detach: the monitor forks at once and this first process exits, so the monitor is
     * nobody's child (reparented to init or the nearest subreaper) and outlives crispd. */
    int status = 0;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR)
        ;
    char line[REPORT_MAX];
    r = read_report(rd, line, sizeof(line), crisp_monotonic_ms() + timeout_ms);
    if (r == -ETIMEDOUT) {
        kill_monitor(dir);
        return crisp_errorf(err, GRPC_STATUS_DEADLINE_EXCEEDED, ETIMEDOUT,
                            "crisp-monitor for %s did not report within %d ms", dir, timeout_ms);
    }
    if (r < 0)
        return crisp_syserrf(err, -r, "read the report of crisp-monitor for %s", dir);
    if (r == 0) {
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            return crisp_errorf(err, GRPC_STATUS_INTERNAL, EIO,
                                "crisp-monitor for %s ended before it detached (status 0x%x)", dir,
                                (unsigned)status);
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
