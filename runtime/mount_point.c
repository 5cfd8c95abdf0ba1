#define _GNU_SOURCE
#include "runtime/mount_point.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int mount_id(const char *path, unsigned long long *id, struct crisp_err *err)
{
    struct statx stx;
    if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &stx) < 0)
        return crisp_syserrf(err, errno, "statx %s", path);
    if (!(stx.stx_mask & STATX_MNT_ID))
        return crisp_errorf(err, GRPC_STATUS_INTERNAL, ENOTSUP,
                            "statx %s: the kernel reports no mount id (Linux 5.8 or later needed)",
                            path);
    *id = stx.stx_mnt_id;
    return 0;
}

/* The parent directory of the absolute, resolved path (not "/"). */
static void parent_dir(const char *path, char *out)
{
    strcpy(out, path);
    char *slash = strrchr(out, '/');
    slash[slash == out ? 1 : 0] = '\0';
}

int crisp_rt_mount_point_of(const char *path, char *out, size_t size, struct crisp_err *err)
{
    char real[PATH_MAX], parent[PATH_MAX];
    if (!realpath(path, real))
        return crisp_syserrf(err, errno, "resolve %s", path);
    unsigned long long id, parent_id;
    int r = mount_id(real, &id, err);
    while (r == 0 && strcmp(real, "/") != 0) {
        parent_dir(real, parent);
        r = mount_id(parent, &parent_id, err);
        if (r < 0 || parent_id != id)
            break;
        strcpy(real, parent);
    }
    if (r < 0)
        return r;
    if (strlen(real) >= size)
        return crisp_errorf(err, GRPC_STATUS_INTERNAL, ENAMETOOLONG, "mount point of %s: too long",
                            path);
    strcpy(out, real);
    return 0;
}
