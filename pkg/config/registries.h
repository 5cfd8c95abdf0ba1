/* The "registries" config key: per-host mirrors, upstream fallback,
 * insecure transport and CA files. A drop-in that names a host replaces that
 * host's whole entry; other hosts are kept. */
#pragma once

#include <jansson.h>

#include "config/config.h"

int crisp_registries_apply(struct crisp_config *cfg, const json_t *value, const char *where,
                           struct crisp_err *err);
void crisp_registries_free(struct crisp_config *cfg);
json_t *crisp_registries_to_json(const struct crisp_config *cfg);

/* Shared with config.c: "a string", "an integer", ... for messages. */
const char *crisp_json_type_name(const json_t *v);
