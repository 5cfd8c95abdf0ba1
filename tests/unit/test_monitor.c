/* crisp-monitor: the spec file, the CRI log writer, and (as root) the real binary started the
 * way crispd starts it (crisp_monitor_spawn: posix_spawn in a new session, --detach, fd 3
 * report), driven through its control socket (crisp_monitor_request), running busybox
 * containers.
 *
 * The group builds /tmp/crisp-mon-XXXXXX with a busybox lowerdir; each test gets box/tN with
 * upper, work, rootfs, host (bind source), ctr (the container dir) and logs/. This process is
 * a child subreaper, so the detached monitors (and anything they leave) become its children:
 * every test ends with check_clean (no child left) and teardown kills whatever a failed test
 * left, by pid, and removes the directory. Without root only the tests that need no
 * container run. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <regex.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "monitor/attach.h"
#include "monitor/client.h"
#include "runtime/capabilities.h"
#include "monitor/crilog.h"
#include "monitor/exit.h"
#include "monitor/spawn.h"
#include "monitor/spec.h"
#include "support_rootfs.h"

#if defined(__SANITIZE_ADDRESS__)
#define ASAN_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASAN_BUILD 1
#endif
#endif
#ifndef ASAN_BUILD
#define ASAN_BUILD 0
#endif

#define REQ_TIMEOUT_MS 5000
#define MAX_ENTRIES    64

static const char *const applets[] = {"sh",  "echo", "printf", "sleep", "head", "tr",  "cat",
                                      "tty", "true", "test",   "[",     "yes",  "stty"};

static char box[64];
static char lower[96];
static char monitor_bin[PATH_MAX];
static int test_counter;

struct fixture {
    char dir[128], upper[160], work[160], rootfs[160], host[160], ctr[160], log[192];
    char spec_path[192], exit_path[192];
    struct crisp_monitor_spec spec;
    char *lowers[1];
    char *env[2];
    struct crisp_bind_mount mounts[1];
    pid_t monitor_pid, container_pid;
    int monitor_pidfd, container_pidfd; /* for teardown: never a recycled pid */
    struct crisp_err err;
};

/* ---- helpers ---- */

/* The whole file, NUL-terminated (NULL when it does not exist). */
static char *slurp(const char *path, size_t *len_out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    for (;;) {
        if (len + 1 >= cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        assert_true(n >= 0);
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    if (len_out)
        *len_out = len;
    return buf;
}

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static void ctr_file(const struct fixture *f, const char *name, char *out, size_t size)
{
    snprintf(out, size, "%s/%s", f->ctr, name);
}

static long read_pid_file(const struct fixture *f, const char *name)
{
    char path[256];
    ctr_file(f, name, path, sizeof(path));
    char *s = slurp(path, NULL);
    if (!s)
        return -1;
    long v = strtol(s, NULL, 10);
    free(s);
    return v;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* Every child reaped, none left (monitors and containers alike end up ours: subreaper). */
static void check_clean(struct fixture *f)
{
    errno = 0;
    pid_t p = waitpid(-1, NULL, WNOHANG);
    if (p != -1 || errno != ECHILD)
        fail_msg("a process is left: waitpid -> %d (%s)", (int)p, strerror(errno));
    f->monitor_pid = f->container_pid = 0;
}

/* ---- fixtures ---- */

static int group_setup(void **state)
{
    (void)state;
    sup_busybox_box("/tmp/crisp-mon-XXXXXX", applets, sizeof(applets) / sizeof(applets[0]), box,
                    lower);
    char path[256];
    snprintf(path, sizeof(path), "%s/tmp", lower);
    sup_mkdir(path);
    /* build/tests/test_monitor -> build/crisp-monitor (CRISP_MONITOR overrides) */
    const char *env = getenv("CRISP_MONITOR");
    if (env) {
        snprintf(monitor_bin, sizeof(monitor_bin), "%s", env);
    } else {
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        assert_true(n > 0);
        self[n] = '\0';
        snprintf(monitor_bin, sizeof(monitor_bin), "%s/../crisp-monitor", dirname(self));
    }
    if (access(monitor_bin, X_OK) < 0)
        fail_msg("no crisp-monitor at %s", monitor_bin);
    /* Detached monitors are reparented to us, so that we can reap them and see leftovers. */
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    sup_remove_tree(box);
    return 0;
}

static char *sh_argv[4] = {"sh", "-c", NULL, NULL};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->monitor_pidfd = f->container_pidfd = -1;
    snprintf(f->dir, sizeof(f->dir), "%s/t%d", box, ++test_counter);
    snprintf(f->upper, sizeof(f->upper), "%s/upper", f->dir);
    snprintf(f->work, sizeof(f->work), "%s/work", f->dir);
    snprintf(f->rootfs, sizeof(f->rootfs), "%s/rootfs", f->dir);
    snprintf(f->host, sizeof(f->host), "%s/host", f->dir);
    snprintf(f->ctr, sizeof(f->ctr), "%s/ctr", f->dir);
    /* logs/ does not exist: the monitor makes it */
    snprintf(f->log, sizeof(f->log), "%s/logs/pod/ctr/0.log", f->dir);
    snprintf(f->spec_path, sizeof(f->spec_path), "%s/spec.json", f->ctr);
    snprintf(f->exit_path, sizeof(f->exit_path), "%s/exit.json", f->ctr);
    sup_mkdir(f->dir);
    sup_mkdir(f->upper);
    sup_mkdir(f->work);
    sup_mkdir(f->rootfs);
    sup_mkdir(f->host);
    sup_mkdir(f->ctr);
    f->lowers[0] = lower;
    f->env[0] = "PATH=/bin";
    f->spec = (struct crisp_monitor_spec){
        .container_id = "ctr-test",
        .lowerdirs = f->lowers,
        .n_lowerdirs = 1,
        .upperdir = f->upper,
        .workdir = f->work,
        .rootfs = f->rootfs,
        .env = f->env,
        .log_path = f->log,
    };
    *state = f;
    return 0;
}

static void kill_by_pidfd(int pidfd)
{
    if (pidfd >= 0) {
        syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
        close(pidfd);
    }
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    kill_by_pidfd(f->container_pidfd);
    kill_by_pidfd(f->monitor_pidfd);
    /* reap whatever is left (the container comes to us once its monitor is gone) */
    for (int i = 0; i < 100; i++) {
        pid_t p = waitpid(-1, NULL, WNOHANG);
        if (p < 0)
            break;
        if (p == 0)
            sleep_ms(20);
    }
    sup_remove_tree(f->dir);
    free(f);
    return 0;
}

/* ---- running the monitor ---- */

static void set_script(struct fixture *f, const char *script)
{
    sh_argv[2] = (char *)script;
    f->spec.argv = sh_argv;
}

/* Writes the spec and spawns the monitor: the spawn's return value. */
static int try_spawn(struct fixture *f)
{
    if (crisp_monitor_spec_write(f->spec_path, &f->spec, &f->err) < 0)
        fail_msg("spec write: %s", f->err.msg);
    pid_t pid = 0;
    int r = crisp_monitor_spawn(monitor_bin, f->ctr, &pid, &f->err);
    long mpid = read_pid_file(f, "monitor.pid");
    if (r == 0) {
        f->container_pid = pid;
        f->container_pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        assert_true(mpid > 0);
    }
    if (mpid > 0) {
        f->monitor_pid = (pid_t)mpid;
        f->monitor_pidfd = (int)syscall(SYS_pidfd_open, f->monitor_pid, 0);
    }
    return r;
}

static void spawn(struct fixture *f)
{
    int r = try_spawn(f);
    if (r < 0)
        fail_msg("spawn: %d (%s)", r, f->err.msg);
    assert_true(f->container_pid > 0);
    assert_int_equal(read_pid_file(f, "pid"), f->container_pid);
    /* the container is the monitor's child */
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)f->container_pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    assert_true(n > 0);
    buf[n] = '\0';
    int ppid = 0;
    assert_int_equal(sscanf(strrchr(buf, ')') + 2, "%*c %d", &ppid), 1);
    assert_int_equal(ppid, f->monitor_pid);
}

static int request(struct fixture *f, const char *cmd, char *reply, size_t size)
{
    return crisp_monitor_request(f->ctr, cmd, reply, size, REQ_TIMEOUT_MS, &f->err);
}

static void expect_reply(struct fixture *f, const char *cmd, const char *want)
{
    char reply[256];
    int r = request(f, cmd, reply, sizeof(reply));
    if (r < 0)
        fail_msg("%s: %d (%s)", cmd, r, f->err.msg);
    assert_string_equal(reply, want);
}

static void start(struct fixture *f)
{
    char reply[256];
    int r = request(f, "start", reply, sizeof(reply));
    if (r < 0)
        fail_msg("start: %d (%s)", r, f->err.msg);
    /* "ok <start time, ns since the epoch>" */
    long long started = 0;
    assert_int_equal(sscanf(reply, "ok %lld", &started), 1);
    assert_true(started > 1600000000LL * 1000000000LL);
}

/* Waits for exit.json and for the monitor to exit 0; fills *e. */
static void wait_exit(struct fixture *f, struct crisp_monitor_exit *e)
{
    for (int i = 0; i < 1000 && !exists(f->exit_path); i++)
        sleep_ms(10);
    if (!exists(f->exit_path))
        fail_msg("no exit.json after 10 s");
    if (crisp_monitor_exit_read(f->exit_path, e, &f->err) < 0)
        fail_msg("exit.json: %s", f->err.msg);
    int status;
    assert_int_equal(waitpid(f->monitor_pid, &status, 0), f->monitor_pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("monitor status 0x%x", (unsigned)status);
    char sock[256];
    ctr_file(f, "monitor.sock", sock, sizeof(sock));
    assert_false(exists(sock));
}

/* ---- the CRI log ---- */

struct entry {
    char stream[8];
    char tag;
    char *content;
    size_t len;
};

struct log {
    struct entry e[MAX_ENTRIES];
    int n;
    char *text;
};

/* Parses every line strictly; fails on a malformed one. */
static void parse_log(const char *path, struct log *lg)
{
    memset(lg, 0, sizeof(*lg));
    size_t len;
    lg->text = slurp(path, &len);
    if (!lg->text)
        fail_msg("no log file %s", path);
    regex_t re;
    assert_int_equal(regcomp(&re,
                             "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{9}Z "
                             "(stdout|stderr) ([FP]) ",
                             REG_EXTENDED),
                     0);
    char *p = lg->text;
    while (p < lg->text + len) {
        char *nl = memchr(p, '\n', (size_t)(lg->text + len - p));
        if (!nl)
            fail_msg("log line without a newline: \"%s\"", p);
        *nl = '\0';
        regmatch_t m[3];
        if (regexec(&re, p, 3, m, 0) != 0)
            fail_msg("malformed log line: \"%.100s\"", p);
        assert_true(lg->n < MAX_ENTRIES);
        struct entry *e = &lg->e[lg->n++];
        snprintf(e->stream, sizeof(e->stream), "%.*s", (int)(m[1].rm_eo - m[1].rm_so),
                 p + m[1].rm_so);
        e->tag = p[m[2].rm_so];
        e->content = p + m[0].rm_eo;
        e->len = (size_t)(nl - e->content);
        p = nl + 1;
    }
    regfree(&re);
}

/* The entries of one stream, in order, as "F:content|P:content|". */
static char *stream_summary(const struct log *lg, const char *stream)
{
    size_t cap = 1;
    for (int i = 0; i < lg->n; i++)
        cap += lg->e[i].len + 3;
    char *s = calloc(1, cap);
    assert_non_null(s);
    size_t n = 0;
    for (int i = 0; i < lg->n; i++) {
        if (strcmp(lg->e[i].stream, stream) != 0)
            continue;
        s[n++] = lg->e[i].tag;
        s[n++] = ':';
        memcpy(s + n, lg->e[i].content, lg->e[i].len);
        n += lg->e[i].len;
        s[n++] = '|';
    }
    s[n] = '\0';
    return s;
}

static void expect_stream(const struct log *lg, const char *stream, const char *want)
{
    char *got = stream_summary(lg, stream);
    if (strcmp(got, want) != 0)
        fail_msg("%s: got \"%.300s\", want \"%s\"", stream, got, want);
    free(got);
}

/* ---- tests without containers ---- */

static void test_spec_roundtrip(void **state)
{
    (void)state;
    char dir[] = "/tmp/crisp-spec-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof(path), "%s/spec.json", dir);
    char *lowers[] = {"/l/1", "/l/2"}, *cg[] = {"/sys/fs/cgroup/x/cgroup.procs"};
    char *argv[] = {"sh", "-c", "echo \"q\" \\ \xc3\xa9", NULL}, *env[] = {"A=1", "B=", NULL};
    gid_t groups[] = {10, 4294967294u};
    struct crisp_rlimit rl[] = {{RLIMIT_NOFILE, 1024, 4096}, {RLIMIT_CORE, 0, RLIM_INFINITY}};
    struct crisp_bind_mount mounts[] = {{"/src", "/dst", true, CRISP_PROP_RSLAVE},
                                        {"/s2", "/d2", false, CRISP_PROP_RSHARED}};
    char *masked[] = {"/proc/kcore", "/sys/firmware"}, *readonly[] = {"/proc/sys"};
    int caps[] = {crisp_cap_from_name("CHOWN"), crisp_cap_from_name("NET_BIND_SERVICE"),
                  crisp_cap_from_name("SYS_ADMIN")};
    const char *profile = "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": "
                          "[\"sethostname\"], \"action\": \"SCMP_ACT_ERRNO\", \"includes\": "
                          "{\"caps\": [\"CAP_SYS_ADMIN\"]}}]}";
    struct crisp_monitor_spec s = {
        .container_id = "abc",
        .lowerdirs = lowers,
        .n_lowerdirs = 2,
        .upperdir = "/u",
        .workdir = "/w",
        .rootfs = "/r",
        .readonly_rootfs = true,
        .netns = "/run/ns/net",
        .host_ipc = true,
        .pidns = "/proc/1/ns/pid",
        .hostname = "h",
        .cgroup_procs_files = cg,
        .n_cgroup_procs_files = 1,
        .mounts = mounts,
        .n_mounts = 2,
        .argv = argv,
        .env = env,
        .cwd = "/work",
        .uid = 1000,
        .gid = 1001,
        .groups = groups,
        .n_groups = 2,
        .rlimits = rl,
        .n_rlimits = 2,
        .set_oom_score_adj = true,
        .oom_score_adj = -998,
        .tty = true,
        .stdin = true,
        .stdin_once = true,
        .masked_paths = masked,
        .n_masked_paths = 2,
        .readonly_paths = readonly,
        .n_readonly_paths = 1,
        .caps = caps,
        .n_caps = 3,
        .caps_set = true,
        .no_new_privs = true,
        .seccomp_set = true,
        .seccomp = {.kind = CRISP_SECCOMP_PROFILE, .profile_json = profile},
        .log_path = "/var/log/pods/x/0.log",
        .oom_file = "/sys/fs/cgroup/x/memory.events",
        .oom_key = "oom_kill",
    };
    struct crisp_err err = {0};
    assert_int_equal(crisp_monitor_spec_write(path, &s, &err), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    struct crisp_monitor_spec r;
    if (crisp_monitor_spec_read(path, &r, &err) < 0)
        fail_msg("read: %s", err.msg);
    assert_string_equal(r.container_id, "abc");
    assert_int_equal(r.n_lowerdirs, 2);
    assert_string_equal(r.lowerdirs[1], "/l/2");
    assert_string_equal(r.upperdir, "/u");
    assert_string_equal(r.workdir, "/w");
    assert_string_equal(r.rootfs, "/r");
    assert_true(r.readonly_rootfs);
    assert_string_equal(r.netns, "/run/ns/net");
    assert_null(r.ipcns);
    assert_null(r.utsns);
    assert_string_equal(r.pidns, "/proc/1/ns/pid");
    assert_true(r.host_ipc && !r.host_net && !r.host_pid && !r.host_uts);
    assert_string_equal(r.hostname, "h");
    assert_int_equal(r.n_cgroup_procs_files, 1);
    assert_string_equal(r.cgroup_procs_files[0], cg[0]);
    assert_int_equal(r.n_mounts, 2);
    assert_string_equal(r.mounts[0].source, "/src");
    assert_string_equal(r.mounts[0].destination, "/dst");
    assert_true(r.mounts[0].readonly);
    assert_int_equal(r.mounts[0].propagation, CRISP_PROP_RSLAVE);
    assert_false(r.mounts[1].readonly);
    assert_int_equal(r.mounts[1].propagation, CRISP_PROP_RSHARED);
    assert_string_equal(r.argv[2], argv[2]);
    assert_null(r.argv[3]);
    assert_string_equal(r.env[1], "B=");
    assert_null(r.env[2]);
    assert_string_equal(r.cwd, "/work");
    assert_int_equal(r.uid, 1000);
    assert_int_equal(r.gid, 1001);
    assert_int_equal(r.n_groups, 2);
    assert_int_equal(r.groups[1], 4294967294u);
    assert_int_equal(r.n_rlimits, 2);
    assert_int_equal(r.rlimits[0].resource, RLIMIT_NOFILE);
    assert_int_equal(r.rlimits[0].soft, 1024);
    assert_int_equal(r.rlimits[0].hard, 4096);
    assert_true(r.rlimits[1].hard == RLIM_INFINITY);
    assert_true(r.set_oom_score_adj);
    assert_int_equal(r.oom_score_adj, -998);
    assert_true(r.tty && r.stdin && r.stdin_once);
    assert_string_equal(r.log_path, s.log_path);
    assert_string_equal(r.oom_file, s.oom_file);
    assert_string_equal(r.oom_key, "oom_kill");
    assert_int_equal(r.n_masked_paths, 2);
    assert_string_equal(r.masked_paths[0], "/proc/kcore");
    assert_string_equal(r.masked_paths[1], "/sys/firmware");
    assert_int_equal(r.n_readonly_paths, 1);
    assert_string_equal(r.readonly_paths[0], "/proc/sys");
    assert_true(r.caps_set);
    assert_int_equal(r.n_caps, 3);
    assert_memory_equal(r.caps, caps, sizeof(caps));
    assert_true(r.no_new_privs);
    assert_true(r.seccomp_set);
    assert_int_equal(r.seccomp.kind, CRISP_SECCOMP_PROFILE);
    assert_string_equal(r.seccomp.profile_json, profile);
    assert_ptr_not_equal(r.seccomp.profile_json, profile);
    /* names are written in full */
    char *text = slurp(path, NULL);
    assert_non_null(
        strstr(text, "\"caps\":[\"CAP_CHOWN\",\"CAP_NET_BIND_SERVICE\",\"CAP_SYS_ADMIN\"]"));
    free(text);

    /* the launcher's view points into r */
    struct crisp_container_spec cs;
    assert_int_equal(crisp_monitor_spec_to_container_spec(&r, &cs), 0);
    assert_ptr_equal(cs.lowerdirs[0], r.lowerdirs[0]);
    assert_ptr_equal(cs.mounts, r.mounts);
    assert_ptr_equal(cs.process.argv, r.argv);
    assert_ptr_equal(cs.process.rlimits, r.rlimits);
    assert_int_equal(cs.process.stdin_fd, -1);
    assert_int_equal(cs.process.stdout_fd, -1);
    assert_true(cs.process.tty);
    assert_int_equal(cs.n_mounts, 2);
    assert_ptr_equal(cs.masked_paths[1], r.masked_paths[1]);
    assert_int_equal(cs.n_masked_paths, 2);
    assert_ptr_equal(cs.readonly_paths[0], r.readonly_paths[0]);
    assert_int_equal(cs.n_readonly_paths, 1);
    assert_ptr_equal(cs.process.caps, r.caps);
    assert_int_equal(cs.process.n_caps, 3);
    assert_true(cs.process.caps_set && cs.process.no_new_privs);
    assert_ptr_equal(cs.process.seccomp, &r.seccomp);
    crisp_monitor_spec_free(&r);
    crisp_monitor_spec_free(&r); /* idempotent */

    /* a minimal spec: empty strings are absent, no oom_score_adj */
    sup_write_file(path, "{\"version\":1,\"rootfs\":\"/r\",\"netns\":\"\",\"log_path\":\"\","
                         "\"process\":{\"argv\":[\"true\"]}}");
    assert_int_equal(crisp_monitor_spec_read(path, &r, &err), 0);
    assert_null(r.netns);
    assert_null(r.log_path);
    assert_null(r.env);
    assert_false(r.set_oom_score_adj);
    assert_int_equal(r.n_lowerdirs, 0);
    assert_null(r.lowerdirs);
    /* absent security fields: the launcher's old behaviour */
    assert_false(r.caps_set);
    assert_int_equal(r.n_caps, 0);
    assert_false(r.no_new_privs);
    assert_int_equal(r.n_masked_paths, 0);
    assert_int_equal(r.n_readonly_paths, 0);
    assert_false(r.seccomp_set);
    assert_int_equal(crisp_monitor_spec_to_container_spec(&r, &cs), 0);
    assert_false(cs.process.caps_set);
    assert_int_equal(cs.n_masked_paths + cs.n_readonly_paths, 0);
    assert_null(cs.process.seccomp); /* unconfined */
    crisp_monitor_spec_free(&r);

    /* caps: [] is "none at all", null is "not set"; names as the CRI sends them */
    sup_write_file(path, "{\"version\":1,\"rootfs\":\"/r\",\"process\":{\"argv\":[\"true\"],"
                         "\"caps\":[]}}");
    assert_int_equal(crisp_monitor_spec_read(path, &r, &err), 0);
    assert_true(r.caps_set);
    assert_int_equal(r.n_caps, 0);
    crisp_monitor_spec_free(&r);
    sup_write_file(path, "{\"version\":1,\"rootfs\":\"/r\",\"process\":{\"argv\":[\"true\"],"
                         "\"caps\":null,\"no_new_privs\":null}}");
    assert_int_equal(crisp_monitor_spec_read(path, &r, &err), 0);
    assert_false(r.caps_set);
    assert_false(r.no_new_privs);
    crisp_monitor_spec_free(&r);
    sup_write_file(path, "{\"version\":1,\"rootfs\":\"/r\",\"masked_paths\":[],"
                         "\"process\":{\"argv\":[\"true\"],\"caps\":[\"kill\",\"Cap_Mknod\","
                         "\"AUDIT_WRITE\"],\"no_new_privs\":false}}");
    assert_int_equal(crisp_monitor_spec_read(path, &r, &err), 0);
    assert_true(r.caps_set);
    assert_int_equal(r.n_caps, 3);
    assert_int_equal(r.caps[0], crisp_cap_from_name("CAP_KILL"));
    assert_int_equal(r.caps[1], crisp_cap_from_name("CAP_MKNOD"));
    assert_int_equal(r.caps[2], crisp_cap_from_name("CAP_AUDIT_WRITE"));
    assert_int_equal(r.n_masked_paths, 0);
    assert_null(r.masked_paths);
    crisp_monitor_spec_free(&r);

    /* seccomp: runtime_default as written; null is unconfined; a profile as the CRI layer
     * would write it by hand */
    sup_write_file(path, "{\"version\":1,\"rootfs\":\"/r\",\"process\":{\"argv\":[\"true\"],"
                         "\"seccomp\":{\"kind\":\"runtime_default\"}}}");
    assert_int_equal(crisp_monitor_spec_read(path, &r, &err), 0);
    assert_true(r.seccomp_set);
    assert_int_equal(r.seccomp.kind, CRISP_SECCOMP_RUNTIME_DEFAULT);
    assert_null(r.seccomp.profile_json);
    assert_int_equal(crisp_monitor_spec_to_container_spec(&r, &cs), 0);
    assert_ptr_equal(cs.process.seccomp, &r.seccomp);
    crisp_monitor_spec_free(&r);
    sup_write_file(path, "{\"version\":1,\"rootfs\":\"/r\",\"process\":{\"argv\":[\"true\"],"
                         "\"seccomp\":null}}");
    assert_int_equal(crisp_monitor_spec_read(path, &r, &err), 0);
    assert_false(r.seccomp_set);
    crisp_monitor_spec_free(&r);
    sup_write_file(path, "{\"version\":1,\"rootfs\":\"/r\",\"process\":{\"argv\":[\"true\"],"
                         "\"seccomp\":{\"kind\":\"profile\",\"profile\":"
                         "\"{\\\"defaultAction\\\":\\\"SCMP_ACT_LOG\\\"}\"}}}");
    if (crisp_monitor_spec_read(path, &r, &err) < 0)
        fail_msg("read: %s", err.msg);
    assert_true(r.seccomp_set);
    assert_string_equal(r.seccomp.profile_json, "{\"defaultAction\":\"SCMP_ACT_LOG\"}");
    crisp_monitor_spec_free(&r);
    s.seccomp = (struct crisp_seccomp){.kind = CRISP_SECCOMP_RUNTIME_DEFAULT};
    assert_int_equal(crisp_monitor_spec_write(path, &s, &err), 0);
    text = slurp(path, NULL);
    assert_non_null(strstr(text, "\"seccomp\":{\"kind\":\"runtime_default\"}"));
    free(text);
    assert_int_equal(crisp_monitor_spec_read(path, &r, &err), 0);
    assert_true(r.seccomp_set);
    assert_int_equal(r.seccomp.kind, CRISP_SECCOMP_RUNTIME_DEFAULT);
    crisp_monitor_spec_free(&r);
    /* what cannot be written: a profile kind without one, RuntimeDefault with one, a kind
     * that does not exist */
    s.seccomp = (struct crisp_seccomp){.kind = CRISP_SECCOMP_PROFILE};
    assert_int_equal(crisp_monitor_spec_write(path, &s, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "seccomp"));
    s.seccomp = (struct crisp_seccomp){.kind = CRISP_SECCOMP_RUNTIME_DEFAULT, .profile_json = "{}"};
    assert_int_equal(crisp_monitor_spec_write(path, &s, &err), -EINVAL);
    s.seccomp = (struct crisp_seccomp){.kind = (enum crisp_seccomp_kind)7};
    assert_int_equal(crisp_monitor_spec_write(path, &s, &err), -EINVAL);
    /* not set: no "seccomp" key at all */
    s.seccomp_set = false;
    assert_int_equal(crisp_monitor_spec_write(path, &s, &err), 0);
    text = slurp(path, NULL);
    assert_null(strstr(text, "\"seccomp\""));
    free(text);
    assert_int_equal(crisp_monitor_spec_read(path, &r, &err), 0);
    assert_false(r.seccomp_set);
    crisp_monitor_spec_free(&r);

    /* an empty caps set is written as [] and read back as set */
    s.n_caps = 0;
    s.caps = NULL;
    s.no_new_privs = false;
    assert_int_equal(crisp_monitor_spec_write(path, &s, &err), 0);
    assert_int_equal(crisp_monitor_spec_read(path, &r, &err), 0);
    assert_true(r.caps_set);
    assert_int_equal(r.n_caps, 0);
    assert_false(r.no_new_privs);
    crisp_monitor_spec_free(&r);
    /* not set: no "caps" key at all */
    s.caps_set = false;
    assert_int_equal(crisp_monitor_spec_write(path, &s, &err), 0);
    text = slurp(path, NULL);
    assert_null(strstr(text, "\"caps\""));
    free(text);
    assert_int_equal(crisp_monitor_spec_read(path, &r, &err), 0);
    assert_false(r.caps_set);
    crisp_monitor_spec_free(&r);
    /* a number without a name cannot be written */
    int unnamed[] = {63};
    s.caps = unnamed;
    s.n_caps = 1;
    s.caps_set = true;
    assert_int_equal(crisp_monitor_spec_write(path, &s, &err), -EINVAL);
    assert_int_equal(err.code, GRPC_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(err.msg, "capability 63"));

    unlink(path);
    rmdir(dir);
}

static void expect_bad_spec(const char *path, const char *json, const char *needle)
{
    sup_write_file(path, json);
    struct crisp_monitor_spec r;
    struct crisp_err err = {0};
    int rc = crisp_monitor_spec_read(path, &r, &err);
    if (rc != -EINVAL)
        fail_msg("%s: accepted (%d)", json, rc);
    assert_int_equal(err.code, GRPC_STATUS_INVALID_ARGUMENT);
    if (!strstr(err.msg, needle))
        fail_msg("%s: message \"%s\" lacks \"%s\"", json, err.msg, needle);
}

static void test_spec_rejects_bad_input(void **state)
{
    (void)state;
    char dir[] = "/tmp/crisp-spec-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof(path), "%s/spec.json", dir);
    const char *argv = "\"process\":{\"argv\":[\"true\"]}";
    char buf[512];
#define BAD(fmt, needle)                                                                           \
    do {                                                                                           \
        snprintf(buf, sizeof(buf), fmt, argv);                                                     \
        expect_bad_spec(path, buf, needle);                                                        \
    } while (0)
    BAD("{\"rootfs\":\"/r\",%s}", "version");
    BAD("{\"version\":2,\"rootfs\":\"/r\",%s}", "version");
    BAD("{\"version\":1,%s}", "rootfs");
    BAD("{\"version\":1,\"rootfs\":\"r\",%s}", "absolute");
    BAD("{\"version\":1,\"rootfs\":\"/r\",\"log_path\":\"x.log\",%s}", "log_path");
    BAD("{\"version\":1,\"rootfs\":\"/r\",\"oom_file\":\"/x\",%s}", "oom_key");
    BAD("{\"version\":1,\"rootfs\":\"/r\",\"lowerdirs\":[\"/a\",7],%s}", "lowerdirs");
    BAD("{\"version\":1,\"rootfs\":\"/r\",\"host_net\":1,%s}", "host_net");
    BAD("{\"version\":1,\"rootfs\":\"/r\",\"mounts\":[{\"source\":\"/a\"}],%s}", "mounts");
    BAD("{\"version\":1,\"rootfs\":\"/r\",\"mounts\":[{\"source\":\"/a\",\"destination\":\"/b\","
        "\"propagation\":\"shared\"}],%s}",
        "propagation");
    BAD("{\"version\":1,\"rootfs\":\"/r\"%s}", "process");
    BAD("{\"version\":1,\"rootfs\":\"/r\",\"process\":{\"argv\":[]}%.0s}", "argv");
    BAD("{\"version\":1,\"rootfs\":\"/r\",\"process\":{\"argv\":[\"x\"],\"uid\":-1}%.0s}", "uid");
    BAD("{\"version\":1,\"rootfs\":\"/r\",\"process\":{\"argv\":[\"x\"],\"uid\":4294967295}%.0s}",
        "uid");
    BAD("{\"version\":1,\"rootfs\":\"/r\",\"process\":{\"argv\":[\"x\"],\"oom_score_adj\":1001}"
        "%.0s}",
        "oom_score_adj");
    BAD("{\"version\":1,\"rootfs\":\"/r\",\"process\":{\"argv\":[\"x\"],\"rlimits\":[{\"type\":"
        "\"RLIMIT_BOGUS\",\"soft\":1,\"hard\":1}]}%.0s}",
        "rlimits");
    BAD("{\"version\":1,\"rootfs\":\"/r\",\"process\":{\"argv\":[\"x\"],\"caps\":[\"CHOWN\","
        "\"CAP_BOGUS\"]}%.0s}",
        "unknown capability \"CAP_BOGUS\"");
    BAD("{\"version\":1,\"rootfs\":\"/r\",\"process\":{\"argv\":[\"x\"],\"caps\":[\"ALL\"]}%.0s}",
        "unknown capability \"ALL\"");
    BAD("{\"version\":1,\"rootfs\":\"/r\",\"process\":{\"argv\":[\"x\"],\"caps\":[5]}%.0s}",
        "process.caps");
    BAD("{\"version\":1,\"rootfs\":\"/r\",\"process\":{\"argv\":[\"x\"],\"caps\":\"CHOWN\"}%.0s}",
        "process.caps");
    BAD("{\"version\":1,\"rootfs\":\"/r\",\"process\":{\"argv\":[\"x\"],\"no_new_privs\":1}%.0s}",
        "no_new_privs");
    BAD("{\"version\":1,\"rootfs\":\"/r\",\"process\":{\"argv\":[\"x\"],\"seccomp\":1}%.0s}",
        "\"process.seccomp\": expected an object");
    BAD("{\"version\":1,\"rootfs\":\"/r\",\"process\":{\"argv\":[\"x\"],\"seccomp\":{}}%.0s}",
        "\"process.seccomp.kind\": expected \"runtime_default\" or \"profile\"");
    BAD("{\"version\":1,\"rootfs\":\"/r\",\"process\":{\"argv\":[\"x\"],\"seccomp\":"
        "{\"kind\":\"unconfined\"}}%.0s}",
        "process.seccomp.kind");
    BAD("{\"version\":1,\"rootfs\":\"/r\",\"process\":{\"argv\":[\"x\"],\"seccomp\":"
        "{\"kind\":\"profile\"}}%.0s}",
        "\"process.seccomp.profile\": expected the profile's JSON text");
    BAD("{\"version\":1,\"rootfs\":\"/r\",\"process\":{\"argv\":[\"x\"],\"seccomp\":"
        "{\"kind\":\"profile\",\"profile\":{}}}%.0s}",
        "process.seccomp.profile");
    BAD("{\"version\":1,\"rootfs\":\"/r\",\"process\":{\"argv\":[\"x\"],\"seccomp\":"
        "{\"kind\":\"runtime_default\",\"profile\":\"{}\"}}%.0s}",
        "\"process.seccomp.profile\": not allowed with runtime_default");
    /* the profile itself is checked when the spec is read */
    BAD("{\"version\":1,\"rootfs\":\"/r\",\"process\":{\"argv\":[\"x\"],\"seccomp\":"
        "{\"kind\":\"profile\",\"profile\":\"{\\\"defaultAction\\\":\\\"SCMP_ACT_ALLOW\\\","
        "\\\"syscalls\\\":[{\\\"names\\\":[\\\"read\\\"],\\\"action\\\":\\\"X\\\"}]}\"}}%.0s}",
        "\"process.seccomp\": seccomp profile: syscalls[0].action: unknown action \"X\"");
    BAD("{\"version\":1,\"rootfs\":\"/r\",\"process\":{\"argv\":[\"x\"],\"seccomp\":"
        "{\"kind\":\"profile\",\"profile\":\"{\"}}%.0s}",
        "seccomp profile: line 1");
    BAD("{\"version\":1,\"rootfs\":\"/r\",\"masked_paths\":[\"proc/kcore\"],%s}", "masked_paths");
    BAD("{\"version\":1,\"rootfs\":\"/r\",\"readonly_paths\":[\"\"],%s}", "readonly_paths");
    BAD("{\"version\":1,\"rootfs\":\"/r\",\"readonly_paths\":\"/proc/sys\",%s}", "readonly_paths");
    BAD("{\"version\":1,\"rootfs\":\"/r\",\"rootfs\":\"/s\",%s}", "duplicate");
    BAD("[1]%.0s", "object");
    BAD("{\"version\":1, %s", "line 1");
#undef BAD
    struct crisp_monitor_spec r;
    struct crisp_err err = {0};
    unlink(path);
    assert_int_equal(crisp_monitor_spec_read(path, &r, &err), -ENOENT);
    rmdir(dir);
}

static void test_exit_file_roundtrip(void **state)
{
    (void)state;
    char dir[] = "/tmp/crisp-exit-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof(path), "%s/exit.json", dir);
    struct crisp_monitor_exit e = {
        .exit_code = 128, .started_at = 0, .finished_at = 1700000000123456789, .oom_killed = true};
    snprintf(e.reason, sizeof(e.reason), "StartError");
    snprintf(e.message, sizeof(e.message), "exec \"x\": not found");
    struct crisp_err err = {0};
    assert_int_equal(crisp_monitor_exit_write(path, &e, &err), 0);
    char *text = slurp(path, NULL);
    assert_string_equal(text, "{\"exit_code\":128,\"signal\":0,\"started_at\":0,\"finished_at\":"
                              "1700000000123456789,\"oom_killed\":true,\"reason\":\"StartError\","
                              "\"message\":\"exec \\\"x\\\": not found\"}");
    free(text);
    struct crisp_monitor_exit r;
    assert_int_equal(crisp_monitor_exit_read(path, &r, &err), 0);
    assert_int_equal(r.exit_code, 128);
    assert_true(r.finished_at == e.finished_at);
    assert_true(r.oom_killed);
    assert_string_equal(r.reason, "StartError");
    assert_string_equal(r.message, e.message);
    unlink(path);
    assert_int_equal(crisp_monitor_exit_read(path, &r, &err), -ENOENT);
    rmdir(dir);
}

/* Feeds data to a stream in chunks of `chunk` bytes. */
static void feed(struct crisp_crilog *l, struct crisp_crilog_stream *s, const char *data,
                 size_t len, size_t chunk)
{
    while (len > 0) {
        size_t room;
        char *at = crisp_crilog_stream_room(s, &room);
        size_t n = len < room ? len : room;
        if (n > chunk)
            n = chunk;
        memcpy(at, data, n);
        crisp_crilog_stream_commit(l, s, n);
        data += n;
        len -= n;
    }
}

static void test_crilog_lines(void **state)
{
    (void)state;
    char dir[] = "/tmp/crisp-log-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[96];
    snprintf(path, sizeof(path), "%s/a/b/0.log", dir); /* parents made */
    /* exactly one line's worth + '\n'; one byte more; an empty line; a 40 KiB line; a tail */
    const size_t max = CRISP_CRILOG_MAX_LINE;
    size_t total = (max + 1) + (max + 2) + 1 + (40960 + 1) + 4;
    char *data = malloc(total), *p = data;
    assert_non_null(data);
    memset(p, 'a', max);
    p[max] = '\n';
    p += max + 1;
    memset(p, 'b', max + 1);
    p[max + 1] = '\n';
    p += max + 2;
    *p++ = '\n';
    memset(p, 'c', 40960);
    p[40960] = '\n';
    p += 40961;
    memcpy(p, "tail", 4);
    const size_t chunks[] = {1, 7, 4096, 65536};
    for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
        unlink(path);
        struct crisp_crilog l;
        struct crisp_err err = {0};
        assert_int_equal(crisp_crilog_open(&l, path, "t", &err), 0);
        static struct crisp_crilog_stream s;
        memset(&s, 0, sizeof(s));
        s.name = "stdout";
        feed(&l, &s, data, total, chunks[c]);
        crisp_crilog_stream_flush(&l, &s);
        crisp_crilog_close(&l);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0640);
        struct log lg;
        parse_log(path, &lg);
        const char tags[] = "FPFFPPFF";
        const size_t lens[] = {max, max, 1, 0, max, max, 40960 - 2 * max, 4};
        const char fill[] = "abbbcccz";
        assert_int_equal(lg.n, 8);
        for (int i = 0; i < 8; i++) {
            assert_string_equal(lg.e[i].stream, "stdout");
            assert_int_equal(lg.e[i].tag, tags[i]);
            assert_int_equal(lg.e[i].len, lens[i]);
            if (i < 7 && lens[i])
                assert_int_equal(lg.e[i].content[0], fill[i]);
        }
        assert_memory_equal(lg.e[7].content, "tail", 4);
        free(lg.text);
    }
    free(data);
    sup_remove_tree(dir);
}

/* Writes that fail (here: /dev/full) drop entries and never stall; reopen swaps the file. */
static void test_crilog_write_failure_and_reopen(void **state)
{
    (void)state;
    struct crisp_crilog l;
    struct crisp_err err = {0};
    assert_int_equal(crisp_crilog_open(&l, "/dev/full", "t", &err), 0);
    struct timespec ts = {0, 5};
    assert_int_equal(crisp_crilog_write(&l, &ts, "stdout", false, "x", 1), -ENOSPC);
    static struct crisp_crilog_stream s = {.name = "stderr"};
    char big[100000];
    memset(big, 'x', sizeof(big));
    feed(&l, &s, big, sizeof(big), 65536);
    crisp_crilog_stream_flush(&l, &s);
    assert_int_equal(crisp_crilog_reopen(&l, &err), 0);
    crisp_crilog_close(&l);

    /* no log: everything is dropped quietly */
    assert_int_equal(crisp_crilog_open(&l, NULL, "t", &err), 0);
    assert_int_equal(crisp_crilog_write(&l, &ts, "stdout", false, "x", 1), 0);
    assert_int_equal(crisp_crilog_reopen(&l, &err), 0);
    crisp_crilog_close(&l);

    /* the timestamp: UTC, 9 digits */
    char dir[] = "/tmp/crisp-log-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof(path), "%s/0.log", dir);
    assert_int_equal(crisp_crilog_open(&l, path, "t", &err), 0);
    ts = (struct timespec){1700000000, 5};
    assert_int_equal(crisp_crilog_write(&l, &ts, "stderr", true, "hi there", 8), 0);
    crisp_crilog_close(&l);
    char *text = slurp(path, NULL);
    assert_string_equal(text, "2023-11-14T22:13:20.000000005Z stderr P hi there\n");
    free(text);
    sup_remove_tree(dir);
}

/* ---- tests with a real monitor (root) ---- */

static void test_run_log_and_exit(void **state)
{
    struct fixture *f = *state;
    set_script(f, "echo hello; echo err >&2; printf partial; exit 3");
    spawn(f);
    /* fd 3 (the report pipe) is closed right after the report */
    char fd3[64];
    snprintf(fd3, sizeof(fd3), "/proc/%d/fd/3", (int)f->monitor_pid);
    for (int i = 0; i < 500 && exists(fd3); i++)
        sleep_ms(2);
    assert_false(exists(fd3));
    /* (before any request: a client's connection would be counted) the monitor's fds: stdio, the
     * pipes, log, signalfd, pidfd, socket; nothing of ours */
    char fdpath[64], target[256];
    snprintf(fdpath, sizeof(fdpath), "/proc/%d/fd", (int)f->monitor_pid);
    DIR *d = opendir(fdpath);
    assert_non_null(d);
    struct dirent *de;
    int nfds = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char link[320];
        if (snprintf(link, sizeof(link), "%s/%s", fdpath, de->d_name) >= (int)sizeof(link))
            fail_msg("fd path too long");
        ssize_t n = readlink(link, target, sizeof(target) - 1);
        assert_true(n > 0);
        target[n] = '\0';
        nfds++;
        if (atoi(de->d_name) <= 2 || strncmp(target, "pipe:", 5) == 0 ||
            strncmp(target, "socket:", 7) == 0 || strncmp(target, "anon_inode:", 11) == 0 ||
            strcmp(target, f->log) == 0)
            continue;
        fail_msg("unexpected fd %s -> %s in the monitor", de->d_name, target);
    }
    closedir(d);
    /* 0-2, stdout, stderr, log, signalfd, pidfd, the control and attach sockets, the
     * launcher's channel (until start) */
    assert_int_equal(nfds, 11);
    struct stat st;
    char sock[256];
    ctr_file(f, "monitor.sock", sock, sizeof(sock));
    assert_int_equal(stat(sock, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0600);

    expect_reply(f, "state", "created");
    start(f);
    struct crisp_monitor_exit e;
    wait_exit(f, &e);
    assert_int_equal(e.exit_code, 3);
    assert_int_equal(e.signal, 0);
    assert_false(e.oom_killed);
    assert_true(e.started_at > 0);
    assert_true(e.finished_at >= e.started_at);
    assert_string_equal(e.reason, "");

    struct log lg;
    parse_log(f->log, &lg);
    assert_int_equal(lg.n, 3);
    expect_stream(&lg, "stdout", "F:hello|F:partial|");
    expect_stream(&lg, "stderr", "F:err|");
    free(lg.text);
    assert_int_equal(stat(f->log, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
    check_clean(f);
}

static void test_long_lines_are_split(void **state)
{
    struct fixture *f = *state;
    set_script(f, "head -c 16384 /dev/zero | tr '\\0' a; echo;"
                  "head -c 40960 /dev/zero | tr '\\0' b; echo;"
                  "head -c 16385 /dev/zero | tr '\\0' c >&2");
    spawn(f);
    start(f);
    struct crisp_monitor_exit e;
    wait_exit(f, &e);
    assert_int_equal(e.exit_code, 0);
    struct log lg;
    parse_log(f->log, &lg);
    const char *want[][3] = {
        {"stdout", "F", "16384a"}, {"stdout", "P", "16384b"}, {"stdout", "P", "16384b"},
        {"stdout", "F", "8192b"},  {"stderr", "P", "16384c"}, {"stderr", "F", "1c"},
    };
    int si = 0, ei = 0;
    for (int i = 0; i < lg.n; i++) {
        int k = strcmp(lg.e[i].stream, "stdout") == 0 ? si++ : 4 + ei++;
        assert_true(k < 6);
        assert_string_equal(lg.e[i].stream, want[k][0]);
        assert_int_equal(lg.e[i].tag, want[k][1][0]);
        size_t n = strtoul(want[k][2], NULL, 10);
        assert_int_equal(lg.e[i].len, n);
        for (size_t j = 0; j < n; j++)
            if (lg.e[i].content[j] != want[k][2][strlen(want[k][2]) - 1])
                fail_msg("entry %d byte %zu is 0x%02x", i, j, (unsigned char)lg.e[i].content[j]);
    }
    assert_int_equal(si, 4);
    assert_int_equal(ei, 2);
    free(lg.text);
    check_clean(f);
}

static void test_kill_term(void **state)
{
    struct fixture *f = *state;
    /* pid 1 of a new pid namespace ignores SIGTERM without a handler: share the host's */
    f->spec.host_pid = true;
    char *argv[] = {"sleep", "100", NULL};
    f->spec.argv = argv;
    spawn(f);
    start(f);
    expect_reply(f, "state", "running");
    char reply[256];
    assert_int_equal(request(f, "kill 0", reply, sizeof(reply)), -EINVAL);
    assert_int_equal(f->err.code, GRPC_STATUS_INVALID_ARGUMENT);
    assert_int_equal(request(f, "kill 15x", reply, sizeof(reply)), -EINVAL);
    assert_int_equal(request(f, "kill 65", reply, sizeof(reply)), -EINVAL);
    expect_reply(f, "kill 15", "ok");
    struct crisp_monitor_exit e;
    wait_exit(f, &e);
    assert_int_equal(e.exit_code, 143);
    assert_int_equal(e.signal, 15);
    assert_false(e.oom_killed);
    check_clean(f);
}

/* SIGKILL through the socket, in the container's own pid namespace; the OOM counter went up. */
static void test_kill_9_and_oom(void **state)
{
    struct fixture *f = *state;
    char events[192];
    snprintf(events, sizeof(events), "%s/memory.events", f->dir);
    sup_write_file(events, "low 0\nhigh 0\nmax 2\noom 1\noom_kill 4\n");
    f->spec.oom_file = events;
    f->spec.oom_key = "oom_kill";
    char *argv[] = {"sleep", "100", NULL};
    f->spec.argv = argv;
    spawn(f);
    start(f);
    sup_write_file(events, "low 0\nhigh 0\nmax 3\noom 2\noom_kill 5\n");
    expect_reply(f, "kill 9", "ok");
    struct crisp_monitor_exit e;
    wait_exit(f, &e);
    assert_int_equal(e.exit_code, 137);
    assert_int_equal(e.signal, 9);
    assert_true(e.oom_killed);
    check_clean(f);
}

/* An unchanged counter and a normal exit: no OOM. */
static void test_no_oom(void **state)
{
    struct fixture *f = *state;
    char events[192];
    snprintf(events, sizeof(events), "%s/memory.oom_control", f->dir);
    sup_write_file(events, "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n");
    f->spec.oom_file = events;
    f->spec.oom_key = "oom_kill";
    set_script(f, "exit 0");
    spawn(f);
    start(f);
    struct crisp_monitor_exit e;
    wait_exit(f, &e);
    assert_int_equal(e.exit_code, 0);
    assert_false(e.oom_killed);
    check_clean(f);
}

static void test_sigterm_before_start(void **state)
{
    struct fixture *f = *state;
    set_script(f, "echo never");
    spawn(f);
    assert_int_equal(kill(f->monitor_pid, SIGTERM), 0);
    struct crisp_monitor_exit e;
    wait_exit(f, &e);
    assert_int_equal(e.exit_code, 137);
    assert_int_equal(e.signal, 9);
    assert_true(e.started_at == 0);
    assert_true(e.finished_at > 0);
    size_t len;
    char *log = slurp(f->log, &len);
    assert_non_null(log);
    assert_int_equal(len, 0);
    free(log);
    check_clean(f);
}

static void wait_for_text(const char *path, const char *needle)
{
    for (int i = 0; i < 500; i++) {
        char *s = slurp(path, NULL);
        bool found = s && strstr(s, needle);
        free(s);
        if (found)
            return;
        sleep_ms(10);
    }
    fail_msg("\"%s\" never appeared in %s", needle, path);
}

static void test_reopen(void **state)
{
    struct fixture *f = *state;
    f->mounts[0] = (struct crisp_bind_mount){.source = f->host, .destination = "/host"};
    f->spec.mounts = f->mounts;
    f->spec.n_mounts = 1;
    set_script(f, "echo one; while [ ! -e /host/go ]; do sleep 0.02; done; echo two");
    spawn(f);
    start(f);
    wait_for_text(f->log, "stdout F one\n");
    char rotated[256], go[192];
    snprintf(rotated, sizeof(rotated), "%s.1", f->log);
    assert_int_equal(rename(f->log, rotated), 0);
    expect_reply(f, "reopen", "ok");
    assert_true(exists(f->log));
    snprintf(go, sizeof(go), "%s/go", f->host);
    sup_write_file(go, "");
    struct crisp_monitor_exit e;
    wait_exit(f, &e);
    assert_int_equal(e.exit_code, 0);
    struct log lg;
    parse_log(rotated, &lg);
    expect_stream(&lg, "stdout", "F:one|");
    free(lg.text);
    parse_log(f->log, &lg);
    expect_stream(&lg, "stdout", "F:two|");
    free(lg.text);
    check_clean(f);
}

static void test_missing_bind_source(void **state)
{
    struct fixture *f = *state;
    f->mounts[0] =
        (struct crisp_bind_mount){.source = "/nonexistent-crisp-src", .destination = "/data"};
    f->spec.mounts = f->mounts;
    f->spec.n_mounts = 1;
    set_script(f, "true");
    int r = try_spawn(f);
    assert_true(r < 0);
    assert_int_equal(f->err.code, GRPC_STATUS_NOT_FOUND);
    if (!strstr(f->err.msg, "/nonexistent-crisp-src"))
        fail_msg("message: %s", f->err.msg);
    /* the monitor exits 1 and leaves nothing behind */
    if (f->monitor_pid <= 0) { /* monitor.pid is removed on failure: find our child */
        int status;
        pid_t p = waitpid(-1, &status, 0);
        assert_true(p > 0);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 1);
    }
    char path[256];
    const char *gone[] = {"pid", "monitor.pid", "monitor.sock", "exit.json"};
    for (size_t i = 0; i < 4; i++) {
        ctr_file(f, gone[i], path, sizeof(path));
        if (exists(path))
            fail_msg("%s left behind", gone[i]);
    }
    check_clean(f);
}

static void test_missing_binary(void **state)
{
    struct fixture *f = *state;
    char *argv[] = {"/bin/no-such-binary", NULL};
    f->spec.argv = argv;
    spawn(f);
    char reply[256];
    int r = request(f, "start", reply, sizeof(reply));
    assert_true(r < 0);
    assert_int_equal(f->err.code, GRPC_STATUS_FAILED_PRECONDITION);
    if (!strstr(f->err.msg, "no-such-binary"))
        fail_msg("message: %s", f->err.msg);
    /* exit.json was written before the reply */
    assert_true(exists(f->exit_path));
    struct crisp_monitor_exit e;
    wait_exit(f, &e);
    assert_int_equal(e.exit_code, 128);
    assert_string_equal(e.reason, "StartError");
    assert_true(strstr(e.message, "no-such-binary") != NULL);
    assert_true(e.started_at == 0);
    check_clean(f);
}

/* A spec the monitor cannot read: the error comes back through the spawn. */
static void test_bad_spec_file(void **state)
{
    struct fixture *f = *state;
    set_script(f, "true");
    f->spec.log_path = NULL;
    assert_int_equal(crisp_monitor_spec_write(f->spec_path, &f->spec, &f->err), 0);
    sup_write_file(f->spec_path, "{\"version\":1}");
    pid_t pid;
    int r = crisp_monitor_spawn(monitor_bin, f->ctr, &pid, &f->err);
    assert_true(r < 0);
    assert_int_equal(f->err.code, GRPC_STATUS_INVALID_ARGUMENT);
    assert_true(strstr(f->err.msg, "rootfs") != NULL);
    int status;
    assert_true(waitpid(-1, &status, 0) > 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 1);
    /* a missing monitor binary */
    r = crisp_monitor_spawn("/nonexistent/crisp-monitor", f->ctr, &pid, &f->err);
    assert_true(r < 0);
    assert_true(strstr(f->err.msg, "/nonexistent/crisp-monitor") != NULL);
    check_clean(f);
}

static int raw_connect(struct fixture *f)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (snprintf(a.sun_path, sizeof(a.sun_path), "%s/monitor.sock", f->ctr) >=
        (int)sizeof(a.sun_path))
        fail_msg("socket path too long");
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

/* Garbage, overlong lines, abrupt disconnects and idle clients never hurt the monitor. */
static void test_hostile_clients(void **state)
{
    struct fixture *f = *state;
    char *argv[] = {"sleep", "100", NULL};
    f->spec.argv = argv;
    f->spec.log_path = NULL; /* no log at all */
    spawn(f);
    char reply[256];
    assert_int_equal(request(f, "bogus\x01", reply, sizeof(reply)), -EINVAL);
    assert_int_equal(f->err.code, GRPC_STATUS_INVALID_ARGUMENT);
    assert_true(strstr(f->err.msg, "unknown command \"bogus?\"") != NULL);
    assert_string_equal(reply, "error 3 unknown command \"bogus?\"");

    /* pipelined requests on one connection, CRLF tolerated */
    int fd = raw_connect(f);
    const char *two = "state\r\nstate\n";
    assert_int_equal(write(fd, two, strlen(two)), (ssize_t)strlen(two));
    char buf[256] = {0};
    size_t got = 0;
    while (got < strlen("created\ncreated\n")) {
        ssize_t n = read(fd, buf + got, sizeof(buf) - 1 - got);
        assert_true(n > 0);
        got += (size_t)n;
    }
    assert_string_equal(buf, "created\ncreated\n");
    close(fd);

    /* an overlong line: an error, then the connection is closed */
    fd = raw_connect(f);
    char junk[600];
    memset(junk, 'x', sizeof(junk));
    assert_int_equal(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
    memset(buf, 0, sizeof(buf));
    got = 0;
    for (;;) {
        ssize_t n = read(fd, buf + got, sizeof(buf) - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    assert_string_equal(buf, "error 3 command too long\n");
    close(fd);

    /* half a line, then gone; a request whose reply is never read */
    fd = raw_connect(f);
    assert_int_equal(write(fd, "sta", 3), 3);
    close(fd);
    fd = raw_connect(f);
    assert_int_equal(write(fd, "state\n", 6), 6);
    close(fd);

    /* more idle clients than slots: the oldest are dropped, requests still work */
    int idle[20];
    for (int i = 0; i < 20; i++)
        idle[i] = raw_connect(f);
    expect_reply(f, "state", "created");
    for (int i = 0; i < 20; i++)
        close(idle[i]);

    start(f);
    expect_reply(f, "state", "running");
    assert_int_equal(request(f, "start", reply, sizeof(reply)), -EPERM);
    assert_int_equal(f->err.code, GRPC_STATUS_FAILED_PRECONDITION);
    expect_reply(f, "reopen", "ok"); /* no log: nothing to do */
    expect_reply(f, "kill 9", "ok");
    struct crisp_monitor_exit e;
    wait_exit(f, &e);
    assert_int_equal(e.exit_code, 137);
    /* the monitor is gone: requests fail cleanly */
    int r = request(f, "state", reply, sizeof(reply));
    assert_true(r == -ENOENT || r == -ECONNREFUSED);
    assert_int_equal(f->err.code, GRPC_STATUS_UNAVAILABLE);
    check_clean(f);
}

/* A log that cannot be written (disk full) never blocks the container. */
static void test_log_disk_full(void **state)
{
    struct fixture *f = *state;
    f->spec.log_path = "/dev/full";
    set_script(f, "head -c 2000000 /dev/zero | tr '\\0' 'x'; yes | head -n 100000; echo done");
    spawn(f);
    start(f);
    struct crisp_monitor_exit e;
    wait_exit(f, &e);
    assert_int_equal(e.exit_code, 0);
    check_clean(f);
}

/* ---- attach ---- */

/* What one attach client received. */
struct attached {
    int fd;
    char *out[2]; /* stdout, stderr: NUL-terminated */
    size_t len[2], cap[2];
    bool exited, eof;
    int32_t exit_code;
};

static void attach(struct fixture *f, struct attached *a, bool announce_stdin)
{
    memset(a, 0, sizeof(*a));
    a->fd = crisp_monitor_attach_connect(f->ctr, &f->err);
    if (a->fd < 0)
        fail_msg("attach: %s", f->err.msg);
    for (int i = 0; i < 2; i++) {
        a->out[i] = calloc(1, 1);
        assert_non_null(a->out[i]);
        a->cap[i] = 1;
    }
    if (announce_stdin)
        assert_int_equal(crisp_attach_send(a->fd, CRISP_ATTACH_STDIN, NULL, 0, &f->err), 0);
}

static void attach_send(struct attached *a, enum crisp_attach_kind kind, const void *buf,
                        size_t len)
{
    struct crisp_err err;
    if (crisp_attach_send(a->fd, kind, buf, len, &err) < 0)
        fail_msg("attach send: %s", err.msg);
}

/* Receives one record (10 s at most); false at EOF. */
static bool attach_recv_one(struct attached *a)
{
    static char buf[CRISP_ATTACH_PAYLOAD_MAX];
    struct pollfd p = {.fd = a->fd, .events = POLLIN};
    if (poll(&p, 1, 10000) != 1)
        fail_msg("attach: nothing received in 10 s");
    enum crisp_attach_kind kind;
    struct crisp_err err;
    ssize_t n = crisp_attach_recv(a->fd, &kind, buf, sizeof(buf), &err);
    if (n < 0)
        fail_msg("attach recv: %s", err.msg);
    if (n == 0) {
        a->eof = true;
        return false;
    }
    if (a->exited)
        fail_msg("attach: a record (kind %d) after EXIT", (int)kind);
    if (kind == CRISP_ATTACH_EXIT) {
        assert_int_equal(n, sizeof(int32_t));
        memcpy(&a->exit_code, buf, sizeof(int32_t));
        a->exited = true;
        return true;
    }
    if (kind != CRISP_ATTACH_STDOUT && kind != CRISP_ATTACH_STDERR)
        fail_msg("attach: unexpected record kind %d", (int)kind);
    int i = kind == CRISP_ATTACH_STDOUT ? 0 : 1;
    if (a->len[i] + (size_t)n + 1 > a->cap[i]) { /* doubling: a client must keep up */
        a->cap[i] = 2 * (a->len[i] + (size_t)n + 1);
        a->out[i] = realloc(a->out[i], a->cap[i]);
        assert_non_null(a->out[i]);
    }
    memcpy(a->out[i] + a->len[i], buf, (size_t)n);
    a->len[i] += (size_t)n;
    a->out[i][a->len[i]] = '\0';
    return true;
}

/* Receives until want is in the client's stdout. */
static void attach_until(struct attached *a, const char *want)
{
    while (!strstr(a->out[0], want))
        if (!attach_recv_one(a))
            fail_msg("attach: EOF before \"%s\" (stdout so far \"%.200s\")", want, a->out[0]);
}

/* Receives everything up to EOF. */
static void attach_to_eof(struct attached *a)
{
    while (attach_recv_one(a))
        ;
}

static void attach_close(struct attached *a)
{
    if (a->fd >= 0)
        close(a->fd);
    a->fd = -1;
    free(a->out[0]);
    free(a->out[1]);
    a->out[0] = a->out[1] = NULL;
}

static void test_tty(void **state)
{
    struct fixture *f = *state;
    set_script(f, "echo out; echo err >&2; tty");
    f->spec.tty = true;
    f->spec.stdin = true;
    spawn(f);
    start(f);
    struct crisp_monitor_exit e;
    wait_exit(f, &e);
    assert_int_equal(e.exit_code, 0);
    struct log lg;
    parse_log(f->log, &lg);
    /* one stream, "stdout"; the pty turns \n into \r\n */
    expect_stream(&lg, "stderr", "");
    expect_stream(&lg, "stdout", "F:out\r|F:err\r|F:/dev/pts/0\r|");
    free(lg.text);
    check_clean(f);
}

/* A "Name:  N kB" field of /proc/<pid>/status. */
static long status_kb(pid_t pid, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *fp = fopen(path, "re");
    assert_non_null(fp);
    long kb = -1;
    size_t flen = strlen(field);
    while (fgets(line, sizeof(line), fp))
        if (strncmp(line, field, flen) == 0 && line[flen] == ':')
            kb = strtol(line + flen + 1, NULL, 10);
    fclose(fp);
    assert_true(kb >= 0);
    return kb;
}

/* The monitor's resident memory while its container runs and logs. */
static void test_monitor_rss(void **state)
{
    struct fixture *f = *state;
    f->spec.stdin = true;
    set_script(f, "i=0; while [ $i -lt 2000 ]; do echo line $i; i=$((i+1)); done; "
                  "head -c 100000 /dev/zero | tr '\\0' r; sleep 100");
    spawn(f);
    long created = status_kb(f->monitor_pid, "VmRSS");
    struct attached a; /* with an attach client reading along */
    attach(f, &a, true);
    start(f);
    wait_for_text(f->log, "stdout P rrrr");
    attach_until(&a, "rrrrrrrrrrrrrrrr");
    sleep_ms(100);
    long running = status_kb(f->monitor_pid, "VmRSS");
    print_message("crisp-monitor VmRSS: %ld kB after create, %ld kB running after ~130 KB of "
                  "output (RssAnon %ld kB, RssFile %ld kB)%s\n",
                  created, running, status_kb(f->monitor_pid, "RssAnon"),
                  status_kb(f->monitor_pid, "RssFile"),
                  ASAN_BUILD ? " (ASan build: not checked)" : "");
    if (!ASAN_BUILD && (created >= 1024 || running >= 1024))
        fail_msg("crisp-monitor uses %ld kB (> 1 MiB)", running > created ? running : created);
    expect_reply(f, "kill 9", "ok");
    attach_to_eof(&a);
    assert_int_equal(a.exit_code, 137);
    attach_close(&a);
    struct crisp_monitor_exit e;
    wait_exit(f, &e);
    assert_int_equal(e.exit_code, 137);
    check_clean(f);
}

/* stdin goes to the container; its output comes back; stdin_once: the client's STDIN_CLOSE is
 * the container's EOF; EXIT carries the code; the log is the same as without a client. */
static void test_attach_stdin_echo_and_exit(void **state)
{
    struct fixture *f = *state;
    set_script(f, "cat; echo bye >&2; exit 5");
    f->spec.stdin = true;
    f->spec.stdin_once = true;
    spawn(f);
    struct attached a;
    attach(f, &a, true);
    start(f);
    attach_send(&a, CRISP_ATTACH_STDIN, "hello\n", 6);
    attach_until(&a, "hello\n");
    attach_send(&a, CRISP_ATTACH_STDIN, "world\n", 6);
    attach_send(&a, CRISP_ATTACH_STDIN_CLOSE, NULL, 0);
    attach_to_eof(&a);
    assert_string_equal(a.out[0], "hello\nworld\n");
    assert_string_equal(a.out[1], "bye\n");
    assert_true(a.exited);
    assert_int_equal(a.exit_code, 5);
    attach_close(&a);
    struct crisp_monitor_exit e;
    wait_exit(f, &e);
    assert_int_equal(e.exit_code, 5);
    char sock[256];
    ctr_file(f, CRISP_ATTACH_SOCK_NAME, sock, sizeof(sock));
    assert_false(exists(sock));
    struct log lg;
    parse_log(f->log, &lg);
    expect_stream(&lg, "stdout", "F:hello|F:world|");
    expect_stream(&lg, "stderr", "F:bye|");
    free(lg.text);
    check_clean(f);
}

/* A tty: RESIZE sets the pty's size (stty size sees it), output is one stream. */
static void test_attach_tty_resize(void **state)
{
    struct fixture *f = *state;
    set_script(f, "read x; stty size; echo err >&2; exit 4");
    f->spec.tty = true;
    f->spec.stdin = true;
    spawn(f);
    struct attached a;
    attach(f, &a, true);
    start(f);
    uint16_t size[2] = {123, 45}; /* width, height */
    attach_send(&a, CRISP_ATTACH_RESIZE, size, sizeof(size));
    attach_send(&a, CRISP_ATTACH_STDIN, "go\n", 3);
    attach_to_eof(&a);
    if (!strstr(a.out[0], "45 123\r\n") || !strstr(a.out[0], "err\r\n"))
        fail_msg("tty output \"%s\"", a.out[0]);
    assert_int_equal(a.len[1], 0);
    assert_true(a.exited);
    assert_int_equal(a.exit_code, 4);
    attach_close(&a);
    struct crisp_monitor_exit e;
    wait_exit(f, &e);
    struct log lg;
    parse_log(f->log, &lg);
    expect_stream(&lg, "stdout", "F:go\r|F:45 123\r|F:err\r|");
    free(lg.text);
    check_clean(f);
}

/* Several clients see the same output; stdin from any of them goes in; a client without stdin
 * leaving does not end the stdin, the first stdin client leaving does (stdin_once); a client
 * sending garbage is dropped alone. */
static void test_attach_two_clients_stdin_once(void **state)
{
    struct fixture *f = *state;
    set_script(f, "cat; echo done");
    f->spec.stdin = true;
    f->spec.stdin_once = true;
    spawn(f);
    struct attached a, b, c, d;
    attach(f, &a, true);
    attach(f, &b, false);
    attach(f, &c, false);
    attach(f, &d, false);
    start(f);
    attach_close(&c);
    attach_send(&d, (enum crisp_attach_kind)9, "x", 1);
    attach_to_eof(&d);
    assert_false(d.exited);
    attach_close(&d);
    attach_send(&a, CRISP_ATTACH_STDIN, "one\n", 4);
    attach_until(&a, "one\n");
    attach_until(&b, "one\n");
    attach_send(&b, CRISP_ATTACH_STDIN, "two\n", 4);
    attach_until(&a, "two\n");
    attach_close(&a); /* the first stdin client goes: cat gets EOF */
    attach_to_eof(&b);
    assert_string_equal(b.out[0], "one\ntwo\ndone\n");
    assert_true(b.exited);
    assert_int_equal(b.exit_code, 0);
    attach_close(&b);
    struct crisp_monitor_exit e;
    wait_exit(f, &e);
    struct log lg;
    parse_log(f->log, &lg);
    expect_stream(&lg, "stdout", "F:one|F:two|F:done|");
    free(lg.text);
    check_clean(f);
}

#define FLOOD_BYTES 6000000

/* A client that does not read is dropped once its buffer is full; the container, the log and
 * a client that reads get everything. */
static void test_attach_slow_client_dropped(void **state)
{
    struct fixture *f = *state;
    /* 6 MB in 200 bursts: far more than the slow client's socket buffer, while a reader
     * that a loaded machine schedules late still keeps up (the monitor drops any client
     * that falls ~2 MiB behind). */
    set_script(f, "i=0; while [ $i -lt 200 ]; do head -c 30000 /dev/zero | tr '\\0' a; "
                  "i=$((i+1)); done; echo; echo end");
    spawn(f);
    struct attached slow, fast;
    attach(f, &slow, false);
    attach(f, &fast, false);
    start(f);
    attach_to_eof(&fast);
    assert_true(fast.exited);
    assert_int_equal(fast.exit_code, 0);
    assert_int_equal(fast.len[0], FLOOD_BYTES + strlen("\nend\n"));
    assert_string_equal(fast.out[0] + FLOOD_BYTES, "\nend\n");
    attach_to_eof(&slow);
    assert_false(slow.exited);
    assert_true(slow.len[0] < FLOOD_BYTES);
    print_message("the slow client got %zu of %d bytes before it was dropped\n", slow.len[0],
                  FLOOD_BYTES);
    attach_close(&slow);
    attach_close(&fast);
    struct crisp_monitor_exit e;
    wait_exit(f, &e);
    assert_int_equal(e.exit_code, 0);
    /* the log holds every byte, in 16 KiB P entries */
    size_t len, as = 0, entries = 0;
    char *text = slurp(f->log, &len);
    assert_non_null(text);
    for (size_t i = 0; i < len; i++) {
        as += text[i] == 'a';
        entries += text[i] == '\n';
    }
    assert_int_equal(as, FLOOD_BYTES);
    assert_int_equal(entries,
                     (FLOOD_BYTES + CRISP_CRILOG_MAX_LINE - 1) / CRISP_CRILOG_MAX_LINE + 1);
    assert_non_null(strstr(text, " stdout F end\n"));
    free(text);
    check_clean(f);
}

/* The container dir path may be longer than sun_path allows. */
static void test_long_dir_path(void **state)
{
    struct fixture *f = *state;
    char longdir[160];
    int n =
        snprintf(longdir, sizeof(longdir), "%s/%s", f->dir,
                 "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
                 "cccccccccccccccccccccc");
    assert_true(n < (int)sizeof(longdir));
    assert_true(strlen(longdir) + strlen("/monitor.sock") >=
                sizeof(((struct sockaddr_un *)0)->sun_path));
    sup_mkdir(longdir);
    snprintf(f->ctr, sizeof(f->ctr), "%s", longdir);
    snprintf(f->spec_path, sizeof(f->spec_path), "%s/spec.json", f->ctr);
    snprintf(f->exit_path, sizeof(f->exit_path), "%s/exit.json", f->ctr);
    set_script(f, "exit 7");
    spawn(f);
    expect_reply(f, "state", "created");
    struct attached a; /* the attach socket too is reached through the dir's fd */
    attach(f, &a, false);
    start(f);
    attach_to_eof(&a);
    assert_true(a.exited);
    assert_int_equal(a.exit_code, 7);
    attach_close(&a);
    struct crisp_monitor_exit e;
    wait_exit(f, &e);
    assert_int_equal(e.exit_code, 7);
    check_clean(f);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest plain[] = {
        cmocka_unit_test(test_spec_roundtrip),
        cmocka_unit_test(test_spec_rejects_bad_input),
        cmocka_unit_test(test_exit_file_roundtrip),
        cmocka_unit_test(test_crilog_lines),
        cmocka_unit_test(test_crilog_write_failure_and_reopen),
    };
    int failed = cmocka_run_group_tests_name("monitor_files", plain, NULL, NULL);
    if (geteuid() != 0) {
        printf("test_monitor: containers SKIPPED: needs root (namespaces, mounts)\n");
        return failed;
    }
    alarm(120); /* a hung monitor must not hang the suite */
    const struct CMUnitTest tests[] = {
        T(test_run_log_and_exit),
        T(test_long_lines_are_split),
        T(test_kill_term),
        T(test_kill_9_and_oom),
        T(test_no_oom),
        T(test_sigterm_before_start),
        T(test_reopen),
        T(test_missing_bind_source),
        T(test_missing_binary),
        T(test_bad_spec_file),
        T(test_hostile_clients),
        T(test_log_disk_full),
        T(test_tty),
        T(test_monitor_rss),
        T(test_long_dir_path),
        T(test_attach_stdin_echo_and_exit),
        T(test_attach_tty_resize),
        T(test_attach_two_clients_stdin_once),
        T(test_attach_slow_client_dropped),
    };
    return failed | cmocka_run_group_tests_name("monitor", tests, group_setup, group_teardown);
}
