/* UpdateRuntimeConfig: the node's pod CIDR, validated, kept in memory and
 * persisted under the state dir so a crispd restart keeps it. */
#pragma once

#include <jansson.h>

#include "cri/runtime.h"

/* Validates a pod CIDR as the kubelet sends it: "" or one or two
 * comma-separated CIDRs ("10.88.0.0/16", "10.88.0.0/16,fd00::/64"). */
int crisp_pod_cidr_validate(const char *cidr, struct crisp_err *err);

/* Reloads the persisted runtime config; a missing file is not an error. */
int crisp_runtime_config_load(struct crisp_runtime *rt, struct crisp_err *err);

/* The runtime config as JSON for Status verbose info (new reference). */
json_t *crisp_runtime_config_to_json(struct crisp_runtime *rt);
