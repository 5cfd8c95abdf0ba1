/* runtime/cgroup* against this machine's real cgroup v1 hierarchies (skipped
 * unless root on a v1 host): limits read back from the kernel, processes
 * moved in, the pids limit and an OOM kill enforced, kill_all, destroy.
 * Everything lives below /crisp-test-<pid> in each hierarchy; the teardown
 * removes that tree itself (killing what is left), whatever the test did. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime/cgroup.h"
#include "support_fs.h"

#define MIB (1024 * 1024)

struct fixture {
    bool usable;
    struct crisp_cgroup_root root;
    char top[64];     /* "crisp-test-<pid>" */
    char parent[128]; /* "/crisp-test-<pid>/pod1" */
    struct crisp_cgroup *cg;
    struct crisp_err err;
    pid_t kids[4];
    size_t n_kids;
};

/* ---- small helpers ---- */

static void sleep_ms(long ms)
{
    nanosleep(&(struct timespec){.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000}, NULL);
}

/* The file's content without trailing newlines; "" when it cannot be read. */
static const char *get(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *get(const char *fmt, ...)
{
    static char buf[8192];
    char path[PATH_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    buf[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return buf;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    n = n < 0 ? 0 : n;
    while (n > 0 && buf[n - 1] == '\n')
        n--;
    buf[n] = '\0';
    return buf;
}

static void put(const char *dir, const char *file, const char *value)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    if (write(fd, value, strlen(value)) < 0) {
        /* best effort: teardown */
    }
    close(fd);
}

static bool is_dir(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static bool is_dir(const char *fmt, ...)
{
    char path[PATH_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* ---- teardown's own cleanup, independent of the code under test ---- */

static void kill_procs(const char *dir)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
    FILE *fp = fopen(path, "re");
    if (!fp)
        return;
    int pid;
    while (fscanf(fp, "%d", &pid) == 1)
        if (pid > 1 && pid != getpid())
            kill(pid, SIGKILL);
    fclose(fp);
}

/* Calls fn on dir and every cgroup below it, deepest first when post. */
static bool walk(const char *dir, bool post, bool (*fn)(const char *dir))
{
    bool ok = post || fn(dir);
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_type != DT_DIR || e->d_name[0] == '.')
            continue;
        char child[PATH_MAX];
        snprintf(child, sizeof(child), "%s/%s", dir, e->d_name);
        ok = walk(child, post, fn) && ok;
    }
    closedir(d);
    return post ? fn(dir) && ok : ok;
}

static bool thaw_and_kill(const char *dir)
{
    put(dir, "freezer.state", "THAWED");
    kill_procs(dir);
    return true;
}

static bool remove_dir(const char *dir)
{
    for (int i = 0; i < 200; i++) {
        kill_procs(dir);
        if (rmdir(dir) == 0 || errno == ENOENT)
            return true;
        if (errno != EBUSY)
            break;
        sleep_ms(10);
    }
    fprintf(stderr, "teardown: cannot remove %s: %s\n", dir, strerror(errno));
    return false;
}

static void reap_all(void)
{
    for (int i = 0; i < 200; i++) {
        pid_t p = waitpid(-1, NULL, WNOHANG);
        if (p < 0)
            return; /* ECHILD: all reaped */
        if (p == 0)
            sleep_ms(10);
    }
}

/* ---- fixture ---- */

static bool host_is_v1(void)
{
    struct statfs sfs;
    return geteuid() == 0 && statfs("/sys/fs/cgroup", &sfs) == 0 &&
           sfs.f_type != CGROUP2_SUPER_MAGIC;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    snprintf(f->top, sizeof(f->top), "crisp-test-%d", (int)getpid());
    snprintf(f->parent, sizeof(f->parent), "/%s/pod1", f->top);
    f->usable = host_is_v1() && crisp_cgroup_root_detect(&f->root, &f->err) == 0 &&
                f->root.mode == CRISP_CGROUP_V1 &&
                crisp_cgroup_root_find(&f->root, CRISP_CGROUP_MEMORY) &&
                crisp_cgroup_root_find(&f->root, CRISP_CGROUP_PIDS) &&
                crisp_cgroup_root_find(&f->root, CRISP_CGROUP_CPU) &&
                crisp_cgroup_root_find(&f->root, CRISP_CGROUP_FREEZER);
    /* Orphaned grandchildren come back to us to be reaped. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    for (size_t i = 0; i < f->n_kids; i++)
        kill(f->kids[i], SIGKILL);
    /* Everything left is thawed and killed in every hierarchy first: a
     * frozen task cannot die, and it holds all its cgroups. */
    bool clean = true;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; f->usable && i < f->root.n_hier; i++) {
            char dir[PATH_MAX];
            snprintf(dir, sizeof(dir), "%s/%s", f->root.hier[i].mount, f->top);
            if (pass == 0)
                walk(dir, false, thaw_and_kill);
            else
                clean = walk(dir, true, remove_dir) && clean;
        }
    }
    reap_all();
    crisp_cgroup_free(f->cg);
    crisp_cgroup_root_release(&f->root);
    free(f);
    return clean ? 0 : -1;
}

static void create(struct fixture *f, const char *name)
{
    crisp_cgroup_free(f->cg);
    f->cg = NULL;
    if (crisp_cgroup_create(&f->root, f->parent, name, &f->cg, &f->err) < 0)
        fail_msg("create: %s", f->err.msg);
}

static void apply_ok(struct fixture *f, const struct crisp_cgroup_resources *res)
{
    if (crisp_cgroup_apply(f->cg, res, &f->err) < 0)
        fail_msg("apply: %s", f->err.msg);
}

/* The container's directory in the hierarchy carrying c. */
static const char *dir_of(struct fixture *f, enum crisp_cgroup_controller c)
{
    static char dir[PATH_MAX];
    const struct crisp_cgroup_hierarchy *h = crisp_cgroup_root_find(&f->root, c);
    assert_non_null(h);
    snprintf(dir, sizeof(dir), "%s/%s", h->mount, crisp_cgroup_path(f->cg));
    return dir;
}

static bool has_memsw(struct fixture *f)
{
    return strlen(get("%s/memory.memsw.limit_in_bytes", dir_of(f, CRISP_CGROUP_MEMORY))) > 0;
}

/* 64 MiB of memory and no swap. */
static void limit_memory(struct fixture *f, int64_t bytes)
{
    struct crisp_cgroup_resources res = {.has_memory_limit = true,
                                         .memory_limit = bytes,
                                         .has_memory_swap_limit = has_memsw(f),
                                         .memory_swap_limit = bytes};
    apply_ok(f, &res);
}

/* A child that waits for a byte on *go, then runs fn; its pid is recorded
 * for the teardown. */
static pid_t spawn(struct fixture *f, int *go, void (*fn)(int out), int *out)
{
    int gp[2], op[2];
    assert_int_equal(pipe2(gp, O_CLOEXEC), 0);
    assert_int_equal(pipe2(op, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char c;
        close(gp[1]);
        close(op[0]);
        if (read(gp[0], &c, 1) != 1)
            _exit(100);
        fn(op[1]);
        _exit(0);
    }
    f->kids[f->n_kids++] = pid;
    close(gp[0]);
    close(op[1]);
    *go = gp[1];
    *out = op[0];
    return pid;
}

static void add_and_start(struct fixture *f, pid_t pid, int go)
{
    if (crisp_cgroup_add_pid(f->cg, pid, &f->err) < 0)
        fail_msg("add_pid: %s", f->err.msg);
    assert_int_equal(write(go, "g", 1), 1);
    close(go);
}

static void assert_killed(pid_t pid)
{
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
        fail_msg("child %d: status 0x%x, expected killed by SIGKILL", (int)pid, status);
}

/* ---- children ---- */

/* Forks 30 sleepers, reports how many forks worked, sleeps. */
static void fork_many(int out)
{
    unsigned char ok = 0;
    for (int i = 0; i < 30; i++) {
        pid_t p = fork();
        if (p == 0) {
            for (;;)
                pause();
        }
        ok += p > 0;
    }
    if (write(out, &ok, 1) != 1)
        _exit(101);
    for (;;)
        pause();
}

static void touch(size_t bytes)
{
    char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        _exit(102);
    for (size_t off = 0; off < bytes; off += 4096)
        p[off] = 1;
}

static void hog_200mib(int out)
{
    (void)out;
    touch(200 * MIB);
}

static void hold_32mib(int out)
{
    touch(32 * MIB);
    if (write(out, "r", 1) != 1)
        _exit(101);
    for (;;)
        pause();
}

/* ---- tests ---- */

static void check_created(struct fixture *f)
{
    for (size_t i = 0; i < f->root.n_hier; i++)
        assert_true(is_dir("%s/%s", f->root.hier[i].mount, crisp_cgroup_path(f->cg)));
    const struct crisp_cgroup_hierarchy *cs = crisp_cgroup_root_find(&f->root, CRISP_CGROUP_CPUSET);
    if (cs) {
        char want[256];
        snprintf(want, sizeof(want), "%s", get("%s/cpuset.cpus", cs->mount));
        assert_string_equal(get("%s/cpuset.cpus", dir_of(f, CRISP_CGROUP_CPUSET)), want);
    }
}

static void apply_and_read_back(struct fixture *f)
{
    struct crisp_cgroup_hugepage hp[] = {{"2MB", 0}};
    const struct crisp_cgroup_hierarchy *h = crisp_cgroup_root_find(&f->root, CRISP_CGROUP_HUGETLB);
    struct crisp_cgroup_resources res = {
        .has_cpu_period = true,
        .cpu_period = 100000,
        .has_cpu_quota = true,
        .cpu_quota = 50000,
        .has_cpu_shares = true,
        .cpu_shares = 512,
        .cpuset_cpus = "0",
        .cpuset_mems = "0",
        .has_pids_limit = true,
        .pids_limit = 20,
        .hugepages = hp,
        .n_hugepages = h && access("/sys/kernel/mm/hugepages/hugepages-2048kB", F_OK) == 0,
    };
    apply_ok(f, &res);
    limit_memory(f, 64 * MIB);
    assert_string_equal(get("%s/cpu.cfs_period_us", dir_of(f, CRISP_CGROUP_CPU)), "100000");
    assert_string_equal(get("%s/cpu.cfs_quota_us", dir_of(f, CRISP_CGROUP_CPU)), "50000");
    assert_string_equal(get("%s/cpu.shares", dir_of(f, CRISP_CGROUP_CPU)), "512");
    assert_string_equal(get("%s/memory.limit_in_bytes", dir_of(f, CRISP_CGROUP_MEMORY)),
                        "67108864");
    if (has_memsw(f))
        assert_string_equal(get("%s/memory.memsw.limit_in_bytes", dir_of(f, CRISP_CGROUP_MEMORY)),
                            "67108864");
    assert_string_equal(get("%s/pids.max", dir_of(f, CRISP_CGROUP_PIDS)), "20");
    if (crisp_cgroup_root_find(&f->root, CRISP_CGROUP_CPUSET)) {
        assert_string_equal(get("%s/cpuset.cpus", dir_of(f, CRISP_CGROUP_CPUSET)), "0");
        assert_string_equal(get("%s/cpuset.mems", dir_of(f, CRISP_CGROUP_CPUSET)), "0");
    }
    if (res.n_hugepages)
        assert_string_equal(get("%s/hugetlb.2MB.%s", dir_of(f, CRISP_CGROUP_HUGETLB),
                                h->unified ? "max" : "limit_in_bytes"),
                            "0");
}

/* Every hierarchy's line of /proc/<pid>/cgroup names the container's cgroup. */
static void check_proc_cgroup(struct fixture *f, pid_t pid)
{
    char suffix[PATH_MAX];
    snprintf(suffix, sizeof(suffix), ":/%s", crisp_cgroup_path(f->cg));
    char text[8192];
    snprintf(text, sizeof(text), "%s", get("/proc/%d/cgroup", (int)pid));
    size_t matches = 0;
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
        if (strlen(l) > strlen(suffix) && strcmp(l + strlen(l) - strlen(suffix), suffix) == 0)
            matches++;
    if (matches != f->root.n_hier)
        fail_msg("/proc/%d/cgroup has %zu lines for %s, expected %zu:\n%s", (int)pid, matches,
                 suffix, f->root.n_hier, get("/proc/%d/cgroup", (int)pid));
}

static size_t count_pids(struct fixture *f)
{
    pid_t *pids = NULL;
    size_t n = 0;
    if (crisp_cgroup_pids(f->cg, &pids, &n, &f->err) < 0)
        fail_msg("pids: %s", f->err.msg);
    free(pids);
    return n;
}

static void check_stats(struct fixture *f, uint64_t pids)
{
    struct crisp_cgroup_stats st;
    if (crisp_cgroup_stats(f->cg, &st, &f->err) < 0)
        fail_msg("stats: %s", f->err.msg);
    assert_true(st.has_cpu && st.has_memory && st.has_pids);
    assert_true(st.memory_usage > 0);
    assert_true(st.memory_working_set <= st.memory_usage);
    assert_int_equal(st.pids_current, pids);
}

static void destroy_all(struct fixture *f)
{
    if (crisp_cgroup_destroy(f->cg, &f->err) < 0)
        fail_msg("destroy: %s", f->err.msg);
    for (size_t i = 0; i < f->root.n_hier; i++)
        assert_false(is_dir("%s/%s", f->root.hier[i].mount, crisp_cgroup_path(f->cg)));
    /* The test parent goes the same way: "/" + its name. */
    struct crisp_cgroup *top = NULL;
    if (crisp_cgroup_open(&f->root, "/", f->top, &top, &f->err) < 0)
        fail_msg("open top: %s", f->err.msg);
    int r = crisp_cgroup_destroy(top, &f->err);
    crisp_cgroup_free(top);
    if (r < 0)
        fail_msg("destroy top: %s", f->err.msg);
    for (size_t i = 0; i < f->root.n_hier; i++)
        assert_false(is_dir("%s/%s", f->root.hier[i].mount, f->top));
}

static void test_limits_processes_kill_destroy(void **state)
{
    struct fixture *f = *state;
    if (!f->usable)
        skip();
    create(f, "ctr1");
    check_created(f);
    apply_and_read_back(f);
    int go, out;
    pid_t child = spawn(f, &go, fork_many, &out);
    add_and_start(f, child, go);
    unsigned char forks = 0;
    assert_int_equal(read(out, &forks, 1), 1);
    close(out);
    assert_int_equal(forks, 19); /* pids.max 20 counts the child itself */
    check_proc_cgroup(f, child);
    assert_int_equal(count_pids(f), 20);
    check_stats(f, 20);
    if (crisp_cgroup_kill_all(f->cg, SIGKILL, &f->err) < 0)
        fail_msg("kill_all: %s", f->err.msg);
    assert_killed(child);
    for (int i = 0; i < 200 && count_pids(f) > 0; i++)
        sleep_ms(10);
    assert_int_equal(count_pids(f), 0);
    assert_string_equal(get("%s/freezer.state", dir_of(f, CRISP_CGROUP_FREEZER)), "THAWED");
    reap_all();
    destroy_all(f);
}

static void test_oom_kill_counted(void **state)
{
    struct fixture *f = *state;
    if (!f->usable)
        skip();
    create(f, "ctr2");
    limit_memory(f, 64 * MIB);
    uint64_t kills = 99;
    assert_int_equal(crisp_cgroup_oom_kills(f->cg, &kills, &f->err), 0);
    assert_int_equal(kills, 0);
    int go, out;
    pid_t hog = spawn(f, &go, hog_200mib, &out);
    add_and_start(f, hog, go);
    assert_killed(hog);
    close(out);
    if (crisp_cgroup_oom_kills(f->cg, &kills, &f->err) < 0)
        fail_msg("oom_kills: %s", f->err.msg);
    assert_true(kills >= 1);
    destroy_all(f);
}

static void test_memory_limit_below_usage(void **state)
{
    struct fixture *f = *state;
    if (!f->usable)
        skip();
    create(f, "ctr3");
    limit_memory(f, 64 * MIB);
    int go, out;
    pid_t child = spawn(f, &go, hold_32mib, &out);
    add_and_start(f, child, go);
    char c;
    assert_int_equal(read(out, &c, 1), 1);
    close(out);
    struct crisp_cgroup_resources res = {.has_memory_limit = true,
                                         .memory_limit = 8 * MIB,
                                         .has_memory_swap_limit = has_memsw(f),
                                         .memory_swap_limit = 8 * MIB};
    assert_true(crisp_cgroup_apply(f->cg, &res, &f->err) < 0);
    assert_int_equal(f->err.code, GRPC_STATUS_FAILED_PRECONDITION);
    sup_assert_contains(f->err.msg, "below the cgroup's current usage");
    sup_assert_contains(f->err.msg, "EBUSY");
    assert_string_equal(get("%s/memory.limit_in_bytes", dir_of(f, CRISP_CGROUP_MEMORY)),
                        "67108864");
    /* Raising works live. */
    limit_memory(f, 128 * MIB);
    assert_string_equal(get("%s/memory.limit_in_bytes", dir_of(f, CRISP_CGROUP_MEMORY)),
                        "134217728");
    if (crisp_cgroup_kill_all(f->cg, SIGKILL, &f->err) < 0)
        fail_msg("kill_all: %s", f->err.msg);
    assert_killed(child);
    destroy_all(f);
}

static void test_open_after_restart(void **state)
{
    struct fixture *f = *state;
    if (!f->usable)
        skip();
    create(f, "ctr4");
    crisp_cgroup_free(f->cg);
    f->cg = NULL;
    if (crisp_cgroup_open(&f->root, f->parent, "ctr4", &f->cg, &f->err) < 0)
        fail_msg("open: %s", f->err.msg);
    struct crisp_cgroup_resources res = {.has_pids_limit = true, .pids_limit = 5};
    apply_ok(f, &res);
    assert_string_equal(get("%s/pids.max", dir_of(f, CRISP_CGROUP_PIDS)), "5");
    destroy_all(f);
    struct crisp_cgroup *gone = NULL;
    assert_true(crisp_cgroup_open(&f->root, f->parent, "ctr4", &gone, &f->err) < 0);
    assert_int_equal(f->err.code, GRPC_STATUS_NOT_FOUND);
}

/* A pod limit of 1 CPU: going from 100000/100000 to 50000/50000, the new
 * period alone (2 CPUs against the old quota) is refused, so the quota goes
 * first. */
static void test_cpu_bandwidth_under_pod_limit(void **state)
{
    struct fixture *f = *state;
    if (!f->usable)
        skip();
    create(f, "ctr5");
    struct crisp_cgroup_resources one_cpu = {
        .has_cpu_period = true, .cpu_period = 100000, .has_cpu_quota = true, .cpu_quota = 100000};
    apply_ok(f, &one_cpu);
    char pod[PATH_MAX];
    snprintf(pod, sizeof(pod), "%s/%s/pod1",
             crisp_cgroup_root_find(&f->root, CRISP_CGROUP_CPU)->mount, f->top);
    put(pod, "cpu.cfs_quota_us", "100000");
    assert_string_equal(get("%s/cpu.cfs_quota_us", pod), "100000");
    struct crisp_cgroup_resources half_period = {
        .has_cpu_period = true, .cpu_period = 50000, .has_cpu_quota = true, .cpu_quota = 50000};
    apply_ok(f, &half_period);
    assert_string_equal(get("%s/cpu.cfs_period_us", dir_of(f, CRISP_CGROUP_CPU)), "50000");
    assert_string_equal(get("%s/cpu.cfs_quota_us", dir_of(f, CRISP_CGROUP_CPU)), "50000");
    /* Over the pod's limit: the kernel's EINVAL comes back as INVALID_ARGUMENT. */
    struct crisp_cgroup_resources two_cpus = {.has_cpu_quota = true, .cpu_quota = 100000};
    assert_true(crisp_cgroup_apply(f->cg, &two_cpus, &f->err) < 0);
    assert_int_equal(f->err.code, GRPC_STATUS_INVALID_ARGUMENT);
    sup_assert_contains(f->err.msg, "cpu.cfs_quota_us");
    destroy_all(f);
}

/* A process that stays: destroy gives up after 2 s with a clear error. */
static void test_destroy_busy(void **state)
{
    struct fixture *f = *state;
    if (!f->usable)
        skip();
    create(f, "ctr6");
    int go, out;
    pid_t child = spawn(f, &go, hold_32mib, &out);
    add_and_start(f, child, go);
    char c;
    assert_int_equal(read(out, &c, 1), 1);
    close(out);
    assert_true(crisp_cgroup_destroy(f->cg, &f->err) < 0);
    assert_int_equal(f->err.code, GRPC_STATUS_FAILED_PRECONDITION);
    sup_assert_contains(f->err.msg, "still busy");
    check_proc_cgroup(f, child);
    if (crisp_cgroup_kill_all(f->cg, SIGKILL, &f->err) < 0)
        fail_msg("kill_all: %s", f->err.msg);
    assert_killed(child);
    destroy_all(f);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_limits_processes_kill_destroy), T(test_oom_kill_counted),
        T(test_memory_limit_below_usage),      T(test_open_after_restart),
        T(test_cpu_bandwidth_under_pod_limit), T(test_destroy_busy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
