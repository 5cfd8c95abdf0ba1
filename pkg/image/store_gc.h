/* Garbage collection of the image store, layer claims and usage figures. */
#pragma once

#include "image/store.h"

/* Deletes layer dirs and blobs no image names (deferred while pulls run).
 * Caller holds st->lock. */
void crisp_store_gc_locked(struct crisp_image_store *st);
