/* Metadata of unpacked entries: owner, then mode (chown clears setuid/setgid), then xattrs
 * (chown also drops security.capability), then times. Modes are set with fchmod, so the umask
 * plays no part. Only user.* and security.capability xattrs are applied: trusted.overlay.* would
 * let a layer forge whiteouts and opaque directories, and the others are not the layer's to set. */
#define _GNU_SOURCE
#include "image/unpack_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/log.h"
#include "util/mem.h"

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452 /* Linux 6.6; the same number on every architecture */
#endif

int unpack_meta_check(struct archive_entry *e, const struct unpack_loc *loc, struct crisp_err *err)
{
    la_int64_t uid = archive_entry_uid(e), gid = archive_entry_gid(e);
    /* (uid_t)-1 would mean "leave unchanged" to chown */
    if (uid < 0 || uid >= (la_int64_t)UINT32_MAX || gid < 0 || gid >= (la_int64_t)UINT32_MAX)
        return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, ERANGE,
                            "layer entry \"%s\": owner %lld:%lld is out of range", loc->disp,
                            (long long)uid, (long long)gid);
    return 0;
}

static long clamp_nsec(long nsec)
{
    return nsec < 0 ? 0 : nsec > 999999999 ? 999999999 : nsec;
}

/* atime and mtime of e; a missing atime is the mtime, a missing mtime is left alone. */
static void entry_times(struct archive_entry *e, struct timespec ts[2])
{
    ts[1] = (struct timespec){.tv_nsec = UTIME_OMIT};
    if (archive_entry_mtime_is_set(e))
        ts[1] = (struct timespec){archive_entry_mtime(e), clamp_nsec(archive_entry_mtime_nsec(e))};
    ts[0] = ts[1];
    if (archive_entry_atime_is_set(e))
        ts[0] = (struct timespec){archive_entry_atime(e), clamp_nsec(archive_entry_atime_nsec(e))};
}

static bool xattr_allowed(const char *name)
{
    return strncmp(name, "user.", 5) == 0 || strcmp(name, "security.capability") == 0;
}

static int xattr_error(struct crisp_err *err, int errnum, const struct unpack_loc *loc,
                       const char *qname)
{
    if (errnum == EINVAL || errnum == ERANGE || errnum == E2BIG)
        return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, errnum,
                            "layer entry \"%s\": invalid xattr %s: %s", loc->disp, qname,
                            strerror(errnum));
    return crisp_syserrf(err, errnum, "layer entry \"%s\": set xattr %s", loc->disp, qname);
}

static int apply_xattrs(struct unpack_ctx *ctx, int fd, struct archive_entry *e,
                        const struct unpack_loc *loc)
{
    const char *name;
    const void *value;
    size_t size;
    archive_entry_xattr_reset(e);
    while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
        char qname[64];
        unpack_quote(name, qname, sizeof(qname));
        if (!xattr_allowed(name)) {
            log_debug(UNPACK_LOG, "layer entry \"%s\": xattr %s skipped", loc->disp, qname);
            continue;
        }
        if (fsetxattr(fd, name, value, size, 0) < 0)
            return xattr_error(ctx->err, errno, loc, qname);
    }
    return 0;
}

static int dir_times_add(struct unpack_ctx *ctx, const struct stat *st,
                         const struct unpack_loc *loc, const struct timespec ts[2])
{
    if (ctx->n_dir_times == ctx->cap_dir_times) {
        ctx->cap_dir_times = ctx->cap_dir_times ? 2 * ctx->cap_dir_times : 64;
        ctx->dir_times =
            crisp_xrealloc(ctx->dir_times, ctx->cap_dir_times * sizeof(*ctx->dir_times));
    }
    ctx->dir_times[ctx->n_dir_times++] = (struct unpack_dir_time){
        .path = crisp_xstrdup(loc->path),
        .dev = st->st_dev,
        .ino = st->st_ino,
        .times = {ts[0], ts[1]},
    };
    return 0;
}

int unpack_meta_fd(struct unpack_ctx *ctx, int fd, struct archive_entry *e,
                   const struct unpack_loc *loc)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return crisp_syserrf(ctx->err, errno, "layer entry \"%s\": stat", loc->disp);
    if (fchown(fd, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e)) < 0)
        return crisp_syserrf(ctx->err, errno, "layer entry \"%s\": chown", loc->disp);
    if (fchmod(fd, archive_entry_perm(e) & 07777) < 0)
        return crisp_syserrf(ctx->err, errno, "layer entry \"%s\": chmod", loc->disp);
    int r = apply_xattrs(ctx, fd, e, loc);
    if (r < 0)
        return r;
    struct timespec ts[2];
    entry_times(e, ts);
    if (S_ISDIR(st.st_mode))
        return dir_times_add(ctx, &st, loc, ts);
    if (futimens(fd, ts) < 0)
        return crisp_syserrf(ctx->err, errno, "layer entry \"%s\": set times", loc->disp);
    return 0;
}

/* chmod that never follows a symlink, without /proc: fchmodat2(AT_SYMLINK_NOFOLLOW). Before
 * Linux 6.6, plain fchmodat: loc was just created by this unpack as a non-symlink. */
static int chmod_nofollow(int dir_fd, const char *name, mode_t mode)
{
    if (syscall(SYS_fchmodat2, dir_fd, name, mode, AT_SYMLINK_NOFOLLOW) == 0)
        return 0;
    if (errno != ENOSYS)
        return -errno;
    return fchmodat(dir_fd, name, mode, 0) < 0 ? -errno : 0;
}

int unpack_meta_at(struct unpack_ctx *ctx, int parent_fd, struct archive_entry *e,
                   const struct unpack_loc *loc)
{
    if (fchownat(parent_fd, loc->name, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e),
                 AT_SYMLINK_NOFOLLOW) < 0)
        return crisp_syserrf(ctx->err, errno, "layer entry \"%s\": chown", loc->disp);
    if (archive_entry_filetype(e) != AE_IFLNK) {
        int r = chmod_nofollow(parent_fd, loc->name, archive_entry_perm(e) & 07777);
        if (r < 0)
            return crisp_syserrf(ctx->err, -r, "layer entry \"%s\": chmod", loc->disp);
    }
    if (archive_entry_xattr_count(e) > 0)
        log_debug(UNPACK_LOG, "layer entry \"%s\": xattrs skipped on a %s", loc->disp,
                  archive_entry_filetype(e) == AE_IFLNK ? "symlink" : "special file");
    struct timespec ts[2];
    entry_times(e, ts);
    if (utimensat(parent_fd, loc->name, ts, AT_SYMLINK_NOFOLLOW) < 0)
        return crisp_syserrf(ctx->err, errno, "layer entry \"%s\": set times", loc->disp);
    return 0;
}

/* Sets one recorded directory's times, unless a later entry replaced it. */
static int dir_times_apply_one(struct unpack_ctx *ctx, const struct unpack_dir_time *dt)
{
    char disp[UNPACK_DISP_MAX + 4];
    unpack_quote(dt->path, disp, sizeof(disp));
    _cleanup_close_ int fd =
        unpack_resolve(ctx->dest_fd, dt->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (fd == -ENOENT || fd == -ENOTDIR || fd == -ELOOP || fd == -EXDEV)
        return 0;
    if (fd < 0)
        return crisp_syserrf(ctx->err, -fd, "directory \"%s\": open to set times", disp);
    struct stat st;
    if (fstat(fd, &st) < 0)
        return crisp_syserrf(ctx->err, errno, "directory \"%s\": stat", disp);
    if (st.st_dev != dt->dev || st.st_ino != dt->ino)
        return 0;
    if (futimens(fd, dt->times) < 0)
        return crisp_syserrf(ctx->err, errno, "directory \"%s\": set times", disp);
    return 0;
}

int unpack_dir_times_apply(struct unpack_ctx *ctx)
{
    for (size_t i = 0; i < ctx->n_dir_times; i++) {
        int r = dir_times_apply_one(ctx, &ctx->dir_times[i]);
        if (r < 0)
            return r;
    }
    return 0;
}

void unpack_dir_times_free(struct unpack_ctx *ctx)
{
    for (size_t i = 0; i < ctx->n_dir_times; i++)
        free(ctx->dir_times[i].path);
    free(ctx->dir_times);
    ctx->dir_times = NULL;
    ctx->n_dir_times = ctx->cap_dir_times = 0;
}
