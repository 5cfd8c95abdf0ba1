/* Applying resources: validate everything, then write. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "runtime/cgroup_internal.h"
#include "util/log.h"

#define CPUSET_MAX        1024
#define MAX_HUGEPAGES     16
#define MAX_UNIFIED       64
#define UNIFIED_VALUE_MAX 4096

static int bad(struct crisp_err *err, const char *what, int64_t v, const char *rule)
{
    return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL, "%s %" PRId64 ": %s", what, v,
                        rule);
}

static int check_cpu(const struct crisp_cgroup_resources *res, struct crisp_err *err)
{
    if (res->has_cpu_period && (res->cpu_period < 1000 || res->cpu_period > 1000000))
        return bad(err, "cpu period", res->cpu_period, "must be 1000..1000000 us");
    if (res->has_cpu_quota && res->cpu_quota < -1)
        return bad(err, "cpu quota", res->cpu_quota, "must be >= 1000 us, or 0 / -1 (no limit)");
    if (res->has_cpu_quota && res->cpu_quota > 0 && res->cpu_quota < 1000)
        return bad(err, "cpu quota", res->cpu_quota, "must be >= 1000 us, or 0 / -1 (no limit)");
    if (res->has_cpu_shares && (res->cpu_shares < 2 || res->cpu_shares > 262144))
        return bad(err, "cpu shares", res->cpu_shares, "must be 2..262144");
    return 0;
}

static int check_cpuset(const char *what, const char *list, struct crisp_err *err)
{
    if (!list || !list[0])
        return 0;
    if (strlen(list) > CPUSET_MAX || strspn(list, "0123456789,-") != strlen(list))
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "%s \"%.64s\": expected a list like \"0-3,8\"", what, list);
    return 0;
}

static int check_memory(const struct crisp_cgroup_resources *res, struct crisp_err *err)
{
    if (res->has_memory_limit && res->memory_limit < -1)
        return bad(err, "memory limit", res->memory_limit, "must be >= 0 (0 / -1: no limit)");
    if (!res->has_memory_swap_limit)
        return 0;
    int64_t swap = res->memory_swap_limit;
    if (swap < -1)
        return bad(err, "memory swap limit", swap, "must be >= 0 (0 / -1: no limit)");
    if (swap > 0 && (!res->has_memory_limit || res->memory_limit <= 0))
        return bad(err, "memory swap limit", swap, "needs a memory limit");
    if (swap > 0 && swap < res->memory_limit)
        return bad(err, "memory swap limit", swap, "memory+swap must be >= the memory limit");
    return 0;
}

static int check_hugepages(const struct crisp_cgroup *cg, const struct crisp_cgroup_resources *res,
                           struct crisp_err *err)
{
    if (res->n_hugepages > MAX_HUGEPAGES)
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, E2BIG,
                            "more than %d hugepage limits", MAX_HUGEPAGES);
    const struct crisp_cgroup_dir *d = cg_dir(cg, CRISP_CGROUP_HUGETLB);
    for (size_t i = 0; i < res->n_hugepages; i++) {
        const char *ps = res->hugepages[i].page_size;
        size_t digits = ps ? strspn(ps, "0123456789") : 0;
        if (!digits || digits > 8 || strlen(ps + digits) != 2 || !strchr("KMG", ps[digits]) ||
            ps[digits + 1] != 'B')
            return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                                "hugepage size \"%.32s\": expected like \"2MB\" or \"1GB\"",
                                ps ? ps : "");
        char file[64];
        if (d &&
            !cg_file_exists(d->path, cg_hugetlb_file(file, sizeof(file), ps, d->h.unified, false)))
            return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, ENOENT,
                                "hugepage size %s is not supported here (no %s/%s)", ps, d->path,
                                file);
    }
    return 0;
}

static int check_unified(const struct crisp_cgroup *cg, const struct crisp_cgroup_resources *res,
                         struct crisp_err *err)
{
    if (res->n_unified == 0)
        return 0;
    if (cg->mode != CRISP_CGROUP_V2)
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "unified cgroup settings need cgroup v2; this host runs cgroup v1");
    if (res->n_unified > MAX_UNIFIED)
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, E2BIG,
                            "more than %d unified cgroup settings", MAX_UNIFIED);
    for (size_t i = 0; i < res->n_unified; i++) {
        int r = cg_v2_check_unified_key(cg->dirs[0].path, res->unified[i].key, err);
        if (r < 0)
            return r;
        const char *v = res->unified[i].value;
        if (!v || strlen(v) > UNIFIED_VALUE_MAX)
            return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                                "unified cgroup key %s: value missing or over %d bytes",
                                res->unified[i].key, UNIFIED_VALUE_MAX);
    }
    return 0;
}

static int need(const struct crisp_cgroup *cg, bool wanted, enum crisp_cgroup_controller c,
                const char *name, struct crisp_err *err)
{
    if (!wanted || cg_dir(cg, c))
        return 0;
    return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, ENOENT,
                        "%s limits requested but no cgroup hierarchy has the %s controller", name,
                        name);
}

static bool wants_cpu(const struct crisp_cgroup_resources *res)
{
    return res->has_cpu_period || res->has_cpu_quota || res->has_cpu_shares;
}

static bool wants_cpuset(const struct crisp_cgroup_resources *res)
{
    return (res->cpuset_cpus && res->cpuset_cpus[0]) || (res->cpuset_mems && res->cpuset_mems[0]);
}

static int check_controllers(const struct crisp_cgroup *cg,
                             const struct crisp_cgroup_resources *res, struct crisp_err *err)
{
    int r = need(cg, wants_cpu(res), CRISP_CGROUP_CPU, "cpu", err);
    if (r == 0)
        r = need(cg, wants_cpuset(res), CRISP_CGROUP_CPUSET, "cpuset", err);
    if (r == 0)
        r = need(cg, res->has_memory_limit || res->has_memory_swap_limit, CRISP_CGROUP_MEMORY,
                 "memory", err);
    if (r == 0)
        r = need(cg, res->has_pids_limit, CRISP_CGROUP_PIDS, "pids", err);
    return r;
}

static int validate(const struct crisp_cgroup *cg, const struct crisp_cgroup_resources *res,
                    struct crisp_err *err)
{
    int r = check_cpu(res, err);
    if (r == 0)
        r = check_cpuset("cpuset cpus", res->cpuset_cpus, err);
    if (r == 0)
        r = check_cpuset("cpuset mems", res->cpuset_mems, err);
    if (r == 0)
        r = check_memory(res, err);
    if (r == 0 && res->has_pids_limit && res->pids_limit < -1)
        r = bad(err, "pids limit", res->pids_limit, "must be >= 0 (0 / -1: no limit)");
    if (r == 0)
        r = check_controllers(cg, res, err);
    if (r == 0)
        r = check_hugepages(cg, res, err);
    if (r == 0)
        r = check_unified(cg, res, err);
    for (size_t i = 0; r == 0 && i < res->n_device_rules; i++)
        r = crisp_device_rule_check(&res->device_rules[i], err);
    return r;
}

static int write_cpuset(const struct crisp_cgroup *cg, const struct crisp_cgroup_resources *res,
                        struct crisp_err *err)
{
    const char *dir = cg_dir(cg, CRISP_CGROUP_CPUSET)->path;
    int r = 0;
    if (res->cpuset_cpus && res->cpuset_cpus[0])
        r = cg_write(dir, "cpuset.cpus", res->cpuset_cpus, err);
    if (r == 0 && res->cpuset_mems && res->cpuset_mems[0])
        r = cg_write(dir, "cpuset.mems", res->cpuset_mems, err);
    return r;
}

static int write_cpu(const struct crisp_cgroup *cg, const struct crisp_cgroup_resources *res,
                     struct crisp_err *err)
{
    const struct crisp_cgroup_dir *d = cg_dir(cg, CRISP_CGROUP_CPU);
    return d->h.unified ? cg_v2_cpu(d->path, res, err) : cg_v1_cpu(d->path, res, err);
}

static int write_memory(const struct crisp_cgroup *cg, const struct crisp_cgroup_resources *res,
                        struct crisp_err *err)
{
    const struct crisp_cgroup_dir *d = cg_dir(cg, CRISP_CGROUP_MEMORY);
    return d->h.unified ? cg_v2_memory(d->path, res, err) : cg_v1_memory(d->path, res, err);
}

static int write_pids(const struct crisp_cgroup *cg, const struct crisp_cgroup_resources *res,
                      struct crisp_err *err)
{
    const char *dir = cg_dir(cg, CRISP_CGROUP_PIDS)->path;
    if (res->pids_limit > 0)
        return cg_writef(dir, "pids.max", err, "%" PRId64, res->pids_limit);
    return cg_write(dir, "pids.max", "max", err);
}

static int write_hugepages(const struct crisp_cgroup *cg, const struct crisp_cgroup_resources *res,
                           struct crisp_err *err)
{
    const struct crisp_cgroup_dir *d = cg_dir(cg, CRISP_CGROUP_HUGETLB);
    if (!d) {
        log_warn(CG_LOG, "cgroup %s: no hugetlb controller, hugepage limits not enforced", cg->rel);
        return 0;
    }
    char file[64];
    for (size_t i = 0; i < res->n_hugepages; i++) {
        const char *ps = res->hugepages[i].page_size;
        for (int rsvd = 0; rsvd < 2; rsvd++) {
            cg_hugetlb_file(file, sizeof(file), ps, d->h.unified, rsvd);
            if (rsvd && !cg_file_exists(d->path, file))
                continue;
            int r = cg_writef(d->path, file, err, "%" PRIu64, res->hugepages[i].limit);
            if (r < 0)
                return r;
        }
    }
    return 0;
}

static int write_unified(const struct crisp_cgroup *cg, const struct crisp_cgroup_resources *res,
                         struct crisp_err *err)
{
    for (size_t i = 0; i < res->n_unified; i++) {
        int r = cg_write(cg->dirs[0].path, res->unified[i].key, res->unified[i].value, err);
        if (r < 0)
            return r;
    }
    return 0;
}

int crisp_cgroup_apply(struct crisp_cgroup *cg, const struct crisp_cgroup_resources *res,
                       struct crisp_err *err)
{
    int r = validate(cg, res, err);
    if (r == 0 && wants_cpuset(res))
        r = write_cpuset(cg, res, err);
    if (r == 0 && wants_cpu(res))
        r = write_cpu(cg, res, err);
    if (r == 0 && (res->has_memory_limit || res->has_memory_swap_limit))
        r = write_memory(cg, res, err);
    if (r == 0 && res->has_pids_limit)
        r = write_pids(cg, res, err);
    if (r == 0 && res->n_hugepages)
        r = write_hugepages(cg, res, err);
    if (r == 0 && res->n_device_rules)
        r = cg_devices_apply(cg, res, err);
    if (r == 0)
        r = write_unified(cg, res, err);
    if (r < 0)
        crisp_err_prefix(err, "cgroup %s", cg->rel);
    return r;
}
