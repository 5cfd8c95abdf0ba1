/* The cgroup v2 device controller is an eBPF program (BPF_PROG_TYPE_CGROUP_DEVICE) the kernel
 * runs on every open and mknod of a device node in the cgroup; it returns 1 to allow, 0 to deny.
 * crisp builds it by hand from its allow rules (runc's layout):
 *
 *     r2 = ctx->access_type & 0xffff   (device type: 1 block, 2 char)
 *     r3 = ctx->access_type >> 16      (access: 1 mknod, 2 read, 4 write)
 *     r4 = ctx->major; r5 = ctx->minor
 *     per rule: skip to the next rule unless type matches, access is within the rule's, major
 *               and minor match (a wildcard emits no test); else r0 = 1, exit
 *     r0 = 0, exit
 */
#pragma once

#include <linux/bpf.h>
#include <stddef.h>

#include "runtime/cgroup.h"

/* The program for rules (checked with crisp_device_rule_check first). *insns is malloc'd. */
int crisp_devices_bpf_build(const struct crisp_device_rule *rules, size_t n,
                            struct bpf_insn **insns, size_t *n_insns, struct crisp_err *err);

/* Loads the program (BPF_PROG_LOAD, type CGROUP_DEVICE); returns its fd or -errno (err holds
 * the verifier's complaint, if any). */
int crisp_devices_bpf_load(const struct bpf_insn *insns, size_t n, struct crisp_err *err);
