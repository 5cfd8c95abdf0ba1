/* The fork chain shared by crisp_container_create and crisp_container_exec:
 *
 *     caller ──fork()──▶ helper ──clone(CLONE_PARENT | flags)──▶ child
 *
 * The helper (a plain fork, single-threaded) drops its dumpable flag, runs enter() to join
 * cgroups and namespaces (setns of a pid ns only applies to children, hence the helper), clones
 * the child with CLONE_PARENT so that the child is the caller's own child (waitpid works, no
 * subreaper needed), sends its pid and exits. The clone is the raw syscall without a new stack
 * (fork semantics: the child runs on a copy of the helper's stack; no clone() trampoline, which
 * also keeps ASan happy); glibc's fork handlers do not run, which is fine because the helper has
 * a single thread. The child runs run() and never returns: on failure the error goes to the
 * caller as an ERROR message and the child exits 1. With share_memory the child is cloned with
 * CLONE_VM | CLONE_VFORK on an mmap'd stack through glibc's clone() (posix_spawn's way).
 *
 * The caller's threads never change namespace, cgroup or credentials. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "util/err.h"

struct crisp_rt_spawn {
    /* In the helper, before the clone: join what must be joined (but born_in when not NULL:
     * the helper was created in that cgroup already); set *clone_flags to the CLONE_NEW* flags
     * of the namespaces to create. */
    int (*enter)(const void *arg, const char *born_in, unsigned long *clone_flags,
                 struct crisp_err *err);
    /* In the child: returns only on failure. sync_fd is the child's end of the channel. */
    int (*run)(int sync_fd, const void *arg, struct crisp_err *err);
    const void *arg;
    /* Wait for READY (create) rather than for EOF (exec: the channel closes at execve). */
    bool until_ready;
    /* The child shares the helper's memory (CLONE_VM | CLONE_VFORK, on a stack of its own)
     * until its execve or exit, instead of a copy of it: one copy of the caller's address
     * space per spawn instead of two (crispd's is large: this is most of an exec's cost). The
     * helper is suspended meanwhile, so it needs !until_ready. Ignored in ASan builds. */
    bool share_memory;
    /* The caller's fds the child needs (its stdio, -1 = none): the helper closes every other fd
     * >= 3 first thing, so the child never holds the caller's fds (nor another spawn's channel,
     * which would delay that one's EOF). */
    int keep_fds[3];
    /* NULL, or the cgroup.procs file of a cgroup2 directory the helper is to be created in
     * (clone3 CLONE_INTO_CGROUP) instead of writing itself into it: a write to cgroup.procs
     * takes the kernel's global threadgroup lock, whose write side waits for an RCU grace
     * period (10-30 ms). Falls back to a plain fork when the kernel refuses (before 5.7).
     * Only for a single-threaded caller (the monitor): a raw clone3 runs no fork handlers. */
    const char *born_in;
};

struct crisp_rt_child {
    pid_t pid;      /* the child's pid in the caller's pid namespace */
    int sync_fd;    /* the caller's end; -1 when !until_ready (closed) */
    int pty_master; /* sent by the child, or -1 */
};

/* Spawns the chain and waits for READY or EOF. On failure the child (when it exists) is
 * killed and reaped, the helper is reaped, *out is untouched and err holds the child's error. */
int crisp_rt_spawn(const struct crisp_rt_spawn *s, struct crisp_rt_child *out,
                   struct crisp_err *err);

/* waitpid(pid) until it is reaped; returns the wait status, or -errno. */
int crisp_rt_reap(pid_t pid);

/* SIGKILL then reap: for a child of ours that must go. */
void crisp_rt_kill_reap(pid_t pid);

/* Describes a wait status: "exited with status 1", "killed by signal 9". */
const char *crisp_rt_status_str(int status, char *buf, size_t size);
