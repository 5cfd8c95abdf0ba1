/* cgroups: the controllers the kubelet and crisp need, on a v2 (unified)
 * hierarchy or on v1 hierarchies; and the configured cgroup driver. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check/check.h"
#include "runtime/cgroup_systemd.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"

#define PROC_FILE_MAX (16u << 20)

static const char *const v1_required[] = {"cpu",  "cpuacct", "cpuset", "memory",
                                          "pids", "devices", "freezer"};
static const char *const v2_required[] = {"cpu", "cpuset", "memory", "pids"};

/* True when name is one of the words of list, separated by any of seps. */
static bool word_in(const char *list, size_t len, const char *name, const char *seps)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < len;) {
        size_t w = strcspn(list + i, seps);
        if (w > len - i)
            w = len - i;
        if (w == n && memcmp(list + i, name, n) == 0)
            return true;
        i += w + 1;
    }
    return false;
}

/* Appends to missing (space-separated) every required name not in have. */
static void collect_missing(const char *const *required, size_t n_required,
                            bool (*has)(const void *ctx, const char *name), const void *ctx,
                            char *missing, size_t size)
{
    for (size_t i = 0; i < n_required; i++) {
        if (has(ctx, required[i]))
            continue;
        size_t m = strlen(missing);
        snprintf(missing + m, size - m, "%s%s", m ? " " : "", required[i]);
    }
}

static bool v2_has(const void *ctx, const char *name)
{
    const char *controllers = ctx;
    return word_in(controllers, strlen(controllers), name, " \n");
}

static void check_v2(const char *controllers_path, const char *text, struct crisp_check_report *rep)
{
    char missing[128] = "";
    collect_missing(v2_required, sizeof(v2_required) / sizeof(v2_required[0]), v2_has, text,
                    missing, sizeof(missing));
    if (!*missing) {
        crisp_check_ok(rep, "cgroups", "v2 with cpu cpuset memory pids");
        return;
    }
    _cleanup_free_ char *fix = crisp_xasprintf(
        "the kernel lacks these controllers, or they are disabled on the kernel command line "
        "(cgroup_disable=...) or still bound to a v1 hierarchy; enable them and reboot "
        "(listed in %s)",
        controllers_path);
    crisp_check_missing(rep, "cgroups", fix, "v2 hierarchy without: %s", missing);
}

/* The controllers of every v1 cgroup mount in mountinfo, as one
 * comma-separated list of super-block options. */
static char *v1_mounted_options(const char *mountinfo)
{
    size_t cap = 256, len = 0;
    char *out = crisp_xmalloc(cap);
    out[0] = '\0';
    for (const char *line = mountinfo; *line;) {
        const char *end = strchrnul(line, '\n');
        const char *sep = strstr(line, " - ");
        if (sep && sep < end && strncmp(sep + 3, "cgroup ", 7) == 0) {
            /* "- cgroup <source> <super options>" */
            const char *src = sep + 10;
            const char *opts = memchr(src, ' ', (size_t)(end - src));
            if (opts) {
                opts++;
                size_t n = (size_t)(end - opts);
                if (len + n + 2 > cap) {
                    cap = (len + n + 2) * 2;
                    out = crisp_xrealloc(out, cap);
                }
                if (len)
                    out[len++] = ',';
                memcpy(out + len, opts, n);
                len += n;
                out[len] = '\0';
            }
        }
        line = *end ? end + 1 : end;
    }
    return out;
}

static bool v1_has(const void *ctx, const char *name)
{
    const char *options = ctx;
    return word_in(options, strlen(options), name, ",");
}

static void check_v1(const struct crisp_check_paths *paths, struct crisp_check_report *rep)
{
    _cleanup_free_ char *path = crisp_xasprintf("%s/self/mountinfo", paths->proc);
    _cleanup_free_ char *text = NULL;
    struct crisp_err err;
    if (crisp_read_file(path, PROC_FILE_MAX, &text, NULL, &err) < 0) {
        crisp_check_missing(rep, "cgroups", "mount procfs on /proc", "cannot tell: %s", err.msg);
        return;
    }
    _cleanup_free_ char *options = v1_mounted_options(text);
    if (!*options) {
        _cleanup_free_ char *fix = crisp_xasprintf(
            "mount cgroup2 on %s (mount -t cgroup2 none %s), or the v1 controllers each on "
            "%s/<controller>",
            paths->cgroup, paths->cgroup, paths->cgroup);
        crisp_check_missing(rep, "cgroups", fix,
                            "no cgroup v2 hierarchy at %s and no cgroup v1 mount in %s",
                            paths->cgroup, path);
        return;
    }
    char missing[128] = "";
    collect_missing(v1_required, sizeof(v1_required) / sizeof(v1_required[0]), v1_has, options,
                    missing, sizeof(missing));
    if (!*missing) {
        crisp_check_ok(rep, "cgroups", "v1 with cpu cpuacct cpuset memory pids devices freezer");
        return;
    }
    _cleanup_free_ char *fix = crisp_xasprintf(
        "mount each one (mkdir -p %s/<name> && mount -t cgroup -o <name> cgroup %s/<name>); if "
        "%s/cgroups does not list it as enabled, the kernel lacks it (CONFIG_MEMCG, "
        "CONFIG_CGROUP_PIDS, ...) or the kernel command line disables it (cgroup_disable=)",
        paths->cgroup, paths->cgroup, paths->proc);
    crisp_check_missing(rep, "cgroups", fix, "v1 controllers not mounted: %s", missing);
}

void crisp_check_cgroups(const struct crisp_check_paths *paths, struct crisp_check_report *rep)
{
    _cleanup_free_ char *controllers = crisp_xasprintf("%s/cgroup.controllers", paths->cgroup);
    _cleanup_free_ char *text = NULL;
    struct crisp_err err;
    if (crisp_read_file(controllers, 4096, &text, NULL, &err) == 0)
        check_v2(controllers, text, rep);
    else
        check_v1(paths, rep);
}

void crisp_check_cgroup_driver(const struct crisp_check_paths *paths,
                               struct crisp_check_report *rep)
{
    static const char item[] = "cgroup driver";
    if (paths->cgroup_driver == CRISP_CGROUP_DRIVER_CGROUPFS) {
        crisp_check_ok(rep, item, "cgroupfs: start the kubelet with --cgroup-driver=cgroupfs");
        return;
    }
    /* The systemd driver starts a transient scope per container over D-Bus. */
    struct crisp_err err;
    char *version = NULL;
    if (crisp_systemd_ping(&version, &err) == 0) {
        crisp_check_ok(rep, item,
                       "systemd %s answers on the system bus: start the kubelet with "
                       "--cgroup-driver=systemd",
                       version);
        free(version);
        return;
    }
    struct stat st;
    bool systemd_runs = stat(paths->systemd_run, &st) == 0 && S_ISDIR(st.st_mode);
    crisp_check_missing(rep, item,
                        "run crispd on a node whose init is systemd, or set \"cgroup_driver\": "
                        "\"cgroupfs\" in /etc/crisp/crisp.json (or a drop-in) and start the "
                        "kubelet with --cgroup-driver=cgroupfs",
                        "cgroup_driver is systemd, but systemd does not answer: %s%s", err.msg,
                        systemd_runs ? "" : " (and systemd is not the init system here)");
}
