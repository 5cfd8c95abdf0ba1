/* runtime/cgroup*: against fake roots in a temp dir that imitate cgroupfs
 * (the files the kernel would have), v1, hybrid and v2. The real v1
 * hierarchy of this machine is exercised by test_cgroup_v1_real.c. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime/cgroup.h"
#include "runtime/cgroup_internal.h"
#include "support_fs.h"

#define PARENT "/kubepods/burstable/pod1234-abcd"
#define NAME   "0123456789abcdef"
#define REL    "kubepods/burstable/pod1234-abcd/0123456789abcdef"

/* ---- fixture: a temp dir imitating /sys/fs/cgroup ---- */

struct fixture {
    char dir[64];
    struct crisp_cgroup_root root;
    struct crisp_cgroup *cg;
    struct crisp_err err;
    bool no_kill;  /* v2: kernel without cgroup.kill */
    bool no_memsw; /* v1: swap accounting off */
    int mkdirs;    /* directories the code created */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    strcpy(f->dir, "/tmp/crisp-test-cgroup-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    crisp_cgroup_free(f->cg);
    crisp_cgroup_root_release(&f->root);
    int r = sup_remove_tree(f->dir);
    free(f);
    return r;
}

static void put(const char *dir, const char *name, const char *text)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *fp = fopen(path, "w");
    if (!fp)
        fail_msg("create %s: %s", path, strerror(errno));
    fputs(text, fp);
    fclose(fp);
}

/* The file's content without trailing newlines (static buffer). */
static const char *get(const char *dir, const char *name)
{
    static char buf[4096];
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *fp = fopen(path, "r");
    if (!fp)
        fail_msg("open %s: %s", path, strerror(errno));
    size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
    fclose(fp);
    while (n > 0 && buf[n - 1] == '\n')
        n--;
    buf[n] = '\0';
    return buf;
}

static void assert_file(const char *dir, const char *name, const char *want)
{
    const char *got = get(dir, name);
    if (strcmp(got, want) != 0)
        fail_msg("%s/%s is \"%s\", expected \"%s\"", dir, name, got, want);
}

static bool exists(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static bool exists(const char *fmt, ...)
{
    char path[PATH_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    struct stat st;
    return lstat(path, &st) == 0;
}

static char *path_of(const struct fixture *f, const char *hier, const char *rel)
{
    static char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s%s%s%s%s", f->dir, hier[0] ? "/" : "", hier, rel[0] ? "/" : "",
             rel);
    return path;
}

/* ---- the kernel's part: files of a new cgroup ---- */

/* "+a +b" or "a b" -> "a b" */
static void enabled_list(const char *parent, char *out, size_t size)
{
    const char *sc = get(parent, "cgroup.subtree_control");
    out[0] = '\0';
    for (const char *p = sc; *p;) {
        p += strspn(p, " +");
        size_t len = strcspn(p, " ");
        if (len)
            snprintf(out + strlen(out), size - strlen(out), "%s%.*s", out[0] ? " " : "", (int)len,
                     p);
        p += len;
    }
}

static bool has_word(const char *list, const char *word)
{
    size_t len = strlen(word);
    for (const char *p = list; (p = strstr(p, word)); p += len)
        if ((p == list || p[-1] == ' ') && (p[len] == '\0' || p[len] == ' '))
            return true;
    return false;
}

static void fake_v2_files(struct fixture *f, const char *dir)
{
    char parent[PATH_MAX], ctl[256];
    snprintf(parent, sizeof(parent), "%s", dir);
    *strrchr(parent, '/') = '\0';
    enabled_list(parent, ctl, sizeof(ctl));
    put(dir, "cgroup.controllers", ctl);
    put(dir, "cgroup.subtree_control", "");
    put(dir, "cgroup.procs", "");
    put(dir, "cgroup.events", "populated 0\nfrozen 1\n");
    put(dir, "cgroup.freeze", "0\n");
    put(dir, "cgroup.type", "domain\n");
    put(dir, "cpu.stat", "usage_usec 2500\nuser_usec 2000\nsystem_usec 500\n");
    if (!f->no_kill)
        put(dir, "cgroup.kill", "");
    if (has_word(ctl, "cpu")) {
        put(dir, "cpu.max", "max 100000\n");
        put(dir, "cpu.weight", "100\n");
    }
    if (has_word(ctl, "cpuset")) {
        put(dir, "cpuset.cpus", "\n");
        put(dir, "cpuset.mems", "\n");
    }
    if (has_word(ctl, "memory")) {
        put(dir, "memory.max", "max\n");
        put(dir, "memory.high", "max\n");
        put(dir, "memory.swap.max", "max\n");
        put(dir, "memory.current", "1000000\n");
        put(dir, "memory.events", "low 0\nhigh 0\nmax 4\noom 3\noom_kill 3\noom_group_kill 0\n");
        put(dir, "memory.stat",
            "anon 600000\nfile 400000\ninactive_file 300000\npgfault 4242\npgmajfault 7\n");
        put(dir, "memory.swap.current", "8192\n");
    }
    if (has_word(ctl, "pids")) {
        put(dir, "pids.max", "max\n");
        put(dir, "pids.current", "7\n");
    }
    if (has_word(ctl, "hugetlb")) {
        put(dir, "hugetlb.2MB.max", "max\n");
        put(dir, "hugetlb.2MB.rsvd.max", "max\n");
        put(dir, "hugetlb.1GB.max", "max\n");
    }
}

static void fake_v1_files(struct fixture *f, const char *dir, unsigned c)
{
    put(dir, "cgroup.procs", "");
    put(dir, "tasks", "");
    if (c & CRISP_CGROUP_BIT(CRISP_CGROUP_CPU)) {
        put(dir, "cpu.shares", "1024\n");
        put(dir, "cpu.cfs_period_us", "100000\n");
        put(dir, "cpu.cfs_quota_us", "-1\n");
    }
    if (c & CRISP_CGROUP_BIT(CRISP_CGROUP_CPUACCT))
        put(dir, "cpuacct.usage", "123456789\n");
    if (c & CRISP_CGROUP_BIT(CRISP_CGROUP_CPUSET)) {
        put(dir, "cpuset.cpus", "\n");
        put(dir, "cpuset.mems", "\n");
    }
    if (c & CRISP_CGROUP_BIT(CRISP_CGROUP_MEMORY)) {
        put(dir, "memory.limit_in_bytes", "9223372036854771712\n");
        if (!f->no_memsw)
            put(dir, "memory.memsw.limit_in_bytes", "9223372036854771712\n");
        put(dir, "memory.usage_in_bytes", "5000000\n");
        put(dir, "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
        put(dir, "memory.stat",
            "cache 100\nrss 200\ntotal_cache 3000000\ntotal_rss 1500000\n"
            "total_inactive_file 1000000\ntotal_pgfault 999\ntotal_pgmajfault 9\n");
        put(dir, "memory.memsw.usage_in_bytes", "5004096\n");
    }
    if (c & CRISP_CGROUP_BIT(CRISP_CGROUP_PIDS)) {
        put(dir, "pids.max", "max\n");
        put(dir, "pids.current", "3\n");
    }
    if (c & CRISP_CGROUP_BIT(CRISP_CGROUP_HUGETLB)) {
        put(dir, "hugetlb.2MB.limit_in_bytes", "9223372036854771712\n");
        put(dir, "hugetlb.2MB.rsvd.limit_in_bytes", "9223372036854771712\n");
    }
    if (c & CRISP_CGROUP_BIT(CRISP_CGROUP_FREEZER))
        put(dir, "freezer.state", "THAWED\n");
}

static void hook_mkdir(const char *dir, const struct crisp_cgroup_hierarchy *h, void *ctx)
{
    struct fixture *f = ctx;
    f->mkdirs++;
    if (h->unified)
        fake_v2_files(f, dir);
    else
        fake_v1_files(f, dir, h->controllers);
}

/* rmdir of a cgroup removes its interface files with it. */
static void hook_rmdir(const char *dir, void *ctx)
{
    (void)ctx;
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_type == DT_REG)
            unlinkat(dirfd(d), e->d_name, 0);
    closedir(d);
}

static const struct crisp_cgroup_fake_hooks *hooks(struct fixture *f)
{
    static struct crisp_cgroup_fake_hooks h;
    h = (struct crisp_cgroup_fake_hooks){
        .after_mkdir = hook_mkdir, .before_rmdir = hook_rmdir, .ctx = f};
    return &h;
}

/* A v2 root offering these controllers. */
static void make_v2(struct fixture *f, const char *controllers)
{
    put(f->dir, "cgroup.controllers", controllers);
    put(f->dir, "cgroup.subtree_control", "");
    put(f->dir, "cgroup.procs", "1\n");
    assert_int_equal(crisp_cgroup_root_fake(&f->root, CRISP_CGROUP_V2, f->dir, hooks(f), &f->err),
                     0);
}

static void make_v1_hier(struct fixture *f, const char *name)
{
    char *dir = path_of(f, name, "");
    assert_int_equal(mkdir(dir, 0755), 0);
    unsigned bits = cg_root_v1_bits(name);
    fake_v1_files(f, dir, bits);
    if (bits & CRISP_CGROUP_BIT(CRISP_CGROUP_CPUSET)) {
        put(dir, "cpuset.cpus", "0-3\n");
        put(dir, "cpuset.mems", "0\n");
    }
}

/* A v1 root with these hierarchy directories; "unified" adds a hybrid
 * cgroup2 mount offering hugetlb. */
static void make_v1(struct fixture *f, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], "unified") == 0) {
            char *dir = path_of(f, "unified", "");
            assert_int_equal(mkdir(dir, 0755), 0);
            put(dir, "cgroup.controllers", "hugetlb");
            put(dir, "cgroup.subtree_control", "");
        } else {
            make_v1_hier(f, names[i]);
        }
    }
    assert_int_equal(crisp_cgroup_root_fake(&f->root, CRISP_CGROUP_V1, f->dir, hooks(f), &f->err),
                     0);
}

static const char *const v1_all[] = {"blkio",   "cpu",     "cpuacct", "cpuset", "devices",
                                     "freezer", "hugetlb", "memory",  "pids"};
#define N_V1_ALL (sizeof(v1_all) / sizeof(v1_all[0]))

static void create(struct fixture *f)
{
    int r = crisp_cgroup_create(&f->root, PARENT, NAME, &f->cg, &f->err);
    if (r < 0)
        fail_msg("create: %s", f->err.msg);
}

static void apply_ok(struct fixture *f, const struct crisp_cgroup_resources *res)
{
    int r = crisp_cgroup_apply(f->cg, res, &f->err);
    if (r < 0)
        fail_msg("apply: %s", f->err.msg);
}

static void apply_refused(struct fixture *f, const struct crisp_cgroup_resources *res,
                          grpc_status_code code, const char *needle)
{
    int r = crisp_cgroup_apply(f->cg, res, &f->err);
    if (r == 0)
        fail_msg("apply succeeded, expected \"%s\"", needle);
    assert_int_equal(f->err.code, code);
    sup_assert_contains(f->err.msg, needle);
}

/* ---- names ---- */

static void assert_refused_name(struct fixture *f, const char *parent, const char *name,
                                const char *needle)
{
    struct crisp_cgroup *cg = NULL;
    int r = crisp_cgroup_create(&f->root, parent, name, &cg, &f->err);
    if (r == 0)
        fail_msg("parent \"%s\" name \"%s\" accepted", parent, name);
    assert_null(cg);
    assert_int_equal(f->err.code, GRPC_STATUS_INVALID_ARGUMENT);
    sup_assert_contains(f->err.msg, needle);
    assert_int_equal(f->mkdirs, 0);
}

static void test_names_refused(void **state)
{
    struct fixture *f = *state;
    make_v2(f, "cpu memory pids");
    char long_name[300];
    memset(long_name, 'a', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    assert_refused_name(f, "../x", NAME, "\"..\"");
    assert_refused_name(f, "/kubepods/../../etc", NAME, "\"..\"");
    assert_refused_name(f, "/kubepods/./x", NAME, "\".\"");
    assert_refused_name(f, "/kubepods//x", NAME, "empty");
    assert_refused_name(f, "/kubepods/", NAME, "empty");
    assert_refused_name(f, "//", NAME, "empty");
    assert_refused_name(f, "/kube pods", NAME, "0x20");
    assert_refused_name(f, "/kubepods\n", NAME, "0x0a");
    assert_refused_name(f, "/kubepods/pod*", NAME, "0x2a");
    assert_refused_name(f, "kubepods-burstable-pod123.slice", NAME, "systemd slice");
    assert_refused_name(f, "kubepods-burstable-pod123.slice", NAME, "cgroupfs");
    assert_refused_name(f, PARENT, "a/b", "0x2f");
    assert_refused_name(f, PARENT, "..", "\"..\"");
    assert_refused_name(f, PARENT, ".", "\".\"");
    assert_refused_name(f, PARENT, "", "empty");
    assert_refused_name(f, PARENT, long_name, "longer than 255");
    assert_refused_name(f, long_name, NAME, "longer than 255");
    assert_refused_name(f, NULL, NAME, "required");
}

static void test_names_accepted(void **state)
{
    struct fixture *f = *state;
    make_v2(f, "cpu memory pids");
    static const struct {
        const char *parent, *name, *rel;
    } ok[] = {
        {PARENT, NAME, REL},
        {"kubepods/besteffort", "c1", "kubepods/besteffort/c1"},
        {"/", "top", "top"},
        {"", "top2", "top2"},
        {"/kubepods.slice/x_y-Z.1", "c.2", "kubepods.slice/x_y-Z.1/c.2"},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        struct crisp_cgroup *cg = NULL;
        int r = crisp_cgroup_create(&f->root, ok[i].parent, ok[i].name, &cg, &f->err);
        if (r < 0)
            fail_msg("\"%s\" \"%s\": %s", ok[i].parent, ok[i].name, f->err.msg);
        assert_string_equal(crisp_cgroup_path(cg), ok[i].rel);
        assert_true(exists("%s/%s/cgroup.procs", f->dir, ok[i].rel));
        crisp_cgroup_free(cg);
    }
}

/* ---- v2 ---- */

static void test_v2_create_enables_controllers_in_ancestors(void **state)
{
    struct fixture *f = *state;
    make_v2(f, "cpuset cpu io memory hugetlb pids rdma misc");
    create(f);
    const char *all = "+cpu +cpuset +memory +pids +hugetlb +io";
    assert_file(f->dir, "cgroup.subtree_control", all);
    assert_file(path_of(f, "", "kubepods"), "cgroup.subtree_control", all);
    assert_file(path_of(f, "", "kubepods/burstable"), "cgroup.subtree_control", all);
    assert_file(path_of(f, "", "kubepods/burstable/pod1234-abcd"), "cgroup.subtree_control", all);
    /* The container's own cgroup holds its processes: nothing enabled there. */
    assert_file(path_of(f, "", REL), "cgroup.subtree_control", "");
    assert_file(path_of(f, "", REL), "cgroup.controllers", "cpu cpuset memory pids hugetlb io");
    assert_int_equal(f->mkdirs, 4);
    const char **files;
    assert_int_equal(crisp_cgroup_procs_files(f->cg, &files), 1);
    char want[PATH_MAX];
    snprintf(want, sizeof(want), "%s/%s/cgroup.procs", f->dir, REL);
    assert_string_equal(files[0], want);
}

static void test_v2_create_skips_unavailable_controllers(void **state)
{
    struct fixture *f = *state;
    make_v2(f, "cpu memory pids");
    create(f);
    assert_file(f->dir, "cgroup.subtree_control", "+cpu +memory +pids");
    assert_file(path_of(f, "", REL), "cgroup.controllers", "cpu memory pids");
    assert_false(exists("%s/%s/cpuset.cpus", f->dir, REL));
    /* Asking for a missing controller's resource fails before any write. */
    struct crisp_cgroup_resources res = {
        .has_memory_limit = true, .memory_limit = 1 << 20, .cpuset_cpus = "0"};
    apply_refused(f, &res, GRPC_STATUS_FAILED_PRECONDITION, "cpuset controller");
    assert_file(path_of(f, "", REL), "memory.max", "max");
}

static void test_v2_create_existing_is_reused(void **state)
{
    struct fixture *f = *state;
    make_v2(f, "cpu memory pids");
    create(f);
    crisp_cgroup_free(f->cg);
    f->cg = NULL;
    f->mkdirs = 0;
    create(f);
    assert_int_equal(f->mkdirs, 0);
}

static void test_v2_apply_every_resource(void **state)
{
    struct fixture *f = *state;
    make_v2(f, "cpuset cpu io memory hugetlb pids");
    create(f);
    struct crisp_cgroup_hugepage hp[] = {{"2MB", 4194304}, {"1GB", 0}};
    struct crisp_cgroup_unified un[] = {{"memory.high", "50331648"}};
    struct crisp_cgroup_resources res = {
        .has_cpu_period = true,
        .cpu_period = 100000,
        .has_cpu_quota = true,
        .cpu_quota = 50000,
        .has_cpu_shares = true,
        .cpu_shares = 1024,
        .cpuset_cpus = "0-1",
        .cpuset_mems = "0",
        .has_memory_limit = true,
        .memory_limit = 67108864,
        .has_memory_swap_limit = true,
        .memory_swap_limit = 100663296,
        .has_pids_limit = true,
        .pids_limit = 20,
        .hugepages = hp,
        .n_hugepages = 2,
        .unified = un,
        .n_unified = 1,
    };
    apply_ok(f, &res);
    const char *d = path_of(f, "", REL);
    assert_file(d, "cpu.max", "50000 100000");
    assert_file(d, "cpu.weight", "39"); /* 1 + (1022 * 9999) / 262142 */
    assert_file(d, "cpuset.cpus", "0-1");
    assert_file(d, "cpuset.mems", "0");
    assert_file(d, "memory.max", "67108864");
    assert_file(d, "memory.swap.max", "33554432"); /* (memory + swap) - memory */
    assert_file(d, "pids.max", "20");
    assert_file(d, "hugetlb.2MB.max", "4194304");
    assert_file(d, "hugetlb.2MB.rsvd.max", "4194304");
    assert_file(d, "hugetlb.1GB.max", "0");
    assert_false(exists("%s/hugetlb.1GB.rsvd.max", d));
    assert_file(d, "memory.high", "50331648");
}

static void test_v2_unlimited_values(void **state)
{
    struct fixture *f = *state;
    make_v2(f, "cpu memory pids");
    create(f);
    const char *d = path_of(f, "", REL);
    put(d, "memory.max", "1000\n");
    put(d, "memory.swap.max", "1000\n");
    put(d, "pids.max", "5\n");
    struct crisp_cgroup_resources res = {
        .has_cpu_period = true,
        .cpu_period = 100000,
        .has_cpu_quota = true,
        .cpu_quota = -1,
        .has_memory_limit = true,
        .memory_limit = 0,
        .has_memory_swap_limit = true,
        .memory_swap_limit = -1,
        .has_pids_limit = true,
        .pids_limit = 0,
    };
    apply_ok(f, &res);
    assert_file(d, "cpu.max", "max 100000");
    assert_file(d, "memory.max", "max");
    assert_file(d, "memory.swap.max", "max");
    assert_file(d, "pids.max", "max");
    res.cpu_quota = 0;
    put(d, "cpu.max", "1000 100000\n");
    apply_ok(f, &res);
    assert_file(d, "cpu.max", "max 100000");
}

static void test_v2_memory_limit_below_working_set_is_refused(void **state)
{
    struct fixture *f = *state;
    make_v2(f, "memory");
    create(f);
    const char *d = path_of(f, "", REL); /* usage 1000000, of which 300000 inactive file */
    struct crisp_cgroup_resources res = {.has_memory_limit = true, .memory_limit = 500000};
    struct crisp_err err;
    assert_int_equal(crisp_cgroup_apply(f->cg, &res, &err), -EBUSY);
    assert_int_equal(err.code, GRPC_STATUS_FAILED_PRECONDITION);
    assert_non_null(strstr(err.msg, "500000"));
    assert_non_null(strstr(err.msg, "1000000"));
    assert_file(d, "memory.max", "max");
    res.memory_limit = 800000; /* above the working set: the kernel reclaims the cache */
    apply_ok(f, &res);
    assert_file(d, "memory.max", "800000");
}

static void test_v2_swap_equal_to_memory_is_no_swap(void **state)
{
    struct fixture *f = *state;
    make_v2(f, "memory");
    create(f);
    struct crisp_cgroup_resources res = {.has_memory_limit = true,
                                         .memory_limit = 1 << 26,
                                         .has_memory_swap_limit = true,
                                         .memory_swap_limit = 1 << 26};
    apply_ok(f, &res);
    assert_file(path_of(f, "", REL), "memory.swap.max", "0");
    /* Without swap support the file is missing: no swap is fine, swap is not. */
    assert_int_equal(unlink(path_of(f, "", REL "/memory.swap.max")), 0);
    apply_ok(f, &res);
    res.memory_swap_limit = 1 << 27;
    apply_refused(f, &res, GRPC_STATUS_FAILED_PRECONDITION, "memory.swap.max does not exist");
}

static void test_v2_cpu_period_or_quota_alone(void **state)
{
    struct fixture *f = *state;
    make_v2(f, "cpu");
    create(f);
    const char *d = path_of(f, "", REL);
    put(d, "cpu.max", "50000 100000\n");
    struct crisp_cgroup_resources period = {.has_cpu_period = true, .cpu_period = 200000};
    apply_ok(f, &period);
    assert_file(d, "cpu.max", "50000 200000"); /* the quota is kept */
    struct crisp_cgroup_resources quota = {.has_cpu_quota = true, .cpu_quota = 30000};
    apply_ok(f, &quota);
    assert_file(d, "cpu.max", "30000"); /* the kernel keeps the period */
    assert_file(d, "cpu.weight", "100");
}

static void test_v2_shares_to_weight(void **state)
{
    struct fixture *f = *state;
    make_v2(f, "cpu");
    create(f);
    static const struct {
        int64_t shares;
        const char *weight;
    } table[] = {{2, "1"},   {3, "1"},     {27, "1"},    {28, "1"},        {29, "2"},
                 {102, "4"}, {1024, "39"}, {2048, "79"}, {262143, "9999"}, {262144, "10000"}};
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        struct crisp_cgroup_resources res = {.has_cpu_shares = true, .cpu_shares = table[i].shares};
        apply_ok(f, &res);
        assert_file(path_of(f, "", REL), "cpu.weight", table[i].weight);
        assert_int_equal(cg_v2_shares_to_weight(table[i].shares), atoi(table[i].weight));
    }
}

static void test_v2_unified_keys_checked(void **state)
{
    struct fixture *f = *state;
    make_v2(f, "cpu memory pids");
    create(f);
    const char *d = path_of(f, "", REL);
    static const struct {
        const char *key, *needle;
    } bad[] = {
        {"../x", "not a file name"},
        {"../../cgroup.subtree_control", "not a file name"},
        {"a/b", "not a file name"},
        {"..", "not a file name"},
        {"", "not a file name"},
        {"memory.nonexistent", "no such file"},
        {"io.max", "no such file"}, /* io not enabled here */
        {"cgroup.procs", "not a resource"},
        {"cgroup.kill", "not a resource"},
        {"cgroup.subtree_control", "not a resource"},
        {"cgroup.freeze", "not a resource"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct crisp_cgroup_unified un[] = {{"memory.high", "1000"}, {(char *)bad[i].key, "1"}};
        struct crisp_cgroup_resources res = {
            .has_memory_limit = true, .memory_limit = 4096, .unified = un, .n_unified = 2};
        apply_refused(f, &res, GRPC_STATUS_INVALID_ARGUMENT, bad[i].needle);
        /* Nothing was written: validation comes first. */
        assert_file(d, "memory.max", "max");
        assert_file(d, "memory.high", "max");
    }
    assert_false(exists("%s/x", path_of(f, "", "kubepods/burstable")));
}

static void test_v2_unified_refused_on_v1(void **state)
{
    struct fixture *f = *state;
    make_v1(f, v1_all, N_V1_ALL);
    create(f);
    struct crisp_cgroup_unified un[] = {{"memory.high", "1000"}};
    struct crisp_cgroup_resources res = {.unified = un, .n_unified = 1};
    apply_refused(f, &res, GRPC_STATUS_INVALID_ARGUMENT, "cgroup v2");
}

static void test_v2_kill_all_uses_cgroup_kill(void **state)
{
    struct fixture *f = *state;
    make_v2(f, "cpu memory pids");
    create(f);
    assert_int_equal(crisp_cgroup_kill_all(f->cg, SIGKILL, &f->err), 0);
    assert_file(path_of(f, "", REL), "cgroup.kill", "1");
}

static pid_t spawn_sleeper(void)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        for (;;)
            pause();
    }
    return pid;
}

static void assert_killed_by(pid_t pid, int sig)
{
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), sig);
}

static void test_v2_kill_all_freezes_signals_thaws(void **state)
{
    struct fixture *f = *state;
    f->no_kill = true;
    make_v2(f, "cpu memory pids");
    create(f);
    pid_t child = spawn_sleeper();
    assert_int_equal(crisp_cgroup_add_pid(f->cg, child, &f->err), 0);
    char want[32];
    snprintf(want, sizeof(want), "%d", (int)child);
    assert_file(path_of(f, "", REL), "cgroup.procs", want);
    int r = crisp_cgroup_kill_all(f->cg, SIGKILL, &f->err);
    if (r < 0) {
        kill(child, SIGKILL);
        fail_msg("kill_all: %s", f->err.msg);
    }
    assert_killed_by(child, SIGKILL);
    assert_file(path_of(f, "", REL), "cgroup.freeze", "0");
}

static void test_v2_oom_kills_and_stats(void **state)
{
    struct fixture *f = *state;
    make_v2(f, "cpu memory pids");
    create(f);
    uint64_t n = 0;
    assert_int_equal(crisp_cgroup_oom_kills(f->cg, &n, &f->err), 0);
    assert_int_equal(n, 3);
    struct crisp_cgroup_stats st;
    assert_int_equal(crisp_cgroup_stats(f->cg, &st, &f->err), 0);
    assert_true(st.has_cpu && st.has_memory && st.has_pids);
    assert_int_equal(st.cpu_usage_ns, 2500000);
    assert_int_equal(st.memory_usage, 1000000);
    assert_int_equal(st.memory_working_set, 700000);
    assert_int_equal(st.memory_rss, 600000);
    assert_int_equal(st.memory_pgfault, 4242);
    assert_int_equal(st.memory_pgmajfault, 7);
    assert_true(st.memory_limit == UINT64_MAX); /* "max" */
    assert_true(st.has_swap);
    assert_int_equal(st.swap_usage, 8192);
    assert_true(st.swap_limit == UINT64_MAX);
    assert_int_equal(st.pids_current, 7);
    /* A limit, and a kernel without swap accounting. */
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/%s", f->dir, REL);
    put(dir, "memory.max", "2000000\n");
    assert_int_equal(unlink(strcat(dir, "/memory.swap.current")), 0);
    assert_int_equal(crisp_cgroup_stats(f->cg, &st, &f->err), 0);
    assert_int_equal(st.memory_limit, 2000000);
    assert_false(st.has_swap);
}

/* ---- v1 ---- */

static void test_v1_create_every_hierarchy(void **state)
{
    struct fixture *f = *state;
    const char *names[] = {"blkio",   "cpu,cpuacct", "cpuset", "devices", "freezer",
                           "hugetlb", "memory",      "pids",   "net_cls", "systemd"};
    make_v1(f, names, sizeof(names) / sizeof(names[0]));
    assert_int_equal(f->root.mode, CRISP_CGROUP_V1);
    assert_int_equal(f->root.n_hier, 8); /* net_cls and systemd are not used */
    create(f);
    for (size_t i = 0; i < 8; i++) {
        assert_true(exists("%s/%s/%s", f->dir, names[i], REL));
        assert_true(exists("%s/%s/kubepods/burstable", f->dir, names[i]));
    }
    assert_false(exists("%s/net_cls/kubepods", f->dir));
    assert_false(exists("%s/systemd/kubepods", f->dir));
    const char **files;
    assert_int_equal(crisp_cgroup_procs_files(f->cg, &files), 8);
    for (size_t i = 0; i < 8; i++) {
        char want[PATH_MAX];
        snprintf(want, sizeof(want), "%s/%s/%s/tasks", f->dir, names[i], REL);
        assert_string_equal(files[i], want);
    }
    /* cpuset: every new level copies its parent's cpus and mems. */
    assert_file(path_of(f, "cpuset", "kubepods"), "cpuset.cpus", "0-3");
    assert_file(path_of(f, "cpuset", REL), "cpuset.cpus", "0-3");
    assert_file(path_of(f, "cpuset", REL), "cpuset.mems", "0");
}

static void test_v1_cpuset_set_values_kept(void **state)
{
    struct fixture *f = *state;
    make_v1(f, v1_all, N_V1_ALL);
    /* kubelet made the pod cgroup with its own cpus: those are inherited. */
    char *pod = path_of(f, "cpuset", "kubepods");
    assert_int_equal(mkdir(pod, 0755), 0);
    put(pod, "cpuset.cpus", "2-3\n");
    put(pod, "cpuset.mems", "0\n");
    create(f);
    assert_file(path_of(f, "cpuset", "kubepods"), "cpuset.cpus", "2-3");
    assert_file(path_of(f, "cpuset", REL), "cpuset.cpus", "2-3");
}

static void test_v1_apply_every_resource(void **state)
{
    struct fixture *f = *state;
    make_v1(f, v1_all, N_V1_ALL);
    create(f);
    struct crisp_cgroup_hugepage hp[] = {{"2MB", 2097152}};
    struct crisp_cgroup_resources res = {
        .has_cpu_period = true,
        .cpu_period = 100000,
        .has_cpu_quota = true,
        .cpu_quota = 50000,
        .has_cpu_shares = true,
        .cpu_shares = 512,
        .cpuset_cpus = "1",
        .cpuset_mems = "0",
        .has_memory_limit = true,
        .memory_limit = 67108864,
        .has_memory_swap_limit = true,
        .memory_swap_limit = 100663296,
        .has_pids_limit = true,
        .pids_limit = 20,
        .hugepages = hp,
        .n_hugepages = 1,
    };
    apply_ok(f, &res);
    assert_file(path_of(f, "cpu", REL), "cpu.cfs_period_us", "100000");
    assert_file(path_of(f, "cpu", REL), "cpu.cfs_quota_us", "50000");
    assert_file(path_of(f, "cpu", REL), "cpu.shares", "512");
    assert_file(path_of(f, "cpuset", REL), "cpuset.cpus", "1");
    assert_file(path_of(f, "cpuset", REL), "cpuset.mems", "0");
    assert_file(path_of(f, "memory", REL), "memory.limit_in_bytes", "67108864");
    assert_file(path_of(f, "memory", REL), "memory.memsw.limit_in_bytes", "100663296");
    assert_file(path_of(f, "pids", REL), "pids.max", "20");
    assert_file(path_of(f, "hugetlb", REL), "hugetlb.2MB.limit_in_bytes", "2097152");
    assert_file(path_of(f, "hugetlb", REL), "hugetlb.2MB.rsvd.limit_in_bytes", "2097152");

    struct crisp_cgroup_resources unlimited = {.has_cpu_quota = true,
                                               .cpu_quota = 0,
                                               .has_memory_limit = true,
                                               .memory_limit = 0,
                                               .has_memory_swap_limit = true,
                                               .memory_swap_limit = -1,
                                               .has_pids_limit = true,
                                               .pids_limit = -1};
    apply_ok(f, &unlimited);
    assert_file(path_of(f, "cpu", REL), "cpu.cfs_quota_us", "-1");
    assert_file(path_of(f, "cpu", REL), "cpu.cfs_period_us", "100000");
    assert_file(path_of(f, "memory", REL), "memory.limit_in_bytes", "-1");
    assert_file(path_of(f, "memory", REL), "memory.memsw.limit_in_bytes", "-1");
    assert_file(path_of(f, "pids", REL), "pids.max", "max");
    assert_file(path_of(f, "cpu", REL), "cpu.shares", "512"); /* unset: untouched */
}

static void test_v1_without_swap_accounting(void **state)
{
    struct fixture *f = *state;
    f->no_memsw = true;
    make_v1(f, v1_all, N_V1_ALL);
    create(f);
    struct crisp_cgroup_resources res = {.has_memory_limit = true,
                                         .memory_limit = 1 << 26,
                                         .has_memory_swap_limit = true,
                                         .memory_swap_limit = 1 << 26};
    apply_ok(f, &res);
    assert_file(path_of(f, "memory", REL), "memory.limit_in_bytes", "67108864");
    assert_false(exists("%s/memory.memsw.limit_in_bytes", path_of(f, "memory", REL)));
    res.memory_swap_limit = 1 << 27;
    apply_refused(f, &res, GRPC_STATUS_FAILED_PRECONDITION, "swap accounting is off");
}

static void test_v1_hybrid_hugetlb_in_unified(void **state)
{
    struct fixture *f = *state;
    const char *names[] = {"cpu", "cpuacct", "memory", "pids", "freezer", "unified"};
    make_v1(f, names, 6);
    const struct crisp_cgroup_hierarchy *h = crisp_cgroup_root_find(&f->root, CRISP_CGROUP_HUGETLB);
    assert_non_null(h);
    assert_true(h->unified);
    create(f);
    assert_file(path_of(f, "unified", ""), "cgroup.subtree_control", "+hugetlb");
    assert_file(path_of(f, "unified", "kubepods/burstable/pod1234-abcd"), "cgroup.subtree_control",
                "+hugetlb");
    struct crisp_cgroup_hugepage hp[] = {{"2MB", 0}};
    struct crisp_cgroup_resources res = {.hugepages = hp, .n_hugepages = 1};
    apply_ok(f, &res);
    assert_file(path_of(f, "unified", REL), "hugetlb.2MB.max", "0");
    const char **files;
    assert_int_equal(crisp_cgroup_procs_files(f->cg, &files), 6);
}

static void test_v1_no_hugetlb_skips_hugepages(void **state)
{
    struct fixture *f = *state;
    const char *names[] = {"cpu", "memory"};
    make_v1(f, names, 2);
    create(f);
    struct crisp_cgroup_hugepage hp[] = {{"2MB", 0}};
    struct crisp_cgroup_resources res = {.hugepages = hp, .n_hugepages = 1};
    apply_ok(f, &res);
}

static void test_validation_before_writes(void **state)
{
    struct fixture *f = *state;
    make_v1(f, v1_all, N_V1_ALL);
    create(f);
    struct crisp_cgroup_hugepage bad_size[] = {{"2XB", 0}};
    struct crisp_cgroup_hugepage unknown_size[] = {{"64KB", 0}};
    static const struct {
        struct crisp_cgroup_resources res;
        const char *needle;
    } bad[] = {
        {{.has_cpu_period = true, .cpu_period = 999}, "cpu period 999"},
        {{.has_cpu_period = true, .cpu_period = 1000001}, "cpu period"},
        {{.has_cpu_quota = true, .cpu_quota = 500}, "cpu quota 500"},
        {{.has_cpu_quota = true, .cpu_quota = -2}, "cpu quota -2"},
        {{.has_cpu_shares = true, .cpu_shares = 1}, "cpu shares 1"},
        {{.has_cpu_shares = true, .cpu_shares = 262145}, "cpu shares"},
        {{.cpuset_cpus = "0-3;x"}, "cpuset cpus"},
        {{.cpuset_mems = "0 1"}, "cpuset mems"},
        {{.has_memory_limit = true, .memory_limit = -5}, "memory limit -5"},
        {{.has_memory_swap_limit = true, .memory_swap_limit = 4096}, "needs a memory limit"},
        {{.has_memory_limit = true,
          .memory_limit = 8192,
          .has_memory_swap_limit = true,
          .memory_swap_limit = 4096},
         ">= the memory limit"},
        {{.has_pids_limit = true, .pids_limit = -3}, "pids limit -3"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct crisp_cgroup_resources res = bad[i].res;
        if (!res.has_memory_limit && !res.has_memory_swap_limit) {
            res.has_memory_limit = true;
            res.memory_limit = 4096; /* valid, and must not be written */
        }
        apply_refused(f, &res, GRPC_STATUS_INVALID_ARGUMENT, bad[i].needle);
        assert_file(path_of(f, "memory", REL), "memory.limit_in_bytes", "9223372036854771712");
    }
    struct crisp_cgroup_resources res = {.hugepages = bad_size, .n_hugepages = 1};
    apply_refused(f, &res, GRPC_STATUS_INVALID_ARGUMENT, "expected like \"2MB\"");
    res.hugepages = unknown_size;
    apply_refused(f, &res, GRPC_STATUS_INVALID_ARGUMENT, "64KB is not supported");
}

static void test_v1_add_pid_kill_all_pids(void **state)
{
    struct fixture *f = *state;
    make_v1(f, v1_all, N_V1_ALL);
    create(f);
    pid_t child = spawn_sleeper();
    int r = crisp_cgroup_add_pid(f->cg, child, &f->err);
    if (r < 0) {
        kill(child, SIGKILL);
        fail_msg("add_pid: %s", f->err.msg);
    }
    char want[32];
    snprintf(want, sizeof(want), "%d", (int)child);
    for (size_t i = 0; i < N_V1_ALL; i++)
        assert_file(path_of(f, v1_all[i], REL), "cgroup.procs", want);
    /* A cgroup the container made below its own counts too. */
    char *sub = path_of(f, "freezer", REL "/inner");
    assert_int_equal(mkdir(sub, 0755), 0);
    put(sub, "cgroup.procs", "4194399\n");
    pid_t *pids = NULL;
    size_t n = 0;
    assert_int_equal(crisp_cgroup_pids(f->cg, &pids, &n, &f->err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(pids[0], child);
    assert_int_equal(pids[1], 4194399);
    free(pids);
    r = crisp_cgroup_kill_all(f->cg, SIGTERM, &f->err);
    if (r < 0) {
        kill(child, SIGKILL);
        fail_msg("kill_all: %s", f->err.msg);
    }
    assert_killed_by(child, SIGTERM);
    assert_file(path_of(f, "freezer", REL), "freezer.state", "THAWED");
}

static void test_v1_oom_kills_and_stats(void **state)
{
    struct fixture *f = *state;
    make_v1(f, v1_all, N_V1_ALL);
    create(f);
    uint64_t n = 0;
    assert_int_equal(crisp_cgroup_oom_kills(f->cg, &n, &f->err), 0);
    assert_int_equal(n, 2);
    struct crisp_cgroup_stats st;
    assert_int_equal(crisp_cgroup_stats(f->cg, &st, &f->err), 0);
    assert_int_equal(st.cpu_usage_ns, 123456789);
    assert_int_equal(st.memory_usage, 5000000);
    assert_int_equal(st.memory_working_set, 4000000);
    assert_int_equal(st.memory_rss, 1500000);
    assert_int_equal(st.memory_pgfault, 999);
    assert_int_equal(st.memory_pgmajfault, 9);
    assert_true(st.has_swap); /* memsw minus memory */
    assert_int_equal(st.swap_usage, 4096);
    assert_int_equal(st.pids_current, 3);
    /* Kernels before 4.13 do not count. */
    put(path_of(f, "memory", REL), "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\n");
    assert_true(crisp_cgroup_oom_kills(f->cg, &n, &f->err) < 0);
    assert_int_equal(f->err.code, GRPC_STATUS_UNIMPLEMENTED);
}

/* ---- open, destroy, failures ---- */

static void test_open_existing_and_missing(void **state)
{
    struct fixture *f = *state;
    make_v1(f, v1_all, N_V1_ALL);
    struct crisp_cgroup *cg = NULL;
    assert_true(crisp_cgroup_open(&f->root, PARENT, NAME, &cg, &f->err) < 0);
    assert_int_equal(f->err.code, GRPC_STATUS_NOT_FOUND);
    assert_null(cg);
    create(f);
    assert_int_equal(crisp_cgroup_open(&f->root, PARENT, NAME, &cg, &f->err), 0);
    assert_string_equal(crisp_cgroup_path(cg), REL);
    crisp_cgroup_free(cg);
}

static void test_destroy_removes_subtree_and_is_idempotent(void **state)
{
    struct fixture *f = *state;
    make_v2(f, "cpu memory pids");
    create(f);
    char *inner = path_of(f, "", REL "/inner");
    assert_int_equal(mkdir(inner, 0755), 0);
    put(inner, "cgroup.procs", "");
    assert_int_equal(crisp_cgroup_destroy(f->cg, &f->err), 0);
    assert_false(exists("%s/%s", f->dir, REL));
    assert_true(exists("%s/kubepods/burstable/pod1234-abcd", f->dir)); /* the parent stays */
    assert_int_equal(crisp_cgroup_destroy(f->cg, &f->err), 0);
    /* The parent can go the same way: open it as "/" + name. */
    struct crisp_cgroup *top = NULL;
    assert_int_equal(crisp_cgroup_open(&f->root, "/", "kubepods", &top, &f->err), 0);
    assert_int_equal(crisp_cgroup_destroy(top, &f->err), 0);
    crisp_cgroup_free(top);
    assert_false(exists("%s/kubepods", f->dir));
}

static void test_create_failure_removes_what_it_made(void **state)
{
    struct fixture *f = *state;
    make_v1(f, v1_all, N_V1_ALL);
    /* In "pids" (after blkio .. memory) a file stands where a directory goes. */
    char *pids = path_of(f, "pids", "kubepods");
    assert_int_equal(mkdir(pids, 0755), 0);
    put(pids, "burstable", "");
    struct crisp_cgroup *cg = NULL;
    assert_true(crisp_cgroup_create(&f->root, PARENT, NAME, &cg, &f->err) < 0);
    assert_null(cg);
    sup_assert_contains(f->err.msg, "not a cgroup directory");
    for (size_t i = 0; i < N_V1_ALL; i++)
        if (strcmp(v1_all[i], "pids") != 0)
            assert_false(exists("%s/%s/kubepods", f->dir, v1_all[i]));
    assert_true(exists("%s/pids/kubepods/burstable", f->dir)); /* not ours */
}

/* ---- detection from mountinfo ---- */

static void test_mountinfo_layouts(void **state)
{
    struct fixture *f = *state;
    char unified[PATH_MAX];
    snprintf(unified, sizeof(unified), "%s/uni fied", f->dir);
    assert_int_equal(mkdir(unified, 0755), 0);
    put(unified, "cgroup.controllers", "hugetlb misc");
    char escaped[PATH_MAX]; /* the kernel escapes the space */
    snprintf(escaped, sizeof(escaped), "%s/uni\\040fied", f->dir);
    char info[8192];
    snprintf(info, sizeof(info),
             "22 1 0:20 / /proc rw,nosuid - proc proc rw\n"
             "31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755\n"
             "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup "
             "rw,cpu,cpuacct\n"
             "33 31 0:30 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
             "34 31 0:31 / /sys/fs/cgroup/net_cls,net_prio rw - cgroup cgroup rw,net_cls,net_prio\n"
             "35 31 0:32 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n"
             "36 31 0:33 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n"
             "37 23 0:30 / /mnt/memory\\040again rw - cgroup cgroup rw,memory\n"
             "38 31 0:34 / %s rw - cgroup2 cgroup2 rw\n"
             "39 31 0:35 / /sys/fs/cgroup/freezer rw - cgroup cgroup rw,freezer\n"
             "40 31 0:36 / /broken\n",
             escaped);
    put(f->dir, "mountinfo", info);
    struct crisp_cgroup_root root = {.mode = CRISP_CGROUP_V1};
    int r = cg_mountinfo_scan(&root, path_of(f, "mountinfo", ""), &f->err);
    if (r < 0)
        fail_msg("scan: %s", f->err.msg);
    assert_int_equal(root.n_hier, 5);
    assert_string_equal(root.hier[0].mount, "/sys/fs/cgroup/cpu,cpuacct");
    assert_int_equal(root.hier[0].controllers,
                     CRISP_CGROUP_BIT(CRISP_CGROUP_CPU) | CRISP_CGROUP_BIT(CRISP_CGROUP_CPUACCT));
    assert_string_equal(root.hier[1].mount, "/sys/fs/cgroup/memory"); /* first mount wins */
    assert_string_equal(root.hier[2].mount, "/sys/fs/cgroup/pids");
    assert_string_equal(root.hier[3].mount, "/sys/fs/cgroup/freezer");
    assert_string_equal(root.hier[4].mount, unified);
    assert_true(root.hier[4].unified);
    assert_int_equal(root.hier[4].controllers, CRISP_CGROUP_BIT(CRISP_CGROUP_HUGETLB));
    assert_false(root.hier[0].unified);
    crisp_cgroup_root_release(&root);
}

static void test_detect_this_host(void **state)
{
    struct fixture *f = *state;
    int r = crisp_cgroup_root_detect(&f->root, &f->err);
    if (r < 0)
        skip();
    assert_true(f->root.n_hier > 0);
    assert_non_null(crisp_cgroup_root_find(&f->root, CRISP_CGROUP_MEMORY));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_names_refused),
        T(test_names_accepted),
        T(test_v2_create_enables_controllers_in_ancestors),
        T(test_v2_create_skips_unavailable_controllers),
        T(test_v2_create_existing_is_reused),
        T(test_v2_apply_every_resource),
        T(test_v2_unlimited_values),
        T(test_v2_memory_limit_below_working_set_is_refused),
        T(test_v2_swap_equal_to_memory_is_no_swap),
        T(test_v2_cpu_period_or_quota_alone),
        T(test_v2_shares_to_weight),
        T(test_v2_unified_keys_checked),
        T(test_v2_unified_refused_on_v1),
        T(test_v2_kill_all_uses_cgroup_kill),
        T(test_v2_kill_all_freezes_signals_thaws),
        T(test_v2_oom_kills_and_stats),
        T(test_v1_create_every_hierarchy),
        T(test_v1_cpuset_set_values_kept),
        T(test_v1_apply_every_resource),
        T(test_v1_without_swap_accounting),
        T(test_v1_hybrid_hugetlb_in_unified),
        T(test_v1_no_hugetlb_skips_hugepages),
        T(test_validation_before_writes),
        T(test_v1_add_pid_kill_all_pids),
        T(test_v1_oom_kills_and_stats),
        T(test_open_existing_and_missing),
        T(test_destroy_removes_subtree_and_is_idempotent),
        T(test_create_failure_removes_what_it_made),
        T(test_mountinfo_layouts),
        T(test_detect_this_host),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
