/* Kernel features crisp needs: overlayfs, the namespaces of a pod and a
 * container, seccomp filters and openat2. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <stdbool.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "check/check.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"

#define PROC_FILE_MAX (4u << 20)

/* True when a line of /proc/filesystems ("nodev\toverlay") names fs. */
static bool filesystems_lists(const char *text, const char *fs)
{
    size_t fs_len = strlen(fs);
    for (const char *line = text; *line;) {
        const char *end = strchrnul(line, '\n');
        const char *name = end;
        while (name > line && name[-1] != '\t' && name[-1] != ' ')
            name--;
        if ((size_t)(end - name) == fs_len && memcmp(name, fs, fs_len) == 0)
            return true;
        line = *end ? end + 1 : end;
    }
    return false;
}

/* True when modules.dep of the running kernel names the overlay module: the
 * kernel loads it on the first overlay mount. */
static bool overlay_module_available(const char *modules_dir)
{
    struct utsname u;
    if (uname(&u) < 0)
        return false;
    _cleanup_free_ char *dep = crisp_xasprintf("%s/%s/modules.dep", modules_dir, u.release);
    _cleanup_free_ char *text = NULL;
    struct crisp_err err;
    if (crisp_read_file(dep, 64u << 20, &text, NULL, &err) < 0)
        return false;
    return strstr(text, "/overlay.ko") != NULL;
}

void crisp_check_overlay(const struct crisp_check_paths *paths, struct crisp_check_report *rep)
{
    static const char item[] = "kernel: overlayfs";
    static const char fix[] =
        "load it with 'modprobe overlay' and make it permanent with 'echo overlay > "
        "/etc/modules-load.d/crisp.conf'; the kernel needs CONFIG_OVERLAY_FS";
    _cleanup_free_ char *path = crisp_xasprintf("%s/filesystems", paths->proc);
    _cleanup_free_ char *text = NULL;
    struct crisp_err err;
    if (crisp_read_file(path, PROC_FILE_MAX, &text, NULL, &err) < 0) {
        crisp_check_missing(rep, item, fix, "cannot tell: %s", err.msg);
        return;
    }
    if (filesystems_lists(text, "overlay"))
        crisp_check_ok(rep, item, "overlay is listed in %s", path);
    else if (overlay_module_available(paths->modules))
        crisp_check_ok(rep, item, "the overlay module is available (loaded on first use)");
    else
        crisp_check_missing(rep, item, fix,
                            "overlay is not listed in %s and no overlay module is installed "
                            "under %s: crisp cannot mount container root filesystems",
                            path, paths->modules);
}

void crisp_check_namespaces(const struct crisp_check_paths *paths, struct crisp_check_report *rep)
{
    static const struct {
        const char *name;
        const char *config;
    } namespaces[] = {
        {"net", "CONFIG_NET_NS"}, {"ipc", "CONFIG_IPC_NS"},     {"uts", "CONFIG_UTS_NS"},
        {"pid", "CONFIG_PID_NS"}, {"mnt", "(always built in)"}, {"cgroup", "CONFIG_CGROUPS"},
    };
    char missing[128] = "", configs[256] = "";
    for (size_t i = 0; i < sizeof(namespaces) / sizeof(namespaces[0]); i++) {
        _cleanup_free_ char *path =
            crisp_xasprintf("%s/self/ns/%s", paths->proc, namespaces[i].name);
        struct stat st;
        if (lstat(path, &st) == 0)
            continue;
        size_t m = strlen(missing), c = strlen(configs);
        snprintf(missing + m, sizeof(missing) - m, "%s%s", m ? " " : "", namespaces[i].name);
        snprintf(configs + c, sizeof(configs) - c, "%s%s", c ? " " : "", namespaces[i].config);
    }
    if (!*missing) {
        crisp_check_ok(rep, "kernel: namespaces", "net ipc uts pid mnt cgroup");
        return;
    }
    _cleanup_free_ char *fix =
        crisp_xasprintf("use a kernel built with %s (each namespace shows as %s/self/ns/<name>)",
                        configs, paths->proc);
    crisp_check_missing(rep, "kernel: namespaces", fix, "missing: %s", missing);
}

void crisp_check_seccomp(const struct crisp_check_paths *paths, struct crisp_check_report *rep)
{
    static const char item[] = "kernel: seccomp";
    static const char fix[] = "use a kernel built with CONFIG_SECCOMP and CONFIG_SECCOMP_FILTER: "
                              "crisp filters system calls of containers (RuntimeDefault)";
    _cleanup_free_ char *path = crisp_xasprintf("%s/self/status", paths->proc);
    _cleanup_free_ char *text = NULL;
    struct crisp_err err;
    if (crisp_read_file(path, PROC_FILE_MAX, &text, NULL, &err) < 0) {
        crisp_check_missing(rep, item, fix, "cannot tell: %s", err.msg);
        return;
    }
    if (strncmp(text, "Seccomp:", 8) != 0 && !strstr(text, "\nSeccomp:")) {
        crisp_check_missing(rep, item, fix, "%s has no Seccomp: field", path);
        return;
    }
    /* The probe libseccomp uses: a NULL filter fails with EFAULT when the
     * filter mode exists and with EINVAL when it does not. */
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, NULL, 0, 0) == 0 || errno != EFAULT) {
        crisp_check_missing(rep, item, fix, "seccomp filter mode is not available: %s",
                            strerror(errno));
        return;
    }
    crisp_check_ok(rep, item, "filter mode available");
}

void crisp_check_openat2(struct crisp_check_report *rep)
{
    static const char item[] = "kernel: openat2";
    _cleanup_close_ int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    struct open_how how = {.flags = O_PATH | O_CLOEXEC,
                           .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
    long fd = root < 0 ? -1 : syscall(SYS_openat2, root, ".", &how, sizeof(how));
    if (fd >= 0) {
        close((int)fd);
        crisp_check_ok(rep, item, "available: image layers are unpacked with safe path resolution");
        return;
    }
    int e = errno;
    crisp_check_missing(rep, item,
                        e == ENOSYS ? "use Linux 5.6 or newer"
                                    : "allow openat2 in the seccomp profile or security module "
                                      "that confines crispd",
                        "openat2 failed: %s", strerror(e));
}
