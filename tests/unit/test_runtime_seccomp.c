/* runtime/seccomp: RuntimeDefault and OCI profiles in real containers from a busybox lowerdir
 * (as in test_runtime_caps.c), plus profile checks without containers. Needs root and cc (a
 * small static probe is compiled into the lowerdir: it makes the syscalls busybox has no applet
 * for and prints "name=<errno>" for each, 0 meaning success). Every container test ends with
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
#include "runtime/seccomp.h"

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
    struct sup_ctr t; /* dirs, spec, running containers */
    int caps[CRISP_CAP_MAX];
    struct crisp_seccomp seccomp;
};

static const struct crisp_seccomp runtime_default = {.kind = CRISP_SECCOMP_RUNTIME_DEFAULT};

/* ---- helpers ---- */

static void assert_lacks(const char *haystack, const char *needle)
{
    if (strstr(haystack, needle))
        fail_msg("\"%s\" contains \"%s\"", haystack, needle);
}

/* ---- fixtures ---- */

static int group_setup(void **state)
{
    (void)state;
    sup_busybox_box("/tmp/crisp-rtsec-XXXXXX", applets, sizeof(applets) / sizeof(applets[0]), box,
                    lower);
    char src[128], cmd[512];
    snprintf(src, sizeof(src), "%s/probe.c", box);
    sup_write_file(src, probe_src);
    snprintf(cmd, sizeof(cmd), "cc -static -O1 -o %s/bin/probe %s", lower, src);
    if (system(cmd) != 0)
        fail_msg("cannot build the probe: %s", cmd);
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

/* The 14 defaults, plus extra when >= 0. */
static void default_caps_plus(struct fixture *f, int extra)
{
    size_t n;
    const int *def = crisp_cap_default_set(&n);
    memcpy(f->caps, def, n * sizeof(*def));
    if (extra >= 0)
        f->caps[n++] = extra;
    sup_ctr_set_caps(&f->t, f->caps, n);
}

static void all_caps(struct fixture *f)
{
    sup_ctr_set_caps(&f->t, f->caps, crisp_cap_all(f->caps, CRISP_CAP_MAX));
}

static void use_profile(struct fixture *f, const char *json)
{
    f->seccomp = (struct crisp_seccomp){.kind = CRISP_SECCOMP_PROFILE, .profile_json = json};
    f->t.spec.process.seccomp = &f->seccomp;
}

/* ---- RuntimeDefault ---- */

#define WORKLOAD                                                                                   \
    STATUS_SCRIPT "; echo hello | cat | wc -c; ls / > /dev/null && echo ls-ok; "                   \
                  "sleep 0.05 && echo slept; (echo sub; true) | grep -c sub; id -u"

static void expect_workload(const char *out)
{
    sup_assert_contains(out, "Seccomp:\t2\n");
    sup_assert_contains(out, "Seccomp_filters:\t1\n");
    sup_assert_contains(out, "\n6\nls-ok\nslept\n1\n");
}

static void test_default_workload(void **state)
{
    struct fixture *f = *state;
    default_caps_plus(f, -1);
    f->t.spec.process.seccomp = &runtime_default;
    f->t.spec.hostname = "before";
    char *out =
        sup_run_script_ok(&f->t, WORKLOAD "; unshare -n true; echo unshare=$?; hostname after; "
                                          "echo hostname=$?; hostname; linux32 uname -m");
    expect_workload(out);
    sup_assert_contains(out, "NoNewPrivs:\t0\n"); /* installed at the privileged stage */
    sup_assert_contains(out, "unshare: unshare(0x40000000): Operation not permitted");
    sup_assert_contains(out, "unshare=1\n");
    sup_assert_contains(out, "hostname=1\nbefore\n");
    sup_assert_contains(out, "\ni686\n"); /* personality(PER_LINUX32) is allowed */
    free(out);
    sup_check_no_leftovers(box);
}

/* The filter, not the capabilities, is what the default set runs into: with CAP_SYS_ADMIN the
 * gated group opens. */
static void test_default_with_sys_admin(void **state)
{
    struct fixture *f = *state;
    default_caps_plus(f, CAP_SYS_ADMIN);
    f->t.spec.process.seccomp = &runtime_default;
    char *out = sup_run_script_ok(&f->t, STATUS_SCRIPT
                                  "; unshare -n true; echo unshare=$?; hostname after; "
                                  "echo hostname=$?; hostname; probe");
    sup_assert_contains(out, "Seccomp:\t2\n");
    sup_assert_contains(out, "unshare=0\n");
    sup_assert_contains(out, "hostname=0\nafter\n");
    sup_assert_contains(out, "clone3=22\n");      /* allowed: EINVAL for its NULL arguments */
    sup_assert_contains(out, "clone_newuts=0\n"); /* namespace flags allowed */
    sup_assert_contains(out, "mount=14\n");       /* EFAULT: reached the kernel */
    sup_assert_contains(out, "bpf=22\n");         /* CAP_SYS_ADMIN opens bpf too */
    sup_assert_contains(out, "keyctl=1\n");       /* never */
    sup_assert_contains(out, "io_uring_setup=1\n");
    free(out);
    sup_check_no_leftovers(box);
}

static void test_default_blocks(void **state)
{
    struct fixture *f = *state;
    default_caps_plus(f, -1);
    f->t.spec.process.seccomp = &runtime_default;
    char *out = sup_run_script_ok(&f->t, "probe");
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
        sup_assert_contains(out, want[i]);
    free(out);

    /* the same probe unconfined: the refusals above were the filter's */
    f->t.spec.process.seccomp = NULL;
    out = sup_run_script_ok(&f->t, "probe");
    sup_assert_contains(out, "io_uring_setup=14\n"); /* EFAULT */
    sup_assert_contains(out, "clone3=22\n");
    sup_assert_contains(out, "fchmodat2=9\n"); /* EBADF */
    sup_assert_contains(out, "norandom=0\n");
    assert_lacks(out, "keyctl=1\n");
    assert_lacks(out, "i386_keyctl=1\n");
    assert_lacks(out, "i386_fchmodat2=38\n");
    free(out);
    sup_check_no_leftovers(box);
}

/* caps not set: root keeps every capability, so every group is open. */
static void test_default_caps_not_set(void **state)
{
    struct fixture *f = *state;
    f->t.spec.process.seccomp = &runtime_default;
    char *out = sup_run_script_ok(&f->t, STATUS_SCRIPT "; unshare -n true; echo unshare=$?; probe");
    sup_assert_contains(out, "Seccomp:\t2\n");
    sup_assert_contains(out, "unshare=0\n");
    sup_assert_contains(out, "clone3=22\n");
    sup_assert_contains(out, "perf_event_open=14\n");
    sup_assert_contains(out, "keyctl=1\n");
    free(out);
    sup_check_no_leftovers(box);
}

/* A user, with and without no_new_privs (the two stages). */
static void test_default_as_user(void **state)
{
    struct fixture *f = *state;
    default_caps_plus(f, -1);
    f->t.spec.process.seccomp = &runtime_default;
    f->t.spec.process.uid = 1000;
    f->t.spec.process.gid = 1000;
    char *out = sup_run_script_ok(&f->t, WORKLOAD);
    expect_workload(out);
    sup_assert_contains(out, "NoNewPrivs:\t0\n");
    sup_assert_contains(out, "\n1000\n");
    free(out);
    f->t.spec.process.no_new_privs = true;
    out = sup_run_script_ok(&f->t, WORKLOAD "; probe");
    expect_workload(out);
    sup_assert_contains(out, "NoNewPrivs:\t1\n");
    sup_assert_contains(out, "\n1000\n");
    sup_assert_contains(out, "keyctl=1\n");
    sup_assert_contains(out, "clone3=38\n");
    free(out);
    sup_check_no_leftovers(box);
}

/* ---- profiles ---- */

#define DENY_SETHOSTNAME                                                                           \
    "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"sethostname\"], "       \
    "\"action\": \"SCMP_ACT_ERRNO\"}]}"

static void test_profile_denies_sethostname(void **state)
{
    struct fixture *f = *state;
    all_caps(f);
    f->t.spec.hostname = "before";
    const char *script = STATUS_SCRIPT "; hostname after; echo rc=$?; hostname";
    char *out = sup_run_script_ok(&f->t, script);
    sup_assert_contains(out, "Seccomp:\t0\n");
    sup_assert_contains(out, "rc=0\nafter\n");
    free(out);

    use_profile(f, DENY_SETHOSTNAME);
    out = sup_run_script_ok(&f->t, script);
    sup_assert_contains(out, "Seccomp:\t2\n");
    sup_assert_contains(out, "Operation not permitted");
    sup_assert_contains(out, "rc=1\nbefore\n");
    free(out);

    /* errnoRet, and with no_new_privs (the late stage) */
    use_profile(f, "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": "
                   "[\"sethostname\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 13}]}");
    f->t.spec.process.no_new_privs = true;
    out = sup_run_script_ok(&f->t, script);
    sup_assert_contains(out, "NoNewPrivs:\t1\n");
    sup_assert_contains(out, "Permission denied");
    sup_assert_contains(out, "rc=1\nbefore\n");
    free(out);
    sup_check_no_leftovers(box);
}

static void test_profile_kill_and_args(void **state)
{
    struct fixture *f = *state;
    all_caps(f);
    use_profile(f, "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": ["
                   "{\"names\": [\"uname\"], \"action\": \"SCMP_ACT_KILL_PROCESS\"}]}");
    char *argv[] = {"uname", NULL};
    int status;
    char *out = sup_run_argv(&f->t, argv, &status);
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
    out = sup_run_argv(&f->t, argv, &status);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGSYS)
        fail_msg("probe: status 0x%x, output: %s", (unsigned)status, out);
    sup_assert_contains(out, "inet=1\n");
    sup_assert_contains(out, "unix=0\n");
    sup_assert_contains(out, "fchmodat2=9\n");
    sup_assert_contains(out, "getpid=0\n");
    assert_lacks(out, "i386_getpid");
    free(out);

    /* an allow-list with ERRNO(EPERM) by default: unknown names skipped, the ENOSYS bound is
     * the highest syscall the profile names; two conditions on one argument become two rules
     * (either allows). With no_new_privs the filter comes right before execve: the profile
     * needs nothing for crisp's own setup (without, it would need setresuid, capset, ...). */
    f->t.spec.process.no_new_privs = true;
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
    out = sup_run_argv(&f->t, argv, &status);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    sup_assert_contains(out, "keyctl=95\n");
    sup_assert_contains(out, "add_key=1\n");
    sup_assert_contains(out, "io_uring_setup=14\n"); /* entries 0: the second rule allows it */
    sup_assert_contains(out, "fchmodat2=38\n");      /* above futex_waitv */
    sup_assert_contains(out, "inet=0\n");
    sup_assert_contains(out, "fork=1\n");
    sup_assert_contains(out, "i386_getpid=0\n");
    sup_assert_contains(out, "i386_keyctl=95\n");
    free(out);
    sup_check_no_leftovers(box);
}

/* Without no_new_privs the filter is in before the ids change: a profile must allow what
 * crisp's own setup does after that point (runtime/container.h lists it), no more. */
static void test_profile_setup_syscalls(void **state)
{
    struct fixture *f = *state;
    default_caps_plus(f, -1);
    f->t.spec.process.uid = 1000;
    f->t.spec.process.gid = 1000;
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
    char *out = sup_run_argv(&f->t, argv, &status);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("probe: status 0x%x, output: %s", (unsigned)status, out);
    sup_assert_contains(out, "keyctl=99\n");
    sup_assert_contains(out, "getpid=0\n");
    sup_assert_contains(out, "i386_getpid=0\n");
    sup_assert_contains(out, "i386_keyctl=99\n");
    free(out);
    /* without setresuid the setup itself fails, and says so */
    snprintf(json, sizeof(json), base, sanitizer);
    char *hole = strstr(json, "\"setresuid\", ");
    assert_non_null(hole);
    memmove(hole, hole + strlen("\"setresuid\", "), strlen(hole + strlen("\"setresuid\", ")) + 1);
    use_profile(f, json);
    f->t.spec.process.argv = argv;
    assert_int_equal(crisp_container_create(&f->t.spec, &f->t.c, &f->t.err), -99);
    sup_assert_contains(f->t.err.msg, "setresuid 1000");
    assert_null(f->t.c);
    sup_check_no_leftovers(box);
}

/* Docker's form: archMap, "name", includes/excludes decided by the capabilities. */
static void test_profile_docker_form(void **state)
{
    struct fixture *f = *state;
    all_caps(f);
    f->t.spec.hostname = "before";
    const char *script = "hostname after; echo rc=$?";
    use_profile(f, "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"archMap\": [{\"architecture\": "
                   "\"SCMP_ARCH_X86_64\", \"subArchitectures\": [\"SCMP_ARCH_X86\", "
                   "\"SCMP_ARCH_X32\"]}, {\"architecture\": \"SCMP_ARCH_AARCH64\", "
                   "\"subArchitectures\": [\"SCMP_ARCH_ARM\"]}], \"syscalls\": [{\"name\": "
                   "\"sethostname\", \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 13, "
                   "\"includes\": {\"caps\": [\"CAP_SYS_ADMIN\"], \"arches\": [\"amd64\"], "
                   "\"minKernel\": \"4.8\"}, \"comment\": \"x\"}]}");
    char *out = sup_run_script_ok(&f->t, script);
    sup_assert_contains(out, "Permission denied");
    sup_assert_contains(out, "rc=1\n");
    free(out);
    use_profile(f, "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": "
                   "[\"sethostname\"], \"action\": \"SCMP_ACT_ERRNO\", \"excludes\": {\"caps\": "
                   "[\"CAP_SYS_ADMIN\"]}}, {\"names\": [\"uname\"], \"action\": "
                   "\"SCMP_ACT_ERRNO\", \"includes\": {\"arches\": [\"s390x\"]}}]}");
    out = sup_run_script_ok(&f->t, script);
    sup_assert_contains(out, "rc=0\n");
    free(out);
    sup_check_no_leftovers(box);
}

/* ---- refusals ---- */

static void expect_refused(struct fixture *f, const char *json, const char *needle)
{
    char *argv[] = {"true", NULL};
    f->t.spec.process.argv = argv;
    use_profile(f, json);
    int r = crisp_container_create(&f->t.spec, &f->t.c, &f->t.err);
    if (r != -EINVAL || f->t.err.code != GRPC_STATUS_INVALID_ARGUMENT)
        fail_msg("%s: got %d (%s)", json, r, f->t.err.msg);
    if (!strstr(f->t.err.msg, needle))
        fail_msg("%s: message \"%s\" lacks \"%s\"", json, f->t.err.msg, needle);
    assert_null(f->t.c);
    /* the same answer without a container */
    struct crisp_err err = {0};
    assert_int_equal(crisp_seccomp_validate(&f->seccomp, &f->t.spec.process, &err), -EINVAL);
    assert_string_equal(err.msg, f->t.err.msg);
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
    f->t.spec.process.argv = argv;
    f->seccomp = (struct crisp_seccomp){.kind = CRISP_SECCOMP_PROFILE};
    f->t.spec.process.seccomp = &f->seccomp;
    assert_int_equal(crisp_container_create(&f->t.spec, &f->t.c, &f->t.err), -EINVAL);
    sup_assert_contains(f->t.err.msg, "seccomp: profile missing");
    f->seccomp = (struct crisp_seccomp){.kind = (enum crisp_seccomp_kind)42};
    assert_int_equal(crisp_container_create(&f->t.spec, &f->t.c, &f->t.err), -EINVAL);
    sup_assert_contains(f->t.err.msg, "seccomp: unknown kind");
    assert_null(f->t.c);
    sup_check_no_leftovers(box);
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

static void test_exec_gets_seccomp(void **state)
{
    struct fixture *f = *state;
    /* the container itself: unconfined */
    all_caps(f);
    char *argv[] = {"sleep", "30", NULL};
    f->t.spec.process.argv = argv;
    int fd;
    pid_t pid = sup_launch(&f->t, &fd);
    close(fd);

    size_t n;
    const int *def = crisp_cap_default_set(&n);
    struct crisp_process proc = {
        .caps = def, .n_caps = n, .caps_set = true, .seccomp = &runtime_default};
    char *out = exec_out(f, pid, &proc, STATUS_SCRIPT "; probe");
    sup_assert_contains(out, "Seccomp:\t2\n");
    sup_assert_contains(out, "keyctl=1\n");
    sup_assert_contains(out, "clone3=38\n");
    free(out);

    struct crisp_seccomp deny = {.kind = CRISP_SECCOMP_PROFILE, .profile_json = DENY_SETHOSTNAME};
    proc = (struct crisp_process){.caps = f->caps,
                                  .n_caps = f->t.spec.process.n_caps,
                                  .caps_set = true,
                                  .seccomp = &deny,
                                  .no_new_privs = true};
    out = exec_out(f, pid, &proc, STATUS_SCRIPT "; hostname x; echo rc=$?");
    sup_assert_contains(out, "Seccomp:\t2\n");
    sup_assert_contains(out, "NoNewPrivs:\t1\n");
    sup_assert_contains(out, "Operation not permitted");
    sup_assert_contains(out, "rc=1\n");
    free(out);

    proc = (struct crisp_process){
        .caps = f->caps, .n_caps = f->t.spec.process.n_caps, .caps_set = true};
    out = exec_out(f, pid, &proc, STATUS_SCRIPT);
    sup_assert_contains(out, "Seccomp:\t0\n");
    free(out);

    /* a bad profile: refused before anything is spawned */
    struct crisp_seccomp broken = {.kind = CRISP_SECCOMP_PROFILE, .profile_json = "{"};
    proc.seccomp = &broken;
    char *cmd[] = {"true", NULL};
    proc.argv = cmd;
    proc.stdin_fd = proc.stdout_fd = proc.stderr_fd = -1;
    struct crisp_exec_spec es = {.process = proc};
    struct crisp_exec_result res;
    assert_int_equal(crisp_container_exec(pid, &es, &res, &f->t.err), -EINVAL);
    assert_int_equal(f->t.err.code, GRPC_STATUS_INVALID_ARGUMENT);
    sup_assert_contains(f->t.err.msg, "seccomp profile: line 1");

    kill(pid, SIGKILL);
    sup_wait_pid(&f->t, pid);
    sup_check_no_leftovers(box);
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
