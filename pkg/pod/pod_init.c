#define _GNU_SOURCE
#include "pod/pod_init.h"

#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static int wait_for_go(int go_fd)
{
    char c;
    ssize_t n;
    while ((n = read(go_fd, &c, 1)) < 0 && errno == EINTR) {
    }
    close(go_fd);
    return n == 1 ? 0 : -1;
}

int crisp_pod_init_main(int go_fd)
{
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 || chdir("/") < 0)
        return 1;
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &chld, NULL) < 0)
        return 1;
    if (wait_for_go(go_fd) < 0)
        return 1;
    for (;;) {
        /* Reap first: a SIGCHLD arriving meanwhile stays pending for sigwaitinfo. */
        while (waitpid(-1, NULL, WNOHANG) > 0) {
        }
        if (sigwaitinfo(&chld, NULL) < 0 && errno != EINTR)
            return 1;
    }
}
