/* Making room for an entry. Tar semantics: a later entry replaces an earlier one of the same
 * name, except that a directory entry over a directory only updates its metadata. What is
 * replaced is never followed: a symlink is removed, not written through. */
#define _GNU_SOURCE
#include "image/unpack_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"

static int remove_tree_at(int dir_fd, const char *name);

static bool is_dot_or_dotdot(const char *name)
{
    return strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
}

/* Removes everything in directory name of dir_fd. */
static int remove_children(int dir_fd, const char *name)
{
    int fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    _cleanup_closedir_ DIR *d = fdopendir(fd);
    if (!d) {
        int e = errno;
        close(fd);
        return -e;
    }
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (!de)
            return -errno;
        if (is_dot_or_dotdot(de->d_name))
            continue;
        int r = remove_tree_at(dirfd(d), de->d_name);
        if (r < 0)
            return r;
    }
}

static int remove_tree_at(int dir_fd, const char *name)
{
    if (unlinkat(dir_fd, name, 0) == 0)
        return 0;
    if (errno != EISDIR)
        return -errno;
    int r = remove_children(dir_fd, name);
    if (r < 0)
        return r;
    return unlinkat(dir_fd, name, AT_REMOVEDIR) < 0 ? -errno : 0;
}

int unpack_slot_clear(struct unpack_ctx *ctx, int parent_fd, const char *name,
                      const struct unpack_loc *loc, bool keep_dir, bool *kept)
{
    if (kept)
        *kept = false;
    struct stat st;
    if (fstatat(parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno == ENOENT)
            return 0;
        return crisp_syserrf(ctx->err, errno, "layer entry \"%s\": stat", loc->disp);
    }
    if (S_ISDIR(st.st_mode) && keep_dir) {
        if (kept)
            *kept = true;
        return 0;
    }
    int r = remove_tree_at(parent_fd, name);
    if (r < 0)
        return crisp_syserrf(ctx->err, -r, "layer entry \"%s\": remove what an earlier entry made",
                             loc->disp);
    return 0;
}
