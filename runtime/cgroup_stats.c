/* OOM kill counts and basic usage statistics. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "runtime/cgroup_internal.h"

int crisp_cgroup_oom_kills(struct crisp_cgroup *cg, uint64_t *count, struct crisp_err *err)
{
    *count = 0;
    const struct crisp_cgroup_dir *d = cg_dir(cg, CRISP_CGROUP_MEMORY);
    if (!d)
        return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, ENOENT,
                            "cgroup %s: no memory controller to count OOM kills", cg->rel);
    const char *file = d->h.unified ? "memory.events" : "memory.oom_control";
    int r = cg_read_keyed(d->path, file, "oom_kill", count, err);
    if (r == -ENOENT && !d->h.unified && cg_file_exists(d->path, file))
        return crisp_errorf(err, GRPC_STATUS_UNIMPLEMENTED, EOPNOTSUPP,
                            "%s/%s has no oom_kill count (kernel older than 4.13)", d->path, file);
    if (r < 0)
        crisp_err_prefix(err, "OOM kills of cgroup %s", cg->rel);
    return r;
}

static int cpu_stats(const struct crisp_cgroup *cg, struct crisp_cgroup_stats *out,
                     struct crisp_err *err)
{
    const struct crisp_cgroup_dir *d = cg_dir(cg, CRISP_CGROUP_CPUACCT);
    if (!d)
        return 0;
    int r;
    if (d->h.unified) {
        r = cg_read_keyed(d->path, "cpu.stat", "usage_usec", &out->cpu_usage_ns, err);
        out->cpu_usage_ns *= 1000;
    } else {
        r = cg_read_u64(d->path, "cpuacct.usage", &out->cpu_usage_ns, err);
    }
    out->has_cpu = r == 0;
    return r;
}

static int memory_stats(const struct crisp_cgroup *cg, struct crisp_cgroup_stats *out,
                        struct crisp_err *err)
{
    const struct crisp_cgroup_dir *d = cg_dir(cg, CRISP_CGROUP_MEMORY);
    if (!d)
        return 0;
    bool v2 = d->h.unified;
    uint64_t inactive = 0;
    int r = cg_read_u64(d->path, v2 ? "memory.current" : "memory.usage_in_bytes",
                        &out->memory_usage, err);
    if (r == 0)
        r = cg_read_keyed(d->path, "memory.stat", v2 ? "inactive_file" : "total_inactive_file",
                          &inactive, err);
    if (r == 0)
        r = cg_read_keyed(d->path, "memory.stat", v2 ? "anon" : "total_rss", &out->memory_rss, err);
    out->memory_working_set = out->memory_usage > inactive ? out->memory_usage - inactive : 0;
    out->has_memory = r == 0;
    return r;
}

static int pids_stats(const struct crisp_cgroup *cg, struct crisp_cgroup_stats *out,
                      struct crisp_err *err)
{
    const struct crisp_cgroup_dir *d = cg_dir(cg, CRISP_CGROUP_PIDS);
    if (!d)
        return 0;
    int r = cg_read_u64(d->path, "pids.current", &out->pids_current, err);
    out->has_pids = r == 0;
    return r;
}

int crisp_cgroup_stats(struct crisp_cgroup *cg, struct crisp_cgroup_stats *out,
                       struct crisp_err *err)
{
    *out = (struct crisp_cgroup_stats){0};
    int r = cpu_stats(cg, out, err);
    if (r == 0)
        r = memory_stats(cg, out, err);
    if (r == 0)
        r = pids_stats(cg, out, err);
    if (r < 0)
        crisp_err_prefix(err, "stats of cgroup %s", cg->rel);
    return r;
}
