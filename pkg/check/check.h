/* `crispd check`: verifies that a node can run crisp before crispd starts.
 * Every item prints one line, "ok" or "MISSING", and a missing item a second
 * line saying how to fix it. Nothing is changed on the node: directories are
 * probed, not created; the socket is probed, not locked.
 *
 * Every probed path comes from struct crisp_check_paths so that tests can
 * point the checks at fake trees and a later config key (the CNI dirs) can
 * feed them. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "config/config.h"

#define CRISP_CHECK_MAX_CNI_BIN_DIRS 8

struct crisp_check_paths {
    const char *proc;        /* procfs: filesystems, self/ns, self/status, self/mountinfo */
    const char *cgroup;      /* the cgroup mount point: /sys/fs/cgroup */
    const char *modules;     /* kernel modules: /lib/modules (overlay as a module) */
    const char *systemd_run; /* exists when systemd is PID 1: /run/systemd/system */
    const char *cni_conf_dir;
    const char *cni_bin_dirs[CRISP_CHECK_MAX_CNI_BIN_DIRS];
    size_t n_cni_bin_dirs;
    char *cni_bin_dirs_buf; /* owns the strings of a list from the environment */
    /* from the configuration */
    const char *root;
    const char *state;
    const char *listen;
    enum crisp_cgroup_driver cgroup_driver;
};

/* Counts and prints results. */
struct crisp_check_report {
    FILE *out;
    int n_ok;
    int n_missing;
};

/* The defaults: /proc, /sys/fs/cgroup, /lib/modules, /run/systemd/system;
 * root, state, listen, the cgroup driver and the CNI config and plugin dirs
 * from cfg (which must outlive paths). */
void crisp_check_paths_default(struct crisp_check_paths *paths, const struct crisp_config *cfg);

/* Overrides paths from the environment, for tests and unusual nodes:
 * CRISP_CHECK_PROC, CRISP_CHECK_CGROUP, CRISP_CHECK_MODULES,
 * CRISP_CHECK_SYSTEMD_RUN, CRISP_CHECK_CNI_CONF_DIR and CRISP_CHECK_CNI_BIN_DIRS
 * (colon-separated). Single paths stay owned by the environment. */
void crisp_check_paths_from_env(struct crisp_check_paths *paths);

/* Releases what crisp_check_paths_from_env allocated. */
void crisp_check_paths_free(struct crisp_check_paths *paths);

/* Runs every check, prints each item and a summary to out. Returns the
 * number of missing items (0: the node is ready). */
int crisp_check_run(const struct crisp_check_paths *paths, FILE *out);

/* The individual checks, each adding one or more items to the report. */
void crisp_check_overlay(const struct crisp_check_paths *paths, struct crisp_check_report *rep);
void crisp_check_namespaces(const struct crisp_check_paths *paths, struct crisp_check_report *rep);
void crisp_check_seccomp(const struct crisp_check_paths *paths, struct crisp_check_report *rep);
void crisp_check_openat2(struct crisp_check_report *rep);
void crisp_check_cgroups(const struct crisp_check_paths *paths, struct crisp_check_report *rep);
void crisp_check_cgroup_driver(const struct crisp_check_paths *paths,
                               struct crisp_check_report *rep);
void crisp_check_cni(const struct crisp_check_paths *paths, struct crisp_check_report *rep);
/* purpose names the directory in the report ("root", "state"). */
void crisp_check_dir_writable(const char *purpose, const char *dir, struct crisp_check_report *rep);
void crisp_check_socket_free(const char *socket_path, struct crisp_check_report *rep);

/* Report lines: "ok       <item>: <detail>" and
 * "MISSING  <item>: <detail>" followed by "         fix: <fix>". */
void crisp_check_ok(struct crisp_check_report *rep, const char *item, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void crisp_check_missing(struct crisp_check_report *rep, const char *item, const char *fix,
                         const char *fmt, ...) __attribute__((format(printf, 4, 5)));
