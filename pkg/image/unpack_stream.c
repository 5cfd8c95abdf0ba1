/* The layer as a tar stream, hashed as it is decompressed.
 *
 * libarchive's tar reader does not show the uncompressed bytes, and the diff_id is their sha256.
 * So two readers are chained in one pass: "outer" reads the fd, detects and undoes the
 * compression (gzip, zstd or none) and yields the uncompressed stream as its one "raw" entry;
 * "tar" parses that stream, pulling it block by block through tar_read, which hashes each block
 * on its way. No byte is copied for this: tar_read hands tar the outer's own buffer. */
#define _GNU_SOURCE
#include "image/unpack_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image/digest.h"
#include "util/log.h"
#include "util/mem.h"

#define READ_BLOCK (128 * 1024)

struct unpack_stream {
    int fd;
    struct archive *outer; /* fd -> uncompressed bytes */
    struct archive *tar;   /* uncompressed bytes -> entries */
    struct crisp_sha256 *sha;
    int read_errno; /* read(2) on the fd failed: a local error, not the layer's */
    bool outer_eof; /* the uncompressed stream is all read (and hashed) */
    char *buf;      /* READ_BLOCK bytes of compressed input */
};

static la_ssize_t fd_read(struct archive *a, void *data, const void **buf)
{
    struct unpack_stream *s = data;
    for (;;) {
        ssize_t n = read(s->fd, s->buf, READ_BLOCK);
        if (n >= 0) {
            *buf = s->buf;
            return n;
        }
        if (errno != EINTR) {
            s->read_errno = errno;
            archive_set_error(a, errno, "read layer: %s", strerror(errno));
            return -1;
        }
    }
}

/* The next block of uncompressed bytes, hashed: 1, 0 at the end, -1 on error (set on a). */
static int outer_block(struct unpack_stream *s, const void **buf, size_t *size)
{
    while (!s->outer_eof) {
        la_int64_t offset;
        int r = archive_read_data_block(s->outer, buf, size, &offset);
        if (r == ARCHIVE_EOF) {
            s->outer_eof = true;
        } else if (r < ARCHIVE_WARN) {
            return -1;
        } else if (*size > 0) {
            crisp_sha256_update(s->sha, *buf, *size);
            return 1;
        }
    }
    return 0;
}

static la_ssize_t tar_read(struct archive *a, void *data, const void **buf)
{
    struct unpack_stream *s = data;
    size_t size = 0;
    int r = outer_block(s, buf, &size);
    if (r < 0) {
        const char *msg = archive_error_string(s->outer);
        archive_set_error(a, archive_errno(s->outer), "%s", msg ? msg : "decompression failed");
        return -1;
    }
    return r == 0 ? 0 : (la_ssize_t)size;
}

/* An error of libarchive a: the layer's fault unless reading the fd failed. */
static int stream_error(struct unpack_stream *s, struct archive *a, struct crisp_err *err)
{
    if (s->read_errno)
        return crisp_syserrf(err, s->read_errno, "read layer");
    const char *msg = archive_error_string(a);
    return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, EINVAL,
                        "layer is not a valid tar stream: %s", msg ? msg : "unknown error");
}

static int open_outer(struct unpack_stream *s, struct crisp_err *err)
{
    s->outer = archive_read_new();
    if (!s->outer)
        return crisp_errorf(err, GRPC_STATUS_INTERNAL, ENOMEM, "cannot allocate a layer reader");
    /* Not filter_all: it also brings filters that run external programs (lrzip, grzip, lzop),
     * and OCI layers are plain, gzip or zstd. ARCHIVE_WARN: an external program is used. */
    if (archive_read_support_filter_gzip(s->outer) < ARCHIVE_WARN ||
        archive_read_support_filter_zstd(s->outer) < ARCHIVE_WARN ||
        archive_read_support_format_raw(s->outer) != ARCHIVE_OK)
        return crisp_errorf(err, GRPC_STATUS_INTERNAL, ENOTSUP, "layer reader: %s",
                            archive_error_string(s->outer));
    if (archive_read_open(s->outer, s, NULL, fd_read, NULL) != ARCHIVE_OK)
        return stream_error(s, s->outer, err);
    struct archive_entry *raw;
    int r = archive_read_next_header(s->outer, &raw);
    if (r == ARCHIVE_EOF)
        s->outer_eof = true;
    else if (r < ARCHIVE_WARN)
        return stream_error(s, s->outer, err);
    return 0;
}

static int open_tar(struct unpack_stream *s, struct crisp_err *err)
{
    s->tar = archive_read_new();
    if (!s->tar)
        return crisp_errorf(err, GRPC_STATUS_INTERNAL, ENOMEM, "cannot allocate a tar reader");
    /* ustar, pax, GNU tar and v7: one reader, chosen per header. */
    if (archive_read_support_format_tar(s->tar) != ARCHIVE_OK)
        return crisp_errorf(err, GRPC_STATUS_INTERNAL, ENOTSUP, "tar reader: %s",
                            archive_error_string(s->tar));
    if (archive_read_open(s->tar, s, NULL, tar_read, NULL) != ARCHIVE_OK)
        return stream_error(s, s->tar, err);
    return 0;
}

int unpack_stream_open(int fd, struct unpack_stream **out, struct crisp_err *err)
{
    struct unpack_stream *s = crisp_xcalloc(1, sizeof(*s));
    s->fd = fd;
    s->buf = crisp_xmalloc(READ_BLOCK);
    s->sha = crisp_sha256_new();
    int r = open_outer(s, err);
    if (r == 0)
        r = open_tar(s, err);
    if (r < 0) {
        unpack_stream_free(s);
        return r;
    }
    *out = s;
    return 0;
}

int unpack_stream_next(struct unpack_stream *s, struct archive_entry **entry, struct crisp_err *err)
{
    int r = archive_read_next_header(s->tar, entry);
    if (r == ARCHIVE_EOF)
        return 0;
    if (r == ARCHIVE_WARN) /* e.g. a UTF-8 name in the C locale: the bytes are kept as they are */
        log_debug(UNPACK_LOG, "layer entry \"%s\": %s",
                  archive_entry_pathname(*entry) ? archive_entry_pathname(*entry) : "",
                  archive_error_string(s->tar));
    else if (r != ARCHIVE_OK)
        return stream_error(s, s->tar, err);
    return 1;
}

int unpack_stream_data(struct unpack_stream *s, const void **buf, size_t *size, int64_t *offset,
                       struct crisp_err *err)
{
    la_int64_t off;
    int r = archive_read_data_block(s->tar, buf, size, &off);
    if (r == ARCHIVE_EOF)
        return 0;
    if (r < ARCHIVE_WARN)
        return stream_error(s, s->tar, err);
    *offset = off;
    return 1;
}

int unpack_stream_finish(struct unpack_stream *s, char diff_id[CRISP_DIFF_ID_SIZE],
                         struct crisp_err *err)
{
    const void *buf;
    size_t size;
    int r;
    while ((r = outer_block(s, &buf, &size)) > 0)
        ;
    if (r < 0)
        return stream_error(s, s->outer, err);
    if (diff_id) {
        crisp_sha256_finish(s->sha, diff_id);
        s->sha = NULL;
    }
    return 0;
}

void unpack_stream_free(struct unpack_stream *s)
{
    if (!s)
        return;
    if (s->tar)
        archive_read_free(s->tar);
    if (s->outer)
        archive_read_free(s->outer);
    crisp_sha256_free(s->sha);
    free(s->buf);
    free(s);
}
