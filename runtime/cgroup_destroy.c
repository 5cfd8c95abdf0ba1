/* Removing a container's cgroup (and any cgroups made below it). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "runtime/cgroup_internal.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/mem.h"

#define RMDIR_WAITS    200 /* x 10 ms per destroy: exiting tasks leave within 2 s */
#define RMDIR_WAIT_NS  (10 * 1000 * 1000)
#define MAX_TREE_DEPTH 64

/* One destroy call: the EBUSY waits are shared by all its directories, so a
 * cgroup that stays busy costs 2 s in all, not 2 s per hierarchy. */
struct rm {
    const struct crisp_cgroup *cg;
    int waits_left;
};

void cg_rmdir_hooked(const struct crisp_cgroup *cg, const char *path)
{
    if (cg->hooks.before_rmdir)
        cg->hooks.before_rmdir(path, cg->hooks.ctx);
    if (rmdir(path) < 0 && errno != ENOENT)
        log_warn(CG_LOG, "remove %s: %s", path, strerror(errno));
}

static int rmdir_retry(struct rm *rm, const char *path, struct crisp_err *err)
{
    for (;;) {
        if (rm->cg->hooks.before_rmdir)
            rm->cg->hooks.before_rmdir(path, rm->cg->hooks.ctx);
        if (rmdir(path) == 0 || errno == ENOENT)
            return 0;
        if (errno != EBUSY)
            return crisp_syserrf(err, errno, "remove %s", path);
        if (rm->waits_left-- <= 0)
            return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, EBUSY,
                                "remove %s: still busy after 2 s (processes left in it?)", path);
        nanosleep(&(struct timespec){.tv_nsec = RMDIR_WAIT_NS}, NULL);
    }
}

static bool is_dir_entry(DIR *dir, const struct dirent *e)
{
    if (e->d_type != DT_UNKNOWN)
        return e->d_type == DT_DIR;
    struct stat st;
    return fstatat(dirfd(dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

static int remove_subtree(struct rm *rm, const char *path, int depth, struct crisp_err *err);

static int remove_children(struct rm *rm, const char *path, int depth, struct crisp_err *err)
{
    _cleanup_closedir_ DIR *dir = opendir(path);
    if (!dir)
        return errno == ENOENT ? 0 : crisp_syserrf(err, errno, "open %s", path);
    struct dirent *e;
    while ((errno = 0, e = readdir(dir))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 || !is_dir_entry(dir, e))
            continue;
        _cleanup_free_ char *child = crisp_xasprintf("%s/%s", path, e->d_name);
        int r = remove_subtree(rm, child, depth + 1, err);
        if (r < 0)
            return r;
    }
    return errno ? crisp_syserrf(err, errno, "read %s", path) : 0;
}

static int remove_subtree(struct rm *rm, const char *path, int depth, struct crisp_err *err)
{
    if (depth > MAX_TREE_DEPTH)
        return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, ELOOP,
                            "remove %s: cgroups nested more than %d deep", path, MAX_TREE_DEPTH);
    int r = remove_children(rm, path, depth, err);
    return r < 0 ? r : rmdir_retry(rm, path, err);
}

int crisp_cgroup_destroy(struct crisp_cgroup *cg, struct crisp_err *err)
{
    int first = 0;
    struct crisp_err tmp;
    struct rm rm = {.cg = cg, .waits_left = RMDIR_WAITS};
    for (size_t i = 0; i < cg->n_dirs; i++) {
        int r = remove_subtree(&rm, cg->dirs[i].path, 0, first ? &tmp : err);
        if (r < 0 && !first) {
            first = r;
            crisp_err_prefix(err, "destroy cgroup %s", cg->rel);
        }
    }
    if (first == 0)
        log_debug(CG_LOG, "destroyed cgroup %s", cg->rel);
    return first;
}
