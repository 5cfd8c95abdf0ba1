#pragma once

#include <stdbool.h>

#include "util/err.h"

/* What containerd checks before it asks for mount propagation: a Bidirectional volume needs its
 * host path on a shared mount, a HostToContainer one on a shared or slave mount; otherwise
 * nothing could propagate and CreateContainer fails (FAILED_PRECONDITION naming the mount).
 * bidirectional picks the check. A host path that does not exist is left to the bind mount,
 * which reports it. */
int crisp_ctr_check_propagation(const char *host_path, bool bidirectional, struct crisp_err *err);
