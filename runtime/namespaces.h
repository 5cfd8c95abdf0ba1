/* What the spawn helper joins before it clones (runtime/spawn.h): cgroups, then namespaces.
 * These calls change the calling process: only the helper may make them. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "runtime/container.h"
#include "util/err.h"

/* Writes "0" (= the writer) into each cgroup.procs / tasks file but joined (NULL or one of
 * them, the cgroup the caller was created in). */
int crisp_rt_join_cgroups(const char *const *procs_files, size_t n, const char *joined,
                          struct crisp_err *err);

/* The file of procs_files that is in a cgroup2 directory (a spawn's born_in), or NULL. */
const char *crisp_rt_cgroup2_procs_file(const char *const *procs_files, size_t n);

/* For a new container: joins the cgroups, then setns() into spec's pid/net/ipc/uts namespace
 * files (opened O_RDONLY | O_CLOEXEC; each must be a namespace of that type), and returns in
 * *clone_flags the CLONE_NEW* flags of the namespaces to create: always mount and cgroup, and
 * pid/net/ipc/uts when neither joined nor host. */
int crisp_rt_enter_for_create(const struct crisp_container_spec *spec, const char *born_in,
                              unsigned long *clone_flags, struct crisp_err *err);

/* For exec: joins the cgroups, then every namespace of pid at once (mount, pid, net, ipc, uts,
 * cgroup) through a pidfd. The mount namespace join also moves root and cwd to the container's
 * root. */
int crisp_rt_enter_container(pid_t pid, const char *const *procs_files, size_t n,
                             struct crisp_err *err);
