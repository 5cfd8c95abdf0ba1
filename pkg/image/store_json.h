/* images.json: the on-disk form of the image index. */
#pragma once

#include "image/store.h"

/* Loads the index; a missing file is an empty store. Caller holds st->lock. */
int crisp_store_json_load(struct crisp_image_store *st, struct crisp_err *err);
/* Writes the index atomically. Caller holds st->lock. */
int crisp_store_json_save(struct crisp_image_store *st, struct crisp_err *err);
