#include "stream/net_io.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

int crisp_write_all(int fd, const void *buf, size_t len, struct crisp_err *err)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == ENOTSOCK)
            n = write(fd, p, len);
        if (n < 0)
            return crisp_syserrf(err, errno, "stream: write");
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

void crisp_linger_close(int fd, int timeout_ms)
{
    shutdown(fd, SHUT_WR);
    char sink[4096];
    for (int waited = 0; waited < timeout_ms; waited += 200) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int n = poll(&p, 1, 200);
        if (n < 0 && errno != EINTR)
            return;
        if (n > 0 && read(fd, sink, sizeof(sink)) <= 0)
            return;
    }
}
