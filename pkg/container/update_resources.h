/* UpdateContainerResources and UpdatePodSandboxResources: live cgroup changes, persisted in the
 * config the kubelet sent (config.pb), so ContainerStatus.resources shows what is in force.
 * Fields left 0 or empty in an update keep their value (cgroup and record alike). A container's
 * oom_score_adj is fixed at creation and is kept as it was. */
#pragma once

#include "api.pb-c.h"
#include "container/lifecycle.h"
#include "util/err.h"

/* The container must exist (NOT_FOUND) and not have exited (FAILED_PRECONDITION). Bad values
 * are INVALID_ARGUMENT naming the field; a v1 memory limit below what the cgroup uses and the
 * kernel cannot reclaim is FAILED_PRECONDITION with both numbers. */
int crisp_ctr_update_resources(const struct crisp_ctr_env *env, const char *id,
                               const Runtime__V1__LinuxContainerResources *res,
                               struct crisp_err *err);

/* The pod's cgroup (its cgroup_parent) gets resources live when it exists; overhead and
 * resources are recorded in the pod's config either way. */
int crisp_pod_update_resources(const struct crisp_ctr_env *env, const char *pod_id,
                               const Runtime__V1__LinuxContainerResources *overhead,
                               const Runtime__V1__LinuxContainerResources *resources,
                               struct crisp_err *err);
