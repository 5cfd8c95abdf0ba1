#define _GNU_SOURCE
#include "resolve.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/cleanup.h"

/* Dangling symlinks followed while creating a path (the kernel's own limit is 40). */
#define MAX_REWRITES 40

const char *crisp_rt_fd_path(int fd, char *buf, size_t size)
{
    snprintf(buf, size, "/proc/self/fd/%d", fd);
    return buf;
}

int crisp_rt_open_in_root(int rootfd, const char *path, int oflags, uint64_t resolve)
{
    struct open_how how = {
        .flags = (uint64_t)(oflags | O_CLOEXEC),
        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | resolve,
    };
    const char *rel = path;
    while (*rel == '/')
        rel++;
    if (*rel == '\0')
        rel = ".";
    /* EAGAIN: a rename or mount raced with the lookup; the kernel asks for a retry. */
    for (int attempt = 0; attempt < 16; attempt++) {
        long fd = syscall(SYS_openat2, rootfd, rel, &how, sizeof(how));
        if (fd >= 0)
            return (int)fd;
        if (errno != EAGAIN && errno != EINTR)
            return -errno;
    }
    return -EAGAIN;
}

/* Copies the next component of *p (skipping slashes) into comp; 0 at the end of the path. */
static int next_component(const char **p, char *comp, size_t size)
{
    const char *s = *p;
    while (*s == '/')
        s++;
    size_t len = strcspn(s, "/");
    if (len == 0)
        return 0;
    if (len >= size)
        return -ENAMETOOLONG;
    memcpy(comp, s, len);
    comp[len] = '\0';
    *p = s + len;
    return 1;
}

/* comp in parent exists but does not resolve: a dangling symlink. Writes into out the path to
 * retry with: its target (a relative one taken from dir, the symlink's directory) + rest. */
static int follow_dangling(int parent, const char *dir, const char *comp, const char *rest,
                           char *out, size_t size)
{
    char target[PATH_MAX];
    ssize_t n = readlinkat(parent, comp, target, sizeof(target) - 1);
    if (n < 0)
        return errno == EINVAL ? -ENOENT : -errno;
    target[n] = '\0';
    int len = target[0] == '/' ? snprintf(out, size, "%s%s", target, rest)
                               : snprintf(out, size, "%s/%s%s", dir, target, rest);
    return len < 0 || (size_t)len >= size ? -ENAMETOOLONG : 0;
}

struct walk {
    char prefix[PATH_MAX]; /* resolved so far, textually */
    size_t len;
    char retry[PATH_MAX]; /* set when a dangling symlink must be followed */
    bool rewritten;
};

/* Resolves prefix + "/" + comp, making comp in parent when missing. */
static int step(int rootfd, int parent, struct walk *w, const char *comp, const char *rest,
                mode_t mode, uint64_t resolve)
{
    size_t clen = strlen(comp), dir_len = w->len;
    if (w->len + 1 + clen >= sizeof(w->prefix))
        return -ENAMETOOLONG;
    w->prefix[w->len++] = '/';
    memcpy(w->prefix + w->len, comp, clen + 1);
    w->len += clen;
    int fd = crisp_rt_open_in_root(rootfd, w->prefix, O_PATH | O_DIRECTORY, resolve);
    if (fd != -ENOENT)
        return fd;
    if (mkdirat(parent, comp, mode) == 0)
        return crisp_rt_open_in_root(rootfd, w->prefix, O_PATH | O_DIRECTORY, resolve);
    if (errno != EEXIST)
        return -errno;
    fd = crisp_rt_open_in_root(rootfd, w->prefix, O_PATH | O_DIRECTORY, resolve);
    if (fd != -ENOENT)
        return fd;
    w->prefix[dir_len] = '\0';
    int r = follow_dangling(parent, w->prefix, comp, rest, w->retry, sizeof(w->retry));
    if (r == 0)
        w->rewritten = true;
    return r < 0 ? r : -EAGAIN;
}

/* One mkdir -p pass over path; -EAGAIN with w->rewritten when it must start again. */
static int walk_mkdir(int rootfd, const char *path, mode_t mode, uint64_t resolve, struct walk *w)
{
    char comp[NAME_MAX + 1];
    w->len = 0;
    w->prefix[0] = '\0';
    w->rewritten = false;
    int parent = crisp_rt_open_in_root(rootfd, "/", O_PATH | O_DIRECTORY, resolve);
    const char *p = path;
    int r;
    while (parent >= 0 && (r = next_component(&p, comp, sizeof(comp))) != 0) {
        int fd = r < 0 ? r : step(rootfd, parent, w, comp, p, mode, resolve);
        close(parent);
        parent = fd;
    }
    return parent;
}

int crisp_rt_mkdir_in_root(int rootfd, const char *path, mode_t mode, uint64_t resolve,
                           struct crisp_err *err)
{
    struct walk w;
    char current[PATH_MAX];
    snprintf(current, sizeof(current), "%s", path);
    for (int i = 0; i <= MAX_REWRITES; i++) {
        int fd = walk_mkdir(rootfd, current, mode, resolve, &w);
        if (fd >= 0)
            return fd;
        if (!w.rewritten)
            return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, -fd,
                                "make directory %s in the container: %s", path, strerror(-fd));
        memcpy(current, w.retry, sizeof(current));
    }
    return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, ELOOP,
                        "make directory %s in the container: too many symlinks", path);
}

/* Splits path into its parent and last component; -EINVAL when there is no file name. */
static int split_path(const char *path, char *parent, size_t psize, char *base, size_t bsize)
{
    size_t len = strlen(path);
    while (len > 0 && path[len - 1] == '/')
        len--;
    size_t start = len;
    while (start > 0 && path[start - 1] != '/')
        start--;
    size_t blen = len - start;
    if (blen == 0 || blen >= bsize || start >= psize)
        return -EINVAL;
    memcpy(base, path + start, blen);
    base[blen] = '\0';
    if (strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
        return -EINVAL;
    memcpy(parent, path, start);
    parent[start] = '\0';
    return 0;
}

/* Creates the file at path (its parents too); when its name is a dangling symlink, writes the
 * path to retry with into retry and returns -EAGAIN. */
static int make_file(int rootfd, const char *path, uint64_t resolve, char *retry, size_t size,
                     struct crisp_err *err)
{
    char dir[PATH_MAX], base[NAME_MAX + 1];
    if (split_path(path, dir, sizeof(dir), base, sizeof(base)) < 0)
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "mount destination %s: not a file name", path);
    _cleanup_close_ int parent = crisp_rt_mkdir_in_root(rootfd, dir, 0755, resolve, err);
    if (parent < 0)
        return parent;
    int fd =
        openat(parent, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0644);
    if (fd >= 0) {
        close(fd);
        return 0;
    }
    if (errno != EEXIST)
        return crisp_syserrf(err, errno, "create %s in the container", path);
    int r = follow_dangling(parent, dir, base, "", retry, size);
    if (r < 0)
        return crisp_syserrf(err, -r, "create %s in the container", path);
    return -EAGAIN;
}

int crisp_rt_mkpath_in_root(int rootfd, const char *path, bool dir, uint64_t resolve,
                            struct crisp_err *err)
{
    if (dir)
        return crisp_rt_mkdir_in_root(rootfd, path, 0755, resolve, err);
    char current[PATH_MAX], retry[PATH_MAX];
    snprintf(current, sizeof(current), "%s", path);
    for (int i = 0; i <= MAX_REWRITES; i++) {
        int fd = crisp_rt_open_in_root(rootfd, current, O_PATH, resolve);
        if (fd >= 0)
            return fd;
        if (fd != -ENOENT)
            return crisp_syserrf(err, -fd, "resolve %s in the container", path);
        int r = make_file(rootfd, current, resolve, retry, sizeof(retry), err);
        if (r == -EAGAIN)
            memcpy(current, retry, sizeof(current));
        else if (r < 0)
            return r;
    }
    return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, ELOOP,
                        "create %s in the container: too many symlinks", path);
}
