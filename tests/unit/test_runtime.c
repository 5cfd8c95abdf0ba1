/* runtime/container: real containers from a busybox lowerdir. Needs root (namespaces, mounts).
 *
 * The group builds one box, /tmp/crisp-rt-XXXXXX, holding the lowerdir (/bin/busybox and its
 * applet symlinks, plus two hostile symlinks); each test gets box/tN with upper, work, rootfs
 * and host (bind sources). Every test ends with check_clean: no child left, no mount anywhere
 * under the box in our mount table, our own namespaces unchanged. Teardown kills and reaps
 * whatever a failed test left running, then removes its directory. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime/container.h"
#include "support_rootfs.h"

#define N_LAYERS 100

static const char *const applets[] = {"sh",       "cat", "ls",    "ps",       "mount",
                                      "hostname", "id",  "sleep", "pwd",      "echo",
                                      "touch",    "tty", "test",  "readlink", "true"};

static char box[64];   /* the group's directory */
static char lower[96]; /* the busybox lowerdir */
static int test_counter;

struct fixture {
    struct sup_ctr t; /* dirs, spec, running containers */
    char cgroup[160]; /* a pids cgroup made by the test, removed in teardown */
    char netns[160];  /* a pinned netns file, unmounted in teardown */
    ino_t ns_before[6];
};

/* ---- small helpers ---- */

static bool exists(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static bool exists(const char *fmt, ...)
{
    char path[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    struct stat st;
    return lstat(path, &st) == 0;
}

static ino_t ns_inode(const char *pid, const char *ns)
{
    char path[64];
    struct stat st;
    snprintf(path, sizeof(path), "/proc/%s/ns/%s", pid, ns);
    if (stat(path, &st) < 0)
        return 0;
    return st.st_ino;
}

static const char *const ns_names[6] = {"mnt", "pid", "net", "ipc", "uts", "cgroup"};

static ino_t pid_ns_inode(pid_t pid, const char *ns)
{
    char p[16];
    snprintf(p, sizeof(p), "%d", (int)pid);
    return ns_inode(p, ns);
}

static int count_fds(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* No child left, nothing mounted under the box, our namespaces unchanged. */
static void check_clean(struct fixture *f)
{
    sup_check_no_leftovers(box);
    for (int i = 0; i < 6; i++)
        assert_int_equal(ns_inode("self", ns_names[i]), f->ns_before[i]);
}

static char **env_path(struct fixture *f)
{
    f->t.env[0] = "PATH=/bin";
    f->t.env[1] = NULL;
    return f->t.env;
}

/* ---- group and test fixtures ---- */

static int group_setup(void **state)
{
    (void)state;
    sup_busybox_box("/tmp/crisp-rt-XXXXXX", applets, sizeof(applets) / sizeof(applets[0]), box,
                    lower);
    char path[256];
    /* Hostile symlinks: an absolute one to a host directory, a relative one climbing out. */
    char outside[128], target[128];
    snprintf(outside, sizeof(outside), "%s/outside", box);
    sup_mkdir(outside);
    snprintf(path, sizeof(path), "%s/evil", lower);
    assert_int_equal(symlink(outside, path), 0);
    snprintf(path, sizeof(path), "%s/evil2", lower);
    snprintf(target, sizeof(target), "../../../../../../../../../../etc");
    assert_int_equal(symlink(target, path), 0);
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
    for (int i = 0; i < 6; i++)
        f->ns_before[i] = ns_inode("self", ns_names[i]);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    sup_ctr_stop(&f->t); /* first: the cgroup must be empty */
    if (f->netns[0]) {
        umount2(f->netns, MNT_DETACH);
        unlink(f->netns);
    }
    if (f->cgroup[0])
        rmdir(f->cgroup);
    sup_ctr_cleanup(&f->t);
    free(f);
    return 0;
}

/* ---- running containers ---- */

static void set_argv(struct fixture *f, char **argv)
{
    f->t.spec.process.argv = argv;
}

/* ---- tests ---- */

static void test_run_shell_as_user(void **state)
{
    struct fixture *f = *state;
    char *argv[] = {"sh", "-c", "echo hello; id; pwd; echo pid=$$; hostname; ps; true", NULL};
    set_argv(f, argv);
    gid_t groups[] = {2000, 3000};
    f->t.spec.process.uid = 1000;
    f->t.spec.process.gid = 1001;
    f->t.spec.process.groups = groups;
    f->t.spec.process.n_groups = 2;
    f->t.spec.process.cwd = "/work/dir";
    f->t.spec.hostname = "crisp-test";
    char *out = sup_run_ok(&f->t);
    sup_assert_contains(out, "hello\n");
    sup_assert_contains(out, "uid=1000 gid=1001 groups=2000,3000");
    sup_assert_contains(out, "\n/work/dir\n");
    sup_assert_contains(out, "pid=1\n");
    sup_assert_contains(out, "crisp-test\n");
    /* ps: a header, the shell (pid 1) and ps itself; nothing of the host */
    char *ps = strstr(out, "PID");
    assert_non_null(ps);
    int lines = 0;
    for (char *p = ps; *p; p++)
        lines += *p == '\n';
    if (lines != 3)
        fail_msg("ps sees more than the container: %s", ps);
    sup_assert_contains(ps, "    1 1000");
    /* the cwd was made as root, in the upper layer */
    char cwd[256];
    snprintf(cwd, sizeof(cwd), "%s/work/dir", f->t.upper);
    struct stat st;
    assert_int_equal(stat(cwd, &st), 0);
    assert_int_equal(st.st_uid, 0);
    assert_int_equal(st.st_mode & 07777, 0755);
    free(out);
    check_clean(f);
}

static void test_writes_land_in_upperdir(void **state)
{
    struct fixture *f = *state;
    char *argv[] = {"sh", "-c", "echo data > /newfile && ls /proc/self/fd", NULL};
    set_argv(f, argv);
    free(sup_run_ok(&f->t));
    assert_true(exists("%s/newfile", f->t.upper));
    assert_false(exists("%s/newfile", lower));
    assert_false(exists("%s/bin", f->t.rootfs)); /* the overlay never was in our namespace */
    check_clean(f);
}

static void test_create_waits_for_start(void **state)
{
    struct fixture *f = *state;
    char *argv[] = {"sh", "-c", "echo ran > /marker", NULL};
    set_argv(f, argv);
    sup_expect_ok(&f->t, crisp_container_create(&f->t.spec, &f->t.c, &f->t.err), "create");
    pid_t pid = crisp_container_pid(f->t.c);
    sup_track(&f->t, pid);
    /* set up but blocked: its root is the overlay, ours does not show it */
    assert_true(exists("/proc/%d/root/bin/busybox", (int)pid));
    assert_false(exists("%s/bin", f->t.rootfs));
    assert_true(exists("/proc/%d/fd/2", (int)pid)); /* /dev/null */
    assert_int_equal(count_fds(pid), 4);            /* 0-2 and the sync socket */
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
    assert_false(exists("%s/marker", f->t.upper));
    sup_expect_ok(&f->t, crisp_container_start(f->t.c, &f->t.err), "start");
    int status = sup_wait_pid(&f->t, pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_true(exists("%s/marker", f->t.upper));
    assert_int_equal(crisp_container_start(f->t.c, &f->t.err), -EALREADY);
    check_clean(f);
}

static void test_free_before_start_ends_it(void **state)
{
    struct fixture *f = *state;
    char *argv[] = {"sh", "-c", "echo ran > /marker", NULL};
    set_argv(f, argv);
    sup_expect_ok(&f->t, crisp_container_create(&f->t.spec, &f->t.c, &f->t.err), "create");
    pid_t pid = crisp_container_pid(f->t.c);
    sup_track(&f->t, pid);
    crisp_container_free(f->t.c);
    f->t.c = NULL;
    int status = sup_wait_pid(&f->t, pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 1);
    assert_false(exists("%s/marker", f->t.upper));
    check_clean(f);
}

static void test_bind_mounts(void **state)
{
    struct fixture *f = *state;
    char ro[200], rw[200], hosts[200], existing[240];
    snprintf(ro, sizeof(ro), "%s/ro", f->t.host);
    snprintf(rw, sizeof(rw), "%s/rw", f->t.host);
    snprintf(hosts, sizeof(hosts), "%s/hosts", f->t.host);
    snprintf(existing, sizeof(existing), "%s/existing", ro);
    sup_mkdir(ro);
    sup_mkdir(rw);
    sup_write_file(existing, "present\n");
    sup_write_file(hosts, "127.0.0.1 crisp\n");
    const struct crisp_bind_mount mounts[] = {
        {.source = ro, .destination = "/data", .readonly = true},
        {.source = rw, .destination = "/deep/rw", .propagation = CRISP_PROP_RSLAVE},
        {.source = hosts, .destination = "/etc/hosts", .readonly = true},
    };
    f->t.spec.mounts = mounts;
    f->t.spec.n_mounts = 3;
    char *argv[] = {"sh", "-c",
                    "cat /data/existing; echo x > /data/f || echo denied; echo y > /deep/rw/f; "
                    "cat /etc/hosts; echo z >> /etc/hosts || echo denied-hosts",
                    NULL};
    set_argv(f, argv);
    char *out = sup_run_ok(&f->t);
    sup_assert_contains(out, "present\n");
    sup_assert_contains(out, "denied\n");
    sup_assert_contains(out, "127.0.0.1 crisp\n");
    sup_assert_contains(out, "denied-hosts\n");
    free(out);
    assert_false(exists("%s/f", ro));
    assert_true(exists("%s/f", rw));
    assert_true(exists("%s/deep/rw", f->t.upper)); /* the mount point was made in the rootfs */
    check_clean(f);
}

static void test_readonly_rootfs(void **state)
{
    struct fixture *f = *state;
    f->t.spec.readonly_rootfs = true;
    f->t.spec.process.cwd = "/made/before/remount";
    char *argv[] = {"sh", "-c", "touch /x || echo rofs; pwd", NULL};
    set_argv(f, argv);
    char *out = sup_run_ok(&f->t);
    sup_assert_contains(out, "rofs\n");
    sup_assert_contains(out, "/made/before/remount\n");
    free(out);
    assert_false(exists("%s/x", f->t.upper));
    check_clean(f);
}

static void test_bind_destination_symlinks_stay_inside(void **state)
{
    struct fixture *f = *state;
    char src[200], file[240];
    snprintf(src, sizeof(src), "%s/src", f->t.host);
    snprintf(file, sizeof(file), "%s/file", src);
    sup_mkdir(src);
    sup_write_file(file, "inside\n");
    const struct crisp_bind_mount mounts[] = {
        {.source = src, .destination = "/evil/sub"},           /* -> <box>/outside, absolute */
        {.source = src, .destination = "/evil2/crisp-escape"}, /* -> ../../../../etc */
        {.source = src, .destination = "/../../../../climb"},
    };
    f->t.spec.mounts = mounts;
    f->t.spec.n_mounts = 3;
    char *argv[] = {"sh", "-c", "cat /evil/sub/file /evil2/crisp-escape/file /climb/file", NULL};
    set_argv(f, argv);
    char *out = sup_run_ok(&f->t);
    assert_string_equal(out, "inside\ninside\ninside\n");
    free(out);
    assert_false(exists("%s/outside/sub", box));
    assert_false(exists("/etc/crisp-escape"));
    assert_false(exists("/climb"));
    assert_true(exists("%s%s/outside/sub", f->t.upper, box)); /* made inside the rootfs */
    assert_true(exists("%s/etc/crisp-escape", f->t.upper));
    assert_true(exists("%s/climb", f->t.upper));
    check_clean(f);
}

static void test_missing_bind_source(void **state)
{
    struct fixture *f = *state;
    char missing[200];
    snprintf(missing, sizeof(missing), "%s/no-such-dir", f->t.host);
    const struct crisp_bind_mount mounts[] = {{.source = missing, .destination = "/x"}};
    f->t.spec.mounts = mounts;
    f->t.spec.n_mounts = 1;
    char *argv[] = {"true", NULL};
    set_argv(f, argv);
    assert_int_equal(crisp_container_create(&f->t.spec, &f->t.c, &f->t.err), -ENOENT);
    assert_int_equal(f->t.err.code, GRPC_STATUS_NOT_FOUND);
    sup_assert_contains(f->t.err.msg, missing);
    assert_null(f->t.c);
    check_clean(f);
}

static void test_missing_binary(void **state)
{
    struct fixture *f = *state;
    char *argv[] = {"nosuchbinary", "arg", NULL};
    set_argv(f, argv);
    sup_expect_ok(&f->t, crisp_container_create(&f->t.spec, &f->t.c, &f->t.err), "create");
    sup_track(&f->t, crisp_container_pid(f->t.c));
    assert_int_equal(crisp_container_start(f->t.c, &f->t.err), -ENOENT);
    assert_int_equal(f->t.err.code, GRPC_STATUS_FAILED_PRECONDITION);
    assert_string_equal(f->t.err.msg, "exec \"nosuchbinary\": executable file not found in $PATH");
    f->t.pids[0] = 0; /* start reaped it */
    crisp_container_free(f->t.c);
    f->t.c = NULL;

    char *argv2[] = {"/bin/nope", NULL};
    set_argv(f, argv2);
    sup_expect_ok(&f->t, crisp_container_create(&f->t.spec, &f->t.c, &f->t.err), "create");
    assert_int_equal(crisp_container_start(f->t.c, &f->t.err), -ENOENT);
    assert_string_equal(f->t.err.msg, "exec \"/bin/nope\": no such file in the container");
    check_clean(f);
}

static void test_bad_specs_spawn_nothing(void **state)
{
    struct fixture *f = *state;
    char *argv[] = {"true", NULL};
    set_argv(f, argv);
    f->t.spec.process.cwd = "relative";
    assert_int_equal(crisp_container_create(&f->t.spec, &f->t.c, &f->t.err), -EINVAL);
    assert_int_equal(f->t.err.code, GRPC_STATUS_INVALID_ARGUMENT);
    f->t.spec.process.cwd = NULL;
    f->t.spec.host_net = true;
    f->t.spec.netns = "/proc/self/ns/net";
    assert_int_equal(crisp_container_create(&f->t.spec, &f->t.c, &f->t.err), -EINVAL);
    f->t.spec.netns = NULL;
    f->t.spec.process.argv = NULL;
    assert_int_equal(crisp_container_create(&f->t.spec, &f->t.c, &f->t.err), -EINVAL);
    set_argv(f, argv);
    f->t.spec.pidns = "/nonexistent/ns/pid";
    assert_int_equal(crisp_container_create(&f->t.spec, &f->t.c, &f->t.err), -ENOENT);
    sup_assert_contains(f->t.err.msg, "/nonexistent/ns/pid");
    f->t.spec.pidns = "/proc/self/ns/net"; /* not a pid namespace */
    assert_int_equal(crisp_container_create(&f->t.spec, &f->t.c, &f->t.err), -EINVAL);
    assert_null(f->t.c);
    check_clean(f);
}

static void test_rlimits_and_oom_score_adj(void **state)
{
    struct fixture *f = *state;
    const struct crisp_rlimit limits[] = {{RLIMIT_NOFILE, 123, 456}};
    f->t.spec.process.rlimits = limits;
    f->t.spec.process.n_rlimits = 1;
    f->t.spec.process.set_oom_score_adj = true;
    f->t.spec.process.oom_score_adj = 500;
    char *argv[] = {"sh", "-c", "ulimit -Sn; ulimit -Hn; cat /proc/self/oom_score_adj", NULL};
    set_argv(f, argv);
    char *out = sup_run_ok(&f->t);
    assert_string_equal(out, "123\n456\n500\n");
    free(out);

    /* lowering below ours needs CAP_SYS_RESOURCE, which no process here has */
    FILE *st = fopen("/proc/self/status", "re");
    char line[256];
    unsigned long long caps = 0;
    while (st && fgets(line, sizeof(line), st))
        sscanf(line, "CapEff: %llx", &caps);
    if (st)
        fclose(st);
    if (!(caps & (1ULL << 24))) {
        f->t.spec.process.oom_score_adj = -900;
        assert_int_equal(crisp_container_create(&f->t.spec, &f->t.c, &f->t.err), -EACCES);
        assert_int_equal(f->t.err.code, GRPC_STATUS_PERMISSION_DENIED);
        sup_assert_contains(f->t.err.msg, "oom_score_adj -900");
    }
    check_clean(f);
}

static void test_tty(void **state)
{
    struct fixture *f = *state;
    f->t.spec.process.tty = true;
    f->t.spec.process.uid = 1000;
    char *argv[] = {"sh", "-c", "tty; test -t 0 && test -t 2 && echo isatty", NULL};
    set_argv(f, argv);
    sup_expect_ok(&f->t, crisp_container_create(&f->t.spec, &f->t.c, &f->t.err), "create");
    pid_t pid = crisp_container_pid(f->t.c);
    sup_track(&f->t, pid);
    int master = crisp_container_take_pty(f->t.c);
    assert_true(master >= 0);
    assert_int_equal(crisp_container_take_pty(f->t.c), -1);
    sup_expect_ok(&f->t, crisp_container_start(f->t.c, &f->t.err), "start");
    char *out = sup_read_all(master);
    close(master);
    sup_assert_contains(out, "/dev/pts/0\r\n");
    sup_assert_contains(out, "isatty\r\n");
    free(out);
    int status = sup_wait_pid(&f->t, pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    check_clean(f);
}

static void test_many_layers(void **state)
{
    struct fixture *f = *state;
    char layers[200];
    snprintf(layers, sizeof(layers), "%s/layers", f->t.dir);
    sup_mkdir(layers);
    static char paths[N_LAYERS][256];
    for (int i = 0; i < N_LAYERS; i++) {
        snprintf(paths[i], sizeof(paths[i]), "%s/layer-%03d-with-a-long-name-like-a-digest", layers,
                 i);
        sup_mkdir(paths[i]);
        char file[300], content[16];
        snprintf(file, sizeof(file), "%s/which", paths[i]);
        snprintf(content, sizeof(content), "%d\n", i);
        sup_write_file(file, content);
        snprintf(file, sizeof(file), "%s/only-%03d", paths[i], i);
        sup_write_file(file, "x\n");
        f->t.lowers[i + 1] = paths[i];
    }
    f->t.spec.n_lowerdirs = N_LAYERS + 1; /* busybox at the bottom */
    char *argv[] = {"sh", "-c", "cat /which /only-000 /only-099", NULL};
    set_argv(f, argv);
    char *out = sup_run_ok(&f->t);
    assert_string_equal(out, "99\nx\nx\n");
    free(out);
    check_clean(f);
}

static void test_namespaces(void **state)
{
    struct fixture *f = *state;
    /* pin a network namespace on a file, as crispd does for pods */
    snprintf(f->netns, sizeof(f->netns), "%s/netns", f->t.dir);
    sup_write_file(f->netns, "");
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    pid_t holder = fork();
    assert_true(holder >= 0);
    if (holder == 0) {
        char c = unshare(CLONE_NEWNET) == 0 ? 'y' : 'n';
        if (write(p[1], &c, 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    sup_track(&f->t, holder);
    char c = 0;
    assert_int_equal(read(p[0], &c, 1), 1);
    assert_int_equal(c, 'y');
    close(p[0]);
    close(p[1]);
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)holder);
    assert_int_equal(mount(path, f->netns, NULL, MS_BIND, NULL), 0);
    sup_kill_wait(&f->t, holder);

    f->t.spec.netns = f->netns;
    f->t.spec.host_ipc = true;
    char *argv[] = {"sleep", "30", NULL};
    set_argv(f, argv);
    sup_expect_ok(&f->t, crisp_container_create(&f->t.spec, &f->t.c, &f->t.err), "create");
    pid_t pid = crisp_container_pid(f->t.c);
    sup_track(&f->t, pid);
    struct stat st;
    assert_int_equal(stat(f->netns, &st), 0);
    assert_int_equal(pid_ns_inode(pid, "net"), st.st_ino);
    assert_int_equal(pid_ns_inode(pid, "ipc"), ns_inode("self", "ipc"));
    assert_int_not_equal(pid_ns_inode(pid, "uts"), ns_inode("self", "uts"));
    assert_int_not_equal(pid_ns_inode(pid, "pid"), ns_inode("self", "pid"));
    assert_int_not_equal(pid_ns_inode(pid, "mnt"), ns_inode("self", "mnt"));
    assert_int_not_equal(pid_ns_inode(pid, "cgroup"), ns_inode("self", "cgroup"));
    sup_kill_wait(&f->t, pid);
    crisp_container_free(f->t.c);
    f->t.c = NULL;
    assert_int_equal(umount2(f->netns, MNT_DETACH), 0);
    unlink(f->netns);
    f->netns[0] = '\0';
    check_clean(f);
}

static void test_join_pid_namespace(void **state)
{
    struct fixture *f = *state;
    char *argv[] = {"sleep", "30", NULL};
    set_argv(f, argv);
    int fd;
    pid_t first = sup_launch(&f->t, &fd);
    close(fd);
    char pidns[64];
    snprintf(pidns, sizeof(pidns), "/proc/%d/ns/pid", (int)first);
    f->t.spec.pidns = pidns;
    char upper2[200], work2[200];
    snprintf(upper2, sizeof(upper2), "%s/upper2", f->t.dir);
    snprintf(work2, sizeof(work2), "%s/work2", f->t.dir);
    sup_mkdir(upper2);
    sup_mkdir(work2);
    f->t.spec.upperdir = upper2;
    f->t.spec.workdir = work2;
    char *argv2[] = {"sh", "-c", "echo pid=$$; ps", NULL};
    set_argv(f, argv2);
    char *out = sup_run_ok(&f->t);
    sup_assert_contains(out, "pid=2\n");
    sup_assert_contains(out, "sleep 30");
    free(out);
    sup_kill_wait(&f->t, first);
    check_clean(f);
}

/* A pids cgroup of our own (cgroup v1 here; skipped when there is none). */
static const char *make_cgroup(struct fixture *f, char *procs, size_t size)
{
    snprintf(f->cgroup, sizeof(f->cgroup), "/sys/fs/cgroup/pids/crisp-rt-test-%d", (int)getpid());
    if (mkdir(f->cgroup, 0755) < 0) {
        f->cgroup[0] = '\0';
        return NULL;
    }
    snprintf(procs, size, "%s/cgroup.procs", f->cgroup);
    return procs;
}

static void test_exec_into_running_container(void **state)
{
    struct fixture *f = *state;
    char procs[256];
    const char *cg = make_cgroup(f, procs, sizeof(procs));
    const char *cgs[] = {cg};
    if (cg) {
        f->t.spec.cgroup_procs_files = cgs;
        f->t.spec.n_cgroup_procs_files = 1;
    }
    f->t.spec.process.cwd = "/home/app";
    char *argv[] = {"sleep", "30", NULL};
    set_argv(f, argv);
    int fd;
    pid_t pid = sup_launch(&f->t, &fd);
    close(fd);
    /* the container's process has exactly 0, 1, 2 */
    for (int i = 0; i < 3; i++)
        assert_true(exists("/proc/%d/fd/%d", (int)pid, i));
    assert_int_equal(count_fds(pid), 3);

    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    char *cmd[] = {"sh", "-c",
                   "cat /proc/1/cmdline; echo; echo pid=$$; pwd; "
                   "cat /proc/self/cgroup; ls /proc/self/fd",
                   NULL};
    struct crisp_exec_spec es = {
        .process = {.argv = cmd,
                    .env = env_path(f),
                    .cwd = "/home/app",
                    .uid = 1000,
                    .gid = 1000,
                    .stdin_fd = -1,
                    .stdout_fd = p[1],
                    .stderr_fd = p[1]},
        .cgroup_procs_files = cgs,
        .n_cgroup_procs_files = cg ? 1 : 0,
    };
    struct crisp_exec_result res;
    sup_expect_ok(&f->t, crisp_container_exec(pid, &es, &res, &f->t.err), "exec");
    close(p[1]);
    sup_track(&f->t, res.pid);
    assert_int_equal(res.pty_master, -1);
    char *out = sup_read_all(p[0]);
    close(p[0]);
    int status = sup_wait_pid(&f->t, res.pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_true(memcmp(out,
                       "sleep\0"
                       "30\0\n",
                       10) == 0);
    char *rest = out + 10;
    sup_assert_contains(rest, "pid=");
    assert_false(strstr(rest, "pid=1\n"));
    sup_assert_contains(rest, "\n/home/app\n");
    if (cg)
        sup_assert_contains(rest, ":pids:/\n"); /* inside the container's cgroup namespace */
    sup_assert_contains(rest, "0\n1\n2\n");     /* and ls's own directory fd 3: nothing else */
    assert_false(strstr(rest, "\n4\n"));
    free(out);

    char *missing[] = {"nosuchtool", NULL};
    es.process.argv = missing;
    es.process.stdout_fd = es.process.stderr_fd = -1;
    assert_int_equal(crisp_container_exec(pid, &es, &res, &f->t.err), -ENOENT);
    sup_assert_contains(f->t.err.msg, "\"nosuchtool\"");
    pid_t gone = fork(); /* a pid that no longer exists */
    if (gone == 0)
        _exit(0);
    assert_int_equal(waitpid(gone, NULL, 0), gone);
    assert_int_equal(crisp_container_exec(gone, &es, &res, &f->t.err), -ESRCH);
    sup_kill_wait(&f->t, pid);
    check_clean(f);
}

static void test_exec_with_tty(void **state)
{
    struct fixture *f = *state;
    char *argv[] = {"sleep", "30", NULL};
    set_argv(f, argv);
    int fd;
    pid_t pid = sup_launch(&f->t, &fd);
    close(fd);
    char *cmd[] = {"sh", "-c", "tty", NULL};
    struct crisp_exec_spec es = {
        .process = {.argv = cmd, .env = env_path(f), .tty = true},
    };
    struct crisp_exec_result res;
    sup_expect_ok(&f->t, crisp_container_exec(pid, &es, &res, &f->t.err), "exec");
    sup_track(&f->t, res.pid);
    assert_true(res.pty_master >= 0);
    char *out = sup_read_all(res.pty_master);
    close(res.pty_master);
    sup_assert_contains(out, "/dev/pts/0\r\n");
    free(out);
    sup_wait_pid(&f->t, res.pid);
    sup_kill_wait(&f->t, pid);
    check_clean(f);
}

static void test_no_fd_or_cwd_leaks_into_the_container(void **state)
{
    struct fixture *f = *state;
    int leaked = open("/", O_RDONLY | O_DIRECTORY); /* no O_CLOEXEC on purpose */
    assert_true(leaked >= 0);
    char cwd[64];
    snprintf(cwd, sizeof(cwd), "/proc/self/fd/%d", leaked); /* CVE-2024-21626 */
    f->t.spec.process.cwd = cwd;
    char *argv[] = {"sleep", "30", NULL};
    set_argv(f, argv);
    assert_true(crisp_container_create(&f->t.spec, &f->t.c, &f->t.err) < 0);
    assert_null(f->t.c);
    f->t.spec.process.cwd = NULL;
    int fd;
    pid_t pid = sup_launch(&f->t, &fd);
    close(fd);
    close(leaked);
    assert_int_equal(count_fds(pid), 3);
    sup_kill_wait(&f->t, pid);
    check_clean(f);
}

static void test_bad_overlay_reports_the_mount(void **state)
{
    struct fixture *f = *state;
    char missing[200];
    snprintf(missing, sizeof(missing), "%s/no-upper", f->t.dir);
    f->t.spec.upperdir = missing;
    char *argv[] = {"true", NULL};
    set_argv(f, argv);
    assert_true(crisp_container_create(&f->t.spec, &f->t.c, &f->t.err) < 0);
    sup_assert_contains(f->t.err.msg, "overlay");
    sup_assert_contains(f->t.err.msg, missing);
    check_clean(f);
}

static void test_exec_checks_dev_null_and_cwd(void **state)
{
    struct fixture *f = *state;
    /* the container swaps its /dev/null for a regular file, then waits */
    char *argv[] = {"sh", "-c", "rm /dev/null && echo fake > /dev/null && sleep 30", NULL};
    set_argv(f, argv);
    int fd;
    pid_t pid = sup_launch(&f->t, &fd);
    close(fd);
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/root/dev/null", (int)pid);
    for (int i = 0; i < 200; i++) { /* until the shell has done it */
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISREG(st.st_mode))
            break;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    char *cmd[] = {"true", NULL};
    struct crisp_exec_spec es = {
        .process = {
            .argv = cmd, .env = env_path(f), .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1}};
    struct crisp_exec_result res;
    assert_int_equal(crisp_container_exec(pid, &es, &res, &f->t.err), -EPERM);
    sup_assert_contains(f->t.err.msg, "/dev/null in the container is not the null device");
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    es.process.stdin_fd = es.process.stdout_fd = es.process.stderr_fd = p[1];
    es.process.cwd = "/no/such/dir";
    assert_int_equal(crisp_container_exec(pid, &es, &res, &f->t.err), -ENOENT);
    sup_assert_contains(f->t.err.msg, "/no/such/dir");
    close(p[0]);
    close(p[1]);
    sup_kill_wait(&f->t, pid);
    check_clean(f);
}

static void test_host_pid_namespace(void **state)
{
    struct fixture *f = *state;
    f->t.spec.host_pid = true;
    char *argv[] = {"sh", "-c", "echo pid=$$; test -d /proc/1 && echo host-init-visible", NULL};
    set_argv(f, argv);
    int fd;
    pid_t pid = sup_launch(&f->t, &fd);
    char *out = sup_read_all(fd);
    close(fd);
    char expect[32];
    snprintf(expect, sizeof(expect), "pid=%d\n", (int)pid);
    sup_assert_contains(out, expect);
    sup_assert_contains(out, "host-init-visible\n");
    free(out);
    assert_int_equal(sup_wait_pid(&f->t, pid), 0);
    check_clean(f);
}

static void test_plain_rootfs_without_layers(void **state)
{
    struct fixture *f = *state;
    char path[256];
    snprintf(path, sizeof(path), "%s/bin", f->t.rootfs);
    sup_mkdir(path);
    snprintf(path, sizeof(path), "%s/bin/busybox", f->t.rootfs);
    sup_copy_file("/bin/busybox", path, 0755);
    snprintf(path, sizeof(path), "%s/bin/sh", f->t.rootfs);
    assert_int_equal(symlink("busybox", path), 0);
    f->t.spec.n_lowerdirs = 0;
    f->t.spec.upperdir = f->t.spec.workdir = NULL;
    char *argv[] = {"sh", "-c", "echo plain > /written; echo pid=$$", NULL};
    set_argv(f, argv);
    char *out = sup_run_ok(&f->t);
    assert_string_equal(out, "pid=1\n");
    free(out);
    assert_true(exists("%s/written", f->t.rootfs)); /* the rootfs itself is written */
    check_clean(f);
}

#define N_THREADS 6

struct worker {
    struct fixture *f;
    int index;
    char out[64];
    int status;
    char error[CRISP_ERR_MSG_MAX];
};

/* One container run from a thread: no cmocka assertions here, results go to w. */
static void *worker_main(void *arg)
{
    struct worker *w = arg;
    char upper[200], work[200], cmd[64];
    snprintf(upper, sizeof(upper), "%s/upper%d", w->f->t.dir, w->index);
    snprintf(work, sizeof(work), "%s/work%d", w->f->t.dir, w->index);
    snprintf(cmd, sizeof(cmd), "echo worker %d", w->index);
    char *argv[] = {"sh", "-c", cmd, NULL};
    struct crisp_container_spec spec = w->f->t.spec;
    spec.upperdir = upper;
    spec.workdir = work;
    spec.process.argv = argv;
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return NULL;
    spec.process.stdout_fd = p[1];
    struct crisp_container *c = NULL;
    struct crisp_err err = {0};
    int r = crisp_container_create(&spec, &c, &err);
    close(p[1]);
    if (r == 0)
        r = crisp_container_start(c, &err);
    if (r < 0) {
        snprintf(w->error, sizeof(w->error), "%s", err.msg);
    } else {
        ssize_t n = read(p[0], w->out, sizeof(w->out) - 1);
        w->out[n > 0 ? n : 0] = '\0';
        waitpid(crisp_container_pid(c), &w->status, 0);
    }
    crisp_container_free(c);
    close(p[0]);
    return NULL;
}

static void test_concurrent_creates_from_threads(void **state)
{
    struct fixture *f = *state;
    struct worker workers[N_THREADS];
    pthread_t threads[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) {
        char dir[200];
        snprintf(dir, sizeof(dir), "%s/upper%d", f->t.dir, i);
        sup_mkdir(dir);
        snprintf(dir, sizeof(dir), "%s/work%d", f->t.dir, i);
        sup_mkdir(dir);
        workers[i] = (struct worker){.f = f, .index = i, .status = -1};
        assert_int_equal(pthread_create(&threads[i], NULL, worker_main, &workers[i]), 0);
    }
    for (int i = 0; i < N_THREADS; i++)
        assert_int_equal(pthread_join(threads[i], NULL), 0);
    for (int i = 0; i < N_THREADS; i++) {
        char expect[32];
        snprintf(expect, sizeof(expect), "worker %d\n", i);
        if (workers[i].error[0])
            fail_msg("worker %d: %s", i, workers[i].error);
        assert_string_equal(workers[i].out, expect);
        assert_int_equal(workers[i].status, 0);
    }
    check_clean(f);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    if (geteuid() != 0) {
        printf("test_runtime: SKIPPED: needs root (namespaces, mounts, cgroups)\n");
        return 0;
    }
    alarm(60); /* a hung container must not hang the suite */
    const struct CMUnitTest tests[] = {
        T(test_run_shell_as_user),
        T(test_writes_land_in_upperdir),
        T(test_create_waits_for_start),
        T(test_free_before_start_ends_it),
        T(test_bind_mounts),
        T(test_readonly_rootfs),
        T(test_bind_destination_symlinks_stay_inside),
        T(test_missing_bind_source),
        T(test_missing_binary),
        T(test_bad_specs_spawn_nothing),
        T(test_rlimits_and_oom_score_adj),
        T(test_tty),
        T(test_many_layers),
        T(test_namespaces),
        T(test_join_pid_namespace),
        T(test_exec_into_running_container),
        T(test_exec_with_tty),
        T(test_no_fd_or_cwd_leaks_into_the_container),
        T(test_bad_overlay_reports_the_mount),
        T(test_exec_checks_dev_null_and_cwd),
        T(test_host_pid_namespace),
        T(test_plain_rootfs_without_layers),
        T(test_concurrent_creates_from_threads),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
