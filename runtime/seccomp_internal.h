/* Shared by runtime/seccomp*.c: a filter being built with libseccomp. */
#pragma once

#include <seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/container.h"
#include "util/err.h"

#define CRISP_SECCOMP_MAX_ARCHES 20 /* more than libseccomp knows */

/* The native architecture as a libseccomp token, known at compile time where possible so that
 * a dry run (below) runs no libseccomp code at all. */
static inline uint32_t crisp_seccomp_native_arch(void)
{
#if defined(__x86_64__) && defined(__ILP32__)
    return SCMP_ARCH_X32;
#elif defined(__x86_64__)
    return SCMP_ARCH_X86_64;
#elif defined(__i386__)
    return SCMP_ARCH_X86;
#elif defined(__aarch64__)
    return SCMP_ARCH_AARCH64;
#elif defined(__arm__)
    return SCMP_ARCH_ARM;
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return SCMP_ARCH_PPC64LE;
#elif defined(__powerpc64__)
    return SCMP_ARCH_PPC64;
#elif defined(__s390x__)
    return SCMP_ARCH_S390X;
#elif defined(__riscv) && __riscv_xlen == 64
    return SCMP_ARCH_RISCV64;
#else
    return seccomp_arch_native();
#endif
}

/* A filter being built. dry: only the checks, no libseccomp filter (ctx stays NULL; no name is
 * resolved): what the caller runs before spawning, so that crisp-monitor, which checks the
 * profile of every container it starts, never pages in libseccomp itself. */
struct crisp_seccomp_filter {
    bool dry;
    scmp_filter_ctx ctx;
    const struct crisp_process *p; /* whose capabilities decide; NULL = every capability */
    uint32_t default_action;       /* SCMP_ACT_* */
    unsigned int flags;            /* SECCOMP_FILTER_FLAG_* to install it with */
    /* The architectures in the filter (libseccomp tokens, the native one first) and, for each,
     * the highest syscall number a rule names (-1: none): the ENOSYS stub's bound. */
    uint32_t arches[CRISP_SECCOMP_MAX_ARCHES];
    int max_nr[CRISP_SECCOMP_MAX_ARCHES];
    size_t n_arches;
};

/* seccomp_init(default_action) without libseccomp's own no_new_privs (unless dry). -ENOMEM. */
int crisp_seccomp_filter_init(struct crisp_seccomp_filter *f, const struct crisp_process *p,
                              uint32_t default_action, bool dry);

/* Adds arch (a libseccomp token) unless the filter has it already. -errno from libseccomp. */
int crisp_seccomp_filter_add_arch(struct crisp_seccomp_filter *f, uint32_t arch);

/* A rule for the syscall called name (n conditions, ANDed; each argument tested at most once).
 * Returns 1 when added, 0 when skipped: a name this libseccomp does not know, or action ==
 * the default action (a no-op; the name still counts for the ENOSYS bound), or a dry run;
 * -errno from libseccomp. */
int crisp_seccomp_filter_rule(struct crisp_seccomp_filter *f, const char *name, uint32_t action,
                              unsigned int n, const struct scmp_arg_cmp *conds);

void crisp_seccomp_filter_release(struct crisp_seccomp_filter *f);

/* Whether the process will hold cap (bounding set: caps; caps_set false or p NULL: all). */
bool crisp_seccomp_has_cap(const struct crisp_process *p, int cap);

/* Builds the RuntimeDefault filter for f->p into f (initialized here). */
int crisp_seccomp_default_build(struct crisp_seccomp_filter *f, const struct crisp_process *p,
                                struct crisp_err *err);

/* Parses an OCI LinuxSeccomp JSON profile into f (initialized here; dry: checks only).
 * INVALID_ARGUMENT naming the field. On failure f holds nothing. */
int crisp_seccomp_profile_build(struct crisp_seccomp_filter *f, const struct crisp_process *p,
                                const char *json, bool dry, struct crisp_err *err);
