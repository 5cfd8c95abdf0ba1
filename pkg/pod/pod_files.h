/* The files every container of a pod bind-mounts: /etc/resolv.conf (from the
 * pod's DNSConfig, or the host's), /etc/hosts and /etc/hostname. Inputs are
 * validated so nothing can be injected into them. */
#pragma once

#include <stdbool.h>

#include "api.pb-c.h"
#include "util/err.h"

/* Checks the hostname (RFC 1123: at most 63 characters per label, 253 in all)
 * and every DNS server (an IP address), search domain and option (no white
 * space or control characters). INVALID_ARGUMENT naming the field. */
int crisp_pod_files_validate(const Runtime__V1__PodSandboxConfig *config, struct crisp_err *err);

/* Writes resolv.conf, hosts and hostname into dir (atomically each). A pod on
 * the host network gets the host's hosts file; otherwise hosts maps the
 * hostname to pod_ip (from CNI; 127.0.1.1 when NULL). */
int crisp_pod_files_write(const char *dir, const Runtime__V1__PodSandboxConfig *config,
                          const char *hostname, bool host_network, const char *pod_ip,
                          struct crisp_err *err);
