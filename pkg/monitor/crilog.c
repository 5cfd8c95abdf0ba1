#define _GNU_SOURCE
#include "crilog.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/mem.h"

static int open_log(const char *path, struct crisp_err *err)
{
    _cleanup_free_ char *copy = crisp_xstrdup(path);
    int r = crisp_mkdir_p(dirname(copy), 0755, err);
    if (r < 0)
        return r;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
    if (fd < 0)
        return crisp_syserrf(err, errno, "open log file %s", path);
    return fd;
}

int crisp_crilog_open(struct crisp_crilog *l, const char *path, const char *ident,
                      struct crisp_err *err)
{
    *l = (struct crisp_crilog){.path = path, .ident = ident ? ident : "", .fd = -1};
    if (!path)
        return 0;
    int fd = open_log(path, err);
    if (fd < 0)
        return fd;
    l->fd = fd;
    return 0;
}

int crisp_crilog_reopen(struct crisp_crilog *l, struct crisp_err *err)
{
    if (!l->path)
        return 0;
    int fd = open_log(l->path, err);
    if (fd < 0)
        return fd;
    if (l->fd >= 0)
        close(l->fd);
    l->fd = fd;
    l->broken_line = false;
    l->failing = false;
    return 0;
}

void crisp_crilog_close(struct crisp_crilog *l)
{
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
}

static void note_failure(struct crisp_crilog *l, int errnum)
{
    if (!l->failing)
        log_warn("monitor", "container %s: log %s: write failed, dropping output: %s", l->ident,
                 l->path, strerror(errnum));
    l->failing = true;
}

/* writev until everything is written; a short write is continued, a failure returns (with
 * *some set when part of the entry made it to the file). */
static int write_iov(int fd, struct iovec *iov, int n, bool *some)
{
    *some = false;
    while (n > 0) {
        ssize_t w = writev(fd, iov, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        *some |= w > 0;
        while (n > 0 && (size_t)w >= iov->iov_len) {
            w -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
    return 0;
}

int crisp_crilog_write(struct crisp_crilog *l, const struct timespec *ts, const char *stream,
                       bool partial, const char *data, size_t len)
{
    if (l->fd < 0)
        return l->path ? -EBADF : 0;
    struct tm tm;
    gmtime_r(&ts->tv_sec, &tm);
    char head[96];
    int hlen =
        snprintf(head, sizeof(head), "%s%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ %s %c ",
                 l->broken_line ? "\n" : "", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                 tm.tm_hour, tm.tm_min, tm.tm_sec, (long)ts->tv_nsec, stream, partial ? 'P' : 'F');
    struct iovec iov[3] = {
        {.iov_base = head, .iov_len = (size_t)hlen},
        {.iov_base = (void *)data, .iov_len = len},
        {.iov_base = "\n", .iov_len = 1},
    };
    bool some;
    int r = write_iov(l->fd, iov, 3, &some);
    if (r < 0) {
        if (some) /* cut short: end it before the next entry */
            l->broken_line = true;
        note_failure(l, -r);
        return r;
    }
    l->broken_line = false;
    if (l->failing)
        log_info("monitor", "container %s: log %s: writing again", l->ident, l->path);
    l->failing = false;
    return 0;
}

char *crisp_crilog_stream_room(struct crisp_crilog_stream *s, size_t *room)
{
    *room = sizeof(s->buf) - s->len;
    return s->buf + s->len;
}

void crisp_crilog_stream_commit(struct crisp_crilog *l, struct crisp_crilog_stream *s, size_t n)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    size_t start = 0, scan = s->len, len = s->len + n;
    const char *nl;
    while ((nl = memchr(s->buf + scan, '\n', len - scan))) {
        size_t end = (size_t)(nl - s->buf);
        crisp_crilog_write(l, &now, s->name, false, s->buf + start, end - start);
        start = scan = end + 1;
    }
    /* The buffer holds one byte more than a line: full without a newline = an overlong line. */
    if (len - start > CRISP_CRILOG_MAX_LINE) {
        crisp_crilog_write(l, &now, s->name, true, s->buf + start, CRISP_CRILOG_MAX_LINE);
        start += CRISP_CRILOG_MAX_LINE;
    }
    memmove(s->buf, s->buf + start, len - start);
    s->len = len - start;
}

void crisp_crilog_stream_flush(struct crisp_crilog *l, struct crisp_crilog_stream *s)
{
    if (s->len == 0)
        return;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    crisp_crilog_write(l, &now, s->name, false, s->buf, s->len);
    s->len = 0;
}
