/* runtime: capabilities, no_new_privs, masked and read-only paths, in real containers from a
 * busybox lowerdir (as in test_runtime.c). Needs root. Every container test ends with
 * check_clean: no child left, nothing mounted under the box in our mount table. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime/capabilities.h"
#include "runtime/container.h"
#include "support_rootfs.h"

static const char *const applets[] = {"sh",   "cat",  "grep", "hostname", "echo",  "ls",   "wc",
                                      "stat", "test", "true", "sleep",    "touch", "mkdir"};

/* What every container of these tests prints. */
#define STATUS_SCRIPT "grep Cap /proc/self/status; grep NoNewPrivs /proc/self/status"

static char box[64];   /* the group's directory */
static char lower[96]; /* the busybox lowerdir */
static int test_counter;

struct fixture {
    struct sup_ctr t;
};

/* ---- helpers ---- */

/* The value of "<key>:\t<hex>" in /proc/<pid>/status output. */
static uint64_t status_hex(const char *out, const char *key)
{
    char needle[32];
    snprintf(needle, sizeof(needle), "%s:\t", key);
    const char *p = strstr(out, needle);
    if (!p)
        fail_msg("no %s in \"%s\"", key, out);
    return strtoull(p + strlen(needle), NULL, 16);
}

static uint64_t mask_of(const int *caps, size_t n)
{
    uint64_t m = 0;
    for (size_t i = 0; i < n; i++)
        m |= 1ull << caps[i];
    return m;
}

static uint64_t default_mask(void)
{
    size_t n;
    const int *caps = crisp_cap_default_set(&n);
    return mask_of(caps, n);
}

/* Our own bounding set: what "ALL" can grant. */
static uint64_t own_bounding_set(void)
{
    uint64_t m = 0;
    for (int c = 0; c < 64 && prctl(PR_CAPBSET_READ, c, 0, 0, 0) >= 0; c++)
        if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1)
            m |= 1ull << c;
    return m;
}

static void expect_caps(const char *out, uint64_t eff, uint64_t prm, uint64_t inh, uint64_t bnd)
{
    if (status_hex(out, "CapEff") != eff || status_hex(out, "CapPrm") != prm ||
        status_hex(out, "CapInh") != inh || status_hex(out, "CapBnd") != bnd ||
        status_hex(out, "CapAmb") != 0)
        fail_msg("want eff %llx prm %llx inh %llx bnd %llx amb 0, got:\n%s",
                 (unsigned long long)eff, (unsigned long long)prm, (unsigned long long)inh,
                 (unsigned long long)bnd, out);
}

/* ---- fixtures ---- */

static int group_setup(void **state)
{
    (void)state;
    sup_busybox_box("/tmp/crisp-rtcap-XXXXXX", applets, sizeof(applets) / sizeof(applets[0]), box,
                    lower);
    char path[256];
    /* Hostile symlinks: an absolute one to a host directory, a relative one climbing out to a
     * directory that only exists inside the root. */
    char outside[128];
    snprintf(outside, sizeof(outside), "%s/outside", box);
    sup_mkdir(outside);
    snprintf(path, sizeof(path), "%s/outside/host-file", box);
    sup_write_file(path, "host\n");
    snprintf(path, sizeof(path), "%s/evil", lower);
    assert_int_equal(symlink(outside, path), 0);
    snprintf(path, sizeof(path), "%s/climb", lower);
    assert_int_equal(symlink("../../../../../../../../inroot", path), 0);
    snprintf(path, sizeof(path), "%s/inroot", lower);
    sup_mkdir(path);
    snprintf(path, sizeof(path), "%s/inroot/file", lower);
    sup_write_file(path, "inroot\n");
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    sup_remove_tree(box);
    return 0;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    sup_ctr_init(&f->t, box, ++test_counter, lower);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    sup_ctr_cleanup(&f->t);
    free(f);
    return 0;
}

/* ---- the name table ---- */

static void test_cap_names(void **state)
{
    (void)state;
    assert_int_equal(crisp_cap_from_name("CAP_CHOWN"), CAP_CHOWN);
    assert_int_equal(crisp_cap_from_name("CHOWN"), CAP_CHOWN);
    assert_int_equal(crisp_cap_from_name("cap_net_bind_service"), CAP_NET_BIND_SERVICE);
    assert_int_equal(crisp_cap_from_name("Net_Raw"), CAP_NET_RAW);
    assert_int_equal(crisp_cap_from_name("SYS_ADMIN"), CAP_SYS_ADMIN);
    assert_int_equal(crisp_cap_from_name("CAP_CHECKPOINT_RESTORE"), CAP_CHECKPOINT_RESTORE);
    const char *bad[] = {"",
                         "CAP_",
                         "ALL",
                         "CAP_ALL",
                         "5",
                         "CAP_5",
                         "CHOWN1",
                         "CHOWNX",
                         "CHOW",
                         "CAP_CAP_CHOWN",
                         " CHOWN",
                         "CHOWN ",
                         "NO_SUCH_CAPABILITY_AT_ALL_REALLY_LONG_NAME"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (crisp_cap_from_name(bad[i]) != -EINVAL)
            fail_msg("\"%s\" accepted", bad[i]);
    assert_int_equal(crisp_cap_from_name(NULL), -EINVAL);

    char buf[CRISP_CAP_NAME_MAX];
    assert_string_equal(crisp_cap_name(CAP_SYS_ADMIN, buf, sizeof(buf)), "CAP_SYS_ADMIN");
    assert_string_equal(crisp_cap_name(CAP_AUDIT_WRITE, buf, sizeof(buf)), "CAP_AUDIT_WRITE");
    assert_null(crisp_cap_name(-1, buf, sizeof(buf)));
    assert_null(crisp_cap_name(63, buf, sizeof(buf)));
    assert_null(crisp_cap_name(CAP_SYS_ADMIN, buf, 8)); /* too small */
    for (int c = 0; c <= CAP_LAST_CAP; c++) {           /* every name goes back to its number */
        assert_non_null(crisp_cap_name(c, buf, sizeof(buf)));
        assert_int_equal(crisp_cap_from_name(buf), c);
        assert_int_equal(crisp_cap_from_name(buf + 4), c);
    }

    size_t n;
    const int *def = crisp_cap_default_set(&n);
    assert_int_equal(n, 14);
    const char *want[] = {"CHOWN",   "DAC_OVERRIDE", "FSETID",           "FOWNER",
                          "MKNOD",   "NET_RAW",      "SETGID",           "SETUID",
                          "SETFCAP", "SETPCAP",      "NET_BIND_SERVICE", "SYS_CHROOT",
                          "KILL",    "AUDIT_WRITE"};
    for (size_t i = 0; i < n; i++)
        assert_int_equal(def[i], crisp_cap_from_name(want[i]));

    int all[CRISP_CAP_MAX];
    size_t n_all = crisp_cap_all(all, CRISP_CAP_MAX);
    assert_true(n_all >= 14);
    assert_true(mask_of(all, n_all) == own_bounding_set());
    for (size_t i = 1; i < n_all; i++)
        assert_true(all[i - 1] < all[i]);
    assert_int_equal(crisp_cap_all(all, 2), n_all); /* the count even when out is short */
}

/* ---- capabilities ---- */

static void test_default_caps_as_root(void **state)
{
    struct fixture *f = *state;
    size_t n;
    const int *caps = crisp_cap_default_set(&n);
    sup_ctr_set_caps(&f->t, caps, n);
    char *out = sup_run_script_ok(&f->t, STATUS_SCRIPT);
    uint64_t m = default_mask();
    expect_caps(out, m, m, m, m);
    sup_assert_contains(out, "NoNewPrivs:\t0\n");
    free(out);
    sup_check_no_leftovers(box);
}

static void test_default_caps_as_user(void **state)
{
    struct fixture *f = *state;
    size_t n;
    const int *caps = crisp_cap_default_set(&n);
    sup_ctr_set_caps(&f->t, caps, n);
    f->t.spec.process.uid = 1000;
    f->t.spec.process.gid = 1000;
    char *out = sup_run_script_ok(&f->t, STATUS_SCRIPT);
    expect_caps(out, 0, 0, 0, default_mask());
    free(out);
    sup_check_no_leftovers(box);
}

static void test_all_caps(void **state)
{
    struct fixture *f = *state;
    int all[CRISP_CAP_MAX];
    size_t n = crisp_cap_all(all, CRISP_CAP_MAX);
    sup_ctr_set_caps(&f->t, all, n);
    f->t.spec.hostname = "before";
    char *out = sup_run_script_ok(&f->t, STATUS_SCRIPT "; hostname after && hostname");
    uint64_t m = own_bounding_set();
    expect_caps(out, m, m, m, m);
    sup_assert_contains(out, "\nafter\n");
    free(out);
    sup_check_no_leftovers(box);
}

static void test_no_caps(void **state)
{
    struct fixture *f = *state;
    sup_ctr_set_caps(&f->t, NULL, 0);
    f->t.spec.hostname = "before";
    int status;
    char *out =
        sup_run_script(&f->t, STATUS_SCRIPT "; hostname after; echo rc=$?; hostname", &status);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    expect_caps(out, 0, 0, 0, 0);
    sup_assert_contains(out, "Operation not permitted");
    sup_assert_contains(out, "rc=1\nbefore\n");
    free(out);
    sup_check_no_leftovers(box);
}

/* Without caps_set nothing changes: root keeps what the caller has, a user gets nothing. */
static void test_caps_not_set_keeps_old_behaviour(void **state)
{
    struct fixture *f = *state;
    char *out = sup_run_script_ok(&f->t, STATUS_SCRIPT);
    uint64_t m = own_bounding_set();
    if (status_hex(out, "CapBnd") != m || status_hex(out, "CapEff") != m)
        fail_msg("root lost capabilities: %s", out);
    free(out);
    f->t.spec.process.uid = 1000;
    out = sup_run_script_ok(&f->t, STATUS_SCRIPT);
    assert_true(status_hex(out, "CapEff") == 0 && status_hex(out, "CapPrm") == 0);
    assert_true(status_hex(out, "CapBnd") == m);
    free(out);
    sup_check_no_leftovers(box);
}

static void test_no_new_privs(void **state)
{
    struct fixture *f = *state;
    f->t.spec.process.no_new_privs = true;
    char *out = sup_run_script_ok(&f->t, STATUS_SCRIPT);
    sup_assert_contains(out, "NoNewPrivs:\t1\n");
    free(out);
    f->t.spec.process.no_new_privs = false;
    out = sup_run_script_ok(&f->t, STATUS_SCRIPT);
    sup_assert_contains(out, "NoNewPrivs:\t0\n");
    free(out);
    sup_check_no_leftovers(box);
}

static void test_bad_caps_spawn_nothing(void **state)
{
    struct fixture *f = *state;
    char *argv[] = {"true", NULL};
    f->t.spec.process.argv = argv;
    const int unknown[] = {CAP_CHOWN, 63};
    sup_ctr_set_caps(&f->t, unknown, 2);
    assert_int_equal(crisp_container_create(&f->t.spec, &f->t.c, &f->t.err), -EINVAL);
    assert_int_equal(f->t.err.code, GRPC_STATUS_INVALID_ARGUMENT);
    sup_assert_contains(f->t.err.msg, "capability 63");
    const int negative[] = {-1};
    sup_ctr_set_caps(&f->t, negative, 1);
    assert_int_equal(crisp_container_create(&f->t.spec, &f->t.c, &f->t.err), -EINVAL);
    sup_ctr_set_caps(&f->t, NULL, 3);
    assert_int_equal(crisp_container_create(&f->t.spec, &f->t.c, &f->t.err), -EINVAL);
    f->t.spec.process.caps = unknown; /* caps without caps_set */
    f->t.spec.process.n_caps = 1;
    f->t.spec.process.caps_set = false;
    assert_int_equal(crisp_container_create(&f->t.spec, &f->t.c, &f->t.err), -EINVAL);
    assert_null(f->t.c);

    /* a capability the kernel knows but we lack (CAP_SYS_RESOURCE on some hosts) */
    int lacking = -1;
    for (int c = 0; c <= CAP_LAST_CAP && lacking < 0; c++)
        if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 0)
            lacking = c;
    if (lacking >= 0) {
        const int want[] = {CAP_CHOWN, lacking};
        sup_ctr_set_caps(&f->t, want, 2);
        assert_int_equal(crisp_container_create(&f->t.spec, &f->t.c, &f->t.err), -EPERM);
        assert_int_equal(f->t.err.code, GRPC_STATUS_PERMISSION_DENIED);
        char name[CRISP_CAP_NAME_MAX];
        sup_assert_contains(f->t.err.msg, crisp_cap_name(lacking, name, sizeof(name)));
        assert_null(f->t.c);
    } else {
        print_message("every capability is in our bounding set: PERMISSION_DENIED not checked\n");
    }
    sup_check_no_leftovers(box);
}

/* ---- masked and read-only paths ---- */

static void test_masked_and_readonly_paths(void **state)
{
    struct fixture *f = *state;
    /* the absolute symlink's target exists inside the root as well: that one gets masked */
    char inside[256];
    snprintf(inside, sizeof(inside), "%s%s", f->t.upper, box);
    char tmp[320];
    snprintf(tmp, sizeof(tmp), "%s/tmp", f->t.upper);
    sup_mkdir(tmp);
    sup_mkdir(inside);
    snprintf(tmp, sizeof(tmp), "%s/outside", inside);
    sup_mkdir(tmp);
    snprintf(tmp, sizeof(tmp), "%s/outside/root-file", inside);
    sup_write_file(tmp, "in the root\n");
    const char *masked[] = {"/proc/kcore",
                            "/proc/timer_list",
                            "/proc/acpi",
                            "/sys/firmware",
                            "/proc/no-such-file",
                            "/no/such/dir",
                            "/bin/busybox/not-a-dir",
                            "/climb",
                            "/evil"};
    const char *readonly[] = {"/proc/sys", "/proc/no-such-dir", "/proc/irq"};
    f->t.spec.masked_paths = masked;
    f->t.spec.n_masked_paths = sizeof(masked) / sizeof(masked[0]);
    f->t.spec.readonly_paths = readonly;
    f->t.spec.n_readonly_paths = sizeof(readonly) / sizeof(readonly[0]);
    char script[1024];
    snprintf(script, sizeof(script),
             "echo timer_list=$(wc -c < /proc/timer_list); stat -c 'dev=%%t:%%T' "
             "/proc/timer_list; "
             "echo acpi=$(ls -A /proc/acpi | wc -l) firmware=$(ls -A /sys/firmware | wc -l); "
             "mkdir /proc/acpi/x || echo acpi-ro; "
             "echo x > /proc/sys/kernel/hostname || echo sys-ro; "
             "echo climb=$(ls -A /climb/ | wc -l) inroot=$(ls -A /inroot | wc -l); "
             "echo evil=$(ls -A /evil/ | wc -l) root-file=$(ls -A %s/outside | wc -l); "
             "echo loadavg=$(grep -c . /proc/loadavg)",
             box);
    int status;
    char *out = sup_run_script(&f->t, script, &status);
    sup_assert_contains(out, "timer_list=0\n");
    sup_assert_contains(out, "dev=1:3\n");
    sup_assert_contains(out, "acpi=0 firmware=0\n");
    sup_assert_contains(out, "acpi-ro\n");
    sup_assert_contains(out, "Read-only file system");
    sup_assert_contains(out, "sys-ro\n");
    sup_assert_contains(out, "climb=0 inroot=0\n");   /* ../../.. stayed in the root */
    sup_assert_contains(out, "evil=0 root-file=0\n"); /* the in-root target was masked */
    sup_assert_contains(out, "loadavg=1\n");          /* unmasked files still read */
    free(out);
    /* the host's side of the absolute symlink was never touched */
    char host_file[128];
    snprintf(host_file, sizeof(host_file), "%s/outside/host-file", box);
    assert_int_equal(access(host_file, F_OK), 0);
    sup_check_no_leftovers(box);
}

/* A read-only path keeps nosuid/nodev/noexec, and a masked file under it still gets masked. */
static void test_readonly_keeps_flags(void **state)
{
    struct fixture *f = *state;
    const char *readonly[] = {"/proc"};
    const char *masked[] = {"/proc/timer_list"};
    f->t.spec.readonly_paths = readonly;
    f->t.spec.n_readonly_paths = 1;
    f->t.spec.masked_paths = masked;
    f->t.spec.n_masked_paths = 1;
    char *out =
        sup_run_script_ok(&f->t, "grep ' /proc ' /proc/self/mountinfo; wc -c < /proc/timer_list");
    sup_assert_contains(out, " /proc ro,nosuid,nodev,noexec");
    sup_assert_contains(out, "\n0\n");
    free(out);
    sup_check_no_leftovers(box);
}

/* Masking with a /dev/null that is not the null device (a CRI mount over it) is refused. */
static void test_mask_refuses_fake_dev_null(void **state)
{
    struct fixture *f = *state;
    char fake[200];
    snprintf(fake, sizeof(fake), "%s/fake-null", f->t.host);
    sup_write_file(fake, "not null\n");
    const struct crisp_bind_mount mounts[] = {{.source = fake, .destination = "/dev/null"}};
    f->t.spec.mounts = mounts;
    f->t.spec.n_mounts = 1;
    const char *masked[] = {"/proc/timer_list"};
    f->t.spec.masked_paths = masked;
    f->t.spec.n_masked_paths = 1;
    char *argv[] = {"true", NULL};
    f->t.spec.process.argv = argv;
    assert_int_equal(crisp_container_create(&f->t.spec, &f->t.c, &f->t.err), -EPERM);
    assert_int_equal(f->t.err.code, GRPC_STATUS_FAILED_PRECONDITION);
    sup_assert_contains(f->t.err.msg,
                        "/dev/null of the container is not the null device: cannot mask");
    assert_null(f->t.c);
    sup_check_no_leftovers(box);
}

static void test_bad_paths_spawn_nothing(void **state)
{
    struct fixture *f = *state;
    char *argv[] = {"true", NULL};
    f->t.spec.process.argv = argv;
    const char *relative[] = {"/proc/kcore", "proc/acpi"};
    f->t.spec.masked_paths = relative;
    f->t.spec.n_masked_paths = 2;
    assert_int_equal(crisp_container_create(&f->t.spec, &f->t.c, &f->t.err), -EINVAL);
    assert_int_equal(f->t.err.code, GRPC_STATUS_INVALID_ARGUMENT);
    f->t.spec.masked_paths = NULL;
    f->t.spec.n_masked_paths = 0;
    f->t.spec.readonly_paths = NULL;
    f->t.spec.n_readonly_paths = 1;
    assert_int_equal(crisp_container_create(&f->t.spec, &f->t.c, &f->t.err), -EINVAL);
    assert_null(f->t.c);
    sup_check_no_leftovers(box);
}

/* ---- exec ---- */

static char *exec_status(struct fixture *f, pid_t pid, struct crisp_process *proc)
{
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    char *cmd[] = {"sh", "-c", STATUS_SCRIPT, NULL};
    proc->argv = cmd;
    proc->env = f->t.env;
    proc->stdin_fd = -1;
    proc->stdout_fd = p[1];
    proc->stderr_fd = p[1];
    struct crisp_exec_spec es = {.process = *proc};
    struct crisp_exec_result res;
    int r = crisp_container_exec(pid, &es, &res, &f->t.err);
    close(p[1]);
    if (r < 0)
        close(p[0]);
    sup_expect_ok(&f->t, r, "exec");
    sup_track(&f->t, res.pid);
    char *out = sup_read_all(p[0]);
    close(p[0]);
    int status = sup_wait_pid(&f->t, res.pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("exec status 0x%x: %s", (unsigned)status, out);
    return out;
}

static void test_exec_gets_caps_and_no_new_privs(void **state)
{
    struct fixture *f = *state;
    /* the container itself: no capabilities at all */
    sup_ctr_set_caps(&f->t, NULL, 0);
    f->t.spec.process.no_new_privs = true;
    char *argv[] = {"sleep", "30", NULL};
    f->t.spec.process.argv = argv;
    int fd;
    pid_t pid = sup_launch(&f->t, &fd);
    close(fd);

    size_t n;
    const int *caps = crisp_cap_default_set(&n);
    uint64_t m = default_mask();
    struct crisp_process proc = {.caps = caps, .n_caps = n, .caps_set = true, .no_new_privs = true};
    char *out = exec_status(f, pid, &proc);
    expect_caps(out, m, m, m, m);
    sup_assert_contains(out, "NoNewPrivs:\t1\n");
    free(out);

    proc = (struct crisp_process){
        .caps = caps, .n_caps = n, .caps_set = true, .uid = 1000, .gid = 1000};
    out = exec_status(f, pid, &proc);
    expect_caps(out, 0, 0, 0, m);
    sup_assert_contains(out, "NoNewPrivs:\t0\n");
    free(out);

    const int one[] = {CAP_KILL};
    proc = (struct crisp_process){.caps = one, .n_caps = 1, .caps_set = true};
    out = exec_status(f, pid, &proc);
    uint64_t k = 1ull << CAP_KILL;
    expect_caps(out, k, k, k, k);
    free(out);

    kill(pid, SIGKILL);
    sup_wait_pid(&f->t, pid);
    sup_check_no_leftovers(box);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    if (geteuid() != 0) {
        printf("test_runtime_caps: SKIPPED: needs root (namespaces, mounts)\n");
        return 0;
    }
    alarm(60);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cap_names),
        T(test_default_caps_as_root),
        T(test_default_caps_as_user),
        T(test_all_caps),
        T(test_no_caps),
        T(test_caps_not_set_keeps_old_behaviour),
        T(test_no_new_privs),
        T(test_bad_caps_spawn_nothing),
        T(test_masked_and_readonly_paths),
        T(test_readonly_keeps_flags),
        T(test_mask_refuses_fake_dev_null),
        T(test_bad_paths_spawn_nothing),
        T(test_exec_gets_caps_and_no_new_privs),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
