#define _GNU_SOURCE
#include "overlay.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/mem.h"

/* fsconfig(FSCONFIG_SET_STRING) copies at most 256 bytes including the NUL. */
#define FSCONFIG_STRING_MAX 255

/* Appends the kernel's last message about the fs context ("e overlayfs: ...") to err. */
static void fs_context_log(int fsfd, struct crisp_err *err)
{
    char buf[512], last[512] = "";
    ssize_t n;
    while ((n = read(fsfd, buf, sizeof(buf) - 1)) > 0) {
        buf[n] = '\0';
        snprintf(last, sizeof(last), "%s", buf);
    }
    if (last[0]) {
        size_t used = strlen(err->msg);
        snprintf(err->msg + used, sizeof(err->msg) - used, " (%s)", last);
    }
}

static int set_string(int fsfd, const char *key, const char *value, struct crisp_err *err)
{
    if (fsconfig(fsfd, FSCONFIG_SET_STRING, key, value, 0) == 0)
        return 0;
    int r = crisp_syserrf(err, errno, "mount overlay: %s=%s", key, value);
    fs_context_log(fsfd, err);
    return r;
}

static bool fits_fsconfig(const struct crisp_rt_overlay *ov)
{
    for (size_t i = 0; i < ov->n_lowerdirs; i++)
        if (strlen(ov->lowerdirs[i]) > FSCONFIG_STRING_MAX)
            return false;
    return (!ov->upperdir || strlen(ov->upperdir) <= FSCONFIG_STRING_MAX) &&
           (!ov->workdir || strlen(ov->workdir) <= FSCONFIG_STRING_MAX);
}

/* Configures the layers; -EOPNOTSUPP when the kernel does not know "lowerdir+". */
static int configure(int fsfd, const struct crisp_rt_overlay *ov, struct crisp_err *err)
{
    for (size_t i = ov->n_lowerdirs; i-- > 0;) {
        if (fsconfig(fsfd, FSCONFIG_SET_STRING, "lowerdir+", ov->lowerdirs[i], 0) == 0)
            continue;
        if (errno == EINVAL && i == ov->n_lowerdirs - 1)
            return -EOPNOTSUPP;
        int r = crisp_syserrf(err, errno, "mount overlay: lowerdir %s", ov->lowerdirs[i]);
        fs_context_log(fsfd, err);
        return r;
    }
    int r = 0;
    if (ov->upperdir)
        r = set_string(fsfd, "upperdir", ov->upperdir, err);
    if (r == 0 && ov->workdir)
        r = set_string(fsfd, "workdir", ov->workdir, err);
    if (r == 0 && fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
        r = crisp_syserrf(err, errno, "mount overlay (%zu layers)", ov->n_lowerdirs);
        fs_context_log(fsfd, err);
    }
    return r;
}

int crisp_rt_overlay_mount_new_api(const struct crisp_rt_overlay *ov, const char *target,
                                   struct crisp_err *err)
{
    if (!fits_fsconfig(ov))
        return -EOPNOTSUPP;
    _cleanup_close_ int fsfd = fsopen("overlay", FSOPEN_CLOEXEC);
    if (fsfd < 0) {
        if (errno == ENOSYS)
            return -EOPNOTSUPP;
        return crisp_syserrf(err, errno, "mount overlay: fsopen");
    }
    int r = configure(fsfd, ov, err);
    if (r < 0)
        return r;
    _cleanup_close_ int mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, 0);
    if (mfd < 0)
        return crisp_syserrf(err, errno, "mount overlay: fsmount");
    if (move_mount(mfd, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
        return crisp_syserrf(err, errno, "mount overlay on %s", target);
    return 0;
}

static int check_legacy_path(const char *path, struct crisp_err *err)
{
    size_t len = strlen(path);
    if (path[0] != '/' || path[len - 1] == '/')
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "overlay layer path \"%s\" is not absolute or ends with '/'", path);
    if (strpbrk(path, ",:\\"))
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "overlay layer path %s contains ',', ':' or '\\'", path);
    return 0;
}

/* "lowerdir=top:...:bottom[,upperdir=U,workdir=W]", each lowerdir without its first skip
 * bytes. Returns a malloc'd string. */
static char *legacy_options(const struct crisp_rt_overlay *ov, size_t skip)
{
    size_t len = 32;
    for (size_t i = 0; i < ov->n_lowerdirs; i++)
        len += strlen(ov->lowerdirs[i]) + 1;
    len += (ov->upperdir ? strlen(ov->upperdir) : 0) + (ov->workdir ? strlen(ov->workdir) : 0);
    char *s = crisp_xmalloc(len), *p = s;
    p += sprintf(p, "lowerdir=");
    for (size_t i = ov->n_lowerdirs; i-- > 0;)
        p += sprintf(p, "%s%s", ov->lowerdirs[i] + skip, i ? ":" : "");
    if (ov->upperdir && ov->workdir)
        sprintf(p, ",upperdir=%s,workdir=%s", ov->upperdir, ov->workdir);
    return s;
}

/* Length of the directory part of s[0..len): "/a/b" -> 2 ("/a"), "/a" -> 0 (root). */
static size_t dir_len(const char *s, size_t len)
{
    while (len > 0 && s[len - 1] != '/')
        len--;
    return len > 0 ? len - 1 : 0;
}

/* Length of the deepest directory holding every lowerdir (0: the root). */
static size_t common_parent_len(const struct crisp_rt_overlay *ov)
{
    const char *first = ov->lowerdirs[0];
    size_t len = dir_len(first, strlen(first));
    for (size_t i = 1; i < ov->n_lowerdirs; i++) {
        const char *l = ov->lowerdirs[i];
        while (len > 0 && !(strncmp(l, first, len) == 0 && l[len] == '/'))
            len = dir_len(first, len);
    }
    return len;
}

static int mount_legacy_relative(const struct crisp_rt_overlay *ov, const char *target, size_t page,
                                 struct crisp_err *err)
{
    size_t plen = common_parent_len(ov);
    _cleanup_free_ char *parent =
        plen ? crisp_xasprintf("%.*s", (int)plen, ov->lowerdirs[0]) : crisp_xstrdup("/");
    _cleanup_free_ char *opts = legacy_options(ov, plen + 1);
    if (strlen(opts) >= page)
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, E2BIG,
                            "mount overlay: %zu layers do not fit in mount options (%zu bytes "
                            "from %s, limit %zu)",
                            ov->n_lowerdirs, strlen(opts), parent, page - 1);
    _cleanup_close_ int cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (cwd < 0)
        return crisp_syserrf(err, errno, "mount overlay: open the current directory");
    if (chdir(parent) < 0)
        return crisp_syserrf(err, errno, "mount overlay: chdir %s", parent);
    int r = 0;
    if (mount("overlay", target, "overlay", 0, opts) < 0)
        r = crisp_syserrf(err, errno, "mount overlay on %s (%zu layers, relative to %s)", target,
                          ov->n_lowerdirs, parent);
    if (fchdir(cwd) < 0 && r == 0)
        r = crisp_syserrf(err, errno, "mount overlay: fchdir back");
    return r;
}

int crisp_rt_overlay_mount_legacy(const struct crisp_rt_overlay *ov, const char *target,
                                  struct crisp_err *err)
{
    int r = 0;
    for (size_t i = 0; i < ov->n_lowerdirs && r == 0; i++)
        r = check_legacy_path(ov->lowerdirs[i], err);
    if (r == 0 && ov->upperdir)
        r = check_legacy_path(ov->upperdir, err);
    if (r == 0 && ov->workdir)
        r = check_legacy_path(ov->workdir, err);
    if (r < 0)
        return r;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    _cleanup_free_ char *opts = legacy_options(ov, 0);
    if (strlen(opts) >= page)
        return mount_legacy_relative(ov, target, page, err);
    if (mount("overlay", target, "overlay", 0, opts) < 0)
        return crisp_syserrf(err, errno, "mount overlay on %s (%zu layers)", target,
                             ov->n_lowerdirs);
    return 0;
}

int crisp_rt_overlay_mount(const struct crisp_rt_overlay *ov, const char *target,
                           struct crisp_err *err)
{
    if (ov->n_lowerdirs == 0 || !ov->upperdir != !ov->workdir)
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "overlay: need at least one lowerdir, and upperdir with workdir");
    int r = crisp_rt_overlay_mount_new_api(ov, target, err);
    if (r != -EOPNOTSUPP)
        return r;
    return crisp_rt_overlay_mount_legacy(ov, target, err);
}
