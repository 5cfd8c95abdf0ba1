/* CRI devices and the device cgroup. A device of ContainerConfig.devices is made in the
 * container at container_path with the host node's type, numbers, mode and owner (host_path
 * symlinks are followed on the host) and allowed with its permissions ("rwm" letters; empty =
 * "rwm"). Unprivileged containers may also use the usual nodes: null 1:3, zero 1:5, full 1:7,
 * random 1:8, urandom 1:9, tty 5:0, console 5:1, ptmx 5:2, pts 136:*, and mknod (not open) of any
 * node. Privileged containers get every host device node in /dev and every device allowed. */
#pragma once

#include <stdbool.h>

#include "api.pb-c.h"
#include "monitor/spec.h"
#include "util/err.h"

/* Fills s->devices, s->host_devices, s->device_rules. INVALID_ARGUMENT naming devices[i] and
 * the field for a bad entry. */
int crisp_ctr_set_devices(const Runtime__V1__ContainerConfig *cfg, bool privileged,
                          struct crisp_monitor_spec *s, struct crisp_err *err);
