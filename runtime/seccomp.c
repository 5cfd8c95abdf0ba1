/* Filters being built (runtime/seccomp_internal.h), the check done before spawning, and the
 * launcher step: export the program, put the ENOSYS stub in front, install it with seccomp(2). */
#define _GNU_SOURCE
#include "seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime/seccomp_internal.h"
#include "util/cleanup.h"

#define X32_SYSCALL_BIT 0x40000000u
#define STUB_MAX        (1 + 5 * CRISP_SECCOMP_MAX_ARCHES)

/* ---- filters being built ---- */

int crisp_seccomp_filter_init(struct crisp_seccomp_filter *f, const struct crisp_process *p,
                              uint32_t default_action, bool dry)
{
    *f = (struct crisp_seccomp_filter){.dry = dry, .p = p, .default_action = default_action};
    f->arches[0] = crisp_seccomp_native_arch();
    f->max_nr[0] = -1;
    f->n_arches = 1;
    if (dry)
        return 0;
    f->ctx = seccomp_init(default_action);
    if (!f->ctx)
        return -ENOMEM;
    /* Never loaded through libseccomp (see install), but to be explicit: no_new_privs is the
     * process's own setting (crisp_process.no_new_privs), not the filter's. */
    int r = seccomp_attr_set(f->ctx, SCMP_FLTATR_CTL_NNP, 0);
    if (r < 0)
        crisp_seccomp_filter_release(f);
    return r;
}

int crisp_seccomp_filter_add_arch(struct crisp_seccomp_filter *f, uint32_t arch)
{
    for (size_t i = 0; i < f->n_arches; i++)
        if (f->arches[i] == arch)
            return 0;
    if (f->n_arches == CRISP_SECCOMP_MAX_ARCHES)
        return -E2BIG;
    int r = f->dry ? 0 : seccomp_arch_add(f->ctx, arch);
    if (r < 0 && r != -EEXIST)
        return r;
    f->arches[f->n_arches] = arch;
    f->max_nr[f->n_arches++] = -1;
    return 0;
}

int crisp_seccomp_filter_rule(struct crisp_seccomp_filter *f, const char *name, uint32_t action,
                              unsigned int n, const struct scmp_arg_cmp *conds)
{
    if (f->dry)
        return 0;
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR)
        return 0;
    for (size_t i = 0; i < f->n_arches; i++) {
        int arch_nr = seccomp_syscall_resolve_name_arch(f->arches[i], name);
        if (arch_nr >= 0 && arch_nr > f->max_nr[i])
            f->max_nr[i] = arch_nr;
    }
    if (action == f->default_action)
        return 0;
    int r = seccomp_rule_add_array(f->ctx, action, nr, n, conds);
    return r < 0 ? r : 1;
}

void crisp_seccomp_filter_release(struct crisp_seccomp_filter *f)
{
    if (f->ctx)
        seccomp_release(f->ctx);
    f->ctx = NULL;
}

bool crisp_seccomp_has_cap(const struct crisp_process *p, int cap)
{
    if (!p || !p->caps_set)
        return true;
    for (size_t i = 0; i < p->n_caps; i++)
        if (p->caps[i] == cap)
            return true;
    return false;
}

static int build(const struct crisp_seccomp *sc, const struct crisp_process *p, bool dry,
                 struct crisp_seccomp_filter *f, struct crisp_err *err)
{
    if (sc->kind == CRISP_SECCOMP_RUNTIME_DEFAULT && !sc->profile_json)
        return dry ? 0 : crisp_seccomp_default_build(f, p, err);
    if (sc->kind == CRISP_SECCOMP_PROFILE && sc->profile_json)
        return crisp_seccomp_profile_build(f, p, sc->profile_json, dry, err);
    return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL, "seccomp: %s",
                        sc->kind == CRISP_SECCOMP_PROFILE           ? "profile missing"
                        : sc->kind == CRISP_SECCOMP_RUNTIME_DEFAULT ? "RuntimeDefault takes no "
                                                                      "profile"
                                                                    : "unknown kind");
}

/* ---- the program ---- */

/* libseccomp's program, through a pipe (2.5 has no export to memory; a pipe, unlike a memfd, is
 * not subject to RLIMIT_FSIZE, which the process already has). Non-blocking: libseccomp writes
 * it at once, and one larger than the pipe (64 KiB: 8192 instructions, twice the kernel's
 * limit) is cut short instead of blocking, and then refused for its size. */
static int export_program(const struct crisp_seccomp_filter *f, struct sock_filter **prog,
                          size_t *n, struct crisp_err *err)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0)
        return crisp_syserrf(err, errno, "seccomp: pipe");
    _cleanup_close_ int rd = fds[0];
    int r = seccomp_export_bpf(f->ctx, fds[1]);
    close(fds[1]);
    if (r < 0)
        return crisp_syserrf(err, -r, "seccomp: generate the filter");
    const size_t head = STUB_MAX * sizeof(struct sock_filter);
    size_t size = 0, cap = 16384;
    char *buf = malloc(head + cap);
    while (buf) {
        if (size == cap) {
            char *bigger = realloc(buf, head + cap * 2);
            if (!bigger)
                break;
            buf = bigger;
            cap *= 2;
        }
        ssize_t got = read(rd, buf + head + size, cap - size);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            r = crisp_syserrf(err, errno, "seccomp: read the filter");
        if (got <= 0)
            break;
        size += (size_t)got;
    }
    if (r == 0 && (!buf || size == cap)) /* size == cap: realloc failed */
        r = crisp_syserrf(err, ENOMEM, "seccomp: read the filter");
    if (r == 0 && (size == 0 || size % sizeof(struct sock_filter) != 0))
        r = crisp_errorf(err, GRPC_STATUS_INTERNAL, EIO, "seccomp: filter of %zu bytes", size);
    if (r < 0) {
        free(buf);
        return r;
    }
    *prog = (struct sock_filter *)(void *)buf; /* the first STUB_MAX slots: for the stub */
    *n = size / sizeof(struct sock_filter);
    return 0;
}

/* Architectures that get an ENOSYS bound: those with a rule, but x32 (it shares x86_64's audit
 * arch; its syscalls carry X32_SYSCALL_BIT and are left to libseccomp's program). Only when the
 * default action is ERRNO: never loosen KILL/TRAP/TRACE/LOG, never tighten ALLOW. */
static bool stub_arch(const struct crisp_seccomp_filter *f, size_t i)
{
    return (f->default_action & ~0xffffu) == SCMP_ACT_ERRNO(0) && f->max_nr[i] >= 0 &&
           f->arches[i] != SCMP_ARCH_X32;
}

/* Writes the stub that ends right before out[end]: for each architecture with a bound, a
 * syscall numbered above it gets ENOSYS; everything else falls through to the program (which
 * loads what it needs itself). Returns its length. */
static size_t write_stub(const struct crisp_seccomp_filter *f, struct sock_filter *out, size_t end)
{
    size_t len = 1;
    for (size_t i = 0; i < f->n_arches; i++)
        if (stub_arch(f, i))
            len += 4 + (f->arches[i] == SCMP_ARCH_X86_64);
    if (len == 1)
        return 0;
    struct sock_filter *s = out + end - len;
    size_t pc = 0;
    s[pc++] =
        (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
    for (size_t i = 0; i < f->n_arches; i++) {
        if (!stub_arch(f, i))
            continue;
        bool x86_64 = f->arches[i] == SCMP_ARCH_X86_64;
        size_t block = 4 + x86_64;
        /* not this architecture: on to the next block, the arch still loaded */
        s[pc] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, f->arches[i], 0,
                                             (uint8_t)(block - 1));
        pc++;
        s[pc++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                               offsetof(struct seccomp_data, nr));
        if (x86_64) {
            s[pc] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT,
                                                 (uint8_t)(len - pc - 1), 0);
            pc++;
        }
        s[pc] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, (uint32_t)f->max_nr[i], 0,
                                             (uint8_t)(len - pc - 1));
        pc++;
        s[pc++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS);
    }
    return len;
}

/* The whole program into *prog (freed by the caller) at *start, *len instructions. */
static int program(const struct crisp_seccomp *sc, const struct crisp_process *p,
                   struct sock_filter **prog, size_t *start, size_t *len, unsigned int *flags,
                   struct crisp_err *err)
{
    struct crisp_seccomp_filter f;
    int r = build(sc, p, false, &f, err);
    if (r < 0)
        return r;
    size_t n = 0;
    r = export_program(&f, prog, &n, err);
    if (r == 0) {
        size_t stub = write_stub(&f, *prog, STUB_MAX);
        *start = STUB_MAX - stub;
        *len = stub + n;
        *flags = f.flags;
        if (*len > BPF_MAXINSNS) {
            free(*prog);
            *prog = NULL;
            r = crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, E2BIG,
                             "seccomp: the filter has %zu instructions, more than the kernel's "
                             "%d",
                             *len, BPF_MAXINSNS);
        }
    }
    crisp_seccomp_filter_release(&f);
    return r;
}

int crisp_seccomp_validate(const struct crisp_seccomp *sc, const struct crisp_process *p,
                           struct crisp_err *err)
{
    if (!sc)
        return 0;
    struct crisp_seccomp_filter f;
    return build(sc, p, true, &f, err);
}

/* ---- the launcher step ---- */

static int install(const struct sock_fprog *fprog, unsigned int flags, struct crisp_err *err)
{
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, fprog) == 0)
        return 0;
    if (errno == ENOSYS && flags == 0 && prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, fprog) == 0)
        return 0;
    if (errno == EACCES)
        return crisp_errorf(err, GRPC_STATUS_PERMISSION_DENIED, EACCES,
                            "install the seccomp filter: neither no_new_privs nor "
                            "CAP_SYS_ADMIN");
    return crisp_syserrf(err, errno, "install the seccomp filter");
}

/* The program built at the privileged stage for the last one (no_new_privs): the launched
 * process's own copy of this variable (it is single-threaded and about to execve; nothing else
 * calls crisp_rt_seccomp_apply), tied to the process spec it was built for. Left allocated
 * once installed: free() could need a syscall the filter refuses. */
static struct {
    const struct crisp_process *p;
    struct sock_filter *prog;
    size_t start, len;
    unsigned int flags;
} prepared;

int crisp_rt_seccomp_apply(const struct crisp_process *p, enum crisp_rt_seccomp_stage stage,
                           struct crisp_err *err)
{
    if (!p->seccomp || (stage == CRISP_RT_SECCOMP_BEFORE_EXEC && !p->no_new_privs))
        return 0;
    /* built at the privileged stage either way: a filter libseccomp or the kernel's size limit
     * refuses fails the creation, not the start */
    if (!prepared.prog || prepared.p != p) {
        int r = program(p->seccomp, p, &prepared.prog, &prepared.start, &prepared.len,
                        &prepared.flags, err);
        if (r < 0)
            return r;
        prepared.p = p;
    }
    if (stage == CRISP_RT_SECCOMP_PRIVILEGED && p->no_new_privs)
        return 0; /* installed right before execve */
    const struct sock_fprog fprog = {.len = (unsigned short)prepared.len,
                                     .filter = prepared.prog + prepared.start};
    return install(&fprog, prepared.flags, err);
}
