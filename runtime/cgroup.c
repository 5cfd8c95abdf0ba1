/* Container cgroup objects: create, open, procs files, free. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "runtime/cgroup_internal.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/mem.h"

/* The file a process joins the cgroup through by writing "0". In a v1
 * hierarchy "tasks": the kernel moves just the writing thread (the joiners are
 * single-threaded helpers, so their whole process) without the global
 * threadgroup lock, whose write side waits for an RCU grace period (10-30 ms
 * per container); a v2 cgroup can only take whole processes (cgroup.procs). */
static const char *join_file(const struct crisp_cgroup_hierarchy *h)
{
    return h->unified ? "cgroup.procs" : "tasks";
}

static int cg_new(const struct crisp_cgroup_root *root, const char *parent, const char *name,
                  struct crisp_cgroup **out, struct crisp_err *err)
{
    _cleanup_free_ char *rel = NULL;
    int r = cg_path_join(parent, name, &rel, err);
    if (r < 0)
        return r;
    struct crisp_cgroup *cg = crisp_xcalloc(1, sizeof(*cg));
    cg->mode = root->mode;
    cg->rel = crisp_steal_ptr(rel);
    cg->hooks = root->hooks;
    cg->dirs = crisp_xcalloc(root->n_hier, sizeof(*cg->dirs));
    cg->procs = crisp_xcalloc(root->n_hier, sizeof(*cg->procs));
    for (size_t i = 0; i < root->n_hier; i++) {
        struct crisp_cgroup_dir *d = &cg->dirs[cg->n_dirs++];
        d->h = root->hier[i];
        d->h.mount = crisp_xstrdup(root->hier[i].mount);
        d->path = crisp_xasprintf("%s/%s", d->h.mount, cg->rel);
        cg->procs[i] = crisp_xasprintf("%s/%s", d->path, join_file(&d->h));
    }
    *out = cg;
    return 0;
}

static void undo_created(const struct crisp_cgroup *cg, char **made, size_t n)
{
    for (size_t i = n; i-- > 0;) {
        cg_rmdir_hooked(cg, made[i]);
        free(made[i]);
    }
    free(made);
}

int crisp_cgroup_create(const struct crisp_cgroup_root *root, const char *parent, const char *name,
                        struct crisp_cgroup **out, struct crisp_err *err)
{
    struct crisp_cgroup *cg = NULL;
    int r = cg_new(root, parent, name, &cg, err);
    if (r < 0)
        return r;
    char **made = NULL;
    size_t n_made = 0;
    for (size_t i = 0; i < cg->n_dirs && r == 0; i++)
        r = cg_create_dir(cg, &cg->dirs[i], &made, &n_made, err);
    if (r < 0) {
        crisp_err_prefix(err, "create cgroup %s", cg->rel);
        undo_created(cg, made, n_made);
        crisp_cgroup_free(cg);
        return r;
    }
    for (size_t i = 0; i < n_made; i++)
        free(made[i]);
    free(made);
    log_debug(CG_LOG, "created cgroup %s in %zu hierarchies", cg->rel, cg->n_dirs);
    *out = cg;
    return 0;
}

int crisp_cgroup_open(const struct crisp_cgroup_root *root, const char *parent, const char *name,
                      struct crisp_cgroup **out, struct crisp_err *err)
{
    struct crisp_cgroup *cg = NULL;
    int r = cg_new(root, parent, name, &cg, err);
    if (r < 0)
        return r;
    for (size_t i = 0; i < cg->n_dirs; i++) {
        struct stat st;
        if (stat(cg->dirs[i].path, &st) == 0 && S_ISDIR(st.st_mode)) {
            *out = cg;
            return 0;
        }
    }
    r = crisp_errorf(err, GRPC_STATUS_NOT_FOUND, ENOENT, "cgroup %s does not exist (%s)", cg->rel,
                     cg->n_dirs ? cg->dirs[0].path : "no hierarchy");
    crisp_cgroup_free(cg);
    return r;
}

const char *crisp_cgroup_path(const struct crisp_cgroup *cg)
{
    return cg->rel;
}

size_t crisp_cgroup_procs_files(const struct crisp_cgroup *cg, const char ***files)
{
    *files = cg->procs;
    return cg->n_dirs;
}

int crisp_cgroup_add_pid(struct crisp_cgroup *cg, pid_t pid, struct crisp_err *err)
{
    for (size_t i = 0; i < cg->n_dirs; i++) {
        int r = cg_writef(cg->dirs[i].path, "cgroup.procs", err, "%d", (int)pid);
        if (r < 0) {
            crisp_err_prefix(err, "add process %d to cgroup %s", (int)pid, cg->rel);
            return r;
        }
    }
    return 0;
}

struct crisp_cgroup_dir *cg_dir(const struct crisp_cgroup *cg, enum crisp_cgroup_controller c)
{
    for (size_t i = 0; i < cg->n_dirs; i++)
        if (cg->dirs[i].h.controllers & CRISP_CGROUP_BIT(c))
            return &cg->dirs[i];
    return NULL;
}

const struct crisp_cgroup_dir *cg_primary_dir(const struct crisp_cgroup *cg)
{
    const struct crisp_cgroup_dir *d = cg_dir(cg, CRISP_CGROUP_FREEZER);
    return d ? d : cg->n_dirs ? &cg->dirs[0] : NULL;
}

void crisp_cgroup_free(struct crisp_cgroup *cg)
{
    if (!cg)
        return;
    for (size_t i = 0; i < cg->n_dirs; i++) {
        free(cg->dirs[i].path);
        free(cg->dirs[i].h.mount);
        free((char *)cg->procs[i]);
    }
    free(cg->dirs);
    free(cg->procs);
    free(cg->rel);
    free(cg);
}
