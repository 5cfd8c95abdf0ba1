#define _GNU_SOURCE
#include "attach.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "monitor/sock.h"

int crisp_attach_send(int fd, enum crisp_attach_kind kind, const void *buf, size_t len,
                      struct crisp_err *err)
{
    if (len > CRISP_ATTACH_PAYLOAD_MAX)
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EMSGSIZE,
                            "attach record of %zu bytes: at most %d expected", len,
                            CRISP_ATTACH_PAYLOAD_MAX);
    unsigned char k = (unsigned char)kind;
    struct iovec iov[2] = {{.iov_base = &k, .iov_len = 1},
                           {.iov_base = (void *)buf, .iov_len = len}};
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = len > 0 ? 2 : 1};
    for (;;) {
        ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL);
        if (n >= 0)
            return 0;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN)
            return crisp_errorf(err, GRPC_STATUS_UNAVAILABLE, EAGAIN,
                                "attach socket full: the peer does not read");
        if (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN)
            return crisp_errorf(err, GRPC_STATUS_UNAVAILABLE, EPIPE, "attach peer gone");
        return crisp_syserrf(err, errno, "send on the attach socket");
    }
}

ssize_t crisp_attach_recv(int fd, enum crisp_attach_kind *kind, void *buf, size_t cap,
                          struct crisp_err *err)
{
    unsigned char k;
    struct iovec iov[2] = {{.iov_base = &k, .iov_len = 1}, {.iov_base = buf, .iov_len = cap}};
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};
    for (;;) {
        ssize_t n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == ECONNRESET)
            return 0; /* the peer went away with records unread: an end like any other */
        if (n < 0 && errno == EAGAIN)
            return crisp_errorf(err, GRPC_STATUS_UNAVAILABLE, EAGAIN, "no attach record yet");
        if (n < 0)
            return crisp_syserrf(err, errno, "receive on the attach socket");
        if (n == 0)
            return 0;
        if (msg.msg_flags & MSG_TRUNC)
            return crisp_errorf(err, GRPC_STATUS_INTERNAL, EMSGSIZE,
                                "attach record larger than %zu bytes", cap);
        *kind = (enum crisp_attach_kind)k;
        return n - 1;
    }
}

int crisp_monitor_attach_connect(const char *ctr_dir, struct crisp_err *err)
{
    struct crisp_monitor_sock_addr a;
    int r = crisp_monitor_sock_addr_of(ctr_dir, CRISP_ATTACH_SOCK_NAME, &a, err);
    if (r < 0)
        return r;
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        r = crisp_syserrf(err, errno, "socket");
        goto out;
    }
    while ((r = connect(fd, (struct sockaddr *)&a.addr, a.len)) < 0 && errno == EINTR)
        ;
    if (r < 0 && errno == EISCONN) /* an interrupted connect that went through */
        r = 0;
    if (r < 0) {
        int e = errno;
        close(fd);
        r = crisp_errorf(err, GRPC_STATUS_UNAVAILABLE, e,
                         "connect to the attach socket of the monitor of %s: %s", ctr_dir,
                         strerror(e));
        goto out;
    }
    r = fd;
out:
    crisp_monitor_sock_addr_done(&a);
    return r;
}
