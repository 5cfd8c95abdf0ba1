/* Disk usage of a directory tree (the writable layer): allocated bytes and
 * inodes, like `du -s` and `find | wc -l`. */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <sys/stat.h>

#include "stats/stats.h"

#define WALK_FDS 32

/* nftw has no user argument; each walk runs on one thread. */
static __thread uint64_t walk_bytes, walk_inodes;

static int count_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)path, (void)ftw;
    if (type == FTW_NS || type == FTW_DNR)
        return 0; /* vanished or unreadable meanwhile: the container is writing */
    walk_bytes += (uint64_t)st->st_blocks * 512;
    walk_inodes++;
    return 0;
}

int crisp_stats_dir_usage(const char *dir, uint64_t *bytes, uint64_t *inodes, struct crisp_err *err)
{
    walk_bytes = walk_inodes = 0;
    *bytes = *inodes = 0;
    if (nftw(dir, count_entry, WALK_FDS, FTW_PHYS | FTW_MOUNT) < 0) {
        if (errno == ENOENT)
            return 0;
        return crisp_syserrf(err, errno, "disk usage of %s", dir);
    }
    *bytes = walk_bytes;
    *inodes = walk_inodes;
    return 0;
}
