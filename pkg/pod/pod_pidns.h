/* A pod's pod-wide PID namespace (pid POD): its infra process (pod_infra.h)
 * in the cgroup <cgroup_parent>/<pod id>, and the infra pid in state.json. */
#pragma once

#include "pod/pod.h"

/* Starts the infra and persists its pid (pod owned by the caller alone). */
int crisp_pod_pidns_up(struct crisp_pod_store *ps, struct crisp_pod *pod, struct crisp_err *err);
/* Kills the infra (which ends every process of the namespace), removes its
 * cgroup (when ps is not NULL and has a cgroup root) and clears infra_pid. Caller holds
 * pod->lock; persisting is the caller's. No infra: nothing to do. */
int crisp_pod_pidns_down(struct crisp_pod_store *ps, struct crisp_pod *pod, struct crisp_err *err);
/* Removes the infra's cgroup (or stops its scope); a missing one is fine. */
int crisp_pod_pidns_remove_cgroup(struct crisp_pod_store *ps, const struct crisp_pod *pod,
                                  struct crisp_err *err);
/* True when the pod's infra is alive (or the pod has none). */
bool crisp_pod_pidns_alive(const struct crisp_pod *pod);
