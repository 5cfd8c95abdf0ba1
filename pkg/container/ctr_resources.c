#define _GNU_SOURCE
#include "container/ctr_resources.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define CPUSET_MAX        1024
#define MAX_HUGEPAGES     16
#define MAX_UNIFIED       64
#define UNIFIED_VALUE_MAX 4096

struct ctx {
    const char *method, *field;
    struct crisp_err *err;
};

static int bad_int(const struct ctx *x, const char *name, int64_t v, const char *expected)
{
    return crisp_errorf(x->err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                        "%s: %s.%s %" PRId64 ": expected %s", x->method, x->field, name, v,
                        expected);
}

static int bad_str(const struct ctx *x, const char *name, const char *v, const char *expected)
{
    return crisp_errorf(x->err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                        "%s: %s.%s \"%.64s\": expected %s", x->method, x->field, name, v, expected);
}

static int check_cpu(const struct ctx *x, const Runtime__V1__LinuxContainerResources *r)
{
    if (r->cpu_period != 0 && (r->cpu_period < 1000 || r->cpu_period > 1000000))
        return bad_int(x, "cpu_period", r->cpu_period, "0 (unset) or 1000..1000000 (us)");
    if (r->cpu_quota < -1 || (r->cpu_quota > 0 && r->cpu_quota < 1000))
        return bad_int(x, "cpu_quota", r->cpu_quota,
                       "0 (unset), -1 (no limit) or at least 1000 (us)");
    if (r->cpu_shares != 0 && (r->cpu_shares < 2 || r->cpu_shares > 262144))
        return bad_int(x, "cpu_shares", r->cpu_shares, "0 (unset) or 2..262144");
    return 0;
}

static int check_memory(const struct ctx *x, const Runtime__V1__LinuxContainerResources *r)
{
    if (r->memory_limit_in_bytes < 0)
        return bad_int(x, "memory_limit_in_bytes", r->memory_limit_in_bytes,
                       "0 (no limit) or a positive number of bytes");
    int64_t swap = r->memory_swap_limit_in_bytes;
    if (swap < -1)
        return bad_int(x, "memory_swap_limit_in_bytes", swap,
                       "0 (unset), -1 (no limit) or bytes of memory+swap");
    if (swap > 0 && swap < r->memory_limit_in_bytes)
        return bad_int(x, "memory_swap_limit_in_bytes", swap,
                       "memory+swap: at least memory_limit_in_bytes");
    if (r->oom_score_adj < -1000 || r->oom_score_adj > 1000)
        return bad_int(x, "oom_score_adj", r->oom_score_adj, "-1000..1000");
    return 0;
}

static int check_cpuset(const struct ctx *x, const char *name, const char *list)
{
    size_t len = list ? strlen(list) : 0;
    if (len > CPUSET_MAX || strspn(list ? list : "", "0123456789,-") != len)
        return bad_str(x, name, list, "a list like \"0-3,8\"");
    return 0;
}

static int check_hugepages(const struct ctx *x, const Runtime__V1__LinuxContainerResources *r)
{
    if (r->n_hugepage_limits > MAX_HUGEPAGES)
        return bad_int(x, "hugepage_limits", (int64_t)r->n_hugepage_limits, "at most 16 entries");
    for (size_t i = 0; i < r->n_hugepage_limits; i++) {
        const char *ps = r->hugepage_limits[i]->page_size;
        size_t digits = strspn(ps, "0123456789");
        if (!digits || digits > 8 || strlen(ps + digits) != 2 || !strchr("KMG", ps[digits]) ||
            ps[digits + 1] != 'B') {
            char name[48];
            snprintf(name, sizeof(name), "hugepage_limits[%zu].page_size", i);
            return bad_str(x, name, ps, "a size like \"2MB\" or \"1GB\"");
        }
    }
    return 0;
}

static int check_unified(const struct ctx *x, const Runtime__V1__LinuxContainerResources *r)
{
    if (r->n_unified > MAX_UNIFIED)
        return bad_int(x, "unified", (int64_t)r->n_unified, "at most 64 entries");
    for (size_t i = 0; i < r->n_unified; i++) {
        const char *k = r->unified[i]->key, *v = r->unified[i]->value;
        if (!*k || strchr(k, '/') || strcmp(k, ".") == 0 || strcmp(k, "..") == 0)
            return bad_str(x, "unified key", k, "a cgroup v2 file name like \"memory.high\"");
        if (strlen(v) > UNIFIED_VALUE_MAX)
            return bad_str(x, "unified value", v, "at most 4096 bytes");
    }
    return 0;
}

int crisp_ctr_resources_validate(const char *method, const char *field,
                                 const Runtime__V1__LinuxContainerResources *res,
                                 struct crisp_err *err)
{
    if (!res)
        return 0;
    const struct ctx x = {method, field, err};
    int r = check_cpu(&x, res);
    if (r == 0)
        r = check_memory(&x, res);
    if (r == 0)
        r = check_cpuset(&x, "cpuset_cpus", res->cpuset_cpus);
    if (r == 0)
        r = check_cpuset(&x, "cpuset_mems", res->cpuset_mems);
    if (r == 0)
        r = check_hugepages(&x, res);
    if (r == 0)
        r = check_unified(&x, res);
    return r;
}
