#define _GNU_SOURCE
#include "client.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "monitor/sock.h"
#include "util/cleanup.h"
#include "util/deadline.h"

#define REQUEST_MAX 255
#define REPLY_MAX   1100

static int timed_out(const char *dir, struct crisp_err *err)
{
    return crisp_errorf(err, GRPC_STATUS_DEADLINE_EXCEEDED, ETIMEDOUT,
                        "monitor of %s: no reply in time", dir);
}

/* A non-blocking connect; a full backlog (EAGAIN) is retried until the deadline. */
static int connect_monitor(const char *dir, int fd, int64_t deadline, struct crisp_err *err)
{
    struct crisp_monitor_sock_addr a;
    int r = crisp_monitor_sock_addr(dir, &a, err);
    if (r < 0)
        return r;
    for (;;) {
        if (connect(fd, (struct sockaddr *)&a.addr, a.len) == 0)
            break;
        int e = errno;
        if ((e == EAGAIN || e == EINTR) && crisp_ms_until(deadline) > 0) {
            struct timespec pause = {0, 5 * 1000 * 1000};
            nanosleep(&pause, NULL);
            continue;
        }
        crisp_monitor_sock_addr_done(&a);
        if (e == EAGAIN)
            return timed_out(dir, err);
        return crisp_errorf(err, GRPC_STATUS_UNAVAILABLE, e, "connect to the monitor of %s: %s",
                            dir, strerror(e));
    }
    crisp_monitor_sock_addr_done(&a);
    return 0;
}

static int send_line(const char *dir, int fd, const char *line, size_t len, int64_t deadline,
                     struct crisp_err *err)
{
    while (len > 0) {
        int pr = crisp_poll_until(fd, POLLOUT, deadline);
        if (pr == -ETIMEDOUT)
            return timed_out(dir, err);
        if (pr < 0)
            return crisp_errorf(err, GRPC_STATUS_UNAVAILABLE, -pr, "send to the monitor of %s: %s",
                                dir, strerror(-pr));
        ssize_t n = send(fd, line, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n < 0)
            return crisp_errorf(err, GRPC_STATUS_UNAVAILABLE, errno,
                                "send to the monitor of %s: %s", dir, strerror(errno));
        line += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Reads up to the first newline (replaced by NUL). */
static int recv_line(const char *dir, int fd, char *buf, size_t size, int64_t deadline,
                     struct crisp_err *err)
{
    size_t len = 0;
    for (;;) {
        int pr = crisp_poll_until(fd, POLLIN, deadline);
        if (pr == -ETIMEDOUT)
            return timed_out(dir, err);
        if (pr < 0)
            return crisp_errorf(err, GRPC_STATUS_UNAVAILABLE, -pr,
                                "read from the monitor of %s: %s", dir, strerror(-pr));
        ssize_t n = recv(fd, buf + len, size - 1 - len, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n < 0 && errno != ECONNRESET)
            return crisp_errorf(err, GRPC_STATUS_UNAVAILABLE, errno,
                                "read from the monitor of %s: %s", dir, strerror(errno));
        if (n <= 0)
            return crisp_errorf(err, GRPC_STATUS_UNAVAILABLE, ECONNRESET,
                                "the monitor of %s closed the connection without a reply", dir);
        char *nl = memchr(buf + len, '\n', (size_t)n);
        len += (size_t)n;
        if (nl) {
            *nl = '\0';
            return 0;
        }
        if (len == size - 1)
            return crisp_errorf(err, GRPC_STATUS_INTERNAL, EPROTO,
                                "the monitor of %s sent an overlong reply", dir);
    }
}

int crisp_monitor_code_errno(grpc_status_code code)
{
    switch (code) {
    case GRPC_STATUS_INVALID_ARGUMENT:
        return EINVAL;
    case GRPC_STATUS_NOT_FOUND:
        return ENOENT;
    case GRPC_STATUS_ALREADY_EXISTS:
        return EEXIST;
    case GRPC_STATUS_PERMISSION_DENIED:
        return EACCES;
    case GRPC_STATUS_FAILED_PRECONDITION:
        return EPERM;
    case GRPC_STATUS_DEADLINE_EXCEEDED:
        return ETIMEDOUT;
    case GRPC_STATUS_UNIMPLEMENTED:
        return ENOSYS;
    case GRPC_STATUS_RESOURCE_EXHAUSTED:
        return ENOSPC;
    default:
        return EIO;
    }
}

/* "error <code> <message>" */
static int parse_error(const char *line, struct crisp_err *err)
{
    char *end;
    long code = strtol(line + 6, &end, 10);
    if (end == line + 6 || code <= 0 || code > GRPC_STATUS_UNAUTHENTICATED)
        code = GRPC_STATUS_UNKNOWN;
    if (*end == ' ')
        end++;
    return crisp_errorf(err, (grpc_status_code)code,
                        crisp_monitor_code_errno((grpc_status_code)code), "%s", end);
}

int crisp_monitor_request(const char *dir, const char *cmd, char *reply, size_t size,
                          int timeout_ms, struct crisp_err *err)
{
    size_t clen = strlen(cmd);
    if (clen == 0 || clen > REQUEST_MAX - 1 || strchr(cmd, '\n'))
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "monitor request: bad command");
    int64_t deadline = crisp_monotonic_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return crisp_syserrf(err, errno, "socket");
    int r = connect_monitor(dir, fd, deadline, err);
    if (r < 0)
        return r;
    char line[REPLY_MAX];
    snprintf(line, sizeof(line), "%s\n", cmd);
    r = send_line(dir, fd, line, clen + 1, deadline, err);
    if (r == 0)
        r = recv_line(dir, fd, line, sizeof(line), deadline, err);
    if (r < 0)
        return r;
    if (size > 0)
        snprintf(reply, size, "%s", line);
    if (strncmp(line, "error ", 6) == 0 || strcmp(line, "error") == 0)
        return parse_error(strcmp(line, "error") == 0 ? "error " : line, err);
    return 0;
}
