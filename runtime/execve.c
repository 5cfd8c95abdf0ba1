#define _GNU_SOURCE
#include "execve.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/apparmor.h"
#include "runtime/seccomp.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static int exec_error(const char *file, int errnum, bool searched, struct crisp_err *err)
{
    if (errnum == ENOENT)
        return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, ENOENT, "exec \"%s\": %s", file,
                            searched ? "executable file not found in $PATH"
                                     : "no such file in the container");
    return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, errnum, "exec \"%s\": %s", file,
                        strerror(errnum));
}

static const char *env_path(char *const *env)
{
    for (; env && *env; env++)
        if (strncmp(*env, "PATH=", 5) == 0)
            return *env + 5;
    return DEFAULT_PATH;
}

/* execve in each directory of PATH; returns the errno to report. */
static int exec_search(const char *file, char *const *argv, char *const *env)
{
    const char *dirs = env_path(env);
    int found = ENOENT;
    while (true) {
        size_t dlen = strcspn(dirs, ":");
        char path[PATH_MAX];
        if (snprintf(path, sizeof(path), "%.*s/%s", (int)(dlen ? dlen : 1), dlen ? dirs : ".",
                     file) < (int)sizeof(path)) {
            execve(path, argv, env);
            if (errno == EACCES)
                found = EACCES;
            else if (errno != ENOENT && errno != ENOTDIR && errno != ENAMETOOLONG)
                return errno;
        }
        if (dirs[dlen] == '\0')
            return found;
        dirs += dlen + 1;
    }
}

int crisp_rt_exec(const struct crisp_process *p, struct crisp_err *err)
{
    sigset_t none;
    sigemptyset(&none);
    if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
        return crisp_syserrf(err, errno, "unblock signals");
    umask(022);
    static char *const no_env[] = {NULL};
    char *const *env = p->env ? p->env : no_env;
    const char *file = p->argv[0];
    if (p->apparmor_profile) {
        int r = crisp_rt_apparmor_exec(p->apparmor_profile, err);
        if (r < 0)
            return r;
    }
    if (p->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return crisp_syserrf(err, errno, "prctl(PR_SET_NO_NEW_PRIVS)");
    /* with no_new_privs, the filter comes last: nothing but execve runs under it */
    int r = crisp_rt_seccomp_apply(p, CRISP_RT_SECCOMP_BEFORE_EXEC, err);
    if (r < 0)
        return r;
    if (strchr(file, '/')) {
        execve(file, p->argv, env);
        return exec_error(file, errno, false, err);
    }
    return exec_error(file, exec_search(file, p->argv, env), true, err);
}
