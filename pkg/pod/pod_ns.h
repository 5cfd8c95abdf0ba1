/* A pod's shared namespaces, pinned by bind-mounting /proc/<pid>/ns/<type>
 * onto files under the pod's ns/ directory, so no process has to live for
 * them. A short-lived thread creates them, sets the hostname, brings lo up. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "util/err.h"

struct crisp_pod_ns_request {
    const char *dir; /* <pod dir>/ns: receives net, ipc, uts files */
    bool net, ipc, uts;
    const char *hostname; /* set in the new uts namespace */
};

int crisp_pod_ns_create(const struct crisp_pod_ns_request *req, struct crisp_err *err);
/* Pins /proc/<pid>/ns/<type> at dir/<type> (a new file, bind-mounted). */
int crisp_pod_ns_pin(pid_t pid, const char *dir, const char *type, struct crisp_err *err);
/* Unmounts and removes the pinned files (net, ipc, uts, pid); missing ones are fine. */
int crisp_pod_ns_remove(const char *dir, struct crisp_err *err);
/* True when dir/<type> is a live pinned namespace. */
bool crisp_pod_ns_pinned(const char *dir, const char *type);
