#define _GNU_SOURCE
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "mem.h"

int crisp_mkdir_p(const char *path, mode_t mode, struct crisp_err *err)
{
    if (path[0] != '/')
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "create directory \"%s\": expected an absolute path", path);
    _cleanup_free_ char *copy = crisp_xstrdup(path);
    for (char *p = copy + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(copy, mode) < 0 && errno != EEXIST)
            return crisp_syserrf(err, errno, "create directory %s", copy);
        *p = saved;
        if (saved == '\0')
            break;
    }
    struct stat st;
    if (stat(path, &st) < 0)
        return crisp_syserrf(err, errno, "stat %s", path);
    if (!S_ISDIR(st.st_mode))
        return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, ENOTDIR,
                            "%s exists and is not a directory", path);
    return 0;
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int fsync_parent_dir(const char *path, struct crisp_err *err)
{
    _cleanup_free_ char *copy = crisp_xstrdup(path);
    const char *dir = dirname(copy);
    _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return crisp_syserrf(err, errno, "open directory %s", dir);
    if (fsync(dfd) < 0)
        return crisp_syserrf(err, errno, "fsync directory %s", dir);
    return 0;
}

int crisp_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
                            struct crisp_err *err)
{
    _cleanup_free_ char *tmp = crisp_xasprintf("%s.tmp-XXXXXX", path);
    _cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return crisp_syserrf(err, errno, "create temp file %s", tmp);
    int r = write_all(fd, data, len);
    if (r < 0) {
        crisp_syserrf(err, -r, "write %s", tmp);
        goto fail;
    }
    if (fchmod(fd, mode) < 0 || fsync(fd) < 0) {
        r = crisp_syserrf(err, errno, "fchmod/fsync %s", tmp);
        goto fail;
    }
    if (rename(tmp, path) < 0) {
        r = crisp_syserrf(err, errno, "rename %s to %s", tmp, path);
        goto fail;
    }
    return fsync_parent_dir(path, err);
fail:
    unlink(tmp);
    return r;
}

int crisp_read_file(const char *path, size_t max_size, char **out, size_t *out_len,
                    struct crisp_err *err)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return crisp_syserrf(err, errno, "open %s", path);
    /* Reads up to max_size + 1 bytes: one byte more proves the file too large. */
    size_t cap = max_size < 4096 ? max_size + 1 : 4096, len = 0;
    _cleanup_free_ char *buf = crisp_xmalloc(cap + 1);
    for (;;) {
        if (len == cap) {
            if (cap > max_size)
                return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EFBIG,
                                    "%s is larger than %zu bytes", path, max_size);
            cap = cap * 2 > max_size ? max_size + 1 : cap * 2;
            buf = crisp_xrealloc(buf, cap + 1);
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return crisp_syserrf(err, errno, "read %s", path);
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    if (out_len)
        *out_len = len;
    *out = crisp_steal_ptr(buf);
    return 0;
}
