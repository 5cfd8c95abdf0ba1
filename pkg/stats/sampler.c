/* The background sampler: CPU readings for nano-cores and writable layer
 * sizes, per container. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stats/stats.h"
#include "util/cleanup.h"
#include "util/ids.h"
#include "util/log.h"
#include "util/mem.h"

#define MIN_RATE_WINDOW_NS 500000000LL /* a shorter window makes nano-cores jumpy */

struct cpu_sample {
    int64_t t;
    uint64_t ns;
};

struct crisp_stats_entry {
    char id[CRISP_CTR_ID_LEN + 1];
    struct crisp_cgroup *cg;      /* opened once; NULL until needed */
    struct cpu_sample prev, last; /* last is the newest; t 0: none */
    bool has_fs, seen;
    int64_t fs_timestamp;
    uint64_t fs_bytes, fs_inodes;
};

/* Opens the container's cgroup "<parent>/<id>". */
static int open_cgroup(const struct crisp_cgroup_root *root, const char *path,
                       struct crisp_cgroup **cg, struct crisp_err *err)
{
    _cleanup_free_ char *copy = crisp_xstrdup(path);
    char *slash = strrchr(copy, '/');
    if (slash)
        *slash = '\0';
    return crisp_cgroup_open(root, slash ? copy : "", slash ? slash + 1 : copy, cg, err);
}

/* Reads the container's cgroup, opening it on first use. Caller holds
 * s->lock (the entry's cg is freed by pruning, under it). */
static int read_cgroup(const struct crisp_stats *s, struct crisp_stats_entry *e,
                       const struct crisp_ctr *c, struct crisp_cgroup_stats *out,
                       struct crisp_err *err)
{
    if (!s->cgroups || !c->cgroup || !*c->cgroup)
        return crisp_errorf(err, GRPC_STATUS_NOT_FOUND, ENOENT,
                            "container %s has no cgroup (crispd runs without cgroups)", c->id);
    if (!e->cg) {
        int r = open_cgroup(s->cgroups, c->cgroup, &e->cg, err);
        if (r < 0)
            return r;
    }
    return crisp_cgroup_stats(e->cg, out, err);
}

/* Caller holds s->lock. */
static struct crisp_stats_entry *entry_of(struct crisp_stats *s, const char *id, bool create)
{
    for (size_t i = 0; i < s->n_entries; i++)
        if (strcmp(s->entries[i].id, id) == 0)
            return &s->entries[i];
    if (!create)
        return NULL;
    s->entries = crisp_xrealloc(s->entries, (s->n_entries + 1) * sizeof(*s->entries));
    struct crisp_stats_entry *e = &s->entries[s->n_entries++];
    memset(e, 0, sizeof(*e));
    memcpy(e->id, id, sizeof(e->id));
    return e;
}

/* Caller holds s->lock. */
static void prune_unseen(struct crisp_stats *s)
{
    size_t kept = 0;
    for (size_t i = 0; i < s->n_entries; i++) {
        if (!s->entries[i].seen) {
            crisp_cgroup_free(s->entries[i].cg);
            continue;
        }
        s->entries[i].seen = false;
        s->entries[kept++] = s->entries[i];
    }
    s->n_entries = kept;
}

static bool fs_due(struct crisp_stats *s, const char *id, int64_t now)
{
    pthread_mutex_lock(&s->lock);
    struct crisp_stats_entry *e = entry_of(s, id, true);
    e->seen = true;
    bool due = !e->has_fs || now - e->fs_timestamp >= CRISP_STATS_FS_INTERVAL_NS;
    pthread_mutex_unlock(&s->lock);
    return due;
}

static void sample_fs(struct crisp_stats *s, const struct crisp_ctr *c, int64_t now)
{
    if (!fs_due(s, c->id, now))
        return;
    _cleanup_free_ char *upper = crisp_xasprintf("%s/upper", c->rw_dir);
    uint64_t bytes, inodes;
    struct crisp_err err;
    if (crisp_stats_dir_usage(upper, &bytes, &inodes, &err) < 0) {
        log_debug("stats", "%s: %s", c->id, err.msg);
        return;
    }
    pthread_mutex_lock(&s->lock);
    struct crisp_stats_entry *e = entry_of(s, c->id, true);
    e->has_fs = true;
    e->fs_timestamp = crisp_now_ns();
    e->fs_bytes = bytes;
    e->fs_inodes = inodes;
    pthread_mutex_unlock(&s->lock);
}

static void sample_cpu(struct crisp_stats *s, const struct crisp_ctr *c)
{
    struct crisp_cgroup_stats cg;
    struct crisp_err err;
    pthread_mutex_lock(&s->lock);
    struct crisp_stats_entry *e = entry_of(s, c->id, true);
    e->seen = true;
    if (read_cgroup(s, e, c, &cg, &err) == 0 && cg.has_cpu) {
        e->prev = e->last;
        e->last = (struct cpu_sample){.t = crisp_now_ns(), .ns = cg.cpu_usage_ns};
    }
    pthread_mutex_unlock(&s->lock);
}

static void sample_all(struct crisp_stats *s)
{
    struct crisp_ctr **ctrs;
    size_t n;
    crisp_ctr_store_list(s->ctrs, NULL, &ctrs, &n);
    for (size_t i = 0; i < n; i++) {
        pthread_mutex_lock(&ctrs[i]->lock);
        bool running = ctrs[i]->state == CRISP_CTR_RUNNING;
        pthread_mutex_unlock(&ctrs[i]->lock);
        if (running)
            sample_cpu(s, ctrs[i]);
        sample_fs(s, ctrs[i], crisp_now_ns());
        crisp_ctr_put(s->ctrs, ctrs[i]);
    }
    free(ctrs);
    pthread_mutex_lock(&s->lock);
    prune_unseen(s);
    pthread_mutex_unlock(&s->lock);
}

static void *sampler_main(void *arg)
{
    struct crisp_stats *s = arg;
    pthread_mutex_lock(&s->lock);
    while (!s->stopping) {
        pthread_mutex_unlock(&s->lock);
        sample_all(s);
        pthread_mutex_lock(&s->lock);
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += CRISP_STATS_SAMPLE_INTERVAL_NS / 1000000000LL;
        while (!s->stopping && pthread_cond_timedwait(&s->wake, &s->lock, &until) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

int crisp_stats_start(struct crisp_stats *s, struct crisp_ctr_store *ctrs,
                      const struct crisp_cgroup_root *cgroups, struct crisp_err *err)
{
    memset(s, 0, sizeof(*s));
    s->ctrs = ctrs;
    s->cgroups = cgroups;
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&s->wake, &attr);
    pthread_condattr_destroy(&attr);
    int r = pthread_create(&s->thread, NULL, sampler_main, s);
    if (r != 0)
        return crisp_syserrf(err, r, "start the stats sampler thread");
    s->started = true;
    return 0;
}

void crisp_stats_stop(struct crisp_stats *s)
{
    if (s->started) {
        pthread_mutex_lock(&s->lock);
        s->stopping = true;
        pthread_cond_broadcast(&s->wake);
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->thread, NULL);
    }
    for (size_t i = 0; i < s->n_entries; i++)
        crisp_cgroup_free(s->entries[i].cg);
    free(s->entries);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->lock);
    memset(s, 0, sizeof(*s));
}

/* The CPU rate between the sampler's reading and now, from the newest
 * reading at least MIN_RATE_WINDOW_NS old. Caller holds s->lock. */
static void nano_cores(const struct crisp_stats_entry *e, struct crisp_ctr_usage *u)
{
    const struct cpu_sample *base = &e->last;
    if (u->timestamp - base->t < MIN_RATE_WINDOW_NS)
        base = &e->prev;
    if (!base->t || u->timestamp <= base->t || u->cg.cpu_usage_ns < base->ns)
        return;
    u->has_nano_cores = true;
    u->nano_cores = (uint64_t)((double)(u->cg.cpu_usage_ns - base->ns) * 1e9 /
                               (double)(u->timestamp - base->t));
}

int crisp_stats_container(struct crisp_stats *s, const struct crisp_ctr *c,
                          struct crisp_ctr_usage *out, struct crisp_err *err)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&s->lock);
    struct crisp_stats_entry *e = entry_of(s, c->id, true);
    int r = read_cgroup(s, e, c, &out->cg, err);
    if (r == 0) {
        out->timestamp = crisp_now_ns();
        if (out->cg.has_cpu)
            nano_cores(e, out);
        out->has_fs = e->has_fs;
        out->fs_timestamp = e->fs_timestamp;
        out->fs_bytes = e->fs_bytes;
        out->fs_inodes = e->fs_inodes;
    }
    pthread_mutex_unlock(&s->lock);
    return r;
}
