#define _GNU_SOURCE
#include "sync.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int crisp_rt_fd_above_stdio(int fd)
{
    if (fd >= 3)
        return fd;
    int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (moved < 0)
        return -errno;
    close(fd);
    return moved;
}

int crisp_rt_sync_pair(int fds[2], struct crisp_err *err)
{
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) < 0)
        return crisp_syserrf(err, errno, "socketpair");
    for (int i = 0; i < 2; i++) {
        int r = crisp_rt_fd_above_stdio(fds[i]);
        if (r < 0) {
            close(fds[0]);
            close(fds[1]);
            return crisp_syserrf(err, -r, "move sync fd");
        }
        fds[i] = r;
    }
    return 0;
}

static int send_msg(int fd, const struct crisp_rt_msg *msg, size_t len, int passfd)
{
    struct iovec iov = {.iov_base = (void *)msg, .iov_len = len};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (passfd >= 0) {
        memset(&control, 0, sizeof(control));
        mh.msg_control = control.buf;
        mh.msg_controllen = sizeof(control.buf);
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &passfd, sizeof(int));
    }
    for (;;) {
        if (sendmsg(fd, &mh, MSG_NOSIGNAL) >= 0)
            return 0;
        if (errno != EINTR)
            return -errno;
    }
}

int crisp_rt_sync_send(int fd, enum crisp_rt_msg_type type, int32_t value, int passfd)
{
    struct crisp_rt_msg msg = {.type = type, .value = value};
    return send_msg(fd, &msg, offsetof(struct crisp_rt_msg, text) + 1, passfd);
}

int crisp_rt_sync_send_error(int fd, int errnum, const struct crisp_err *err)
{
    struct crisp_rt_msg msg = {
        .type = CRISP_RT_MSG_ERROR,
        .value = errnum > 0 ? errnum : EIO,
        .code = err->code == GRPC_STATUS_OK ? GRPC_STATUS_INTERNAL : err->code,
    };
    snprintf(msg.text, sizeof(msg.text), "%s", err->msg);
    return send_msg(fd, &msg, offsetof(struct crisp_rt_msg, text) + strlen(msg.text) + 1, -1);
}

static int take_fd(struct msghdr *mh, int *passfd)
{
    int got = -1;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
            if (got < 0 && passfd)
                got = fd;
            else
                close(fd);
        }
    }
    if (passfd)
        *passfd = got;
    return 0;
}

int crisp_rt_sync_recv(int fd, struct crisp_rt_msg *msg, int *passfd)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * 4)];
        struct cmsghdr align;
    } control;
    memset(msg, 0, sizeof(*msg));
    struct iovec iov = {.iov_base = msg, .iov_len = sizeof(*msg)};
    struct msghdr mh = {.msg_iov = &iov,
                        .msg_iovlen = 1,
                        .msg_control = control.buf,
                        .msg_controllen = sizeof(control.buf)};
    ssize_t n;
    do
        n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    take_fd(&mh, passfd);
    if (n == 0)
        return 0;
    if ((size_t)n < offsetof(struct crisp_rt_msg, text) + 1 || (mh.msg_flags & MSG_TRUNC))
        return -EPROTO;
    msg->text[sizeof(msg->text) - 1] = '\0';
    return 1;
}

int crisp_rt_msg_to_err(const struct crisp_rt_msg *msg, struct crisp_err *err)
{
    int errnum = msg->value > 0 ? msg->value : EIO;
    grpc_status_code code = (grpc_status_code)msg->code;
    if (code <= GRPC_STATUS_OK || code > GRPC_STATUS_UNAUTHENTICATED)
        code = GRPC_STATUS_INTERNAL;
    return crisp_errorf(err, code, errnum, "%s", msg->text);
}
