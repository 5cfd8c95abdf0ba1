/* Which PID namespace a new container gets, from the container's
 * NamespaceOption.pid (or, without container namespace options, the pod's):
 *   CONTAINER  its own
 *   NODE       the host's
 *   POD        the pod's shared one (<pod>/ns/pid, held by the pod's infra
 *              process); the pod must have been created with pid POD
 *   TARGET     the one of container target_id, which must be running in the
 *              same pod */
#pragma once

#include "container/lifecycle.h"
#include "monitor/spec.h"

int crisp_ctr_set_pid_namespace(const struct crisp_ctr_env *env,
                                const Runtime__V1__ContainerConfig *cfg,
                                const struct crisp_pod *pod, struct crisp_monitor_spec *s,
                                struct crisp_err *err);
