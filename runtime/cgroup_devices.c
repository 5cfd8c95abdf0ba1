/* The device controller: v1 devices.deny/devices.allow, v2 an eBPF program. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime/cgroup_internal.h"
#include "runtime/devices_bpf.h"
#include "util/cleanup.h"

int crisp_device_rule_check(const struct crisp_device_rule *r, struct crisp_err *err)
{
    size_t len = strnlen(r->access, sizeof(r->access));
    bool ok = (r->type == 'a' || r->type == 'c' || r->type == 'b') && len > 0 &&
              len < sizeof(r->access) && strspn(r->access, "rwm") == len && r->major >= -1 &&
              r->major <= UINT32_MAX && r->minor >= -1 && r->minor <= UINT32_MAX;
    if (ok)
        return 0;
    return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                        "device rule '%c' %" PRId64 ":%" PRId64 " \"%.4s\": expected type a, c or "
                        "b, numbers or -1, access a non-empty subset of \"rwm\"",
                        r->type ? r->type : '?', r->major, r->minor, r->access);
}

static void number(char *buf, size_t size, int64_t v)
{
    if (v < 0)
        snprintf(buf, size, "*");
    else
        snprintf(buf, size, "%" PRId64, v);
}

static int v1_apply(const char *dir, const struct crisp_cgroup_resources *res,
                    struct crisp_err *err)
{
    int r = cg_write(dir, "devices.deny", "a", err);
    for (size_t i = 0; r == 0 && i < res->n_device_rules; i++) {
        const struct crisp_device_rule *d = &res->device_rules[i];
        char major[24], minor[24];
        number(major, sizeof(major), d->major);
        number(minor, sizeof(minor), d->minor);
        r = d->type == 'a' ? cg_write(dir, "devices.allow", "a", err)
                           : cg_writef(dir, "devices.allow", err, "%c %s:%s %s", d->type, major,
                                       minor, d->access);
    }
    return r;
}

static int v2_apply(const char *dir, const struct crisp_cgroup_resources *res,
                    struct crisp_err *err)
{
    _cleanup_free_ struct bpf_insn *insns = NULL;
    size_t n = 0;
    int r = crisp_devices_bpf_build(res->device_rules, res->n_device_rules, &insns, &n, err);
    if (r < 0)
        return r;
    _cleanup_close_ int prog = crisp_devices_bpf_load(insns, n, err);
    if (prog < 0)
        return prog;
    _cleanup_close_ int cgfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cgfd < 0)
        return crisp_syserrf(err, errno, "open %s", dir);
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.target_fd = (uint32_t)cgfd;
    attr.attach_bpf_fd = (uint32_t)prog;
    attr.attach_type = BPF_CGROUP_DEVICE;
    attr.attach_flags = BPF_F_ALLOW_MULTI;
    if (syscall(SYS_bpf, BPF_PROG_ATTACH, &attr, sizeof(attr)) < 0)
        return crisp_syserrf(err, errno, "attach the device eBPF program to %s", dir);
    return 0; /* the attachment holds the program; our fd can go */
}

int cg_devices_apply(const struct crisp_cgroup *cg, const struct crisp_cgroup_resources *res,
                     struct crisp_err *err)
{
    if (cg->mode == CRISP_CGROUP_V2)
        return v2_apply(cg->dirs[0].path, res, err);
    const struct crisp_cgroup_dir *d = cg_dir(cg, CRISP_CGROUP_DEVICES);
    if (!d)
        return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, ENOENT,
                            "device rules requested but no cgroup hierarchy has the devices "
                            "controller");
    return v1_apply(d->path, res, err);
}
