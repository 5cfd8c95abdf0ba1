/* PullImage: resolve the reference, negotiate the manifest (index -> this
 * platform), fetch config and layers (several at once, each layer once even
 * across concurrent pulls), verify every digest and diff_id, unpack each
 * layer into the store, then record the image. Until that last step nothing
 * of the pull is visible. */
#pragma once

#include "config/config.h"
#include "image/registry.h"
#include "image/store.h"

/* On success *image_id is the config digest (malloc'd). */
int crisp_image_pull(struct crisp_image_store *st, const struct crisp_config *cfg,
                     const char *image, const struct crisp_registry_creds *creds, char **image_id,
                     struct crisp_err *err);
