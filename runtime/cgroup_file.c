/* Reading and writing cgroup interface files. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/cgroup_internal.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/mem.h"

/* cgroup.procs of a big cgroup is the largest file read here. */
#define CG_READ_MAX (8u << 20)

grpc_status_code cg_errno_code(int errnum)
{
    switch (errnum) {
    case EINVAL:
    case ERANGE:
        return GRPC_STATUS_INVALID_ARGUMENT;
    case EBUSY:
    case ENOENT:
        return GRPC_STATUS_FAILED_PRECONDITION;
    default:
        return GRPC_STATUS_INTERNAL;
    }
}

const char *cg_name(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= size) {
        log_error(CG_LOG, "cgroup file name too long: %s", buf);
        abort();
    }
    return buf;
}

static int write_error(const char *path, const char *value, int errnum, struct crisp_err *err)
{
    return crisp_errorf(err, cg_errno_code(errnum), errnum, "write \"%s\" to %s: %s", value, path,
                        strerror(errnum));
}

int cg_write(const char *dir, const char *file, const char *value, struct crisp_err *err)
{
    _cleanup_free_ char *path = crisp_xasprintf("%s/%s", dir, file);
    int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return write_error(path, value, errno, err);
    size_t len = strlen(value);
    ssize_t n;
    do
        n = write(fd, value, len);
    while (n < 0 && errno == EINTR);
    int errnum = n < 0 ? errno : (size_t)n != len ? EIO : 0;
    if (close(fd) < 0 && errnum == 0)
        errnum = errno;
    if (errnum)
        return write_error(path, value, errnum, err);
    log_debug(CG_LOG, "wrote \"%s\" to %s", value, path);
    return 0;
}

int cg_writef(const char *dir, const char *file, struct crisp_err *err, const char *fmt, ...)
{
    char value[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(value, sizeof(value), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(value))
        return crisp_errorf(err, GRPC_STATUS_INTERNAL, EOVERFLOW, "value for %s/%s too long", dir,
                            file);
    return cg_write(dir, file, value, err);
}

int cg_read(const char *dir, const char *file, char **out, struct crisp_err *err)
{
    _cleanup_free_ char *path = crisp_xasprintf("%s/%s", dir, file);
    size_t len = 0;
    int r = crisp_read_file(path, CG_READ_MAX, out, &len, err);
    if (r < 0) {
        if (r == -ENOENT && err)
            err->code = GRPC_STATUS_NOT_FOUND;
        return r;
    }
    while (len > 0 && strchr(" \t\n", (*out)[len - 1]))
        (*out)[--len] = '\0';
    return 0;
}

static int parse_u64(const char *path, const char *s, uint64_t *out, struct crisp_err *err)
{
    if (strcmp(s, "max") == 0) {
        *out = UINT64_MAX;
        return 0;
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || (*end && !strchr(" \t\n", *end)) || s[0] == '-')
        return crisp_errorf(err, GRPC_STATUS_INTERNAL, EBADMSG, "%s: \"%.32s\" is not a number",
                            path, s);
    *out = v;
    return 0;
}

int cg_read_u64(const char *dir, const char *file, uint64_t *out, struct crisp_err *err)
{
    _cleanup_free_ char *text = NULL;
    int r = cg_read(dir, file, &text, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *path = crisp_xasprintf("%s/%s", dir, file);
    return parse_u64(path, text, out, err);
}

int cg_read_keyed(const char *dir, const char *file, const char *key, uint64_t *out,
                  struct crisp_err *err)
{
    _cleanup_free_ char *text = NULL;
    int r = cg_read(dir, file, &text, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *path = crisp_xasprintf("%s/%s", dir, file);
    size_t klen = strlen(key);
    for (char *line = text; line && *line;) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (strncmp(line, key, klen) == 0 && line[klen] == ' ')
            return parse_u64(path, line + klen + 1, out, err);
        line = next;
    }
    return crisp_errorf(err, GRPC_STATUS_NOT_FOUND, ENOENT, "%s has no \"%s\"", path, key);
}

bool cg_file_exists(const char *dir, const char *file)
{
    _cleanup_free_ char *path = crisp_xasprintf("%s/%s", dir, file);
    struct stat st;
    return lstat(path, &st) == 0 && S_ISREG(st.st_mode);
}
