/* The validation tables of issue 5: pod sysctls (namespaced only, name and value rules) and the
 * CRI resource fields, each refusal INVALID_ARGUMENT naming the sysctl or the field. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "container/ctr_resources.h"
#include "pod/pod_sysctl.h"

static int check_sysctl(const char *name, const char *value, bool host_net, bool host_ipc,
                        struct crisp_err *err)
{
    Runtime__V1__LinuxPodSandboxConfig__SysctlsEntry e =
        RUNTIME__V1__LINUX_POD_SANDBOX_CONFIG__SYSCTLS_ENTRY__INIT;
    e.key = (char *)name;
    e.value = (char *)value;
    Runtime__V1__LinuxPodSandboxConfig__SysctlsEntry *entries[] = {&e};
    Runtime__V1__LinuxPodSandboxConfig l = RUNTIME__V1__LINUX_POD_SANDBOX_CONFIG__INIT;
    l.n_sysctls = 1;
    l.sysctls = entries;
    Runtime__V1__PodSandboxConfig c = RUNTIME__V1__POD_SANDBOX_CONFIG__INIT;
    c.linux = &l;
    return crisp_pod_sysctls_validate(&c, host_net, host_ipc, err);
}

static void test_sysctls(void **state)
{
    (void)state;
    static const struct {
        const char *name, *value;
        bool host_net, host_ipc, ok;
    } cases[] = {
        {"kernel.shmmax", "1000", false, false, true},
        {"kernel.shm_rmid_forced", "1", false, false, true},
        {"kernel.msgmnb", "1", false, false, true},
        {"kernel.sem", "250 32000 32 128", false, false, true},
        {"fs.mqueue.msg_max", "20", false, false, true},
        {"net.ipv4.ip_local_port_range", "1024 65000", false, false, true},
        {"net/ipv4/conf/eth0.100/forwarding", "1", false, false, true},
        {"net.core.somaxconn", "1024", false, true, true},  /* host ipc: net.* still fine */
        {"kernel.shmmax", "1000", true, false, true},       /* host net: ipc ones still fine */
        {"net.core.somaxconn", "1024", true, false, false}, /* the node's network */
        {"kernel.shmmax", "1000", false, true, false},      /* the node's ipc */
        {"kernel.semx", "1", false, false, false},
        {"kernel.hostname", "x", false, false, false},
        {"kernel.panic", "1", false, false, false},
        {"vm.overcommit_memory", "1", false, false, false},
        {"fs.mqueue", "1", false, false, false},
        {"net", "1", false, false, false},
        {"", "1", false, false, false},
        {"net..core", "1", false, false, false},
        {"net.core.", "1", false, false, false},
        {"net/../kernel/panic", "1", false, false, false},
        {"net.core.some maxconn", "1", false, false, false},
        {"net.core.somaxconn", "", false, false, false},
        {"net.core.somaxconn", "1\n", false, false, false},
        {"kernel.shmmax", "1+kernel.core_pattern=|/x", false, false, false},
        {"kernel.shmmax", "a=b", false, false, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct crisp_err err = {0};
        int r =
            check_sysctl(cases[i].name, cases[i].value, cases[i].host_net, cases[i].host_ipc, &err);
        if (cases[i].ok) {
            assert_int_equal(r, 0);
            continue;
        }
        assert_true(r < 0);
        assert_int_equal(err.code, GRPC_STATUS_INVALID_ARGUMENT);
        char quoted[300];
        snprintf(quoted, sizeof(quoted), "[\"%s\"]", cases[i].name);
        if (!strstr(err.msg, quoted))
            fail_msg("case %zu: \"%s\" does not name the sysctl", i, err.msg);
    }
}

static void expect_field(const Runtime__V1__LinuxContainerResources *r, const char *field)
{
    struct crisp_err err = {0};
    assert_int_equal(crisp_ctr_resources_validate("M", "linux", r, &err), -EINVAL);
    assert_int_equal(err.code, GRPC_STATUS_INVALID_ARGUMENT);
    if (!strstr(err.msg, field))
        fail_msg("\"%s\" does not name %s", err.msg, field);
}

static void test_resources(void **state)
{
    (void)state;
    struct crisp_err err;
    Runtime__V1__LinuxContainerResources ok = RUNTIME__V1__LINUX_CONTAINER_RESOURCES__INIT;
    ok.cpu_period = 100000;
    ok.cpu_quota = -1;
    ok.cpu_shares = 2;
    ok.memory_limit_in_bytes = 1 << 20;
    ok.memory_swap_limit_in_bytes = 1 << 21;
    ok.cpuset_cpus = (char *)"0-3,8";
    ok.oom_score_adj = -1000;
    assert_int_equal(crisp_ctr_resources_validate("M", "linux", &ok, &err), 0);
    assert_int_equal(crisp_ctr_resources_validate("M", "linux", NULL, &err), 0);

    Runtime__V1__LinuxContainerResources r = ok;
    r.cpu_period = 999;
    expect_field(&r, "linux.cpu_period 999");
    r = ok, r.cpu_quota = 999;
    expect_field(&r, "linux.cpu_quota 999");
    r = ok, r.cpu_quota = -2;
    expect_field(&r, "linux.cpu_quota");
    r = ok, r.cpu_shares = 262145;
    expect_field(&r, "linux.cpu_shares");
    r = ok, r.memory_limit_in_bytes = -1;
    expect_field(&r, "linux.memory_limit_in_bytes");
    r = ok, r.memory_swap_limit_in_bytes = 1 << 19;
    expect_field(&r, "linux.memory_swap_limit_in_bytes");
    r = ok, r.oom_score_adj = 1001;
    expect_field(&r, "linux.oom_score_adj");
    r = ok, r.cpuset_mems = (char *)"0;1";
    expect_field(&r, "linux.cpuset_mems");
    Runtime__V1__HugepageLimit hp = RUNTIME__V1__HUGEPAGE_LIMIT__INIT;
    Runtime__V1__HugepageLimit *hps[] = {&hp};
    hp.page_size = (char *)"2MiB";
    r = ok, r.n_hugepage_limits = 1, r.hugepage_limits = hps;
    expect_field(&r, "linux.hugepage_limits[0].page_size");
    hp.page_size = (char *)"2MB";
    assert_int_equal(crisp_ctr_resources_validate("M", "linux", &r, &err), 0);
    Runtime__V1__LinuxContainerResources__UnifiedEntry u =
        RUNTIME__V1__LINUX_CONTAINER_RESOURCES__UNIFIED_ENTRY__INIT;
    Runtime__V1__LinuxContainerResources__UnifiedEntry *us[] = {&u};
    u.key = (char *)"../cgroup.procs";
    u.value = (char *)"1";
    r = ok, r.n_unified = 1, r.unified = us;
    expect_field(&r, "linux.unified key");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sysctls),
        cmocka_unit_test(test_resources),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
