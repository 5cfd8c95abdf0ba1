#define _GNU_SOURCE
#include "pod/pod_sysctl.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/mem.h"
#include "util/thread.h"

#define SYSCTL_NAME_MAX  256
#define SYSCTL_VALUE_MAX 1024
#define SYSCTLS_MAX      128

enum sysctl_ns { NS_NONE, NS_NET, NS_IPC };

/* The kubelet's namespaced sysctls: prefixes (ending in '.' or a name stem) and exact names. */
static enum sysctl_ns namespace_of(const char *dotted)
{
    if (strncmp(dotted, "net.", 4) == 0)
        return NS_NET;
    if (strncmp(dotted, "kernel.shm", 10) == 0 || strncmp(dotted, "kernel.msg", 10) == 0 ||
        strcmp(dotted, "kernel.sem") == 0 || strncmp(dotted, "fs.mqueue.", 10) == 0)
        return NS_IPC;
    return NS_NONE;
}

/* "a.b.c" or "a/b/c" (then '.' belongs to a component) -> "a/b/c" (the /proc/sys path) and
 * "a.b.c" (for the namespace rules). false when a component is empty, "." or "..", or a
 * character is not [A-Za-z0-9_.-/]. */
static bool normalise(const char *name, char path[SYSCTL_NAME_MAX], char dotted[SYSCTL_NAME_MAX])
{
    size_t len = strlen(name);
    if (len == 0 || len >= SYSCTL_NAME_MAX)
        return false;
    const char *ok = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./";
    if (strspn(name, ok) != len)
        return false;
    char sep = strchr(name, '/') ? '/' : '.';
    for (size_t i = 0; i <= len; i++) {
        char ch = name[i];
        path[i] = ch == sep ? '/' : ch;
        dotted[i] = ch == sep ? '.' : (ch == '.' ? '/' : ch);
    }
    /* components of path: no empty, "." or ".." */
    for (const char *p = path;;) {
        size_t n = strcspn(p, "/");
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return false;
        if (!p[n])
            return true;
        p += n + 1;
    }
}

static bool value_ok(const char *v)
{
    size_t len = strlen(v);
    return len > 0 && len <= SYSCTL_VALUE_MAX && strcspn(v, "\n\r=+") == len;
}

static int refuse(struct crisp_err *err, const char *name, const char *why)
{
    return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                        "RunPodSandbox: linux.sysctls[\"%.*s\"]: %s", SYSCTL_NAME_MAX, name, why);
}

static int check_one(const char *name, const char *value, bool host_net, bool host_ipc,
                     struct crisp_err *err)
{
    char path[SYSCTL_NAME_MAX], dotted[SYSCTL_NAME_MAX];
    if (!normalise(name, path, dotted))
        return refuse(err, name,
                      "not a sysctl name (components of [A-Za-z0-9_-], separated by '.' or '/')");
    if (!value_ok(value))
        return refuse(err, name, "the value must be 1 to 1024 bytes without newline, '=' or '+'");
    switch (namespace_of(dotted)) {
    case NS_NET:
        if (host_net)
            return refuse(err, name,
                          "net.* sysctls need the pod's own network namespace; this pod uses the "
                          "host's network");
        return 0;
    case NS_IPC:
        if (host_ipc)
            return refuse(err, name,
                          "ipc sysctls need the pod's own ipc namespace; this pod uses the "
                          "host's ipc");
        return 0;
    default:
        return refuse(err, name,
                      "not a namespaced sysctl: only kernel.shm*, kernel.msg*, kernel.sem, "
                      "fs.mqueue.* and net.* can be set per pod");
    }
}

static const Runtime__V1__LinuxPodSandboxConfig *linux_of(const Runtime__V1__PodSandboxConfig *c)
{
    return c ? c->linux : NULL;
}

int crisp_pod_sysctls_validate(const Runtime__V1__PodSandboxConfig *config, bool host_net,
                               bool host_ipc, struct crisp_err *err)
{
    const Runtime__V1__LinuxPodSandboxConfig *l = linux_of(config);
    if (!l)
        return 0;
    if (l->n_sysctls > SYSCTLS_MAX)
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, E2BIG,
                            "RunPodSandbox: linux.sysctls: %zu entries, at most %d allowed",
                            l->n_sysctls, SYSCTLS_MAX);
    for (size_t i = 0; i < l->n_sysctls; i++) {
        int r = check_one(l->sysctls[i]->key, l->sysctls[i]->value, host_net, host_ipc, err);
        if (r < 0)
            return r;
    }
    return 0;
}

/* What the thread reports: the index of the sysctl (or -1 for setns) and the errno. */
struct report {
    int index, errnum;
};

static int write_value(const char *path, const char *value)
{
    int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno;
    size_t len = strlen(value);
    ssize_t n = write(fd, value, len);
    int e = n < 0 ? errno : (size_t)n != len ? EIO : 0;
    close(fd);
    return e;
}

struct sysctl_job {
    int netfd, ipcfd;
    char **paths, **values;
    size_t n;
    struct report rep;
};

/* A thread of its own joins the pod's net and ipc namespaces (both per thread) and writes
 * there: /proc/sys/net and the ipc sysctls are those of the writing thread's namespaces. It
 * then ends, so no other thread of crispd is ever in them, and crispd is not forked. */
static void *sysctl_thread(void *arg)
{
    struct sysctl_job *j = arg;
    j->rep = (struct report){-1, 0};
    if ((j->netfd >= 0 && setns(j->netfd, CLONE_NEWNET) < 0) ||
        (j->ipcfd >= 0 && setns(j->ipcfd, CLONE_NEWIPC) < 0))
        j->rep.errnum = errno;
    for (size_t i = 0; j->rep.errnum == 0 && i < j->n; i++) {
        j->rep.errnum = write_value(j->paths[i], j->values[i]);
        j->rep.index = (int)i;
    }
    return NULL;
}

static int open_ns(const char *ns_dir, const char *type, bool host, int *fd, struct crisp_err *err)
{
    *fd = -1;
    if (host)
        return 0;
    _cleanup_free_ char *path = crisp_xasprintf("%s/%s", ns_dir, type);
    *fd = open(path, O_RDONLY | O_CLOEXEC);
    if (*fd < 0)
        return crisp_syserrf(err, errno, "open pod namespace %s", path);
    return 0;
}

static int report_error(const struct report *rep, char *const *names, struct crisp_err *err)
{
    if (rep->index < 0)
        return crisp_syserrf(err, rep->errnum, "join the pod's namespaces to set sysctls");
    const char *name = names[rep->index];
    if (rep->errnum == ENOENT)
        return refuse(err, name, "no such sysctl in the pod's namespaces");
    if (rep->errnum == EINVAL || rep->errnum == ERANGE)
        return refuse(err, name, "the kernel refused the value");
    return crisp_syserrf(err, rep->errnum, "RunPodSandbox: set sysctl %s", name);
}

int crisp_pod_sysctls_apply(const Runtime__V1__PodSandboxConfig *config, const char *ns_dir,
                            bool host_net, bool host_ipc, struct crisp_err *err)
{
    const Runtime__V1__LinuxPodSandboxConfig *l = linux_of(config);
    if (!l || l->n_sysctls == 0)
        return 0;
    size_t n = l->n_sysctls;
    char **paths = crisp_xcalloc(n, sizeof(char *)), **values = crisp_xcalloc(n, sizeof(char *)),
         **names = crisp_xcalloc(n, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        char path[SYSCTL_NAME_MAX], dotted[SYSCTL_NAME_MAX];
        normalise(l->sysctls[i]->key, path, dotted); /* validated at RunPodSandbox */
        paths[i] = crisp_xasprintf("/proc/sys/%s", path);
        values[i] = l->sysctls[i]->value;
        names[i] = l->sysctls[i]->key;
    }
    struct sysctl_job job = {.netfd = -1, .ipcfd = -1, .paths = paths, .values = values, .n = n};
    int r = open_ns(ns_dir, "net", host_net, &job.netfd, err);
    if (r == 0)
        r = open_ns(ns_dir, "ipc", host_ipc, &job.ipcfd, err);
    if (r == 0)
        r = crisp_run_on_own_thread(sysctl_thread, &job, "set the pod's sysctls", err);
    if (r == 0 && job.rep.errnum)
        r = report_error(&job.rep, names, err);
    if (job.netfd >= 0)
        close(job.netfd);
    if (job.ipcfd >= 0)
        close(job.ipcfd);
    for (size_t i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
    free(values);
    free(names);
    return r;
}
