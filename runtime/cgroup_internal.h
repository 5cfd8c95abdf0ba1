/* Shared by runtime/cgroup*.c only. */
#pragma once

#include <stdarg.h>

#include "runtime/cgroup.h"

#define CG_LOG "cgroup"

/* The container's directory in one hierarchy. */
struct crisp_cgroup_dir {
    char *path; /* <mount>/<rel> */
    struct crisp_cgroup_hierarchy h;
};

struct crisp_cgroup {
    enum crisp_cgroup_mode mode;
    char *rel; /* "kubepods/burstable/pod1/<id>" */
    struct crisp_cgroup_dir *dirs;
    size_t n_dirs;
    const char **procs; /* dirs[i].path + "/cgroup.procs" (v2) or "/tasks" (v1) */
    struct crisp_cgroup_fake_hooks hooks;
};

/* ---- cgroup_path.c ---- */

/* Checks parent and name (rules in cgroup.h) and returns "<parent>/<name>"
 * relative to a hierarchy root, without a leading '/'. INVALID_ARGUMENT. */
int cg_path_join(const char *parent, const char *name, char **rel, struct crisp_err *err);

/* ---- cgroup_root.c, cgroup_mountinfo.c ---- */

/* Controller bits of a v1 list ("rw,cpu,cpuacct"); unknown names ignored. */
unsigned cg_root_v1_bits(const char *list);
/* Controller bits of <mount>/cgroup.controllers; *r < 0 on error. */
unsigned cg_root_v2_bits(const char *mount, struct crisp_err *err, int *r);
unsigned cg_root_bits(const struct crisp_cgroup_root *root);
void cg_root_add(struct crisp_cgroup_root *root, const char *mount, unsigned bits, bool unified);
/* Adds a v1 hierarchy unless it has no controller crisp uses or one already
 * added. */
void cg_root_add_v1(struct crisp_cgroup_root *root, const char *mount, unsigned bits);
int cg_root_add_hybrid(struct crisp_cgroup_root *root, const char *mount, struct crisp_err *err);
/* Adds the v1 hierarchies (and a hybrid cgroup2 mount) listed in a
 * /proc/<pid>/mountinfo file. */
int cg_mountinfo_scan(struct crisp_cgroup_root *root, const char *file, struct crisp_err *err);

/* ---- cgroup_file.c: interface files, "<dir>/<file>" ---- */

/* The gRPC code for a failed cgroup file write: EINVAL/ERANGE
 * INVALID_ARGUMENT, EBUSY/ENOENT FAILED_PRECONDITION, else INTERNAL. */
grpc_status_code cg_errno_code(int errnum);

/* Writes value (open O_WRONLY|O_TRUNC, one write, close): the kernel parses
 * it whole. */
int cg_write(const char *dir, const char *file, const char *value, struct crisp_err *err);
int cg_writef(const char *dir, const char *file, struct crisp_err *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The whole file, trailing whitespace removed. */
int cg_read(const char *dir, const char *file, char **out, struct crisp_err *err);
/* A single unsigned number; "max" reads as UINT64_MAX. */
int cg_read_u64(const char *dir, const char *file, uint64_t *out, struct crisp_err *err);
/* The value of "key N" in a flat keyed file (memory.stat, memory.events);
 * -ENOENT (NOT_FOUND) when the key is missing. */
int cg_read_keyed(const char *dir, const char *file, const char *key, uint64_t *out,
                  struct crisp_err *err);
/* Whether <dir>/<file> exists as a regular file. */
bool cg_file_exists(const char *dir, const char *file);
/* A file name built with printf into buf; aborts on truncation (callers bound
 * their inputs). */
const char *cg_name(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- cgroup.c ---- */

struct crisp_cgroup_dir *cg_dir(const struct crisp_cgroup *cg, enum crisp_cgroup_controller c);
/* The hierarchy whose cgroup.procs lists the container's processes. */
const struct crisp_cgroup_dir *cg_primary_dir(const struct crisp_cgroup *cg);

/* ---- cgroup_create.c ---- */

/* Creates d->path and missing ancestors below d->h.mount; appends each
 * directory it created to *made (for undo). */
int cg_create_dir(const struct crisp_cgroup *cg, const struct crisp_cgroup_dir *d, char ***made,
                  size_t *n_made, struct crisp_err *err);

/* ---- cgroup_destroy.c ---- */

/* rmdir for undoing a failed create: logs failures, never waits. */
void cg_rmdir_hooked(const struct crisp_cgroup *cg, const char *path);

/* ---- cgroup_v1.c / cgroup_v2.c: one controller's resources in one dir ---- */

int cg_v1_cpuset_inherit(const char *dir, const char *parent, struct crisp_err *err);
int cg_v1_cpu(const char *dir, const struct crisp_cgroup_resources *res, struct crisp_err *err);
int cg_v1_memory(const char *dir, const struct crisp_cgroup_resources *res, struct crisp_err *err);
int cg_v2_enable_controllers(const char *dir, unsigned wanted, struct crisp_err *err);
int cg_v2_cpu(const char *dir, const struct crisp_cgroup_resources *res, struct crisp_err *err);
int cg_v2_memory(const char *dir, const struct crisp_cgroup_resources *res, struct crisp_err *err);
int cg_v2_check_unified_key(const char *dir, const char *key, struct crisp_err *err);
/* The controller named ("cpu", "io", ...) in a cgroup.controllers list; -1
 * for one crisp does not use. */
int cg_v2_controller_parse(const char *name, size_t len);
/* 1 + ((shares - 2) * 9999) / 262142 */
uint64_t cg_v2_shares_to_weight(int64_t shares);
/* hugetlb file names for page size ps in a v1 or v2 hierarchy. */
const char *cg_hugetlb_file(char *buf, size_t size, const char *ps, bool unified, bool rsvd);

/* ---- cgroup_devices.c ---- */

/* Writes res->device_rules (v1 devices.deny/allow, v2 an attached eBPF program). */
int cg_devices_apply(const struct crisp_cgroup *cg, const struct crisp_cgroup_resources *res,
                     struct crisp_err *err);

/* ---- cgroup_freeze.c ---- */

/* Freezes (true) or thaws the cgroup (v1 freezer.state, v2 cgroup.freeze);
 * *done is false when there is no freezer. A freeze waits up to 1 s for the
 * tasks to stop, then returns anyway. */
int cg_freeze(const struct crisp_cgroup *cg, bool freeze, bool *done, struct crisp_err *err);
