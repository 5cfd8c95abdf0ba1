/* A container's cgroup: <pod cgroup_parent>/<container id>, its limits from
 * LinuxContainerResources, and where its OOM-kill counter is read. */
#pragma once

#include "api.pb-c.h"
#include "monitor/spec.h"
#include "runtime/cgroup.h"
#include "util/err.h"

/* Creates the cgroup, applies the limits and the spec's device rules, and fills the spec's
 * cgroup.procs files and OOM counter. *path receives the cgroup's path (malloc'd). */
int crisp_ctr_cgroup_setup(const struct crisp_cgroup_root *root, const char *parent, const char *id,
                           const Runtime__V1__LinuxContainerResources *res,
                           struct crisp_monitor_spec *spec, char **path, struct crisp_err *err);
/* Applies res live to the existing cgroup at path (relative to the hierarchy roots); fields left
 * 0 or empty are not touched. NOT_FOUND when no hierarchy has it. */
int crisp_ctr_cgroup_update(const struct crisp_cgroup_root *root, const char *path,
                            const Runtime__V1__LinuxContainerResources *res, struct crisp_err *err);
/* Removes it (kills what is left in it first); missing is fine. */
int crisp_ctr_cgroup_remove(const struct crisp_cgroup_root *root, const char *path,
                            struct crisp_err *err);
