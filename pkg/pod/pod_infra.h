/* The infra process of a pod that shares one PID namespace among its
 * containers (pid POD, the kubelet's shareProcessNamespace):
 *
 *     crispd ──fork──▶ helper ──join cgroup, setsid, unshare(PID), fork──▶ infra (pid 1)
 *
 * The infra is `crisp-monitor --pod-init` (pkg/pod/pod_init.h): pid 1 of the
 * new namespace, in its own session, reparented to init when the helper exits,
 * so it outlives crispd. It reaps orphans and keeps the namespace alive while
 * containers come and go; containers join it through the pinned
 * <pod>/ns/pid file. The infra waits on its fd 3 for a go-ahead that crispd
 * sends only after pinning the namespace and persisting the pid: if crispd
 * dies before that, the pipe closes and the infra exits, so a crash never
 * leaves an infra nobody knows about.
 *
 * A pid is trusted only when /proc/<pid>/ns/pid is the namespace pinned at
 * <ns dir>/pid, so a recycled pid is never signalled. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/err.h"

struct crisp_pod_infra_request {
    const char *monitor_path;              /* crisp-monitor */
    const char *ns_dir;                    /* <pod>/ns: the namespace is pinned at <ns_dir>/pid */
    const char *const *cgroup_procs_files; /* joined before the namespace is made */
    size_t n_cgroup_procs_files;
    /* Called once the namespace is pinned, before the infra may run: persist the pid. */
    int (*persist)(void *ctx, pid_t pid, struct crisp_err *err);
    void *ctx;
};

/* Starts the infra; *pid is its pid in crispd's namespace. On failure nothing
 * is left running (the pin is the caller's to remove with the ns dir). */
int crisp_pod_infra_start(const struct crisp_pod_infra_request *req, pid_t *pid,
                          struct crisp_err *err);

/* True when pid is alive and is the init of the namespace pinned in ns_dir. */
bool crisp_pod_infra_alive(pid_t pid, const char *ns_dir);

/* SIGKILL to the infra (the kernel then kills every process of the
 * namespace) and waits up to 10 s until it has exited. An infra already gone,
 * or a pid that is not it, is success. */
int crisp_pod_infra_kill(pid_t pid, const char *ns_dir, struct crisp_err *err);
