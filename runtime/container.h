/* The low-level container launcher: namespaces, overlay rootfs, /proc /sys /dev, bind mounts,
 * pivot_root, user, rlimits, stdio, then execve. No gRPC, no CRI types: crisp-monitor and crispd
 * describe what they want in a crisp_container_spec and get back a process.
 *
 * Process model (runtime/spawn.h):
 *
 *     caller ──fork──▶ helper ──clone(CLONE_PARENT | CLONE_NEW*)──▶ container init
 *
 * The helper is a short-lived fork of the caller. It closes the caller's fds (but the stdio ones
 * asked for), joins the cgroups and the namespaces to join (pid included: setns of a pid ns only
 * affects children), then clones the container process with CLONE_PARENT so that the process is
 * the CALLER's child (the caller waitpid()s it and gets its exit status; no subreaper needed),
 * reports its pid and exits. The caller's own threads never change namespace, cgroup or
 * credentials. Setup errors travel back over a close-on-exec SOCK_SEQPACKET socketpair.
 * The file system steps are in runtime/rootfs.h, the process steps in runtime/process.h.
 *
 * Requirements on the caller: SIGCHLD must not be ignored and nothing else may reap children
 * with waitpid(-1) while a call runs (the calls reap their helper, and a failed child, by pid);
 * the process must be root in the initial user namespace. The calls block until the child is
 * set up (no timeout: a mount that hangs hangs the call). Every call is thread-safe (nothing
 * global is touched).
 *
 * Not done here yet: SELinux labels, /sys/fs/cgroup inside the container, user namespaces,
 * /dev/console.
 *
 * Ownership: specs are caller-owned and only read during the call. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "util/err.h"

enum crisp_mount_propagation {
    CRISP_PROP_PRIVATE, /* rprivate (CRI "None", the default) */
    CRISP_PROP_RSLAVE,  /* rslave: host mounts appear inside (CRI "HostToContainer") */
    CRISP_PROP_RSHARED, /* rshared inside the container's mount namespace (see below) */
};

/* A bind mount. source is a host path; symlinks in it are followed on the host and it must
 * exist (NOT_FOUND naming it otherwise). destination is a path inside the container: it is
 * resolved inside the rootfs (symlinks cannot lead out of it) and created when missing, as a
 * directory when the source is one, else as an empty file. Bind mounts are recursive.
 * readonly remounts the top mount read-only (submounts keep their flags).
 * CRISP_PROP_RSHARED (Bidirectional): the mount stays a peer of the host's when the host path
 * is on a shared mount, so mounts made under it inside the container appear on the host too;
 * only "/" and the mount holding the rootfs are made private then (instead of "/" rslave), so
 * nothing else mounted for the container reaches the host. */
struct crisp_bind_mount {
    const char *source;
    const char *destination;
    bool readonly;
    enum crisp_mount_propagation propagation;
};

struct crisp_rlimit {
    int resource; /* RLIMIT_* */
    rlim_t soft, hard;
};

/* A seccomp filter for a process (runtime/seccomp.h has the details).
 * CRISP_SECCOMP_RUNTIME_DEFAULT: crisp's own table with the allow-list semantics of the Docker
 * (moby) default profile: EPERM for everything not listed, capability-gated groups decided by
 * the process's capabilities (crisp_process.caps; caps_set false = every capability).
 * CRISP_SECCOMP_PROFILE: profile_json is an OCI LinuxSeccomp object (the "seccomp" member of an
 * OCI runtime spec; Docker's archMap/includes/excludes are understood too). */
enum crisp_seccomp_kind {
    CRISP_SECCOMP_RUNTIME_DEFAULT,
    CRISP_SECCOMP_PROFILE,
};

struct crisp_seccomp {
    enum crisp_seccomp_kind kind;
    const char *profile_json; /* CRISP_SECCOMP_PROFILE only; NULL otherwise */
};

/* A device node made in the container's /dev tmpfs or anywhere else in its root (mknod: crisp
 * runs as root in the initial user namespace). Whether the container may use it is the device
 * cgroup's business (runtime/cgroup.h, crisp_device_rule), not the launcher's. */
struct crisp_device {
    const char *path; /* absolute, inside the container; parents are made (0755) */
    char type;        /* 'c' or 'b' */
    unsigned major, minor;
    mode_t mode; /* permission bits */
    uid_t uid;
    gid_t gid;
};

/* The process to run, shared by crisp_container_create and crisp_container_exec. */
struct crisp_process {
    char *const *argv; /* argv[0]: searched in PATH (from env, else a default) if it has no '/' */
    char *const *env;  /* NULL-terminated "K=V" list; NULL = empty environment */
    const char *cwd;   /* absolute, inside the container; NULL = "/". create: made (mkdir -p,
                          root-owned 0755) when missing; exec: must exist */
    uid_t uid;
    gid_t gid;
    const gid_t *groups; /* supplementary groups; none at all when n_groups == 0 */
    size_t n_groups;
    const struct crisp_rlimit *rlimits;
    size_t n_rlimits;
    bool set_oom_score_adj;
    int oom_score_adj; /* lowering it without CAP_SYS_RESOURCE fails with -EACCES
                          (PERMISSION_DENIED): the caller decides whether to clamp and retry */
    /* Become fds 0, 1, 2; -1 = /dev/null of the container. The caller keeps its fds. Ignored
     * when tty is set. */
    int stdin_fd, stdout_fd, stderr_fd;
    /* A pty is made in the container's own devpts instance; its slave becomes 0, 1, 2 and the
     * controlling terminal (the process is a session leader: setsid + TIOCSCTTY); the master is
     * handed to the caller (crisp_container_take_pty, crisp_exec_result.pty_master). */
    bool tty;
    /* The terminal's size from the start (TIOCSWINSZ on the new pty); 0x0 when not known. */
    uint16_t tty_width, tty_height;
    /* Capabilities (runtime/capabilities.h: numbers, names, the default set, "ALL").
     * caps_set false: no change (uid 0 keeps every capability the caller has; other users get
     * none, as the kernel does on setuid). caps_set true: the bounding set becomes exactly caps
     * (before the ids change); then uid 0 gets caps as its effective, permitted and inheritable
     * sets, any other uid gets all three empty (docker/containerd semantics: a non-root
     * process only gains capabilities through file capabilities, capped by the bounding set);
     * ambient is cleared. Applied last, after everything that needs privileges (mounts, cwd,
     * oom_score_adj). n_caps == 0 with caps_set drops everything. Every entry must be a
     * capability the kernel knows (INVALID_ARGUMENT) and one the caller has in its bounding set
     * (PERMISSION_DENIED naming it). */
    const int *caps;
    size_t n_caps;
    bool caps_set;
    /* prctl(PR_SET_NO_NEW_PRIVS) right before execve (CRI allowPrivilegeEscalation: false). */
    bool no_new_privs;
    /* NULL: unconfined. Otherwise checked before anything is spawned (INVALID_ARGUMENT naming
     * the field of a bad profile), compiled in the process during create/exec (what libseccomp
     * refuses fails there too) and installed as late as the kernel allows: with no_new_privs
     * right after it, just before execve (nothing else runs under the filter); without, while
     * the process still has CAP_SYS_ADMIN, i.e. before the ids and the final capability sets
     * change (runc's order: the filter then also sees setgroups/setresgid/setresuid, openat
     * and fstat of /dev/null, fcntl/dup2/close/close_range, chdir/getcwd, prctl/capget/capset,
     * sendmsg/recvmsg (READY, START), rt_sigprocmask, umask, execve and malloc's brk/mmap, all
     * of which the default table allows; a custom profile has to allow them too). */
    const struct crisp_seccomp *seccomp;
    /* An AppArmor profile the host has loaded: "exec <profile>" is written to
     * /proc/self/attr/apparmor/exec (or /proc/self/attr/exec) right before no_new_privs and
     * execve, so the kernel switches profile at exec. NULL: no change. */
    const char *apparmor_profile;
};

struct crisp_container_spec {
    /* Root filesystem: an overlay of lowerdirs (bottom layer FIRST) + upperdir/workdir (same
     * file system, caller-created, empty) mounted at rootfs (an existing empty directory), in
     * the container's mount namespace only: the caller never sees that mount. Mounted with the
     * new mount API ("lowerdir+" per layer: no limit on the number of layers, each path < 256
     * bytes) and, on kernels without it, with mount(2), using lowerdir paths relative to
     * their common parent when the option string would not fit in a page.
     * n_lowerdirs == 0: rootfs is used as it is (bind-mounted on itself); upperdir/workdir
     * must then be NULL. */
    const char *const *lowerdirs;
    size_t n_lowerdirs;
    const char *upperdir, *workdir;
    const char *rootfs;
    bool readonly_rootfs; /* "/" remounted read-only once everything is mounted */

    /* Namespaces to join: paths of nsfs files (/run/crisp/pods/<id>/ns/net, /proc/<pid>/ns/ipc).
     * NULL = a new, empty namespace. host_* = stay in the caller's namespace (then the path must
     * be NULL). The mount and cgroup namespaces are always new. */
    const char *netns, *ipcns, *utsns, *pidns;
    bool host_net, host_ipc, host_uts, host_pid;
    const char *hostname; /* set when not NULL; not allowed with host_uts */

    /* cgroup.procs (v1: cgroup.procs or tasks) files the container joins, one per hierarchy.
     * The helper writes itself into each before cloning: the container is born inside the
     * cgroups, and its new cgroup namespace is rooted there. */
    const char *const *cgroup_procs_files;
    size_t n_cgroup_procs_files;

    /* Mounted after /proc, /sys and /dev, in order: CRI mounts, /etc/hosts, /etc/resolv.conf,
     * /etc/hostname, the pod's /dev/shm (a destination of /dev/shm replaces the private shm). */
    const struct crisp_bind_mount *mounts;
    size_t n_mounts;

    /* Absolute paths inside the container, applied after the mounts above (read-only ones
     * first, then masked ones), each resolved inside the root (symlinks never lead out of it);
     * a path that does not exist is skipped. Masked: a directory gets an empty read-only tmpfs
     * over it, anything else the container's /dev/null (which must be the null device) bound
     * over it. Read-only: bind-mounted (recursively) on itself and remounted read-only, keeping
     * its nosuid/nodev/noexec flags. */
    const char *const *masked_paths;
    size_t n_masked_paths;
    const char *const *readonly_paths;
    size_t n_readonly_paths;

    /* Device nodes made after /dev is populated (an existing non-directory at the path is
     * replaced). host_devices: every character and block device of the host's /dev is made too,
     * with its mode and owner (privileged containers; /dev/pts, /dev/shm, /dev/mqueue and the
     * default nodes are the container's own). */
    const struct crisp_device *devices;
    size_t n_devices;
    bool host_devices;
    /* /sys mounted read-write (privileged) instead of read-only. */
    bool sys_writable;

    struct crisp_process process;
};

struct crisp_container;

/* Creates the container: the process is set up (namespaces, cgroups, mounts, pivot_root,
 * rlimits, user, cwd, stdio, fds >= 3 closed) and then blocks just before execve until
 * crisp_container_start (runc create/start). *out is the handle (free it with
 * crisp_container_free). On failure nothing is left behind: the process is killed and reaped.
 * Errors inside the container's setup come back with their code and message (e.g. NOT_FOUND
 * "bind mount source \"/x\": No such file or directory"). */
int crisp_container_create(const struct crisp_container_spec *spec, struct crisp_container **out,
                           struct crisp_err *err);

/* Lets the process execve and waits until the exec has happened (the sync channel is close-on-
 * exec, so its EOF means success). An exec failure comes back here: FAILED_PRECONDITION
 * "exec \"foo\": executable file not found in $PATH" or "exec \"/bin/foo\": no such file in
 * the container", with -errno; the process has then exited and been reaped. */
int crisp_container_start(struct crisp_container *c, struct crisp_err *err);

/* The container process's pid in the caller's pid namespace. It is the caller's child. */
pid_t crisp_container_pid(const struct crisp_container *c);

/* The pty master (tty only), once: the caller then owns the fd. -1 when none (or taken). */
int crisp_container_take_pty(struct crisp_container *c);

/* Releases the handle and its fds; does not kill and does not reap. A container never started
 * sees its channel close and exits with status 1 (the caller still reaps it). */
void crisp_container_free(struct crisp_container *c);

/* crisp_container_exec: a new process inside a running container. */
struct crisp_exec_spec {
    struct crisp_process process;
    /* The container's cgroup.procs files (the process joins them). With none, the process stays
     * in the caller's cgroups: do not do that for untrusted commands. */
    const char *const *cgroup_procs_files;
    size_t n_cgroup_procs_files;
};

struct crisp_exec_result {
    pid_t pid;      /* in the caller's pid namespace; the caller's child: waitpid() it */
    int pty_master; /* process.tty: owned by the caller; -1 otherwise */
};

/* Runs spec->process in the namespaces of container_pid (mount, pid, net, ipc, uts, cgroup,
 * joined at once through a pidfd) after joining the cgroups. Returns once the execve has
 * happened; an exec failure is returned (as for start) and the process reaped. */
int crisp_container_exec(pid_t container_pid, const struct crisp_exec_spec *spec,
                         struct crisp_exec_result *out, struct crisp_err *err);
