/* The systemd cgroup driver for containers (runtime/cgroup_systemd.h): the
 * transient scope crisp-<id>.scope in the pod's slice. A scope cannot start
 * without a process and the container's does not exist yet (it is born inside
 * its cgroup), so a placeholder child of crispd (`crisp-monitor --placeholder`)
 * starts the scope and is killed once the container has joined
 * (crisp_ctr_scope_release_holder). */
#pragma once

#include <sys/types.h>

#include "api.pb-c.h"
#include "monitor/spec.h"
#include "runtime/cgroup.h"
#include "util/err.h"

/* Starts the scope <slice>/crisp-<id>.scope with the limits (systemd's
 * properties, then cgroupfs writes for everything), fills the spec's
 * cgroup.procs files and OOM counter; *path is the cgroup path, *holder the
 * placeholder's pid (release it after the container is created, in every
 * case). On failure nothing is left: no holder, no unit. */
int crisp_ctr_scope_setup(const struct crisp_cgroup_root *root, const char *monitor_path,
                          const char *slice, const char *id,
                          const Runtime__V1__LinuxContainerResources *res,
                          struct crisp_monitor_spec *spec, char **path, pid_t *holder,
                          struct crisp_err *err);

/* Kills and reaps the placeholder (<= 0: none). */
void crisp_ctr_scope_release_holder(pid_t holder);

/* StopUnit when path's last component is a crisp scope ("crisp-<id>.scope");
 * anything else is not a systemd-driver cgroup and is left alone. */
int crisp_ctr_scope_stop(const char *path, struct crisp_err *err);
