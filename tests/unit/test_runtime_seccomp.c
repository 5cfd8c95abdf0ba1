/* runtime/seccomp: RuntimeDefault and OCI profiles in real containers from a busybox lowerdir
 * (as in test_runtime_caps.c), plus profile checks without containers. Needs root and cc (a
 * small static probe is compiled into the lowerdir: it makes the syscalls busybox has no applet
 * for and prints "name=<errno>" for each, 0 meaning success). Every container test ends with
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
#include "runtime/seccomp.h"

#define MAX_PIDS   4
#define OUTPUT_MAX 65536

static const char *const applets[] = {"sh",   "cat",   "grep",    "hostname", "echo",    "ls", "wc",
                                      "true", "sleep", "unshare", "uname",    "linux32", "id"};

/* The probe: each line "name=<errno>" (0: the call succeeded). A call that is let through
 * fails harmlessly on its bad arguments (EINVAL, EFAULT, EBADF) or does something local. */
static const char probe_src[] =
    "#define _GNU_SOURCE\n"
    "#include <errno.h>\n"
    "#include <sched.h>\n"
    "#include <signal.h>\n"
    "#include <stdio.h>\n"
    "#include <sys/personality.h>\n"
    "#include <sys/socket.h>\n"
    "#include <sys/syscall.h>\n"
    "#include <sys/wait.h>\n"
    "#include <unistd.h>\n"
    "static void show(const char *name, long r) { printf(\"%s=%d\\n\", name, r < 0 ? errno : 0); "
    "}\n"
    "static long sock(int family) {\n"
    "    int s = socket(family, SOCK_STREAM, 0);\n"
    "    if (s >= 0) close(s);\n"
    "    return s;\n"
    "}\n"
    "static long clone_flags(unsigned long flags) {\n"
    "    long pid = syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);\n"
    "    if (pid == 0) _exit(0);\n"
    "    if (pid > 0) waitpid((pid_t)pid, NULL, 0);\n"
    "    return pid;\n"
    "}\n"
    "static void show32(const char *name, long r) { printf(\"%s=%ld\\n\", name, r < 0 ? -r : 0); "
    "}\n"
    "static long i386_syscall(long nr, long a, long b) {\n"
    "    long r;\n"
    "    __asm__ volatile(\"int $0x80\" : \"=a\"(r) : \"a\"(nr), \"b\"(a), \"c\"(b) : "
    "\"memory\");\n"
    "    return r;\n"
    "}\n"
    "int main(void) {\n"
    "    setvbuf(stdout, NULL, _IONBF, 0);\n"
    "    show(\"keyctl\", syscall(SYS_keyctl, 0, -1, 0));\n"
    "    show(\"add_key\", syscall(SYS_add_key, \"user\", 0, 0, 0, 0));\n"
    "    show(\"request_key\", syscall(SYS_request_key, \"user\", 0, 0, 0));\n"
    "    show(\"io_uring_setup\", syscall(SYS_io_uring_setup, 0, 0));\n"
    "    show(\"userfaultfd\", syscall(SYS_userfaultfd, -1));\n"
    "    show(\"clone3\", syscall(SYS_clone3, 0, 0));\n"
    "    show(\"bpf\", syscall(SYS_bpf, -1, 0, 0));\n"
    "    show(\"perf_event_open\", syscall(SYS_perf_event_open, 0, 0, -1, -1, 0));\n"
    "    show(\"mount\", syscall(SYS_mount, 0, 0, 0, 0, 0));\n"
    "    show(\"vsock\", sock(AF_VSOCK));\n"
    "    show(\"inet\", sock(AF_INET));\n"
    "    show(\"unix\", sock(AF_UNIX));\n"
    "    show(\"fchmodat2\", syscall(452, -1, \"x\", 0, 0));\n"
    "    show(\"linux32\", personality(PER_LINUX32));\n"
    "    show(\"query\", personality(0xffffffff));\n"
    "    show(\"norandom\", personality(ADDR_NO_RANDOMIZE));\n"
    "    personality(PER_LINUX);\n"
    "    show(\"fork\", clone_flags(0));\n"
    "    show(\"clone_newuts\", clone_flags(CLONE_NEWUTS));\n"
    "    show(\"getpid\", syscall(SYS_getpid));\n"
    "    show32(\"i386_getpid\", i386_syscall(20, 0, 0));\n"
    "    show32(\"i386_keyctl\", i386_syscall(288, 0, -1));\n"
    "    show32(\"i386_fchmodat2\", i386_syscall(452, -1, 0));\n"
    "    return 0;\n"
    "}\n";

#define STATUS_SCRIPT "grep -E '^(Seccomp|NoNewPrivs)' /proc/self/status"

static char box[64];   /* the group's directory */
static char lower[96]; /* the busybox lowerdir */
static int test_counter;

struct fixture {
    char dir[128], upper[160], work[160], rootfs[160];
    pid_t pids[MAX_PIDS];
    struct crisp_container *c;
    struct crisp_err err;
    const char *lowers[1];
    struct crisp_container_spec spec;
    char *env[2];
    int caps[CRISP_CAP_MAX];
    struct crisp_seccomp seccomp;
};

static const struct crisp_seccomp runtime_default = {.kind = CRISP_SECCOMP_RUNTIME_DEFAULT};

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

static void assert_lacks(const char *haystack, const char *needle)
{
    if (strstr(haystack, needle))
        fail_msg("\"%s\" contains \"%s\"", haystack, needle);
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

/* ---- fixtures ---- */

static int group_setup(void **state)
{
    (void)state;
    strcpy(box, "/tmp/crisp-rtsec-XXXXXX");
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
    char src[128], cmd[512];
    snprintf(src, sizeof(src), "%s/probe.c", box);
    write_file(src, probe_src);
    snprintf(cmd, sizeof(cmd), "cc -static -O1 -o %s/bin/probe %s", lower, src);
    if (system(cmd) != 0)
        fail_msg("cannot build the probe: %s", cmd);
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
    mkdirf(f->dir);
    mkdirf(f->upper);
    mkdirf(f->work);
    mkdirf(f->rootfs);
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

static char *run_argv(struct fixture *f, char **argv, int *status)
{
    f->spec.process.argv = argv;
    int fd;
    pid_t pid = launch(f, &fd);
    char *out = read_all(fd);
    close(fd);
    *status = wait_pid(f, pid);
    f->spec.process.argv = NULL;
    return out;
}

static char *run(struct fixture *f, const char *script, int *status)
{
    char *argv[] = {"sh", "-c", (char *)script, NULL};
    return run_argv(f, argv, status);
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

/* The 14 defaults, plus extra when >= 0. */
static void default_caps_plus(struct fixture *f, int extra)
{
    size_t n;
    const int *def = crisp_cap_default_set(&n);
    memcpy(f->caps, def, n * sizeof(*def));
    if (extra >= 0)
        f->caps[n++] = extra;
    set_caps(f, f->caps, n);
}

static void all_caps(struct fixture *f)
{
    set_caps(f, f->caps, crisp_cap_all(f->caps, CRISP_CAP_MAX));
}

static void use_profile(struct fixture *f, const char *json)
{
    f->seccomp = (struct crisp_seccomp){.kind = CRISP_SECCOMP_PROFILE, .profile_json = json};
    f->spec.process.seccomp = &f->seccomp;
}

/* ---- RuntimeDefault ---- */

#define WORKLOAD                                                                                   \
    STATUS_SCRIPT "; echo hello | cat | wc -c; ls / > /dev/null && echo ls-ok; "                   \
                  "sleep 0.05 && echo slept; (echo sub; true) | grep -c sub; id -u"

static void expect_workload(const char *out)
{
    assert_contains(out, "Seccomp:\t2\n");
    assert_contains(out, "Seccomp_filters:\t1\n");
    assert_contains(out, "\n6\nls-ok\nslept\n1\n");
}

static void test_default_workload(void **state)
{
    struct fixture *f = *state;
    default_caps_plus(f, -1);
    f->spec.process.seccomp = &runtime_default;
    f->spec.hostname = "before";
    char *out = run_ok(f, WORKLOAD "; unshare -n true; echo unshare=$?; hostname after; "
                                   "echo hostname=$?; hostname; linux32 uname -m");
    expect_workload(out);
    assert_contains(out, "NoNewPrivs:\t0\n"); /* installed at the privileged stage */
    assert_contains(out, "unshare: unshare(0x40000000): Operation not permitted");
    assert_contains(out, "unshare=1\n");
    assert_contains(out, "hostname=1\nbefore\n");
    assert_contains(out, "\ni686\n"); /* personality(PER_LINUX32) is allowed */
    free(out);
    check_clean();
}

/* The filter, not the capabilities, is what the default set runs into: with CAP_SYS_ADMIN the
 * gated group opens. */
static void test_default_with_sys_admin(void **state)
{
    struct fixture *f = *state;
    default_caps_plus(f, CAP_SYS_ADMIN);
    f->spec.process.seccomp = &runtime_default;
    char *out = run_ok(f, STATUS_SCRIPT "; unshare -n true; echo unshare=$?; hostname after; "
                                        "echo hostname=$?; hostname; probe");
    assert_contains(out, "Seccomp:\t2\n");
    assert_contains(out, "unshare=0\n");
    assert_contains(out, "hostname=0\nafter\n");
    assert_contains(out, "clone3=22\n");      /* allowed: EINVAL for its NULL arguments */
    assert_contains(out, "clone_newuts=0\n"); /* namespace flags allowed */
    assert_contains(out, "mount=14\n");       /* EFAULT: reached the kernel */
    assert_contains(out, "bpf=22\n");         /* CAP_SYS_ADMIN opens bpf too */
    assert_contains(out, "keyctl=1\n");       /* never */
    assert_contains(out, "io_uring_setup=1\n");
    free(out);
    check_clean();
}

static void test_default_blocks(void **state)
{
    struct fixture *f = *state;
    default_caps_plus(f, -1);
    f->spec.process.seccomp = &runtime_default;
    char *out = run_ok(f, "probe");
    static const char *const want[] = {
        "keyctl=1\n",
        "add_key=1\n",
        "request_key=1\n",
        "io_uring_setup=1\n",
        "userfaultfd=1\n",
        "clone3=38\n",
        "bpf=1\n",
        "perf_event_open=1\n",
        "mount=1\n",
        "vsock=1\n",
        "inet=0\n",
        "unix=0\n",
        "fchmodat2=38\n", /* newer than the table: ENOSYS, not EPERM */
        "linux32=0\n",
        "query=0\n",
        "norandom=1\n",
        "fork=0\n",
        "clone_newuts=1\n",
        "getpid=0\n",
        /* the i386 ABI (int $0x80) is filtered too, the ENOSYS bound included */
        "i386_getpid=0\n",
        "i386_keyctl=1\n",
        "i386_fchmodat2=38\n",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        assert_contains(out, want[i]);
    free(out);

    /* the same probe unconfined: the refusals above were the filter's */
    f->spec.process.seccomp = NULL;
    out = run_ok(f, "probe");
    assert_contains(out, "io_uring_setup=14\n"); /* EFAULT */
    assert_contains(out, "clone3=22\n");
    assert_contains(out, "fchmodat2=9\n"); /* EBADF */
    assert_contains(out, "norandom=0\n");
    assert_lacks(out, "keyctl=1\n");
    assert_lacks(out, "i386_keyctl=1\n");
    assert_lacks(out, "i386_fchmodat2=38\n");
    free(out);
    check_clean();
}

/* caps not set: root keeps every capability, so every group is open. */
static void test_default_caps_not_set(void **state)
{
    struct fixture *f = *state;
    f->spec.process.seccomp = &runtime_default;
    char *out = run_ok(f, STATUS_SCRIPT "; unshare -n true; echo unshare=$?; probe");
    assert_contains(out, "Seccomp:\t2\n");
    assert_contains(out, "unshare=0\n");
    assert_contains(out, "clone3=22\n");
    assert_contains(out, "perf_event_open=14\n");
    assert_contains(out, "keyctl=1\n");
    free(out);
    check_clean();
}

/* A user, with and without no_new_privs (the two stages). */
static void test_default_as_user(void **state)
{
    struct fixture *f = *state;
    default_caps_plus(f, -1);
    f->spec.process.seccomp = &runtime_default;
    f->spec.process.uid = 1000;
    f->spec.process.gid = 1000;
    char *out = run_ok(f, WORKLOAD);
    expect_workload(out);
    assert_contains(out, "NoNewPrivs:\t0\n");
    assert_contains(out, "\n1000\n");
    free(out);
    f->spec.process.no_new_privs = true;
    out = run_ok(f, WORKLOAD "; probe");
    expect_workload(out);
    assert_contains(out, "NoNewPrivs:\t1\n");
    assert_contains(out, "\n1000\n");
    assert_contains(out, "keyctl=1\n");
    assert_contains(out, "clone3=38\n");
    free(out);
    check_clean();
}

/* ---- profiles ---- */

#define DENY_SETHOSTNAME                                                                           \
    "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"sethostname\"], "       \
    "\"action\": \"SCMP_ACT_ERRNO\"}]}"

static void test_profile_denies_sethostname(void **state)
{
    struct fixture *f = *state;
    all_caps(f);
    f->spec.hostname = "before";
    const char *script = STATUS_SCRIPT "; hostname after; echo rc=$?; hostname";
    char *out = run_ok(f, script);
    assert_contains(out, "Seccomp:\t0\n");
    assert_contains(out, "rc=0\nafter\n");
    free(out);

    use_profile(f, DENY_SETHOSTNAME);
    out = run_ok(f, script);
    assert_contains(out, "Seccomp:\t2\n");
    assert_contains(out, "Operation not permitted");
    assert_contains(out, "rc=1\nbefore\n");
    free(out);

    /* errnoRet, and with no_new_privs (the late stage) */
    use_profile(f, "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": "
                   "[\"sethostname\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 13}]}");
    f->spec.process.no_new_privs = true;
    out = run_ok(f, script);
    assert_contains(out, "NoNewPrivs:\t1\n");
    assert_contains(out, "Permission denied");
    assert_contains(out, "rc=1\nbefore\n");
    free(out);
    check_clean();
}

static void test_profile_kill_and_args(void **state)
{
    struct fixture *f = *state;
    all_caps(f);
    use_profile(f, "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": ["
                   "{\"names\": [\"uname\"], \"action\": \"SCMP_ACT_KILL_PROCESS\"}]}");
    char *argv[] = {"uname", NULL};
    int status;
    char *out = run_argv(f, argv, &status);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGSYS)
        fail_msg("uname: status 0x%x, output: %s", (unsigned)status, out);
    free(out);

    /* a condition on an argument: AF_INET sockets only; a default of ALLOW gets no ENOSYS
     * bound (fchmodat2 reaches the kernel: EBADF); no architectures: the native one only, and
     * a syscall of another ABI (i386's int $0x80) kills the process */
    use_profile(f, "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": "
                   "[\"socket\"], \"action\": \"SCMP_ACT_ERRNO\", \"args\": [{\"index\": 0, "
                   "\"value\": 2, \"op\": \"SCMP_CMP_EQ\"}]}]}");
    argv[0] = "probe";
    out = run_argv(f, argv, &status);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGSYS)
        fail_msg("probe: status 0x%x, output: %s", (unsigned)status, out);
    assert_contains(out, "inet=1\n");
    assert_contains(out, "unix=0\n");
    assert_contains(out, "fchmodat2=9\n");
    assert_contains(out, "getpid=0\n");
    assert_lacks(out, "i386_getpid");
    free(out);

    /* an allow-list with ERRNO(EPERM) by default: unknown names skipped, the ENOSYS bound is
     * the highest syscall the profile names; two conditions on one argument become two rules
     * (either allows). With no_new_privs the filter comes right before execve: the profile
     * needs nothing for crisp's own setup (without, it would need setresuid, capset, ...). */
    f->spec.process.no_new_privs = true;
    use_profile(f, "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 1, "
                   "\"architectures\": [\"SCMP_ARCH_X86_64\", \"SCMP_ARCH_X86\", "
                   "\"SCMP_ARCH_X32\"], \"flags\": [\"SECCOMP_FILTER_FLAG_SPEC_ALLOW\"], "
                   "\"syscalls\": [{\"names\": [\"no_such_syscall\", \"read\", \"write\", "
                   "\"exit_group\", \"execve\", \"brk\", \"mmap\", \"munmap\", \"arch_prctl\", "
                   "\"set_tid_address\", \"set_robust_list\", \"rseq\", \"prlimit64\", "
                   "\"mprotect\", \"readlinkat\", \"getrandom\", \"newfstatat\", \"fstat\", "
                   "\"uname\", \"ioctl\", \"close\", \"socket\", \"getpid\", \"personality\", "
                   "\"futex_waitv\"], \"action\": \"SCMP_ACT_ALLOW\"}, {\"names\": [\"keyctl\"], "
                   "\"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 95}, {\"names\": "
                   "[\"io_uring_setup\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": [{\"index\": "
                   "0, \"value\": 1, \"op\": \"SCMP_CMP_EQ\"}, {\"index\": 0, \"value\": 0, "
                   "\"op\": \"SCMP_CMP_EQ\"}]}]}");
    out = run_argv(f, argv, &status);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_contains(out, "keyctl=95\n");
    assert_contains(out, "add_key=1\n");
    assert_contains(out, "io_uring_setup=14\n"); /* entries 0: the second rule allows it */
    assert_contains(out, "fchmodat2=38\n");      /* above futex_waitv */
    assert_contains(out, "inet=0\n");
    assert_contains(out, "fork=1\n");
    assert_contains(out, "i386_getpid=0\n");
    assert_contains(out, "i386_keyctl=95\n");
    free(out);
    check_clean();
}

/* Without no_new_privs the filter is in before the ids change: a profile must allow what
 * crisp's own setup does after that point (runtime/container.h lists it), no more. */
static void test_profile_setup_syscalls(void **state)
{
    struct fixture *f = *state;
    default_caps_plus(f, -1);
    f->spec.process.uid = 1000;
    f->spec.process.gid = 1000;
    const char *const base =
        "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 99, \"architectures\": "
        "[\"SCMP_ARCH_X86_64\", \"SCMP_ARCH_X86\"], \"syscalls\": "
        "[{\"names\": [%s \"setgroups\", \"setresgid\", \"setresuid\", \"openat\", "
        "\"newfstatat\", \"fstat\", \"fcntl\", \"dup2\", \"dup3\", \"close\", "
        "\"close_range\", \"chdir\", \"getcwd\", \"prctl\", \"capget\", \"capset\", "
        "\"sendmsg\", \"recvmsg\", \"rt_sigprocmask\", \"umask\", \"execve\", "
        "\"exit_group\", \"brk\", \"mmap\", \"munmap\", "
        /* what the static probe needs */
        "\"arch_prctl\", \"set_tid_address\", \"set_robust_list\", \"rseq\", "
        "\"prlimit64\", \"mprotect\", \"readlinkat\", \"getrandom\", \"uname\", "
        "\"ioctl\", \"write\", \"getpid\"], \"action\": \"SCMP_ACT_ALLOW\"}]}";
    /* the launcher's own code is instrumented in ASan builds: its runtime needs more */
#if defined(__SANITIZE_ADDRESS__)
    const char *sanitizer = "\"sigaltstack\", \"gettid\", \"sched_yield\", \"madvise\", "
                            "\"getpid\", \"tgkill\", \"rt_sigaction\", ";
#else
    const char *sanitizer = "";
#endif
    char json[2048];
    snprintf(json, sizeof(json), base, sanitizer);
    use_profile(f, json);
    char *argv[] = {"probe", NULL};
    int status;
    char *out = run_argv(f, argv, &status);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("probe: status 0x%x, output: %s", (unsigned)status, out);
    assert_contains(out, "keyctl=99\n");
    assert_contains(out, "getpid=0\n");
    assert_contains(out, "i386_getpid=0\n");
    assert_contains(out, "i386_keyctl=99\n");
    free(out);
    /* without setresuid the setup itself fails, and says so */
    snprintf(json, sizeof(json), base, sanitizer);
    char *hole = strstr(json, "\"setresuid\", ");
    assert_non_null(hole);
    memmove(hole, hole + strlen("\"setresuid\", "), strlen(hole + strlen("\"setresuid\", ")) + 1);
    use_profile(f, json);
    f->spec.process.argv = argv;
    assert_int_equal(crisp_container_create(&f->spec, &f->c, &f->err), -99);
    assert_contains(f->err.msg, "setresuid 1000");
    assert_null(f->c);
    check_clean();
}

/* Docker's form: archMap, "name", includes/excludes decided by the capabilities. */
static void test_profile_docker_form(void **state)
{
    struct fixture *f = *state;
    all_caps(f);
    f->spec.hostname = "before";
    const char *script = "hostname after; echo rc=$?";
    use_profile(f, "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"archMap\": [{\"architecture\": "
                   "\"SCMP_ARCH_X86_64\", \"subArchitectures\": [\"SCMP_ARCH_X86\", "
                   "\"SCMP_ARCH_X32\"]}, {\"architecture\": \"SCMP_ARCH_AARCH64\", "
                   "\"subArchitectures\": [\"SCMP_ARCH_ARM\"]}], \"syscalls\": [{\"name\": "
                   "\"sethostname\", \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 13, "
                   "\"includes\": {\"caps\": [\"CAP_SYS_ADMIN\"], \"arches\": [\"amd64\"], "
                   "\"minKernel\": \"4.8\"}, \"comment\": \"x\"}]}");
    char *out = run_ok(f, script);
    assert_contains(out, "Permission denied");
    assert_contains(out, "rc=1\n");
    free(out);
    use_profile(f, "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": "
                   "[\"sethostname\"], \"action\": \"SCMP_ACT_ERRNO\", \"excludes\": {\"caps\": "
                   "[\"CAP_SYS_ADMIN\"]}}, {\"names\": [\"uname\"], \"action\": "
                   "\"SCMP_ACT_ERRNO\", \"includes\": {\"arches\": [\"s390x\"]}}]}");
    out = run_ok(f, script);
    assert_contains(out, "rc=0\n");
    free(out);
    check_clean();
}

/* ---- refusals ---- */

static void expect_refused(struct fixture *f, const char *json, const char *needle)
{
    char *argv[] = {"true", NULL};
    f->spec.process.argv = argv;
    use_profile(f, json);
    int r = crisp_container_create(&f->spec, &f->c, &f->err);
    if (r != -EINVAL || f->err.code != GRPC_STATUS_INVALID_ARGUMENT)
        fail_msg("%s: got %d (%s)", json, r, f->err.msg);
    if (!strstr(f->err.msg, needle))
        fail_msg("%s: message \"%s\" lacks \"%s\"", json, f->err.msg, needle);
    assert_null(f->c);
    /* the same answer without a container */
    struct crisp_err err = {0};
    assert_int_equal(crisp_seccomp_validate(&f->seccomp, &f->spec.process, &err), -EINVAL);
    assert_string_equal(err.msg, f->err.msg);
}

static void test_bad_profiles_spawn_nothing(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *json, *needle;
    } cases[] = {
        {"not json", "seccomp profile: line 1"},
        {"[1]", "seccomp profile: /: expected an object"},
        {"{\"syscalls\": []}", "seccomp profile: defaultAction: missing"},
        {"{\"defaultAction\": \"SCMP_ACT_BOGUS\"}",
         "seccomp profile: defaultAction: unknown action \"SCMP_ACT_BOGUS\""},
        {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"defaultErrnoRet\": 1}",
         "defaultErrnoRet: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE"},
        {"{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 5000}",
         "defaultErrnoRet: expected an integer in 0..4095"},
        {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\"], "
         "\"action\": \"SCMP_ACT_ALLOW\"}, {\"names\": [\"write\"], \"action\": "
         "\"SCMP_ACT_ERRNO\"}, {\"names\": [\"open\"], \"action\": \"SCMP_ACT_LOG\"}, "
         "{\"names\": [\"close\"], \"action\": \"X\"}]}",
         "seccomp profile: syscalls[3].action: unknown action \"X\""},
        {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\"], "
         "\"action\": \"SCMP_ACT_NOTIFY\"}]}",
         "syscalls[0].action: SCMP_ACT_NOTIFY is not supported"},
        {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"action\": "
         "\"SCMP_ACT_ERRNO\"}]}",
         "syscalls[0].names: expected a non-empty array of syscall names"},
        {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\", 7], "
         "\"action\": \"SCMP_ACT_ERRNO\"}]}",
         "syscalls[0].names[1]: expected a syscall name"},
        {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\"], "
         "\"action\": \"SCMP_ACT_KILL\", \"errnoRet\": 1}]}",
         "syscalls[0].errnoRet: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take one"},
        {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\"], "
         "\"action\": \"SCMP_ACT_ERRNO\", \"args\": [{\"index\": 6, \"value\": 1, \"op\": "
         "\"SCMP_CMP_EQ\"}]}]}",
         "syscalls[0].args[0].index: expected an integer in 0..5"},
        {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\"], "
         "\"action\": \"SCMP_ACT_ERRNO\", \"args\": [{\"index\": 0, \"value\": 1, \"op\": "
         "\"SCMP_CMP_EQ\"}, {\"index\": 1, \"value\": 1, \"op\": \"SCMP_CMP_LIKE\"}]}]}",
         "syscalls[0].args[1].op: unknown operator \"SCMP_CMP_LIKE\""},
        {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\"], "
         "\"action\": \"SCMP_ACT_ERRNO\", \"args\": [{\"index\": 0, \"value\": -1, \"op\": "
         "\"SCMP_CMP_EQ\"}]}]}",
         "syscalls[0].args[0].value: expected an integer >= 0"},
        {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\"], "
         "\"action\": \"SCMP_ACT_ERRNO\", \"args\": [{\"index\": 0, \"op\": "
         "\"SCMP_CMP_EQ\"}]}]}",
         "syscalls[0].args[0].value: missing"},
        {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": [\"SCMP_ARCH_X86_64\", "
         "\"SCMP_ARCH_VAX\"]}",
         "seccomp profile: architectures[1]: unknown architecture \"SCMP_ARCH_VAX\""},
        {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": [\"SCMP_ARCH_X86_64\", "
         "\"SCMP_ARCH_S390X\"]}",
         "architectures[1]: \"SCMP_ARCH_S390X\" has another byte order than the native "
         "architecture"},
        {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": [\"SCMP_ARCH_X86\"], "
         "\"archMap\": [{\"architecture\": \"SCMP_ARCH_X86_64\"}]}",
         "archMap: not allowed together with architectures"},
        {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"flags\": [\"SECCOMP_FILTER_FLAG_NOPE\"]}",
         "flags[0]: unknown flag \"SECCOMP_FILTER_FLAG_NOPE\""},
        {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"listenerPath\": \"/run/agent.sock\"}",
         "listenerPath: seccomp user notification is not supported"},
        {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\"], "
         "\"action\": \"SCMP_ACT_ERRNO\", \"includes\": {\"caps\": [\"CAP_NOPE\"]}}]}",
         "syscalls[0].includes.caps[0]: unknown capability \"CAP_NOPE\""},
        {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\"], "
         "\"action\": \"SCMP_ACT_ERRNO\", \"excludes\": {\"minKernel\": \"four\"}}]}",
         "syscalls[0].excludes.minKernel: expected \"<major>.<minor>\""},
        {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"defaultAction\": \"SCMP_ACT_KILL\"}",
         "duplicate"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect_refused(f, cases[i].json, cases[i].needle);

    /* the kind itself */
    char *argv[] = {"true", NULL};
    f->spec.process.argv = argv;
    f->seccomp = (struct crisp_seccomp){.kind = CRISP_SECCOMP_PROFILE};
    f->spec.process.seccomp = &f->seccomp;
    assert_int_equal(crisp_container_create(&f->spec, &f->c, &f->err), -EINVAL);
    assert_contains(f->err.msg, "seccomp: profile missing");
    f->seccomp = (struct crisp_seccomp){.kind = (enum crisp_seccomp_kind)42};
    assert_int_equal(crisp_container_create(&f->spec, &f->c, &f->err), -EINVAL);
    assert_contains(f->err.msg, "seccomp: unknown kind");
    assert_null(f->c);
    check_clean();
}

/* Checks without containers: good profiles pass, NULL is fine, the default table builds. */
static void test_validate(void **state)
{
    (void)state;
    struct crisp_err err = {0};
    assert_int_equal(crisp_seccomp_validate(NULL, NULL, &err), 0);
    assert_int_equal(crisp_seccomp_validate(&runtime_default, NULL, &err), 0);
    static const char *const good[] = {
        "{\"defaultAction\": \"SCMP_ACT_LOG\"}",
        "{\"defaultAction\": \"SCMP_ACT_KILL_THREAD\", \"syscalls\": null}",
        "{\"defaultAction\": \"SCMP_ACT_TRACE\", \"defaultErrnoRet\": 65535, \"syscalls\": "
        "[{\"names\": [\"read\"], \"action\": \"SCMP_ACT_TRAP\"}]}",
        "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"architectures\": [\"SCMP_ARCH_X86_64\", "
        "\"SCMP_ARCH_AARCH64\"], \"flags\": [\"SECCOMP_FILTER_FLAG_LOG\", "
        "\"SECCOMP_FILTER_FLAG_TSYNC\"], \"listenerPath\": \"\", \"syscalls\": [{\"names\": "
        "[\"read\", \"chown32\", \"no_such_call\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": "
        "[{\"index\": 5, \"value\": 9223372036854775807, \"valueTwo\": 0, \"op\": "
        "\"SCMP_CMP_MASKED_EQ\"}]}, {\"names\": [\"write\"], \"action\": \"SCMP_ACT_ERRNO\"}]}",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        const struct crisp_seccomp sc = {.kind = CRISP_SECCOMP_PROFILE, .profile_json = good[i]};
        if (crisp_seccomp_validate(&sc, NULL, &err) < 0)
            fail_msg("%s: %s", good[i], err.msg);
    }
    /* RuntimeDefault takes no profile */
    const struct crisp_seccomp both = {.kind = CRISP_SECCOMP_RUNTIME_DEFAULT, .profile_json = "{}"};
    assert_int_equal(crisp_seccomp_validate(&both, NULL, &err), -EINVAL);
}

/* ---- exec ---- */

static char *exec_out(struct fixture *f, pid_t pid, struct crisp_process *proc, const char *script)
{
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    char *cmd[] = {"sh", "-c", (char *)script, NULL};
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

static void test_exec_gets_seccomp(void **state)
{
    struct fixture *f = *state;
    /* the container itself: unconfined */
    all_caps(f);
    char *argv[] = {"sleep", "30", NULL};
    f->spec.process.argv = argv;
    int fd;
    pid_t pid = launch(f, &fd);
    close(fd);

    size_t n;
    const int *def = crisp_cap_default_set(&n);
    struct crisp_process proc = {
        .caps = def, .n_caps = n, .caps_set = true, .seccomp = &runtime_default};
    char *out = exec_out(f, pid, &proc, STATUS_SCRIPT "; probe");
    assert_contains(out, "Seccomp:\t2\n");
    assert_contains(out, "keyctl=1\n");
    assert_contains(out, "clone3=38\n");
    free(out);

    struct crisp_seccomp deny = {.kind = CRISP_SECCOMP_PROFILE, .profile_json = DENY_SETHOSTNAME};
    proc = (struct crisp_process){.caps = f->caps,
                                  .n_caps = f->spec.process.n_caps,
                                  .caps_set = true,
                                  .seccomp = &deny,
                                  .no_new_privs = true};
    out = exec_out(f, pid, &proc, STATUS_SCRIPT "; hostname x; echo rc=$?");
    assert_contains(out, "Seccomp:\t2\n");
    assert_contains(out, "NoNewPrivs:\t1\n");
    assert_contains(out, "Operation not permitted");
    assert_contains(out, "rc=1\n");
    free(out);

    proc =
        (struct crisp_process){.caps = f->caps, .n_caps = f->spec.process.n_caps, .caps_set = true};
    out = exec_out(f, pid, &proc, STATUS_SCRIPT);
    assert_contains(out, "Seccomp:\t0\n");
    free(out);

    /* a bad profile: refused before anything is spawned */
    struct crisp_seccomp broken = {.kind = CRISP_SECCOMP_PROFILE, .profile_json = "{"};
    proc.seccomp = &broken;
    char *cmd[] = {"true", NULL};
    proc.argv = cmd;
    proc.stdin_fd = proc.stdout_fd = proc.stderr_fd = -1;
    struct crisp_exec_spec es = {.process = proc};
    struct crisp_exec_result res;
    assert_int_equal(crisp_container_exec(pid, &es, &res, &f->err), -EINVAL);
    assert_int_equal(f->err.code, GRPC_STATUS_INVALID_ARGUMENT);
    assert_contains(f->err.msg, "seccomp profile: line 1");

    kill(pid, SIGKILL);
    wait_pid(f, pid);
    check_clean();
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
#if !defined(__x86_64__)
    printf("test_runtime_seccomp: SKIPPED: x86_64 only (syscall numbers, the i386 ABI)\n");
    return 0;
#endif
    if (geteuid() != 0) {
        printf("test_runtime_seccomp: SKIPPED: needs root (namespaces, mounts)\n");
        return 0;
    }
    if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) != 0) {
        printf("test_runtime_seccomp: SKIPPED: already under seccomp\n");
        return 0;
    }
    alarm(120);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validate),    T(test_default_workload),
        T(test_default_with_sys_admin),     T(test_default_blocks),
        T(test_default_caps_not_set),       T(test_default_as_user),
        T(test_profile_denies_sethostname), T(test_profile_kill_and_args),
        T(test_profile_setup_syscalls),     T(test_profile_docker_form),
        T(test_bad_profiles_spawn_nothing), T(test_exec_gets_seccomp),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
