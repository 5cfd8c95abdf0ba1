/* The processes in a cgroup: listing and signalling them. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/cgroup_internal.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/mem.h"

#define MAX_TREE_DEPTH 64

static int parse_procs(const char *dir, char *text, pid_t **pids, size_t *n, struct crisp_err *err)
{
    for (char *save = NULL, *t = strtok_r(text, "\n", &save); t; t = strtok_r(NULL, "\n", &save)) {
        char *end;
        errno = 0;
        long v = strtol(t, &end, 10);
        if (errno || *end || v <= 0 || v > INT32_MAX)
            return crisp_errorf(err, GRPC_STATUS_INTERNAL, EBADMSG,
                                "%s/cgroup.procs: bad pid \"%.16s\"", dir, t);
        *pids = crisp_xrealloc(*pids, (*n + 1) * sizeof(**pids));
        (*pids)[(*n)++] = (pid_t)v;
    }
    return 0;
}

static int collect(const char *dir, int depth, pid_t **pids, size_t *n, struct crisp_err *err);

static int collect_children(const char *dir, int depth, pid_t **pids, size_t *n,
                            struct crisp_err *err)
{
    _cleanup_closedir_ DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : crisp_syserrf(err, errno, "open %s", dir);
    struct dirent *e;
    while ((errno = 0, e = readdir(d))) {
        struct stat st;
        if (e->d_name[0] == '.' || fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
            !S_ISDIR(st.st_mode))
            continue;
        _cleanup_free_ char *child = crisp_xasprintf("%s/%s", dir, e->d_name);
        int r = collect(child, depth + 1, pids, n, err);
        if (r < 0 && r != -ENOENT) /* a child removed meanwhile is fine */
            return r;
    }
    return errno ? crisp_syserrf(err, errno, "read %s", dir) : 0;
}

static int collect(const char *dir, int depth, pid_t **pids, size_t *n, struct crisp_err *err)
{
    if (depth > MAX_TREE_DEPTH)
        return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, ELOOP,
                            "%s: cgroups nested more than %d deep", dir, MAX_TREE_DEPTH);
    _cleanup_free_ char *text = NULL;
    int r = cg_read(dir, "cgroup.procs", &text, err);
    if (r == 0)
        r = parse_procs(dir, text, pids, n, err);
    return r < 0 ? r : collect_children(dir, depth, pids, n, err);
}

int crisp_cgroup_pids(struct crisp_cgroup *cg, pid_t **pids, size_t *n, struct crisp_err *err)
{
    *pids = NULL;
    *n = 0;
    const struct crisp_cgroup_dir *d = cg_primary_dir(cg);
    int r = d ? collect(d->path, 0, pids, n, err) : 0;
    if (r < 0) {
        free(*pids);
        *pids = NULL;
        *n = 0;
        crisp_err_prefix(err, "list processes of cgroup %s", cg->rel);
    }
    return r;
}

static int signal_each(const struct crisp_cgroup *cg, int sig, struct crisp_err *err)
{
    pid_t *pids = NULL;
    size_t n = 0;
    int r = collect(cg_primary_dir(cg)->path, 0, &pids, &n, err);
    if (r == -ENOENT)
        r = 0; /* gone already: nothing to signal */
    for (size_t i = 0; i < n && r == 0; i++) {
        if (pids[i] <= 1 || pids[i] == getpid())
            continue; /* never init or crispd itself, whatever the file says */
        if (kill(pids[i], sig) < 0 && errno != ESRCH)
            r = crisp_syserrf(err, errno, "signal %d to process %d", sig, (int)pids[i]);
    }
    free(pids);
    return r;
}

static int kill_v2(const struct crisp_cgroup *cg, struct crisp_err *err)
{
    int r = cg_write(cg->dirs[0].path, "cgroup.kill", "1", err);
    return r == -ENOENT ? 0 : r;
}

int crisp_cgroup_kill_all(struct crisp_cgroup *cg, int sig, struct crisp_err *err)
{
    if (!cg_primary_dir(cg))
        return 0;
    int r;
    if (cg->mode == CRISP_CGROUP_V2 && sig == SIGKILL &&
        cg_file_exists(cg->dirs[0].path, "cgroup.kill")) {
        r = kill_v2(cg, err);
    } else {
        /* Freezing keeps forks from racing the signals; without it the
         * signals still go out. */
        bool frozen = false;
        struct crisp_err freeze_err;
        if (cg_freeze(cg, true, &frozen, &freeze_err) < 0 &&
            freeze_err.code != GRPC_STATUS_FAILED_PRECONDITION)
            log_warn(CG_LOG, "kill cgroup %s unfrozen: %s", cg->rel, freeze_err.msg);
        r = signal_each(cg, sig, err);
        struct crisp_err thaw_err;
        int t = frozen ? cg_freeze(cg, false, &frozen, r < 0 ? &thaw_err : err) : 0;
        if (r == 0)
            r = t;
    }
    if (r < 0)
        crisp_err_prefix(err, "kill processes of cgroup %s", cg->rel);
    return r;
}
