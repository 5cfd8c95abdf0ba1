/* cgroup v2 (unified) resource files and controller enabling. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "runtime/cgroup_internal.h"
#include "util/cleanup.h"
#include "util/log.h"

static const char *const v2_names[CRISP_CGROUP_N_CONTROLLERS] = {
    [CRISP_CGROUP_CPU] = "cpu",         [CRISP_CGROUP_CPUSET] = "cpuset",
    [CRISP_CGROUP_MEMORY] = "memory",   [CRISP_CGROUP_PIDS] = "pids",
    [CRISP_CGROUP_HUGETLB] = "hugetlb", [CRISP_CGROUP_BLKIO] = "io",
};

int cg_v2_controller_parse(const char *name, size_t len)
{
    for (int c = 0; c < CRISP_CGROUP_N_CONTROLLERS; c++)
        if (v2_names[c] && strlen(v2_names[c]) == len && strncmp(name, v2_names[c], len) == 0)
            return c;
    return -1;
}

uint64_t cg_v2_shares_to_weight(int64_t shares)
{
    return 1 + ((uint64_t)(shares - 2) * 9999) / 262142;
}

const char *cg_hugetlb_file(char *buf, size_t size, const char *ps, bool unified, bool rsvd)
{
    return cg_name(buf, size, "hugetlb.%s.%s%s", ps, rsvd ? "rsvd." : "",
                   unified ? "max" : "limit_in_bytes");
}

/* Writes "+a +b ..." at once; when the kernel refuses, one at a time,
 * skipping (with a warning) the ones it refuses. */
static int enable_each(const char *dir, const char *list, struct crisp_err *err)
{
    struct crisp_err one;
    if (cg_write(dir, "cgroup.subtree_control", list, &one) == 0)
        return 0;
    char buf[32];
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, " ");
        snprintf(buf, sizeof(buf), "%.*s", (int)len, p);
        int r = cg_write(dir, "cgroup.subtree_control", buf, &one);
        if (r < 0 && r != -EINVAL && r != -EBUSY && r != -ENOENT && r != -EOPNOTSUPP)
            return crisp_errorf(err, one.code, -r, "%s", one.msg);
        if (r < 0)
            log_warn(CG_LOG, "cannot enable controller %s: %s", buf + 1, one.msg);
        p += len + (p[len] == ' ');
    }
    return 0;
}

int cg_v2_enable_controllers(const char *dir, unsigned wanted, struct crisp_err *err)
{
    int r;
    unsigned avail = cg_root_v2_bits(dir, err, &r) & wanted;
    if (r < 0)
        return r;
    char list[128] = "";
    for (int c = 0; c < CRISP_CGROUP_N_CONTROLLERS; c++)
        if ((avail & CRISP_CGROUP_BIT(c)) && v2_names[c])
            snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s+%s", list[0] ? " " : "",
                     v2_names[c]);
    return list[0] ? enable_each(dir, list, err) : 0;
}

static int cpu_max(const char *dir, const struct crisp_cgroup_resources *res, struct crisp_err *err)
{
    char quota[32] = "max";
    if (res->has_cpu_quota && res->cpu_quota > 0)
        snprintf(quota, sizeof(quota), "%" PRId64, res->cpu_quota);
    if (!res->has_cpu_period)
        return cg_write(dir, "cpu.max", quota, err);
    _cleanup_free_ char *cur = NULL;
    if (!res->has_cpu_quota) {
        /* A period alone keeps the current quota. */
        int r = cg_read(dir, "cpu.max", &cur, err);
        if (r < 0)
            return r;
        snprintf(quota, sizeof(quota), "%.*s", (int)strcspn(cur, " "), cur);
    }
    return cg_writef(dir, "cpu.max", err, "%s %" PRId64, quota, res->cpu_period);
}

int cg_v2_cpu(const char *dir, const struct crisp_cgroup_resources *res, struct crisp_err *err)
{
    int r = 0;
    if (res->has_cpu_shares)
        r = cg_writef(dir, "cpu.weight", err, "%" PRIu64, cg_v2_shares_to_weight(res->cpu_shares));
    if (r == 0 && (res->has_cpu_period || res->has_cpu_quota))
        r = cpu_max(dir, res, err);
    return r;
}

/* runc: memory.swap.max = (memory + swap) - memory. Without swap support
 * (no memory.swap.max) "max" and 0 mean nothing to limit. */
static int swap_max(const char *dir, const struct crisp_cgroup_resources *res,
                    struct crisp_err *err)
{
    char value[32] = "max";
    if (res->memory_swap_limit > 0)
        snprintf(value, sizeof(value), "%" PRId64, res->memory_swap_limit - res->memory_limit);
    if (cg_file_exists(dir, "memory.swap.max"))
        return cg_write(dir, "memory.swap.max", value, err);
    if (strcmp(value, "max") == 0 || strcmp(value, "0") == 0)
        return 0;
    return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, ENOENT,
                        "memory swap limit: %s/memory.swap.max does not exist (no swap "
                        "support in this kernel or cgroup)",
                        dir);
}

/* v2 memory.max below usage does not fail: the kernel reclaims, then OOM-kills. A limit below
 * what the cgroup cannot give back (usage minus inactive file pages, the working set) is refused
 * instead, as v1 refuses it, before anything is written. */
static int check_working_set(const char *dir, int64_t limit, struct crisp_err *err)
{
    uint64_t current = 0, inactive = 0;
    struct crisp_err ignored;
    if (cg_read_u64(dir, "memory.current", &current, &ignored) < 0)
        return 0; /* nothing to compare with */
    cg_read_keyed(dir, "memory.stat", "inactive_file", &inactive, &ignored);
    uint64_t working_set = current > inactive ? current - inactive : 0;
    if ((uint64_t)limit >= working_set)
        return 0;
    return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, EBUSY,
                        "memory limit %" PRId64 " is below the cgroup's current usage %" PRIu64
                        " (working set %" PRIu64 ", %s/memory.current)",
                        limit, current, working_set, dir);
}

int cg_v2_memory(const char *dir, const struct crisp_cgroup_resources *res, struct crisp_err *err)
{
    int r = 0;
    if (res->has_memory_limit && res->memory_limit > 0)
        r = check_working_set(dir, res->memory_limit, err);
    if (r == 0 && res->has_memory_limit) {
        if (res->memory_limit > 0)
            r = cg_writef(dir, "memory.max", err, "%" PRId64, res->memory_limit);
        else
            r = cg_write(dir, "memory.max", "max", err);
    }
    if (r == 0 && res->has_memory_swap_limit)
        r = swap_max(dir, res, err);
    return r;
}

/* Interface files that are not resources: moving, killing, freezing tasks
 * and the tree's shape belong to crisp itself. */
static const char *const unified_denied[] = {
    "cgroup.procs",           "cgroup.threads", "cgroup.kill",
    "cgroup.subtree_control", "cgroup.type",    "cgroup.freeze",
};

int cg_v2_check_unified_key(const char *dir, const char *key, struct crisp_err *err)
{
    if (!key || !key[0] || strchr(key, '/') || strcmp(key, ".") == 0 || strcmp(key, "..") == 0)
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "unified cgroup key \"%s\" is not a file name", key ? key : "");
    for (size_t i = 0; i < sizeof(unified_denied) / sizeof(unified_denied[0]); i++)
        if (strcmp(key, unified_denied[i]) == 0)
            return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EPERM,
                                "unified cgroup key \"%s\" is not a resource and may not be "
                                "set",
                                key);
    if (!cg_file_exists(dir, key))
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, ENOENT,
                            "unified cgroup key \"%s\": no such file in %s (unknown key or "
                            "controller not enabled)",
                            key, dir);
    return 0;
}
