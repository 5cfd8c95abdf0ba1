/* Device nodes asked for by the spec (crisp_container_spec.devices, .host_devices), made after
 * the container's /dev exists and before the bind mounts: each path is resolved inside the root,
 * its parents made 0755, the node made with mknodat (never following a symlink at the last
 * component) and given its mode and owner. */
#pragma once

#include "runtime/container.h"

#include <sys/stat.h>

/* The node at path in the container for a host device node's stat (type, numbers, permission
 * bits, owner). path is not copied. */
struct crisp_device crisp_device_from_stat(const char *path, const struct stat *st);

int crisp_rt_make_devices(int rootfd, const struct crisp_container_spec *spec,
                          struct crisp_err *err);
