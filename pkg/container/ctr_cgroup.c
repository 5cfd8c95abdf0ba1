#define _GNU_SOURCE
#include "container/ctr_cgroup.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "container/ctr_scope.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/mem.h"

#define DEFAULT_PARENT "crisp"

void crisp_ctr_cgroup_map_resources(const Runtime__V1__LinuxContainerResources *in,
                                    struct crisp_cgroup_resources *out)
{
    memset(out, 0, sizeof(*out));
    if (!in)
        return;
    out->has_cpu_period = in->cpu_period > 0;
    out->cpu_period = in->cpu_period;
    out->has_cpu_quota = in->cpu_quota != 0;
    out->cpu_quota = in->cpu_quota;
    out->has_cpu_shares = in->cpu_shares > 0;
    out->cpu_shares = in->cpu_shares;
    out->has_memory_limit = in->memory_limit_in_bytes > 0;
    out->memory_limit = in->memory_limit_in_bytes;
    out->has_memory_swap_limit = in->memory_swap_limit_in_bytes > 0 && out->has_memory_limit;
    out->memory_swap_limit = in->memory_swap_limit_in_bytes;
    out->cpuset_cpus = in->cpuset_cpus;
    out->cpuset_mems = in->cpuset_mems;
    out->hugepages = crisp_xcalloc(in->n_hugepage_limits + 1, sizeof(*out->hugepages));
    for (size_t i = 0; i < in->n_hugepage_limits; i++)
        out->hugepages[out->n_hugepages++] = (struct crisp_cgroup_hugepage){
            .page_size = in->hugepage_limits[i]->page_size, .limit = in->hugepage_limits[i]->limit};
    out->unified = crisp_xcalloc(in->n_unified + 1, sizeof(*out->unified));
    for (size_t i = 0; i < in->n_unified; i++)
        out->unified[out->n_unified++] = (struct crisp_cgroup_unified){
            .key = in->unified[i]->key, .value = in->unified[i]->value};
}

/* spec: the device rules to apply with the limits (at creation), or NULL. */
static int apply_mapped(struct crisp_cgroup *cg, const Runtime__V1__LinuxContainerResources *res,
                        const struct crisp_monitor_spec *spec, struct crisp_err *err)
{
    struct crisp_cgroup_resources limits;
    crisp_ctr_cgroup_map_resources(res, &limits);
    if (spec) {
        limits.device_rules = spec->device_rules;
        limits.n_device_rules = spec->n_device_rules;
    }
    int r = crisp_cgroup_apply(cg, &limits, err);
    free(limits.hugepages);
    free(limits.unified);
    return r;
}

static void set_oom_file(const struct crisp_cgroup_root *root, const char *path,
                         struct crisp_monitor_spec *spec)
{
    const struct crisp_cgroup_hierarchy *h = crisp_cgroup_root_find(root, CRISP_CGROUP_MEMORY);
    if (!h)
        return;
    spec->oom_file = crisp_xasprintf("%s/%s/%s", h->mount, path,
                                     h->unified ? "memory.events" : "memory.oom_control");
    spec->oom_key = crisp_xstrdup("oom_kill");
}

int crisp_ctr_cgroup_setup(const struct crisp_cgroup_root *root, const char *parent, const char *id,
                           const Runtime__V1__LinuxContainerResources *res,
                           struct crisp_monitor_spec *spec, char **path, struct crisp_err *err)
{
    struct crisp_cgroup *cg = NULL;
    int r = crisp_cgroup_create(root, *parent ? parent : DEFAULT_PARENT, id, &cg, err);
    if (r < 0)
        return r;
    return crisp_ctr_cgroup_fill(root, cg, res, spec, path, err);
}

int crisp_ctr_cgroup_fill(const struct crisp_cgroup_root *root, struct crisp_cgroup *cg,
                          const Runtime__V1__LinuxContainerResources *res,
                          struct crisp_monitor_spec *spec, char **path, struct crisp_err *err)
{
    int r = apply_mapped(cg, res, spec, err);
    if (r == 0) {
        const char **files = NULL;
        size_t n = crisp_cgroup_procs_files(cg, &files);
        spec->cgroup_procs_files = crisp_xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++)
            spec->cgroup_procs_files[i] = crisp_xstrdup(files[i]);
        spec->n_cgroup_procs_files = n;
        *path = crisp_xstrdup(crisp_cgroup_path(cg));
        set_oom_file(root, *path, spec);
    } else {
        struct crisp_err ignored;
        crisp_cgroup_destroy(cg, &ignored);
    }
    crisp_cgroup_free(cg);
    return r;
}

/* Opens "<parent>/<name>" from a stored path; 0 with *cg NULL when it is gone. */
static int open_path(const struct crisp_cgroup_root *root, const char *path,
                     struct crisp_cgroup **cg, struct crisp_err *err)
{
    *cg = NULL;
    if (!root || !path || !*path)
        return 0;
    _cleanup_free_ char *copy = crisp_xstrdup(path);
    char *slash = strrchr(copy, '/');
    const char *name = slash ? slash + 1 : copy;
    if (slash)
        *slash = '\0';
    int r = crisp_cgroup_open(root, slash ? copy : "", name, cg, err);
    if (r == -ENOENT) {
        crisp_err_clear(err);
        return 0;
    }
    return r;
}

int crisp_ctr_cgroup_update(const struct crisp_cgroup_root *root, const char *path,
                            const Runtime__V1__LinuxContainerResources *res, struct crisp_err *err)
{
    struct crisp_cgroup *cg;
    int r = open_path(root, path, &cg, err);
    if (r < 0)
        return r;
    if (!cg)
        return crisp_errorf(err, GRPC_STATUS_NOT_FOUND, ENOENT,
                            "cgroup %s: not found in any hierarchy", path ? path : "(none)");
    r = apply_mapped(cg, res, NULL, err);
    crisp_cgroup_free(cg);
    return r;
}

int crisp_ctr_cgroup_kill_leftovers(const struct crisp_cgroup_root *root, const char *path,
                                    struct crisp_err *err)
{
    struct crisp_cgroup *cg;
    int r = open_path(root, path, &cg, err);
    if (r < 0 || !cg)
        return r;
    pid_t *pids = NULL;
    size_t n = 0;
    r = crisp_cgroup_pids(cg, &pids, &n, err);
    if (r == 0 && n > 0)
        r = crisp_cgroup_kill_all(cg, SIGKILL, err);
    free(pids);
    crisp_cgroup_free(cg);
    return r;
}

int crisp_ctr_cgroup_remove(const struct crisp_cgroup_root *root, const char *path,
                            struct crisp_err *err)
{
    struct crisp_cgroup *cg;
    int r = open_path(root, path, &cg, err);
    if (r < 0 || !cg)
        return r;
    struct crisp_err ignored;
    crisp_cgroup_kill_all(cg, SIGKILL, &ignored);
    if (crisp_ctr_scope_stop(path, &ignored) < 0)
        log_warn("container", "%s", ignored.msg);
    r = crisp_cgroup_destroy(cg, err);
    crisp_cgroup_free(cg);
    return r;
}
