/* Status messages shared by the RPCs that report them (ContainerStatus,
 * PodSandboxStatus, stats, GetContainerEvents). Built in an arena. */
#pragma once

#include "api.pb-c.h"
#include "container/container.h"
#include "cri/runtime.h"
#include "pod/pod.h"
#include "util/arena.h"

/* container_service.c. Caller holds c->lock. */
Runtime__V1__ContainerStatus *cri_container_status_locked(struct crisp_arena *a,
                                                          struct crisp_ctr *c);
Runtime__V1__ContainerMetadata *cri_container_metadata(struct crisp_arena *a,
                                                       const Runtime__V1__ContainerMetadata *m);
/* The statuses of every container of a pod (exits folded in first). */
Runtime__V1__ContainerStatus **cri_pod_container_statuses(struct crisp_runtime *rt,
                                                          struct crisp_arena *a, const char *pod_id,
                                                          size_t *n);

/* pod_service.c */
/* A pod's status; rt for its network (the recorded CNI result). */
Runtime__V1__PodSandboxStatus *cri_pod_status(struct crisp_arena *a, struct crisp_runtime *rt,
                                              struct crisp_pod *pod);
Runtime__V1__PodSandboxMetadata *cri_pod_metadata(struct crisp_arena *a,
                                                  const Runtime__V1__PodSandboxMetadata *m);
