/* CreateContainer, StartContainer, StopContainer, RemoveContainer: the
 * container's cgroup, writable layer and crisp-monitor. */
#pragma once

#include "config/config.h"
#include "container/container.h"
#include "image/store.h"
#include "pod/pod.h"
#include "runtime/cgroup.h"

struct crisp_ctr_env {
    const struct crisp_config *cfg;
    struct crisp_image_store *images;
    struct crisp_pod_store *pods;
    struct crisp_ctr_store *ctrs;
    const struct crisp_cgroup_root *cgroups; /* NULL: no cgroups (limits refused) */
    const char *monitor_path;
};

int crisp_ctr_create(const struct crisp_ctr_env *env, const char *pod_id,
                     const Runtime__V1__ContainerConfig *config,
                     const Runtime__V1__PodSandboxConfig *sandbox_config,
                     char id_out[CRISP_CTR_ID_LEN + 1], struct crisp_err *err);
int crisp_ctr_start(const struct crisp_ctr_env *env, const char *id, struct crisp_err *err);
/* Stop signal, then SIGKILL after timeout seconds; idempotent. */
int crisp_ctr_stop(const struct crisp_ctr_env *env, const char *id, int64_t timeout,
                   struct crisp_err *err);
/* The monitor reopens the CRI log (after the kubelet rotated it); running
 * containers only: FAILED_PRECONDITION otherwise, and no file is created. */
int crisp_ctr_reopen_log(const struct crisp_ctr_env *env, const char *id, struct crisp_err *err);
/* Idempotent; an unknown id is not an error. */
int crisp_ctr_remove(const struct crisp_ctr_env *env, const char *id, struct crisp_err *err);
