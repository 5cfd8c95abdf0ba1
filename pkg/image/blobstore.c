#define _GNU_SOURCE
#include "image/blobstore.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/mem.h"

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    int r = type == FTW_DP ? rmdir(path) : unlink(path);
    if (r < 0 && errno != ENOENT)
        log_warn("store", "remove %s: %s", path, strerror(errno));
    return 0;
}

int crisp_remove_tree(const char *path)
{
    if (nftw(path, remove_entry, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0 && errno != ENOENT)
        return -errno;
    return 0;
}

int crisp_blobstore_init(struct crisp_blobstore *bs, const char *root, struct crisp_err *err)
{
    bs->blobs_dir = crisp_xasprintf("%s/blobs/sha256", root);
    bs->tmp_dir = crisp_xasprintf("%s/tmp", root);
    crisp_remove_tree(bs->tmp_dir); /* leftovers of an interrupted pull */
    int r = crisp_mkdir_p(bs->blobs_dir, 0700, err);
    return r < 0 ? r : crisp_mkdir_p(bs->tmp_dir, 0700, err);
}

void crisp_blobstore_free(struct crisp_blobstore *bs)
{
    free(bs->blobs_dir);
    free(bs->tmp_dir);
    bs->blobs_dir = bs->tmp_dir = NULL;
}

char *crisp_blob_path(const struct crisp_blobstore *bs, const char *digest)
{
    return crisp_xasprintf("%s/%s", bs->blobs_dir, digest + 7);
}

bool crisp_blob_exists(const struct crisp_blobstore *bs, const char *digest, uint64_t *size)
{
    if (!crisp_sha256_digest_valid(digest))
        return false;
    _cleanup_free_ char *path = crisp_blob_path(bs, digest);
    struct stat st;
    if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
        return false;
    if (size)
        *size = (uint64_t)st.st_size;
    return true;
}

int crisp_blob_read(const struct crisp_blobstore *bs, const char *digest, size_t max_size,
                    char **data, size_t *len, struct crisp_err *err)
{
    _cleanup_free_ char *path = crisp_blob_path(bs, digest);
    return crisp_read_file(path, max_size, data, len, err);
}

void crisp_blob_remove(const struct crisp_blobstore *bs, const char *digest)
{
    _cleanup_free_ char *path = crisp_blob_path(bs, digest);
    if (unlink(path) < 0 && errno != ENOENT)
        log_warn("store", "remove blob %s: %s", path, strerror(errno));
}

int crisp_blob_writer_open(const struct crisp_blobstore *bs, const char *digest,
                           int64_t expected_size, struct crisp_blob_writer *w,
                           struct crisp_err *err)
{
    memset(w, 0, sizeof(*w));
    w->fd = -1;
    if (!crisp_sha256_digest_valid(digest))
        return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, EINVAL,
                            "digest \"%s\" is not sha256:<64 lowercase hex>", digest);
    w->bs = bs;
    snprintf(w->digest, sizeof(w->digest), "%s", digest);
    w->expected_size = expected_size;
    w->tmp_path = crisp_xasprintf("%s/blob-%.12s-XXXXXX", bs->tmp_dir, digest + 7);
    w->fd = mkostemp(w->tmp_path, O_CLOEXEC);
    if (w->fd < 0) {
        int r = crisp_syserrf(err, errno, "create %s", w->tmp_path);
        free(w->tmp_path);
        w->tmp_path = NULL;
        return r;
    }
    w->sha = crisp_sha256_new();
    return 0;
}

int crisp_blob_writer_write(struct crisp_blob_writer *w, const void *data, size_t len,
                            struct crisp_err *err)
{
    if (w->expected_size >= 0 && w->written + len > (uint64_t)w->expected_size)
        return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, EFBIG,
                            "blob %s: more than the %lld bytes its descriptor announces", w->digest,
                            (long long)w->expected_size);
    const char *p = data;
    for (size_t left = len; left > 0;) {
        ssize_t n = write(w->fd, p, left);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return crisp_syserrf(err, errno, "write %s", w->tmp_path);
        }
        p += n;
        left -= (size_t)n;
    }
    crisp_sha256_update(w->sha, data, len);
    w->written += len;
    return 0;
}

int crisp_blob_writer_reset(struct crisp_blob_writer *w, struct crisp_err *err)
{
    if (ftruncate(w->fd, 0) < 0 || lseek(w->fd, 0, SEEK_SET) < 0)
        return crisp_syserrf(err, errno, "truncate %s", w->tmp_path);
    crisp_sha256_free(w->sha);
    w->sha = crisp_sha256_new();
    w->written = 0;
    return 0;
}

static int verify_and_install(struct crisp_blob_writer *w, struct crisp_err *err)
{
    char got[CRISP_DIGEST_LEN + 1];
    crisp_sha256_finish(w->sha, got);
    w->sha = NULL;
    if (w->expected_size >= 0 && w->written != (uint64_t)w->expected_size)
        return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, EIO,
                            "blob %s: got %llu bytes, its descriptor announces %lld", w->digest,
                            (unsigned long long)w->written, (long long)w->expected_size);
    if (strcmp(got, w->digest) != 0)
        return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, EIO,
                            "blob %s: content has digest %s: corrupted or tampered with", w->digest,
                            got);
    if (fchmod(w->fd, 0600) < 0 || fsync(w->fd) < 0)
        return crisp_syserrf(err, errno, "sync %s", w->tmp_path);
    _cleanup_free_ char *dest = crisp_blob_path(w->bs, w->digest);
    if (rename(w->tmp_path, dest) < 0)
        return crisp_syserrf(err, errno, "rename %s to %s", w->tmp_path, dest);
    return 0;
}

int crisp_blob_writer_commit(struct crisp_blob_writer *w, struct crisp_err *err)
{
    int r = verify_and_install(w, err);
    if (r < 0) {
        crisp_blob_writer_abort(w);
        return r;
    }
    close(w->fd);
    w->fd = -1;
    free(w->tmp_path);
    w->tmp_path = NULL;
    return 0;
}

void crisp_blob_writer_abort(struct crisp_blob_writer *w)
{
    if (w->fd >= 0)
        close(w->fd);
    w->fd = -1;
    if (w->tmp_path)
        unlink(w->tmp_path);
    free(w->tmp_path);
    w->tmp_path = NULL;
    crisp_sha256_free(w->sha);
    w->sha = NULL;
}

int crisp_blob_put(const struct crisp_blobstore *bs, const char *digest, const void *data,
                   size_t len, struct crisp_err *err)
{
    struct crisp_blob_writer w;
    int r = crisp_blob_writer_open(bs, digest, (int64_t)len, &w, err);
    if (r < 0)
        return r;
    r = crisp_blob_writer_write(&w, data, len, err);
    if (r < 0) {
        crisp_blob_writer_abort(&w);
        return r;
    }
    return crisp_blob_writer_commit(&w, err);
}
