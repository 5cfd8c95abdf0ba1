/* The content store: <root>/blobs/sha256/<hex>, each blob written to a temp
 * file under <root>/tmp and renamed into place only after its digest and size
 * match. A blob visible in the store is therefore always whole and verified. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image/digest.h"
#include "util/err.h"

struct crisp_blobstore {
    char *blobs_dir; /* <root>/blobs/sha256 */
    char *tmp_dir;   /* <root>/tmp: in-progress downloads and unpacks, emptied at start */
};

/* Creates the directories and removes what an interrupted run left in tmp. */
int crisp_blobstore_init(struct crisp_blobstore *bs, const char *root, struct crisp_err *err);
void crisp_blobstore_free(struct crisp_blobstore *bs);

char *crisp_blob_path(const struct crisp_blobstore *bs, const char *digest);
/* True when the blob is present; its size in *size when not NULL. */
bool crisp_blob_exists(const struct crisp_blobstore *bs, const char *digest, uint64_t *size);
int crisp_blob_read(const struct crisp_blobstore *bs, const char *digest, size_t max_size,
                    char **data, size_t *len, struct crisp_err *err);
void crisp_blob_remove(const struct crisp_blobstore *bs, const char *digest);

struct crisp_blob_writer {
    const struct crisp_blobstore *bs;
    char digest[CRISP_DIGEST_LEN + 1]; /* expected */
    int64_t expected_size;             /* -1: unknown */
    uint64_t written;
    int fd;
    char *tmp_path;
    struct crisp_sha256 *sha;
};

/* A writer for the blob with this digest (and size, or -1). */
int crisp_blob_writer_open(const struct crisp_blobstore *bs, const char *digest,
                           int64_t expected_size, struct crisp_blob_writer *w,
                           struct crisp_err *err);
/* Fails (FAILED_PRECONDITION) as soon as more bytes than expected arrive. */
int crisp_blob_writer_write(struct crisp_blob_writer *w, const void *data, size_t len,
                            struct crisp_err *err);
/* Starts over (a retried download). */
int crisp_blob_writer_reset(struct crisp_blob_writer *w, struct crisp_err *err);
/* Verifies size and digest, fsyncs and renames into the store. The writer is
 * closed whatever the outcome. */
int crisp_blob_writer_commit(struct crisp_blob_writer *w, struct crisp_err *err);
void crisp_blob_writer_abort(struct crisp_blob_writer *w);

/* Stores a whole buffer under its expected digest (verified). */
int crisp_blob_put(const struct crisp_blobstore *bs, const char *digest, const void *data,
                   size_t len, struct crisp_err *err);

/* Removes a directory tree (no symlinks followed); used for temp and layer dirs. */
int crisp_remove_tree(const char *path);
