#define _GNU_SOURCE
#include "pod/pod_shm.h"

#include <errno.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/mem.h"

int crisp_pod_shm_create(const char *pod_dir, struct crisp_err *err)
{
    _cleanup_free_ char *path = crisp_xasprintf("%s/shm", pod_dir);
    if (mkdir(path, 0700) < 0 && errno != EEXIST)
        return crisp_syserrf(err, errno, "create %s", path);
    char opts[64];
    snprintf(opts, sizeof(opts), "mode=1777,size=%u", CRISP_POD_SHM_SIZE);
    if (mount("shm", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) < 0)
        return crisp_syserrf(err, errno, "mount tmpfs on %s", path);
    return 0;
}

int crisp_pod_shm_remove(const char *pod_dir, struct crisp_err *err)
{
    _cleanup_free_ char *path = crisp_xasprintf("%s/shm", pod_dir);
    int r = 0;
    if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
        r = crisp_syserrf(err, errno, "unmount %s", path);
    if (rmdir(path) < 0 && errno != ENOENT)
        r = crisp_syserrf(err, errno, "remove %s", path);
    return r;
}
