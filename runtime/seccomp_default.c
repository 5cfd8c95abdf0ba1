/* The RuntimeDefault filter: crisp's own table. Its semantics are those of the Docker (moby)
 * default profile (profiles/seccomp/default.json, compared against its 2023 form, after
 * AF_VSOCK sockets were refused and with io_uring_* removed as moby and containerd 2.0 did):
 * ERRNO(EPERM) by default, an allow-list, and groups opened by the capabilities the process
 * ends up with. Names this libseccomp does not know, or that do not exist on an architecture
 * of the filter, are skipped there; the arch-specific names (arm_*, s390_*, ...) therefore only
 * count where they exist, as moby's per-arch includes do. Kernel >= 4.8 is assumed (moby's
 * minKernel for ptrace: seccomp can no longer be bypassed through ptrace). */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/capability.h>
#include <sched.h>
#include <stddef.h>
#include <sys/personality.h>
#include <sys/socket.h>

#include "runtime/seccomp_internal.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Allowed whatever the capabilities. */
static const char *const allowed[] = {
    /* files, directories, fds */
    "access",
    "chdir",
    "chmod",
    "chown",
    "chown32",
    "close",
    "close_range",
    "copy_file_range",
    "creat",
    "dup",
    "dup2",
    "dup3",
    "faccessat",
    "faccessat2",
    "fadvise64",
    "fadvise64_64",
    "fallocate",
    "fchdir",
    "fchmod",
    "fchmodat",
    "fchown",
    "fchown32",
    "fchownat",
    "fcntl",
    "fcntl64",
    "fdatasync",
    "flock",
    "fstat",
    "fstat64",
    "fstatat64",
    "fstatfs",
    "fstatfs64",
    "fsync",
    "ftruncate",
    "ftruncate64",
    "futimesat",
    "getcwd",
    "getdents",
    "getdents64",
    "lchown",
    "lchown32",
    "link",
    "linkat",
    "_llseek",
    "lseek",
    "lstat",
    "lstat64",
    "mkdir",
    "mkdirat",
    "mknod",
    "mknodat",
    "name_to_handle_at",
    "newfstatat",
    "open",
    "openat",
    "openat2",
    "pread64",
    "preadv",
    "preadv2",
    "pwrite64",
    "pwritev",
    "pwritev2",
    "read",
    "readahead",
    "readlink",
    "readlinkat",
    "readv",
    "rename",
    "renameat",
    "renameat2",
    "rmdir",
    "sendfile",
    "sendfile64",
    "splice",
    "stat",
    "stat64",
    "statfs",
    "statfs64",
    "statx",
    "symlink",
    "symlinkat",
    "sync",
    "sync_file_range",
    "syncfs",
    "tee",
    "truncate",
    "truncate64",
    "umask",
    "unlink",
    "unlinkat",
    "utime",
    "utimensat",
    "utimensat_time64",
    "utimes",
    "vmsplice",
    "write",
    "writev",
    /* extended attributes */
    "fgetxattr",
    "flistxattr",
    "fremovexattr",
    "fsetxattr",
    "getxattr",
    "lgetxattr",
    "listxattr",
    "llistxattr",
    "lremovexattr",
    "lsetxattr",
    "removexattr",
    "setxattr",
    /* waiting for events */
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_ctl_old",
    "epoll_pwait",
    "epoll_pwait2",
    "epoll_wait",
    "epoll_wait_old",
    "eventfd",
    "eventfd2",
    "fanotify_mark",
    "inotify_add_watch",
    "inotify_init",
    "inotify_init1",
    "inotify_rm_watch",
    "_newselect",
    "pause",
    "poll",
    "ppoll",
    "ppoll_time64",
    "pselect6",
    "pselect6_time64",
    "select",
    "signalfd",
    "signalfd4",
    "timerfd_create",
    "timerfd_gettime",
    "timerfd_gettime64",
    "timerfd_settime",
    "timerfd_settime64",
    /* ioctl and POSIX AIO (not io_uring) */
    "ioctl",
    "io_cancel",
    "io_destroy",
    "io_getevents",
    "io_pgetevents",
    "io_pgetevents_time64",
    "io_setup",
    "io_submit",
    /* memory */
    "brk",
    "madvise",
    "membarrier",
    "memfd_create",
    "memfd_secret",
    "mincore",
    "mlock",
    "mlock2",
    "mlockall",
    "mmap",
    "mmap2",
    "mprotect",
    "mremap",
    "msync",
    "munlock",
    "munlockall",
    "munmap",
    "pkey_alloc",
    "pkey_free",
    "pkey_mprotect",
    "remap_file_pages",
    /* processes and threads (clone and clone3 below) */
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "fork",
    "vfork",
    "wait4",
    "waitid",
    "waitpid",
    "futex",
    "futex_time64",
    "futex_waitv",
    "get_robust_list",
    "set_robust_list",
    "get_thread_area",
    "set_thread_area",
    "set_tid_address",
    "getpgid",
    "getpgrp",
    "getpid",
    "getppid",
    "getsid",
    "gettid",
    "setpgid",
    "setsid",
    "prctl",
    "rseq",
    "restart_syscall",
    "seccomp",
    "kill",
    "tgkill",
    "tkill",
    "pidfd_open",
    "pidfd_send_signal",
    "process_mrelease",
    "landlock_add_rule",
    "landlock_create_ruleset",
    "landlock_restrict_self",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    /* signals and timers */
    "alarm",
    "getitimer",
    "setitimer",
    "rt_sigaction",
    "rt_sigpending",
    "rt_sigprocmask",
    "rt_sigqueueinfo",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "rt_sigtimedwait_time64",
    "rt_tgsigqueueinfo",
    "sigaltstack",
    "sigprocmask",
    "sigreturn",
    /* credentials (the capabilities decide what succeeds) */
    "capget",
    "capset",
    "getegid",
    "getegid32",
    "geteuid",
    "geteuid32",
    "getgid",
    "getgid32",
    "getgroups",
    "getgroups32",
    "getresgid",
    "getresgid32",
    "getresuid",
    "getresuid32",
    "getuid",
    "getuid32",
    "setfsgid",
    "setfsgid32",
    "setfsuid",
    "setfsuid32",
    "setgid",
    "setgid32",
    "setgroups",
    "setgroups32",
    "setregid",
    "setregid32",
    "setresgid",
    "setresgid32",
    "setresuid",
    "setresuid32",
    "setreuid",
    "setreuid32",
    "setuid",
    "setuid32",
    /* scheduling, priorities, limits */
    "getcpu",
    "getpriority",
    "setpriority",
    "ioprio_get",
    "ioprio_set",
    "getrlimit",
    "setrlimit",
    "prlimit64",
    "ugetrlimit",
    "getrusage",
    "sched_getaffinity",
    "sched_getattr",
    "sched_getparam",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_getscheduler",
    "sched_rr_get_interval",
    "sched_rr_get_interval_time64",
    "sched_setaffinity",
    "sched_setattr",
    "sched_setparam",
    "sched_setscheduler",
    "sched_yield",
    /* clocks (setting them: CAP_SYS_TIME below; adjtimex and clock_adjtime only read without
     * it) */
    "adjtimex",
    "clock_adjtime",
    "clock_adjtime64",
    "clock_getres",
    "clock_getres_time64",
    "clock_gettime",
    "clock_gettime64",
    "clock_nanosleep",
    "clock_nanosleep_time64",
    "gettimeofday",
    "nanosleep",
    "time",
    "times",
    "timer_create",
    "timer_delete",
    "timer_getoverrun",
    "timer_gettime",
    "timer_gettime64",
    "timer_settime",
    "timer_settime64",
    /* sockets (socket itself below) */
    "accept",
    "accept4",
    "bind",
    "connect",
    "getpeername",
    "getsockname",
    "getsockopt",
    "listen",
    "recv",
    "recvfrom",
    "recvmmsg",
    "recvmmsg_time64",
    "recvmsg",
    "send",
    "sendmmsg",
    "sendmsg",
    "sendto",
    "setsockopt",
    "shutdown",
    "socketcall",
    "socketpair",
    /* pipes, System V and POSIX IPC */
    "pipe",
    "pipe2",
    "ipc",
    "mq_getsetattr",
    "mq_notify",
    "mq_open",
    "mq_timedreceive",
    "mq_timedreceive_time64",
    "mq_timedsend",
    "mq_timedsend_time64",
    "mq_unlink",
    "msgctl",
    "msgget",
    "msgrcv",
    "msgsnd",
    "semctl",
    "semget",
    "semop",
    "semtimedop",
    "semtimedop_time64",
    "shmat",
    "shmctl",
    "shmdt",
    "shmget",
    /* the system */
    "getrandom",
    "sysinfo",
    "uname",
    /* architecture-specific: x86, arm, powerpc, s390, riscv */
    "arch_prctl",
    "modify_ldt",
    "arm_fadvise64_64",
    "arm_sync_file_range",
    "sync_file_range2",
    "breakpoint",
    "cacheflush",
    "set_tls",
    "swapcontext",
    "s390_pci_mmio_read",
    "s390_pci_mmio_write",
    "s390_runtime_instr",
    "riscv_flush_icache",
};

static const char *const sys_admin[] = {
    "bpf",           "clone",         "clone3",      "fanotify_init",   "fsconfig",
    "fsmount",       "fsopen",        "fspick",      "lookup_dcookie",  "mount",
    "mount_setattr", "move_mount",    "open_tree",   "perf_event_open", "quotactl",
    "quotactl_fd",   "setdomainname", "sethostname", "setns",           "syslog",
    "umount",        "umount2",       "unshare",
};
static const char *const dac_read_search[] = {"open_by_handle_at"};
static const char *const sys_boot[] = {"reboot"};
static const char *const sys_chroot[] = {"chroot"};
static const char *const sys_module[] = {"delete_module", "init_module", "finit_module"};
static const char *const sys_pacct[] = {"acct"};
static const char *const sys_ptrace[] = {
    "kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace"};
static const char *const sys_rawio[] = {"iopl", "ioperm"};
static const char *const sys_time[] = {"settimeofday", "stime", "clock_settime", "clock_settime64"};
static const char *const sys_tty_config[] = {"vhangup"};
static const char *const sys_nice[] = {"get_mempolicy", "mbind", "set_mempolicy",
                                       "set_mempolicy_home_node"};
static const char *const syslog_[] = {"syslog"};
static const char *const bpf_[] = {"bpf"};
static const char *const perfmon[] = {"perf_event_open"};

static const struct {
    int cap;
    const char *const *names;
    size_t n;
} gated[] = {
    {CAP_SYS_ADMIN, sys_admin, N(sys_admin)},
    {CAP_DAC_READ_SEARCH, dac_read_search, N(dac_read_search)},
    {CAP_SYS_BOOT, sys_boot, N(sys_boot)},
    {CAP_SYS_CHROOT, sys_chroot, N(sys_chroot)},
    {CAP_SYS_MODULE, sys_module, N(sys_module)},
    {CAP_SYS_PACCT, sys_pacct, N(sys_pacct)},
    {CAP_SYS_PTRACE, sys_ptrace, N(sys_ptrace)},
    {CAP_SYS_RAWIO, sys_rawio, N(sys_rawio)},
    {CAP_SYS_TIME, sys_time, N(sys_time)},
    {CAP_SYS_TTY_CONFIG, sys_tty_config, N(sys_tty_config)},
    {CAP_SYS_NICE, sys_nice, N(sys_nice)},
    {CAP_SYSLOG, syslog_, N(syslog_)},
    {CAP_BPF, bpf_, N(bpf_)},
    {CAP_PERFMON, perfmon, N(perfmon)},
};

/* personality(2) values moby allows: PER_LINUX, PER_LINUX32, UNAME26 alone and with
 * PER_LINUX32, and 0xffffffff (query). */
static const unsigned long personalities[] = {PER_LINUX, PER_LINUX32, UNAME26,
                                              UNAME26 | PER_LINUX32, 0xffffffffUL};

#define CLONE_NAMESPACES                                                                           \
    (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET |     \
     CLONE_NEWCGROUP)

static int add(struct crisp_seccomp_filter *f, const char *name, uint32_t action, unsigned int n,
               const struct scmp_arg_cmp *conds, struct crisp_err *err)
{
    int r = crisp_seccomp_filter_rule(f, name, action, n, conds);
    if (r < 0)
        return crisp_syserrf(err, -r, "seccomp RuntimeDefault: rule for %s", name);
    return 0;
}

static int add_all(struct crisp_seccomp_filter *f, const char *const *names, size_t n,
                   struct crisp_err *err)
{
    for (size_t i = 0; i < n; i++) {
        int r = add(f, names[i], SCMP_ACT_ALLOW, 0, NULL, err);
        if (r < 0)
            return r;
    }
    return 0;
}

/* The native architecture's sub-architectures, as moby's archMap has them. */
static int add_arches(struct crisp_seccomp_filter *f, struct crisp_err *err)
{
    static const struct {
        uint32_t native, sub[2];
    } arch_map[] = {
        {SCMP_ARCH_X86_64, {SCMP_ARCH_X86, SCMP_ARCH_X32}},
        {SCMP_ARCH_AARCH64, {SCMP_ARCH_ARM, 0}},
        {SCMP_ARCH_MIPS64, {SCMP_ARCH_MIPS, SCMP_ARCH_MIPS64N32}},
        {SCMP_ARCH_MIPS64N32, {SCMP_ARCH_MIPS, SCMP_ARCH_MIPS64}},
        {SCMP_ARCH_MIPSEL64, {SCMP_ARCH_MIPSEL, SCMP_ARCH_MIPSEL64N32}},
        {SCMP_ARCH_MIPSEL64N32, {SCMP_ARCH_MIPSEL, SCMP_ARCH_MIPSEL64}},
        {SCMP_ARCH_S390X, {SCMP_ARCH_S390, 0}},
    };
    uint32_t native = crisp_seccomp_native_arch();
    for (size_t i = 0; i < N(arch_map); i++)
        for (size_t j = 0; arch_map[i].native == native && j < 2 && arch_map[i].sub[j]; j++) {
            int r = crisp_seccomp_filter_add_arch(f, arch_map[i].sub[j]);
            if (r < 0)
                return crisp_syserrf(err, -r, "seccomp RuntimeDefault: add architecture");
        }
    return 0;
}

int crisp_seccomp_default_build(struct crisp_seccomp_filter *f, const struct crisp_process *p,
                                struct crisp_err *err)
{
    if (crisp_seccomp_filter_init(f, p, SCMP_ACT_ERRNO(EPERM), false) < 0)
        return crisp_syserrf(err, ENOMEM, "seccomp RuntimeDefault");
    int r = add_arches(f, err);
    if (r == 0)
        r = add_all(f, allowed, N(allowed), err);
    for (size_t i = 0; r == 0 && i < N(gated); i++)
        if (crisp_seccomp_has_cap(p, gated[i].cap))
            r = add_all(f, gated[i].names, gated[i].n, err);
    /* every socket family but AF_VSOCK (it reaches the host's vsock endpoints) */
    const struct scmp_arg_cmp not_vsock = SCMP_A0(SCMP_CMP_NE, AF_VSOCK);
    if (r == 0)
        r = add(f, "socket", SCMP_ACT_ALLOW, 1, &not_vsock, err);
    for (size_t i = 0; r == 0 && i < N(personalities); i++) {
        const struct scmp_arg_cmp is = SCMP_A0(SCMP_CMP_EQ, personalities[i]);
        r = add(f, "personality", SCMP_ACT_ALLOW, 1, &is, err);
    }
    if (r == 0 && !crisp_seccomp_has_cap(p, CAP_SYS_ADMIN)) {
        /* clone without namespace flags (s390 passes the flags second); clone3 keeps its flags
         * in memory where a filter cannot see them: ENOSYS makes libc fall back to clone */
        uint32_t native = crisp_seccomp_native_arch();
        unsigned int flags_arg = native == SCMP_ARCH_S390X || native == SCMP_ARCH_S390 ? 1 : 0;
        const struct scmp_arg_cmp no_ns =
            SCMP_CMP(flags_arg, SCMP_CMP_MASKED_EQ, (scmp_datum_t)CLONE_NAMESPACES, 0);
        r = add(f, "clone", SCMP_ACT_ALLOW, 1, &no_ns, err);
        if (r == 0)
            r = add(f, "clone3", SCMP_ACT_ERRNO(ENOSYS), 0, NULL, err);
    }
    if (r < 0)
        crisp_seccomp_filter_release(f);
    return r;
}
