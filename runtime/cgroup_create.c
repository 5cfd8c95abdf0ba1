/* Creating a container's directory, and its ancestors, in one hierarchy. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "runtime/cgroup_internal.h"
#include "util/cleanup.h"
#include "util/mem.h"

static int make_one(const struct crisp_cgroup *cg, const struct crisp_cgroup_dir *d,
                    const char *path, char ***made, size_t *n_made, struct crisp_err *err)
{
    if (mkdir(path, 0755) == 0) {
        *made = crisp_xrealloc(*made, (*n_made + 1) * sizeof(**made));
        (*made)[(*n_made)++] = crisp_xstrdup(path);
        if (cg->hooks.after_mkdir)
            cg->hooks.after_mkdir(path, &d->h, cg->hooks.ctx);
        return 0;
    }
    if (errno != EEXIST)
        return crisp_errorf(err, cg_errno_code(errno), errno, "mkdir %s: %s", path,
                            strerror(errno));
    struct stat st;
    if (lstat(path, &st) < 0)
        return crisp_syserrf(err, errno, "stat %s", path);
    if (!S_ISDIR(st.st_mode))
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, ENOTDIR,
                            "%s exists and is not a cgroup directory", path);
    return 0;
}

/* One level: enable the controllers in the parent (cgroup2), make the
 * directory, give it cpuset values (v1). */
static int make_level(const struct crisp_cgroup *cg, const struct crisp_cgroup_dir *d,
                      const char *parent, const char *path, char ***made, size_t *n_made,
                      struct crisp_err *err)
{
    int r = 0;
    if (d->h.unified)
        r = cg_v2_enable_controllers(parent, d->h.controllers, err);
    if (r == 0)
        r = make_one(cg, d, path, made, n_made, err);
    if (r == 0 && !d->h.unified && (d->h.controllers & CRISP_CGROUP_BIT(CRISP_CGROUP_CPUSET)))
        r = cg_v1_cpuset_inherit(path, parent, err);
    return r;
}

int cg_create_dir(const struct crisp_cgroup *cg, const struct crisp_cgroup_dir *d, char ***made,
                  size_t *n_made, struct crisp_err *err)
{
    _cleanup_free_ char *parent = crisp_xstrdup(d->h.mount);
    for (const char *p = cg->rel;;) {
        size_t len = strcspn(p, "/");
        _cleanup_free_ char *path = crisp_xasprintf("%s/%.*s", parent, (int)len, p);
        int r = make_level(cg, d, parent, path, made, n_made, err);
        if (r < 0)
            return r;
        free(parent);
        parent = crisp_steal_ptr(path);
        if (p[len] == '\0')
            return 0;
        p += len + 1;
    }
}
