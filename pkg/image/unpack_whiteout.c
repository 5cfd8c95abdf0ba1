/* OCI whiteouts into their overlayfs form:
 *   dir/.wh.name       -> dir/name, a character device 0:0 (whatever this layer put there is
 *                         removed first)
 *   dir/.wh..wh..opq   -> the xattr trusted.overlay.opaque = "y" on dir
 * Any other ".wh..wh." name is refused. The parent is resolved beneath dest like any entry's. */
#define _GNU_SOURCE
#include "image/unpack_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "util/cleanup.h"

#define WH_PREFIX ".wh."
#define WH_OPAQUE ".wh..wh..opq"
#define WH_META   ".wh..wh."

static int opaque_dir(struct unpack_ctx *ctx, const struct unpack_loc *loc)
{
    _cleanup_close_ int parent = -1;
    int r = unpack_open_parent(ctx, loc, &parent);
    if (r < 0)
        return r;
    _cleanup_close_ int fd = openat(parent, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return crisp_syserrf(ctx->err, errno, "layer entry \"%s\": open directory", loc->disp);
    if (fsetxattr(fd, "trusted.overlay.opaque", "y", 1, 0) < 0)
        return crisp_syserrf(ctx->err, errno, "layer entry \"%s\": mark directory opaque",
                             loc->disp);
    return 0;
}

static int whiteout_one(struct unpack_ctx *ctx, const struct unpack_loc *loc, const char *name)
{
    if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return crisp_errorf(ctx->err, GRPC_STATUS_FAILED_PRECONDITION, EINVAL,
                            "layer entry \"%s\": whiteout of an invalid name", loc->disp);
    _cleanup_close_ int parent = -1;
    int r = unpack_open_parent(ctx, loc, &parent);
    if (r == 0)
        r = unpack_slot_clear(ctx, parent, name, loc, false, NULL);
    if (r < 0)
        return r;
    if (mknodat(parent, name, S_IFCHR, makedev(0, 0)) < 0)
        return crisp_syserrf(ctx->err, errno, "layer entry \"%s\": create whiteout", loc->disp);
    return 0;
}

int unpack_whiteout(struct unpack_ctx *ctx, const struct unpack_loc *loc)
{
    if (strncmp(loc->name, WH_PREFIX, strlen(WH_PREFIX)) != 0)
        return 0;
    int r;
    if (strcmp(loc->name, WH_OPAQUE) == 0)
        r = opaque_dir(ctx, loc);
    else if (strncmp(loc->name, WH_META, strlen(WH_META)) == 0)
        r = crisp_errorf(ctx->err, GRPC_STATUS_FAILED_PRECONDITION, EINVAL,
                         "layer entry \"%s\": unknown whiteout metadata name", loc->disp);
    else
        r = whiteout_one(ctx, loc, loc->name + strlen(WH_PREFIX));
    return r < 0 ? r : 1;
}
