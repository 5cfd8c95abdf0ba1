/* One tar entry: checked, then created with *at() calls relative to its parent directory, which
 * was resolved beneath dest. */
#define _GNU_SOURCE
#include "image/unpack_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/log.h"

static int refuse(struct crisp_err *err, const struct unpack_loc *loc, const char *why)
{
    return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, EINVAL, "layer entry \"%s\": %s",
                        loc->disp, why);
}

/* "." or "/": the entry is dest itself; only its metadata is applied. */
static int unpack_root(struct unpack_ctx *ctx, struct archive_entry *e,
                       const struct unpack_loc *loc)
{
    if (archive_entry_filetype(e) != AE_IFDIR || archive_entry_hardlink(e))
        return refuse(ctx->err, loc, "the layer root can only be a directory");
    _cleanup_close_ int fd = unpack_resolve(ctx->dest_fd, ".", O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return crisp_syserrf(ctx->err, -fd, "layer entry \"%s\": open the layer root", loc->disp);
    return unpack_meta_fd(ctx, fd, e, loc);
}

/* An entry whose last component is "..": refused, as escaping when it does. */
static int refuse_dotdot(struct unpack_ctx *ctx, const struct unpack_loc *loc)
{
    int fd = unpack_resolve(ctx->dest_fd, loc->path, O_PATH);
    if (fd >= 0)
        close(fd);
    if (fd == -EXDEV)
        return unpack_resolve_error(ctx->err, fd, loc, "resolve");
    return refuse(ctx->err, loc, "path ends in \"..\"");
}

static int unpack_dir(struct unpack_ctx *ctx, struct archive_entry *e, const struct unpack_loc *loc)
{
    _cleanup_close_ int parent = -1;
    int r = unpack_open_parent(ctx, loc, &parent);
    bool kept = false;
    if (r == 0)
        r = unpack_slot_clear(ctx, parent, loc->name, loc, true, &kept);
    if (r < 0)
        return r;
    if (!kept && mkdirat(parent, loc->name, 0700) < 0)
        return crisp_syserrf(ctx->err, errno, "layer entry \"%s\": mkdir", loc->disp);
    _cleanup_close_ int fd =
        openat(parent, loc->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return crisp_syserrf(ctx->err, errno, "layer entry \"%s\": open directory", loc->disp);
    r = unpack_meta_fd(ctx, fd, e, loc);
    if (r == 0)
        ctx->stats.dirs++;
    return r;
}

/* The target is content: it is not checked, and not followed here. */
static int unpack_symlink(struct unpack_ctx *ctx, struct archive_entry *e,
                          const struct unpack_loc *loc)
{
    const char *target = archive_entry_symlink(e);
    if (!target || !*target)
        return refuse(ctx->err, loc, "symbolic link without a target");
    _cleanup_close_ int parent = -1;
    int r = unpack_open_parent(ctx, loc, &parent);
    if (r == 0)
        r = unpack_slot_clear(ctx, parent, loc->name, loc, false, NULL);
    if (r < 0)
        return r;
    if (symlinkat(target, parent, loc->name) < 0) {
        if (errno == ENAMETOOLONG)
            return refuse(ctx->err, loc, "symbolic link target too long");
        return crisp_syserrf(ctx->err, errno, "layer entry \"%s\": symlink", loc->disp);
    }
    r = unpack_meta_at(ctx, parent, e, loc);
    if (r == 0)
        ctx->stats.files++;
    return r;
}

/* Why target_fd (or its failed resolution) cannot be linked to, or NULL. */
static const char *link_target_problem(int target_fd, const struct stat *st)
{
    if (target_fd == -EXDEV)
        return "escapes the layer root";
    if (target_fd == -ENOENT || target_fd == -ENOTDIR)
        return "does not exist in the layer";
    if (target_fd == -ELOOP)
        return "has too many levels of symbolic links";
    if (target_fd >= 0 && !S_ISREG(st->st_mode))
        return "is not a regular file";
    return NULL;
}

/* An O_PATH fd of the hard link target: a regular file this layer made, beneath dest. */
static int open_link_target(struct unpack_ctx *ctx, struct archive_entry *e,
                            const struct unpack_loc *loc, struct unpack_loc *target,
                            struct stat *st, int *out)
{
    int r = unpack_loc_init(target, archive_entry_hardlink(e), "hard link target", ctx->err);
    if (r < 0) {
        crisp_err_prefix(ctx->err, "layer entry \"%s\"", loc->disp);
        return r;
    }
    _cleanup_close_ int fd = unpack_resolve(ctx->dest_fd, target->path, O_PATH | O_NOFOLLOW);
    if (fd >= 0 && fstat(fd, st) < 0)
        return crisp_syserrf(ctx->err, errno, "layer entry \"%s\": stat hard link target",
                             loc->disp);
    const char *why = link_target_problem(fd, st);
    if (why)
        return crisp_errorf(ctx->err, GRPC_STATUS_FAILED_PRECONDITION, EINVAL,
                            "layer entry \"%s\": hard link target \"%s\" %s", loc->disp,
                            target->disp, why);
    if (fd < 0)
        return crisp_syserrf(ctx->err, -fd, "layer entry \"%s\": open hard link target \"%s\"",
                             loc->disp, target->disp);
    *out = crisp_steal_fd(fd);
    return 0;
}

/* linkat from the target's O_PATH fd; without CAP_DAC_READ_SEARCH, from its parent and name. */
static int link_target(struct unpack_ctx *ctx, int target_fd, const struct unpack_loc *target,
                       int parent, const char *name)
{
    if (linkat(target_fd, "", parent, name, AT_EMPTY_PATH) == 0)
        return 0;
    if (errno != EPERM && errno != ENOENT)
        return -errno;
    _cleanup_close_ int tparent = unpack_resolve(ctx->dest_fd, target->parent, O_PATH);
    if (tparent < 0)
        return tparent;
    return linkat(tparent, target->name, parent, name, 0) < 0 ? -errno : 0;
}

static int unpack_hardlink(struct unpack_ctx *ctx, struct archive_entry *e,
                           const struct unpack_loc *loc)
{
    struct unpack_loc target;
    struct stat tst, st;
    _cleanup_close_ int target_fd = -1, parent = -1;
    int r = open_link_target(ctx, e, loc, &target, &tst, &target_fd);
    if (r == 0)
        r = unpack_open_parent(ctx, loc, &parent);
    if (r < 0)
        return r;
    if (fstatat(parent, loc->name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_dev == tst.st_dev &&
        st.st_ino == tst.st_ino)
        return 0; /* already that file */
    r = unpack_slot_clear(ctx, parent, loc->name, loc, false, NULL);
    if (r < 0)
        return r;
    r = link_target(ctx, target_fd, &target, parent, loc->name);
    if (r < 0)
        return crisp_syserrf(ctx->err, -r, "layer entry \"%s\": link to \"%s\"", loc->disp,
                             target.disp);
    ctx->stats.files++;
    return 0;
}

/* Device nodes are refused unless allowed; char 0:0 is an overlayfs whiteout, always fine. */
static int check_device(struct unpack_ctx *ctx, struct archive_entry *e,
                        const struct unpack_loc *loc)
{
    unsigned type = archive_entry_filetype(e);
    unsigned long maj = (unsigned long)archive_entry_rdevmajor(e);
    unsigned long min = (unsigned long)archive_entry_rdevminor(e);
    if (type == AE_IFIFO || ctx->allow_devices || (type == AE_IFCHR && maj == 0 && min == 0))
        return 0;
    return crisp_errorf(ctx->err, GRPC_STATUS_FAILED_PRECONDITION, EPERM,
                        "device node \"%s\" (%s %lu:%lu) in layer: device nodes are not allowed "
                        "(allow_device_nodes is off)",
                        loc->disp, type == AE_IFCHR ? "char" : "block", maj, min);
}

/* FIFOs and device nodes. */
static int unpack_node(struct unpack_ctx *ctx, struct archive_entry *e,
                       const struct unpack_loc *loc)
{
    int r = check_device(ctx, e, loc);
    if (r < 0)
        return r;
    _cleanup_close_ int parent = -1;
    r = unpack_open_parent(ctx, loc, &parent);
    if (r == 0)
        r = unpack_slot_clear(ctx, parent, loc->name, loc, false, NULL);
    if (r < 0)
        return r;
    dev_t dev = makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e));
    if (archive_entry_filetype(e) == AE_IFIFO)
        dev = 0;
    if (mknodat(parent, loc->name, archive_entry_filetype(e) | 0600, dev) < 0)
        return crisp_syserrf(ctx->err, errno, "layer entry \"%s\": mknod", loc->disp);
    r = unpack_meta_at(ctx, parent, e, loc);
    if (r == 0)
        ctx->stats.files++;
    return r;
}

static int unpack_typed(struct unpack_ctx *ctx, struct archive_entry *e,
                        const struct unpack_loc *loc)
{
    if (archive_entry_hardlink(e))
        return unpack_hardlink(ctx, e, loc);
    switch (archive_entry_filetype(e)) {
    case AE_IFREG:
        return unpack_file(ctx, e, loc);
    case AE_IFDIR:
        return unpack_dir(ctx, e, loc);
    case AE_IFLNK:
        return unpack_symlink(ctx, e, loc);
    case AE_IFIFO:
    case AE_IFCHR:
    case AE_IFBLK:
        return unpack_node(ctx, e, loc);
    case AE_IFSOCK:
        log_debug(UNPACK_LOG, "layer entry \"%s\": socket skipped", loc->disp);
        return 0;
    default:
        return refuse(ctx->err, loc, "unknown entry type");
    }
}

int unpack_entry(struct unpack_ctx *ctx, struct archive_entry *e)
{
    const char *raw = archive_entry_pathname(e);
    if (!raw)
        return crisp_errorf(ctx->err, GRPC_STATUS_FAILED_PRECONDITION, EINVAL,
                            "layer entry without a readable name");
    if (!*raw) {
        log_debug(UNPACK_LOG, "layer entry with an empty name skipped");
        return 0;
    }
    struct unpack_loc loc;
    int r = unpack_loc_init(&loc, raw, "layer entry", ctx->err);
    if (r == 0)
        r = unpack_meta_check(e, &loc, ctx->err);
    if (r < 0)
        return r;
    if (unpack_loc_is_root(&loc))
        return unpack_root(ctx, e, &loc);
    if (strcmp(loc.name, "..") == 0)
        return refuse_dotdot(ctx, &loc);
    r = unpack_whiteout(ctx, &loc);
    if (r != 0)
        return r < 0 ? r : 0;
    return unpack_typed(ctx, e, &loc);
}
