/* OOM kill counts and basic usage statistics. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"

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

unsigned crisp_cgroup_parse_keyed(const char *text, const char *const *keys, size_t n_keys,
                                  uint64_t *vals)
{
    unsigned found = 0;
    for (const char *line = text; line && *line;) {
        const char *space = strchr(line, ' ');
        const char *eol = strchr(line, '\n');
        if (space && (!eol || space < eol)) {
            for (size_t i = 0; i < n_keys; i++) {
                size_t klen = strlen(keys[i]);
                char *end;
                if ((size_t)(space - line) != klen || strncmp(line, keys[i], klen) != 0)
                    continue;
                errno = 0;
                unsigned long long v = strtoull(space + 1, &end, 10);
                if (errno == 0 && end != space + 1 && (*end == '\n' || *end == '\0')) {
                    vals[i] = v;
                    found |= 1u << i;
                }
            }
        }
        line = eol ? eol + 1 : NULL;
    }
    return found;
}

enum { MS_INACTIVE_FILE, MS_RSS, MS_PGFAULT, MS_PGMAJFAULT, MS_N };
static const char *const memory_stat_v1[MS_N] = {"total_inactive_file", "total_rss",
                                                 "total_pgfault", "total_pgmajfault"};
static const char *const memory_stat_v2[MS_N] = {"inactive_file", "anon", "pgfault", "pgmajfault"};

/* Swap: optional (no swap accounting), so read errors only clear has_swap. */
static void swap_stats(const struct crisp_cgroup_dir *d, struct crisp_cgroup_stats *out)
{
    struct crisp_err ignored;
    uint64_t usage, limit;
    if (d->h.unified) {
        out->has_swap = cg_read_u64(d->path, "memory.swap.current", &usage, &ignored) == 0 &&
                        cg_read_u64(d->path, "memory.swap.max", &limit, &ignored) == 0;
        out->swap_usage = usage;
        out->swap_limit = limit;
        return;
    }
    out->has_swap = cg_read_u64(d->path, "memory.memsw.usage_in_bytes", &usage, &ignored) == 0 &&
                    cg_read_u64(d->path, "memory.memsw.limit_in_bytes", &limit, &ignored) == 0;
    out->swap_usage = usage > out->memory_usage ? usage - out->memory_usage : 0;
    out->swap_limit = limit > out->memory_limit ? limit - out->memory_limit : 0;
}

static int memory_stats(const struct crisp_cgroup *cg, struct crisp_cgroup_stats *out,
                        struct crisp_err *err)
{
    const struct crisp_cgroup_dir *d = cg_dir(cg, CRISP_CGROUP_MEMORY);
    if (!d)
        return 0;
    bool v2 = d->h.unified;
    int r = cg_read_u64(d->path, v2 ? "memory.current" : "memory.usage_in_bytes",
                        &out->memory_usage, err);
    if (r == 0)
        r = cg_read_u64(d->path, v2 ? "memory.max" : "memory.limit_in_bytes", &out->memory_limit,
                        err);
    _cleanup_free_ char *text = NULL;
    if (r == 0)
        r = cg_read(d->path, "memory.stat", &text, err);
    if (r < 0)
        return r;
    uint64_t vals[MS_N] = {0};
    crisp_cgroup_parse_keyed(text, v2 ? memory_stat_v2 : memory_stat_v1, MS_N, vals);
    out->memory_rss = vals[MS_RSS];
    out->memory_pgfault = vals[MS_PGFAULT];
    out->memory_pgmajfault = vals[MS_PGMAJFAULT];
    uint64_t inactive = vals[MS_INACTIVE_FILE];
    out->memory_working_set = out->memory_usage > inactive ? out->memory_usage - inactive : 0;
    out->has_memory = true;
    swap_stats(d, out);
    return 0;
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
