/* Directories crispd writes (root, state, the socket's) and the socket path.
 * Nothing is left behind: a writable directory is proven with an unnamed
 * O_TMPFILE file (or a temporary directory removed at once) and a missing one
 * by probing the nearest existing parent the same way. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "check/check.h"
#include "util/cleanup.h"
#include "util/mem.h"

/* 0 when a file can be created in dir, else an errno. */
static int probe_writable(const char *dir)
{
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0) {
        close(fd);
        return 0;
    }
    if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
        return errno;
    /* file systems without O_TMPFILE */
    _cleanup_free_ char *tmp = crisp_xasprintf("%s/.crisp-check-XXXXXX", dir);
    if (!mkdtemp(tmp))
        return errno;
    rmdir(tmp);
    return 0;
}

/* The nearest existing ancestor of path (malloc'd), or NULL. */
static char *existing_parent(const char *path)
{
    char *p = crisp_xstrdup(path);
    for (;;) {
        char *slash = strrchr(p, '/');
        if (!slash)
            break;
        if (slash == p) {
            p[1] = '\0';
            return p;
        }
        *slash = '\0';
        if (access(p, F_OK) == 0)
            return p;
    }
    free(p);
    return NULL;
}

void crisp_check_dir_writable(const char *purpose, const char *dir, struct crisp_check_report *rep)
{
    _cleanup_free_ char *item = crisp_xasprintf("dir: %s %s", purpose, dir);
    static const char fix[] = "make it a writable directory (not on a read-only file system), or "
                              "point the config at one (root, state and listen keys; --root, "
                              "--state, --listen)";
    struct stat st;
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            crisp_check_missing(rep, item, fix, "exists and is not a directory");
            return;
        }
        int e = probe_writable(dir);
        if (e)
            crisp_check_missing(rep, item, fix, "not writable: %s", strerror(e));
        else
            crisp_check_ok(rep, item, "writable");
        return;
    }
    if (errno == ENOTDIR) {
        crisp_check_missing(rep, item, fix, "cannot be created: a parent is not a directory");
        return;
    }
    if (errno != ENOENT) {
        crisp_check_missing(rep, item, fix, "%s", strerror(errno));
        return;
    }
    _cleanup_free_ char *parent = existing_parent(dir);
    if (!parent) {
        crisp_check_missing(rep, item, "use an absolute path", "no existing parent directory");
        return;
    }
    if (stat(parent, &st) < 0 || !S_ISDIR(st.st_mode)) {
        crisp_check_missing(rep, item, fix, "cannot be created: %s is not a directory", parent);
        return;
    }
    int e = probe_writable(parent);
    if (e)
        crisp_check_missing(rep, item, fix, "cannot be created in %s: %s", parent, strerror(e));
    else
        crisp_check_ok(rep, item, "missing, crispd creates it (%s is writable)", parent);
}

/* The pid recorded in <socket>.lock by the crispd that serves it, or 0. */
static long lock_holder_pid(const char *socket_path)
{
    _cleanup_free_ char *lock_path = crisp_xasprintf("%s.lock", socket_path);
    _cleanup_close_ int fd = open(lock_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    char buf[32] = {0};
    if (fd < 0 || read(fd, buf, sizeof(buf) - 1) <= 0)
        return 0;
    return strtol(buf, NULL, 10);
}

void crisp_check_socket_free(const char *socket_path, struct crisp_check_report *rep)
{
    _cleanup_free_ char *item = crisp_xasprintf("socket %s", socket_path);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(socket_path) >= sizeof(addr.sun_path)) {
        crisp_check_missing(rep, item, "choose a shorter listen path",
                            "longer than %zu bytes, the limit of a unix socket path",
                            sizeof(addr.sun_path) - 1);
        return;
    }
    struct stat st;
    if (lstat(socket_path, &st) < 0) {
        if (errno == ENOENT)
            crisp_check_ok(rep, item, "free");
        else
            crisp_check_missing(rep, item, "fix the permissions of its directory", "%s",
                                strerror(errno));
        return;
    }
    if (!S_ISSOCK(st.st_mode)) {
        crisp_check_missing(rep, item, "remove it, or choose another listen path",
                            "exists and is not a socket");
        return;
    }
    strcpy(addr.sun_path, socket_path);
    _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0) {
        long pid = lock_holder_pid(socket_path);
        char who[64] = "a process";
        if (pid > 0)
            snprintf(who, sizeof(who), "crispd (pid %ld)", pid);
        crisp_check_missing(rep, item,
                            "stop it first (systemctl stop crisp), or choose another listen "
                            "path (--listen)",
                            "%s is serving it", who);
        return;
    }
    crisp_check_ok(rep, item, "stale socket file, crispd replaces it");
}
