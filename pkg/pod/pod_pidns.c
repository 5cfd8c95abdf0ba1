#define _GNU_SOURCE
#include "pod/pod_pidns.h"

#include <errno.h>
#include <string.h>

#include "pod/pod_infra.h"
#include "pod/pod_persist.h"
#include "runtime/cgroup.h"
#include "runtime/cgroup_systemd.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/mem.h"

#define DEFAULT_PARENT "crisp" /* as for containers without a cgroup_parent */

static const char *cgroup_parent_of(const struct crisp_pod *pod)
{
    const char *p = pod->config->linux ? pod->config->linux->cgroup_parent : NULL;
    return p && *p ? p : DEFAULT_PARENT;
}

static int persist_pid(void *ctx, pid_t pid, struct crisp_err *err)
{
    struct crisp_pod *pod = ctx;
    pod->infra_pid = pid;
    return crisp_pod_save_state(pod, err);
}

/* systemd driver: the running infra becomes the scope crisp-<pod id>.scope in
 * the pod's slice (systemd moves it in). */
static int start_scope(struct crisp_pod_store *ps, const struct crisp_pod *pod, pid_t pid,
                       struct crisp_err *err)
{
    const char *p = pod->config->linux ? pod->config->linux->cgroup_parent : NULL;
    _cleanup_free_ char *unit = crisp_systemd_scope_name(pod->id);
    _cleanup_free_ char *slice_path = NULL;
    struct crisp_systemd_scope scope = {.unit = unit,
                                        .slice = p && *p ? p : CRISP_DEFAULT_SLICE,
                                        .pid = pid,
                                        .mode = ps->cgroups->mode};
    int r = crisp_systemd_slice_path(scope.slice, &slice_path, err); /* a clear error first */
    return r < 0 ? r : crisp_systemd_start_scope(&scope, err);
}

int crisp_pod_pidns_up(struct crisp_pod_store *ps, struct crisp_pod *pod, struct crisp_err *err)
{
    if (!ps->monitor_path)
        return crisp_errorf(err, GRPC_STATUS_INTERNAL, ENOSYS,
                            "RunPodSandbox: the pod infra process is not configured");
    struct crisp_cgroup *cg = NULL;
    const char **files = NULL;
    size_t n_files = 0;
    if (ps->cgroups && !ps->systemd_cgroups) {
        int r = crisp_cgroup_create(ps->cgroups, cgroup_parent_of(pod), pod->id, &cg, err);
        if (r < 0)
            return r;
        n_files = crisp_cgroup_procs_files(cg, &files);
    }
    _cleanup_free_ char *ns_dir = crisp_xasprintf("%s/ns", pod->dir);
    struct crisp_pod_infra_request req = {.monitor_path = ps->monitor_path,
                                          .ns_dir = ns_dir,
                                          .cgroup_procs_files = files,
                                          .n_cgroup_procs_files = n_files,
                                          .persist = persist_pid,
                                          .ctx = pod};
    pid_t pid;
    int r = crisp_pod_infra_start(&req, &pid, err);
    if (r == 0 && ps->cgroups && ps->systemd_cgroups && (r = start_scope(ps, pod, pid, err)) < 0) {
        struct crisp_err ignored;
        crisp_pod_infra_kill(pid, ns_dir, &ignored);
    }
    if (r < 0 && cg) {
        struct crisp_err ignored;
        crisp_cgroup_destroy(cg, &ignored);
    }
    crisp_cgroup_free(cg);
    if (r == 0)
        log_info("pod", "%s: infra process %d holds the pod's PID namespace", pod->id, (int)pid);
    return r;
}

int crisp_pod_pidns_remove_cgroup(struct crisp_pod_store *ps, const struct crisp_pod *pod,
                                  struct crisp_err *err)
{
    if (ps->systemd_cgroups) {
        _cleanup_free_ char *unit = crisp_systemd_scope_name(pod->id);
        return crisp_systemd_stop_unit(unit, err);
    }
    struct crisp_cgroup *cg;
    int r = crisp_cgroup_open(ps->cgroups, cgroup_parent_of(pod), pod->id, &cg, err);
    if (r == -ENOENT) {
        crisp_err_clear(err);
        return 0;
    }
    if (r < 0)
        return r;
    r = crisp_cgroup_destroy(cg, err);
    crisp_cgroup_free(cg);
    return r;
}

int crisp_pod_pidns_down(struct crisp_pod_store *ps, struct crisp_pod *pod, struct crisp_err *err)
{
    if (pod->infra_pid <= 0)
        return 0;
    _cleanup_free_ char *ns_dir = crisp_xasprintf("%s/ns", pod->dir);
    int r = crisp_pod_infra_kill(pod->infra_pid, ns_dir, err);
    if (r == 0 && ps && ps->cgroups)
        r = crisp_pod_pidns_remove_cgroup(ps, pod, err);
    if (r == 0) {
        log_info("pod", "%s: infra process %d stopped", pod->id, (int)pod->infra_pid);
        pod->infra_pid = 0;
    }
    return r;
}

bool crisp_pod_pidns_alive(const struct crisp_pod *pod)
{
    if (pod->infra_pid <= 0)
        return true;
    _cleanup_free_ char *ns_dir = crisp_xasprintf("%s/ns", pod->dir);
    return crisp_pod_infra_alive(pod->infra_pid, ns_dir);
}
