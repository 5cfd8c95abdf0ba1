/* Entry names: normalising, checking, and resolving beneath dest with openat2, which refuses
 * (EXDEV) any ".." or symlink, absolute or relative, that would lead out of dest. */
#define _GNU_SOURCE
#include "image/unpack_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/cleanup.h"

#define RESOLVE_RETRIES 32 /* openat2 says EAGAIN when a rename raced a ".." lookup */

void unpack_quote(const char *s, char *out, size_t size)
{
    size_t room = size - 4, i = 0;
    for (; s[i] && i < room; i++)
        out[i] = (s[i] > 0 && s[i] < 0x20) || s[i] == 0x7f || s[i] == '"' ? '?' : s[i];
    if (s[i]) {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
}

/* Appends component c (len bytes) to loc->path. */
static void loc_append(struct unpack_loc *loc, size_t *used, const char *c, size_t len)
{
    if (*used > 0)
        loc->path[(*used)++] = '/';
    memcpy(loc->path + *used, c, len);
    *used += len;
    loc->path[*used] = '\0';
}

static void loc_split(struct unpack_loc *loc)
{
    char *slash = strrchr(loc->path, '/');
    if (!slash) {
        strcpy(loc->parent, ".");
        loc->name = loc->path;
        return;
    }
    size_t plen = (size_t)(slash - loc->path);
    memcpy(loc->parent, loc->path, plen);
    loc->parent[plen] = '\0';
    loc->name = slash + 1;
}

int unpack_loc_init(struct unpack_loc *loc, const char *raw, const char *what,
                    struct crisp_err *err)
{
    unpack_quote(raw, loc->disp, sizeof(loc->disp));
    size_t total = strlen(raw), used = 0;
    if (total >= PATH_MAX)
        return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, ENAMETOOLONG,
                            "%s \"%s\": path of %zu bytes is too long (the limit is %d)", what,
                            loc->disp, total, PATH_MAX - 1);
    loc->path[0] = '\0';
    for (const char *p = raw; *p;) {
        size_t len = strcspn(p, "/");
        if (len > NAME_MAX)
            return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, ENAMETOOLONG,
                                "%s \"%s\": path component of %zu bytes is too long (the limit "
                                "is %d)",
                                what, loc->disp, len, NAME_MAX);
        if (len > 0 && !(len == 1 && p[0] == '.'))
            loc_append(loc, &used, p, len);
        p += len + (p[len] == '/');
    }
    loc_split(loc);
    return 0;
}

int unpack_resolve(int dest_fd, const char *path, int flags)
{
    struct open_how how = {
        .flags = (uint64_t)(flags | O_CLOEXEC),
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
    for (int i = 0; i < RESOLVE_RETRIES; i++) {
        long fd = syscall(SYS_openat2, dest_fd, path[0] ? path : ".", &how, sizeof(how));
        if (fd >= 0)
            return (int)fd;
        if (errno != EAGAIN && errno != EINTR)
            return -errno;
    }
    return -EAGAIN;
}

int unpack_resolve_error(struct crisp_err *err, int r, const struct unpack_loc *loc,
                         const char *action)
{
    const char *why = NULL;
    switch (-r) {
    case EXDEV:
        why = "path escapes the layer root";
        break;
    case ELOOP:
        why = "too many levels of symbolic links";
        break;
    case ENOTDIR:
        why = "a parent is not a directory";
        break;
    case ENOENT:
        why = "a parent is a dangling symbolic link";
        break;
    case ENAMETOOLONG:
        why = "path too long once symbolic links are followed";
        break;
    default:
        return crisp_syserrf(err, -r, "layer entry \"%s\": %s", loc->disp, action);
    }
    return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, -r, "layer entry \"%s\": %s",
                        loc->disp, why);
}

/* Creates directory comp in dir_fd (0755 whatever the umask) and returns an fd of it. Called
 * when resolving comp said ENOENT: if comp exists all the same, it is a dangling symlink. */
static int mkdir_implicit(int dir_fd, const char *comp)
{
    if (mkdirat(dir_fd, comp, 0700) < 0)
        return errno == EEXIST ? -ENOENT : -errno;
    int fd = openat(dir_fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (fchmod(fd, 0755) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

/* Resolves parent one prefix at a time, creating each missing directory. */
static int open_parent_slow(struct unpack_ctx *ctx, const char *parent)
{
    char prefix[PATH_MAX];
    _cleanup_close_ int dir = unpack_resolve(ctx->dest_fd, ".", O_PATH | O_DIRECTORY);
    if (dir < 0)
        return dir;
    for (size_t start = 0, end; parent[start]; start = end + (parent[end] == '/')) {
        end = start + strcspn(parent + start, "/");
        memcpy(prefix, parent, end);
        prefix[end] = '\0';
        int next = unpack_resolve(ctx->dest_fd, prefix, O_PATH | O_DIRECTORY);
        if (next == -ENOENT)
            next = mkdir_implicit(dir, prefix + start);
        if (next < 0)
            return next;
        close(dir);
        dir = next;
    }
    return crisp_steal_fd(dir);
}

int unpack_open_parent(struct unpack_ctx *ctx, const struct unpack_loc *loc, int *out)
{
    int fd = unpack_resolve(ctx->dest_fd, loc->parent, O_PATH | O_DIRECTORY);
    if (fd == -ENOENT)
        fd = open_parent_slow(ctx, loc->parent);
    if (fd < 0)
        return unpack_resolve_error(ctx->err, fd, loc, "open parent directory");
    *out = fd;
    return 0;
}
