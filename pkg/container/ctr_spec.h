/* Turns a CRI ContainerConfig, its pod and its image into the spec
 * crisp-monitor runs: rootfs layers, namespaces, mounts, process. */
#pragma once

#include "container/container.h"
#include "container/lifecycle.h"
#include "monitor/spec.h"

/* lowerdirs, rootfs dirs, namespaces, mounts, argv/env/cwd/user, tty; the
 * caller adds cgroups and the OOM file. */
int crisp_ctr_build_spec(const struct crisp_ctr_env *env, struct crisp_ctr *c,
                         const struct crisp_pod *pod, const struct crisp_image *image,
                         struct crisp_monitor_spec *spec, struct crisp_err *err);
