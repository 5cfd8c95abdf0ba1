/* `crispd check` (pkg/check): every check against fake proc, cgroup, CNI and
 * directory trees built in a temp dir, with the report captured in memory. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cmocka.h>

#include "check/check.h"

struct fixture {
    char dir[64];
    struct crisp_check_paths paths;
    struct crisp_check_report rep;
    char *out;
    size_t out_len;
    char proc[128], cgroup[128], modules[128], systemd_run[128], cni_conf[128], cni_bin[128];
    char root[128], state[128], listen[128];
};

/* ---- helpers ---- */

static void pathf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void pathf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < size);
}

static void mkdirs(const char *path)
{
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(buf, 0755);
            *p = '/';
        }
    }
    if (mkdir(buf, 0755) < 0 && errno != EEXIST)
        fail_msg("mkdir %s: %s", buf, strerror(errno));
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s", path);
    *strrchr(dir, '/') = '\0';
    mkdirs(dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

static void writef(struct fixture *f, const char *rel, const char *text)
{
    char path[512];
    pathf(path, sizeof(path), "%s/%s", f->dir, rel);
    write_file(path, text, 0644);
}

static void assert_contains(const char *haystack, const char *needle)
{
    if (!strstr(haystack, needle))
        fail_msg("output does not contain \"%s\":\n%s", needle, haystack);
}

static void assert_not_contains(const char *haystack, const char *needle)
{
    if (strstr(haystack, needle))
        fail_msg("output contains \"%s\":\n%s", needle, haystack);
}

/* The report so far, as a string. */
static const char *output(struct fixture *f)
{
    fflush(f->rep.out);
    return f->out;
}

static const char v1_mountinfo[] =
    "25 30 0:23 / /sys rw,nosuid shared:7 - sysfs sysfs rw\n"
    "33 25 0:28 / /sys/fs/cgroup ro shared:9 - tmpfs tmpfs ro,mode=755\n"
    "35 33 0:30 / /sys/fs/cgroup/unified rw shared:11 - cgroup2 cgroup2 rw\n"
    "36 33 0:31 / /sys/fs/cgroup/cpu,cpuacct rw shared:12 - cgroup cgroup rw,cpu,cpuacct\n"
    "37 33 0:32 / /sys/fs/cgroup/memory rw shared:13 - cgroup cgroup rw,memory\n"
    "38 33 0:33 / /sys/fs/cgroup/pids rw shared:14 - cgroup cgroup rw,pids\n"
    "39 33 0:34 / /sys/fs/cgroup/cpuset rw shared:15 - cgroup cgroup rw,cpuset\n"
    "40 33 0:35 / /sys/fs/cgroup/devices rw shared:16 - cgroup cgroup rw,devices\n"
    "41 33 0:36 / /sys/fs/cgroup/freezer rw shared:17 - cgroup cgroup rw,freezer\n";

/* A healthy fake node: overlay, every namespace, seccomp, cgroup v1, a CNI
 * conflist and its plugins, nothing at root/state/listen yet. */
static void make_good_node(struct fixture *f)
{
    writef(f, "proc/filesystems", "nodev\tsysfs\nnodev\ttmpfs\n\text4\nnodev\toverlay\n");
    static const char *const ns[] = {"net", "ipc", "uts", "pid", "mnt", "cgroup"};
    for (size_t i = 0; i < 6; i++) {
        char rel[64];
        pathf(rel, sizeof(rel), "proc/self/ns/%s", ns[i]);
        writef(f, rel, "");
    }
    writef(f, "proc/self/status", "Name:\tcrispd\nNoNewPrivs:\t0\nSeccomp:\t0\n");
    writef(f, "proc/self/mountinfo", v1_mountinfo);
    mkdirs(f->cgroup);
    writef(f, "cni/net.d/10-bridge.conflist",
           "{\"cniVersion\":\"1.0.0\",\"name\":\"crisp\",\"plugins\":["
           "{\"type\":\"bridge\",\"ipam\":{\"type\":\"host-local\"}},{\"type\":\"portmap\"}]}");
    static const char *const plugins[] = {"bridge", "host-local", "portmap", "loopback"};
    for (size_t i = 0; i < 4; i++) {
        char path[512];
        pathf(path, sizeof(path), "%s/%s", f->cni_bin, plugins[i]);
        write_file(path, "#!/bin/sh\n", 0755);
    }
}

/* ---- fixture ---- */

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    strcpy(f->dir, "/tmp/crisp-test-check-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    pathf(f->proc, sizeof(f->proc), "%s/proc", f->dir);
    pathf(f->cgroup, sizeof(f->cgroup), "%s/cgroup", f->dir);
    pathf(f->modules, sizeof(f->modules), "%s/modules", f->dir);
    pathf(f->systemd_run, sizeof(f->systemd_run), "%s/run/systemd/system", f->dir);
    pathf(f->cni_conf, sizeof(f->cni_conf), "%s/cni/net.d", f->dir);
    pathf(f->cni_bin, sizeof(f->cni_bin), "%s/cni/bin", f->dir);
    pathf(f->root, sizeof(f->root), "%s/var/lib/crisp", f->dir);
    pathf(f->state, sizeof(f->state), "%s/run/crisp", f->dir);
    pathf(f->listen, sizeof(f->listen), "%s/run/crisp/crisp.sock", f->dir);
    f->paths = (struct crisp_check_paths){
        .proc = f->proc,
        .cgroup = f->cgroup,
        .modules = f->modules,
        .systemd_run = f->systemd_run,
        .cni_conf_dir = f->cni_conf,
        .cni_bin_dirs = {f->cni_bin},
        .n_cni_bin_dirs = 1,
        .root = f->root,
        .state = f->state,
        .listen = f->listen,
        .cgroup_driver = CRISP_CGROUP_DRIVER_CGROUPFS,
    };
    f->rep.out = open_memstream(&f->out, &f->out_len);
    assert_non_null(f->rep.out);
    *state = f;
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    fclose(f->rep.out);
    free(f->out);
    nftw(f->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* ---- the whole run ---- */

static void test_healthy_fake_node_passes(void **state)
{
    struct fixture *f = *state;
    make_good_node(f);
    int missing = crisp_check_run(&f->paths, f->rep.out);
    const char *out = output(f);
    if (missing)
        fail_msg("%d missing:\n%s", missing, out);
    assert_not_contains(out, "MISSING");
    assert_contains(out, "checks passed");
    assert_contains(out, "ok       kernel: overlayfs");
    assert_contains(out, "ok       cni: plugin host-local");
}

static void test_missing_overlay_and_cni_dir_are_reported_with_fixes(void **state)
{
    struct fixture *f = *state;
    make_good_node(f);
    writef(f, "proc/filesystems", "nodev\tsysfs\n\text4\nnodev\toverlayfs-not-really\n");
    f->paths.cni_conf_dir = "/nonexistent/cni/net.d";
    int missing = crisp_check_run(&f->paths, f->rep.out);
    const char *out = output(f);
    assert_int_equal(missing, 2);
    assert_contains(out, "MISSING  kernel: overlayfs: overlay is not listed in");
    assert_contains(out, "fix: load it with 'modprobe overlay'");
    assert_contains(out, "MISSING  cni: config dir: /nonexistent/cni/net.d: No such file");
    assert_contains(out, "mkdir -p /nonexistent/cni/net.d");
    assert_contains(out, "2 of ");
}

/* ---- kernel ---- */

static void test_overlay_as_module_is_ok(void **state)
{
    struct fixture *f = *state;
    writef(f, "proc/filesystems", "nodev\tsysfs\n\text4\n");
    struct utsname u;
    assert_int_equal(uname(&u), 0);
    char rel[256];
    pathf(rel, sizeof(rel), "modules/%s/modules.dep", u.release);
    writef(f, rel, "kernel/fs/overlayfs/overlay.ko.xz:\n");
    crisp_check_overlay(&f->paths, &f->rep);
    assert_contains(output(f), "ok       kernel: overlayfs: the overlay module is available");
    assert_int_equal(f->rep.n_missing, 0);
}

static void test_unreadable_proc_is_missing(void **state)
{
    struct fixture *f = *state;
    crisp_check_overlay(&f->paths, &f->rep);
    crisp_check_seccomp(&f->paths, &f->rep);
    assert_int_equal(f->rep.n_missing, 2);
    assert_contains(output(f), "cannot tell: open ");
}

static void test_missing_namespace_is_named(void **state)
{
    struct fixture *f = *state;
    make_good_node(f);
    char path[256];
    pathf(path, sizeof(path), "%s/self/ns/pid", f->proc);
    assert_int_equal(unlink(path), 0);
    pathf(path, sizeof(path), "%s/self/ns/cgroup", f->proc);
    assert_int_equal(unlink(path), 0);
    crisp_check_namespaces(&f->paths, &f->rep);
    assert_contains(output(f), "MISSING  kernel: namespaces: missing: pid cgroup");
    assert_contains(output(f), "CONFIG_PID_NS CONFIG_CGROUPS");
}

static void test_seccomp_field_missing(void **state)
{
    struct fixture *f = *state;
    writef(f, "proc/self/status", "Name:\tcrispd\nNoNewPrivs:\t0\n");
    crisp_check_seccomp(&f->paths, &f->rep);
    assert_contains(output(f), "MISSING  kernel: seccomp:");
    assert_contains(output(f), "CONFIG_SECCOMP");
    crisp_check_openat2(&f->rep); /* this machine has it */
    assert_contains(output(f), "ok       kernel: openat2");
}

/* ---- cgroups ---- */

static void test_cgroup_v1_missing_pids(void **state)
{
    struct fixture *f = *state;
    make_good_node(f);
    writef(f, "proc/self/mountinfo",
           "36 33 0:31 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
           "37 33 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
           "38 33 0:33 / /sys/fs/cgroup/pidsish rw - cgroup cgroup rw,cpuset,devices,freezer\n");
    crisp_check_cgroups(&f->paths, &f->rep);
    assert_contains(output(f), "MISSING  cgroups: v1 controllers not mounted: pids");
    assert_contains(output(f), "mount -t cgroup -o <name>");
}

static void test_cgroup_v2(void **state)
{
    struct fixture *f = *state;
    make_good_node(f);
    writef(f, "cgroup/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
    crisp_check_cgroups(&f->paths, &f->rep);
    assert_contains(output(f), "ok       cgroups: v2");
    writef(f, "cgroup/cgroup.controllers", "cpu io pids\n");
    crisp_check_cgroups(&f->paths, &f->rep);
    assert_contains(output(f), "MISSING  cgroups: v2 hierarchy without: cpuset memory");
}

static void test_no_cgroups_at_all(void **state)
{
    struct fixture *f = *state;
    make_good_node(f);
    writef(f, "proc/self/mountinfo", "25 30 0:23 / /sys rw,nosuid shared:7 - sysfs sysfs rw\n");
    crisp_check_cgroups(&f->paths, &f->rep);
    assert_contains(output(f), "MISSING  cgroups: no cgroup v2 hierarchy");
}

static void test_systemd_driver_is_refused(void **state)
{
    struct fixture *f = *state;
    crisp_check_cgroup_driver(&f->paths, &f->rep);
    assert_contains(output(f), "ok       cgroup driver: cgroupfs");
    f->paths.cgroup_driver = CRISP_CGROUP_DRIVER_SYSTEMD;
    crisp_check_cgroup_driver(&f->paths, &f->rep);
    assert_contains(output(f), "MISSING  cgroup driver: cgroup_driver is systemd, but crisp "
                               "creates container cgroups with the cgroupfs driver only (and "
                               "systemd is not the init system here)");
    mkdirs(f->systemd_run);
    crisp_check_cgroup_driver(&f->paths, &f->rep);
    assert_contains(output(f), "cgroupfs driver only\n");
    assert_int_equal(f->rep.n_missing, 2);
}

/* ---- CNI ---- */

static void test_cni_empty_dir_checks_default_plugins(void **state)
{
    struct fixture *f = *state;
    mkdirs(f->cni_conf);
    writef(f, "cni/net.d/README", "not a config");
    crisp_check_cni(&f->paths, &f->rep);
    const char *out = output(f);
    assert_contains(out, "ok       cni: config dir");
    assert_contains(out, "has no network config (*.conflist, *.conf, *.json)");
    for (const char *p = "bridge\0host-local\0loopback\0portmap\0"; *p; p += strlen(p) + 1) {
        char line[128];
        pathf(line, sizeof(line), "MISSING  cni: plugin %s: no executable %s in %s", p, p,
              f->cni_bin);
        assert_contains(out, line);
    }
    assert_contains(out, "containernetworking-plugins");
}

static void test_cni_first_valid_config_names_the_plugins(void **state)
{
    struct fixture *f = *state;
    writef(f, "cni/net.d/05-broken.conflist", "{ not json");
    writef(f, "cni/net.d/10-calico.conflist",
           "{\"cniVersion\":\"0.4.0\",\"name\":\"k8s-pod-network\",\"plugins\":[{\"type\":"
           "\"calico\",\"ipam\":{\"type\":\"calico-ipam\"}},{\"type\":\"portmap\"}]}");
    writef(f, "cni/net.d/20-bridge.conf",
           "{\"cniVersion\":\"1.0.0\",\"name\":\"b\",\"type\":\"bridge\"}");
    char path[256];
    pathf(path, sizeof(path), "%s/calico", f->cni_bin);
    write_file(path, "#!/bin/sh\n", 0755);
    pathf(path, sizeof(path), "%s/calico-ipam", f->cni_bin);
    write_file(path, "#!/bin/sh\n", 0644); /* not executable */
    crisp_check_cni(&f->paths, &f->rep);
    const char *out = output(f);
    assert_contains(out, "10-calico.conflist (network \"k8s-pod-network\", plugins calico "
                         "calico-ipam portmap)");
    assert_contains(out, "ok       cni: plugin calico:");
    assert_contains(out, "MISSING  cni: plugin calico-ipam");
    assert_contains(out, "MISSING  cni: plugin portmap");
    assert_not_contains(out, "plugin bridge");
    assert_int_equal(f->rep.n_missing, 2);
}

static void test_cni_single_plugin_conf_and_no_valid_config(void **state)
{
    struct fixture *f = *state;
    writef(f, "cni/net.d/10-x.conflist",
           "{\"cniVersion\":\"1.0.0\",\"name\":\"x\",\"plugins\":[{\"ipam\":{}}]}");
    writef(f, "cni/net.d/20-y.json", "[1,2]");
    writef(f, "cni/net.d/25-old.conf", "{\"cniVersion\":\"0.3.1\",\"name\":\"o\",\"type\":\"b\"}");
    crisp_check_cni(&f->paths, &f->rep);
    assert_contains(output(f), "MISSING  cni: network config: no valid network config in");
    assert_contains(output(f), "10-x.conflist: plugins[0]: expected \"type\"");
    writef(f, "cni/net.d/30-z.conf",
           "{\"cniVersion\":\"1.1.0\",\"name\":\"z\",\"type\":\"macvlan\",\"ipam\":{\"type\":"
           "\"dhcp\"}}");
    crisp_check_cni(&f->paths, &f->rep);
    assert_contains(output(f), "30-z.conf (network \"z\", plugins macvlan dhcp)");
}

static void test_cni_dir_is_a_file(void **state)
{
    struct fixture *f = *state;
    writef(f, "cni/net.d", "file");
    crisp_check_cni(&f->paths, &f->rep);
    assert_contains(output(f), "is not a directory");
}

/* ---- directories and socket ---- */

static void test_dirs(void **state)
{
    struct fixture *f = *state;
    crisp_check_dir_writable("root", f->root, &f->rep);
    assert_contains(output(f), "ok       dir: root");
    assert_contains(output(f), "missing, crispd creates it");
    mkdirs(f->root);
    crisp_check_dir_writable("root", f->root, &f->rep);
    assert_contains(output(f), ": writable");
    writef(f, "afile", "x");
    char path[256];
    pathf(path, sizeof(path), "%s/afile", f->dir);
    crisp_check_dir_writable("state", path, &f->rep);
    assert_contains(output(f), "exists and is not a directory");
    pathf(path, sizeof(path), "%s/afile/below", f->dir);
    crisp_check_dir_writable("state", path, &f->rep);
    assert_contains(output(f), "cannot be created: ");
    assert_int_equal(f->rep.n_missing, 2);
    /* the probes leave nothing behind */
    struct dirent **names = NULL;
    int n = scandir(f->root, &names, NULL, NULL);
    for (int i = 0; i < n; i++) {
        if (strcmp(names[i]->d_name, ".") != 0 && strcmp(names[i]->d_name, ".."))
            fail_msg("probe left %s behind", names[i]->d_name);
        free(names[i]);
    }
    free(names);
    assert_int_equal(n, 2);
}

static int bind_socket(const char *path, bool do_listen)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    strcpy(addr.sun_path, path);
    assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    if (do_listen)
        assert_int_equal(listen(fd, 1), 0);
    return fd;
}

static void test_socket(void **state)
{
    struct fixture *f = *state;
    crisp_check_socket_free(f->listen, &f->rep);
    assert_contains(output(f), "crisp.sock: free");
    mkdirs(f->state);
    close(bind_socket(f->listen, false)); /* a stale socket file */
    crisp_check_socket_free(f->listen, &f->rep);
    assert_contains(output(f), "stale socket file");
    unlink(f->listen);
    int fd = bind_socket(f->listen, true);
    char lock[256];
    pathf(lock, sizeof(lock), "%s.lock", f->listen);
    write_file(lock, "4242\n", 0600);
    crisp_check_socket_free(f->listen, &f->rep);
    assert_contains(output(f), "crispd (pid 4242) is serving it");
    close(fd);
    unlink(f->listen);
    write_file(f->listen, "x", 0644);
    crisp_check_socket_free(f->listen, &f->rep);
    assert_contains(output(f), "exists and is not a socket");
    char longpath[200];
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    crisp_check_socket_free(longpath, &f->rep);
    assert_contains(output(f), "the limit of a unix socket path");
    assert_int_equal(f->rep.n_missing, 3);
}

/* ---- paths ---- */

static void test_paths_from_config_and_environment(void **state)
{
    (void)state;
    struct crisp_config cfg;
    crisp_config_init(&cfg);
    struct crisp_check_paths paths;
    crisp_check_paths_default(&paths, &cfg);
    assert_string_equal(paths.proc, "/proc");
    assert_string_equal(paths.cni_conf_dir, "/etc/cni/net.d");
    assert_int_equal(paths.n_cni_bin_dirs, 2);
    assert_string_equal(paths.cni_bin_dirs[0], "/opt/cni/bin");
    assert_string_equal(paths.cni_bin_dirs[1], "/usr/lib/cni");
    assert_string_equal(paths.listen, "/run/crisp/crisp.sock");
    assert_string_equal(paths.root, "/var/lib/crisp");
    char *custom_bins[] = {"/srv/cni/bin"};
    struct crisp_config custom = cfg;
    custom.cni_conf_dir = "/srv/cni/net.d";
    custom.cni_bin_dirs = custom_bins;
    custom.n_cni_bin_dirs = 1;
    crisp_check_paths_default(&paths, &custom); /* the config's CNI keys */
    assert_string_equal(paths.cni_conf_dir, "/srv/cni/net.d");
    assert_int_equal(paths.n_cni_bin_dirs, 1);
    assert_string_equal(paths.cni_bin_dirs[0], "/srv/cni/bin");
    setenv("CRISP_CHECK_PROC", "/fake/proc", 1);
    setenv("CRISP_CHECK_CNI_CONF_DIR", "/fake/net.d", 1);
    setenv("CRISP_CHECK_CNI_BIN_DIRS", "/a:/b::/c", 1);
    crisp_check_paths_from_env(&paths);
    crisp_check_paths_from_env(&paths); /* twice: the first list is released */
    assert_string_equal(paths.proc, "/fake/proc");
    assert_string_equal(paths.cni_conf_dir, "/fake/net.d");
    assert_int_equal(paths.n_cni_bin_dirs, 3);
    assert_string_equal(paths.cni_bin_dirs[2], "/c");
    assert_string_equal(paths.cgroup, "/sys/fs/cgroup");
    unsetenv("CRISP_CHECK_PROC");
    unsetenv("CRISP_CHECK_CNI_CONF_DIR");
    unsetenv("CRISP_CHECK_CNI_BIN_DIRS");
    crisp_check_paths_free(&paths);
    crisp_config_free(&cfg);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_healthy_fake_node_passes),
        T(test_missing_overlay_and_cni_dir_are_reported_with_fixes),
        T(test_overlay_as_module_is_ok),
        T(test_unreadable_proc_is_missing),
        T(test_missing_namespace_is_named),
        T(test_seccomp_field_missing),
        T(test_cgroup_v1_missing_pids),
        T(test_cgroup_v2),
        T(test_no_cgroups_at_all),
        T(test_systemd_driver_is_refused),
        T(test_cni_empty_dir_checks_default_plugins),
        T(test_cni_first_valid_config_names_the_plugins),
        T(test_cni_single_plugin_conf_and_no_valid_config),
        T(test_cni_dir_is_a_file),
        T(test_dirs),
        T(test_socket),
        T(test_paths_from_config_and_environment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
