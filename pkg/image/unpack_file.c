/* Regular files: created O_EXCL | O_NOFOLLOW (never through a symlink), data streamed from the
 * tar reader, written at each block's offset so that holes of sparse files stay holes. */
#define _GNU_SOURCE
#include "image/unpack_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "util/cleanup.h"

static int pwrite_all(int fd, const char *buf, size_t size, int64_t offset)
{
    while (size > 0) {
        ssize_t n = pwrite(fd, buf, size, (off_t)offset);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        buf += n;
        size -= (size_t)n;
        offset += n;
    }
    return 0;
}

static int write_error(struct crisp_err *err, int r, const struct unpack_loc *loc)
{
    if (r == -EFBIG || r == -EINVAL) /* an offset or size no file can have */
        return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, -r,
                            "layer entry \"%s\": file data out of range", loc->disp);
    return crisp_syserrf(err, -r, "layer entry \"%s\": write", loc->disp);
}

static int write_data(struct unpack_ctx *ctx, int fd, struct archive_entry *e,
                      const struct unpack_loc *loc)
{
    int64_t end = 0;
    for (;;) {
        const void *buf;
        size_t size;
        int64_t offset;
        int r = unpack_stream_data(ctx->stream, &buf, &size, &offset, ctx->err);
        if (r <= 0) {
            if (r < 0)
                return r;
            break;
        }
        if (offset < 0 || (uint64_t)offset > (uint64_t)INT64_MAX - size)
            return write_error(ctx->err, -EFBIG, loc);
        r = pwrite_all(fd, buf, size, offset);
        if (r < 0)
            return write_error(ctx->err, r, loc);
        ctx->stats.bytes += size;
        if (offset + (int64_t)size > end)
            end = offset + (int64_t)size;
    }
    /* A sparse file may end in a hole. */
    if (archive_entry_size_is_set(e) && archive_entry_size(e) > end &&
        ftruncate(fd, (off_t)archive_entry_size(e)) < 0)
        return write_error(ctx->err, -errno, loc);
    return 0;
}

int unpack_file(struct unpack_ctx *ctx, struct archive_entry *e, const struct unpack_loc *loc)
{
    _cleanup_close_ int parent = -1;
    int r = unpack_open_parent(ctx, loc, &parent);
    if (r < 0)
        return r;
    r = unpack_slot_clear(ctx, parent, loc->name, loc, false, NULL);
    if (r < 0)
        return r;
    _cleanup_close_ int fd =
        openat(parent, loc->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return crisp_syserrf(ctx->err, errno, "layer entry \"%s\": create file", loc->disp);
    r = write_data(ctx, fd, e, loc);
    if (r < 0)
        return r;
    r = unpack_meta_fd(ctx, fd, e, loc);
    if (r < 0)
        return r;
    ctx->stats.files++;
    return 0;
}
