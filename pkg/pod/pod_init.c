#define _GNU_SOURCE
#include "pod/pod_init.h"

#include <errno.h>
#include <signal.h>
#include <sys/capability.h>
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

/* Reaping needs no privilege: every capability goes, the bounding set too. */
static int drop_privileges(void)
{
    for (int cap = 0; cap < 64; cap++) /* the kernel may know more than this header */
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
            return -1;
    cap_t none = cap_init();
    int r = none ? cap_set_proc(none) : -1;
    cap_free(none);
    return r < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ? -1 : 0;
}

int crisp_pod_init_main(int go_fd)
{
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 || chdir("/") < 0 || drop_privileges() < 0)
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
