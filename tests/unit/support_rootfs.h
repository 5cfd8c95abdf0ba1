/* Shared by the unit tests that run real containers from a busybox lowerdir
 * (test_runtime*.c) or build one (test_monitor.c): the group's box with its
 * lowerdir, and a per-test container (dirs, spec, the pids it started) with
 * launch-and-collect helpers.
 * Linked from build/tests/libsupport.a: a test program takes only what it uses. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "runtime/container.h"
#include "support_fs.h"

#define SUP_MAX_PIDS   8   /* containers one test may have running */
#define SUP_MAX_LOWERS 101 /* the busybox lowerdir and up to 100 more */

/* ---- the group's box ---- */

/* mkdtemp(tmpl) into box, then box/lower with bin/busybox (a copy of the
 * host's) and a symlink to it for each of the n applets. */
void sup_busybox_box(const char *tmpl, const char *const *applets, size_t n, char box[64],
                     char lower[96]);
/* Fails the test if a child is left unreaped or anything is mounted under box. */
void sup_check_no_leftovers(const char *box);

/* ---- a test's container ---- */

struct sup_ctr {
    char dir[128], upper[160], work[160], rootfs[160], host[160]; /* box/tN/... */
    pid_t pids[SUP_MAX_PIDS]; /* running containers to kill in sup_ctr_cleanup */
    struct crisp_container *c;
    struct crisp_err err;
    const char *lowers[SUP_MAX_LOWERS];
    char *env[2];
    struct crisp_container_spec spec; /* lower, upper, work, rootfs, PATH=/bin, no stdio */
};

/* Makes box/t<n> and its upper, work, rootfs and host dirs; sets up the spec. */
void sup_ctr_init(struct sup_ctr *t, const char *box, int n, const char *lower);
/* Kills and reaps what is still tracked, frees the container. */
void sup_ctr_stop(struct sup_ctr *t);
/* sup_ctr_stop, then removes the dir. */
void sup_ctr_cleanup(struct sup_ctr *t);

/* The spec's process gets exactly these capabilities (caps_set). */
void sup_ctr_set_caps(struct sup_ctr *t, const int *caps, size_t n);
void sup_track(struct sup_ctr *t, pid_t pid);
int sup_wait_pid(struct sup_ctr *t, pid_t pid); /* the wait status */
void sup_kill_wait(struct sup_ctr *t, pid_t pid);
void sup_expect_ok(struct sup_ctr *t, int r, const char *what);
/* create (stdout and stderr to a pipe) + start; returns the pid and the pipe's read end. */
pid_t sup_launch(struct sup_ctr *t, int *out_fd);
/* Runs the spec's argv (or argv, or sh -c script) to its end: its output and *status. */
char *sup_run(struct sup_ctr *t, int *status);
char *sup_run_argv(struct sup_ctr *t, char **argv, int *status);
char *sup_run_script(struct sup_ctr *t, const char *script, int *status);
/* The same, failing the test unless it exits 0. */
char *sup_run_ok(struct sup_ctr *t);
char *sup_run_script_ok(struct sup_ctr *t, const char *script);
