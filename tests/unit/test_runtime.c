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
#include <ftw.h>
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
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime/container.h"

#define MAX_PIDS   8
#define N_LAYERS   100
#define OUTPUT_MAX 65536

static const char *const applets[] = {"sh",       "cat", "ls",    "ps",       "mount",
                                      "hostname", "id",  "sleep", "pwd",      "echo",
                                      "touch",    "tty", "test",  "readlink", "true"};

static char box[64];   /* the group's directory */
static char lower[96]; /* the busybox lowerdir */
static int test_counter;

struct fixture {
    char dir[128], upper[160], work[160], rootfs[160], host[160];
    pid_t pids[MAX_PIDS]; /* running containers to kill in teardown */
    struct crisp_container *c;
    char cgroup[160]; /* a pids cgroup made by the test, removed in teardown */
    char netns[160];  /* a pinned netns file, unmounted in teardown */
    ino_t ns_before[6];
    struct crisp_err err;
    const char *lowers[N_LAYERS + 1];
    struct crisp_container_spec spec;
    char *env[2];
};

/* ---- small helpers ---- */

static void write_file(const char *path, const char *data)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
    close(fd);
}

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

static void assert_contains(const char *haystack, const char *needle)
{
    if (!strstr(haystack, needle))
        fail_msg("\"%s\" does not contain \"%s\"", haystack, needle);
}

static void mkdirf(const char *path)
{
    if (mkdir(path, 0755) < 0 && errno != EEXIST)
        fail_msg("mkdir %s: %s", path, strerror(errno));
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

/* Reads fd until EOF (or EIO: a pty whose slave is gone), at most 5 s. */
static char *read_all(int fd)
{
    char *buf = calloc(1, OUTPUT_MAX);
    assert_non_null(buf);
    size_t len = 0;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int pr = poll(&p, 1, 5000);
        if (pr == 0)
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

static void kill_wait(struct fixture *f, pid_t pid)
{
    kill(pid, SIGKILL);
    wait_pid(f, pid);
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
    for (int i = 0; i < 6; i++)
        assert_int_equal(ns_inode("self", ns_names[i]), f->ns_before[i]);
}

static char **env_path(struct fixture *f)
{
    f->env[0] = "PATH=/bin";
    f->env[1] = NULL;
    return f->env;
}

/* ---- group and test fixtures ---- */

static int group_setup(void **state)
{
    (void)state;
    strcpy(box, "/tmp/crisp-rt-XXXXXX");
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
    /* Hostile symlinks: an absolute one to a host directory, a relative one climbing out. */
    char outside[128], target[128];
    snprintf(outside, sizeof(outside), "%s/outside", box);
    mkdirf(outside);
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
    for (int i = 0; i < 6; i++)
        f->ns_before[i] = ns_inode("self", ns_names[i]);
    f->lowers[0] = lower;
    f->spec = (struct crisp_container_spec){
        .lowerdirs = f->lowers,
        .n_lowerdirs = 1,
        .upperdir = f->upper,
        .workdir = f->work,
        .rootfs = f->rootfs,
        .process = {.env = env_path(f), .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1},
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
    if (f->netns[0]) {
        umount2(f->netns, MNT_DETACH);
        unlink(f->netns);
    }
    if (f->cgroup[0])
        rmdir(f->cgroup);
    remove_tree(f->dir);
    free(f);
    return 0;
}

/* ---- running containers ---- */

static void set_argv(struct fixture *f, char **argv)
{
    f->spec.process.argv = argv;
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

/* Runs the container to its end; returns its output, *status its wait status. */
static char *run(struct fixture *f, int *status)
{
    int fd;
    pid_t pid = launch(f, &fd);
    char *out = read_all(fd);
    close(fd);
    *status = wait_pid(f, pid);
    return out;
}

static char *run_ok(struct fixture *f)
{
    int status;
    char *out = run(f, &status);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("container status 0x%x, output: %s", (unsigned)status, out);
    return out;
}

/* ---- tests ---- */

static void test_run_shell_as_user(void **state)
{
    struct fixture *f = *state;
    char *argv[] = {"sh", "-c", "echo hello; id; pwd; echo pid=$$; hostname; ps; true", NULL};
    set_argv(f, argv);
    gid_t groups[] = {2000, 3000};
    f->spec.process.uid = 1000;
    f->spec.process.gid = 1001;
    f->spec.process.groups = groups;
    f->spec.process.n_groups = 2;
    f->spec.process.cwd = "/work/dir";
    f->spec.hostname = "crisp-test";
    char *out = run_ok(f);
    assert_contains(out, "hello\n");
    assert_contains(out, "uid=1000 gid=1001 groups=2000,3000");
    assert_contains(out, "\n/work/dir\n");
    assert_contains(out, "pid=1\n");
    assert_contains(out, "crisp-test\n");
    /* ps: a header, the shell (pid 1) and ps itself; nothing of the host */
    char *ps = strstr(out, "PID");
    assert_non_null(ps);
    int lines = 0;
    for (char *p = ps; *p; p++)
        lines += *p == '\n';
    if (lines != 3)
        fail_msg("ps sees more than the container: %s", ps);
    assert_contains(ps, "    1 1000");
    /* the cwd was made as root, in the upper layer */
    char cwd[256];
    snprintf(cwd, sizeof(cwd), "%s/work/dir", f->upper);
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
    free(run_ok(f));
    assert_true(exists("%s/newfile", f->upper));
    assert_false(exists("%s/newfile", lower));
    assert_false(exists("%s/bin", f->rootfs)); /* the overlay never was in our namespace */
    check_clean(f);
}

static void test_create_waits_for_start(void **state)
{
    struct fixture *f = *state;
    char *argv[] = {"sh", "-c", "echo ran > /marker", NULL};
    set_argv(f, argv);
    expect_ok(f, crisp_container_create(&f->spec, &f->c, &f->err), "create");
    pid_t pid = crisp_container_pid(f->c);
    track(f, pid);
    /* set up but blocked: its root is the overlay, ours does not show it */
    assert_true(exists("/proc/%d/root/bin/busybox", (int)pid));
    assert_false(exists("%s/bin", f->rootfs));
    assert_true(exists("/proc/%d/fd/2", (int)pid)); /* /dev/null */
    assert_int_equal(count_fds(pid), 4);            /* 0-2 and the sync socket */
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
    assert_false(exists("%s/marker", f->upper));
    expect_ok(f, crisp_container_start(f->c, &f->err), "start");
    int status = wait_pid(f, pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_true(exists("%s/marker", f->upper));
    assert_int_equal(crisp_container_start(f->c, &f->err), -EALREADY);
    check_clean(f);
}

static void test_free_before_start_ends_it(void **state)
{
    struct fixture *f = *state;
    char *argv[] = {"sh", "-c", "echo ran > /marker", NULL};
    set_argv(f, argv);
    expect_ok(f, crisp_container_create(&f->spec, &f->c, &f->err), "create");
    pid_t pid = crisp_container_pid(f->c);
    track(f, pid);
    crisp_container_free(f->c);
    f->c = NULL;
    int status = wait_pid(f, pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 1);
    assert_false(exists("%s/marker", f->upper));
    check_clean(f);
}

static void test_bind_mounts(void **state)
{
    struct fixture *f = *state;
    char ro[200], rw[200], hosts[200], existing[240];
    snprintf(ro, sizeof(ro), "%s/ro", f->host);
    snprintf(rw, sizeof(rw), "%s/rw", f->host);
    snprintf(hosts, sizeof(hosts), "%s/hosts", f->host);
    snprintf(existing, sizeof(existing), "%s/existing", ro);
    mkdirf(ro);
    mkdirf(rw);
    write_file(existing, "present\n");
    write_file(hosts, "127.0.0.1 crisp\n");
    const struct crisp_bind_mount mounts[] = {
        {.source = ro, .destination = "/data", .readonly = true},
        {.source = rw, .destination = "/deep/rw", .propagation = CRISP_PROP_RSLAVE},
        {.source = hosts, .destination = "/etc/hosts", .readonly = true},
    };
    f->spec.mounts = mounts;
    f->spec.n_mounts = 3;
    char *argv[] = {"sh", "-c",
                    "cat /data/existing; echo x > /data/f || echo denied; echo y > /deep/rw/f; "
                    "cat /etc/hosts; echo z >> /etc/hosts || echo denied-hosts",
                    NULL};
    set_argv(f, argv);
    char *out = run_ok(f);
    assert_contains(out, "present\n");
    assert_contains(out, "denied\n");
    assert_contains(out, "127.0.0.1 crisp\n");
    assert_contains(out, "denied-hosts\n");
    free(out);
    assert_false(exists("%s/f", ro));
    assert_true(exists("%s/f", rw));
    assert_true(exists("%s/deep/rw", f->upper)); /* the mount point was made in the rootfs */
    check_clean(f);
}

static void test_readonly_rootfs(void **state)
{
    struct fixture *f = *state;
    f->spec.readonly_rootfs = true;
    f->spec.process.cwd = "/made/before/remount";
    char *argv[] = {"sh", "-c", "touch /x || echo rofs; pwd", NULL};
    set_argv(f, argv);
    char *out = run_ok(f);
    assert_contains(out, "rofs\n");
    assert_contains(out, "/made/before/remount\n");
    free(out);
    assert_false(exists("%s/x", f->upper));
    check_clean(f);
}

static void test_bind_destination_symlinks_stay_inside(void **state)
{
    struct fixture *f = *state;
    char src[200], file[240];
    snprintf(src, sizeof(src), "%s/src", f->host);
    snprintf(file, sizeof(file), "%s/file", src);
    mkdirf(src);
    write_file(file, "inside\n");
    const struct crisp_bind_mount mounts[] = {
        {.source = src, .destination = "/evil/sub"},           /* -> <box>/outside, absolute */
        {.source = src, .destination = "/evil2/crisp-escape"}, /* -> ../../../../etc */
        {.source = src, .destination = "/../../../../climb"},
    };
    f->spec.mounts = mounts;
    f->spec.n_mounts = 3;
    char *argv[] = {"sh", "-c", "cat /evil/sub/file /evil2/crisp-escape/file /climb/file", NULL};
    set_argv(f, argv);
    char *out = run_ok(f);
    assert_string_equal(out, "inside\ninside\ninside\n");
    free(out);
    assert_false(exists("%s/outside/sub", box));
    assert_false(exists("/etc/crisp-escape"));
    assert_false(exists("/climb"));
    assert_true(exists("%s%s/outside/sub", f->upper, box)); /* made inside the rootfs */
    assert_true(exists("%s/etc/crisp-escape", f->upper));
    assert_true(exists("%s/climb", f->upper));
    check_clean(f);
}

static void test_missing_bind_source(void **state)
{
    struct fixture *f = *state;
    char missing[200];
    snprintf(missing, sizeof(missing), "%s/no-such-dir", f->host);
    const struct crisp_bind_mount mounts[] = {{.source = missing, .destination = "/x"}};
    f->spec.mounts = mounts;
    f->spec.n_mounts = 1;
    char *argv[] = {"true", NULL};
    set_argv(f, argv);
    assert_int_equal(crisp_container_create(&f->spec, &f->c, &f->err), -ENOENT);
    assert_int_equal(f->err.code, GRPC_STATUS_NOT_FOUND);
    assert_contains(f->err.msg, missing);
    assert_null(f->c);
    check_clean(f);
}

static void test_missing_binary(void **state)
{
    struct fixture *f = *state;
    char *argv[] = {"nosuchbinary", "arg", NULL};
    set_argv(f, argv);
    expect_ok(f, crisp_container_create(&f->spec, &f->c, &f->err), "create");
    track(f, crisp_container_pid(f->c));
    assert_int_equal(crisp_container_start(f->c, &f->err), -ENOENT);
    assert_int_equal(f->err.code, GRPC_STATUS_FAILED_PRECONDITION);
    assert_string_equal(f->err.msg, "exec \"nosuchbinary\": executable file not found in $PATH");
    f->pids[0] = 0; /* start reaped it */
    crisp_container_free(f->c);
    f->c = NULL;

    char *argv2[] = {"/bin/nope", NULL};
    set_argv(f, argv2);
    expect_ok(f, crisp_container_create(&f->spec, &f->c, &f->err), "create");
    assert_int_equal(crisp_container_start(f->c, &f->err), -ENOENT);
    assert_string_equal(f->err.msg, "exec \"/bin/nope\": no such file in the container");
    check_clean(f);
}

static void test_bad_specs_spawn_nothing(void **state)
{
    struct fixture *f = *state;
    char *argv[] = {"true", NULL};
    set_argv(f, argv);
    f->spec.process.cwd = "relative";
    assert_int_equal(crisp_container_create(&f->spec, &f->c, &f->err), -EINVAL);
    assert_int_equal(f->err.code, GRPC_STATUS_INVALID_ARGUMENT);
    f->spec.process.cwd = NULL;
    f->spec.host_net = true;
    f->spec.netns = "/proc/self/ns/net";
    assert_int_equal(crisp_container_create(&f->spec, &f->c, &f->err), -EINVAL);
    f->spec.netns = NULL;
    f->spec.process.argv = NULL;
    assert_int_equal(crisp_container_create(&f->spec, &f->c, &f->err), -EINVAL);
    set_argv(f, argv);
    f->spec.pidns = "/nonexistent/ns/pid";
    assert_int_equal(crisp_container_create(&f->spec, &f->c, &f->err), -ENOENT);
    assert_contains(f->err.msg, "/nonexistent/ns/pid");
    f->spec.pidns = "/proc/self/ns/net"; /* not a pid namespace */
    assert_int_equal(crisp_container_create(&f->spec, &f->c, &f->err), -EINVAL);
    assert_null(f->c);
    check_clean(f);
}

static void test_rlimits_and_oom_score_adj(void **state)
{
    struct fixture *f = *state;
    const struct crisp_rlimit limits[] = {{RLIMIT_NOFILE, 123, 456}};
    f->spec.process.rlimits = limits;
    f->spec.process.n_rlimits = 1;
    f->spec.process.set_oom_score_adj = true;
    f->spec.process.oom_score_adj = 500;
    char *argv[] = {"sh", "-c", "ulimit -Sn; ulimit -Hn; cat /proc/self/oom_score_adj", NULL};
    set_argv(f, argv);
    char *out = run_ok(f);
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
        f->spec.process.oom_score_adj = -900;
        assert_int_equal(crisp_container_create(&f->spec, &f->c, &f->err), -EACCES);
        assert_int_equal(f->err.code, GRPC_STATUS_PERMISSION_DENIED);
        assert_contains(f->err.msg, "oom_score_adj -900");
    }
    check_clean(f);
}

static void test_tty(void **state)
{
    struct fixture *f = *state;
    f->spec.process.tty = true;
    f->spec.process.uid = 1000;
    char *argv[] = {"sh", "-c", "tty; test -t 0 && test -t 2 && echo isatty", NULL};
    set_argv(f, argv);
    expect_ok(f, crisp_container_create(&f->spec, &f->c, &f->err), "create");
    pid_t pid = crisp_container_pid(f->c);
    track(f, pid);
    int master = crisp_container_take_pty(f->c);
    assert_true(master >= 0);
    assert_int_equal(crisp_container_take_pty(f->c), -1);
    expect_ok(f, crisp_container_start(f->c, &f->err), "start");
    char *out = read_all(master);
    close(master);
    assert_contains(out, "/dev/pts/0\r\n");
    assert_contains(out, "isatty\r\n");
    free(out);
    int status = wait_pid(f, pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    check_clean(f);
}

static void test_many_layers(void **state)
{
    struct fixture *f = *state;
    char layers[200];
    snprintf(layers, sizeof(layers), "%s/layers", f->dir);
    mkdirf(layers);
    static char paths[N_LAYERS][256];
    for (int i = 0; i < N_LAYERS; i++) {
        snprintf(paths[i], sizeof(paths[i]), "%s/layer-%03d-with-a-long-name-like-a-digest", layers,
                 i);
        mkdirf(paths[i]);
        char file[300], content[16];
        snprintf(file, sizeof(file), "%s/which", paths[i]);
        snprintf(content, sizeof(content), "%d\n", i);
        write_file(file, content);
        snprintf(file, sizeof(file), "%s/only-%03d", paths[i], i);
        write_file(file, "x\n");
        f->lowers[i + 1] = paths[i];
    }
    f->spec.n_lowerdirs = N_LAYERS + 1; /* busybox at the bottom */
    char *argv[] = {"sh", "-c", "cat /which /only-000 /only-099", NULL};
    set_argv(f, argv);
    char *out = run_ok(f);
    assert_string_equal(out, "99\nx\nx\n");
    free(out);
    check_clean(f);
}

static void test_namespaces(void **state)
{
    struct fixture *f = *state;
    /* pin a network namespace on a file, as crispd does for pods */
    snprintf(f->netns, sizeof(f->netns), "%s/netns", f->dir);
    write_file(f->netns, "");
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
    track(f, holder);
    char c = 0;
    assert_int_equal(read(p[0], &c, 1), 1);
    assert_int_equal(c, 'y');
    close(p[0]);
    close(p[1]);
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)holder);
    assert_int_equal(mount(path, f->netns, NULL, MS_BIND, NULL), 0);
    kill_wait(f, holder);

    f->spec.netns = f->netns;
    f->spec.host_ipc = true;
    char *argv[] = {"sleep", "30", NULL};
    set_argv(f, argv);
    expect_ok(f, crisp_container_create(&f->spec, &f->c, &f->err), "create");
    pid_t pid = crisp_container_pid(f->c);
    track(f, pid);
    struct stat st;
    assert_int_equal(stat(f->netns, &st), 0);
    assert_int_equal(pid_ns_inode(pid, "net"), st.st_ino);
    assert_int_equal(pid_ns_inode(pid, "ipc"), ns_inode("self", "ipc"));
    assert_int_not_equal(pid_ns_inode(pid, "uts"), ns_inode("self", "uts"));
    assert_int_not_equal(pid_ns_inode(pid, "pid"), ns_inode("self", "pid"));
    assert_int_not_equal(pid_ns_inode(pid, "mnt"), ns_inode("self", "mnt"));
    assert_int_not_equal(pid_ns_inode(pid, "cgroup"), ns_inode("self", "cgroup"));
    kill_wait(f, pid);
    crisp_container_free(f->c);
    f->c = NULL;
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
    pid_t first = launch(f, &fd);
    close(fd);
    char pidns[64];
    snprintf(pidns, sizeof(pidns), "/proc/%d/ns/pid", (int)first);
    f->spec.pidns = pidns;
    char upper2[200], work2[200];
    snprintf(upper2, sizeof(upper2), "%s/upper2", f->dir);
    snprintf(work2, sizeof(work2), "%s/work2", f->dir);
    mkdirf(upper2);
    mkdirf(work2);
    f->spec.upperdir = upper2;
    f->spec.workdir = work2;
    char *argv2[] = {"sh", "-c", "echo pid=$$; ps", NULL};
    set_argv(f, argv2);
    char *out = run_ok(f);
    assert_contains(out, "pid=2\n");
    assert_contains(out, "sleep 30");
    free(out);
    kill_wait(f, first);
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
        f->spec.cgroup_procs_files = cgs;
        f->spec.n_cgroup_procs_files = 1;
    }
    f->spec.process.cwd = "/home/app";
    char *argv[] = {"sleep", "30", NULL};
    set_argv(f, argv);
    int fd;
    pid_t pid = launch(f, &fd);
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
    expect_ok(f, crisp_container_exec(pid, &es, &res, &f->err), "exec");
    close(p[1]);
    track(f, res.pid);
    assert_int_equal(res.pty_master, -1);
    char *out = read_all(p[0]);
    close(p[0]);
    int status = wait_pid(f, res.pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_true(memcmp(out,
                       "sleep\0"
                       "30\0\n",
                       10) == 0);
    char *rest = out + 10;
    assert_contains(rest, "pid=");
    assert_false(strstr(rest, "pid=1\n"));
    assert_contains(rest, "\n/home/app\n");
    if (cg)
        assert_contains(rest, ":pids:/\n"); /* inside the container's cgroup namespace */
    assert_contains(rest, "0\n1\n2\n");     /* and ls's own directory fd 3: nothing else */
    assert_false(strstr(rest, "\n4\n"));
    free(out);

    char *missing[] = {"nosuchtool", NULL};
    es.process.argv = missing;
    es.process.stdout_fd = es.process.stderr_fd = -1;
    assert_int_equal(crisp_container_exec(pid, &es, &res, &f->err), -ENOENT);
    assert_contains(f->err.msg, "\"nosuchtool\"");
    pid_t gone = fork(); /* a pid that no longer exists */
    if (gone == 0)
        _exit(0);
    assert_int_equal(waitpid(gone, NULL, 0), gone);
    assert_int_equal(crisp_container_exec(gone, &es, &res, &f->err), -ESRCH);
    kill_wait(f, pid);
    check_clean(f);
}

static void test_exec_with_tty(void **state)
{
    struct fixture *f = *state;
    char *argv[] = {"sleep", "30", NULL};
    set_argv(f, argv);
    int fd;
    pid_t pid = launch(f, &fd);
    close(fd);
    char *cmd[] = {"sh", "-c", "tty", NULL};
    struct crisp_exec_spec es = {
        .process = {.argv = cmd, .env = env_path(f), .tty = true},
    };
    struct crisp_exec_result res;
    expect_ok(f, crisp_container_exec(pid, &es, &res, &f->err), "exec");
    track(f, res.pid);
    assert_true(res.pty_master >= 0);
    char *out = read_all(res.pty_master);
    close(res.pty_master);
    assert_contains(out, "/dev/pts/0\r\n");
    free(out);
    wait_pid(f, res.pid);
    kill_wait(f, pid);
    check_clean(f);
}

static void test_no_fd_or_cwd_leaks_into_the_container(void **state)
{
    struct fixture *f = *state;
    int leaked = open("/", O_RDONLY | O_DIRECTORY); /* no O_CLOEXEC on purpose */
    assert_true(leaked >= 0);
    char cwd[64];
    snprintf(cwd, sizeof(cwd), "/proc/self/fd/%d", leaked); /* CVE-2024-21626 */
    f->spec.process.cwd = cwd;
    char *argv[] = {"sleep", "30", NULL};
    set_argv(f, argv);
    assert_true(crisp_container_create(&f->spec, &f->c, &f->err) < 0);
    assert_null(f->c);
    f->spec.process.cwd = NULL;
    int fd;
    pid_t pid = launch(f, &fd);
    close(fd);
    close(leaked);
    assert_int_equal(count_fds(pid), 3);
    kill_wait(f, pid);
    check_clean(f);
}

static void test_bad_overlay_reports_the_mount(void **state)
{
    struct fixture *f = *state;
    char missing[200];
    snprintf(missing, sizeof(missing), "%s/no-upper", f->dir);
    f->spec.upperdir = missing;
    char *argv[] = {"true", NULL};
    set_argv(f, argv);
    assert_true(crisp_container_create(&f->spec, &f->c, &f->err) < 0);
    assert_contains(f->err.msg, "overlay");
    assert_contains(f->err.msg, missing);
    check_clean(f);
}

static void test_exec_checks_dev_null_and_cwd(void **state)
{
    struct fixture *f = *state;
    /* the container swaps its /dev/null for a regular file, then waits */
    char *argv[] = {"sh", "-c", "rm /dev/null && echo fake > /dev/null && sleep 30", NULL};
    set_argv(f, argv);
    int fd;
    pid_t pid = launch(f, &fd);
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
    assert_int_equal(crisp_container_exec(pid, &es, &res, &f->err), -EPERM);
    assert_contains(f->err.msg, "/dev/null in the container is not the null device");
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    es.process.stdin_fd = es.process.stdout_fd = es.process.stderr_fd = p[1];
    es.process.cwd = "/no/such/dir";
    assert_int_equal(crisp_container_exec(pid, &es, &res, &f->err), -ENOENT);
    assert_contains(f->err.msg, "/no/such/dir");
    close(p[0]);
    close(p[1]);
    kill_wait(f, pid);
    check_clean(f);
}

static void test_host_pid_namespace(void **state)
{
    struct fixture *f = *state;
    f->spec.host_pid = true;
    char *argv[] = {"sh", "-c", "echo pid=$$; test -d /proc/1 && echo host-init-visible", NULL};
    set_argv(f, argv);
    int fd;
    pid_t pid = launch(f, &fd);
    char *out = read_all(fd);
    close(fd);
    char expect[32];
    snprintf(expect, sizeof(expect), "pid=%d\n", (int)pid);
    assert_contains(out, expect);
    assert_contains(out, "host-init-visible\n");
    free(out);
    assert_int_equal(wait_pid(f, pid), 0);
    check_clean(f);
}

static void test_plain_rootfs_without_layers(void **state)
{
    struct fixture *f = *state;
    char path[256];
    snprintf(path, sizeof(path), "%s/bin", f->rootfs);
    mkdirf(path);
    snprintf(path, sizeof(path), "%s/bin/busybox", f->rootfs);
    copy_file("/bin/busybox", path, 0755);
    snprintf(path, sizeof(path), "%s/bin/sh", f->rootfs);
    assert_int_equal(symlink("busybox", path), 0);
    f->spec.n_lowerdirs = 0;
    f->spec.upperdir = f->spec.workdir = NULL;
    char *argv[] = {"sh", "-c", "echo plain > /written; echo pid=$$", NULL};
    set_argv(f, argv);
    char *out = run_ok(f);
    assert_string_equal(out, "pid=1\n");
    free(out);
    assert_true(exists("%s/written", f->rootfs)); /* the rootfs itself is written */
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
    snprintf(upper, sizeof(upper), "%s/upper%d", w->f->dir, w->index);
    snprintf(work, sizeof(work), "%s/work%d", w->f->dir, w->index);
    snprintf(cmd, sizeof(cmd), "echo worker %d", w->index);
    char *argv[] = {"sh", "-c", cmd, NULL};
    struct crisp_container_spec spec = w->f->spec;
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
        snprintf(dir, sizeof(dir), "%s/upper%d", f->dir, i);
        mkdirf(dir);
        snprintf(dir, sizeof(dir), "%s/work%d", f->dir, i);
        mkdirf(dir);
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
