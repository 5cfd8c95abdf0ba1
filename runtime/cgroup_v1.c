/* cgroup v1 resource files whose semantics differ from v2. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "runtime/cgroup_internal.h"
#include "util/cleanup.h"
#include "util/log.h"

/* A v1 cpuset starts with empty cpus/mems and takes no task until set. */
int cg_v1_cpuset_inherit(const char *dir, const char *parent, struct crisp_err *err)
{
    static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};
    for (size_t i = 0; i < 2; i++) {
        _cleanup_free_ char *own = NULL, *from = NULL;
        int r = cg_read(dir, files[i], &own, err);
        if (r == 0 && own[0] == '\0')
            r = cg_read(parent, files[i], &from, err);
        if (r == 0 && from && from[0])
            r = cg_write(dir, files[i], from, err);
        if (r < 0)
            return r;
    }
    return 0;
}

/* runc's order: the period first; when the kernel refuses it against the old
 * quota, the quota first and the period again. */
static int cpu_bandwidth(const char *dir, const struct crisp_cgroup_resources *res,
                         struct crisp_err *err)
{
    int64_t quota = res->cpu_quota > 0 ? res->cpu_quota : -1;
    int r = 0;
    if (res->has_cpu_period)
        r = cg_writef(dir, "cpu.cfs_period_us", err, "%" PRId64, res->cpu_period);
    if (r < 0 && (r != -EINVAL || !res->has_cpu_quota))
        return r;
    bool period_again = r < 0;
    if (res->has_cpu_quota)
        r = cg_writef(dir, "cpu.cfs_quota_us", err, "%" PRId64, quota);
    if (r == 0 && period_again)
        r = cg_writef(dir, "cpu.cfs_period_us", err, "%" PRId64, res->cpu_period);
    return r;
}

int cg_v1_cpu(const char *dir, const struct crisp_cgroup_resources *res, struct crisp_err *err)
{
    int r = 0;
    if (res->has_cpu_shares)
        r = cg_writef(dir, "cpu.shares", err, "%" PRId64, res->cpu_shares);
    if (r == 0 && (res->has_cpu_period || res->has_cpu_quota))
        r = cpu_bandwidth(dir, res, err);
    return r;
}

static int memory_limit(const char *dir, int64_t limit, struct crisp_err *err)
{
    int r = cg_writef(dir, "memory.limit_in_bytes", err, "%" PRId64, limit);
    if (r != -EBUSY)
        return r;
    uint64_t usage = 0;
    struct crisp_err ignored;
    cg_read_u64(dir, "memory.usage_in_bytes", &usage, &ignored);
    return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, EBUSY,
                        "memory limit %" PRId64 " is below the cgroup's current usage %" PRIu64
                        " and the kernel could not reclaim enough (EBUSY from "
                        "%s/memory.limit_in_bytes)",
                        limit, usage, dir);
}

static int swap_limit(const char *dir, int64_t limit, struct crisp_err *err)
{
    int r = cg_writef(dir, "memory.memsw.limit_in_bytes", err, "%" PRId64, limit);
    if (r == -EBUSY)
        return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, EBUSY,
                            "memory+swap limit %" PRId64 " is below the cgroup's current "
                            "usage (EBUSY from %s/memory.memsw.limit_in_bytes)",
                            limit, dir);
    return r;
}

/* Whether the swap limit can be written; false when swap accounting is off
 * and the value asks for no limit on swap use anyway. */
static int swap_wanted(const char *dir, const struct crisp_cgroup_resources *res, int64_t mem,
                       int64_t swap, bool *wanted, struct crisp_err *err)
{
    *wanted = res->has_memory_swap_limit;
    if (!*wanted || cg_file_exists(dir, "memory.memsw.limit_in_bytes"))
        return 0;
    *wanted = false;
    if (swap == -1 || (res->has_memory_limit && swap == mem))
        return 0;
    return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, ENOENT,
                        "memory swap limit %" PRId64 ": swap accounting is off (no "
                        "%s/memory.memsw.limit_in_bytes; boot with swapaccount=1)",
                        swap, dir);
}

/* memory <= memory+swap must hold after each write: when the new memory limit
 * exceeds the current memory+swap limit, the swap limit goes first. */
int cg_v1_memory(const char *dir, const struct crisp_cgroup_resources *res, struct crisp_err *err)
{
    int64_t mem = res->memory_limit > 0 ? res->memory_limit : -1;
    int64_t swap = res->memory_swap_limit > 0 ? res->memory_swap_limit : -1;
    bool with_swap;
    int r = swap_wanted(dir, res, mem, swap, &with_swap, err);
    if (r < 0)
        return r;
    if (!res->has_memory_limit)
        return with_swap ? swap_limit(dir, swap, err) : 0;
    bool swap_first = false;
    if (with_swap) {
        uint64_t cur_swap;
        r = cg_read_u64(dir, "memory.memsw.limit_in_bytes", &cur_swap, err);
        if (r < 0)
            return r;
        swap_first = mem == -1 || (uint64_t)mem > cur_swap;
    }
    if (swap_first)
        r = swap_limit(dir, swap, err);
    if (r == 0)
        r = memory_limit(dir, mem, err);
    if (r == 0 && with_swap && !swap_first)
        r = swap_limit(dir, swap, err);
    return r;
}
