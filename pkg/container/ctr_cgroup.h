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
/* The second half of setup for a cgroup made elsewhere (the systemd
 * driver's scope): limits, procs files, OOM counter, *path. On failure cg is
 * destroyed; it is freed in every case. */
int crisp_ctr_cgroup_fill(const struct crisp_cgroup_root *root, struct crisp_cgroup *cg,
                          const Runtime__V1__LinuxContainerResources *res,
                          struct crisp_monitor_spec *spec, char **path, struct crisp_err *err);
/* CRI resources to crisp_cgroup_resources (hugepages and unified are
 * malloc'd arrays pointing into in: free them, not their members). */
void crisp_ctr_cgroup_map_resources(const Runtime__V1__LinuxContainerResources *in,
                                    struct crisp_cgroup_resources *out);
/* SIGKILL to whatever is still in the cgroup once the container's process
 * has exited: in a shared PID namespace (or the host's) its children outlive
 * it, reparented to the pod's infra. An empty or missing cgroup is fine. */
int crisp_ctr_cgroup_kill_leftovers(const struct crisp_cgroup_root *root, const char *path,
                                    struct crisp_err *err);
/* Removes it (kills what is left in it first; a systemd scope is stopped);
 * missing is fine. */
int crisp_ctr_cgroup_remove(const struct crisp_cgroup_root *root, const char *path,
                            struct crisp_err *err);
