/* Pod sysctls (PodSandboxConfig.linux.sysctls). Only sysctls that live in a namespace the pod
 * owns are accepted: kernel.shm*, kernel.msg*, kernel.sem and fs.mqueue.* (ipc namespace) when
 * the pod has its own ipc namespace, net.* when it has its own network namespace. Anything else
 * would change the node for every pod: INVALID_ARGUMENT naming the sysctl.
 * Names are '.'-separated (or '/'-separated, then '.' is part of a component, e.g.
 * "net/ipv4/conf/eth0.100/forwarding"); values are short and carry no newline, '=' or '+'
 * (CVE-2022-0811 class). Applied by writing /proc/sys/<name> from a short-lived thread that
 * joined the pod's pinned namespaces, so the host's own values are never touched. */
#pragma once

#include <stdbool.h>

#include "api.pb-c.h"
#include "util/err.h"

/* Checks every sysctl of config (names, values, namespaces) before anything is created. */
int crisp_pod_sysctls_validate(const Runtime__V1__PodSandboxConfig *config, bool host_net,
                               bool host_ipc, struct crisp_err *err);

/* Writes the sysctls in the namespaces pinned under ns_dir ("<pod dir>/ns": net, ipc).
 * A sysctl the kernel does not have is INVALID_ARGUMENT naming it; a refused value too. */
int crisp_pod_sysctls_apply(const Runtime__V1__PodSandboxConfig *config, const char *ns_dir,
                            bool host_net, bool host_ipc, struct crisp_err *err);
