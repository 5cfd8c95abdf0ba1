/* The monitor spec: what crispd hands to crisp-monitor in <container dir>/spec.json. It holds
 * everything needed to build a crisp_container_spec (runtime/container.h), plus what only the
 * monitor needs: the CRI log path, where to read the OOM-kill counter, the container id.
 *
 * JSON (written by crisp_monitor_spec_write, field names as in the struct; a NULL string or an
 * unset value is left out; unknown keys are ignored on read):
 *
 *   {"version": 1, "container_id": "...",
 *    "lowerdirs": ["/bottom", ...], "upperdir": "...", "workdir": "...", "rootfs": "...",
 *    "readonly_rootfs": false,
 *    "netns": "...", "ipcns": ..., "utsns": ..., "pidns": ..., "host_net": false, "host_ipc": ...,
 *    "host_uts": ..., "host_pid": ..., "hostname": "...",
 *    "cgroup_procs_files": ["..."],
 *    "mounts": [{"source": "...", "destination": "...", "readonly": false,
 *                "propagation": "private" | "rslave" | "rshared"}],
 *    "masked_paths": ["/proc/kcore", ...], "readonly_paths": ["/proc/sys", ...],
 *    "process": {"argv": [...], "env": ["K=V", ...], "cwd": "/", "uid": 0, "gid": 0,
 *                "groups": [...], "rlimits": [{"type": "RLIMIT_NOFILE", "soft": N, "hard": N}],
 *                "oom_score_adj": N (absent: not set), "tty": false, "stdin": false,
 *                "stdin_once": false,
 *                "caps": ["CAP_CHOWN", ...] (absent or null: not set; [] = none at all),
 *                "no_new_privs": false,
 *                "seccomp": {"kind": "runtime_default"}
 *                         | {"kind": "profile", "profile": "<OCI LinuxSeccomp JSON text>"}
 *                           (absent or null: unconfined)},
 *    "devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "mode": 438,
 *                 "uid": 0, "gid": 0}],
 *    "host_devices": false, "sys_writable": false, "apparmor_profile": "name",
 *    "log_path": "...", "oom_file": "...", "oom_key": "..."}
 *
 * Capability names are written "CAP_CHOWN"; on read the prefix is optional and case does not
 * matter (runtime/capabilities.h); an unknown name is INVALID_ARGUMENT naming it. Absent
 * masked_paths, readonly_paths, caps, no_new_privs and seccomp keep the launcher's behaviour from
 * before they existed (nothing masked, every root capability, no no_new_privs, no filter).
 * A seccomp profile is checked on read (runtime/seccomp.h: parsed and compiled for the spec's
 * capabilities), so that a bad one fails the container's creation, not its start:
 * INVALID_ARGUMENT "monitor spec <path>: \"process.seccomp\": seccomp profile: syscalls[3].action:
 * unknown action \"X\"". Writing checks the kind and that a profile is there.
 * An rlimit value of -1 means RLIM_INFINITY. On read, an empty string is the same as an absent
 * one (NULL): "" log_path = no log, "" netns = a new namespace. The file is written 0600 (the
 * environment may hold secrets).
 *
 * Ownership: a crisp_monitor_spec owns every string and array it points to (the const in
 * crisp_bind_mount is the launcher's view; the spec still frees them); crisp_monitor_spec_free
 * releases them. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "runtime/cgroup.h"
#include "runtime/container.h"
#include "util/err.h"

#define CRISP_MONITOR_SPEC_VERSION 1
#define CRISP_MONITOR_SPEC_MAX     (16u << 20) /* bytes: larger spec files are refused */

struct crisp_monitor_spec {
    char *container_id; /* for log lines */

    /* Root file system (crisp_container_spec): lowerdirs bottom layer first; none = rootfs is
     * used as it is (then upperdir/workdir NULL). rootfs is required. */
    char **lowerdirs;
    size_t n_lowerdirs;
    char *upperdir, *workdir, *rootfs;
    bool readonly_rootfs;

    /* nsfs paths to join; NULL = a new namespace; host_* = the caller's (path NULL). */
    char *netns, *ipcns, *utsns, *pidns;
    bool host_net, host_ipc, host_uts, host_pid;
    char *hostname; /* NULL = not set */

    char **cgroup_procs_files;
    size_t n_cgroup_procs_files;

    /* source and destination are owned by the spec (malloc'd). */
    struct crisp_bind_mount *mounts;
    size_t n_mounts;

    /* Absolute paths inside the container (crisp_container_spec). */
    char **masked_paths;
    size_t n_masked_paths;
    char **readonly_paths;
    size_t n_readonly_paths;

    /* The process. argv and env are NULL-terminated; argv has at least one entry. */
    char **argv;
    char **env; /* NULL = empty environment */
    char *cwd;  /* NULL = "/" */
    uid_t uid;
    gid_t gid;
    gid_t *groups;
    size_t n_groups;
    struct crisp_rlimit *rlimits;
    size_t n_rlimits;
    bool set_oom_score_adj;
    int oom_score_adj;
    bool tty;        /* a pty: stdout and stderr are one stream, logged as "stdout" */
    bool stdin;      /* keep a stdin pipe (or the pty) open for attach; else /dev/null */
    bool stdin_once; /* close stdin after the first attach ends (for attach; kept as given) */
    /* Capability numbers (crisp_process.caps); caps_set false = not set (written without
     * "caps"); caps_set with n_caps == 0 = none. */
    int *caps;
    size_t n_caps;
    bool caps_set;
    bool no_new_privs;
    /* crisp_process.seccomp: seccomp_set false = unconfined (written without "seccomp");
     * seccomp.profile_json (CRISP_SECCOMP_PROFILE only) is owned by the spec (malloc'd). */
    bool seccomp_set;
    struct crisp_seccomp seccomp;

    /* crisp_container_spec.devices (paths owned), .host_devices, .sys_writable;
     * crisp_process.apparmor_profile (NULL = none). pkg/monitor/spec_security.c. */
    struct crisp_device *devices;
    size_t n_devices;
    bool host_devices, sys_writable;
    char *apparmor_profile;
    /* crispd only, never written to spec.json: the device cgroup's allow rules, applied when
     * the cgroup is made (pkg/container/ctr_devices.c). */
    struct crisp_device_rule *device_rules;
    size_t n_device_rules;

    char *log_path; /* absolute; NULL = no CRI log (the output is drained and dropped) */
    /* OOM-kill counter: the line "<oom_key> <N>" of oom_file, e.g. ".../memory.events" +
     * "oom_kill" (v2) or ".../memory.oom_control" + "oom_kill" (v1). NULL = not tracked. */
    char *oom_file, *oom_key;
};

/* Writes s as JSON to path atomically (crisp_write_file_atomic, mode 0600). */
int crisp_monitor_spec_write(const char *path, const struct crisp_monitor_spec *s,
                             struct crisp_err *err);

/* Reads and checks path (INVALID_ARGUMENT naming the field when it is malformed). *s is
 * overwritten; on success the caller frees it with crisp_monitor_spec_free; on failure nothing
 * is left to free. */
int crisp_monitor_spec_read(const char *path, struct crisp_monitor_spec *s, struct crisp_err *err);

/* Frees what s owns and zeroes it; NULL-safe, idempotent. */
void crisp_monitor_spec_free(struct crisp_monitor_spec *s);

/* Fills *out from s: every pointer points into s (no copies: s must outlive out). The stdio
 * fds are set to -1 for the caller to fill. Returns 0, or -EINVAL when s has no argv. */
int crisp_monitor_spec_to_container_spec(const struct crisp_monitor_spec *s,
                                         struct crisp_container_spec *out);
