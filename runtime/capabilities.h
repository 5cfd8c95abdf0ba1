/* Linux capabilities: names <-> numbers (libcap's table), the default set, "ALL", and the
 * launcher's steps that apply crisp_process.caps (runtime/container.h) to a process being set
 * up. Numbers are the kernel's CAP_* values (linux/capability.h). */
#pragma once

#include <stddef.h>

#include "runtime/container.h"
#include "util/err.h"

#define CRISP_CAP_MAX      64 /* capability numbers are below this */
#define CRISP_CAP_NAME_MAX 32 /* room for "CAP_CHECKPOINT_RESTORE" and the like */

/* "CAP_CHOWN", "CHOWN", "cap_chown", "Chown" (case-insensitive; the CRI sends names without the
 * prefix) -> CAP_CHOWN. -EINVAL for anything else: unknown names, numbers, "ALL", "". */
int crisp_cap_from_name(const char *name);

/* "CAP_CHOWN" into buf (CRISP_CAP_NAME_MAX bytes); NULL when cap has no name. */
const char *crisp_cap_name(int cap, char *buf, size_t size);

/* containerd's and moby's default set: CHOWN, DAC_OVERRIDE, FSETID, FOWNER, MKNOD, NET_RAW,
 * SETGID, SETUID, SETFCAP, SETPCAP, NET_BIND_SERVICE, SYS_CHROOT, KILL, AUDIT_WRITE. Static
 * storage; *n gets 14. */
const int *crisp_cap_default_set(size_t *n);

/* "ALL": every capability the calling process can hand out, i.e. those in its bounding set (a
 * capability the kernel knows but the caller lost cannot be granted; containerd's privileged
 * containers get the same). Writes them in ascending order into out (size entries; room for
 * CRISP_CAP_MAX is always enough) and returns how many there are. */
size_t crisp_cap_all(int *out, size_t size);

/* ---- launcher steps (runtime/process.c); no-ops when !p->caps_set ---- */

/* In the caller, before spawning: every cap is one the kernel knows. INVALID_ARGUMENT. */
int crisp_rt_caps_validate(const struct crisp_process *p, struct crisp_err *err);

/* Before the ids change (needs CAP_SETPCAP): drops every capability not in p->caps from the
 * bounding set. PERMISSION_DENIED naming the capability when one of p->caps is not in the
 * bounding set. */
int crisp_rt_caps_bound(const struct crisp_process *p, struct crisp_err *err);

/* Last, after the ids changed: effective/permitted/inheritable = p->caps for uid 0, empty for
 * any other uid; ambient cleared. */
int crisp_rt_caps_apply(const struct crisp_process *p, struct crisp_err *err);
