/* The image store: the image index (<root>/images.json, written atomically),
 * the content store (blobs) and the unpacked layers (<root>/layers/<chain-id
 * hex>/, each an overlayfs lowerdir), shared by every image that has them. Nothing is reference
 * counted on disk: what no image names is garbage, collected after a removal
 * and at start (which also clears what an interrupted pull left behind).
 * Thread-safe. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image/blobstore.h"
#include "util/err.h"

struct crisp_image {
    char *id;              /* config digest */
    char *manifest_digest; /* the platform manifest */
    char **repo_tags;
    size_t n_repo_tags;
    char **repo_digests;
    size_t n_repo_digests;
    char **chain_ids; /* layers, bottom first */
    size_t n_layers;
    char **blobs; /* every blob the image needs: config, manifest(s), layers */
    size_t n_blobs;
    uint64_t size; /* config + compressed layers, as registries count it */
    char *user;    /* config.User */
    int64_t pulled_at;
};

struct crisp_layer_usage {
    char *chain_id;
    uint64_t bytes, inodes;
};

struct crisp_image_store {
    struct crisp_blobstore blobs;
    char *layers_dir;
    char *index_path;
    pthread_mutex_t lock; /* guards everything below */
    struct crisp_image *images;
    size_t n_images;
    struct crisp_layer_usage *usage;
    size_t n_usage;
    pthread_cond_t layer_done; /* a layer claim was released */
    char **claims;             /* chain ids being fetched right now */
    size_t n_claims;
    int pulls_active; /* garbage collection waits while a pull is writing */
    bool gc_pending;
};

int crisp_image_store_init(struct crisp_image_store *st, const char *root, struct crisp_err *err);
void crisp_image_store_free(struct crisp_image_store *st);

/* Finds an image by id ("sha256:<hex>", bare hex, or a unique id prefix),
 * normalised repo:tag, or repo@digest. Fills *out with a deep copy. */
int crisp_image_store_find(struct crisp_image_store *st, const char *ref, struct crisp_image *out,
                           struct crisp_err *err);
/* All images (deep copies). */
void crisp_image_store_list(struct crisp_image_store *st, struct crisp_image **out, size_t *n);

/* Records a pulled image: its tag moves to it from any other image, ids merge. */
int crisp_image_store_add(struct crisp_image_store *st, const struct crisp_image *img,
                          struct crisp_err *err);
/* Removes by id or digest (the whole image) or by tag (that tag; the image
 * goes with its last tag). Not found is not an error. Frees unused layers and blobs. */
int crisp_image_store_remove(struct crisp_image_store *st, const char *ref, struct crisp_err *err);

/* Layer directory of a chain id (malloc'd): <root>/layers/<hex>. */
char *crisp_image_store_layer_dir(const struct crisp_image_store *st, const char *chain_id);
bool crisp_image_store_layer_exists(const struct crisp_image_store *st, const char *chain_id);
/* Claims a layer for fetching: returns true when the caller must fetch it,
 * false when it is present (waiting while another pull fetches it). */
bool crisp_image_store_claim_layer(struct crisp_image_store *st, const char *chain_id);
void crisp_image_store_release_layer(struct crisp_image_store *st, const char *chain_id,
                                     uint64_t bytes, uint64_t inodes, bool ok);

/* A pull brackets its work with these: blobs and layers it wrote but has not
 * recorded yet are safe from garbage collection meanwhile. */
void crisp_image_store_pull_begin(struct crisp_image_store *st);
/* failed: what the pull left unrecorded is collected once no pull runs. */
void crisp_image_store_pull_end(struct crisp_image_store *st, bool failed);

/* Bytes and inodes used by layers and blobs: cheap, from the index. */
void crisp_image_store_usage(struct crisp_image_store *st, uint64_t *bytes, uint64_t *inodes);

void crisp_image_copy(struct crisp_image *dst, const struct crisp_image *src);
void crisp_image_free(struct crisp_image *img);
void crisp_images_free(struct crisp_image *imgs, size_t n);
