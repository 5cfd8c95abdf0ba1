/* crisp_layer_unpack: the entry loop. See unpack_internal.h for the other parts. */
#define _GNU_SOURCE
#include "image/unpack.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "image/unpack_internal.h"
#include "util/cleanup.h"
#include "util/log.h"

static int unpack_entries(struct unpack_ctx *ctx)
{
    for (;;) {
        struct archive_entry *e;
        int r = unpack_stream_next(ctx->stream, &e, ctx->err);
        if (r <= 0)
            return r;
        r = unpack_entry(ctx, e);
        if (r < 0)
            return r;
    }
}

static int unpack_all(struct unpack_ctx *ctx, char diff_id_out[CRISP_DIFF_ID_SIZE])
{
    int r = unpack_entries(ctx);
    if (r == 0)
        r = unpack_dir_times_apply(ctx);
    if (r == 0)
        r = unpack_stream_finish(ctx->stream, diff_id_out, ctx->err);
    return r;
}

int crisp_layer_unpack(int layer_fd, const char *dest, const struct crisp_unpack_options *opts,
                       struct crisp_unpack_stats *stats, char diff_id_out[CRISP_DIFF_ID_SIZE],
                       struct crisp_err *err)
{
    if (stats)
        memset(stats, 0, sizeof(*stats));
    _cleanup_close_ int dest_fd = open(dest, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dest_fd < 0)
        return crisp_syserrf(err, errno, "open layer destination %s", dest);
    _cleanup_stream_ struct unpack_stream *stream = NULL;
    int r = unpack_stream_open(layer_fd, &stream, err);
    if (r < 0)
        return r;
    struct unpack_ctx ctx = {
        .dest_fd = dest_fd,
        .allow_devices = opts && opts->allow_devices,
        .stream = stream,
        .err = err,
    };
    r = unpack_all(&ctx, diff_id_out);
    unpack_dir_times_free(&ctx);
    if (stats)
        *stats = ctx.stats;
    if (r == 0)
        log_debug(UNPACK_LOG, "unpacked %s: %llu files, %llu directories, %llu bytes", dest,
                  (unsigned long long)ctx.stats.files, (unsigned long long)ctx.stats.dirs,
                  (unsigned long long)ctx.stats.bytes);
    return r;
}
