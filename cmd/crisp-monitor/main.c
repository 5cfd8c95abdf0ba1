/* crisp-monitor: the per-container process (see pkg/monitor/monitor.h). Started by crispd as
 * `crisp-monitor --dir <container dir>` with fd 3 = the pipe it reports the setup outcome on.
 * Exit status: 0 after the container ended (exit.json written), 1 when the setup failed
 * (reported on fd 3), 2 for bad usage. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "monitor/monitor.h"
#include "pod/pod_init.h"
#include "util/err.h"
#include "util/log.h"

#ifndef CRISP_VERSION
#define CRISP_VERSION "unknown"
#endif

#define REPORT_FD  3
#define EXIT_USAGE 2

static const char usage_text[] =
    "Usage: crisp-monitor [--detach] --dir DIR [--log-level LEVEL]\n"
    "       crisp-monitor --pod-init\n"
    "       crisp-monitor --placeholder PPID\n"
    "\n"
    "Runs and watches one container for crispd: DIR holds spec.json; the monitor writes\n"
    "pid, monitor.pid, monitor.sock and, when the container has exited, exit.json there.\n"
    "fd 3, when open, receives one line: \"ok <pid>\" or \"error <code> <message>\".\n"
    "--detach: fork first and let the started process exit, so the monitor is nobody's\n"
    "child (crispd starts it so in a new session).\n"
    "\n"
    "--pod-init: pid 1 of a pod's shared PID namespace (started by crispd): waits for a\n"
    "byte on fd 3, then reaps orphans until killed.\n"
    "\n"
    "--placeholder PPID: waits to be killed, or dies with its parent PPID (crispd): the first\n"
    "process of a container's systemd scope until the container has joined it.\n";

/* fds 0-2 open (on /dev/null when they were not), every fd above REPORT_FD closed. */
static void sanitize_fds(void)
{
    for (int fd = 0; fd < 3; fd++) {
        if (fcntl(fd, F_GETFD) >= 0)
            continue;
        int null = open("/dev/null", O_RDWR);
        if (null >= 0 && null != fd) {
            dup2(null, fd);
            close(null);
        }
    }
    if (close_range(REPORT_FD + 1, ~0U, 0) < 0) {
        for (int fd = REPORT_FD + 1; fd < 1024; fd++)
            close(fd);
    }
}

/* Waits to be killed; dies with its parent (crispd, whose pid is ppid_text) should crispd die
 * first. */
static __attribute__((noreturn)) void placeholder(const char *ppid_text)
{
    char *end;
    long ppid = strtol(ppid_text, &end, 10);
    if (*end || prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != (pid_t)ppid)
        _exit(1); /* the parent is already gone (or this was not started by crispd) */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (;;)
        pause();
}

/* Forks; the parent exits 0 at once (its parent, crispd, reaps it), the child goes on as the
 * monitor. Cheap here: the monitor is small and static, unlike crispd. */
static int detach_from_parent(int report_fd)
{
    pid_t pid = fork();
    if (pid > 0)
        _exit(0);
    if (pid == 0)
        return 0;
    char line[128];
    int n = snprintf(line, sizeof(line), "error %d crisp-monitor: fork: %s\n",
                     (int)GRPC_STATUS_INTERNAL, strerror(errno));
    if (report_fd >= 0 && n > 0 && write(report_fd, line, (size_t)n) < 0) {
        /* nobody to tell */
    }
    return -1;
}

int main(int argc, char **argv)
{
    sanitize_fds();
    int report_fd = fcntl(REPORT_FD, F_GETFD) >= 0 ? REPORT_FD : -1;
    static const struct option options[] = {
        {"dir", required_argument, NULL, 'd'},
        {"log-level", required_argument, NULL, 'l'},
        {"version", no_argument, NULL, 'V'},
        {"pod-init", no_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {"detach", no_argument, NULL, 'D'},
        {"placeholder", required_argument, NULL, 'P'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = NULL;
    bool pod_init = false, detach = false;
    enum crisp_log_level level;
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'd':
            dir = optarg;
            break;
        case 'l':
            if (crisp_log_level_parse(optarg, &level) < 0) {
                fprintf(stderr, "crisp-monitor: bad log level \"%s\"\n", optarg);
                return EXIT_USAGE;
            }
            crisp_log_set_level(level);
            break;
        case 'p':
            pod_init = true;
            break;
        case 'D':
            detach = true;
            break;
        case 'P':
            placeholder(optarg);
        case 'V':
            printf("crisp-monitor %s\n", CRISP_VERSION);
            return 0;
        case 'h':
            fputs(usage_text, stdout);
            return 0;
        default:
            fputs(usage_text, stderr);
            return EXIT_USAGE;
        }
    }
    if (pod_init && !dir && optind == argc && report_fd == REPORT_FD)
        return crisp_pod_init_main(report_fd);
    if (pod_init || !dir || dir[0] != '/' || optind != argc) {
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    if (detach && detach_from_parent(report_fd) < 0)
        return 1;
    umask(022);
    if (chdir("/") < 0) {
        /* "/" always exists; nothing to do if it does not */
    }
    return crisp_monitor_main(dir, report_fd);
}
