#define _GNU_SOURCE
#include "device_nodes.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "runtime/resolve.h"
#include "util/cleanup.h"

#define HOST_DEV_DEPTH 4

struct crisp_device crisp_device_from_stat(const char *path, const struct stat *st)
{
    return (struct crisp_device){.path = path,
                                 .type = S_ISBLK(st->st_mode) ? 'b' : 'c',
                                 .major = major(st->st_rdev),
                                 .minor = minor(st->st_rdev),
                                 .mode = st->st_mode & 07777,
                                 .uid = st->st_uid,
                                 .gid = st->st_gid};
}

/* Makes one node; dir is its parent inside the root, base its last component. */
static int make_node(int rootfd, const char *dir, const char *base, const struct crisp_device *d,
                     struct crisp_err *err)
{
    _cleanup_close_ int dfd = crisp_rt_mkdir_in_root(rootfd, dir, 0755, 0, err);
    if (dfd < 0)
        return dfd;
    _cleanup_close_ int parent = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (parent < 0)
        return crisp_syserrf(err, errno, "open %s", dir);
    struct stat st;
    if (fstatat(parent, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (S_ISDIR(st.st_mode))
            return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EISDIR,
                                "device %s: a directory is in the way in the container", d->path);
        if (unlinkat(parent, base, 0) < 0)
            return crisp_syserrf(err, errno, "device %s: remove what is there", d->path);
    }
    mode_t old = umask(0); /* the node gets exactly d->mode; this process is single-threaded */
    int rc = mknodat(parent, base, (d->type == 'b' ? S_IFBLK : S_IFCHR) | (d->mode & 07777),
                     makedev(d->major, d->minor));
    int e = errno;
    umask(old);
    if (rc < 0)
        return crisp_syserrf(err, e, "mknod device %s", d->path);
    if (fchownat(parent, base, d->uid, d->gid, AT_SYMLINK_NOFOLLOW) < 0)
        return crisp_syserrf(err, errno, "chown device %s", d->path);
    return 0;
}

static int make_device(int rootfd, const struct crisp_device *d, struct crisp_err *err)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(d->path, '/');
    const char *base = slash ? slash + 1 : "";
    if (d->path[0] != '/' || !*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0 ||
        (d->type != 'c' && d->type != 'b') || strlen(d->path) >= sizeof(dir))
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "device \"%s\" type '%c': expected an absolute file path and c or b",
                            d->path, d->type ? d->type : '?');
    size_t dlen = (size_t)(slash - d->path);
    memcpy(dir, d->path, dlen);
    dir[dlen ? dlen : 1] = '\0';
    if (!dlen)
        dir[0] = '/';
    return make_node(rootfd, dir, base, d, err);
}

static bool skipped_host_dir(const char *path)
{
    return strcmp(path, "/dev/pts") == 0 || strcmp(path, "/dev/shm") == 0 ||
           strcmp(path, "/dev/mqueue") == 0;
}

/* Every char/block device below host_dir (the caller's view of the host's /dev). */
static int copy_host_dir(int rootfd, const char *host_dir, int depth, struct crisp_err *err)
{
    DIR *d = opendir(host_dir);
    if (!d)
        return crisp_syserrf(err, errno, "open the host's %s", host_dir);
    int r = 0;
    struct dirent *e;
    while (r == 0 && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char path[PATH_MAX];
        if (snprintf(path, sizeof(path), "%s/%s", host_dir, e->d_name) >= (int)sizeof(path))
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue; /* gone meanwhile */
        if (S_ISDIR(st.st_mode) && depth > 0 && !skipped_host_dir(path))
            r = copy_host_dir(rootfd, path, depth - 1, err);
        if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
            continue;
        const struct crisp_device dev = crisp_device_from_stat(path, &st);
        r = make_device(rootfd, &dev, err);
    }
    closedir(d);
    return r;
}

int crisp_rt_make_devices(int rootfd, const struct crisp_container_spec *spec,
                          struct crisp_err *err)
{
    int r = spec->host_devices ? copy_host_dir(rootfd, "/dev", HOST_DEV_DEPTH, err) : 0;
    for (size_t i = 0; r == 0 && i < spec->n_devices; i++)
        r = make_device(rootfd, &spec->devices[i], err);
    return r;
}
