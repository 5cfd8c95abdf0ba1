/* runtime: capabilities, no_new_privs, masked and read-only paths, in real containers from a
 * busybox lowerdir (as in test_runtime.c). Needs root. Every container test ends with
 * check_clean: no child left, nothing mounted under the box in our mount table. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
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
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime/capabilities.h"
#include "runtime/container.h"

#define MAX_PIDS   4
#define OUTPUT_MAX 65536

static const char *const applets[] = {"sh",   "cat",  "grep", "hostname", "echo",  "ls",   "wc",
                                      "stat", "test", "true", "sleep",    "touch", "mkdir"};

/* What every container of these tests prints. */
#define STATUS_SCRIPT "grep Cap /proc/self/status; grep NoNewPrivs /proc/self/status"

static char box[64];   /* the group's directory */
static char lower[96]; /* the busybox lowerdir */
static int test_counter;

struct fixture {
    char dir[128], upper[160], work[160], rootfs[160], host[160];
    pid_t pids[MAX_PIDS];
    struct crisp_container *c;
    struct crisp_err err;
    const char *lowers[1];
    struct crisp_container_spec spec;
    char *env[2];
};

/* ---- helpers ---- */

static void write_file(const char *path, const char *data)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
    close(fd);
}

static void mkdirf(const char *path)
{
    if (mkdir(path, 0755) < 0 && errno != EEXIST)
        fail_msg("mkdir %s: %s", path, strerror(errno));
}

static void assert_contains(const char *haystack, const char *needle)
{
    if (!strstr(haystack, needle))
        fail_msg("\"%s\" does not contain \"%s\"", haystack, needle);
}

static void copy_file(const char *from, const char *to, mode_t mode)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    assert_true(in >= 0);
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    assert_true(out >= 0);
    struct stat st;
    assert_int_equal(fstat(in, &st), 0);
    for (off_t done = 0; done < st.st_size;) {
        ssize_t n = sendfile(out, in, NULL, (size_t)(st.st_size - done));
        assert_true(n > 0);
        done += n;
    }
    close(in);
    close(out);
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return type == FTW_DP ? rmdir(path) : unlink(path);
}

static void remove_tree(const char *path)
{
    nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

static char *read_all(int fd)
{
    char *buf = calloc(1, OUTPUT_MAX);
    assert_non_null(buf);
    size_t len = 0;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 5000) == 0)
            fail_msg("timed out reading output (so far: \"%s\")", buf);
        ssize_t n = read(fd, buf + len, OUTPUT_MAX - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    return buf;
}

static void track(struct fixture *f, pid_t pid)
{
    for (int i = 0; i < MAX_PIDS; i++)
        if (f->pids[i] == 0) {
            f->pids[i] = pid;
            return;
        }
    fail_msg("too many pids");
}

static int wait_pid(struct fixture *f, pid_t pid)
{
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    for (int i = 0; i < MAX_PIDS; i++)
        if (f->pids[i] == pid)
            f->pids[i] = 0;
    return status;
}

static void check_clean(void)
{
    errno = 0;
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
    FILE *mi = fopen("/proc/self/mountinfo", "re");
    assert_non_null(mi);
    char line[4096];
    while (fgets(line, sizeof(line), mi))
        if (strstr(line, box))
            fail_msg("leaked mount: %s", line);
    fclose(mi);
}

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
    strcpy(box, "/tmp/crisp-rtcap-XXXXXX");
    assert_non_null(mkdtemp(box));
    snprintf(lower, sizeof(lower), "%s/lower", box);
    char path[256];
    mkdirf(lower);
    snprintf(path, sizeof(path), "%s/bin", lower);
    mkdirf(path);
    snprintf(path, sizeof(path), "%s/bin/busybox", lower);
    copy_file("/bin/busybox", path, 0755);
    for (size_t i = 0; i < sizeof(applets) / sizeof(applets[0]); i++) {
        snprintf(path, sizeof(path), "%s/bin/%s", lower, applets[i]);
        assert_int_equal(symlink("busybox", path), 0);
    }
    /* Hostile symlinks: an absolute one to a host directory, a relative one climbing out to a
     * directory that only exists inside the root. */
    char outside[128];
    snprintf(outside, sizeof(outside), "%s/outside", box);
    mkdirf(outside);
    snprintf(path, sizeof(path), "%s/outside/host-file", box);
    write_file(path, "host\n");
    snprintf(path, sizeof(path), "%s/evil", lower);
    assert_int_equal(symlink(outside, path), 0);
    snprintf(path, sizeof(path), "%s/climb", lower);
    assert_int_equal(symlink("../../../../../../../../inroot", path), 0);
    snprintf(path, sizeof(path), "%s/inroot", lower);
    mkdirf(path);
    snprintf(path, sizeof(path), "%s/inroot/file", lower);
    write_file(path, "inroot\n");
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    remove_tree(box);
    return 0;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "%s/t%d", box, ++test_counter);
    snprintf(f->upper, sizeof(f->upper), "%s/upper", f->dir);
    snprintf(f->work, sizeof(f->work), "%s/work", f->dir);
    snprintf(f->rootfs, sizeof(f->rootfs), "%s/rootfs", f->dir);
    snprintf(f->host, sizeof(f->host), "%s/host", f->dir);
    mkdirf(f->dir);
    mkdirf(f->upper);
    mkdirf(f->work);
    mkdirf(f->rootfs);
    mkdirf(f->host);
    f->lowers[0] = lower;
    f->env[0] = "PATH=/bin";
    f->env[1] = NULL;
    f->spec = (struct crisp_container_spec){
        .lowerdirs = f->lowers,
        .n_lowerdirs = 1,
        .upperdir = f->upper,
        .workdir = f->work,
        .rootfs = f->rootfs,
        .process = {.env = f->env, .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1},
    };
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < MAX_PIDS; i++)
        if (f->pids[i] > 0) {
            kill(f->pids[i], SIGKILL);
            waitpid(f->pids[i], NULL, 0);
        }
    crisp_container_free(f->c);
    remove_tree(f->dir);
    free(f);
    return 0;
}

static void expect_ok(struct fixture *f, int r, const char *what)
{
    if (r < 0)
        fail_msg("%s: %d (%s)", what, r, f->err.msg);
}

/* create (stdout and stderr to a pipe) + start; returns the pid and the pipe's read end. */
static pid_t launch(struct fixture *f, int *out_fd)
{
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    f->spec.process.stdout_fd = p[1];
    f->spec.process.stderr_fd = p[1];
    int r = crisp_container_create(&f->spec, &f->c, &f->err);
    close(p[1]);
    if (r < 0)
        close(p[0]);
    expect_ok(f, r, "create");
    pid_t pid = crisp_container_pid(f->c);
    track(f, pid);
    expect_ok(f, crisp_container_start(f->c, &f->err), "start");
    crisp_container_free(f->c);
    f->c = NULL;
    *out_fd = p[0];
    return pid;
}

static char *run(struct fixture *f, const char *script, int *status)
{
    char *argv[] = {"sh", "-c", (char *)script, NULL};
    f->spec.process.argv = argv;
    int fd;
    pid_t pid = launch(f, &fd);
    char *out = read_all(fd);
    close(fd);
    *status = wait_pid(f, pid);
    f->spec.process.argv = NULL;
    return out;
}

static char *run_ok(struct fixture *f, const char *script)
{
    int status;
    char *out = run(f, script, &status);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("container status 0x%x, output: %s", (unsigned)status, out);
    return out;
}

static void set_caps(struct fixture *f, const int *caps, size_t n)
{
    f->spec.process.caps = caps;
    f->spec.process.n_caps = n;
    f->spec.process.caps_set = true;
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
    set_caps(f, caps, n);
    char *out = run_ok(f, STATUS_SCRIPT);
    uint64_t m = default_mask();
    expect_caps(out, m, m, m, m);
    assert_contains(out, "NoNewPrivs:\t0\n");
    free(out);
    check_clean();
}

static void test_default_caps_as_user(void **state)
{
    struct fixture *f = *state;
    size_t n;
    const int *caps = crisp_cap_default_set(&n);
    set_caps(f, caps, n);
    f->spec.process.uid = 1000;
    f->spec.process.gid = 1000;
    char *out = run_ok(f, STATUS_SCRIPT);
    expect_caps(out, 0, 0, 0, default_mask());
    free(out);
    check_clean();
}

static void test_all_caps(void **state)
{
    struct fixture *f = *state;
    int all[CRISP_CAP_MAX];
    size_t n = crisp_cap_all(all, CRISP_CAP_MAX);
    set_caps(f, all, n);
    f->spec.hostname = "before";
    char *out = run_ok(f, STATUS_SCRIPT "; hostname after && hostname");
    uint64_t m = own_bounding_set();
    expect_caps(out, m, m, m, m);
    assert_contains(out, "\nafter\n");
    free(out);
    check_clean();
}

static void test_no_caps(void **state)
{
    struct fixture *f = *state;
    set_caps(f, NULL, 0);
    f->spec.hostname = "before";
    int status;
    char *out = run(f, STATUS_SCRIPT "; hostname after; echo rc=$?; hostname", &status);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    expect_caps(out, 0, 0, 0, 0);
    assert_contains(out, "Operation not permitted");
    assert_contains(out, "rc=1\nbefore\n");
    free(out);
    check_clean();
}

/* Without caps_set nothing changes: root keeps what the caller has, a user gets nothing. */
static void test_caps_not_set_keeps_old_behaviour(void **state)
{
    struct fixture *f = *state;
    char *out = run_ok(f, STATUS_SCRIPT);
    uint64_t m = own_bounding_set();
    if (status_hex(out, "CapBnd") != m || status_hex(out, "CapEff") != m)
        fail_msg("root lost capabilities: %s", out);
    free(out);
    f->spec.process.uid = 1000;
    out = run_ok(f, STATUS_SCRIPT);
    assert_true(status_hex(out, "CapEff") == 0 && status_hex(out, "CapPrm") == 0);
    assert_true(status_hex(out, "CapBnd") == m);
    free(out);
    check_clean();
}

static void test_no_new_privs(void **state)
{
    struct fixture *f = *state;
    f->spec.process.no_new_privs = true;
    char *out = run_ok(f, STATUS_SCRIPT);
    assert_contains(out, "NoNewPrivs:\t1\n");
    free(out);
    f->spec.process.no_new_privs = false;
    out = run_ok(f, STATUS_SCRIPT);
    assert_contains(out, "NoNewPrivs:\t0\n");
    free(out);
    check_clean();
}

static void test_bad_caps_spawn_nothing(void **state)
{
    struct fixture *f = *state;
    char *argv[] = {"true", NULL};
    f->spec.process.argv = argv;
    const int unknown[] = {CAP_CHOWN, 63};
    set_caps(f, unknown, 2);
    assert_int_equal(crisp_container_create(&f->spec, &f->c, &f->err), -EINVAL);
    assert_int_equal(f->err.code, GRPC_STATUS_INVALID_ARGUMENT);
    assert_contains(f->err.msg, "capability 63");
    const int negative[] = {-1};
    set_caps(f, negative, 1);
    assert_int_equal(crisp_container_create(&f->spec, &f->c, &f->err), -EINVAL);
    set_caps(f, NULL, 3);
    assert_int_equal(crisp_container_create(&f->spec, &f->c, &f->err), -EINVAL);
    f->spec.process.caps = unknown; /* caps without caps_set */
    f->spec.process.n_caps = 1;
    f->spec.process.caps_set = false;
    assert_int_equal(crisp_container_create(&f->spec, &f->c, &f->err), -EINVAL);
    assert_null(f->c);

    /* a capability the kernel knows but we lack (CAP_SYS_RESOURCE on some hosts) */
    int lacking = -1;
    for (int c = 0; c <= CAP_LAST_CAP && lacking < 0; c++)
        if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 0)
            lacking = c;
    if (lacking >= 0) {
        const int want[] = {CAP_CHOWN, lacking};
        set_caps(f, want, 2);
        assert_int_equal(crisp_container_create(&f->spec, &f->c, &f->err), -EPERM);
        assert_int_equal(f->err.code, GRPC_STATUS_PERMISSION_DENIED);
        char name[CRISP_CAP_NAME_MAX];
        assert_contains(f->err.msg, crisp_cap_name(lacking, name, sizeof(name)));
        assert_null(f->c);
    } else {
        print_message("every capability is in our bounding set: PERMISSION_DENIED not checked\n");
    }
    check_clean();
}

/* ---- masked and read-only paths ---- */

static void test_masked_and_readonly_paths(void **state)
{
    struct fixture *f = *state;
    /* the absolute symlink's target exists inside the root as well: that one gets masked */
    char inside[256];
    snprintf(inside, sizeof(inside), "%s%s", f->upper, box);
    char tmp[320];
    snprintf(tmp, sizeof(tmp), "%s/tmp", f->upper);
    mkdirf(tmp);
    mkdirf(inside);
    snprintf(tmp, sizeof(tmp), "%s/outside", inside);
    mkdirf(tmp);
    snprintf(tmp, sizeof(tmp), "%s/outside/root-file", inside);
    write_file(tmp, "in the root\n");
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
    f->spec.masked_paths = masked;
    f->spec.n_masked_paths = sizeof(masked) / sizeof(masked[0]);
    f->spec.readonly_paths = readonly;
    f->spec.n_readonly_paths = sizeof(readonly) / sizeof(readonly[0]);
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
    char *out = run(f, script, &status);
    assert_contains(out, "timer_list=0\n");
    assert_contains(out, "dev=1:3\n");
    assert_contains(out, "acpi=0 firmware=0\n");
    assert_contains(out, "acpi-ro\n");
    assert_contains(out, "Read-only file system");
    assert_contains(out, "sys-ro\n");
    assert_contains(out, "climb=0 inroot=0\n");   /* ../../.. stayed in the root */
    assert_contains(out, "evil=0 root-file=0\n"); /* the in-root target was masked */
    assert_contains(out, "loadavg=1\n");          /* unmasked files still read */
    free(out);
    /* the host's side of the absolute symlink was never touched */
    char host_file[128];
    snprintf(host_file, sizeof(host_file), "%s/outside/host-file", box);
    assert_int_equal(access(host_file, F_OK), 0);
    check_clean();
}

/* A read-only path keeps nosuid/nodev/noexec, and a masked file under it still gets masked. */
static void test_readonly_keeps_flags(void **state)
{
    struct fixture *f = *state;
    const char *readonly[] = {"/proc"};
    const char *masked[] = {"/proc/timer_list"};
    f->spec.readonly_paths = readonly;
    f->spec.n_readonly_paths = 1;
    f->spec.masked_paths = masked;
    f->spec.n_masked_paths = 1;
    char *out = run_ok(f, "grep ' /proc ' /proc/self/mountinfo; wc -c < /proc/timer_list");
    assert_contains(out, " /proc ro,nosuid,nodev,noexec");
    assert_contains(out, "\n0\n");
    free(out);
    check_clean();
}

/* Masking with a /dev/null that is not the null device (a CRI mount over it) is refused. */
static void test_mask_refuses_fake_dev_null(void **state)
{
    struct fixture *f = *state;
    char fake[200];
    snprintf(fake, sizeof(fake), "%s/fake-null", f->host);
    write_file(fake, "not null\n");
    const struct crisp_bind_mount mounts[] = {{.source = fake, .destination = "/dev/null"}};
    f->spec.mounts = mounts;
    f->spec.n_mounts = 1;
    const char *masked[] = {"/proc/timer_list"};
    f->spec.masked_paths = masked;
    f->spec.n_masked_paths = 1;
    char *argv[] = {"true", NULL};
    f->spec.process.argv = argv;
    assert_int_equal(crisp_container_create(&f->spec, &f->c, &f->err), -EPERM);
    assert_int_equal(f->err.code, GRPC_STATUS_FAILED_PRECONDITION);
    assert_contains(f->err.msg, "/dev/null of the container is not the null device: cannot mask");
    assert_null(f->c);
    check_clean();
}

static void test_bad_paths_spawn_nothing(void **state)
{
    struct fixture *f = *state;
    char *argv[] = {"true", NULL};
    f->spec.process.argv = argv;
    const char *relative[] = {"/proc/kcore", "proc/acpi"};
    f->spec.masked_paths = relative;
    f->spec.n_masked_paths = 2;
    assert_int_equal(crisp_container_create(&f->spec, &f->c, &f->err), -EINVAL);
    assert_int_equal(f->err.code, GRPC_STATUS_INVALID_ARGUMENT);
    f->spec.masked_paths = NULL;
    f->spec.n_masked_paths = 0;
    f->spec.readonly_paths = NULL;
    f->spec.n_readonly_paths = 1;
    assert_int_equal(crisp_container_create(&f->spec, &f->c, &f->err), -EINVAL);
    assert_null(f->c);
    check_clean();
}

/* ---- exec ---- */

static char *exec_status(struct fixture *f, pid_t pid, struct crisp_process *proc)
{
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    char *cmd[] = {"sh", "-c", STATUS_SCRIPT, NULL};
    proc->argv = cmd;
    proc->env = f->env;
    proc->stdin_fd = -1;
    proc->stdout_fd = p[1];
    proc->stderr_fd = p[1];
    struct crisp_exec_spec es = {.process = *proc};
    struct crisp_exec_result res;
    int r = crisp_container_exec(pid, &es, &res, &f->err);
    close(p[1]);
    if (r < 0)
        close(p[0]);
    expect_ok(f, r, "exec");
    track(f, res.pid);
    char *out = read_all(p[0]);
    close(p[0]);
    int status = wait_pid(f, res.pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("exec status 0x%x: %s", (unsigned)status, out);
    return out;
}

static void test_exec_gets_caps_and_no_new_privs(void **state)
{
    struct fixture *f = *state;
    /* the container itself: no capabilities at all */
    set_caps(f, NULL, 0);
    f->spec.process.no_new_privs = true;
    char *argv[] = {"sleep", "30", NULL};
    f->spec.process.argv = argv;
    int fd;
    pid_t pid = launch(f, &fd);
    close(fd);

    size_t n;
    const int *caps = crisp_cap_default_set(&n);
    uint64_t m = default_mask();
    struct crisp_process proc = {.caps = caps, .n_caps = n, .caps_set = true, .no_new_privs = true};
    char *out = exec_status(f, pid, &proc);
    expect_caps(out, m, m, m, m);
    assert_contains(out, "NoNewPrivs:\t1\n");
    free(out);

    proc = (struct crisp_process){
        .caps = caps, .n_caps = n, .caps_set = true, .uid = 1000, .gid = 1000};
    out = exec_status(f, pid, &proc);
    expect_caps(out, 0, 0, 0, m);
    assert_contains(out, "NoNewPrivs:\t0\n");
    free(out);

    const int one[] = {CAP_KILL};
    proc = (struct crisp_process){.caps = one, .n_caps = 1, .caps_set = true};
    out = exec_status(f, pid, &proc);
    uint64_t k = 1ull << CAP_KILL;
    expect_caps(out, k, k, k, k);
    free(out);

    kill(pid, SIGKILL);
    wait_pid(f, pid);
    check_clean();
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
