/* The pod's /dev/shm: one tmpfs at <pod dir>/shm that every container of the
 * pod bind-mounts, so POSIX shared memory is shared like the IPC namespace.
 * Pods on the host IPC namespace use the host's /dev/shm instead. */
#pragma once

#include "util/err.h"

#define CRISP_POD_SHM_SIZE (64u << 20) /* docker's and containerd's default */

int crisp_pod_shm_create(const char *pod_dir, struct crisp_err *err);
/* Unmounts and removes it; missing is fine. */
int crisp_pod_shm_remove(const char *pod_dir, struct crisp_err *err);
