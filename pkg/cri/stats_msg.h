/* CRI stats messages from pkg/stats readings, built in an arena. */
#pragma once

#include "api.pb-c.h"
#include "cri/runtime.h"

/* Attributes always; cpu, memory and swap when the cgroup could be read;
 * the writable layer once the sampler has measured it. pids (may be NULL)
 * is increased by the processes in the container's cgroup. */
Runtime__V1__ContainerStats *cri_container_stats(struct crisp_runtime *rt, struct crisp_arena *a,
                                                 struct crisp_ctr *c, uint64_t *pids);
/* The pod's usage: its containers' CPU, memory and processes summed, the
 * interfaces of its network namespace, and the containers' stats. */
Runtime__V1__PodSandboxStats *cri_pod_stats(struct crisp_arena *a, struct crisp_pod *pod,
                                            Runtime__V1__ContainerStats **ctrs, size_t n,
                                            uint64_t pids);

/* The stats of every pod matching f (NULL: all); stats_service.c. */
Runtime__V1__PodSandboxStats **cri_pod_stats_list(struct crisp_runtime *rt, struct crisp_arena *a,
                                                  const Runtime__V1__PodSandboxStatsFilter *f,
                                                  size_t *n);
