/* Port-forward's dial: a TCP connection to 127.0.0.1:<port> inside a pod's network namespace
 * (its pinned netns file), or on the host's loopback for hostNetwork pods. */
#pragma once

#include <stdint.h>

#include "pod/pod.h"
#include "util/err.h"

/* *fd: a connected, close-on-exec socket. The pod must exist (NOT_FOUND). Connection errors
 * are UNAVAILABLE with the reason ("connect 127.0.0.1:80 in pod X: Connection refused"). */
int crisp_pod_dial(struct crisp_pod_store *pods, const char *pod_id, uint16_t port, int *fd,
                   struct crisp_err *err);
