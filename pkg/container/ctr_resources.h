/* LinuxContainerResources from the kubelet: checked field by field (INVALID_ARGUMENT naming the
 * CRI field and saying what is expected) before any cgroup is touched, for CreateContainer,
 * UpdateContainerResources and UpdatePodSandboxResources alike. */
#pragma once

#include "api.pb-c.h"
#include "util/err.h"

/* method prefixes the message ("UpdateContainerResources: linux.cpu_period 5: ..."); field is
 * the message's path in the request ("linux", "config.linux.resources"). NULL res is fine. */
int crisp_ctr_resources_validate(const char *method, const char *field,
                                 const Runtime__V1__LinuxContainerResources *res,
                                 struct crisp_err *err);
