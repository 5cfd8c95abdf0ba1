/* Seccomp filters for containers and exec'd processes (crisp_process.seccomp,
 * runtime/container.h), built with libseccomp and installed by the launcher.
 *
 * RuntimeDefault (runtime/seccomp_default.c) is crisp's own table with the allow-list semantics
 * of the widely used Docker (moby) default profile: EPERM for every syscall not listed;
 * capability-gated groups (CAP_SYS_ADMIN: mount, umount2, unshare, setns, sethostname, clone
 * with namespace flags, ...; CAP_SYS_PTRACE, CAP_BPF, CAP_PERFMON, ... their own); clone without
 * CAP_SYS_ADMIN only when its flags hold no CLONE_NEW*; clone3 without CAP_SYS_ADMIN answered
 * ENOSYS (so that libc falls back to clone, whose flags can be checked); keyctl, add_key,
 * request_key, userfaultfd, io_uring_*, AF_VSOCK sockets not allowed; personality only with
 * the values moby allows. The capabilities are the process's (caps; caps_set false = all).
 *
 * A profile (runtime/seccomp_profile.c) is an OCI LinuxSeccomp JSON object: defaultAction,
 * defaultErrnoRet, architectures, flags, syscalls[{names, action, errnoRet, args[{index, value,
 * valueTwo, op}]}]. Actions SCMP_ACT_ALLOW, ERRNO (errnoRet, default EPERM), KILL (= KILL_THREAD),
 * KILL_THREAD, KILL_PROCESS, TRAP, TRACE (errnoRet is the tracer's message, default EPERM), LOG;
 * SCMP_ACT_NOTIFY and listenerPath are refused. Ops SCMP_CMP_NE, LT, LE, EQ, GE, GT, MASKED_EQ
 * (value is the mask, valueTwo the datum). Syscall names this libseccomp does not know are
 * skipped (as runc does); rules whose action is the default action are no-ops; when two
 * conditions of one rule test the same argument, each condition becomes a rule of its own
 * (runc's behaviour: libseccomp cannot AND them). architectures: "SCMP_ARCH_X86_64" and the
 * like (X86, X86_64, X32, ARM, AARCH64, MIPS*, PPC*, S390*, PARISC*, RISCV64, of the native byte
 * order); the native one is always in; a syscall made through an ABI the filter does not list
 * (int $0x80 without SCMP_ARCH_X86) kills the process (libseccomp's bad-arch action). flags:
 * SECCOMP_FILTER_FLAG_LOG, SECCOMP_FILTER_FLAG_SPEC_ALLOW, SECCOMP_FILTER_FLAG_TSYNC (a no-op:
 * the process is single-threaded). Docker's form is understood as well: archMap (the entry for
 * the native architecture), "name", and includes/excludes {caps, arches, minKernel} decided by
 * the process's capabilities, the native architecture ("amd64" or "x86_64" here) and the
 * running kernel. Unknown keys are ignored; every other mistake is INVALID_ARGUMENT naming the
 * field: "seccomp profile: syscalls[3].action: unknown action \"X\"".
 *
 * Both kinds: with a default action of ERRNO, a syscall numbered above every syscall the
 * filter names (for its architecture) gets ENOSYS instead, as runc does, so that a libc probing
 * a syscall newer than the profile (fchmodat2, ...) falls back instead of failing with EPERM.
 *
 * crisp_seccomp_validate is thread-safe; crisp_rt_seccomp_apply only runs in the launched
 * process. */
#pragma once

#include "runtime/container.h"
#include "util/err.h"

/* Checks sc for p (p NULL = every capability) before anything is spawned: the kind and, for a
 * profile, the JSON and every field (names, actions, errnoRet ranges, args, ops,
 * architectures, flags, includes/excludes). INVALID_ARGUMENT. NULL sc: 0. Runs no libseccomp
 * code (crisp-monitor, which calls it for every container it starts, stays small); what only
 * libseccomp or the kernel can refuse (a rule, a program over 4096 instructions) is found when
 * the process builds its filter, still during crisp_container_create / _exec. */
int crisp_seccomp_validate(const struct crisp_seccomp *sc, const struct crisp_process *p,
                           struct crisp_err *err);

/* ---- launcher step (runtime/process.c, runtime/execve.c) ---- */

enum crisp_rt_seccomp_stage {
    /* crisp_rt_become_process, before the ids and capabilities change: without
     * no_new_privs the kernel only lets a process holding CAP_SYS_ADMIN install a filter */
    CRISP_RT_SECCOMP_PRIVILEGED,
    /* crisp_rt_exec, right after PR_SET_NO_NEW_PRIVS: the last step before execve */
    CRISP_RT_SECCOMP_BEFORE_EXEC,
};

/* Builds p->seccomp's program at the PRIVILEGED stage (errors come back from create/exec) and
 * installs it at the stage that fits p: BEFORE_EXEC when p->no_new_privs, PRIVILEGED
 * otherwise; a no-op when p->seccomp is NULL. Nothing of libseccomp runs once the filter is
 * in: the program is exported and installed with seccomp(2) directly. Keeps the program in a
 * static between the two stages: only for the launcher's own single-threaded process. */
int crisp_rt_seccomp_apply(const struct crisp_process *p, enum crisp_rt_seccomp_stage stage,
                           struct crisp_err *err);
