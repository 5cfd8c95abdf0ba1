/* Fetching a pull's layers: several at once (max_concurrent_downloads), each
 * chain id claimed in the store so concurrent pulls fetch a shared layer once;
 * download into the content store (digest and size verified), unpack into a
 * temp dir, check the diff_id, rename into <root>/layers. */
#pragma once

#include "config/config.h"
#include "image/manifest.h"
#include "image/registry.h"
#include "image/store.h"

struct crisp_layer_fetch {
    struct crisp_image_store *st;
    struct crisp_registry *reg;
    const struct crisp_config *cfg;
    const struct crisp_descriptor *layers;
    char *const *diff_ids;
    char *const *chain_ids;
    size_t n_layers;
};

int crisp_fetch_layers(const struct crisp_layer_fetch *lf, struct crisp_err *err);
