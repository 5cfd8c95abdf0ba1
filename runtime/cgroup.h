/* Container cgroups, cgroupfs driver, cgroup v1 and v2.
 *
 * A crisp_cgroup_root describes the host's hierarchies, found once at start.
 * A crisp_cgroup is one container's cgroup: "<parent>/<name>" in every
 * hierarchy crisp uses. Paths come from the kubelet's cgroup_parent (cgroupfs
 * form, "/kubepods/burstable/pod<uid>") and the container id; both are checked
 * strictly (see crisp_cgroup_create), so the result always stays below each
 * hierarchy's mount.
 *
 * Every function returns 0 or a negative errno and fills err (a gRPC code and
 * a message naming the file). Not thread-safe per object; distinct objects
 * may be used from distinct threads. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/err.h"

enum crisp_cgroup_mode {
    CRISP_CGROUP_V1, /* legacy or hybrid: one hierarchy per controller (group) */
    CRISP_CGROUP_V2, /* unified: one cgroup2 hierarchy */
};

/* The controllers crisp places containers in. On v2 CPUACCT (cpu.stat) and
 * FREEZER (cgroup.freeze) are core files, BLKIO is "io", DEVICES is eBPF and
 * not a hierarchy. */
enum crisp_cgroup_controller {
    CRISP_CGROUP_CPU,
    CRISP_CGROUP_CPUACCT,
    CRISP_CGROUP_CPUSET,
    CRISP_CGROUP_MEMORY,
    CRISP_CGROUP_PIDS,
    CRISP_CGROUP_HUGETLB,
    CRISP_CGROUP_BLKIO,
    CRISP_CGROUP_DEVICES,
    CRISP_CGROUP_FREEZER,
    CRISP_CGROUP_N_CONTROLLERS,
};
#define CRISP_CGROUP_BIT(c) (1u << (c))

/* One mounted hierarchy. v1: one per mount ("cpu,cpuacct" co-mounted is one
 * hierarchy with two bits). On a v1 host a cgroup2 mount that carries a
 * controller no v1 hierarchy has (hybrid: /sys/fs/cgroup/unified with
 * hugetlb) is a hierarchy too, with unified set. */
struct crisp_cgroup_hierarchy {
    char *mount;          /* "/sys/fs/cgroup/memory" */
    unsigned controllers; /* CRISP_CGROUP_BIT()s of the controllers it carries */
    bool unified;         /* cgroup2 semantics: v2 file names, cgroup.subtree_control */
};

/* Test hooks for a fake root (a temp dir imitating cgroupfs). The kernel fills
 * a new cgroup directory with its interface files and rmdir removes a
 * directory that still holds them; a plain directory does neither, so the
 * test does it: after_mkdir after every directory crisp creates, before_rmdir
 * before every rmdir. NULL members are skipped. */
struct crisp_cgroup_fake_hooks {
    void (*after_mkdir)(const char *dir, const struct crisp_cgroup_hierarchy *h, void *ctx);
    void (*before_rmdir)(const char *dir, void *ctx);
    void *ctx;
};

struct crisp_cgroup_root {
    enum crisp_cgroup_mode mode;
    char *path; /* "/sys/fs/cgroup" (v2: the cgroup2 mount) */
    struct crisp_cgroup_hierarchy *hier;
    size_t n_hier;
    struct crisp_cgroup_fake_hooks hooks; /* zero unless fake */
};

/* Detects the host's layout: v2 when /sys/fs/cgroup is a cgroup2 mount
 * (statfs), else v1 with each controller's mount from /proc/self/mountinfo
 * (the first mount of a hierarchy wins; a mount's root is assumed to be the
 * hierarchy root) plus a hybrid cgroup2 mount when it carries a controller
 * crisp uses. FAILED_PRECONDITION when no usable hierarchy is found. */
int crisp_cgroup_root_detect(struct crisp_cgroup_root *root, struct crisp_err *err);

/* A root over dir, for tests. V2: dir is the cgroup2 root and must hold
 * cgroup.controllers. V1: every subdirectory of dir is a hierarchy: one with
 * a cgroup.controllers file is a (hybrid) cgroup2 mount, any other is named
 * after its controllers ("memory", "cpu,cpuacct"). hooks may be NULL. */
int crisp_cgroup_root_fake(struct crisp_cgroup_root *root, enum crisp_cgroup_mode mode,
                           const char *dir, const struct crisp_cgroup_fake_hooks *hooks,
                           struct crisp_err *err);

void crisp_cgroup_root_release(struct crisp_cgroup_root *root);

/* The mount of the hierarchy carrying controller c, or NULL. */
const struct crisp_cgroup_hierarchy *crisp_cgroup_root_find(const struct crisp_cgroup_root *root,
                                                            enum crisp_cgroup_controller c);

/* Resources. Each has_* flag says the field is set; unset fields are left as
 * they are in the cgroup, so a zeroed struct changes nothing and a live update
 * touches only what it names. cpuset strings: NULL or "" is unset; arrays: n
 * 0 is unset.
 *
 *   cpu_period   us, 1000..1000000.  v1 cpu.cfs_period_us, v2 cpu.max period
 *   cpu_quota    us, >= 1000; 0 or -1 = unlimited.  v1 cpu.cfs_quota_us (-1),
 *                v2 cpu.max "Q P" / "max P" (a period alone keeps the quota)
 *   cpu_shares   2..262144.  v1 cpu.shares, v2 cpu.weight =
 *                1 + ((shares - 2) * 9999) / 262142 (kubernetes/runc)
 *   cpuset_*     "0-3,8" lists.  cpuset.cpus / cpuset.mems
 *   memory_limit bytes; 0 or -1 = unlimited.  v1 memory.limit_in_bytes (a limit
 *                below usage the kernel cannot reclaim is FAILED_PRECONDITION),
 *                v2 memory.max (a limit below the working set, memory.current minus
 *                inactive_file, is FAILED_PRECONDITION before anything is written)
 *   memory_swap_limit  memory + swap in bytes, >= memory_limit; 0 or -1 =
 *                unlimited; needs has_memory_limit.  v1 memory.memsw.limit_in_bytes,
 *                v2 memory.swap.max = swap - memory (runc). Without swap
 *                accounting an unlimited or no-swap (== memory) value is skipped,
 *                anything else is FAILED_PRECONDITION.
 *   pids_limit   0 or -1 = unlimited.  pids.max
 *   hugepages    page size "2MB"/"1GB", limit in bytes.  v1
 *                hugetlb.<size>.limit_in_bytes, v2 hugetlb.<size>.max; the
 *                .rsvd. files too where they exist. Skipped with a warning when
 *                no hierarchy carries hugetlb (it cannot be enforced); an
 *                unknown size is INVALID_ARGUMENT.
 *   device_rules the devices the container may use (n 0: unset). Everything else is
 *                denied. v1: "a" to devices.deny, then each rule to devices.allow; v2: an
 *                eBPF BPF_PROG_TYPE_CGROUP_DEVICE program (runtime/devices_bpf.h) attached
 *                to the cgroup (BPF_F_ALLOW_MULTI). Applied once, at creation: a second
 *                apply on v2 would add a program, not replace it.
 *   unified      v2 only (INVALID_ARGUMENT on v1): raw "<key>" file writes in
 *                the container's cgroup, written last; the key must be a file
 *                there, without '/', not "."/"..", not cgroup.procs, .threads,
 *                .kill, .subtree_control, .type, .freeze.
 */
struct crisp_cgroup_hugepage {
    char *page_size;
    uint64_t limit;
};

struct crisp_cgroup_unified {
    char *key, *value;
};

/* An allow rule for the device cgroup: type 'a' (any device, major/minor ignored), 'c' or 'b';
 * major/minor -1 = any; access a non-empty subset of "rwm". */
struct crisp_device_rule {
    char type;
    int64_t major, minor;
    char access[4];
};

struct crisp_cgroup_resources {
    bool has_cpu_period, has_cpu_quota, has_cpu_shares;
    int64_t cpu_period, cpu_quota, cpu_shares;
    char *cpuset_cpus, *cpuset_mems;
    bool has_memory_limit, has_memory_swap_limit;
    int64_t memory_limit, memory_swap_limit;
    bool has_pids_limit;
    int64_t pids_limit;
    struct crisp_cgroup_hugepage *hugepages;
    size_t n_hugepages;
    struct crisp_cgroup_unified *unified;
    size_t n_unified;
    const struct crisp_device_rule *device_rules;
    size_t n_device_rules;
};

/* Whether r is well formed (the rules above); false with err filled (INVALID_ARGUMENT). */
int crisp_device_rule_check(const struct crisp_device_rule *r, struct crisp_err *err);

struct crisp_cgroup;

/* Creates "<parent>/<name>" in every hierarchy (each v1 hierarchy mounted,
 * the cgroup2 one on v2), creating missing ancestors. v1 cpuset: a new
 * directory's empty cpuset.cpus/mems are copied from its parent. cgroup2:
 * each ancestor's cgroup.subtree_control gets the controllers its
 * cgroup.controllers offers (cpu cpuset io memory hugetlb pids); ones it
 * refuses are skipped with a warning. An existing cgroup is reused.
 *
 * parent: "" or "/" for the hierarchy root, else '/'-separated components
 * (leading '/' optional) of [A-Za-z0-9._-], no empty, "." or ".." component;
 * a systemd slice name ("kubepods-pod1.slice") is INVALID_ARGUMENT (crisp
 * uses the cgroupfs driver). name: one such component (the container id).
 * On failure, directories it created are removed again. */
int crisp_cgroup_create(const struct crisp_cgroup_root *root, const char *parent, const char *name,
                        struct crisp_cgroup **out, struct crisp_err *err);

/* An existing cgroup (after a crispd restart): NOT_FOUND when no hierarchy
 * has it; hierarchies that miss it are tolerated (destroy handles them). */
int crisp_cgroup_open(const struct crisp_cgroup_root *root, const char *parent, const char *name,
                      struct crisp_cgroup **out, struct crisp_err *err);

/* Writes the set resources; works live. Everything is validated before the
 * first write. Kernel refusals: EINVAL/ERANGE INVALID_ARGUMENT, EBUSY
 * FAILED_PRECONDITION, a missing file (controller not enabled)
 * FAILED_PRECONDITION. */
int crisp_cgroup_apply(struct crisp_cgroup *cg, const struct crisp_cgroup_resources *res,
                       struct crisp_err *err);

/* "<parent>/<name>" relative to a hierarchy root, without a leading '/'. */
const char *crisp_cgroup_path(const struct crisp_cgroup *cg);

/* The files a new single-threaded process joins the cgroup through by
 * writing "0" (v1: "tasks", one per hierarchy; v2: one "cgroup.procs").
 * *files is owned by cg. */
size_t crisp_cgroup_procs_files(const struct crisp_cgroup *cg, const char ***files);

/* Writes pid to every procs file. */
int crisp_cgroup_add_pid(struct crisp_cgroup *cg, pid_t pid, struct crisp_err *err);

/* OOM kills in the cgroup so far: v1 "oom_kill" of memory.oom_control
 * (kernel >= 4.13; older: UNIMPLEMENTED), v2 "oom_kill" of memory.events.
 * Read it before crisp_cgroup_destroy. */
int crisp_cgroup_oom_kills(struct crisp_cgroup *cg, uint64_t *count, struct crisp_err *err);

/* The processes in the cgroup and its descendants (cgroup.procs of one
 * hierarchy: v1 freezer if mounted, else the first). *pids is malloc'd. */
int crisp_cgroup_pids(struct crisp_cgroup *cg, pid_t **pids, size_t *n, struct crisp_err *err);

/* Sends sig to every process in the cgroup and its descendants. v2 SIGKILL:
 * cgroup.kill when present. Otherwise freeze (v1 freezer.state, v2
 * cgroup.freeze; waits up to 1 s for the freeze), signal each pid, thaw;
 * without a freezer, or when freezing fails (logged), the signals go out
 * unfrozen. Never signals pid 1 or the caller. A cgroup already gone is
 * success. Does not wait for the exits. */
int crisp_cgroup_kill_all(struct crisp_cgroup *cg, int sig, struct crisp_err *err);

/* Removes the cgroup, its descendants first, in every hierarchy; a missing
 * directory is fine. EBUSY (tasks still exiting) is retried for up to 2 s,
 * then FAILED_PRECONDITION. cg stays valid (free it). */
int crisp_cgroup_destroy(struct crisp_cgroup *cg, struct crisp_err *err);

void crisp_cgroup_free(struct crisp_cgroup *cg);

/* Stats; the has_* flags say which groups could be read (their controller
 * is there). working_set = usage - inactive_file (cadvisor), rss: v1 total_rss,
 * v2 anon; page faults: v1 total_pgfault/total_pgmajfault, v2
 * pgfault/pgmajfault; memory_limit: v1 memory.limit_in_bytes, v2 memory.max
 * (UINT64_MAX when unlimited). Swap (has_swap): v1 memsw usage minus usage
 * and memsw limit minus limit, v2 memory.swap.current and memory.swap.max;
 * absent without swap accounting. v1 cpuacct.usage, v2 cpu.stat usage_usec *
 * 1000. memory.stat is read once. */
struct crisp_cgroup_stats {
    bool has_cpu, has_memory, has_pids, has_swap;
    uint64_t cpu_usage_ns;
    uint64_t memory_usage, memory_working_set, memory_rss, memory_limit;
    uint64_t memory_pgfault, memory_pgmajfault;
    uint64_t swap_usage, swap_limit;
    uint64_t pids_current;
};

int crisp_cgroup_stats(struct crisp_cgroup *cg, struct crisp_cgroup_stats *out,
                       struct crisp_err *err);

/* The values of a flat keyed text ("key N" lines, memory.stat): for each
 * keys[i] found, vals[i] is set and bit i of the result. Unknown lines and
 * malformed numbers are skipped. */
unsigned crisp_cgroup_parse_keyed(const char *text, const char *const *keys, size_t n_keys,
                                  uint64_t *vals);
