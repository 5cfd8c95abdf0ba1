/* The systemd cgroup driver: each container (and a pod's infra process) gets
 * a transient scope unit "crisp-<id>.scope" in the slice the kubelet names as
 * cgroup_parent ("kubepods-burstable-pod<uid>.slice"), started over D-Bus
 * with libsystemd's sd-bus (org.freedesktop.systemd1.Manager
 * StartTransientUnit, Delegate=yes, the resource properties), like runc's
 * systemd driver. systemd owns the cgroup directories; crisp then writes the
 * limits through cgroupfs as well (systemd cannot express all of them) and
 * stops the unit on removal.
 *
 * The system bus is sd_bus_open_system's: $DBUS_SYSTEM_BUS_ADDRESS, else
 * /run/dbus/system_bus_socket. One connection per call (sd-bus connections
 * are not thread-safe; a call is rare next to a container start). */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "runtime/cgroup.h"
#include "util/err.h"

/* "a-b-c.slice" -> "a.slice/a-b.slice/a-b-c.slice", the slice's cgroup path
 * relative to a hierarchy root, expanded the way systemd does; "-.slice" and
 * "" are the root (""). INVALID_ARGUMENT (naming the rule) for anything that
 * is not a slice name: no ".slice" suffix, '/', an empty dash-separated part
 * ("a--b.slice", "-a.slice", "a-.slice"), a character outside
 * [A-Za-z0-9_.-] (what crisp allows in a cgroup path; systemd would also take : and
 * \x escapes) or longer than 255 bytes. *out is malloc'd. */
int crisp_systemd_slice_path(const char *slice, char **out, struct crisp_err *err);

/* The slice used when the kubelet sends no cgroup_parent. */
#define CRISP_DEFAULT_SLICE "crisp.slice"

/* "crisp-<id>.scope" (malloc'd). */
char *crisp_systemd_scope_name(const char *id);

/* Whether systemd answers on the system bus (its Manager's Version property):
 * FAILED_PRECONDITION naming the bus address and the error otherwise. */
int crisp_systemd_ping(char **version, struct crisp_err *err);

struct crisp_systemd_scope {
    const char *unit;            /* crisp_systemd_scope_name() */
    const char *slice;           /* as the kubelet names it; "" = systemd's default */
    pid_t pid;                   /* the scope's first process (systemd moves it in) */
    enum crisp_cgroup_mode mode; /* picks CPUShares/MemoryLimit (v1) or CPUWeight/MemoryMax */
    const struct crisp_cgroup_resources *res; /* NULL: no limits */
};

/* StartTransientUnit (mode "replace") and waits up to 30 s for its job: the
 * job's result must be "done", else FAILED_PRECONDITION naming it. */
int crisp_systemd_start_scope(const struct crisp_systemd_scope *scope, struct crisp_err *err);

/* StopUnit (mode "replace") and waits for the job; a unit systemd does not
 * know (already gone) is success. */
int crisp_systemd_stop_unit(const char *unit, struct crisp_err *err);
