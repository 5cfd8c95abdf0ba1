#define _GNU_SOURCE
#include "container/ctr_pidns.h"

#include <errno.h>
#include <string.h>

#include "pod/pod_pidns.h"
#include "util/mem.h"

static int mode_of(const Runtime__V1__ContainerConfig *cfg, const struct crisp_pod *pod,
                   const char **target_id)
{
    const Runtime__V1__LinuxContainerSecurityContext *sc =
        cfg->linux ? cfg->linux->security_context : NULL;
    const Runtime__V1__NamespaceOption *o = sc ? sc->namespace_options : NULL;
    *target_id = o && o->target_id ? o->target_id : "";
    if (o)
        return o->pid;
    int pod_mode = crisp_pod_ns_mode(pod, 'p');
    return pod_mode == RUNTIME__V1__NAMESPACE_MODE__POD ? pod_mode
                                                        : RUNTIME__V1__NAMESPACE_MODE__CONTAINER;
}

static int join_pod(const struct crisp_pod *pod, struct crisp_monitor_spec *s,
                    struct crisp_err *err)
{
    if (crisp_pod_ns_mode(pod, 'p') != RUNTIME__V1__NAMESPACE_MODE__POD)
        return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, EINVAL,
                            "CreateContainer: PID namespace mode POD needs a pod created with a "
                            "pod-wide PID namespace (pid POD); pod sandbox %s was not: use "
                            "CONTAINER",
                            pod->id);
    /* Read unlocked: a ready pod's infra_pid changes only when it is stopped, and a
     * Stop racing this create leaves a dead namespace the launcher fails to join. */
    if (pod->infra_pid <= 0 || !crisp_pod_pidns_alive(pod))
        return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, ESRCH,
                            "CreateContainer: the infra process holding the PID namespace of pod "
                            "sandbox %s is gone; recreate the pod",
                            pod->id);
    s->pidns = crisp_xasprintf("%s/ns/pid", pod->dir);
    return 0;
}

static int join_target(const struct crisp_ctr_env *env, const char *target_id,
                       const struct crisp_pod *pod, struct crisp_monitor_spec *s,
                       struct crisp_err *err)
{
    if (!*target_id)
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "CreateContainer: PID namespace mode TARGET needs "
                            "namespace_options.target_id (a running container of the same pod)");
    struct crisp_ctr *t;
    int r = crisp_ctr_get_running(env->ctrs, target_id, "CreateContainer: target_id", &t, err);
    if (r == -ENOENT)
        return crisp_errorf(err, GRPC_STATUS_NOT_FOUND, ENOENT,
                            "CreateContainer: target_id: container \"%s\" not found", target_id);
    if (r < 0)
        return r;
    if (strcmp(t->pod_id, pod->id) != 0)
        r = crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                         "CreateContainer: target_id: container %s belongs to pod sandbox %s, "
                         "not to %s",
                         t->id, t->pod_id, pod->id);
    else
        s->pidns = crisp_xasprintf("/proc/%d/ns/pid", (int)t->pid);
    crisp_ctr_unlock_put(env->ctrs, t);
    return r;
}

int crisp_ctr_set_pid_namespace(const struct crisp_ctr_env *env,
                                const Runtime__V1__ContainerConfig *cfg,
                                const struct crisp_pod *pod, struct crisp_monitor_spec *s,
                                struct crisp_err *err)
{
    const char *target_id;
    switch (mode_of(cfg, pod, &target_id)) {
    case RUNTIME__V1__NAMESPACE_MODE__CONTAINER:
        return 0;
    case RUNTIME__V1__NAMESPACE_MODE__NODE:
        s->host_pid = true;
        return 0;
    case RUNTIME__V1__NAMESPACE_MODE__POD:
        return join_pod(pod, s, err);
    case RUNTIME__V1__NAMESPACE_MODE__TARGET:
        return join_target(env, target_id, pod, s, err);
    default:
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "CreateContainer: unknown PID namespace mode %d",
                            (int)mode_of(cfg, pod, &target_id));
    }
}
