#define _GNU_SOURCE
#include "devices_bpf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/mem.h"

#define HEAD_INSNS     6 /* the loads */
#define TAIL_INSNS     2 /* deny */
#define MAX_RULE_INSNS 8 /* 3 tests of numbers, 3 of access, allow */
#define VERIFIER_LOG   4096

#define INSN(c, d, s, o, i)                                                                        \
    ((struct bpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)})
#define LDX_W(d, s, o)  INSN(BPF_LDX | BPF_W | BPF_MEM, d, s, o, 0)
#define ALU_K(op, d, i) INSN(BPF_ALU64 | (op) | BPF_K, d, 0, 0, i)
#define MOV_X(d, s)     INSN(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define JNE_K(d, i, o)  INSN(BPF_JMP | BPF_JNE | BPF_K, d, 0, o, i)
#define JNE_X(d, s, o)  INSN(BPF_JMP | BPF_JNE | BPF_X, d, s, o, 0)
#define EXIT_INSN()     INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

static int access_bits(const char *access)
{
    int bits = 0;
    for (const char *p = access; *p; p++)
        bits |= *p == 'm'   ? BPF_DEVCG_ACC_MKNOD
                : *p == 'r' ? BPF_DEVCG_ACC_READ
                            : BPF_DEVCG_ACC_WRITE;
    return bits;
}

/* One rule's block; jumps (off == 0 for now) are fixed up to land on the next block. */
static size_t rule_block(const struct crisp_device_rule *r, struct bpf_insn *out)
{
    size_t n = 0;
    if (r->type != 'a') {
        out[n++] = JNE_K(BPF_REG_2, r->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR, 0);
        if (r->major >= 0)
            out[n++] = JNE_K(BPF_REG_4, (int32_t)r->major, 0);
        if (r->minor >= 0)
            out[n++] = JNE_K(BPF_REG_5, (int32_t)r->minor, 0);
    }
    int bits = access_bits(r->access);
    if (bits != (BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE)) {
        out[n++] = MOV_X(BPF_REG_1, BPF_REG_3); /* the context is not needed any more */
        out[n++] = ALU_K(BPF_AND, BPF_REG_1, bits);
        out[n++] = JNE_X(BPF_REG_1, BPF_REG_3, 0);
    }
    out[n++] = ALU_K(BPF_MOV, BPF_REG_0, 1);
    out[n++] = EXIT_INSN();
    for (size_t i = 0; i < n; i++)
        if (BPF_CLASS(out[i].code) == BPF_JMP && BPF_OP(out[i].code) == BPF_JNE)
            out[i].off = (int16_t)(n - i - 1);
    return n;
}

int crisp_devices_bpf_build(const struct crisp_device_rule *rules, size_t n,
                            struct bpf_insn **insns, size_t *n_insns, struct crisp_err *err)
{
    for (size_t i = 0; i < n; i++) {
        int r = crisp_device_rule_check(&rules[i], err);
        if (r < 0)
            return r;
    }
    struct bpf_insn *p = crisp_xcalloc(HEAD_INSNS + TAIL_INSNS + n * MAX_RULE_INSNS, sizeof(*p));
    size_t k = 0;
    const int16_t type_off = offsetof(struct bpf_cgroup_dev_ctx, access_type);
    p[k++] = LDX_W(BPF_REG_2, BPF_REG_1, type_off);
    p[k++] = ALU_K(BPF_AND, BPF_REG_2, 0xffff);
    p[k++] = LDX_W(BPF_REG_3, BPF_REG_1, type_off);
    p[k++] = ALU_K(BPF_RSH, BPF_REG_3, 16);
    p[k++] = LDX_W(BPF_REG_4, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, major));
    p[k++] = LDX_W(BPF_REG_5, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, minor));
    for (size_t i = 0; i < n; i++)
        k += rule_block(&rules[i], p + k);
    p[k++] = ALU_K(BPF_MOV, BPF_REG_0, 0);
    p[k++] = EXIT_INSN();
    *insns = p;
    *n_insns = k;
    return 0;
}

static int prog_load(const struct bpf_insn *insns, size_t n, char *log, size_t log_size)
{
    static const char license[] = "GPL";
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    attr.insn_cnt = (uint32_t)n;
    attr.insns = (uint64_t)(uintptr_t)insns;
    attr.license = (uint64_t)(uintptr_t)license;
    attr.log_buf = (uint64_t)(uintptr_t)log;
    attr.log_size = (uint32_t)log_size;
    attr.log_level = log ? 1 : 0;
    return (int)syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
}

int crisp_devices_bpf_load(const struct bpf_insn *insns, size_t n, struct crisp_err *err)
{
    int fd = prog_load(insns, n, NULL, 0);
    if (fd >= 0)
        return fd;
    int e = errno;
    if (e != EINVAL && e != EACCES) /* not the verifier's doing */
        return crisp_syserrf(err, e, "load the device cgroup eBPF program");
    char *log = crisp_xcalloc(1, VERIFIER_LOG); /* again, for the verifier's reason */
    fd = prog_load(insns, n, log, VERIFIER_LOG);
    if (fd >= 0) /* cannot happen with the same program; take it all the same */
        return free(log), fd;
    size_t len = strlen(log);
    while (len && log[len - 1] == '\n')
        log[--len] = '\0';
    fd =
        crisp_syserrf(err, e, "load the device cgroup eBPF program%s%.300s", *log ? ": " : "", log);
    free(log);
    return fd;
}
