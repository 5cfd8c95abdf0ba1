/* The `crispd check` runner: default paths, environment overrides, the
 * report format and the order of the checks. */
#define _GNU_SOURCE
#include "check/check.h"

#include <libgen.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/mem.h"

void crisp_check_paths_default(struct crisp_check_paths *paths, const struct crisp_config *cfg)
{
    *paths = (struct crisp_check_paths){
        .proc = "/proc",
        .cgroup = "/sys/fs/cgroup",
        .modules = "/lib/modules",
        .systemd_run = "/run/systemd/system",
        .cni_conf_dir = cfg->cni_conf_dir, /* what crispd itself will use */
        .root = cfg->root,
        .state = cfg->state,
        .listen = cfg->listen,
        .cgroup_driver = cfg->cgroup_driver,
    };
    for (size_t i = 0; i < cfg->n_cni_bin_dirs && i < CRISP_CHECK_MAX_CNI_BIN_DIRS; i++)
        paths->cni_bin_dirs[paths->n_cni_bin_dirs++] = cfg->cni_bin_dirs[i];
}

static void env_override(const char **field, const char *name)
{
    const char *v = getenv(name);
    if (v && *v)
        *field = v;
}

/* Splits a copy of a colon-separated list; paths owns the copy. */
static void env_override_list(struct crisp_check_paths *paths, const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return;
    free(paths->cni_bin_dirs_buf);
    paths->cni_bin_dirs_buf = crisp_xstrdup(v);
    paths->n_cni_bin_dirs = 0;
    char *save = NULL;
    for (char *dir = strtok_r(paths->cni_bin_dirs_buf, ":", &save);
         dir && paths->n_cni_bin_dirs < CRISP_CHECK_MAX_CNI_BIN_DIRS;
         dir = strtok_r(NULL, ":", &save))
        paths->cni_bin_dirs[paths->n_cni_bin_dirs++] = dir;
}

void crisp_check_paths_from_env(struct crisp_check_paths *paths)
{
    env_override(&paths->proc, "CRISP_CHECK_PROC");
    env_override(&paths->cgroup, "CRISP_CHECK_CGROUP");
    env_override(&paths->modules, "CRISP_CHECK_MODULES");
    env_override(&paths->systemd_run, "CRISP_CHECK_SYSTEMD_RUN");
    env_override(&paths->cni_conf_dir, "CRISP_CHECK_CNI_CONF_DIR");
    env_override_list(paths, "CRISP_CHECK_CNI_BIN_DIRS");
}

void crisp_check_paths_free(struct crisp_check_paths *paths)
{
    free(paths->cni_bin_dirs_buf);
    paths->cni_bin_dirs_buf = NULL;
    paths->n_cni_bin_dirs = 0;
}

static void vreport(struct crisp_check_report *rep, const char *status, const char *item,
                    const char *fmt, va_list ap)
{
    fprintf(rep->out, "%-8s %s: ", status, item);
    vfprintf(rep->out, fmt, ap);
    fputc('\n', rep->out);
}

void crisp_check_ok(struct crisp_check_report *rep, const char *item, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(rep, "ok", item, fmt, ap);
    va_end(ap);
    rep->n_ok++;
}

void crisp_check_missing(struct crisp_check_report *rep, const char *item, const char *fix,
                         const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(rep, "MISSING", item, fmt, ap);
    va_end(ap);
    fprintf(rep->out, "%-8s fix: %s\n", "", fix);
    rep->n_missing++;
}

/* The directory crispd creates the socket in, when it is not the state dir. */
static void check_socket_dir(const struct crisp_check_paths *paths, struct crisp_check_report *rep)
{
    _cleanup_free_ char *copy = crisp_xstrdup(paths->listen);
    const char *dir = dirname(copy);
    if (strcmp(dir, paths->state) != 0 && strcmp(dir, paths->root) != 0)
        crisp_check_dir_writable("socket dir", dir, rep);
}

int crisp_check_run(const struct crisp_check_paths *paths, FILE *out)
{
    struct crisp_check_report rep = {.out = out};
    crisp_check_overlay(paths, &rep);
    crisp_check_namespaces(paths, &rep);
    crisp_check_seccomp(paths, &rep);
    crisp_check_openat2(&rep);
    crisp_check_cgroups(paths, &rep);
    crisp_check_cgroup_driver(paths, &rep);
    crisp_check_cni(paths, &rep);
    crisp_check_dir_writable("root", paths->root, &rep);
    crisp_check_dir_writable("state", paths->state, &rep);
    check_socket_dir(paths, &rep);
    crisp_check_socket_free(paths->listen, &rep);
    if (rep.n_missing == 0)
        fprintf(out, "\nall %d checks passed: this node is ready for crispd\n", rep.n_ok);
    else
        fprintf(out,
                "\n%d of %d checks failed: fix the MISSING items above, then run "
                "'crispd check' again\n",
                rep.n_missing, rep.n_ok + rep.n_missing);
    fflush(out);
    return rep.n_missing;
}
