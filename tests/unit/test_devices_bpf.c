/* runtime/devices_bpf: the cgroup v2 device program built from allow rules. Each program is run
 * by a small eBPF interpreter here (the opcodes the builder emits) against device accesses, and
 * loaded into the kernel when the test runs as root, so the verifier accepts it too. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime/devices_bpf.h"

#define B 1 /* BPF_DEVCG_DEV_BLOCK */
#define C 2 /* BPF_DEVCG_DEV_CHAR */
#define M 1 /* BPF_DEVCG_ACC_MKNOD */
#define R 2
#define W 4

/* Runs prog on one access; fails the test on an opcode the builder should never emit. */
static int run(const struct bpf_insn *prog, size_t n, int type, int access, uint32_t major,
               uint32_t minor)
{
    struct bpf_cgroup_dev_ctx ctx = {(uint32_t)(access << 16 | type), major, minor};
    uint64_t reg[11] = {0};
    reg[1] = (uint64_t)(uintptr_t)&ctx;
    for (size_t pc = 0; pc < n; pc++) {
        const struct bpf_insn *i = &prog[pc];
        uint64_t src = BPF_SRC(i->code) == BPF_X ? reg[i->src_reg] : (uint64_t)(int64_t)i->imm;
        switch (i->code) {
        case BPF_LDX | BPF_W | BPF_MEM:
            reg[i->dst_reg] = *(const uint32_t *)(uintptr_t)(reg[i->src_reg] + i->off);
            break;
        case BPF_ALU64 | BPF_AND | BPF_K:
            reg[i->dst_reg] &= src;
            break;
        case BPF_ALU64 | BPF_RSH | BPF_K:
            reg[i->dst_reg] >>= src;
            break;
        case BPF_ALU64 | BPF_MOV | BPF_K:
        case BPF_ALU64 | BPF_MOV | BPF_X:
            reg[i->dst_reg] = src;
            break;
        case BPF_JMP | BPF_JNE | BPF_K:
        case BPF_JMP | BPF_JNE | BPF_X:
            if (reg[i->dst_reg] != src)
                pc += (size_t)i->off;
            assert_true(pc < n);
            break;
        case BPF_JMP | BPF_EXIT:
            return (int)reg[0];
        default:
            fail_msg("unexpected opcode 0x%x at %zu", i->code, pc);
        }
    }
    fail_msg("ran off the end of the program");
    return -1;
}

static const struct crisp_device_rule defaults[] = {
    {'c', -1, -1, "m"}, {'b', -1, -1, "m"}, {'c', 1, 3, "rwm"},
    {'c', 1, 9, "rwm"}, {'c', 5, 2, "rwm"}, {'c', 136, -1, "rwm"},
};

static struct bpf_insn *build(const struct crisp_device_rule *rules, size_t n_rules, size_t *n)
{
    struct bpf_insn *p = NULL;
    struct crisp_err err;
    assert_int_equal(crisp_devices_bpf_build(rules, n_rules, &p, n, &err), 0);
    return p;
}

static void test_default_rules(void **state)
{
    (void)state;
    size_t n;
    struct bpf_insn *p = build(defaults, 6, &n);
    assert_int_equal(run(p, n, C, R | W, 1, 3), 1);   /* /dev/null */
    assert_int_equal(run(p, n, C, R, 1, 9), 1);       /* /dev/urandom */
    assert_int_equal(run(p, n, C, R | W, 136, 7), 1); /* a pty */
    assert_int_equal(run(p, n, C, M, 10, 229), 1);    /* mknod of anything */
    assert_int_equal(run(p, n, B, M, 8, 0), 1);
    assert_int_equal(run(p, n, C, R, 1, 1), 0);        /* /dev/mem */
    assert_int_equal(run(p, n, C, R | W, 10, 229), 0); /* /dev/fuse, undeclared */
    assert_int_equal(run(p, n, B, R, 8, 0), 0);        /* a disk */
    assert_int_equal(run(p, n, B, R | W, 1, 3), 0);    /* block 1:3 is not char 1:3 */
    assert_int_equal(run(p, n, C, R | W | M, 1, 4), 0);
    free(p);
}

static void test_access_subsets(void **state)
{
    (void)state;
    const struct crisp_device_rule ro[] = {{'c', 10, 229, "r"}, {'b', 7, -1, "rw"}};
    size_t n;
    struct bpf_insn *p = build(ro, 2, &n);
    assert_int_equal(run(p, n, C, R, 10, 229), 1);
    assert_int_equal(run(p, n, C, W, 10, 229), 0);
    assert_int_equal(run(p, n, C, R | W, 10, 229), 0);
    assert_int_equal(run(p, n, C, M, 10, 229), 0);
    assert_int_equal(run(p, n, B, R | W, 7, 3), 1);
    assert_int_equal(run(p, n, B, M, 7, 3), 0);
    assert_int_equal(run(p, n, B, R, 8, 3), 0);
    free(p);
}

static void test_all_and_none(void **state)
{
    (void)state;
    const struct crisp_device_rule all[] = {{'a', -1, -1, "rwm"}};
    size_t n;
    struct bpf_insn *p = build(all, 1, &n);
    assert_int_equal(run(p, n, B, R | W | M, 8, 0), 1);
    assert_int_equal(run(p, n, C, W, 1, 1), 1);
    free(p);
    p = build(NULL, 0, &n);
    assert_int_equal(n, 8); /* the loads, then deny */
    assert_int_equal(run(p, n, C, R, 1, 3), 0);
    free(p);
}

static void test_bad_rules(void **state)
{
    (void)state;
    const struct crisp_device_rule bad[][1] = {
        {{'x', 1, 1, "r"}},
        {{'c', 1, 1, ""}},
        {{'c', 1, 1, "rx"}},
        {{'c', -2, 1, "r"}},
        {{'c', 1, (int64_t)1 << 33, "r"}},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct bpf_insn *p = NULL;
        size_t n;
        struct crisp_err err;
        assert_int_equal(crisp_devices_bpf_build(bad[i], 1, &p, &n, &err), -EINVAL);
        assert_int_equal(err.code, GRPC_STATUS_INVALID_ARGUMENT);
        assert_non_null(strstr(err.msg, "device rule"));
        assert_null(p);
    }
}

static void test_kernel_verifier_accepts(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    const struct crisp_device_rule mixed[] = {
        {'c', -1, -1, "m"}, {'c', 1, 3, "rwm"},    {'c', 10, 229, "r"},
        {'b', 7, -1, "rw"}, {'c', 136, -1, "rwm"}, {'a', -1, -1, "m"},
    };
    size_t n;
    struct bpf_insn *p = build(mixed, 6, &n);
    struct crisp_err err;
    int fd = crisp_devices_bpf_load(p, n, &err);
    if (fd == -EPERM || fd == -ENOSYS)
        skip();
    assert_true(fd >= 0);
    close(fd);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_rules),
        cmocka_unit_test(test_access_subsets),
        cmocka_unit_test(test_all_and_none),
        cmocka_unit_test(test_bad_rules),
        cmocka_unit_test(test_kernel_verifier_accepts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
